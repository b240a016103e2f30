//! The registry: every store this build implements, one line each.
//!
//! The engine knows a store only through its [`StoreDef`]; this list is where the crate names
//! them, for `openStore(path, { stores: [...] })` and for the binding. Adding a store is its
//! module, its migrations folder and one line here.

use crate::engine::{Error, OpenOptions, Result, StoreDef};

/// Every store of this build, in migration order.
pub static ALL: &[&dyn StoreDef] = &[
    &crate::training::schema::STORE,
    &crate::agents::schema::STORE,
    &crate::worktrees::schema::STORE,
    &crate::chats::schema::STORE,
    &crate::conversations::schema::STORE,
    &crate::settings::schema::STORE,
    &crate::history::schema::STORE,
];

/// The store named `name`.
pub fn find(name: &str) -> Result<&'static dyn StoreDef> {
    ALL.iter()
        .copied()
        .find(|s| s.name() == name)
        .ok_or_else(|| {
            let known: Vec<_> = ALL.iter().map(|s| s.name()).collect();
            Error::InvalidArg(format!(
                "unknown store '{name}' (this build has: {})",
                known.join(", ")
            ))
        })
}

impl Default for OpenOptions {
    /// The training store only, as `openStore(path)` opens a file.
    fn default() -> Self {
        OpenOptions::new([&crate::training::schema::STORE as &'static dyn StoreDef])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::adopt::shapes;

    #[test]
    fn a_read_only_open_reads_a_closed_file_and_writes_nothing_to_it_or_beside_it() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.sqlite");
        let db = crate::Database::open(&path, &OpenOptions::default())?;
        db.training()?.insert_run("r", Some("p"), Some("n"), &[])?;
        let wal = dir.path().join("runs.sqlite-wal");
        assert!(wal.exists());
        let ro = OpenOptions {
            read_only: true,
            ..OpenOptions::default()
        };
        let busy = crate::Database::open(&path, &ro).unwrap_err();
        assert_eq!(busy.code(), "ERR_READ_ONLY");
        db.close()?;
        let bytes = std::fs::read(&path).unwrap();
        let reader = crate::Database::open(&path, &ro)?;
        assert!(reader.is_read_only());
        assert_eq!(reader.training()?.list_runs()?.rows.len(), 1);
        let refused = reader
            .training()?
            .insert_run("x", None, None, &[])
            .unwrap_err();
        assert_eq!(refused.code(), "SQLITE_READONLY");
        assert_eq!(
            reader.job_path("vacuumAsync").unwrap_err().code(),
            "ERR_READ_ONLY"
        );
        assert!(!wal.exists() && !dir.path().join("runs.sqlite-shm").exists());
        reader.close()?;
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

        let mut agents = OpenOptions::new([find("agents")?]);
        agents.read_only = true;
        let bare = dir.path().join("bare.sqlite");
        crate::Database::open(&bare, &OpenOptions::new([]))?.close()?;
        assert_eq!(
            crate::Database::open(&bare, &agents).unwrap_err().code(),
            "ERR_READ_ONLY"
        );
        let missing = dir.path().join("missing.sqlite");
        assert_eq!(
            crate::Database::open(&missing, &agents).unwrap_err().code(),
            "ENOENT"
        );
        assert!(!missing.exists());
        Ok(())
    }

    #[test]
    fn store_names_round_trip_and_unknown_ones_list_the_known() {
        for store in ALL {
            assert_eq!(find(store.name()).unwrap().name(), store.name());
        }
        let err = find("nope").unwrap_err();
        assert_eq!(err.code(), "ERR_INVALID_ARG");
        assert!(
            err.to_string()
                .contains("training, agents, worktrees, chats, conversations, settings, history"),
            "{err}"
        );
    }

    #[test]
    fn each_store_declares_exactly_the_tables_its_migrations_create() {
        for store in ALL {
            let mut created: Vec<String> = shapes(store.migrations())
                .last()
                .unwrap()
                .iter()
                .map(|(name, _)| name.to_ascii_lowercase())
                .collect();
            let mut declared: Vec<String> = store
                .tables()
                .iter()
                .map(|t| t.to_ascii_lowercase())
                .collect();
            created.sort();
            declared.sort();
            assert_eq!(created, declared, "store '{}'", store.name());
        }
    }

    #[test]
    fn migrations_are_numbered_from_one_without_gaps() {
        for store in ALL {
            for (i, m) in store.migrations().iter().enumerate() {
                assert_eq!(m.version, i as i64 + 1, "store '{}'", store.name());
            }
        }
    }
}
