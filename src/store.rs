//! `Store` and `openStore`: one SQLite file hosting stowage's stores.
//!
//! `openStore` looks each requested store up in the core's registry and in the binding's
//! ([`crate::stores::BINDINGS`]): the binding reads the store's options and adds the store's
//! members (`store.training`, `store.agents`, …) to the `Store` object, so a `Store` has the
//! members of the stores it was opened with and no others.

use std::path::Path;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use stowage_core::engine::backup::{self, Copied};
use stowage_core::engine::retention::{self, Deleted, Progress as RetentionProgress};
use stowage_core::engine::rotate;
use stowage_core::engine::{self, connect, now_ms, vacuum_on, AutoVacuum, CheckpointMode};
use stowage_core::{stores, Database, OpenOptions, StoreDef};

use crate::handle::Handle;
use crate::job::Event;
use crate::js::{at, opt_options, At, Js, Raw, Val};

/// One open SQLite file and the stores it hosts. Create it with `openStore`.
#[napi]
pub struct Store {
    handle: Handle,
}

/// Facts about an open store file.
#[napi(object)]
pub struct StoreInfo {
    /// The file's path as given to `openStore`.
    pub path: String,
    /// `'wal'`, or the mode SQLite fell back to where WAL is refused (e.g. some network file
    /// systems).
    pub journal_mode: String,
    /// Bytes per page.
    pub page_size: i64,
    /// Pages in the main file (WAL not included).
    pub page_count: i64,
    /// Unused pages that `VACUUM` would reclaim.
    pub freelist_count: i64,
    /// The stores this file was opened with.
    pub stores: Vec<String>,
    /// Schema version of each store, by name.
    pub schema: std::collections::HashMap<String, i64>,
    /// The file's `auto_vacuum` mode: `'none'` (SQLite's default), `'full'` or `'incremental'`.
    pub auto_vacuum: String,
    /// Version of the SQLite library compiled into stowage.
    pub sqlite_version: String,
}

/// What `optimize()` did.
#[napi(object)]
pub struct OptimizeResult {
    /// The file's `auto_vacuum` mode: `'none'`, `'full'` or `'incremental'`.
    pub auto_vacuum: String,
    /// `'ran'` on a file in `'incremental'` mode, `'skipped'` otherwise.
    pub incremental_vacuum: String,
    /// Pages the incremental vacuum returned to the file system (0 when skipped).
    pub freed_pages: i64,
}

/// What `vacuum()` did.
#[napi(object)]
pub struct VacuumResult {
    /// Pages of the main file before the rewrite.
    pub pages_before: i64,
    /// Pages after it.
    pub pages_after: i64,
    /// The file's `auto_vacuum` mode now.
    pub auto_vacuum: String,
}

impl From<stowage_core::engine::Vacuumed> for VacuumResult {
    fn from(v: stowage_core::engine::Vacuumed) -> Self {
        VacuumResult {
            pages_before: v.pages_before,
            pages_after: v.pages_after,
            auto_vacuum: v.auto_vacuum.name().to_string(),
        }
    }
}

/// The outcome of a WAL checkpoint.
#[napi(object)]
pub struct CheckpointResult {
    /// True when other connections kept the checkpoint from completing.
    pub busy: bool,
    /// Frames in the WAL (-1 when the file is not in WAL mode).
    pub log_frames: i64,
    /// Frames copied back into the database file (-1 when not in WAL mode).
    pub checkpointed_frames: i64,
}

impl Event for RetentionProgress {
    /// `{ table, deleted, total }`.
    fn to_js(&self, js: Js) -> Result<Val> {
        let o = js.object_new()?;
        js.set_named(o, "table", js.string(self.table)?)?;
        js.set_named(o, "deleted", js.number(self.deleted as f64)?)?;
        js.set_named(o, "total", js.number(self.total as f64)?)?;
        Ok(o)
    }
}

/// `{ <table>: rows deleted, … }`.
fn deleted_object(js: Js, deleted: &[Deleted]) -> Result<Val> {
    let o = js.object_new()?;
    for d in deleted {
        js.set_named(o, d.table, js.number(d.rows as f64)?)?;
    }
    Ok(o)
}

