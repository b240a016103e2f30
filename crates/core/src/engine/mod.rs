//! The engine: opening a file with stowage's pragmas, migrating the stores it hosts, and the
//! maintenance operations every store shares (integrity check, checkpoint, backup).

pub(crate) mod adopt;
pub mod backup;
pub mod error;
pub mod import;
pub mod json;
pub mod migrate;
pub mod registry;
pub mod retention;
pub mod rotate;
pub mod rows;
pub(crate) mod scratch;
pub mod time;

use std::any::Any;
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::{Connection, OpenFlags};

pub use error::{Error, Result};
pub use registry::StoreDef;
pub use rows::Rows;
pub use time::{now_ms, NOW_ISO};

/// A store's configuration, as the store itself defines it (the agents store's state machine,
/// say); the engine only carries it from [`OpenOptions`] to the store.
pub type StoreConfig = Arc<dyn Any + Send + Sync>;

/// How to open a file: the stores it hosts, and their configuration.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// The stores to host (and migrate) in this file, in migration order. Two stores that own
    /// a table of the same name (`training` and `agents` both keep `runs`) cannot share a file.
    pub stores: Vec<&'static dyn StoreDef>,
    /// Configuration by store name; a store without an entry uses its defaults.
    pub configs: Vec<(&'static str, StoreConfig)>,
    /// The `auto_vacuum` mode of a new file (SQLite fixes it when the first table is created;
    /// an existing file keeps its own until [`Database::vacuum`] rewrites it). `None`: SQLite's
    /// default, `NONE`.
    pub auto_vacuum: Option<AutoVacuum>,
    /// Open an existing file without writing to it, or beside it ([`Database::open`]).
    pub read_only: bool,
}

impl OpenOptions {
    /// Options hosting `stores`, each with its default configuration.
    pub fn new(stores: impl IntoIterator<Item = &'static dyn StoreDef>) -> Self {
        OpenOptions {
            stores: stores.into_iter().collect(),
            configs: Vec::new(),
            auto_vacuum: None,
            read_only: false,
        }
    }

    /// Sets the configuration of the store named `store` (replacing an earlier one).
    pub fn with_config<T: Any + Send + Sync>(mut self, store: &'static str, config: T) -> Self {
        self.configs.retain(|(name, _)| *name != store);
        self.configs.push((store, Arc::new(config)));
        self
    }
}

