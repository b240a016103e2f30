//! `exportBundle`.

use std::fs;
use std::path::{Path, PathBuf};

use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};

use super::files::{copy_file, swap_into_place};
use super::manifest::{Manifest, SQLITE_FILE, WRITTEN_VERSION};
use super::names::{checkpoint_stem, safe_slug, Names};
use super::progress::{Meter, Phase, Sink};
use super::{archive, Missing};
use crate::engine::backup::snapshot;
use crate::engine::scratch::{remove_stale_siblings, sibling};
use crate::engine::{Error, Result, Rows};
use crate::training::{js_string, truthy, Training};

/// Options of [`export`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportOptions {
    /// Also write the bundle as the single file `<dir>.tar`.
    pub archive: bool,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportReport {
    /// The bundle folder (absolute).
    pub dir: PathBuf,
    /// The `.tar` form, when requested.
    pub archive: Option<PathBuf>,
    /// Checkpoint files copied.
    pub checkpoints: usize,
    /// Final-model files copied.
    pub final_models: usize,
    /// Referenced files that are not in the bundle, and why.
    pub missing: Vec<Missing>,
    /// Bytes written into the bundle folder (database copy, files, manifest).
    pub bytes: u64,
}

impl Training<'_> {
    /// `exportBundle(dir)`: see [`export`].
    pub fn export_bundle(
        &self,
        dir: &Path,
        options: ExportOptions,
        sink: Sink<'_>,
    ) -> Result<ExportReport> {
        export(self.db.path(), dir, options, sink)
    }
}

/// Writes a bundle of the training store in the database file `db_path` into `dir`.
///
/// The database is copied on a connection of its own as one consistent snapshot, so writes to
/// the store may continue meanwhile; the checkpoint and final-model files are those the snapshot
/// references. The bundle is built in a hidden sibling folder and moved into place at the end:
/// `dir` holds either its previous content or the complete new bundle. `dir` may be missing,
/// empty or a previous bundle; any other non-empty folder is refused
/// (`ERR_BUNDLE_DEST_NOT_EMPTY`). Files that are missing or unreadable are reported in
/// `missing`, not fatal.
pub fn export(
    db_path: &Path,
    dir: &Path,
    options: ExportOptions,
    sink: Sink<'_>,
) -> Result<ExportReport> {
    crate::engine::in_a_file(db_path, "exporting a bundle")?;
    let target = std::path::absolute(dir).map_err(|e| Error::io("resolve", dir, e))?;
    check_destination(&target)?;
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent).map_err(|e| Error::io("create folder", parent, e))?;
    }
    remove_stale_siblings(&target);
    let mut meter = Meter::new(sink);
    let tmp = sibling(&target, "tmp");
    fs::create_dir(&tmp).map_err(|e| Error::io("create folder", &tmp, e))?;
    let archive_path = options.archive.then(|| {
        let mut p = target.clone().into_os_string();
        p.push(".tar");
        PathBuf::from(p)
    });
    let tar_tmp = archive_path.as_ref().map(|p| {
        remove_stale_siblings(p);
        sibling(p, "tmp")
    });
    let result = build(db_path, &tmp, &mut meter, options.archive).and_then(|mut report| {
        if let (Some(tar_tmp), Some(name)) = (&tar_tmp, target.file_name()) {
            meter.phase(Phase::Archive)?;
            archive::write(&tmp, &name.to_string_lossy(), tar_tmp, &mut meter)?;
        }
        swap_into_place(&tmp, &target)?;
        if let (Some(tar_tmp), Some(archive_path)) = (&tar_tmp, &archive_path) {
            fs::rename(tar_tmp, archive_path).map_err(|e| Error::io("rename", archive_path, e))?;
        }
        meter.phase(Phase::Done)?;
        report.dir = target.clone();
        report.archive = archive_path.clone();
        Ok(report)
    });
    if result.is_err() {
        // Our own hidden, uniquely named work files: removing them is cleanup.
        let _ = fs::remove_dir_all(&tmp);
        if let Some(t) = &tar_tmp {
            let _ = fs::remove_file(t);
        }
    }
    result
}

/// A file the bundle should contain: where it is, or why it cannot be copied.
struct Planned {
    id: String,
    recorded: String,
    source: std::result::Result<(PathBuf, u64), String>,
}

fn plan(rows: &Rows) -> Vec<Planned> {
    rows.iter()
        .map(|row| {
            let (id, path) = (js_string(&row[0]), &row[1]);
            let recorded = if truthy(path) {
                js_string(path)
            } else {
                String::new()
            };
            let source = locate(&row[0], path);
            Planned {
                id,
                recorded,
                source,
            }
        })
        .collect()
}

