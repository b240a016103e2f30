//! The JS side of the core's import framework (`stowage_core::engine::import`): the report
//! object every `importLegacyJson` returns, its progress events, and running an import on the
//! JS thread with a progress callback or as an `…Async` job on a connection of its own.

use std::cell::Cell;
use std::path::PathBuf;

use napi::bindgen_prelude::*;
use stowage_core::engine::import::{self, ImportPhase, ImportProgress, ImportReport, Importer};
use stowage_core::engine::{connect, Database};

use crate::handle::Handle;
use crate::job::{self, Event};
use crate::js::{Js, Raw, Val};

impl Event for ImportProgress {
    /// `{ phase, filesDone, filesTotal, bytesDone, bytesTotal, rows, file? }`.
    fn to_js(&self, js: Js) -> Result<Val> {
        let o = js.object_new()?;
        js.set_named(o, "phase", js.string(self.phase.name())?)?;
        for (key, n) in [
            ("filesDone", self.files_done),
            ("filesTotal", self.files_total),
            ("bytesDone", self.bytes_done),
            ("bytesTotal", self.bytes_total),
            ("rows", self.rows),
        ] {
            js.set_named(o, key, js.number(n as f64)?)?;
        }
        if let Some(file) = &self.file {
            js.set_named(o, "file", js.string(&file.to_string_lossy())?)?;
        }
        Ok(o)
    }

    /// The job goes on while `import` events are delivered (it holds the write lock then), and
    /// waits at the others, `commit` among them: a callback that throws by then stops the
    /// import before anything is committed.
    fn wait(&self) -> bool {
        self.phase != ImportPhase::Import
    }
}

/// `{ migrated, counts: { table: n }, orphans: { table: n }, errors: [{ file, entry, reason }] }`
/// (`entry` is null when the whole file is unusable).
pub fn report_object(js: Js, report: &ImportReport) -> Result<Val> {
    let o = js.object_new()?;
    js.set_named(o, "migrated", js.boolean(report.migrated)?)?;
    for (key, map) in [("counts", &report.counts), ("orphans", &report.orphans)] {
        let m = js.object_new()?;
        for (table, n) in map {
            js.set_named(m, table, js.number(*n as f64)?)?;
        }
        js.set_named(o, key, m)?;
    }
    let errors = report.errors.iter().map(|e| {
        let item = js.object_new()?;
        js.set_named(item, "file", js.string(&e.file.to_string_lossy())?)?;
        let entry = e.entry.map_or_else(|| js.null(), |i| js.number(i as f64))?;
        js.set_named(item, "entry", entry)?;
        js.set_named(item, "reason", js.string(&e.reason)?)?;
        Ok(item)
    });
    js.set_named(o, "errors", js.array(errors)?)?;
    Ok(o)
}

/// How a store turns its import's report into the JS value it returns ([`report_object`], or
/// that with fields of the store's own).
pub type Finish = fn(Js, &ImportReport) -> Result<Val>;

/// Runs `import` on the store's own connection (joining a transaction that is open), calling
/// `on_progress` with each event on this thread. If the callback throws, the import is rolled
/// back and what it threw is rethrown.
pub fn run_here(
    js: Js,
    handle: &Handle,
    on_progress: Option<Val>,
    import: impl FnOnce(&Database, import::ImportSink<'_>) -> stowage_core::Result<ImportReport>,
    finish: Finish,
) -> Result<Raw> {
    let thrown = Cell::new(None);
    let result = handle.with(js, |db| {
        import(db, &mut |p| {
            let Some(cb) = on_progress else {
                return Ok(());
            };
            let event = p.to_js(js).map_err(|_| stowage_core::Error::Cancelled)?;
            if js.call(cb, &[event]).is_err() {
                thrown.set(js.take_exception());
                return Err(stowage_core::Error::Cancelled);
            }
            Ok(())
        })
    });
    match (result, thrown.take()) {
        (Ok(report), _) => finish(js, &report).map(Raw),
        (Err(_), Some(exception)) => {
            js.take_exception();
            Err(js.rethrow(exception))
        }
        (Err(e), None) => Err(e),
    }
}

/// Runs the import `importer` of `source` as a job on a connection of its own to the store's
/// file, in one transaction; the promise resolves with the report. A store in memory is
/// refused (`ERR_INVALID_ARG`): it has no file for a second connection.
pub fn run_async<I: Importer + Send + 'static>(
    js: Js,
    db_path: PathBuf,
    source: PathBuf,
    mut importer: I,
    on_progress: Option<Val>,
    finish: Finish,
) -> Result<Raw> {
    job::spawn(
        js,
        on_progress,
        move |sink: &mut dyn FnMut(&ImportProgress) -> stowage_core::Result<()>| {
            let conn = connect(&db_path, "an async import")?;
            import::run(&conn, &source, &mut importer, sink)
        },
        move |js, report| finish(js, &report),
    )
}
