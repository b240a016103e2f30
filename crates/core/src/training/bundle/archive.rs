//! The single-file form of a bundle: a tar archive of the bundle folder.
//!
//! Written archives hold one top-level folder named after the bundle, so `tar xf` gives the
//! bundle folder. Loading extracts into a new folder beside the archive after checking every
//! entry: only regular files and folders, relative paths that stay inside after normalisation,
//! no duplicates. Links, devices and anything else are refused (`ERR_BUNDLE_PATH`).

use std::collections::HashSet;
use std::fs;
use std::io::{self, BufWriter, Read};
use std::path::{Component, Path, PathBuf};

use super::progress::{Meter, REPORT_EVERY};
use crate::engine::scratch::sibling;
use crate::engine::{Error, Result};

fn path_error(message: String) -> Error {
    Error::bundle("ERR_BUNDLE_PATH", message)
}

/// Writes the folder `src` as the tar archive `dst` (a new file), under the top-level folder
/// name `top`. Files are visited in name order.
pub(crate) fn write(src: &Path, top: &str, dst: &Path, meter: &mut Meter<'_>) -> Result<u64> {
    let file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dst)
        .map_err(|e| Error::io("create", dst, e))?;
    let mut builder = tar::Builder::new(BufWriter::with_capacity(1 << 20, file));
    builder.mode(tar::HeaderMode::Deterministic);
    let io_err = |e: io::Error| Error::io("write", dst, e);
    add_dir(&mut builder, src, Path::new(top), meter).map_err(|e| match e {
        Error::Io { source, .. } => io_err(source),
        other => other,
    })?;
    let out = builder.into_inner().map_err(io_err)?;
    let file = out.into_inner().map_err(|e| io_err(e.into_error()))?;
    Ok(file.metadata().map_err(io_err)?.len())
}

fn add_dir(
    builder: &mut tar::Builder<BufWriter<fs::File>>,
    dir: &Path,
    name: &Path,
    meter: &mut Meter<'_>,
) -> Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Directory);
    header.set_mode(0o755);
    header.set_size(0);
    builder
        .append_data(&mut header, name, io::empty())
        .map_err(|e| Error::io("write", dir, e))?;
    let mut entries: Vec<_> = fs::read_dir(dir)
        .map_err(|e| Error::io("read folder", dir, e))?
        .collect::<io::Result<_>>()
        .map_err(|e| Error::io("read folder", dir, e))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let child = name.join(entry.file_name());
        let meta = entry
            .metadata()
            .map_err(|e| Error::io("inspect", &path, e))?;
        if meta.is_dir() {
            add_dir(builder, &path, &child, meter)?;
            continue;
        }
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(0o644);
        header.set_size(meta.len());
        let file = fs::File::open(&path).map_err(|e| Error::io("open", &path, e))?;
        let mut reader = Metered {
            inner: file,
            meter,
            path: &path,
            pending: 0,
            error: None,
        };
        let appended = builder.append_data(&mut header, &child, &mut reader);
        if let Some(err) = reader.error.take() {
            return Err(err);
        }
        appended.map_err(|e| Error::io("archive", &path, e))?;
        let rest = reader.pending;
        meter.advance(rest, &path)?;
    }
    Ok(())
}

/// A reader that reports to the meter every [`REPORT_EVERY`] bytes. An error from the meter
/// (a cancelled operation) ends the read and is kept for the caller.
struct Metered<'m, 'a, 'p> {
    inner: fs::File,
    meter: &'m mut Meter<'a>,
    path: &'p Path,
    pending: u64,
    error: Option<Error>,
}

impl Read for Metered<'_, '_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pending += n as u64;
        if self.pending >= REPORT_EVERY {
            let bytes = std::mem::take(&mut self.pending);
            if let Err(e) = self.meter.advance(bytes, self.path) {
                let message = e.to_string();
                self.error = Some(e);
                return Err(io::Error::other(message));
            }
        }
        Ok(n)
    }
}

