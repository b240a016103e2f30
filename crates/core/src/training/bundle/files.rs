//! File operations of bundles: chunked kernel copies, and moving a finished folder into place.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::progress::{Meter, REPORT_EVERY};
use crate::engine::{Error, Result};

/// Copies `src` to the new file `dst` in [`REPORT_EVERY`]-sized chunks, reporting each to
/// `meter`. Each chunk is copied by the kernel where it can (`copy_file_range`, which reflinks
/// on file systems that support it); the data never passes through a user-space buffer there.
pub(crate) fn copy_file(src: &Path, dst: &Path, meter: &mut Meter<'_>) -> Result<u64> {
    let mut from = fs::File::open(src).map_err(|e| Error::io("open", src, e))?;
    let mut to = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dst)
        .map_err(|e| Error::io("create", dst, e))?;
    let mut total = 0;
    loop {
        let n = io::copy(&mut (&mut from).take(REPORT_EVERY), &mut to)
            .map_err(|e| Error::io("copy", src, e))?;
        if n == 0 {
            return Ok(total);
        }
        total += n;
        meter.advance(n, src)?;
    }
}

/// A hidden sibling of `target`, unique to this process and moment:
/// `.<name>.stowage-<tag>-<pid>-<ms>-<seq>`.
pub(crate) fn sibling(target: &Path, tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let unique = format!(
        "{}{tag}-{}-{}-{}",
        sibling_prefix(target),
        std::process::id(),
        crate::engine::now_ms(),
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

/// Removes the hidden siblings of `target` left by a process that was killed mid-operation
/// (their process id is no longer running). Only Linux can tell; elsewhere nothing is removed.
pub(crate) fn remove_stale_siblings(target: &Path) {
    #[cfg(target_os = "linux")]
    {
        let (Some(parent), prefix) = (target.parent(), sibling_prefix(target)) else {
            return;
        };
        let Ok(entries) = fs::read_dir(parent) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(rest) = name.strip_prefix(&prefix) else {
                continue;
            };
            let pid = rest.split('-').nth(1).and_then(|p| p.parse::<u32>().ok());
            if pid.is_some_and(|pid| {
                pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists()
            }) {
                // Leftovers of a dead process: removing them is cleanup, failing to is harmless.
                let _ = fs::remove_dir_all(entry.path()).or_else(|_| fs::remove_file(entry.path()));
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = target;
}

/// Moves the finished folder `tmp` to `target`, replacing what is there (a previous bundle, or an
/// empty folder). On Linux the two are exchanged atomically (`renameat2(RENAME_EXCHANGE)`), so at
/// every instant `target` is either the old or the new bundle; elsewhere `target` is first moved
/// aside, so a crash in between leaves no bundle at `target` rather than a mixed one.
pub(crate) fn swap_into_place(tmp: &Path, target: &Path) -> Result<()> {
    if fs::symlink_metadata(target).is_err() {
        return fs::rename(tmp, target).map_err(|e| Error::io("rename", target, e));
    }
    #[cfg(target_os = "linux")]
    if exchange(tmp, target).is_ok() {
        // `tmp` now holds the previous bundle.
        let _ = fs::remove_dir_all(tmp);
        return Ok(());
    }
    let old = sibling(target, "old");
    fs::rename(target, &old).map_err(|e| Error::io("rename", target, e))?;
    if let Err(e) = fs::rename(tmp, target) {
        let _ = fs::rename(&old, target);
        return Err(Error::io("rename", target, e));
    }
    // The previous bundle is out of the way; failing to delete it loses nothing.
    let _ = fs::remove_dir_all(&old);
    Ok(())
}

/// `renameat2(a, b, RENAME_EXCHANGE)` through the raw system call, so the binary needs no newer
/// glibc than the wrapper-less floor; fails on kernels or file systems without it.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let a = CString::new(a.as_os_str().as_bytes())?;
    let b = CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: both paths are NUL-terminated strings that outlive the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training::bundle::progress::Progress;

    #[test]
    fn copies_in_chunks_with_a_report_per_chunk() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("big.bin");
        let len = REPORT_EVERY * 2 + 12345;
        let f = fs::File::create(&src).unwrap();
        f.set_len(len).unwrap();
        drop(f);
        let mut events: Vec<Progress> = Vec::new();
        let mut sink = |p: &Progress| {
            events.push(p.clone());
            Ok(())
        };
        let n = {
            let mut meter = Meter::new(&mut sink);
            let n = copy_file(&src, &dir.path().join("copy.bin"), &mut meter)?;
            let again = copy_file(&src, &dir.path().join("copy.bin"), &mut meter);
            assert!(again.is_err(), "never overwrites");
            n
        };
        assert_eq!(n, len);
        assert_eq!(
            fs::metadata(dir.path().join("copy.bin")).unwrap().len(),
            len
        );
        assert_eq!(
            events.iter().map(|e| e.bytes_done).collect::<Vec<_>>(),
            [REPORT_EVERY, 2 * REPORT_EVERY]
        );
        Ok(())
    }

    #[test]
    fn swapping_replaces_the_target_and_leaves_nothing_behind() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("bundle");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("old.txt"), "old").unwrap();
        let tmp = sibling(&target, "tmp");
        fs::create_dir(&tmp).unwrap();
        fs::write(tmp.join("new.txt"), "new").unwrap();
        swap_into_place(&tmp, &target)?;
        assert_eq!(fs::read_to_string(target.join("new.txt")).unwrap(), "new");
        assert!(!target.join("old.txt").exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        Ok(())
    }

    #[cfg(target_os = "linux")]
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
}