/// One open SQLite file with the stores it hosts.
#[derive(Debug)]
pub struct Database {
    conn: Connection,
    path: PathBuf,
    journal_mode: String,
    stores: Vec<&'static dyn StoreDef>,
    configs: Vec<(&'static str, StoreConfig)>,
    auto_vacuum: Option<AutoVacuum>,
    read_only: bool,
    /// Levels of [`Database::begin`] open now: 0 outside a transaction.
    depth: Cell<u32>,
}

/// How long a connection waits for another connection's lock before `SQLITE_BUSY`.
pub const BUSY_TIMEOUT_MS: u32 = 5000;

impl Database {
    /// Opens (creating if needed) the SQLite file at `path`, applies stowage's pragmas and brings
    /// every requested store to the current schema. The parent folder must exist.
    ///
    /// A file written by the original systems is adopted in place; a file written by a newer
    /// stowage is refused with `ERR_SCHEMA_TOO_NEW` and left untouched. Two requested stores
    /// that own a table of the same name are `ERR_INVALID_ARG`, before any file is created.
    ///
    /// With [`OpenOptions::read_only`] the file is only read: nothing is written to it, no
    /// `-wal` or `-shm` is created beside it, and every write is `SQLITE_READONLY`. That needs a
    /// file that no connection has open (no `-wal` or `-journal` beside it, so the main file is
    /// the whole database) and whose stores are at this build's schema; otherwise the open is
    /// `ERR_READ_ONLY` (read a copy instead). A missing file is `ENOENT`.
    pub fn open(path: &Path, options: &OpenOptions) -> Result<Database> {
        if options.read_only {
            refuse_sidecars(path)?;
        }
        let flags = if options.read_only {
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
        };
        let shown = path.display().to_string();
        let with_path = |e: Error| match e {
            Error::Sqlite { code, message } if !message.contains(&shown) => Error::Sqlite {
                code,
                message: format!("{shown}: {message}"),
            },
            other => other,
        };
        let mut stores: Vec<&'static dyn StoreDef> = Vec::new();
        for store in &options.stores {
            if !stores.iter().any(|s| s.name() == store.name()) {
                stores.push(*store);
            }
        }
        registry::refuse_overlap(&stores)?;
        refuse_non_database(path).map_err(with_path)?;
        let conn = if options.read_only {
            // `immutable`: no locks and no -shm; true of a file no connection has open.
            Connection::open_with_flags(immutable_uri(path), flags)
        } else {
            Connection::open_with_flags(path, flags)
        }
        .map_err(|e| with_path(e.into()))?;
        conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS.into()))
            .map_err(|e| with_path(e.into()))?;
        // Read-only checks first: a file that is refused (not SQLite, too new, someone else's
        // tables) must not even get its journal mode changed.
        for store in &stores {
            store.check(&conn, path).map_err(with_path)?;
        }
        if options.read_only {
            return Self::read_only(conn, path, stores, options);
        }
        if let Some(mode) = options.auto_vacuum {
            // Takes effect only while the file has no table yet; SQLite ignores it otherwise.
            conn.execute_batch(&format!("PRAGMA auto_vacuum = {}", mode.keyword()))
                .map_err(|e| with_path(e.into()))?;
        }
        let journal_mode = configure(&conn).map_err(with_path)?;
        for store in &stores {
            store.prepare(&conn, path)?;
        }
        Ok(Database {
            conn,
            path: path.to_path_buf(),
            journal_mode,
            stores,
            configs: options.configs.clone(),
            auto_vacuum: options.auto_vacuum,
            read_only: false,
            depth: Cell::new(0),
        })
    }

    /// The rest of [`Database::open`] for a read-only open: every store must already be at this
    /// build's schema, since nothing may be migrated.
    fn read_only(
        conn: Connection,
        path: &Path,
        stores: Vec<&'static dyn StoreDef>,
        options: &OpenOptions,
    ) -> Result<Database> {
        for store in &stores {
            let ledger = migrate::ledger_state(&conn, path, store.name(), store.migrations())?;
            if !ledger.pending.is_empty() {
                return Err(Error::ReadOnly(format!(
                    "{}: the '{}' store of this file is at schema {} and needs migrating to {}, \
                     which a read-only open cannot do; open it writable, or read a copy",
                    path.display(),
                    store.name(),
                    ledger.applied,
                    store.migrations().len()
                )));
            }
        }
        conn.set_prepared_statement_cache_capacity(64);
        conn.execute_batch("PRAGMA query_only = ON; PRAGMA temp_store = MEMORY;")?;
        let journal_mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        Ok(Database {
            conn,
            path: path.to_path_buf(),
            journal_mode: journal_mode.to_ascii_lowercase(),
            stores,
            configs: options.configs.clone(),
            auto_vacuum: None,
            read_only: true,
            depth: Cell::new(0),
        })
    }

    /// True when the file was opened with [`OpenOptions::read_only`].
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The file's path, for `work` on a connection of its own (an async job): refused for a
    /// store in memory ([`in_a_file`]) and for a read-only store, whose file a second
    /// connection would write beside.
    pub fn job_path(&self, work: &str) -> Result<PathBuf> {
        in_a_file(&self.path, work)?;
        if self.read_only {
            return Err(Error::ReadOnly(format!(
                "{work} runs on a connection of its own, which a store opened read-only does not \
                 allow"
            )));
        }
        Ok(self.path.clone())
    }

    /// The underlying connection.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The file's path as given to [`Database::open`].
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The journal mode in effect: `wal`, or what SQLite fell back to where WAL is refused.
    pub fn journal_mode(&self) -> &str {
        &self.journal_mode
    }

    /// The stores this file was opened with.
    pub fn stores(&self) -> &[&'static dyn StoreDef] {
        &self.stores
    }

    /// True when the file was opened with the store named `store`.
    pub fn hosts(&self, store: &str) -> bool {
        self.stores.iter().any(|s| s.name() == store)
    }

    /// `ERR_STORE_NOT_OPEN` unless the file was opened with the store named `store`; how a
    /// store's accessor (`db.training()`, …) refuses a file that does not host it.
    pub fn require(&self, store: &'static str) -> Result<()> {
        if self.hosts(store) {
            Ok(())
        } else {
            Err(Error::StoreNotOpen(store))
        }
    }

    /// The configuration given for `store` in [`OpenOptions::with_config`], if it is a `T`.
    pub fn config<T: Any>(&self, store: &str) -> Option<&T> {
        self.configs
            .iter()
            .find(|(name, _)| *name == store)
            .and_then(|(_, c)| c.downcast_ref())
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction (a savepoint when one is already open):
    /// committed if `f` succeeds, rolled back otherwise.
    pub fn write<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        write_tx(&self.conn, f)
    }

    /// Runs `f` as one transaction that every store call inside it joins: `BEGIN IMMEDIATE`
    /// at the outermost level, a savepoint when nested. Committed if `f` returns `Ok`; if it
    /// returns an error, exactly this level is rolled back and the error returned.
    ///
    /// ```
    /// # use stowage_core::{Database, OpenOptions};
    /// let dir = tempfile::tempdir()?;
    /// let db = Database::open(&dir.path().join("runs.sqlite"), &OpenOptions::default())?;
    /// db.transaction(|db| {
    ///     db.training()?.insert_run("a", None, None, &[])?;
    ///     let inner = db.transaction(|db| {
    ///         db.training()?.insert_run("b", None, None, &[])?;
    ///         Err::<(), _>(stowage_core::Error::InvalidArg("changed my mind".into()))
    ///     });
    ///     assert!(inner.is_err());
    ///     Ok(())
    /// })?;
    /// assert_eq!(db.training()?.list_runs()?.rows.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn transaction<T>(&self, f: impl FnOnce(&Database) -> Result<T>) -> Result<T> {
        let level = self.begin()?;
        match f(self) {
            Ok(v) => self.commit(level).map(|()| v),
            Err(e) => {
                // The rollback's own failure cannot be more useful than `f`'s error.
                let _ = self.rollback(level);
                Err(e)
            }
        }
    }

    /// Opens a transaction level (`BEGIN IMMEDIATE`, or a savepoint inside an open level) and
    /// returns its number, from 1. [`Database::commit`] or [`Database::rollback`] must close
    /// the levels innermost first; [`Database::transaction`] does it for Rust callers.
    pub fn begin(&self) -> Result<u32> {
        self.ensure_transaction_alive()?;
        let level = self.depth.get() + 1;
        if level == 1 {
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
        } else {
            self.conn
                .execute_batch(&format!("SAVEPOINT stowage_tx_{level}"))?;
        }
        self.depth.set(level);
        Ok(level)
    }

    /// Commits the innermost level `level` (a savepoint is released into the level around
    /// it). `ERR_TRANSACTION_ABORTED` when SQLite rolled the transaction back meanwhile.
    pub fn commit(&self, level: u32) -> Result<()> {
        self.close_level(level, true)
    }

    /// Rolls back the innermost level `level`, keeping the levels around it.
    pub fn rollback(&self, level: u32) -> Result<()> {
        self.close_level(level, false)
    }

    fn close_level(&self, level: u32, commit: bool) -> Result<()> {
        if level == 0 || level != self.depth.get() {
            return Err(Error::InvalidArg(format!(
                "transaction level {level} is not the innermost open one ({})",
                self.depth.get()
            )));
        }
        self.depth.set(level - 1);
        if self.conn.is_autocommit() {
            // SQLite rolled the whole transaction back after an error inside it.
            return if commit {
                Err(Error::TransactionAborted)
            } else {
                Ok(())
            };
        }
        let sql = match (level, commit) {
            (1, true) => "COMMIT".to_string(),
            (1, false) => "ROLLBACK".to_string(),
            (_, true) => format!("RELEASE stowage_tx_{level}"),
            (_, false) => format!("ROLLBACK TO stowage_tx_{level}; RELEASE stowage_tx_{level}"),
        };
        let done = self.conn.execute_batch(&sql);
        if done.is_err() && level == 1 && !self.conn.is_autocommit() {
            // A failed COMMIT leaves the transaction open: end it, so nothing half-done stays.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        Ok(done?)
    }

    /// Levels of [`Database::begin`] open now (0 outside a transaction).
    pub fn transaction_depth(&self) -> u32 {
        self.depth.get()
    }

    /// `ERR_TRANSACTION_ABORTED` when a transaction level is open but SQLite has rolled the
    /// transaction back (after a full disk, say): a call now would run outside it and commit
    /// on its own, so every call refuses until the levels are closed.
    pub fn ensure_transaction_alive(&self) -> Result<()> {
        if self.depth.get() > 0 && self.conn.is_autocommit() {
            Err(Error::TransactionAborted)
        } else {
            Ok(())
        }
    }

    /// Facts about the file: path, journal mode, page counts and each store's schema version.
    pub fn info(&self) -> Result<Info> {
        let pragma = |name: &str| -> Result<i64> {
            Ok(self
                .conn
                .query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))?)
        };
        let mut schema = Vec::new();
        for store in &self.stores {
            let version: i64 = self
                .conn
                .query_row(
                    "SELECT coalesce(max(version), 0) FROM stowage_migrations WHERE store = ?1",
                    [store.name()],
                    |r| r.get(0),
                )
                .or_else(|e| match e {
                    rusqlite::Error::SqliteFailure(..) => Ok(0),
                    other => Err(other),
                })?;
            schema.push((store.name(), version));
        }
        Ok(Info {
            path: self.path.clone(),
            journal_mode: self.journal_mode.clone(),
            page_size: pragma("page_size")?,
            page_count: pragma("page_count")?,
            freelist_count: pragma("freelist_count")?,
            schema,
            auto_vacuum: self.auto_vacuum_mode()?,
            sqlite_version: rusqlite::version(),
        })
    }

    /// `PRAGMA integrity_check` (or the faster `quick_check`): `["ok"]` for a sound file,
    /// otherwise SQLite's list of problems.
    pub fn integrity_check(&self, quick: bool) -> Result<Vec<String>> {
        integrity(&self.conn, quick)
    }

    /// One read-only statement (`SELECT`, `WITH`, `VALUES`, `EXPLAIN`) with positional
    /// parameters, for tools that look into a file ([`Rows::query_read_only`]).
    pub fn query(&self, sql: &str, params: &[rusqlite::types::Value]) -> Result<Rows> {
        Rows::query_read_only(&self.conn, sql, params)
    }

    /// Runs a WAL checkpoint in `mode` (`PASSIVE`, `FULL`, `RESTART` or `TRUNCATE`).
    pub fn checkpoint(&self, mode: CheckpointMode) -> Result<Checkpoint> {
        let sql = format!("PRAGMA wal_checkpoint({})", mode.keyword());
        Ok(self.conn.query_row(&sql, [], |r| {
            Ok(Checkpoint {
                busy: r.get::<_, i64>(0)? != 0,
                log_frames: r.get(1)?,
                checkpointed_frames: r.get(2)?,
            })
        })?)
    }

    /// `PRAGMA optimize` (SQLite refreshes the statistics its query planner uses where they are
    /// stale), then, only on a file in `auto_vacuum = INCREMENTAL` mode, `PRAGMA
    /// incremental_vacuum`, which returns the free pages to the file system. On any other file
    /// the vacuum is reported as skipped: SQLite would silently do nothing.
    pub fn optimize(&self) -> Result<Optimized> {
        self.conn.execute_batch("PRAGMA optimize")?;
        let auto_vacuum = self.auto_vacuum_mode()?;
        if auto_vacuum != AutoVacuum::Incremental {
            return Ok(Optimized {
                auto_vacuum,
                incremental_vacuum: false,
                freed_pages: 0,
            });
        }
        let free = |c: &Connection| -> Result<i64> {
            Ok(c.query_row("PRAGMA freelist_count", [], |r| r.get(0))?)
        };
        let before = free(&self.conn)?;
        // Each step of the pragma frees one page: step it to the end.
        let mut stmt = self.conn.prepare("PRAGMA incremental_vacuum")?;
        let mut steps = stmt.raw_query();
        while steps.next()?.is_some() {}
        drop(steps);
        drop(stmt);
        Ok(Optimized {
            auto_vacuum,
            incremental_vacuum: true,
            freed_pages: before - free(&self.conn)?,
        })
    }

    /// The `auto_vacuum` mode asked for in [`OpenOptions::auto_vacuum`], which
    /// [`Database::vacuum`] applies.
    pub fn auto_vacuum_option(&self) -> Option<AutoVacuum> {
        self.auto_vacuum
    }

    /// The file's `auto_vacuum` mode.
    pub fn auto_vacuum_mode(&self) -> Result<AutoVacuum> {
        auto_vacuum_of(&self.conn)
    }

    /// `VACUUM`: rewrites the whole file compactly, returning every free page to the file system,
    /// and sets the `auto_vacuum` mode given in [`OpenOptions::auto_vacuum`] when the file has
    /// another (the only way SQLite switches an existing file). Holds the write lock and needs
    /// about the file's size in free disk space while it runs; not inside a transaction
    /// (`ERR_TRANSACTION_OPEN`). Returns the pages before and after.
    pub fn vacuum(&self) -> Result<Vacuumed> {
        if self.depth.get() > 0 {
            return Err(Error::TransactionOpen("vacuum()"));
        }
        vacuum_on(&self.conn, self.auto_vacuum)
    }

    /// Writes a backup of the database to `target` (which must not exist): a consistent,
    /// compacted single-file copy in `DELETE` journal mode, checked and optionally gzipped
    /// before it gets its name ([`backup::backup`]).
    pub fn backup_to(
        &self,
        target: &Path,
        options: backup::BackupOptions,
    ) -> Result<backup::Backup> {
        backup::backup(
            &self.job_path("backupTo")?,
            target,
            options,
            &mut |_| Ok(()),
        )
    }

    /// Replaces the database by the one in the backup file `from` (plain or gzipped, as
    /// [`Database::backup_to`] writes it). The backup is read into a work file beside the live
    /// one and checked there first: it must be a SQLite database that passes `PRAGMA
    /// integrity_check` and opens with the stores this file was opened with (brought to the
    /// current schema if it is older), else `ERR_BACKUP_INVALID`. Then, with `keep_pre_restore`,
    /// the live database is backed up to `<file>.pre-restore-<time>.sqlite` beside it, and
    /// finally its whole content is replaced in one write transaction: other connections see the
    /// old database or the restored one, never a mix, and on any failure before or during that
    /// step the live file is as it was. The backup file is never modified. Not inside a
    /// transaction (`ERR_TRANSACTION_OPEN`), not on a store in memory or opened read-only.
    pub fn restore_from(&mut self, from: &Path, keep_pre_restore: bool) -> Result<Restored> {
        let live = self.restore_job("restoreFrom()")?;
        let options = self.restore_options();
        restore(
            &live,
            &mut self.conn,
            from,
            &options,
            keep_pre_restore,
            &mut |_| Ok(()),
        )
    }

    /// The file a restore replaces, refusing a restore where [`Database::restore_from`] refuses
    /// it: inside a transaction (`ERR_TRANSACTION_OPEN`), in memory or read-only.
    /// `call` names the method in errors (`restoreFrom()`).
    pub fn restore_job(&self, call: &'static str) -> Result<PathBuf> {
        let live = self.job_path(call.trim_end_matches("()"))?;
        if self.depth.get() > 0 {
            return Err(Error::TransactionOpen(call));
        }
        Ok(live)
    }

    /// How a backup restored into this file must open: with this file's stores and their
    /// configuration.
    pub fn restore_options(&self) -> OpenOptions {
        OpenOptions {
            stores: self.stores.clone(),
            configs: self.configs.clone(),
            auto_vacuum: None,
            read_only: false,
        }
    }

    /// The retention policies of the stores this file was opened with, in their order.
    pub fn retention_policies(&self) -> Vec<retention::Policy> {
        self.stores.iter().flat_map(|s| s.retention(self)).collect()
    }

    /// Deletes what every hosted store's retention policies let expire at `now_ms` (milliseconds
    /// since the epoch), oldest first in short transactions ([`retention::apply`]), and returns
    /// the rows deleted per policy. Never runs `VACUUM`. Not inside a transaction
    /// (`ERR_TRANSACTION_OPEN`), whose lock it would hold throughout.
    pub fn apply_retention(&self, now_ms: i64) -> Result<Vec<retention::Deleted>> {
        if self.depth.get() > 0 {
            return Err(Error::TransactionOpen("applyRetention()"));
        }
        retention::apply(&self.conn, &self.retention_policies(), now_ms, &mut |_| {
            Ok(())
        })
    }

    /// Closes the connection. SQLite checkpoints the WAL and removes its sidecar files when the
    /// last connection to a file closes; a transaction level still open is rolled back.
    pub fn close(self) -> Result<()> {
        self.conn.close().map_err(|(_, e)| e.into())
    }
}

