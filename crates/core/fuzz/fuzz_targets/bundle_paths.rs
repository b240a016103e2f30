//! The paths of a bundle's manifest as `loadBundle` resolves them: whatever the text, a path
//! that resolves lies inside the bundle folder once symlinks are followed (for a missing file,
//! the deepest part of it that exists does), and nothing panics.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use stowage_core::training::bundle::paths::resolve_inside;

/// A bundle folder with a file, a subfolder, and symlinks pointing out of it and within it.
fn root() -> &'static PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let base = std::env::temp_dir().join(format!("stowage-fuzz-paths-{}", std::process::id()));
        let root = base.join("bundle");
        std::fs::create_dir_all(root.join("checkpoints")).unwrap();
        std::fs::write(root.join("checkpoints/a.pt"), b"x").unwrap();
        std::fs::write(base.join("outside.pt"), b"x").unwrap();
        let link = |to: PathBuf, at: &str| {
            let _ = std::os::unix::fs::symlink(to, root.join(at));
        };
        link(base.join("outside.pt"), "out.pt");
        link(base.clone(), "up");
        link(root.join("checkpoints/a.pt"), "in.pt");
        link(base.join("nowhere"), "dangling");
        root.canonicalize().unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(rel) = std::str::from_utf8(data) else {
        return;
    };
    let root = root();
    if let Ok(p) = resolve_inside(root, rel) {
        let mut existing = p.as_path();
        while existing.symlink_metadata().is_err() {
            existing = existing.parent().expect("the root exists");
        }
        let real = existing.canonicalize();
        assert!(
            real.as_ref().is_ok_and(|r| r.starts_with(root)),
            "{rel:?} resolved to {p:?}, which is {real:?} on disk, not inside {root:?}"
        );
    }
});