/// Extracts the archive at `tar_path` into a new folder beside it (`<stem>`, or `<stem>-2`, ...).
/// Returns that folder and the bundle folder inside it (the folder itself, or its single
/// top-level folder).
pub(crate) fn extract(tar_path: &Path, meter: &mut Meter<'_>) -> Result<(PathBuf, PathBuf)> {
    let parent = tar_path.parent().unwrap_or(Path::new("."));
    let stem = tar_path
        .file_stem()
        .map_or_else(|| "bundle".into(), |s| s.to_string_lossy().into_owned());
    let mut dest = parent.join(&stem);
    let mut n = 1;
    while fs::symlink_metadata(&dest).is_ok() {
        n += 1;
        dest = parent.join(format!("{stem}-{n}"));
    }
    let tmp = sibling(&dest, "extract");
    fs::create_dir(&tmp).map_err(|e| Error::io("create folder", &tmp, e))?;
    let result = unpack(tar_path, &tmp, meter).and_then(|()| {
        fs::rename(&tmp, &dest).map_err(|e| Error::io("rename", &dest, e))?;
        Ok((dest.clone(), bundle_root(&dest)?))
    });
    if result.is_err() {
        // Our own partial extraction.
        let _ = fs::remove_dir_all(&tmp);
        let _ = fs::remove_dir_all(&dest);
    }
    result
}

fn unpack(tar_path: &Path, into: &Path, meter: &mut Meter<'_>) -> Result<()> {
    let file = fs::File::open(tar_path).map_err(|e| {
        Error::bundle(
            "ERR_BUNDLE_NOT_FOUND",
            format!("cannot open {}: {e}", tar_path.display()),
        )
    })?;
    meter.add_total(file.metadata().map_or(0, |m| m.len()));
    let bad_tar = |e: io::Error| {
        Error::bundle(
            "ERR_BUNDLE_MANIFEST",
            format!("{} is not a readable tar archive: {e}", tar_path.display()),
        )
    };
    let mut archive = tar::Archive::new(file);
    let mut seen = HashSet::new();
    for entry in archive.entries().map_err(bad_tar)? {
        let mut entry = entry.map_err(bad_tar)?;
        let raw = entry.path().map_err(bad_tar)?.into_owned();
        let shown = raw.display().to_string();
        let rel = safe_relative(&raw).ok_or_else(|| {
            path_error(format!(
                "archive entry {shown:?} leaves the bundle folder or is absolute"
            ))
        })?;
        if !seen.insert(rel.clone()) {
            return Err(path_error(format!("archive entry {shown:?} appears twice")));
        }
        let target = into.join(&rel);
        match entry.header().entry_type() {
            tar::EntryType::Directory => fs::create_dir_all(&target).map_err(|e| Error::io("create folder", &target, e))?,
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                if let Some(p) = target.parent() {
                    fs::create_dir_all(p).map_err(|e| Error::io("create folder", p, e))?;
                }
                let mut out = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&target)
                    .map_err(|e| Error::io("create", &target, e))?;
                loop {
                    let n = io::copy(&mut (&mut entry).take(REPORT_EVERY), &mut out).map_err(bad_tar)?;
                    if n == 0 {
                        break;
                    }
                    meter.advance(n, &target)?;
                }
            }
            other => {
                return Err(path_error(format!(
                    "archive entry {shown:?} is a {other:?}; bundle archives may hold only files and folders"
                )))
            }
        }
    }
    Ok(())
}

/// `p` as a relative path of normal components, or `None` if it is absolute or leaves its root.
fn safe_relative(p: &Path) -> Option<PathBuf> {
    let text = p.to_str()?;
    if text.contains('\\') || text.contains('\0') {
        return None;
    }
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// The folder holding `bundle.json`: `dir` itself or its only sub-folder.
fn bundle_root(dir: &Path) -> Result<PathBuf> {
    if dir.join("bundle.json").is_file() {
        return Ok(dir.to_path_buf());
    }
    let entries: Vec<_> = fs::read_dir(dir)
        .map_err(|e| Error::io("read folder", dir, e))?
        .flatten()
        .collect();
    match entries.as_slice() {
        [only] if only.path().join("bundle.json").is_file() => Ok(only.path()),
        _ => Err(Error::bundle(
            "ERR_BUNDLE_NOT_FOUND",
            "the archive holds no bundle.json",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_paths_must_stay_inside() {
        assert_eq!(
            safe_relative(Path::new("b/checkpoints/x.pt")),
            Some(PathBuf::from("b/checkpoints/x.pt"))
        );
        assert_eq!(
            safe_relative(Path::new("./b/./x")),
            Some(PathBuf::from("b/x"))
        );
        for bad in ["/etc/passwd", "../x", "b/../../x", "a\\b", "", "."] {
            assert_eq!(safe_relative(Path::new(bad)), None, "{bad:?}");
        }
    }
}