/// Refuses a store that is not in a file (opened on `:memory:` or `''`) for `work` on a
/// connection of its own: a second connection to that name is another, empty database.
pub fn in_a_file(path: &Path, work: &str) -> Result<()> {
    let name = path.as_os_str();
    if name.is_empty() || name == ":memory:" {
        return Err(Error::InvalidArg(format!(
            "{work} needs a store in a file; this one is in memory (opened on {name:?})"
        )));
    }
    Ok(())
}

/// A connection of its own to the file of an open store, with stowage's pragmas, for `work`
/// that runs off the thread owning the store's connection (an async job). The file must exist
/// (it is not created) and be in a file ([`in_a_file`]).
pub fn connect(path: &Path, work: &str) -> Result<Connection> {
    in_a_file(path, work)?;
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS.into()))?;
    configure(&conn)?;
    Ok(conn)
}

/// Replaces the content of the database file `live`, through its connection `into`, by the one
/// in the backup file `from` ([`Database::restore_from`] tells how): the backup is unpacked
/// into a work file beside `live` and checked there (it must open with `options`' stores), the
/// live database is copied to `<live>.pre-restore-<time>.sqlite` with `keep_pre_restore`, and
/// last the content is replaced in one write transaction. `progress` is called through the
/// phases `unpack` (bytes of `from` read), `check` (at its start and end), with
/// `keep_pre_restore` those of the pre-restore copy's backup (`copy`, `verify`), and `replace`
/// (at its start, before the write lock is taken); an error from it stops the restore, with the
/// live file as it was and no pre-restore copy left.
pub fn restore(
    live: &Path,
    into: &mut Connection,
    from: &Path,
    options: &OpenOptions,
    keep_pre_restore: bool,
    progress: &mut dyn FnMut(backup::Copied) -> Result<()>,
) -> Result<Restored> {
    let work = backup::Scratch::beside(live)?;
    let copy = work.file("restore");
    backup::unpack(from, &copy, progress)?;
    let invalid = |why: String| Error::BackupInvalid(format!("{}: {why}", from.display()));
    let page_size: i64 = into.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    let size = std::fs::metadata(&copy)
        .map_err(|e| Error::io("inspect", &copy, e))?
        .len();
    let mut at = |phase, done| {
        progress(backup::Copied {
            phase,
            done,
            total: size,
        })
    };
    at(backup::Phase::Check, 0)?;
    let check = || -> Result<Option<String>> {
        let checked = Database::open(&copy, options)?;
        let problems = checked.integrity_check(false)?;
        if problems != ["ok"] {
            return Ok(Some(format!(
                "its integrity check failed: {}",
                problems.join("; ")
            )));
        }
        // Back to one self-contained file, with the live file's page size: SQLite copies
        // into a WAL database only from one of the same page size.
        checked
            .conn
            .query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(()))?;
        let theirs: i64 = checked
            .conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))?;
        if theirs != page_size {
            checked
                .conn
                .execute_batch(&format!("PRAGMA page_size = {page_size}; VACUUM"))?;
        }
        checked.close()?;
        Ok(None)
    };
    match check() {
        Ok(None) => {}
        Ok(Some(why)) => return Err(invalid(why)),
        Err(e @ Error::Io { .. }) => return Err(e),
        Err(e) => return Err(invalid(format!("it does not open as this store ({e})"))),
    }
    let bytes = std::fs::metadata(&copy)
        .map_err(|e| Error::io("inspect", &copy, e))?
        .len();
    at(backup::Phase::Check, size)?;
    let pre_restore = if keep_pre_restore {
        let mut name = live.to_path_buf().into_os_string();
        name.push(format!(
            ".pre-restore-{}.sqlite",
            time::now_iso().replace(':', "-")
        ));
        let name = PathBuf::from(name);
        backup::backup(live, &name, backup::BackupOptions::default(), progress)?;
        Some(name)
    } else {
        None
    };
    // Reported before the write lock is taken, and not after: an error from `progress` at the
    // end would fail a restore that happened.
    let replaced = progress(backup::Copied {
        phase: backup::Phase::Replace,
        done: 0,
        total: bytes,
    })
    .and_then(|()| backup::replace(&copy, into));
    if let Err(e) = replaced {
        // Nothing was restored, so there is nothing to undo: the copy would only mislead.
        if let Some(name) = &pre_restore {
            let _ = std::fs::remove_file(name);
        }
        return Err(e);
    }
    Ok(Restored { bytes, pre_restore })
}

