//! `Store` and `openStore`: one SQLite file hosting stowage's stores.

use std::path::Path;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use stowage_core::agents::AgentsConfig;
use stowage_core::engine::CheckpointMode;
use stowage_core::{Database, OpenOptions, StoreKind};

use crate::agents::{AgentRunStore, AgentSessionStore};
use crate::handle::Handle;
use crate::js::{At, Js, Val};
use crate::training::TrainingStore;

/// One open SQLite file and the stores it hosts. Create it with `openStore`.
#[napi]
pub struct Store {
    handle: Handle,
    training: Reference<TrainingStore>,
    agents: Reference<AgentSessionStore>,
    agent_runs: Reference<AgentRunStore>,
}

/// Facts about an open store file.
#[napi(object)]
pub struct StoreInfo {
    /// The file's path as given to `openStore`.
    pub path: String,
    /// `'wal'`, or the mode SQLite fell back to where WAL is refused (e.g. some network file
    /// systems).
    pub journal_mode: String,
    /// Bytes per page.
    pub page_size: i64,
    /// Pages in the main file (WAL not included).
    pub page_count: i64,
    /// Unused pages that `VACUUM` would reclaim.
    pub freelist_count: i64,
    /// The stores this file was opened with.
    pub stores: Vec<String>,
    /// Schema version of each store, by name.
    pub schema: std::collections::HashMap<String, i64>,
    /// Version of the SQLite library compiled into stowage.
    pub sqlite_version: String,
}

/// The outcome of a WAL checkpoint.
#[napi(object)]
pub struct CheckpointResult {
    /// True when other connections kept the checkpoint from completing.
    pub busy: bool,
    /// Frames in the WAL (-1 when the file is not in WAL mode).
    pub log_frames: i64,
    /// Frames copied back into the database file (-1 when not in WAL mode).
    pub checkpointed_frames: i64,
}

/// Opens (creating if needed) the SQLite file at `path` and brings the requested stores to the
/// current schema; the folder must exist.
///
/// `options.stores` names the stores to host: `['training']` (the default) or `['agents']`; the
/// two cannot share a file, as both keep a table named `runs`. `options.agents` replaces the
/// agents store's state machine (overstory's by default). A file written by OnTheFly or
/// overstory is adopted in place with every row kept; a file written by a newer stowage is
/// refused with `ERR_SCHEMA_TOO_NEW` and left untouched. Several `Store`s (in this or other
/// processes) may open the same file.
#[napi(
    catch_unwind,
    ts_args_type = "path: string, options?: OpenStoreOptions"
)]
pub fn open_store(env: Env, path: Unknown<'_>, options: Unknown<'_>) -> Result<Store> {
    let js = Js(env.raw());
    let f = "openStore";
    let path = js.path(
        path.raw(),
        At {
            func: f,
            arg: "path",
        },
    )?;
    let mut stores = vec![StoreKind::Training];
    let mut agents = AgentsConfig::default();
    if !js.is_nullish(options.raw())? {
        let options = js.object(
            options.raw(),
            At {
                func: f,
                arg: "options",
            },
        )?;
        let list = js.get(options, "stores")?;
        if !js.is_nullish(list)? {
            if !js.is_array(list)? {
                return Err(js.type_error(
                    At {
                        func: f,
                        arg: "options.stores",
                    },
                    "an array of store names",
                    list,
                ));
            }
            let at_stores = At {
                func: f,
                arg: "options.stores",
            };
            stores = js.map_items(list, at_stores, |i, v| {
                let name = js.str(
                    v,
                    At {
                        func: f,
                        arg: &format!("options.stores[{i}]"),
                    },
                )?;
                StoreKind::from_name(&name).map_err(|e| js.core(e))
            })?;
        }
        let config = js.get(options, "agents")?;
        if !js.is_nullish(config)? {
            agents = agents_config(js, config)?;
        }
    }
    let db = Database::open(Path::new(&path), &OpenOptions { stores, agents })
        .map_err(|e| js.core(e))?;
    let handle = Handle::new(db);
    let training = TrainingStore {
        handle: handle.clone(),
    }
    .into_reference(env)?;
    let agents = AgentSessionStore {
        handle: handle.clone(),
    }
    .into_reference(env)?;
    let agent_runs = AgentRunStore {
        handle: handle.clone(),
    }
    .into_reference(env)?;
    Ok(Store {
        handle,
        training,
        agents,
        agent_runs,
    })
}

/// `options.agents`: `{ transitions?, terminalStates?, activeStates? }`, each replacing the
/// default's part.
fn agents_config(js: Js, v: Val) -> Result<AgentsConfig> {
    let f = "openStore";
    let at = |arg| At { func: f, arg };
    let o = js.object(v, at("options.agents"))?;
    let mut config = AgentsConfig::default();
    let transitions = js.get(o, "transitions")?;
    if !js.is_nullish(transitions)? {
        let t = js.object(transitions, at("options.agents.transitions"))?;
        config.transitions = js
            .keys(t, at("options.agents.transitions"))?
            .into_iter()
            .map(|target| {
                let arg = format!("options.agents.transitions.{target}");
                let from = js.strings(js.get(t, &target)?, At { func: f, arg: &arg })?;
                Ok((target, from))
            })
            .collect::<Result<_>>()?;
    }
    let terminal = js.get(o, "terminalStates")?;
    if !js.is_nullish(terminal)? {
        config.terminal_states = js.strings(terminal, at("options.agents.terminalStates"))?;
    }
    let active = js.get(o, "activeStates")?;
    if !js.is_nullish(active)? {
        config.active_states = js.strings(active, at("options.agents.activeStates"))?;
    }
    Ok(config)
}