/// `options.now` of `applyRetention`: epoch milliseconds, default the clock.
fn retention_now(js: Js, f: &str, options: Val) -> Result<i64> {
    if js.is_nullish(options)? {
        return Ok(now_ms());
    }
    let o = js.object(
        options,
        At {
            func: f,
            arg: "options",
        },
    )?;
    let now = js.opt_int(
        js.get(o, "now")?,
        At {
            func: f,
            arg: "options.now",
        },
    )?;
    Ok(now.unwrap_or_else(now_ms))
}

/// See `openStore` in index.d.ts (declared there, with the members each store adds).
#[napi(catch_unwind, skip_typescript)]
pub fn open_store(env: Env, path: Unknown<'_>, options: Unknown<'_>) -> Result<Raw> {
    let js = Js(env.raw());
    let f = "openStore";
    let at = |arg| At { func: f, arg };
    let path = js.path(path.raw(), at("path"))?;
    let mut names = vec!["training".to_string()];
    let mut given = None;
    if !js.is_nullish(options.raw())? {
        let o = js.object(options.raw(), at("options"))?;
        let list = js.get(o, "stores")?;
        if !js.is_nullish(list)? {
            if !js.is_array(list)? {
                return Err(js.type_error(at("options.stores"), "an array of store names", list));
            }
            names = js.map_items(list, at("options.stores"), |i, v| {
                let arg = format!("options.stores[{i}]");
                js.str(v, At { func: f, arg: &arg })
            })?;
        }
        given = Some(o);
    }
    let mut open = OpenOptions::new([]);
    if let Some(o) = given {
        let mode = js.opt_str(js.get(o, "autoVacuum")?, at("options.autoVacuum"))?;
        open.auto_vacuum = mode
            .map(|m| AutoVacuum::from_name(&m))
            .transpose()
            .map_err(|e| js.core(e))?;
        let read_only = js.get(o, "readOnly")?;
        if !js.is_nullish(read_only)? {
            if js.type_of(read_only)? != napi::sys::ValueType::napi_boolean {
                return Err(js.type_error(at("options.readOnly"), "a boolean", read_only));
            }
            open.read_only = js.truthy(read_only)?;
        }
    }
    let mut bindings = Vec::new();
    for name in &names {
        let def: &'static dyn StoreDef = stores::find(name).map_err(|e| js.core(e))?;
        let binding = crate::stores::binding(def.name()).map_err(|e| js.core(e))?;
        if let (Some(o), Some(read)) = (given, binding.config) {
            let v = js.get(o, def.name())?;
            if !js.is_nullish(v)? {
                open.configs.push((def.name(), read(js, v)?));
            }
        }
        open.stores.push(def);
        bindings.push(binding);
    }
    let db = Database::open(Path::new(&path), &open).map_err(|e| js.core(e))?;
    let handle = Handle::new(db);
    let store = Store {
        handle: handle.clone(),
    }
    .into_instance(&env)?
    .value;
    for binding in bindings {
        for (name, member) in (binding.members)(&env, &handle)? {
            js.define_readonly(store, name, member)?;
        }
    }
    Ok(Raw(store))
}

#[napi]
impl Store {
    /// Throws `ERR_ILLEGAL_CONSTRUCTOR`: a `Store` comes from `openStore`.
    #[napi(constructor, skip_typescript)]
    pub fn new(env: Env) -> Result<Self> {
        Err(Js(env.raw()).illegal_constructor("Store", "use openStore(path)"))
    }

    /// The file's path as given to `openStore`.
    #[napi(getter)]
    pub fn path(&self) -> String {
        self.handle.path().to_string_lossy().into_owned()
    }

    /// False once `close()` was called.
    #[napi(getter)]
    pub fn is_open(&self) -> bool {
        self.handle.is_open()
    }

    /// Facts about the file: journal mode, size in pages, each store's schema version.
    #[napi(catch_unwind)]
    pub fn info(&self, env: Env) -> Result<StoreInfo> {
        let info = self.handle.with(Js(env.raw()), |db| {
            let info = db.info()?;
            Ok((
                info,
                db.stores().iter().map(|s| s.name().to_string()).collect(),
            ))
        })?;
        let (info, stores) = info;
        Ok(StoreInfo {
            path: info.path.to_string_lossy().into_owned(),
            journal_mode: info.journal_mode,
            page_size: info.page_size,
            page_count: info.page_count,
            freelist_count: info.freelist_count,
            stores,
            schema: info
                .schema
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            auto_vacuum: info.auto_vacuum.name().to_string(),
            sqlite_version: info.sqlite_version.to_string(),
        })
    }

