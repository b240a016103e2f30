//! Portable bundles: a folder with a single-file copy of the database, the checkpoint and final
//! model files it references, and `bundle.json` mapping ids to those files.
//!
//! Layout (the original's, manifest `1.1`):
//! ```text
//! <dir>/runs.sqlite           single-file copy, journal_mode=DELETE
//! <dir>/checkpoints/<name>.pt one per checkpoint whose file exists
//! <dir>/final_models/<slug>-final.pt
//! <dir>/bundle.json
//! ```
//! Export builds the folder under a temporary name beside `<dir>` and renames it into place, so
//! `<dir>` never holds a partial bundle. Load validates everything (manifest, paths, database)
//! on a private copy before it replaces the store's training tables in one transaction.

mod export;
mod load;
pub mod manifest;
pub mod names;
pub mod paths;

use std::path::{Path, PathBuf};

pub use export::ExportReport;
pub use load::LoadReport;

/// A file the bundle references that could not be copied or found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// `checkpoint` or `final_model`.
    pub kind: &'static str,
    /// The checkpoint or session id.
    pub id: String,
    /// The path as recorded.
    pub path: String,
    /// Why it is not in the bundle.
    pub reason: String,
}

/// A sibling of `target` that is hidden and unique to this process and moment.
fn sibling(target: &Path, tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bundle".into());
    let unique = format!(
        ".{name}.stowage-{tag}-{}-{}-{}",
        std::process::id(),
        crate::engine::now_ms(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    target.with_file_name(unique)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Database, OpenOptions, Result};
    use crate::training::{FinalModelInput, MetricInput};
    use rusqlite::types::Value;
    use std::fs;

    fn open(dir: &Path) -> Database {
        fs::create_dir_all(dir).unwrap();
        Database::open(&dir.join("runs.sqlite"), &OpenOptions::default()).unwrap()
    }

    /// Every row of every training table, for comparing two stores.
    fn dump(db: &Database) -> Vec<(String, Vec<Value>)> {
        let tables = [
            "runs",
            "run_edges",
            "metrics",
            "logs",
            "summaries",
            "kv",
            "run_subsets",
            "test_metrics",
            "report_loss_dist",
        ];
        tables
            .iter()
            .map(|t| {
                let rows = crate::engine::Rows::query(
                    db.conn(),
                    &format!("SELECT * FROM {t} ORDER BY rowid"),
                    [],
                )
                .unwrap();
                (t.to_string(), rows.values)
            })
            .collect()
    }

    fn populated(root: &Path) -> Database {
        let db = open(&root.join("live"));
        let t = db.training().unwrap();
        let ckpt = root.join("ckpt-src");
        fs::create_dir_all(&ckpt).unwrap();
        fs::write(ckpt.join("a.pt"), b"weights-a").unwrap();
        fs::write(ckpt.join("m.pt"), b"final").unwrap();
        t.insert_run("base", Some("p"), Some("base"), &[]).unwrap();
        t.insert_run("fork1", Some("p"), Some("fork1"), &["base".into()])
            .unwrap();
        t.insert_metric(
            "base",
            &MetricInput {
                step: Some(1.0),
                loss: Some(0.5),
                ..Default::default()
            },
        )
        .unwrap();
        let a = ckpt.join("a.pt");
        t.insert_checkpoint("base:1:100", Some("base"), Some(1.0), a.to_str())
            .unwrap();
        t.insert_checkpoint(
            "base:2:ring",
            Some("base"),
            Some(2.0),
            Some("/nonexistent/x.pt"),
        )
        .unwrap();
        t.upsert_final_model(&FinalModelInput {
            session_id: "sess-ABC".into(),
            run_id: Some("base".into()),
            ckpt_path: ckpt.join("m.pt").to_str().map(Into::into),
            step: Some(1.0),
            avg_test_loss: None,
        })
        .unwrap();
        db
    }

    #[test]
    fn export_then_load_reproduces_the_store_and_points_into_the_bundle() -> Result<()> {
        let tmp = tempfile::tempdir().unwrap();
        let src = populated(tmp.path());
        let bundle = tmp.path().join("out/bundle");
        let report = src.training()?.export_bundle(&bundle)?;
        assert_eq!((report.checkpoints, report.final_models), (1, 1));
        assert_eq!(report.missing.len(), 1);
        assert_eq!(report.missing[0].id, "base:2:ring");
        assert!(bundle.join("checkpoints/base_1_100.pt").is_file());
        assert!(bundle.join("final_models/sess-abc-final.pt").is_file());
        let manifest =
            manifest::Manifest::parse(&fs::read_to_string(bundle.join("bundle.json")).unwrap())?;
        assert_eq!(
            manifest.checkpoints,
            [(
                "base:1:100".to_string(),
                "checkpoints/base_1_100.pt".to_string()
            )]
        );
        assert!(!bundle.join("runs.sqlite-wal").exists());

        let dst = open(&tmp.path().join("other"));
        dst.training()?
            .insert_run("to-be-replaced", None, None, &[])?;
        let loaded = dst.training()?.load_bundle(&bundle.join("bundle.json"))?;
        assert_eq!(loaded.runs, 2);
        assert_eq!(dump(&dst), dump(&src));
        let latest = dst.training()?.latest_checkpoint_for_run("base")?.unwrap();
        assert_eq!(latest.step, 2.0);
        let path: String = dst.conn().query_row(
            "SELECT path FROM checkpoints WHERE ckpt_id = 'base:1:100'",
            [],
            |r| r.get(0),
        )?;
        assert_eq!(
            PathBuf::from(path),
            bundle
                .canonicalize()
                .unwrap()
                .join("checkpoints")
                .join("base_1_100.pt")
        );
        Ok(())
    }

    #[test]
    fn export_refuses_a_folder_that_is_not_a_bundle_and_replaces_one_that_is() -> Result<()> {
        let tmp = tempfile::tempdir().unwrap();
        let db = populated(tmp.path());
        let t = db.training()?;
        let foreign = tmp.path().join("docs");
        fs::create_dir(&foreign).unwrap();
        fs::write(foreign.join("thesis.tex"), "keep me").unwrap();
        assert_eq!(
            t.export_bundle(&foreign).unwrap_err().code(),
            "ERR_BUNDLE_DEST_NOT_EMPTY"
        );
        assert_eq!(
            fs::read_to_string(foreign.join("thesis.tex")).unwrap(),
            "keep me"
        );

        let bundle = tmp.path().join("b");
        t.export_bundle(&bundle)?;
        fs::write(bundle.join("stale.txt"), "old").unwrap();
        t.export_bundle(&bundle)?;
        assert!(!bundle.join("stale.txt").exists());
        let leftovers: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains("stowage-"))
            .collect();
        assert!(leftovers.is_empty());
        Ok(())
    }

    #[test]
    fn hostile_or_broken_bundles_leave_the_store_as_it_was() -> Result<()> {
        let tmp = tempfile::tempdir().unwrap();
        let db = populated(tmp.path());
        let bundle = tmp.path().join("b");
        db.training()?.export_bundle(&bundle)?;
        let live = open(&tmp.path().join("victim"));
        live.training()?.insert_run("mine", None, None, &[])?;
        let before = dump(&live);
        let attempt = |manifest: &str| {
            fs::write(bundle.join("bundle.json"), manifest).unwrap();
            live.training()
                .unwrap()
                .load_bundle(&bundle)
                .unwrap_err()
                .code()
        };
        assert_eq!(
            attempt(r#"{"schema_version":"1.1","checkpoints":{"x":"/etc/passwd"}}"#),
            "ERR_BUNDLE_PATH"
        );
        assert_eq!(
            attempt(r#"{"schema_version":"1.1","checkpoints":{"x":"../../x.pt"}}"#),
            "ERR_BUNDLE_PATH"
        );
        assert_eq!(
            attempt(r#"{"schema_version":"1.1","final_models":{"s":7}}"#),
            "ERR_BUNDLE_MANIFEST"
        );
        assert_eq!(attempt("[]"), "ERR_BUNDLE_MANIFEST");
        assert_eq!(attempt(r#"{"schema_version":"3.0"}"#), "ERR_BUNDLE_VERSION");
        fs::write(bundle.join("runs.sqlite"), vec![7u8; 8192]).unwrap();
        assert_eq!(attempt(r#"{"schema_version":"1.1"}"#), "ERR_BUNDLE_SQLITE");
        fs::remove_file(bundle.join("runs.sqlite")).unwrap();
        assert_eq!(attempt(r#"{"schema_version":"1.1"}"#), "ERR_BUNDLE_SQLITE");
        let other = rusqlite::Connection::open(bundle.join("runs.sqlite"))?;
        other.execute_batch("CREATE TABLE notes(x)")?;
        drop(other);
        assert_eq!(attempt(r#"{"schema_version":"1.1"}"#), "ERR_BUNDLE_SQLITE");
        assert_eq!(
            live.training()?
                .load_bundle(&tmp.path().join("nope"))
                .unwrap_err()
                .code(),
            "ERR_BUNDLE_NOT_FOUND"
        );
        assert_eq!(dump(&live), before);
        live.training()?
            .insert_run("still-writable", None, None, &[])?;
        Ok(())
    }
}
