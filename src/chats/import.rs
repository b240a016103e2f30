//! `ChatStore.importLegacyJson`: opencode's JSON storage tree, on the import framework.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use stowage_core::chats::{Layout, OpencodeTree};
use stowage_core::Error;

use super::{at, ChatStore};
use crate::js::{Js, Raw, Val};
use crate::{import, job};

/// The tree folder, `options.layout` (`'etcode'`, the default, or `'opencode'`) and
/// `options.onProgress`.
fn arguments(
    js: Js,
    f: &str,
    dir: Unknown<'_>,
    options: Unknown<'_>,
) -> Result<(String, Layout, Option<Val>)> {
    let dir = js.path(dir.raw(), at(f, "storageDir"))?;
    let mut layout = Layout::Etcode;
    if !js.is_nullish(options.raw())? {
        let o = js.object(options.raw(), at(f, "options"))?;
        match js
            .opt_str(js.get(o, "layout")?, at(f, "options.layout"))?
            .as_deref()
        {
            None | Some("etcode") => {}
            Some("opencode") => layout = Layout::Opencode,
            Some(other) => {
                return Err(js.core(Error::InvalidArg(format!(
                    "{f}: options.layout must be 'etcode' or 'opencode', not '{other}'"
                ))))
            }
        }
    }
    Ok((dir, layout, job::progress_option(js, f, options.raw())?))
}

#[napi]
impl ChatStore {
    /// Imports the JSON storage tree etcode and opencode kept before SQLite (`<data>/storage`:
    /// `project/`, `session/`, `message/`, `part/`, `todo/`, `permission/`) and, with the
    /// default `layout: 'etcode'`, the todo lists etcode's deprecated key-path store still writes
    /// (`<sessionID>/todo.json`, for sessions in the tree or already in the file; `layout:
    /// 'opencode'` reads the tree alone), by the rules of opencode's own migrator, in
    /// one transaction (joining `store.transaction` when one is open): parents before children,
    /// ids from file and directory names, orphans skipped and counted, malformed files in
    /// `errors`, `ON CONFLICT DO NOTHING` so a second run adds nothing. A missing folder imports
    /// nothing. `options.onProgress(progress)` is called on this thread as the import goes; if it
    /// throws, nothing is imported and what it threw is rethrown.
    #[napi(
        catch_unwind,
        ts_args_type = "storageDir: string, options?: { layout?: 'etcode' | 'opencode'; onProgress?: (progress: ImportProgress) => void }",
        ts_return_type = "ImportReport"
    )]
    pub fn import_legacy_json(
        &self,
        env: Env,
        storage_dir: Unknown<'_>,
        options: Unknown<'_>,
    ) -> Result<Raw> {
        let js = Js(env.raw());
        let (dir, layout, on_progress) = arguments(js, "importLegacyJson", storage_dir, options)?;
        import::run_here(
            js,
            &self.handle,
            on_progress,
            |db, sink| {
                db.chats()?
                    .import_legacy_json(std::path::Path::new(&dir), layout, sink)
            },
            import::report_object,
        )
    }

    /// `importLegacyJson` off the JS thread, on a connection of its own, in one transaction:
    /// writes made meanwhile through this store wait for it. `options.onProgress` is called on
    /// the JS thread; if it throws, nothing is imported and the promise rejects with what it
    /// threw. A store in memory is refused (`ERR_INVALID_ARG`).
    #[napi(
        catch_unwind,
        ts_args_type = "storageDir: string, options?: { layout?: 'etcode' | 'opencode'; onProgress?: (progress: ImportProgress) => void }",
        ts_return_type = "Promise<ImportReport>"
    )]
    pub fn import_legacy_json_async(
        &self,
        env: Env,
        storage_dir: Unknown<'_>,
        options: Unknown<'_>,
    ) -> Result<Raw> {
        let js = Js(env.raw());
        let args = arguments(js, "importLegacyJsonAsync", storage_dir, options).and_then(
            |(dir, layout, cb)| {
                let db = self.handle.with(js, |db| {
                    db.chats()?;
                    db.job_path("importLegacyJsonAsync")
                })?;
                Ok((dir, layout, cb, db))
            },
        );
        let (dir, layout, on_progress, db) = match args {
            Ok(a) => a,
            Err(e) => return job::rejected(js, e),
        };
        import::run_async(
            js,
            db,
            dir.into(),
            OpencodeTree::new(layout),
            on_progress,
            import::report_object,
        )
    }
}
