//! `exportBundle` and `loadBundle`.

use std::path::{Path, PathBuf};

use napi::bindgen_prelude::*;
use napi_derive::napi;
use stowage_core::training::bundle::{
    export, load_into_file, ExportOptions, ExportReport, LoadReport,
};

use super::{at, TrainingStore};
use crate::job;
use crate::js::{Js, Raw, Val};

#[napi]
impl TrainingStore {
    /// Writes a bundle of the whole store into `dir`: `runs.sqlite` (a consistent single-file
    /// copy), `checkpoints/`, `final_models/` and `bundle.json` (manifest `1.1`); with
    /// `{ archive: true }` also the single file `<dir>.tar`.
    ///
    /// The bundle is built in a hidden sibling folder and moved into place, so `dir` never
    /// holds a partial bundle; a previous bundle there is replaced only on success, and a
    /// non-empty folder that is not a bundle is refused (`ERR_BUNDLE_DEST_NOT_EMPTY`).
    /// Checkpoint files that are missing or unreadable are listed in `missing`, not fatal.
    /// The copy is made on a connection of its own, so a store in memory (opened on
    /// `':memory:'` or `''`) cannot be exported (`ERR_INVALID_ARG`).
    #[napi(
        catch_unwind,
        ts_args_type = "dir: string, options?: { archive?: boolean }"
    )]
    pub fn export_bundle(
        &self,
        env: Env,
        dir: Unknown<'_>,
        options: Unknown<'_>,
    ) -> Result<ExportBundleResult> {
        let js = Js(env.raw());
        let (dir, opts, _) = export_args(js, "exportBundle", dir.raw(), options.raw(), false)?;
        let db = self.open_path(js, "exportBundle")?;
        export(&db, Path::new(&dir), opts, &mut |_| Ok(()))
            .map(ExportBundleResult::from)
            .map_err(|e| js.core(e))
    }

    /// `exportBundle` off the JS thread: the copy runs on a thread of its own while the store
    /// stays usable (writes made meanwhile land in the store, not in the bundle, which is a
    /// snapshot of the moment the copy began). `onProgress({ phase, bytesDone, bytesTotal,
    /// file })` is called on the JS thread at every phase and at least every 64 MiB copied,
    /// always before the promise settles; if it throws, the export stops, leaves nothing behind
    /// and the promise rejects with what it threw.
    #[napi(
        catch_unwind,
        ts_args_type = "dir: string, options?: { archive?: boolean; onProgress?: (progress: BundleProgress) => void }",
        ts_return_type = "Promise<ExportBundleResult>"
    )]
    pub fn export_bundle_async(
        &self,
        env: Env,
        dir: Unknown<'_>,
        options: Unknown<'_>,
    ) -> Result<Raw> {
        let js = Js(env.raw());
        let args = export_args(js, "exportBundleAsync", dir.raw(), options.raw(), true)
            .and_then(|args| Ok((args, self.open_path(js, "exportBundleAsync")?)));
        let ((dir, opts, on_progress), db) = match args {
            Ok(a) => a,
            Err(e) => return job::rejected(js, e),
        };
        job::spawn(
            js,
            on_progress,
            move |sink| export(&db, Path::new(&dir), opts, sink),
            |js, r| unsafe { ExportBundleResult::to_napi_value(js.0, ExportBundleResult::from(r)) },
        )
    }

    /// Replaces the store's training data with a bundle's. `dir` is the bundle folder, its
    /// `bundle.json`, or a `.tar` of the folder (extracted beside it into a new folder, every
    /// entry checked first); checkpoint and final-model paths then point into the bundle folder.
    ///
    /// Everything is validated first — manifest types (`ERR_BUNDLE_MANIFEST`, `ERR_BUNDLE_VERSION`),
    /// every path relative and inside the folder (`ERR_BUNDLE_PATH`), the database readable,
    /// intact and a training database (`ERR_BUNDLE_SQLITE`) — and the replacement is one
    /// transaction: on any error the store is unchanged and still usable. The second argument
    /// (a `vscode.ExtensionContext` in the original) is ignored here.
    #[napi(catch_unwind, ts_args_type = "dir: string, context?: unknown")]
    pub fn load_bundle(
        &self,
        env: Env,
        dir: Unknown<'_>,
        _context: Unknown<'_>,
    ) -> Result<LoadBundleResult> {
        let js = Js(env.raw());
        let dir = js.path(dir.raw(), at("loadBundle", "dir"))?;
        self.run(js, |t| t.load_bundle(Path::new(&dir), &mut |_| Ok(())))
            .map(LoadBundleResult::from)
    }

    /// `loadBundle` off the JS thread, with `onProgress` as for `exportBundleAsync`. The copy,
    /// checks and migration run on a private copy; the final replacement is one transaction on
    /// a connection of the job's own, so reads keep working throughout and writes made during
    /// that last step wait for it. A store in memory (opened on `':memory:'` or `''`) has no
    /// file for that connection and is refused (`ERR_INVALID_ARG`); `loadBundle` works on it.
    #[napi(
        catch_unwind,
        ts_args_type = "dir: string, context?: unknown, options?: { onProgress?: (progress: BundleProgress) => void }",
        ts_return_type = "Promise<LoadBundleResult>"
    )]
    pub fn load_bundle_async(
        &self,
        env: Env,
        dir: Unknown<'_>,
        _context: Unknown<'_>,
        options: Unknown<'_>,
    ) -> Result<Raw> {
        let js = Js(env.raw());
        let f = "loadBundleAsync";
        let args = js.path(dir.raw(), at(f, "dir")).and_then(|dir| {
            Ok((
                dir,
                job::progress_option(js, f, options.raw())?,
                self.open_path(js, f)?,
            ))
        });
        let (dir, on_progress, db) = match args {
            Ok(a) => a,
            Err(e) => return job::rejected(js, e),
        };
        job::spawn(
            js,
            on_progress,
            move |sink| load_into_file(&db, Path::new(&dir), sink),
            |js, r| unsafe { LoadBundleResult::to_napi_value(js.0, LoadBundleResult::from(r)) },
        )
    }
}