#[napi]
impl Store {
    /// Throws `ERR_ILLEGAL_CONSTRUCTOR`: a `Store` comes from `openStore`.
    #[napi(constructor, skip_typescript)]
    pub fn new(env: Env) -> Result<Self> {
        Err(Js(env.raw()).illegal_constructor("Store", "use openStore(path)"))
    }

    /// The training store (OnTheFly's `storage.ts` functions as methods).
    #[napi(getter, catch_unwind)]
    pub fn training(&self, env: Env) -> Result<Reference<TrainingStore>> {
        self.training.clone(env)
    }

    /// The agents store (overstory's `SessionStore`); needs `stores: ['agents']`.
    #[napi(getter, catch_unwind)]
    pub fn agents(&self, env: Env) -> Result<Reference<AgentSessionStore>> {
        self.agents.clone(env)
    }

    /// The runs of the agents store (overstory's `RunStore`); needs `stores: ['agents']`.
    #[napi(getter, catch_unwind)]
    pub fn agent_runs(&self, env: Env) -> Result<Reference<AgentRunStore>> {
        self.agent_runs.clone(env)
    }

    /// The file's path as given to `openStore`.
    #[napi(getter)]
    pub fn path(&self) -> String {
        self.handle.path().to_string_lossy().into_owned()
    }

    /// False once `close()` was called.
    #[napi(getter)]
    pub fn is_open(&self) -> bool {
        self.handle.is_open()
    }

    /// Facts about the file: journal mode, size in pages, each store's schema version.
    #[napi(catch_unwind)]
    pub fn info(&self, env: Env) -> Result<StoreInfo> {
        let info = self.handle.with(Js(env.raw()), |db| {
            let info = db.info()?;
            Ok((
                info,
                db.stores().iter().map(|s| s.name().to_string()).collect(),
            ))
        })?;
        let (info, stores) = info;
        Ok(StoreInfo {
            path: info.path.to_string_lossy().into_owned(),
            journal_mode: info.journal_mode,
            page_size: info.page_size,
            page_count: info.page_count,
            freelist_count: info.freelist_count,
            stores,
            schema: info
                .schema
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            sqlite_version: info.sqlite_version.to_string(),
        })
    }

    /// SQLite's integrity check: `['ok']` for a sound file, otherwise the problems found.
    /// `{ quick: true }` runs the faster `quick_check`.
    #[napi(catch_unwind, ts_args_type = "options?: { quick?: boolean }")]
    pub fn integrity_check(&self, env: Env, options: Unknown<'_>) -> Result<Vec<String>> {
        let js = Js(env.raw());
        let quick = js.truthy(js.get(options.raw(), "quick")?)?;
        self.handle.with(js, |db| db.integrity_check(quick))
    }

    /// Lets SQLite refresh its query-planner statistics (`PRAGMA optimize`); cheap, and worth
    /// calling before closing a long-lived store.
    #[napi(catch_unwind)]
    pub fn optimize(&self, env: Env) -> Result<()> {
        self.handle.with(Js(env.raw()), |db| db.optimize())
    }

    /// Copies the WAL back into the database file. `mode`: `'PASSIVE'` (default), `'FULL'`,
    /// `'RESTART'` or `'TRUNCATE'`.
    #[napi(
        catch_unwind,
        ts_args_type = "mode?: 'PASSIVE' | 'FULL' | 'RESTART' | 'TRUNCATE'"
    )]
    pub fn checkpoint(&self, env: Env, mode: Unknown<'_>) -> Result<CheckpointResult> {
        let js = Js(env.raw());
        let mode = js
            .opt_str(
                mode.raw(),
                At {
                    func: "checkpoint",
                    arg: "mode",
                },
            )?
            .unwrap_or_else(|| "PASSIVE".into());
        let mode = CheckpointMode::from_name(&mode).map_err(|e| js.core(e))?;
        let c = self.handle.with(js, |db| db.checkpoint(mode))?;
        Ok(CheckpointResult {
            busy: c.busy,
            log_frames: c.log_frames,
            checkpointed_frames: c.checkpointed_frames,
        })
    }

    /// Writes a consistent, compacted single-file copy of the database to `path` (which must not
    /// exist), in `DELETE` journal mode with no sidecar files. Writes may continue meanwhile.
    #[napi(catch_unwind, ts_args_type = "path: string")]
    pub fn backup_to(&self, env: Env, path: Unknown<'_>) -> Result<()> {
        let js = Js(env.raw());
        let path = js.path(
            path.raw(),
            At {
                func: "backupTo",
                arg: "path",
            },
        )?;
        self.handle.with(js, |db| db.backup_to(Path::new(&path)))
    }

    /// Closes the file (SQLite folds the WAL back in). Later calls on this store, or on its
    /// members, throw `ERR_CLOSED`; closing twice does nothing.
    #[napi(catch_unwind)]
    pub fn close(&self, env: Env) -> Result<()> {
        self.handle.close(Js(env.raw()))
    }
}