/// Refuses a read-only open of a file with a `-wal` or `-journal` beside it: some connection has
/// it open (or crashed with it open), so the main file alone may not be the database.
fn refuse_sidecars(path: &Path) -> Result<()> {
    if let Err(e) = std::fs::metadata(path) {
        return Err(Error::io("open", path, e));
    }
    for side in ["-wal", "-journal"] {
        let mut name = path.as_os_str().to_owned();
        name.push(side);
        if Path::new(&name).exists() {
            return Err(Error::ReadOnly(format!(
                "{}: a read-only open reads the file alone, and it has a {side} beside it (a \
                 connection has it open, or crashed with it open); open it writable, or read a copy",
                path.display()
            )));
        }
    }
    Ok(())
}

/// `file:<path>?immutable=1`, with the characters a URI path cannot hold escaped.
fn immutable_uri(path: &Path) -> String {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let text = abs.to_string_lossy().replace('\\', "/");
    let mut uri = String::from(if text.starts_with('/') {
        "file:"
    } else {
        "file:/"
    });
    for b in text.as_bytes() {
        match b {
            b'%' | b'?' | b'#' => uri.push_str(&format!("%{b:02X}")),
            b if b.is_ascii() && !b.is_ascii_control() => uri.push(*b as char),
            b => uri.push_str(&format!("%{b:02X}")),
        }
    }
    uri.push_str("?immutable=1");
    uri
}