impl TrainingStore {
    /// The store's file, for work on a connection of its own; `ERR_CLOSED` after `close()`,
    /// `ERR_STORE_NOT_OPEN` when the file was opened without the training store.
    fn open_path(&self, js: Js, work: &str) -> Result<PathBuf> {
        self.handle.with(js, |db| {
            db.training()?;
            db.job_path(work)
        })
    }
}

/// `(dir, options, onProgress)` of the export methods.
fn export_args(
    js: Js,
    f: &str,
    dir: Val,
    options: Val,
    with_progress: bool,
) -> Result<(String, ExportOptions, Option<Val>)> {
    let dir = js.path(dir, at(f, "dir"))?;
    if js.is_nullish(options)? {
        return Ok((dir, ExportOptions::default(), None));
    }
    let options = js.object(options, at(f, "options"))?;
    let archive = js.truthy(js.get(options, "archive")?)?;
    let on_progress = if with_progress {
        job::progress_option(js, f, options)?
    } else {
        None
    };
    Ok((dir, ExportOptions { archive }, on_progress))
}

/// A file a bundle references that is not in it.
#[napi(object)]
pub struct BundleMissing {
    /// `'checkpoint'` or `'final_model'`.
    pub kind: String,
    /// The checkpoint id or session id.
    pub id: String,
    /// The path as recorded (in the store on export, in `bundle.json` on load).
    pub path: String,
    /// Why the file is not in the bundle.
    pub reason: String,
}

impl From<stowage_core::training::bundle::Missing> for BundleMissing {
    fn from(m: stowage_core::training::bundle::Missing) -> Self {
        BundleMissing {
            kind: m.kind.to_string(),
            id: m.id,
            path: m.path,
            reason: m.reason,
        }
    }
}

/// What `exportBundle` wrote.
#[napi(object)]
pub struct ExportBundleResult {
    /// The bundle folder, absolute.
    pub dir: String,
    /// The single-file form `<dir>.tar`, when `archive` was requested.
    pub archive: Option<String>,
    /// Checkpoint files copied into `checkpoints/`.
    pub checkpoints: u32,
    /// Final-model files copied into `final_models/`.
    pub final_models: u32,
    /// Referenced files that are not in the bundle, and why.
    pub missing: Vec<BundleMissing>,
    /// Bytes written.
    pub bytes: f64,
}

/// What `loadBundle` loaded.
#[napi(object)]
pub struct LoadBundleResult {
    /// The bundle folder, canonical.
    pub dir: String,
    /// Runs in the store after loading.
    pub runs: u32,
    /// Checkpoint paths pointed into the bundle.
    pub checkpoints: u32,
    /// Final-model paths pointed into the bundle.
    pub final_models: u32,
    /// Manifest entries whose file is absent from the bundle (their paths are still rewritten).
    pub missing: Vec<BundleMissing>,
}

impl From<ExportReport> for ExportBundleResult {
    fn from(r: ExportReport) -> Self {
        ExportBundleResult {
            dir: r.dir.to_string_lossy().into_owned(),
            archive: r.archive.map(|a| a.to_string_lossy().into_owned()),
            checkpoints: r.checkpoints as u32,
            final_models: r.final_models as u32,
            missing: r.missing.into_iter().map(BundleMissing::from).collect(),
            bytes: r.bytes as f64,
        }
    }
}

impl From<LoadReport> for LoadBundleResult {
    fn from(r: LoadReport) -> Self {
        LoadBundleResult {
            dir: r.dir.to_string_lossy().into_owned(),
            runs: r.runs as u32,
            checkpoints: r.checkpoints as u32,
            final_models: r.final_models as u32,
            missing: r.missing.into_iter().map(BundleMissing::from).collect(),
        }
    }
}
