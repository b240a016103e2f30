//! `exportArchive` and `restoreArchive`, and their `…Async` twins on connections of their own.

use std::path::Path;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use stowage_core::conversations::{
    export_archive_on, restore_archive_on, ArchivePhase, ArchiveProgress, ArchiveSink, Exported,
    Session,
};
use stowage_core::engine::connect;

use super::{at, session_object, ConversationStore};
use crate::job::{self, Event};
use crate::js::{Js, Raw, Val};

impl Event for ArchiveProgress {
    /// `{ phase, done, total }`.
    fn to_js(&self, js: Js) -> Result<Val> {
        let o = js.object_new()?;
        js.set_named(o, "phase", js.string(self.phase.name())?)?;
        js.set_named(o, "done", js.number(self.done as f64)?)?;
        js.set_named(o, "total", js.number(self.total as f64)?)?;
        Ok(o)
    }

    /// A restore goes on while its `restore` events are delivered (it holds the write lock
    /// then) and waits at the others, `commit` among them: a callback that throws by then stops
    /// it before anything is committed.
    fn wait(&self) -> bool {
        self.phase != ArchivePhase::Restore
    }
}

fn exported_object(js: Js, e: &Exported) -> Result<Val> {
    let o = js.object_new()?;
    js.set_named(o, "file", js.string(&e.file.to_string_lossy())?)?;
    js.set_named(o, "messages", js.number(e.messages as f64)?)?;
    js.set_named(o, "bytes", js.number(e.bytes as f64)?)?;
    Ok(o)
}

/// What an archive job did.
enum Done {
    Exported(Exported),
    Restored(Session),
}

impl ConversationStore {
    /// Runs `work(db, file, sink)` as a job (`db` the store's file, for a connection of the
    /// job's own), with `options.onProgress`; argument errors reject the promise.
    fn archive_job(
        &self,
        js: Js,
        f: &str,
        file: Val,
        options: Val,
        work: impl FnOnce(&Path, &Path, ArchiveSink<'_>) -> stowage_core::Result<Done> + Send + 'static,
    ) -> Result<Raw> {
        let args = js.path(file, at(f, "file")).and_then(|file| {
            let on_progress = job::progress_option(js, f, options)?;
            let db = self.handle.with(js, |db| {
                db.conversations()?;
                Ok(db.path().to_path_buf())
            })?;
            Ok((file, on_progress, db))
        });
        let (file, on_progress, db) = match args {
            Ok(a) => a,
            Err(e) => return job::rejected(js, e),
        };
        job::spawn(
            js,
            on_progress,
            move |sink| work(&db, Path::new(&file), sink),
            |js, done| match done {
                Done::Exported(e) => exported_object(js, &e),
                Done::Restored(s) => session_object(js, &s),
            },
        )
    }
}

#[napi]
impl ConversationStore {
    /// Writes session `sessionId` with its messages to `file` as gzip-compressed JSON (a
    /// temporary sibling renamed into place, so `file` is never partial) and returns
    /// `{ file, messages, bytes }`. `ERR_NOT_FOUND` when there is no such session.
    #[napi(
        catch_unwind,
        ts_args_type = "sessionId: string, file: string",
        ts_return_type = "ConversationArchiveExport"
    )]
    pub fn export_archive(
        &self,
        env: Env,
        session_id: Unknown<'_>,
        file: Unknown<'_>,
    ) -> Result<Raw> {
        let js = Js(env.raw());
        let f = "exportArchive";
        let id = js.str(session_id.raw(), at(f, "sessionId"))?;
        let file = js.path(file.raw(), at(f, "file"))?;
        let e = self.run(js, |c| c.export_archive(&id, Path::new(&file)))?;
        exported_object(js, &e).map(Raw)
    }

    /// Restores an archive of `exportArchive` as a new session (new session and message ids,
    /// `' (restored)'` appended to the title, `isImported: true`, no parent) and returns it.
    /// The whole archive is read and checked first: one that is not gzip, is truncated, over
    /// 256 MiB, not JSON or not of the archive's shape is `ERR_ARCHIVE_INVALID` and nothing is
    /// written; the writing is one transaction.
    #[napi(
        catch_unwind,
        ts_args_type = "file: string",
        ts_return_type = "ConversationSession"
    )]
    pub fn restore_archive(&self, env: Env, file: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let file = js.path(file.raw(), at("restoreArchive", "file"))?;
        let s = self.run(js, |c| c.restore_archive(Path::new(&file)))?;
        session_object(js, &s).map(Raw)
    }

    /// `exportArchive` off the JS thread, on a connection of its own (a snapshot of the moment
    /// it starts reading). `options.onProgress({ phase: 'read' | 'write', done, total })`
    /// (messages) is called on the JS thread before the promise settles; if it throws, the
    /// export stops, leaves no file and the promise rejects with what it threw. A store in
    /// memory is refused (`ERR_INVALID_ARG`).
    #[napi(
        catch_unwind,
        ts_args_type = "sessionId: string, file: string, options?: { onProgress?: (progress: ArchiveProgress) => void }",
        ts_return_type = "Promise<ConversationArchiveExport>"
    )]
    pub fn export_archive_async(
        &self,
        env: Env,
        session_id: Unknown<'_>,
        file: Unknown<'_>,
        options: Unknown<'_>,
    ) -> Result<Raw> {
        let js = Js(env.raw());
        let f = "exportArchiveAsync";
        let id = match js.str(session_id.raw(), at(f, "sessionId")) {
            Ok(id) => id,
            Err(e) => return job::rejected(js, e),
        };
        self.archive_job(js, f, file.raw(), options.raw(), move |db, file, sink| {
            let conn = connect(db, "an async archive export")?;
            export_archive_on(&conn, &id, file, sink).map(Done::Exported)
        })
    }

    /// `restoreArchive` off the JS thread, on a connection of its own, in one transaction
    /// (writes made meanwhile through this store wait for it).
    /// `options.onProgress({ phase, done, total })`: `read` (bytes), `validate`, `restore` and
    /// `commit` (messages); if it throws, nothing is restored and the promise rejects with what
    /// it threw. A store in memory is refused (`ERR_INVALID_ARG`).
    #[napi(
        catch_unwind,
        ts_args_type = "file: string, options?: { onProgress?: (progress: ArchiveProgress) => void }",
        ts_return_type = "Promise<ConversationSession>"
    )]
    pub fn restore_archive_async(
        &self,
        env: Env,
        file: Unknown<'_>,
        options: Unknown<'_>,
    ) -> Result<Raw> {
        let js = Js(env.raw());
        self.archive_job(
            js,
            "restoreArchiveAsync",
            file.raw(),
            options.raw(),
            |db, file, sink| {
                let conn = connect(db, "an async archive restore")?;
                restore_archive_on(&conn, file, sink).map(Done::Restored)
            },
        )
    }
}
