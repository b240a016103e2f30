//! Resolving manifest paths safely inside a bundle folder.

use std::path::{Path, PathBuf};

/// Resolves `rel` (a manifest path, `/` or `\` separated) inside the canonical folder `root`.
///
/// Rejects empty, absolute (`/x`, `C:\x`, `\\server\x`) and escaping (`../x`) paths, and paths
/// that lead outside `root` once symlinks are followed: the target's if it exists, otherwise the
/// deepest folder of it that exists (a missing file behind a link to another folder would be
/// created there). Returns the lexically normalised absolute path; the file may be missing.
pub fn resolve_inside(root: &Path, rel: &str) -> Result<PathBuf, String> {
    if rel.is_empty() {
        return Err("is empty".into());
    }
    if rel.contains('\0') {
        return Err("contains a NUL character".into());
    }
    let unified = rel.replace('\\', "/");
    let bytes = unified.as_bytes();
    let drive = bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':';
    if unified.starts_with('/') || drive {
        return Err("is absolute; bundle paths must be relative to the bundle folder".into());
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in unified.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err("leaves the bundle folder".into());
                }
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Err("names the bundle folder itself, not a file".into());
    }
    let joined = parts.iter().fold(root.to_path_buf(), |acc, p| acc.join(p));
    let mut existing = joined.as_path();
    while existing.symlink_metadata().is_err() {
        match existing.parent() {
            Some(parent) => existing = parent,
            None => break,
        }
    }
    let real = existing
        .canonicalize()
        .map_err(|e| format!("cannot be resolved: {e}"))?;
    if !real.starts_with(root) {
        return Err(format!(
            "leads through a link to {}, outside the bundle folder",
            real.display()
        ));
    }
    Ok(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_resolve_and_hostile_ones_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("checkpoints")).unwrap();
        assert_eq!(
            resolve_inside(&root, "checkpoints/a:1.pt").unwrap(),
            root.join("checkpoints").join("a:1.pt")
        );
        assert_eq!(
            resolve_inside(&root, "final_models\\s-final.pt").unwrap(),
            root.join("final_models").join("s-final.pt")
        );
        assert_eq!(
            resolve_inside(&root, "x/../y.pt").unwrap(),
            root.join("y.pt")
        );
        for bad in [
            "",
            "/etc/passwd",
            "C:\\x.pt",
            "\\\\srv\\x",
            "../x.pt",
            "a/../../x",
            ".",
            "a\0b",
        ] {
            assert!(resolve_inside(&root, bad).is_err(), "{bad:?}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_leaving_the_folder_are_refused() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "x").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), root.join("link.pt")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("sub")).unwrap();
        std::fs::write(root.join("real.pt"), "x").unwrap();
        std::os::unix::fs::symlink(root.join("real.pt"), root.join("inner.pt")).unwrap();
        assert!(resolve_inside(&root, "link.pt")
            .unwrap_err()
            .contains("outside"));
        assert!(resolve_inside(&root, "sub/secret").is_err());
        assert!(resolve_inside(&root, "inner.pt").is_ok());
        // Missing files: behind a link to another folder, or a link to nowhere, they are refused
        // too (found by the bundle_paths fuzz target); inside the folder they resolve.
        std::os::unix::fs::symlink(outside.path().join("nowhere"), root.join("dangling")).unwrap();
        for bad in [
            "sub/missing.pt",
            "sub/new/deeper.pt",
            "dangling",
            "dangling/x.pt",
        ] {
            assert!(resolve_inside(&root, bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            resolve_inside(&root, "checkpoints/missing.pt").unwrap(),
            root.join("checkpoints/missing.pt")
        );
    }
}