fn locate(id: &Value, path: &Value) -> std::result::Result<(PathBuf, u64), String> {
    if !truthy(id) {
        return Err("no id recorded".into());
    }
    if !truthy(path) {
        return Err("no path recorded".into());
    }
    let src = PathBuf::from(js_string(path));
    let meta = fs::metadata(&src).map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    Ok((src, meta.len()))
}

fn build(db_path: &Path, tmp: &Path, meter: &mut Meter<'_>, archive: bool) -> Result<ExportReport> {
    let db_copy = tmp.join(SQLITE_FILE);
    meter.add_total(fs::metadata(db_path).map_or(0, |m| m.len()));
    meter.phase(Phase::Snapshot)?;
    let mut copied = 0;
    let db_bytes = snapshot(db_path, &db_copy, &mut |done, _| {
        let step = done.saturating_sub(copied);
        copied = done;
        meter.advance(step, db_path)
    })?;

    let copy = Connection::open_with_flags(
        &db_copy,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let checkpoints = plan(&Rows::query(
        &copy,
        "SELECT ckpt_id, path FROM checkpoints ORDER BY rowid",
        [],
    )?);
    let finals = plan(&Rows::query(
        &copy,
        "SELECT session_id, ckpt_path FROM session_final_models WHERE ckpt_path IS NOT NULL ORDER BY rowid",
        [],
    )?);
    drop(copy);
    let files: u64 = checkpoints
        .iter()
        .chain(&finals)
        .filter_map(|p| p.source.as_ref().ok())
        .map(|(_, len)| len)
        .sum();
    meter.add_total(files);
    if archive {
        meter.add_total(db_bytes + files);
    }

    let mut report = ExportReport {
        dir: tmp.to_path_buf(),
        archive: None,
        checkpoints: 0,
        final_models: 0,
        missing: Vec::new(),
        bytes: db_bytes,
    };
    let mut manifest = Manifest {
        schema_version: WRITTEN_VERSION.into(),
        ..Manifest::default()
    };
    meter.phase(Phase::Checkpoints)?;
    let dir = tmp.join("checkpoints");
    fs::create_dir(&dir).map_err(|e| Error::io("create folder", &dir, e))?;
    let mut names = Names::default();
    for p in checkpoints {
        let name = names.claim_checkpoint(&checkpoint_stem(&p.id));
        if let Some(bytes) = copy_planned(&p, &dir.join(&name), "checkpoint", &mut report, meter)? {
            manifest
                .checkpoints
                .push((p.id, format!("checkpoints/{name}")));
            report.checkpoints += 1;
            report.bytes += bytes;
        }
    }
    if !finals.is_empty() {
        meter.phase(Phase::FinalModels)?;
        let dir = tmp.join("final_models");
        fs::create_dir(&dir).map_err(|e| Error::io("create folder", &dir, e))?;
        let mut names = Names::default();
        for p in finals {
            let name = names.claim_final_model(&safe_slug(&p.id));
            if let Some(bytes) =
                copy_planned(&p, &dir.join(&name), "final_model", &mut report, meter)?
            {
                manifest
                    .final_models
                    .push((p.id, format!("final_models/{name}")));
                report.final_models += 1;
                report.bytes += bytes;
            }
        }
    }
    let text = manifest.to_json();
    let manifest_path = tmp.join("bundle.json");
    fs::write(&manifest_path, &text).map_err(|e| Error::io("write", &manifest_path, e))?;
    report.bytes += text.len() as u64;
    Ok(report)
}

/// Copies a planned file to `dst`; a file that cannot be read is recorded in `missing` (an error
/// writing the bundle, or a cancellation, is returned).
fn copy_planned(
    p: &Planned,
    dst: &Path,
    kind: &'static str,
    report: &mut ExportReport,
    meter: &mut Meter<'_>,
) -> Result<Option<u64>> {
    let missing = |reason: String| Missing {
        kind,
        id: p.id.clone(),
        path: p.recorded.clone(),
        reason,
    };
    let src = match &p.source {
        Ok((src, _)) => src,
        Err(reason) => {
            report.missing.push(missing(reason.clone()));
            return Ok(None);
        }
    };
    match copy_file(src, dst, meter) {
        Ok(bytes) => Ok(Some(bytes)),
        // The source vanished or became unreadable since it was planned: report it.
        Err(Error::Io {
            op: "open", source, ..
        }) => {
            report
                .missing
                .push(missing(format!("cannot read: {source}")));
            Ok(None)
        }
        Err(other) => Err(other),
    }
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