/// The first bytes of every SQLite database file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// The smallest page size, so the smallest database file.
const MIN_PAGE_SIZE: u64 = 512;

/// Refuses an existing, non-empty file that is not a database: shorter than one page or not
/// starting with SQLite's header. SQLite itself treats a file shorter than its 100-byte header as
/// an empty database and would overwrite it. A missing or zero-byte file is a new database; a
/// path that is not a regular file or cannot be read is left to SQLite to report.
fn refuse_non_database(path: &Path) -> Result<()> {
    use std::io::Read;
    let Ok(mut file) = std::fs::File::open(path) else {
        return Ok(());
    };
    let len = match file.metadata() {
        Ok(meta) if meta.is_file() && meta.len() > 0 => meta.len(),
        _ => return Ok(()),
    };
    let mut head = [0u8; SQLITE_MAGIC.len()];
    let read = file.read_exact(&mut head);
    if read.is_err() && len >= SQLITE_MAGIC.len() as u64 {
        return Ok(());
    }
    if len >= MIN_PAGE_SIZE && &head == SQLITE_MAGIC {
        return Ok(());
    }
    Err(Error::Sqlite {
        code: "SQLITE_NOTADB",
        message: format!(
            "file is not a database ({len} bytes{})",
            if &head == SQLITE_MAGIC {
                ", shorter than a page"
            } else {
                ", not starting with SQLite's header"
            }
        ),
    })
}

/// Applies stowage's pragmas to a connection and returns the journal mode in effect.
pub(crate) fn configure(conn: &Connection) -> Result<String> {
    conn.set_prepared_statement_cache_capacity(64);
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;",
    )?;
    Ok(mode.to_ascii_lowercase())
}

/// See [`Database::write`].
pub(crate) fn write_tx<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T>,
) -> Result<T> {
    let nested = !conn.is_autocommit();
    let (begin, commit, rollback) = if nested {
        (
            "SAVEPOINT stowage_write",
            "RELEASE stowage_write",
            "ROLLBACK TO stowage_write; RELEASE stowage_write",
        )
    } else {
        ("BEGIN IMMEDIATE", "COMMIT", "ROLLBACK")
    };
    // Prepared once per connection: a write's fixed cost is mostly these two statements.
    conn.prepare_cached(begin)?.execute([])?;
    let result = f(conn).and_then(|v| {
        conn.prepare_cached(commit)?.execute([])?;
        Ok(v)
    });
    if result.is_err() && (nested || !conn.is_autocommit()) {
        // The rollback's own failure cannot be more useful than the error being returned.
        let _ = conn.execute_batch(rollback);
    }
    result
}

/// One column as `PRAGMA table_info` describes it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Column {
    pub name: String,
    pub decl_type: String,
    pub notnull: bool,
    pub default: Option<String>,
    pub pk: bool,
}

/// The columns of `schema.table`, or `None` when there is no such table.
pub(crate) fn table_columns(
    conn: &Connection,
    schema: &str,
    table: &str,
) -> Result<Option<Vec<Column>>> {
    let mut stmt = conn.prepare_cached(
        "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?1, ?2)",
    )?;
    let cols = stmt
        .query_map([table, schema], |r| {
            Ok(Column {
                name: r.get(0)?,
                decl_type: r.get(1)?,
                notnull: r.get(2)?,
                default: r.get(3)?,
                pk: r.get::<_, i64>(4)? > 0,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(if cols.is_empty() { None } else { Some(cols) })
}

/// `name` quoted as an SQL identifier.
pub(crate) fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// See [`Database::integrity_check`].
pub(crate) fn integrity(conn: &Connection, quick: bool) -> Result<Vec<String>> {
    let sql = if quick {
        "PRAGMA quick_check"
    } else {
        "PRAGMA integrity_check"
    };
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// A WAL checkpoint mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointMode {
    /// Checkpoint as much as possible without waiting for readers or writers.
    Passive,
    /// Wait for writers, then checkpoint everything.
    Full,
    /// Like `Full`, then wait for readers so the next writer restarts the WAL.
    Restart,
    /// Like `Restart`, then truncate the WAL file to zero bytes.
    Truncate,
}

impl CheckpointMode {
    fn keyword(self) -> &'static str {
        match self {
            CheckpointMode::Passive => "PASSIVE",
            CheckpointMode::Full => "FULL",
            CheckpointMode::Restart => "RESTART",
            CheckpointMode::Truncate => "TRUNCATE",
        }
    }

    /// Parses a mode name, case-insensitively.
    pub fn from_name(name: &str) -> Result<Self> {
        match name.to_ascii_uppercase().as_str() {
            "PASSIVE" => Ok(CheckpointMode::Passive),
            "FULL" => Ok(CheckpointMode::Full),
            "RESTART" => Ok(CheckpointMode::Restart),
            "TRUNCATE" => Ok(CheckpointMode::Truncate),
            _ => Err(Error::InvalidArg(format!(
                "checkpoint mode must be PASSIVE, FULL, RESTART or TRUNCATE, not '{name}'"
            ))),
        }
    }
}

/// The outcome of a WAL checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// True when the checkpoint could not complete because of other connections.
    pub busy: bool,
    /// Frames in the WAL (-1 when the file is not in WAL mode).
    pub log_frames: i64,
    /// Frames written back into the database (-1 when not in WAL mode).
    pub checkpointed_frames: i64,
}

/// A file's `auto_vacuum` mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoVacuum {
    /// Free pages stay in the file until `VACUUM` (SQLite's default).
    None,
    /// Free pages are returned to the file system at every commit.
    Full,
    /// Free pages are kept until `PRAGMA incremental_vacuum` ([`Database::optimize`]).
    Incremental,
}

impl AutoVacuum {
    /// The mode's name: `none`, `full` or `incremental`.
    pub fn name(self) -> &'static str {
        match self {
            AutoVacuum::None => "none",
            AutoVacuum::Full => "full",
            AutoVacuum::Incremental => "incremental",
        }
    }

    fn keyword(self) -> &'static str {
        match self {
            AutoVacuum::None => "NONE",
            AutoVacuum::Full => "FULL",
            AutoVacuum::Incremental => "INCREMENTAL",
        }
    }

    /// Parses a mode name, case-insensitively.
    pub fn from_name(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().as_str() {
            "none" => Ok(AutoVacuum::None),
            "full" => Ok(AutoVacuum::Full),
            "incremental" => Ok(AutoVacuum::Incremental),
            _ => Err(Error::InvalidArg(format!(
                "autoVacuum must be 'none', 'full' or 'incremental', not '{name}'"
            ))),
        }
    }
}

