//! File operations of bundles: chunked kernel copies, and moving a finished folder into place.

use std::fs;
use std::io::{self, Read};
use std::path::Path;

use super::progress::{Meter, REPORT_EVERY};
use crate::engine::scratch::sibling;
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
}
