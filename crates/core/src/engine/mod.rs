//! The engine: opening a file with stowage's pragmas, migrating the stores it hosts, and the
//! maintenance operations every store shares (integrity check, checkpoint, backup).

pub(crate) mod adopt;
pub mod backup;
pub mod error;
pub mod migrate;
pub mod rows;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OpenFlags};

pub use error::{Error, Result};
pub use rows::Rows;

use crate::agents::{Agents, AgentsConfig};
use crate::training::Training;

/// A store that a file can host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// ML training runs: the drop-in replacement for OnTheFly's `storage.ts`.
    Training,
    /// Agent sessions and their runs: overstory's `sessions.db`.
    Agents,
}

impl StoreKind {
    /// Every store this build implements, in migration order.
    pub const ALL: [StoreKind; 2] = [StoreKind::Training, StoreKind::Agents];

    /// The store's name, as used in `openStore(path, { stores })` and the ledger.
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Training => "training",
            StoreKind::Agents => "agents",
        }
    }

    /// Looks a store up by name.
    pub fn from_name(name: &str) -> Result<StoreKind> {
        Self::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| {
                let known: Vec<_> = Self::ALL.iter().map(|s| s.name()).collect();
                Error::InvalidArg(format!(
                    "unknown store '{name}' (this build has: {})",
                    known.join(", ")
                ))
            })
    }
}

/// How to open a file.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// The stores to host (and migrate) in this file. `training` and `agents` cannot share a
    /// file: both keep a table named `runs`, as OnTheFly and overstory do.
    pub stores: Vec<StoreKind>,
    /// The state machine of the agents store.
    pub agents: AgentsConfig,
}

impl Default for OpenOptions {
    /// The training store only, and overstory's state machine should `agents` be added.
    fn default() -> Self {
        OpenOptions {
            stores: vec![StoreKind::Training],
            agents: AgentsConfig::default(),
        }
    }
}

/// One open SQLite file with the stores it hosts.
#[derive(Debug)]
pub struct Database {
    conn: Connection,
    path: PathBuf,
    journal_mode: String,
    stores: Vec<StoreKind>,
    agents: AgentsConfig,
}

/// How long a connection waits for another connection's lock before `SQLITE_BUSY`.
pub const BUSY_TIMEOUT_MS: u32 = 5000;