    /// SQLite's integrity check: `['ok']` for a sound file, otherwise the problems found.
    /// `{ quick: true }` runs the faster `quick_check`.
    #[napi(catch_unwind, ts_args_type = "options?: { quick?: boolean }")]
    pub fn integrity_check(&self, env: Env, options: Unknown<'_>) -> Result<Vec<String>> {
        let js = Js(env.raw());
        let quick = js.truthy(js.get(options.raw(), "quick")?)?;
        self.handle.with(js, |db| db.integrity_check(quick))
    }

    /// Lets SQLite refresh its query-planner statistics (`PRAGMA optimize`), then, only on a
    /// file created with `autoVacuum: 'incremental'`, returns its free pages to the file system
    /// (`PRAGMA incremental_vacuum`); on any other file that part is reported as skipped. Cheap,
    /// and worth calling before closing a long-lived store.
    #[napi(catch_unwind)]
    pub fn optimize(&self, env: Env) -> Result<OptimizeResult> {
        let o = self.handle.with(Js(env.raw()), |db| db.optimize())?;
        Ok(OptimizeResult {
            auto_vacuum: o.auto_vacuum.name().to_string(),
            incremental_vacuum: if o.incremental_vacuum {
                "ran"
            } else {
                "skipped"
            }
            .to_string(),
            freed_pages: o.freed_pages,
        })
    }

    /// `VACUUM`: rewrites the whole file compactly, returning every free page to the file
    /// system, and switches it to the `autoVacuum` mode given to `openStore` when it has another
    /// (the only way an existing file changes mode). It holds the write lock throughout (other
    /// writers wait, up to the busy timeout) and needs about the file's size in free disk space.
    /// Never run implicitly. Inside `transaction(fn)` it is `ERR_TRANSACTION_OPEN`.
    #[napi(catch_unwind)]
    pub fn vacuum(&self, env: Env) -> Result<VacuumResult> {
        self.handle
            .with(Js(env.raw()), |db| db.vacuum())
            .map(VacuumResult::from)
    }

    /// `vacuum()` on a connection of its own, off the JS thread; the store stays readable
    /// meanwhile. A store in memory is refused (`ERR_INVALID_ARG`).
    #[napi(catch_unwind, ts_return_type = "Promise<VacuumResult>")]
    pub fn vacuum_async(&self, env: Env) -> Result<Raw> {
        let js = Js(env.raw());
        let args = self.handle.with(js, |db| {
            Ok((db.job_path("vacuumAsync")?, db.auto_vacuum_option()))
        });
        let (path, mode) = match args {
            Ok(a) => a,
            Err(e) => return crate::job::rejected(js, e),
        };
        crate::job::spawn(
            js,
            None,
            move |_: &mut dyn FnMut(&()) -> stowage_core::Result<()>| {
                vacuum_on(&connect(&path, "vacuumAsync")?, mode)
            },
            |js, v| unsafe { VacuumResult::to_napi_value(js.0, VacuumResult::from(v)) },
        )
    }

