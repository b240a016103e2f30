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
//! Export builds the folder under a temporary name beside `<dir>` and moves it into place, so
//! `<dir>` never holds a partial bundle; `<dir>.tar` is the optional single-file form. Load
//! validates everything (manifest, paths, database; every archive entry) on a private copy
//! before it replaces the store's training tables in one transaction. Both report progress.

mod archive;
mod export;
mod files;
mod load;
pub mod manifest;
pub mod names;
pub mod paths;
pub mod progress;

pub use export::{export, ExportOptions, ExportReport};
pub use load::{load_into_file, LoadReport};
pub use progress::{Phase, Progress, Sink};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Database, Error, OpenOptions, Result};
    use crate::training::{FinalModelInput, MetricInput};
    use rusqlite::types::Value;
    use std::fs;
    use std::path::{Path, PathBuf};

    fn quiet(_: &Progress) -> Result<()> {
        Ok(())
    }

    fn export_bundle_quiet(t: &crate::training::Training<'_>, dir: &Path) -> Result<ExportReport> {
        t.export_bundle(dir, ExportOptions::default(), &mut quiet)
    }

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
                (t.to_string(), rows.iter().flatten().collect())
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
        let report =
            src.training()?
                .export_bundle(&bundle, ExportOptions::default(), &mut quiet)?;
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
        let loaded = dst
            .training()?
            .load_bundle(&bundle.join("bundle.json"), &mut quiet)?;
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
            export_bundle_quiet(&t, &foreign).unwrap_err().code(),
            "ERR_BUNDLE_DEST_NOT_EMPTY"
        );
        assert_eq!(
            fs::read_to_string(foreign.join("thesis.tex")).unwrap(),
            "keep me"
        );

        let bundle = tmp.path().join("b");
        t.export_bundle(&bundle, ExportOptions::default(), &mut quiet)?;
        fs::write(bundle.join("stale.txt"), "old").unwrap();
        t.export_bundle(&bundle, ExportOptions::default(), &mut quiet)?;
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
    fn a_store_in_memory_is_neither_exported_nor_loaded_on_another_connection() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("bundle");
        for db in [Path::new(":memory:"), Path::new("")] {
            let err = export(db, &dir, ExportOptions::default(), &mut quiet).unwrap_err();
            assert_eq!(err.code(), "ERR_INVALID_ARG", "{err}");
            let err = load_into_file(db, &dir, &mut quiet).unwrap_err();
            assert_eq!(err.code(), "ERR_INVALID_ARG", "{err}");
        }
        assert!(!dir.exists());
    }

    #[test]
    fn hostile_or_broken_bundles_leave_the_store_as_it_was() -> Result<()> {
        let tmp = tempfile::tempdir().unwrap();
        let db = populated(tmp.path());
        let bundle = tmp.path().join("b");
        db.training()?
            .export_bundle(&bundle, ExportOptions::default(), &mut quiet)?;
        let live = open(&tmp.path().join("victim"));
        live.training()?.insert_run("mine", None, None, &[])?;
        let before = dump(&live);
        let attempt = |manifest: &str| {
            fs::write(bundle.join("bundle.json"), manifest).unwrap();
            live.training()
                .unwrap()
                .load_bundle(&bundle, &mut quiet)
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
                .load_bundle(&tmp.path().join("nope"), &mut quiet)
                .unwrap_err()
                .code(),
            "ERR_BUNDLE_NOT_FOUND"
        );
        assert_eq!(dump(&live), before);
        live.training()?
            .insert_run("still-writable", None, None, &[])?;
        Ok(())
    }

    #[test]
    fn progress_reports_every_phase_in_order_with_growing_counts() -> Result<()> {
        let tmp = tempfile::tempdir().unwrap();
        let src = populated(tmp.path());
        let mut events: Vec<Progress> = Vec::new();
        let mut sink = |p: &Progress| {
            events.push(p.clone());
            Ok(())
        };
        let bundle = tmp.path().join("b");
        let report =
            src.training()?
                .export_bundle(&bundle, ExportOptions { archive: true }, &mut sink)?;
        let phases: Vec<_> = events.iter().map(|e| e.phase.name()).collect();
        let mut distinct = phases.clone();
        distinct.dedup();
        assert_eq!(
            distinct,
            ["snapshot", "checkpoints", "final_models", "archive", "done"]
        );
        assert!(events
            .windows(2)
            .all(|w| w[0].bytes_done <= w[1].bytes_done));
        let last = events.last().unwrap();
        assert_eq!(last.bytes_done, last.bytes_total);
        assert!(report.archive.as_ref().is_some_and(|a| a.is_file()));

        let mut events: Vec<Progress> = Vec::new();
        let mut sink = |p: &Progress| {
            events.push(p.clone());
            Ok(())
        };
        let dst = open(&tmp.path().join("dst"));
        dst.training()?.load_bundle(&bundle, &mut sink)?;
        let mut phases: Vec<_> = events.iter().map(|e| e.phase.name()).collect();
        phases.dedup();
        assert_eq!(phases, ["copy", "validate", "migrate", "replace", "done"]);
        Ok(())
    }

    #[test]
    fn a_cancelled_export_leaves_no_bundle_and_no_work_files() -> Result<()> {
        let tmp = tempfile::tempdir().unwrap();
        let src = populated(tmp.path());
        let bundle = tmp.path().join("out").join("b");
        let mut calls = 0;
        let mut sink = |p: &Progress| {
            calls += 1;
            if p.phase == Phase::Checkpoints {
                return Err(Error::InvalidArg("stop".into()));
            }
            Ok(())
        };
        let err = src
            .training()?
            .export_bundle(&bundle, ExportOptions { archive: true }, &mut sink)
            .unwrap_err();
        assert_eq!(err.code(), "ERR_INVALID_ARG");
        assert!(calls >= 2);
        assert_eq!(fs::read_dir(tmp.path().join("out")).unwrap().count(), 0);
        Ok(())
    }

    #[test]
    fn the_tar_form_loads_like_the_folder() -> Result<()> {
        let tmp = tempfile::tempdir().unwrap();
        let src = populated(tmp.path());
        let bundle = tmp.path().join("ship").join("onthefly_bundle");
        let report =
            src.training()?
                .export_bundle(&bundle, ExportOptions { archive: true }, &mut quiet)?;
        let tar = report.archive.unwrap();
        assert_eq!(tar, tmp.path().join("ship").join("onthefly_bundle.tar"));
        let elsewhere = tmp.path().join("inbox");
        fs::create_dir(&elsewhere).unwrap();
        fs::copy(&tar, elsewhere.join("shared.tar")).unwrap();
        let dst = open(&tmp.path().join("dst"));
        let loaded = dst
            .training()?
            .load_bundle(&elsewhere.join("shared.tar"), &mut quiet)?;
        assert_eq!(
            loaded.dir,
            elsewhere
                .join("shared")
                .join("onthefly_bundle")
                .canonicalize()
                .unwrap()
        );
        assert_eq!(dump(&dst), dump(&src));
        assert!(loaded.missing.is_empty());
        Ok(())
    }

    /// A hostile archive entry: label, raw name, type, link target.
    type RawEntry<'a> = (&'a str, &'a [u8], tar::EntryType, Option<&'a [u8]>);

    /// A tar with one entry whose name and type are written raw (as a hostile tool would).
    fn hostile_tar(path: &Path, name: &[u8], kind: tar::EntryType, link: Option<&[u8]>) {
        let mut b = tar::Builder::new(fs::File::create(path).unwrap());
        let mut ok = tar::Header::new_gnu();
        ok.set_path("b/bundle.json").unwrap();
        ok.set_size(2);
        ok.set_cksum();
        b.append(&ok, &b"{}"[..]).unwrap();
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        if let Some(link) = link {
            h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
        }
        h.set_entry_type(kind);
        h.set_size(if kind == tar::EntryType::Regular {
            1
        } else {
            0
        });
        h.set_mode(0o644);
        h.set_cksum();
        let data: &[u8] = if kind == tar::EntryType::Regular {
            b"x"
        } else {
            b""
        };
        b.append(&h, data).unwrap();
        b.finish().unwrap();
    }

    #[test]
    fn hostile_archives_are_refused_before_anything_lands_outside() -> Result<()> {
        let tmp = tempfile::tempdir().unwrap();
        let live = open(&tmp.path().join("live"));
        live.training()?.insert_run("mine", None, None, &[])?;
        let before = dump(&live);
        let inbox = tmp.path().join("inbox");
        fs::create_dir(&inbox).unwrap();
        let cases: [RawEntry<'_>; 5] = [
            (
                "dotdot",
                b"b/../../escaped.txt",
                tar::EntryType::Regular,
                None,
            ),
            (
                "absolute",
                b"/tmp/stowage-absolute-escape.txt",
                tar::EntryType::Regular,
                None,
            ),
            (
                "symlink",
                b"b/checkpoints/x.pt",
                tar::EntryType::Symlink,
                Some(b"/etc/passwd"),
            ),
            (
                "hardlink",
                b"b/checkpoints/y.pt",
                tar::EntryType::Link,
                Some(b"/etc/passwd"),
            ),
            ("fifo", b"b/pipe", tar::EntryType::Fifo, None),
        ];
        for (label, name, kind, link) in cases {
            let tar = inbox.join(format!("{label}.tar"));
            hostile_tar(&tar, name, kind, link);
            let err = live.training()?.load_bundle(&tar, &mut quiet).unwrap_err();
            assert_eq!(err.code(), "ERR_BUNDLE_PATH", "{label}: {err}");
            assert!(
                !inbox.join(label).exists(),
                "{label}: extraction left behind"
            );
        }
        assert!(!tmp.path().join("escaped.txt").exists());
        assert!(!Path::new("/tmp/stowage-absolute-escape.txt").exists());
        let entries: Vec<_> = fs::read_dir(&inbox)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(entries.len(), 5, "{entries:?}");
        assert_eq!(dump(&live), before);
        Ok(())
    }
}
