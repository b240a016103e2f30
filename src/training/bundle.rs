//! `exportBundle` and `loadBundle`.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::{at, TrainingStore};
use crate::js::Js;

#[napi]
impl TrainingStore {
    /// Writes a bundle of the whole store into `dir`: `runs.sqlite` (a consistent single-file
    /// copy), `checkpoints/`, `final_models/` and `bundle.json` (manifest `1.1`).
    ///
    /// The bundle is built in a hidden sibling folder and renamed into place, so `dir` never
    /// holds a partial bundle; a previous bundle there is replaced only on success, and a
    /// non-empty folder that is not a bundle is refused (`ERR_BUNDLE_DEST_NOT_EMPTY`).
    /// Checkpoint files that are missing or unreadable are listed in `missing`, not fatal.
    #[napi(catch_unwind, ts_args_type = "dir: string")]
    pub fn export_bundle(&self, env: Env, dir: Unknown<'_>) -> Result<ExportBundleResult> {
        let js = Js(env.raw());
        let dir = js.str(dir.raw(), at("exportBundle", "dir"))?;
        let r = self.run(js, |t| t.export_bundle(std::path::Path::new(&dir)))?;
        Ok(ExportBundleResult {
            dir: r.dir.to_string_lossy().into_owned(),
            checkpoints: r.checkpoints as u32,
            final_models: r.final_models as u32,
            missing: r.missing.into_iter().map(BundleMissing::from).collect(),
            bytes: r.bytes as f64,
        })
    }

    /// Replaces the store's training data with a bundle's (`dir` is the bundle folder or its
    /// `bundle.json`); checkpoint and final-model paths then point into the bundle folder.
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
        let dir = js.str(dir.raw(), at("loadBundle", "dir"))?;
        let r = self.run(js, |t| t.load_bundle(std::path::Path::new(&dir)))?;
        Ok(LoadBundleResult {
            dir: r.dir.to_string_lossy().into_owned(),
            runs: r.runs as u32,
            checkpoints: r.checkpoints as u32,
            final_models: r.final_models as u32,
            missing: r.missing.into_iter().map(BundleMissing::from).collect(),
        })
    }
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