    /// Runs one read-only statement (`SELECT`, `WITH`, `VALUES` or `EXPLAIN`) and returns its
    /// rows as plain objects, keys in column order, values as `getRunRows` returns them. `params`
    /// are its positional `?` values. A statement that would write, or text holding more than one
    /// statement, is `ERR_INVALID_ARG` before it runs. For tools that look into a file (the
    /// `stowage` CLI); the stores' own methods are the typed way in.
    #[napi(
        catch_unwind,
        ts_args_type = "sql: string, params?: Array<null | boolean | number | bigint | string>",
        ts_return_type = "Array<Record<string, unknown>>"
    )]
    pub fn query(&self, env: Env, sql: Unknown<'_>, params: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let at = |arg| At { func: "query", arg };
        let sql = js.str(sql.raw(), at("sql"))?;
        let params = if js.is_nullish(params.raw())? {
            Vec::new()
        } else if js.is_array(params.raw())? {
            js.map_items(params.raw(), at("params"), |i, v| {
                js.sql_value(
                    v,
                    At {
                        func: "query",
                        arg: &format!("params[{i}]"),
                    },
                )
            })?
        } else {
            return Err(js.type_error(at("params"), "an array", params.raw()));
        };
        let rows = self.handle.with(js, |db| db.query(&sql, &params))?;
        js.rows(&rows).map(Raw)
    }

    /// Copies the WAL back into the database file. `mode`: `'PASSIVE'` (default), `'FULL'`,
    /// `'RESTART'` or `'TRUNCATE'`.
    #[napi(
        catch_unwind,
        ts_args_type = "mode?: 'PASSIVE' | 'FULL' | 'RESTART' | 'TRUNCATE'"
    )]
    pub fn checkpoint(&self, env: Env, mode: Unknown<'_>) -> Result<CheckpointResult> {
        let js = Js(env.raw());
        let mode = js
            .opt_str(
                mode.raw(),
                At {
                    func: "checkpoint",
                    arg: "mode",
                },
            )?
            .unwrap_or_else(|| "PASSIVE".into());
        let mode = CheckpointMode::from_name(&mode).map_err(|e| js.core(e))?;
        let c = self.handle.with(js, |db| db.checkpoint(mode))?;
        Ok(CheckpointResult {
            busy: c.busy,
            log_frames: c.log_frames,
            checkpointed_frames: c.checkpointed_frames,
        })
    }

    /// Writes a backup of the database to `path`, which must not exist (`EEXIST`): a
    /// consistent, compacted single-file copy in `DELETE` journal mode, the database as it was
    /// when the call began (writes on other connections may continue meanwhile). With `verify`
    /// (the default) the copy is checked with `PRAGMA integrity_check`; with `gzip` it is
    /// written gzip-compressed (`restoreFrom` reads both). The file gets its name only once it
    /// is complete and flushed to disk, so a crash never leaves a half-written backup under it.
    /// Returns `{ bytes, ok, problems }`: the size written; `ok` is `true` when the check
    /// passed, `false` when SQLite found problems (listed in `problems`; the copy is kept, and
    /// the live file has them too), `null` without `verify`. A store in memory
    /// (`ERR_INVALID_ARG`) or opened read-only (`ERR_READ_ONLY`) is refused: the copy is read on
    /// a connection of its own.
    #[napi(
        catch_unwind,
        ts_args_type = "path: string, options?: BackupOptions",
        ts_return_type = "BackupResult"
    )]
    pub fn backup_to(&self, env: Env, path: Unknown<'_>, options: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let f = "backupTo";
        let target = js.path(path.raw(), at(f, "path"))?;
        let how = backup_options(js, f, options.raw())?;
        let made = self
            .handle
            .with(js, |db| db.backup_to(Path::new(&target), how))?;
        backup_result(js, &made).map(Raw)
    }

    /// `backupTo(path, options)` on a connection of its own, off the JS thread; writes continue
    /// meanwhile and are not in the copy, which is the database as of the moment it began.
    /// `onProgress({ phase, bytesDone, bytesTotal })` is called on the JS thread through the
    /// phases `'copy'` (after every 16 MiB copied), `'verify'` (at its start and end) and
    /// `'compress'` (every 16 MiB compressed); if it throws, the backup stops, nothing is left
    /// at `path`, and the promise rejects with what it threw. Resolves to `{ bytes, ok,
    /// problems }` as `backupTo` returns.
    #[napi(
        catch_unwind,
        ts_args_type = "path: string, options?: BackupOptions & { onProgress?: (progress: BackupProgress) => void }",
        ts_return_type = "Promise<BackupResult>"
    )]
    pub fn backup_to_async(
        &self,
        env: Env,
        path: Unknown<'_>,
        options: Unknown<'_>,
    ) -> Result<Raw> {
        let js = Js(env.raw());
        let f = "backupToAsync";
        let args = js.path(path.raw(), at(f, "path")).and_then(|target| {
            let how = backup_options(js, f, options.raw())?;
            let on_progress = crate::job::progress_option(js, f, options.raw())?;
            let source = self.handle.with(js, |db| db.job_path(f))?;
            Ok((target, how, on_progress, source))
        });
        let (target, how, on_progress, source) = match args {
            Ok(a) => a,
            Err(e) => return crate::job::rejected(js, e),
        };
        crate::job::spawn(
            js,
            on_progress,
            move |report: &mut dyn FnMut(&Copied) -> stowage_core::Result<()>| {
                backup::backup(&source, Path::new(&target), how, &mut |c| report(&c))
            },
            |js, made| backup_result(js, &made),
        )
    }

    /// Replaces the whole database by the one in the backup file `path` (as `backupTo` writes
    /// it, plain or gzipped; or any SQLite file holding this file's stores). The backup is first
    /// read into a work file beside the live one and checked there: a SQLite database that
    /// passes `PRAGMA integrity_check` and opens with the stores this file was opened with
    /// (brought to the current schema when older), else `ERR_BACKUP_INVALID`. Then, unless
    /// `keepPreRestore: false`, the live database is backed up beside itself to
    /// `<file>.pre-restore-<time>.sqlite`, and last its content is replaced in one write
    /// transaction: other connections and processes see the old database or the restored one,
    /// never a mix, and on any failure the live file is as it was. The backup file is never
    /// modified. Returns `{ bytes, preRestore }`: the restored size, and the pre-restore copy's
    /// path or `null`. Not inside `transaction(fn)` (`ERR_TRANSACTION_OPEN`), not on a store in
    /// memory (`ERR_INVALID_ARG`) or opened read-only (`ERR_READ_ONLY`).
    #[napi(
        catch_unwind,
        ts_args_type = "path: string, options?: RestoreOptions",
        ts_return_type = "RestoreResult"
    )]
    pub fn restore_from(&self, env: Env, path: Unknown<'_>, options: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let f = "restoreFrom";
        let from = js.path(path.raw(), at(f, "path"))?;
        let keep = keep_pre_restore(js, f, options.raw())?;
        let done = self
            .handle
            .with_mut(js, |db| db.restore_from(Path::new(&from), keep))?;
        restore_result(js, &done).map(Raw)
    }

    /// `restoreFrom(path, options)` off the JS thread: the backup is read and checked, and the
    /// pre-restore copy written, on connections of their own while the store stays usable; the
    /// last step replaces the content in one write transaction as `restoreFrom` does (a write
    /// of the store meanwhile waits for it, and then sees the restored database).
    /// `onProgress({ phase, bytesDone, bytesTotal })` is called on the JS thread through the
    /// phases `'unpack'` (bytes of the backup file read, every 16 MiB), `'check'` (its start and
    /// end), `'copy'` and `'verify'` (the pre-restore copy, as `backupToAsync` reports them;
    /// not with `keepPreRestore: false`) and `'replace'` (its start); if it throws, the restore
    /// stops, the live file is as it was, and the promise rejects with what it threw. Resolves
    /// to `{ bytes, preRestore }` as `restoreFrom` returns. Refused where `restoreFrom` is
    /// (`ERR_TRANSACTION_OPEN`, `ERR_INVALID_ARG`, `ERR_READ_ONLY`).
    #[napi(
        catch_unwind,
        ts_args_type = "path: string, options?: RestoreOptions & { onProgress?: (progress: RestoreProgress) => void }",
        ts_return_type = "Promise<RestoreResult>"
    )]
    pub fn restore_from_async(
        &self,
        env: Env,
        path: Unknown<'_>,
        options: Unknown<'_>,
    ) -> Result<Raw> {
        let js = Js(env.raw());
        let f = "restoreFromAsync";
        let args = js.path(path.raw(), at(f, "path")).and_then(|from| {
            let keep = keep_pre_restore(js, f, options.raw())?;
            let on_progress = crate::job::progress_option(js, f, options.raw())?;
            let (live, open) = self.handle.with(js, |db| {
                Ok((db.restore_job("restoreFromAsync()")?, db.restore_options()))
            })?;
            Ok((from, keep, on_progress, live, open))
        });
        let (from, keep, on_progress, live, open) = match args {
            Ok(a) => a,
            Err(e) => return crate::job::rejected(js, e),
        };
        crate::job::spawn(
            js,
            on_progress,
            move |report: &mut dyn FnMut(&Copied) -> stowage_core::Result<()>| {
                let mut into = connect(&live, f)?;
                engine::restore(&live, &mut into, Path::new(&from), &open, keep, &mut |c| {
                    report(&c)
                })
            },
            |js, done| restore_result(js, &done),
        )
    }

    /// Deletes what the retention policies of the file's stores let expire at `now` (epoch
    /// milliseconds, default the clock), and returns the rows deleted per table: for the history
    /// store `{ snapshots, analytics }` (unstarred snapshots older than 30 days, analytics
    /// events older than 90, or what `options.history` sets); `{}` for a file without a store
    /// that has a policy. A row exactly at the cutoff is kept. Rows go oldest first, in short
    /// transactions (about 10 ms each, with a pause between them), so a writer in another
    /// process waits for a chunk, not for the whole run; if a call fails or the process is
    /// killed midway, what was deleted is the oldest expired rows, and a new call deletes the
    /// rest. `VACUUM` never runs (`vacuum()` does that). Inside `transaction(fn)` it is
    /// `ERR_TRANSACTION_OPEN`.
    #[napi(
        catch_unwind,
        ts_args_type = "options?: { now?: number }",
        ts_return_type = "RetentionResult"
    )]
    pub fn apply_retention(&self, env: Env, options: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let now = retention_now(js, "applyRetention", options.raw())?;
        let deleted = self.handle.with(js, |db| db.apply_retention(now))?;
        deleted_object(js, &deleted).map(Raw)
    }

    /// `applyRetention` off the JS thread, on a connection of its own; the store stays usable
    /// meanwhile. `options.onProgress({ table, deleted, total })` is called on the JS thread
    /// before each table's first chunk and after every chunk (`total`: the rows that had
    /// expired when the table's turn began); if it throws, the run stops there (what was
    /// deleted stays deleted) and the promise rejects with what it threw. A store in memory, or
    /// opened read-only, is refused (`ERR_INVALID_ARG`, `ERR_READ_ONLY`).
    #[napi(
        catch_unwind,
        ts_args_type = "options?: { now?: number; onProgress?: (progress: RetentionProgress) => void }",
        ts_return_type = "Promise<RetentionResult>"
    )]
    pub fn apply_retention_async(&self, env: Env, options: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let f = "applyRetentionAsync";
        let args = retention_now(js, f, options.raw()).and_then(|now| {
            let on_progress = crate::job::progress_option(js, f, options.raw())?;
            let (path, policies) = self
                .handle
                .with(js, |db| Ok((db.job_path(f)?, db.retention_policies())))?;
            Ok((now, on_progress, path, policies))
        });
        let (now, on_progress, path, policies) = match args {
            Ok(a) => a,
            Err(e) => return crate::job::rejected(js, e),
        };
        crate::job::spawn(
            js,
            on_progress,
            move |report: &mut dyn FnMut(&RetentionProgress) -> stowage_core::Result<()>| {
                retention::apply(&connect(&path, f)?, &policies, now, report)
            },
            |js, deleted| deleted_object(js, &deleted),
        )
    }

    /// Opens a transaction level for `transaction(fn)` (index.js) and returns its number.
    #[napi(js_name = "_begin", catch_unwind, skip_typescript)]
    pub fn begin(&self, env: Env) -> Result<u32> {
        self.handle.with(Js(env.raw()), |db| db.begin())
    }

    /// Commits the innermost transaction level `level`.
    #[napi(js_name = "_commit", catch_unwind, skip_typescript)]
    pub fn commit(&self, env: Env, level: u32) -> Result<()> {
        self.handle
            .with_levels(Js(env.raw()), |db| db.commit(level))
    }

    /// Rolls back the innermost transaction level `level`.
    #[napi(js_name = "_rollback", catch_unwind, skip_typescript)]
    pub fn rollback(&self, env: Env, level: u32) -> Result<()> {
        self.handle
            .with_levels(Js(env.raw()), |db| db.rollback(level))
    }

    /// Closes the file (SQLite folds the WAL back in). Later calls on this store, or on its
    /// members, throw `ERR_CLOSED`; closing twice does nothing.
    #[napi(catch_unwind)]
    pub fn close(&self, env: Env) -> Result<()> {
        self.handle.close(Js(env.raw()))
    }
}