/// What [`Database::optimize`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Optimized {
    /// The file's `auto_vacuum` mode.
    pub auto_vacuum: AutoVacuum,
    /// True when the incremental vacuum ran (the file is in `INCREMENTAL` mode); false when it
    /// was skipped.
    pub incremental_vacuum: bool,
    /// Pages the incremental vacuum returned to the file system.
    pub freed_pages: i64,
}

/// What [`Database::vacuum`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vacuumed {
    /// Pages of the main file before and after.
    pub pages_before: i64,
    pub pages_after: i64,
    /// The `auto_vacuum` mode after.
    pub auto_vacuum: AutoVacuum,
}

/// See [`Database::vacuum`]; also for a connection of its own (an async job).
pub fn vacuum_on(conn: &Connection, mode: Option<AutoVacuum>) -> Result<Vacuumed> {
    let pages =
        |c: &Connection| -> Result<i64> { Ok(c.query_row("PRAGMA page_count", [], |r| r.get(0))?) };
    let pages_before = pages(conn)?;
    if let Some(mode) = mode {
        conn.execute_batch(&format!("PRAGMA auto_vacuum = {}", mode.keyword()))?;
    }
    conn.execute_batch("VACUUM")?;
    Ok(Vacuumed {
        pages_before,
        pages_after: pages(conn)?,
        auto_vacuum: auto_vacuum_of(conn)?,
    })
}

fn auto_vacuum_of(conn: &Connection) -> Result<AutoVacuum> {
    let mode: i64 = conn.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
    Ok(match mode {
        1 => AutoVacuum::Full,
        2 => AutoVacuum::Incremental,
        _ => AutoVacuum::None,
    })
}

/// Facts about an open file, see [`Database::info`].
#[derive(Debug, Clone, PartialEq)]
pub struct Info {
    /// The file's path.
    pub path: PathBuf,
    /// `wal`, or the mode SQLite fell back to.
    pub journal_mode: String,
    /// Bytes per page.
    pub page_size: i64,
    /// Pages in the main file.
    pub page_count: i64,
    /// Unused pages.
    pub freelist_count: i64,
    /// Schema version of each hosted store.
    pub schema: Vec<(&'static str, i64)>,
    /// The file's `auto_vacuum` mode.
    pub auto_vacuum: AutoVacuum,
    /// The bundled SQLite's version.
    pub sqlite_version: &'static str,
}

/// What [`Database::restore_from`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// The size of the restored database.
    pub bytes: u64,
    /// The backup of the database as it was before the restore, if one was kept.
    pub pre_restore: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    /// A file hosting no store: the engine alone.
    fn bare() -> OpenOptions {
        OpenOptions::new([])
    }

    #[test]
    fn a_short_or_foreign_file_is_refused_unchanged_and_an_empty_one_adopted() -> Result<()> {
        let dir = temp();
        let mut magic_then_junk = SQLITE_MAGIC.to_vec();
        magic_then_junk.extend([7u8; 60]);
        for bytes in [b"x".to_vec(), b"not a database".repeat(3), magic_then_junk] {
            let path = dir.path().join("short.sqlite");
            std::fs::write(&path, &bytes).unwrap();
            let err = Database::open(&path, &bare()).unwrap_err();
            assert_eq!(err.code(), "SQLITE_NOTADB");
            assert!(err.to_string().contains("short.sqlite"), "{err}");
            assert_eq!(std::fs::read(&path).unwrap(), bytes);
        }
        let empty = dir.path().join("empty.sqlite");
        std::fs::write(&empty, b"").unwrap();
        Database::open(&empty, &bare())?.close()?;
        assert!(std::fs::read(&empty).unwrap().starts_with(SQLITE_MAGIC));
        Ok(())
    }

