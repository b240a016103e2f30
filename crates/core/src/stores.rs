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
    &crate::conversations::schema::STORE,
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
    fn store_names_round_trip_and_unknown_ones_list_the_known() {
        for store in ALL {
            assert_eq!(find(store.name()).unwrap().name(), store.name());
        }
        let err = find("nope").unwrap_err();
        assert_eq!(err.code(), "ERR_INVALID_ARG");
        assert!(
            err.to_string().contains("training, agents, conversations"),
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
