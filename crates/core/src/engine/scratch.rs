//! Hidden work files beside the file they are for, and the removal of those that a process
//! killed mid-operation left behind.
//!
//! Every work file is named `.<target's name>.stowage-<tag>-<pid>-<ms>-<seq>…`: hidden, in the
//! target's folder (so a rename or link to the target stays on one file system), and marked with
//! the process that made it. A later operation removes those whose process no longer runs.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A hidden sibling of `target`, unique to this process and moment:
/// `.<name>.stowage-<tag>-<pid>-<ms>-<seq>`.
pub(crate) fn sibling(target: &Path, tag: &str) -> PathBuf {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let unique = format!(
        "{}{tag}-{}-{}-{}",
        sibling_prefix(target),
        std::process::id(),
        super::now_ms(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    target.with_file_name(unique)
}

fn sibling_prefix(target: &Path) -> String {
    let name = target
        .file_name()
        .map_or_else(|| "bundle".into(), |n| n.to_string_lossy().into_owned());
    format!(".{name}.stowage-")
}

/// Removes the hidden siblings of `target` (any tag) left by processes no longer running.
pub(crate) fn remove_stale_siblings(target: &Path) {
    let prefix = sibling_prefix(target);
    if let Some(dir) = target.parent() {
        remove_stale(dir, |name| {
            name.strip_prefix(&prefix)?.split('-').nth(1)?.parse().ok()
        });
    }
}

/// Removes the hidden work files tagged `tag` of any file in `dir` left by processes no longer
/// running (a backup's work files are named after a target that never came to exist).
pub(crate) fn remove_stale_tagged(dir: &Path, tag: &str) {
    let marker = format!(".stowage-{tag}-");
    remove_stale(dir, |name| {
        let (_, rest) = name.strip_prefix('.')?.split_once(&marker)?;
        rest.split('-').next()?.parse().ok()
    });
}

/// Removes each entry of `dir` whose name `owner` maps to a process id that is not running and
/// is not this process. Only Linux can tell (`/proc`); elsewhere nothing is removed.
fn remove_stale(dir: &Path, owner: impl Fn(&str) -> Option<u32>) {
    #[cfg(target_os = "linux")]
    {
        let Ok(entries) = fs::read_dir(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        }) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if owner(&name).is_some_and(|pid| {
                pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists()
            }) {
                // Leftovers of a dead process: removing them is cleanup, failing to is harmless.
                let _ = fs::remove_dir_all(entry.path()).or_else(|_| fs::remove_file(entry.path()));
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (dir, owner);
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn leftovers_of_dead_processes_are_removed_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("b");
        let dead = dir.path().join(".b.stowage-tmp-999999999-1-0");
        let mine = sibling(&target, "tmp");
        fs::create_dir(&dead).unwrap();
        fs::create_dir(&mine).unwrap();
        fs::write(dir.path().join(".other.stowage-tmp-999999999-1-0"), "").unwrap();
        remove_stale_siblings(&target);
        assert!(!dead.exists());
        assert!(mine.exists());
        assert!(dir.path().join(".other.stowage-tmp-999999999-1-0").exists());
    }

    #[test]
    fn a_tags_leftovers_of_any_name_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        for n in [
            ".x.sqlite.stowage-backup-999999999-5-0.sqlite",
            ".x.sqlite.stowage-backup-999999999-5-0.sqlite-journal",
            ".y.gz.stowage-backup-999999999-6-1.gz",
            ".y.gz.stowage-tmp-999999999-6-1",
            ".notes.999999999-1.sqlite",
            "z.stowage-backup-999999999-1-1",
        ] {
            fs::write(p(n), "").unwrap();
        }
        let mine = sibling(&p("live.sqlite"), "backup");
        fs::write(&mine, "").unwrap();
        remove_stale_tagged(dir.path(), "backup");
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        let mut expected = vec![
            ".notes.999999999-1.sqlite".to_string(),
            ".y.gz.stowage-tmp-999999999-6-1".to_string(),
            mine.file_name().unwrap().to_string_lossy().into_owned(),
            "z.stowage-backup-999999999-1-1".to_string(),
        ];
        expected.sort();
        assert_eq!(left, expected);
    }
}