    #[test]
    fn open_applies_pragmas_and_reports_wal() -> Result<()> {
        let dir = temp();
        let db = Database::open(&dir.path().join("a.sqlite"), &bare())?;
        assert_eq!(db.journal_mode(), "wal");
        let get = |p: &str| -> i64 {
            db.conn()
                .query_row(&format!("PRAGMA {p}"), [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(get("synchronous"), 1);
        assert_eq!(get("foreign_keys"), 1);
        assert_eq!(get("temp_store"), 2);
        assert_eq!(get("busy_timeout"), i64::from(BUSY_TIMEOUT_MS));
        let info = db.info()?;
        assert!(info.schema.is_empty());
        assert!(info.page_count > 0);
        Ok(())
    }

    #[test]
    fn a_file_that_is_not_sqlite_is_refused_with_its_path() {
        let dir = temp();
        let path = dir.path().join("junk.sqlite");
        std::fs::write(&path, vec![0x5a; 4096]).unwrap();
        let err = Database::open(&path, &bare()).unwrap_err();
        assert_eq!(err.code(), "SQLITE_NOTADB");
        assert!(err.to_string().contains("junk.sqlite"));
        assert!(
            std::fs::read(&path).unwrap() == vec![0x5a; 4096],
            "the file changed"
        );
    }

    #[test]
    fn a_missing_folder_is_cantopen() {
        let dir = temp();
        let err = Database::open(&dir.path().join("no/such/a.sqlite"), &bare()).unwrap_err();
        assert_eq!(err.code(), "SQLITE_CANTOPEN");
    }

    #[test]
    fn write_rolls_back_on_error_and_nests_as_savepoint() -> Result<()> {
        let dir = temp();
        let db = Database::open(&dir.path().join("a.sqlite"), &bare())?;
        db.conn().execute_batch("CREATE TABLE t(x)")?;
        let err = db.write(|c| {
            c.execute("INSERT INTO t VALUES (1)", [])?;
            Err::<(), _>(Error::InvalidArg("no".into()))
        });
        assert!(err.is_err());
        db.write(|c| {
            c.execute("INSERT INTO t VALUES (2)", [])?;
            let inner = write_tx(c, |c| {
                c.execute("INSERT INTO t VALUES (3)", [])?;
                Err::<(), _>(Error::InvalidArg("inner".into()))
            });
            assert!(inner.is_err());
            Ok(())
        })?;
        let xs: Vec<i64> = db
            .conn()
            .prepare("SELECT x FROM t")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        assert_eq!(xs, [2]);
        assert!(db.conn().is_autocommit());
        Ok(())
    }

    fn xs(db: &Database) -> Vec<i64> {
        db.conn()
            .prepare("SELECT x FROM t ORDER BY x")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .unwrap()
    }

    #[test]
    fn transaction_levels_nest_and_roll_back_innermost_first() -> Result<()> {
        let dir = temp();
        let db = Database::open(&dir.path().join("a.sqlite"), &bare())?;
        db.conn().execute_batch("CREATE TABLE t(x)")?;
        let outer = db.begin()?;
        db.conn().execute("INSERT INTO t VALUES (1)", [])?;
        let inner = db.begin()?;
        assert_eq!((outer, inner, db.transaction_depth()), (1, 2, 2));
        db.conn().execute("INSERT INTO t VALUES (2)", [])?;
        assert_eq!(db.commit(outer).unwrap_err().code(), "ERR_INVALID_ARG");
        db.rollback(inner)?;
        db.write(|c| Ok(c.execute("INSERT INTO t VALUES (3)", [])?))?;
        db.commit(outer)?;
        assert_eq!(xs(&db), [1, 3]);
        assert!(db.conn().is_autocommit());
        assert_eq!(db.transaction_depth(), 0);
        Ok(())
    }

    #[test]
    fn a_transaction_sqlite_rolled_back_refuses_further_calls_and_its_commit() -> Result<()> {
        let dir = temp();
        let db = Database::open(&dir.path().join("a.sqlite"), &bare())?;
        db.conn().execute_batch("CREATE TABLE t(x)")?;
        let outer = db.begin()?;
        let inner = db.begin()?;
        db.conn().execute("INSERT INTO t VALUES (1)", [])?;
        // What SQLite does by itself after a full disk or an I/O error inside a transaction.
        db.conn().execute_batch("ROLLBACK")?;
        assert_eq!(
            db.ensure_transaction_alive().unwrap_err().code(),
            "ERR_TRANSACTION_ABORTED"
        );
        assert_eq!(db.begin().unwrap_err().code(), "ERR_TRANSACTION_ABORTED");
        assert_eq!(
            db.commit(inner).unwrap_err().code(),
            "ERR_TRANSACTION_ABORTED"
        );
        db.rollback(outer)?;
        db.ensure_transaction_alive()?;
        db.transaction(|db| Ok(db.conn().execute("INSERT INTO t VALUES (2)", [])?))?;
        assert_eq!(xs(&db), [2]);
        Ok(())
    }

    #[test]
    fn optimize_runs_the_incremental_vacuum_only_on_an_incremental_file() -> Result<()> {
        let dir = temp();
        let plain = Database::open(&dir.path().join("plain.sqlite"), &bare())?;
        let incremental = OpenOptions {
            auto_vacuum: Some(AutoVacuum::Incremental),
            ..bare()
        };
        let inc = Database::open(&dir.path().join("inc.sqlite"), &incremental)?;
        for db in [&plain, &inc] {
            db.conn().execute_batch(
                "CREATE TABLE t(x);
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
                 INSERT INTO t SELECT randomblob(500) FROM n;
                 DELETE FROM t;",
            )?;
        }
        let skipped = plain.optimize()?;
        assert_eq!(
            skipped,
            Optimized {
                auto_vacuum: AutoVacuum::None,
                incremental_vacuum: false,
                freed_pages: 0
            }
        );
        assert!(plain.info()?.freelist_count > 100);
        let ran = inc.optimize()?;
        assert_eq!(ran.auto_vacuum, AutoVacuum::Incremental);
        assert!(ran.incremental_vacuum && ran.freed_pages > 100, "{ran:?}");
        assert_eq!(inc.info()?.freelist_count, 0);
        Ok(())
    }

    #[test]
    fn vacuum_compacts_and_switches_an_existing_file_to_the_mode_asked_for() -> Result<()> {
        let dir = temp();
        let path = dir.path().join("a.sqlite");
        let db = Database::open(&path, &bare())?;
        db.conn().execute_batch(
            "CREATE TABLE t(x);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
             INSERT INTO t SELECT randomblob(500) FROM n;
             DELETE FROM t WHERE rowid > 10;",
        )?;
        db.close()?;
        let asked = OpenOptions {
            auto_vacuum: Some(AutoVacuum::Incremental),
            ..bare()
        };
        let db = Database::open(&path, &asked)?;
        assert_eq!(
            db.auto_vacuum_mode()?,
            AutoVacuum::None,
            "an existing file keeps its mode"
        );
        let v = db.vacuum()?;
        assert!(v.pages_after < v.pages_before / 10, "{v:?}");
        assert_eq!(v.auto_vacuum, AutoVacuum::Incremental);
        let level = db.begin()?;
        assert_eq!(db.vacuum().unwrap_err().code(), "ERR_TRANSACTION_OPEN");
        db.rollback(level)?;
        let n: i64 = db
            .conn()
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))?;
        assert_eq!(n, 10);
        Ok(())
    }

    #[test]
    fn backup_is_a_single_file_in_delete_mode() -> Result<()> {
        let dir = temp();
        let db = Database::open(&dir.path().join("a.sqlite"), &bare())?;
        db.conn()
            .execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (42);")?;
        let target = dir.path().join("copy.sqlite");
        let made = db.backup_to(&target, backup::BackupOptions::default())?;
        assert_eq!(made.ok, Some(true));
        assert_eq!(made.bytes, std::fs::metadata(&target).unwrap().len());
        assert!(!dir.path().join("copy.sqlite-wal").exists());
        let copy = Connection::open(&target)?;
        let mode: String = copy.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        assert_eq!(mode, "delete");
        let x: i64 = copy.query_row("SELECT x FROM t", [], |r| r.get(0))?;
        assert_eq!(x, 42);
        let again = db.backup_to(&target, backup::BackupOptions::default());
        assert_eq!(again.unwrap_err().code(), "EEXIST");
        // Nothing but the live file (with its sidecars) and the one backup is left behind.
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["a.sqlite", "a.sqlite-shm", "a.sqlite-wal", "copy.sqlite"]
        );
        Ok(())
    }

    /// A training file with `runs` runs, each with 50 metric rows.
    fn training_file(path: &Path, runs: usize) -> Result<Database> {
        let db = Database::open(path, &OpenOptions::default())?;
        for r in 0..runs {
            let id = format!("run-{r}");
            db.training()?.insert_run(&id, Some("p"), Some("n"), &[])?;
            db.conn().execute(
                "WITH RECURSIVE s(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM s WHERE v < 50)
                 INSERT INTO metrics (run_id, step, loss) SELECT ?1, v, v * 0.5 FROM s",
                [&id],
            )?;
        }
        Ok(db)
    }

