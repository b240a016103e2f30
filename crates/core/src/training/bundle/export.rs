//! `exportBundle`.

use std::fs;
use std::path::{Path, PathBuf};

use super::manifest::{Manifest, SQLITE_FILE, WRITTEN_VERSION};
use super::names::{checkpoint_stem, safe_slug, Names};
use super::{sibling, Missing};
use crate::engine::{snapshot_to, Error, Result, Rows};
use crate::training::{js_string, truthy, Training};

/// What `exportBundle` wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportReport {
    /// The bundle folder (absolute).
    pub dir: PathBuf,
    /// Checkpoint files copied.
    pub checkpoints: usize,
    /// Final-model files copied.
    pub final_models: usize,
    /// Referenced files that are not in the bundle, and why.
    pub missing: Vec<Missing>,
    /// Bytes written (database copy plus files).
    pub bytes: u64,
}

impl Training<'_> {
    /// `exportBundle(dir)`: writes a bundle of the whole store into `dir`.
    ///
    /// `dir` may be missing, empty, or a previous bundle (replaced only once the new one is
    /// complete); a non-empty folder that is not a bundle is refused
    /// (`ERR_BUNDLE_DEST_NOT_EMPTY`) rather than overwritten.
    pub fn export_bundle(&self, dir: &Path) -> Result<ExportReport> {
        let target = std::path::absolute(dir).map_err(|e| Error::io("resolve", dir, e))?;
        check_destination(&target)?;
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(|e| Error::io("create folder", parent, e))?;
        }
        let tmp = sibling(&target, "tmp");
        fs::create_dir(&tmp).map_err(|e| Error::io("create folder", &tmp, e))?;
        let built = self.build(&tmp).and_then(|mut report| {
            swap_into_place(&tmp, &target)?;
            report.dir = target.clone();
            Ok(report)
        });
        if built.is_err() {
            // Best effort: the temporary folder is hidden and uniquely named, so a leftover
            // cannot be mistaken for a bundle.
            let _ = fs::remove_dir_all(&tmp);
        }
        built
    }

    fn build(&self, tmp: &Path) -> Result<ExportReport> {
        let db_copy = tmp.join(SQLITE_FILE);
        snapshot_to(self.conn(), &db_copy)?;
        let mut report = ExportReport {
            dir: tmp.to_path_buf(),
            checkpoints: 0,
            final_models: 0,
            missing: Vec::new(),
            bytes: file_len(&db_copy),
        };
        let mut manifest = Manifest {
            schema_version: WRITTEN_VERSION.into(),
            ..Manifest::default()
        };

        let ckpt_dir = tmp.join("checkpoints");
        fs::create_dir(&ckpt_dir).map_err(|e| Error::io("create folder", &ckpt_dir, e))?;
        let mut names = Names::default();
        let rows = self.all("SELECT ckpt_id, path FROM checkpoints ORDER BY rowid")?;
        for row in rows.iter() {
            let (id, path) = (js_string(&row[0]), &row[1]);
            let path_str = path_string(path);
            match copy_file(path, &ckpt_dir, || {
                names.claim_checkpoint(&checkpoint_stem(&id))
            }) {
                Ok((name, bytes)) => {
                    manifest
                        .checkpoints
                        .push((id, format!("checkpoints/{name}")));
                    report.checkpoints += 1;
                    report.bytes += bytes;
                }
                Err(reason) => report.missing.push(Missing {
                    kind: "checkpoint",
                    id,
                    path: path_str,
                    reason,
                }),
            }
        }

        let rows = self.all(
            "SELECT session_id, ckpt_path FROM session_final_models
             WHERE ckpt_path IS NOT NULL ORDER BY rowid",
        )?;
        let fm_dir = tmp.join("final_models");
        if !rows.is_empty() {
            fs::create_dir(&fm_dir).map_err(|e| Error::io("create folder", &fm_dir, e))?;
        }
        let mut names = Names::default();
        for row in rows.iter() {
            let (session, path) = (&row[0], &row[1]);
            let (id, path_str) = (js_string(session), path_string(path));
            if !truthy(session) {
                report.missing.push(Missing {
                    kind: "final_model",
                    id,
                    path: path_str,
                    reason: "no session id".into(),
                });
                continue;
            }
            match copy_file(path, &fm_dir, || names.claim_final_model(&safe_slug(&id))) {
                Ok((name, bytes)) => {
                    manifest
                        .final_models
                        .push((id, format!("final_models/{name}")));
                    report.final_models += 1;
                    report.bytes += bytes;
                }
                Err(reason) => report.missing.push(Missing {
                    kind: "final_model",
                    id,
                    path: path_str,
                    reason,
                }),
            }
        }

        let manifest_path = tmp.join("bundle.json");
        let text = manifest.to_json();
        write_synced(&manifest_path, text.as_bytes())?;
        report.bytes += text.len() as u64;
        Ok(report)
    }

    fn all(&self, sql: &str) -> Result<Rows> {
        Rows::query(self.conn(), sql, [])
    }
}