impl Database {
    /// Opens (creating if needed) the SQLite file at `path`, applies stowage's pragmas and brings
    /// every requested store to the current schema. The parent folder must exist.
    ///
    /// A file written by the original systems is adopted in place; a file written by a newer
    /// stowage is refused with `ERR_SCHEMA_TOO_NEW` and left untouched.
    pub fn open(path: &Path, options: &OpenOptions) -> Result<Database> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let shown = path.display().to_string();
        let with_path = |e: Error| match e {
            Error::Sqlite { code, message } if !message.contains(&shown) => Error::Sqlite {
                code,
                message: format!("{shown}: {message}"),
            },
            other => other,
        };
        let stores: Vec<StoreKind> = StoreKind::ALL
            .into_iter()
            .filter(|s| options.stores.contains(s))
            .collect();
        if stores.contains(&StoreKind::Training) && stores.contains(&StoreKind::Agents) {
            return Err(Error::InvalidArg(
                "the training and agents stores both keep a table named 'runs' (as OnTheFly and \
                 overstory do) and cannot share a file; open them in separate files"
                    .into(),
            ));
        }
        refuse_non_database(path).map_err(with_path)?;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| with_path(e.into()))?;
        conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS.into()))
            .map_err(|e| with_path(e.into()))?;
        // Read-only checks first: a file that is refused (not SQLite, too new, someone else's
        // tables) must not even get its journal mode changed.
        for store in &stores {
            match store {
                StoreKind::Training => {
                    crate::training::schema::check(&conn, path).map_err(with_path)?
                }
                StoreKind::Agents => {
                    crate::agents::schema::check(&conn, path).map_err(with_path)?
                }
            }
        }
        let journal_mode = configure(&conn).map_err(with_path)?;
        for store in &stores {
            match store {
                StoreKind::Training => crate::training::schema::prepare(&conn, path)?,
                StoreKind::Agents => crate::agents::schema::prepare(&conn, path)?,
            }
        }
        Ok(Database {
            conn,
            path: path.to_path_buf(),
            journal_mode,
            stores,
            agents: options.agents.clone(),
        })
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
    pub fn stores(&self) -> &[StoreKind] {
        &self.stores
    }

    /// The training store, if this file was opened with it.
    pub fn training(&self) -> Result<Training<'_>> {
        if self.stores.contains(&StoreKind::Training) {
            Ok(Training::new(self))
        } else {
            Err(Error::StoreNotOpen(StoreKind::Training.name()))
        }
    }

    /// The agents store, if this file was opened with it.
    pub fn agents(&self) -> Result<Agents<'_>> {
        if self.stores.contains(&StoreKind::Agents) {
            Ok(Agents::new(self))
        } else {
            Err(Error::StoreNotOpen(StoreKind::Agents.name()))
        }
    }

    /// The state machine the agents store enforces.
    pub(crate) fn agents_config(&self) -> &AgentsConfig {
        &self.agents
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction (a savepoint when one is already open):
    /// committed if `f` succeeds, rolled back otherwise.
    pub fn write<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        write_tx(&self.conn, f)
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
            sqlite_version: rusqlite::version(),
        })
    }

    /// `PRAGMA integrity_check` (or the faster `quick_check`): `["ok"]` for a sound file,
    /// otherwise SQLite's list of problems.
    pub fn integrity_check(&self, quick: bool) -> Result<Vec<String>> {
        integrity(&self.conn, quick)
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

    /// `PRAGMA optimize`: lets SQLite refresh the statistics its query planner uses.
    pub fn optimize(&self) -> Result<()> {
        self.conn.execute_batch("PRAGMA optimize")?;
        Ok(())
    }

    /// Writes a consistent, compacted single-file copy of the database to `target` (which must
    /// not exist), in `DELETE` journal mode so it has no sidecar files.
    pub fn backup_to(&self, target: &Path) -> Result<()> {
        backup::snapshot(&self.path, target, &mut |_, _| Ok(())).map(drop)
    }

    /// Closes the connection. SQLite checkpoints the WAL and removes its sidecar files when the
    /// last connection to a file closes.
    pub fn close(self) -> Result<()> {
        self.conn.close().map_err(|(_, e)| e.into())
    }
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
    conn.execute_batch(begin)?;
    let result = f(conn).and_then(|v| {
        conn.execute_batch(commit)?;
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
    /// The bundled SQLite's version.
    pub sqlite_version: &'static str,
}

/// Milliseconds since the Unix epoch (JS `Date.now()`).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn a_short_or_foreign_file_is_refused_unchanged_and_an_empty_one_adopted() -> Result<()> {
        let dir = temp();
        let mut magic_then_junk = SQLITE_MAGIC.to_vec();
        magic_then_junk.extend([7u8; 60]);
        for bytes in [b"x".to_vec(), b"not a database".repeat(3), magic_then_junk] {
            let path = dir.path().join("short.sqlite");
            std::fs::write(&path, &bytes).unwrap();
            let err = Database::open(&path, &OpenOptions::default()).unwrap_err();
            assert_eq!(err.code(), "SQLITE_NOTADB");
            assert!(err.to_string().contains("short.sqlite"), "{err}");
            assert_eq!(std::fs::read(&path).unwrap(), bytes);
        }
        let empty = dir.path().join("empty.sqlite");
        std::fs::write(&empty, b"").unwrap();
        Database::open(&empty, &OpenOptions::default())?.close()?;
        assert!(std::fs::read(&empty).unwrap().starts_with(SQLITE_MAGIC));
        Ok(())
    }

    #[test]
    fn open_applies_pragmas_and_reports_wal() -> Result<()> {
        let dir = temp();
        let db = Database::open(&dir.path().join("a.sqlite"), &OpenOptions::default())?;
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
        assert_eq!(info.schema, [("training", 3)]);
        assert!(info.page_count > 0);
        Ok(())
    }

    #[test]
    fn a_file_that_is_not_sqlite_is_refused_with_its_path() {
        let dir = temp();
        let path = dir.path().join("junk.sqlite");
        std::fs::write(&path, vec![0x5a; 4096]).unwrap();
        let err = Database::open(&path, &OpenOptions::default()).unwrap_err();
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
        let err = Database::open(
            &dir.path().join("no/such/a.sqlite"),
            &OpenOptions::default(),
        )
        .unwrap_err();
        assert_eq!(err.code(), "SQLITE_CANTOPEN");
    }

    #[test]
    fn write_rolls_back_on_error_and_nests_as_savepoint() -> Result<()> {
        let dir = temp();
        let db = Database::open(&dir.path().join("a.sqlite"), &OpenOptions::default())?;
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

    #[test]
    fn backup_is_a_single_file_in_delete_mode() -> Result<()> {
        let dir = temp();
        let db = Database::open(&dir.path().join("a.sqlite"), &OpenOptions::default())?;
        db.conn()
            .execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (42);")?;
        let target = dir.path().join("copy.sqlite");
        db.backup_to(&target)?;
        assert!(!dir.path().join("copy.sqlite-wal").exists());
        let copy = Connection::open(&target)?;
        let mode: String = copy.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        assert_eq!(mode, "delete");
        let x: i64 = copy.query_row("SELECT x FROM t", [], |r| r.get(0))?;
        assert_eq!(x, 42);
        assert_eq!(db.backup_to(&target).unwrap_err().code(), "EEXIST");
        Ok(())
    }

    #[test]
    fn checkpoint_and_integrity_work_on_a_live_file() -> Result<()> {
        let dir = temp();
        let db = Database::open(&dir.path().join("a.sqlite"), &OpenOptions::default())?;
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

    #[test]
    fn store_names_round_trip() {
        assert_eq!(
            StoreKind::from_name("training").unwrap(),
            StoreKind::Training
        );
        assert_eq!(
            StoreKind::from_name("nope").unwrap_err().code(),
            "ERR_INVALID_ARG"
        );
    }
}