/// `{ gzip?, verify? }` of `backupTo` and `backupToAsync`.
fn backup_options(js: Js, func: &str, options: Val) -> Result<backup::BackupOptions> {
    let mut how = backup::BackupOptions::default();
    if let Some(o) = opt_options(js, options, func)? {
        let flag = |key: &str, arg: &str| js.opt_bool(js.get(o, key)?, at(func, arg));
        if let Some(gzip) = flag("gzip", "options.gzip")? {
            how.gzip = gzip;
        }
        if let Some(verify) = flag("verify", "options.verify")? {
            how.verify = verify;
        }
    }
    Ok(how)
}

/// `options.keepPreRestore` of `restoreFrom` and `restoreFromAsync` (default `true`).
fn keep_pre_restore(js: Js, func: &str, options: Val) -> Result<bool> {
    Ok(match opt_options(js, options, func)? {
        Some(o) => js.opt_bool(
            js.get(o, "keepPreRestore")?,
            at(func, "options.keepPreRestore"),
        )?,
        None => None,
    }
    .unwrap_or(true))
}

/// `{ bytes, preRestore }` of a restore.
fn restore_result(js: Js, done: &engine::Restored) -> Result<Val> {
    let obj = js.object_new()?;
    js.set_named(obj, "bytes", js.number(done.bytes as f64)?)?;
    let pre = match &done.pre_restore {
        Some(p) => js.string(&p.to_string_lossy())?,
        None => js.null()?,
    };
    js.set_named(obj, "preRestore", pre)?;
    Ok(obj)
}