    fn run_ids(db: &Database) -> Result<Vec<String>> {
        let mut stmt = db
            .conn()
            .prepare("SELECT run_id FROM runs ORDER BY run_id")?;
        let ids = stmt.query_map([], |r| r.get(0))?;
        Ok(ids.collect::<rusqlite::Result<_>>()?)
    }

    #[test]
    fn a_gzipped_backup_restores_over_a_changed_live_file_and_keeps_the_old_one() -> Result<()> {
        let dir = temp();
        let live = dir.path().join("runs.sqlite");
        let mut db = training_file(&live, 3)?;
        let gz = dir.path().join("runs-2026-12-01.sqlite.gz");
        let mut phases = Vec::new();
        let made = backup::backup(
            &live,
            &gz,
            backup::BackupOptions {
                gzip: true,
                verify: true,
            },
            &mut |c| {
                if phases.last() != Some(&c.phase) {
                    phases.push(c.phase);
                }
                Ok(())
            },
        )?;
        use backup::Phase;
        assert_eq!(phases, [Phase::Copy, Phase::Verify, Phase::Compress]);
        assert_eq!(made.ok, Some(true));
        assert_eq!(backup::kind_of(&gz)?, backup::Kind::Gzip);
        assert!(backup::is_backup(&gz)?);
        let gz_bytes = std::fs::read(&gz).unwrap();
        db.training()?.insert_run("later", None, None, &[])?;
        db.conn()
            .execute("DELETE FROM runs WHERE run_id = 'run-0'", [])?;
        let before_restore = run_ids(&db)?;
        let restored = db.restore_from(&gz, true)?;
        assert_eq!(run_ids(&db)?, ["run-0", "run-1", "run-2"]);
        let metrics: i64 = db
            .conn()
            .query_row("SELECT count(*) FROM metrics", [], |r| r.get(0))?;
        assert_eq!(metrics, 150);
        assert_eq!(db.journal_mode(), "wal");
        let mode: String = db
            .conn()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        assert_eq!(mode, "wal");
        assert_eq!(std::fs::read(&gz).unwrap(), gz_bytes);
        let pre = restored.pre_restore.expect("a pre-restore copy");
        let old = Database::open(&pre, &OpenOptions::default())?;
        assert_eq!(run_ids(&old)?, before_restore);
        old.close()?;
        // A second connection (another process) sees the restored file.
        let other = Database::open(&live, &OpenOptions::default())?;
        assert_eq!(run_ids(&other)?, ["run-0", "run-1", "run-2"]);
        other.close()?;
        db.training()?.insert_run("after", None, None, &[])?;
        assert_eq!(db.integrity_check(false)?, ["ok"]);
        Ok(())
    }

    #[test]
    fn a_bad_backup_is_refused_and_the_live_file_is_untouched() -> Result<()> {
        let dir = temp();
        let live = dir.path().join("runs.sqlite");
        let mut db = training_file(&live, 2)?;
        let good = dir.path().join("good.sqlite");
        db.backup_to(&good, backup::BackupOptions::default())?;
        let bytes = std::fs::read(&good).unwrap();
        let write = |name: &str, data: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, data).unwrap();
            p
        };
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &bytes).unwrap();
        let gz = gz.finish().unwrap();
        // A page in the middle of the file overwritten: the header is fine, the b-trees not.
        let mut damaged = bytes.clone();
        let page = 4096;
        for b in &mut damaged[page * 2..page * 3] {
            *b = 0x55;
        }
        let agents_file = dir.path().join("agents.sqlite");
        Database::open(
            &agents_file,
            &OpenOptions::new([crate::stores::find("agents")?]),
        )?
        .close()?;
        let cases = [
            write("text.sqlite", b"hello, not a database"),
            write("empty.sqlite", b""),
            write("truncated.sqlite.gz", &gz[..gz.len() / 2]),
            write("gzip-of-text.gz", {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                std::io::Write::write_all(&mut e, b"not a database at all").unwrap();
                &e.finish().unwrap()
            }),
            write("damaged.sqlite", &damaged),
            agents_file,
        ];
        let live_ids = run_ids(&db)?;
        for case in &cases {
            let err = db.restore_from(case, true).unwrap_err();
            assert_eq!(
                err.code(),
                "ERR_BACKUP_INVALID",
                "{}: {err}",
                case.display()
            );
            assert_eq!(run_ids(&db)?, live_ids);
        }
        let missing = db.restore_from(&dir.path().join("missing.sqlite"), true);
        assert_eq!(missing.unwrap_err().code(), "ENOENT");
        // No pre-restore copy and no work file was left by the refused restores.
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.') || n.contains("pre-restore"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
        db.begin()?;
        let inside = db.restore_from(&good, false).unwrap_err();
        assert_eq!(inside.code(), "ERR_TRANSACTION_OPEN");
        db.rollback(1)?;
        assert_eq!(db.restore_from(&good, false)?.pre_restore, None);
        Ok(())
    }

    #[test]
    fn a_backup_of_another_page_size_restores_into_a_wal_file() -> Result<()> {
        let dir = temp();
        let other = dir.path().join("small-pages.sqlite");
        {
            let c = Connection::open(&other)?;
            c.execute_batch("PRAGMA page_size = 1024")?;
            c.close().map_err(|(_, e)| Error::from(e))?;
        }
        let small = training_file(&other, 2)?;
        small.close()?;
        let mut db = training_file(&dir.path().join("runs.sqlite"), 5)?;
        db.restore_from(&other, false)?;
        assert_eq!(run_ids(&db)?, ["run-0", "run-1"]);
        let page: i64 = db.conn().query_row("PRAGMA page_size", [], |r| r.get(0))?;
        assert_eq!(page, 4096);
        Ok(())
    }

    #[test]
    fn checkpoint_and_integrity_work_on_a_live_file() -> Result<()> {
        let dir = temp();
        let db = Database::open(&dir.path().join("a.sqlite"), &bare())?;
        assert_eq!(db.integrity_check(false)?, ["ok"]);
        assert_eq!(db.integrity_check(true)?, ["ok"]);
        let c = db.checkpoint(CheckpointMode::Truncate)?;
        assert!(!c.busy);
        assert_eq!(CheckpointMode::from_name("full")?, CheckpointMode::Full);
        assert_eq!(
            CheckpointMode::from_name("x").unwrap_err().code(),
            "ERR_INVALID_ARG"
        );
        Ok(())
    }
}
