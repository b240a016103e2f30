//! The binding's half of the store registry: for each store of `stowage_core::stores`, how
//! `openStore` reads its options and which members it adds to a `Store`. One line per store.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use stowage_core::engine::StoreConfig;
use stowage_core::Error;

use crate::handle::Handle;
use crate::js::{Js, Val};

/// A store's members on a `Store`, by property name.
pub(crate) type Members = Vec<(&'static str, Val)>;

/// What the binding adds for one store.
pub(crate) struct Binding {
    /// The store's name in the core's registry.
    pub store: &'static str,
    /// Reads `options[<store name>]` of `openStore` (when given) into the store's
    /// configuration; `None` for a store without options.
    pub config: Option<fn(Js, Val) -> Result<StoreConfig>>,
    /// The store's members on a `Store` opened with it, by property name.
    pub members: fn(&Env, &Handle) -> Result<Members>,
}

/// Every store's binding.
static BINDINGS: &[Binding] = &[
    crate::training::BINDING,
    crate::agents::BINDING,
    crate::worktrees::BINDING,
    crate::chats::BINDING,
    crate::conversations::BINDING,
    crate::settings::BINDING,
    crate::history::BINDING,
];

/// The binding of the store `store`.
pub(crate) fn binding(store: &str) -> stowage_core::Result<&'static Binding> {
    BINDINGS
        .iter()
        .find(|b| b.store == store)
        .ok_or_else(|| Error::InvalidArg(format!("the '{store}' store has no JS binding")))
}

/// A member object made from a `#[napi]` class instance.
pub(crate) fn member<T: JavaScriptClassExt>(env: &Env, value: T) -> Result<Val> {
    Ok(value.into_instance(env)?.value)
}

/// A store this build implements, as `knownStores()` describes it.
#[napi(object)]
pub struct KnownStore {
    /// The name `openStore(path, { stores })` takes.
    pub name: String,
    /// Every table the store's migrations create.
    pub tables: Vec<String>,
    /// The newest schema version this build migrates the store to.
    pub version: u32,
}

/// The stores this build implements, in migration order, with the tables each owns: what
/// tools use to tell which stores a file holds (the `stowage` CLI's `info`).
#[napi]
pub fn known_stores() -> Vec<KnownStore> {
    stowage_core::stores::ALL
        .iter()
        .map(|s| KnownStore {
            name: s.name().to_string(),
            tables: s.tables().iter().map(|t| t.to_string()).collect(),
            version: s.migrations().len() as u32,
        })
        .collect()
}