/// `{ bytes, ok, problems }` of a backup.
fn backup_result(js: Js, made: &backup::Backup) -> Result<Val> {
    let obj = js.object_new()?;
    js.set_named(obj, "bytes", js.number(made.bytes as f64)?)?;
    let ok = match made.ok {
        Some(ok) => js.boolean(ok)?,
        None => js.null()?,
    };
    js.set_named(obj, "ok", ok)?;
    let problems = js.array(made.problems.iter().map(|p| js.string(p)))?;
    js.set_named(obj, "problems", problems)?;
    Ok(obj)
}

/// Rotates a folder of backups (grandfather-father-son): going from the newest backup to the
/// oldest, one is kept when it is the newest of a day (UTC) among the `daily` newest days that
/// have a backup, or the newest of such a week (Monday to Sunday, `weekly`) or month
/// (`monthly`); the newest backup is always kept, every other one is deleted (listed only, with
/// `dryRun`). Defaults: 7 daily, 4 weekly, 12 monthly. A file takes part only when its name holds
/// its date (`YYYY-MM-DD`, optionally a time after it: `runs-2026-12-01T10-30-00.000Z.sqlite.gz`,
/// what `new Date().toISOString().replaceAll(':', '-')` gives) and it is a SQLite database, plain
/// or gzipped; anything else in the folder, the live database among it, is left alone. Returns
/// `{ kept, deleted }`, paths newest first. Subfolders are not entered.
#[napi(
    catch_unwind,
    ts_args_type = "dir: string, options?: { daily?: number; weekly?: number; monthly?: number; dryRun?: boolean }",
    ts_return_type = "{ kept: string[]; deleted: string[] }"
)]
pub fn rotate_backups(env: Env, dir: Unknown<'_>, options: Unknown<'_>) -> Result<Raw> {
    let js = Js(env.raw());
    let f = "rotateBackups";
    let dir = js.path(
        dir.raw(),
        At {
            func: f,
            arg: "dir",
        },
    )?;
    let mut keep = rotate::Keep::default();
    let mut dry_run = false;
    if !js.is_nullish(options.raw())? {
        let o = js.object(
            options.raw(),
            At {
                func: f,
                arg: "options",
            },
        )?;
        for (key, arg, slot) in [
            ("daily", "options.daily", &mut keep.daily),
            ("weekly", "options.weekly", &mut keep.weekly),
            ("monthly", "options.monthly", &mut keep.monthly),
        ] {
            let at = At { func: f, arg };
            if let Some(n) = js.opt_int(js.get(o, key)?, at)? {
                if n < 0 {
                    return Err(js.range_error(at, "must be a count of at least 0"));
                }
                // More than 2^32 days, weeks or months keeps everything all the same.
                *slot = u32::try_from(n).unwrap_or(u32::MAX);
            }
        }
        let at = At {
            func: f,
            arg: "options.dryRun",
        };
        dry_run = js.opt_bool(js.get(o, "dryRun")?, at)?.unwrap_or(false);
    }
    let done = rotate::rotate(Path::new(&dir), keep, dry_run).map_err(|e| js.core(e))?;
    let paths = |list: &[std::path::PathBuf]| {
        js.array(list.iter().map(|p| js.string(&p.to_string_lossy())))
    };
    let obj = js.object_new()?;
    js.set_named(obj, "kept", paths(&done.kept)?)?;
    js.set_named(obj, "deleted", paths(&done.deleted)?)?;
    Ok(Raw(obj))
}