/// The path column as text (`""` for NULL).
fn path_string(v: &rusqlite::types::Value) -> String {
    if truthy(v) {
        js_string(v)
    } else {
        String::new()
    }
}

/// Copies the file recorded in `path` into `dir` under the name `name()` picks; the error is
/// the reason to report.
fn copy_file(
    path: &rusqlite::types::Value,
    dir: &Path,
    name: impl FnOnce() -> String,
) -> std::result::Result<(String, u64), String> {
    if !truthy(path) {
        return Err("no path recorded".into());
    }
    let src = PathBuf::from(js_string(path));
    let meta = fs::metadata(&src).map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    let name = name();
    let bytes = fs::copy(&src, dir.join(&name)).map_err(|e| format!("copy failed: {e}"))?;
    Ok((name, bytes))
}

fn file_len(p: &Path) -> u64 {
    fs::metadata(p).map_or(0, |m| m.len())
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f = fs::File::create(path).map_err(|e| Error::io("create", path, e))?;
    f.write_all(bytes)
        .map_err(|e| Error::io("write", path, e))?;
    f.sync_all().map_err(|e| Error::io("sync", path, e))
}

/// Refuses a destination that exists and holds something other than a bundle.
fn check_destination(target: &Path) -> Result<()> {
    let meta = match fs::symlink_metadata(target) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("inspect", target, e)),
    };
    if !meta.is_dir() {
        return Err(Error::bundle(
            "ERR_BUNDLE_DEST_NOT_EMPTY",
            format!("{} exists and is not a folder", target.display()),
        ));
    }
    let mut entries = fs::read_dir(target).map_err(|e| Error::io("read folder", target, e))?;
    if entries.next().is_some() && !target.join("bundle.json").is_file() {
        return Err(Error::bundle(
            "ERR_BUNDLE_DEST_NOT_EMPTY",
            format!(
                "{} is not empty and is not a bundle; choose an empty or new folder",
                target.display()
            ),
        ));
    }
    Ok(())
}

/// Moves the finished bundle at `tmp` to `target`, replacing a previous bundle there. Between
/// the two renames `target` does not exist, so it never holds a mix of old and new files.
fn swap_into_place(tmp: &Path, target: &Path) -> Result<()> {
    if fs::symlink_metadata(target).is_err() {
        return fs::rename(tmp, target).map_err(|e| Error::io("rename", target, e));
    }
    let old = sibling(target, "old");
    fs::rename(target, &old).map_err(|e| Error::io("rename", target, e))?;
    if let Err(e) = fs::rename(tmp, target) {
        let _ = fs::rename(&old, target);
        return Err(Error::io("rename", target, e));
    }
    // The previous bundle is already out of the way; failing to delete it loses nothing.
    let _ = fs::remove_dir_all(&old);
    Ok(())
}
