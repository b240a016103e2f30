//! `AgentRunStore`: overstory's `RunStore` (`store.agentRuns`).

use napi::bindgen_prelude::*;
use napi_derive::napi;
use stowage_core::agents::{AgentRun, Agents, RunInput};

use super::{at, opt_string, with_agents};
use crate::handle::Handle;
use crate::js::{Js, Raw, Val};

/// overstory's `RunStore`: the runs that group agent sessions. `agentCount` is always the number
/// of sessions whose `runId` is the run, counted on read.
#[napi]
pub struct AgentRunStore {
    pub(crate) handle: Handle,
}

fn run_object(js: Js, r: &AgentRun) -> Result<Val> {
    let o = js.object_new()?;
    js.set_named(o, "id", js.string(&r.id)?)?;
    js.set_named(o, "startedAt", js.string(&r.started_at)?)?;
    js.set_named(o, "completedAt", opt_string(js, r.completed_at.as_deref())?)?;
    js.set_named(o, "agentCount", js.number(r.agent_count as f64)?)?;
    js.set_named(
        o,
        "coordinatorSessionId",
        opt_string(js, r.coordinator_session_id.as_deref())?,
    )?;
    js.set_named(
        o,
        "coordinatorName",
        opt_string(js, r.coordinator_name.as_deref())?,
    )?;
    js.set_named(o, "status", js.string(&r.status)?)?;
    Ok(o)
}

fn run_or_null(js: Js, r: Option<AgentRun>) -> Result<Raw> {
    match r {
        Some(r) => run_object(js, &r).map(Raw),
        None => js.null().map(Raw),
    }
}

impl AgentRunStore {
    fn run<T>(&self, js: Js, f: impl FnOnce(Agents<'_>) -> stowage_core::Result<T>) -> Result<T> {
        with_agents(&self.handle, js, f)
    }
}

#[napi]
impl AgentRunStore {
    /// Throws `ERR_ILLEGAL_CONSTRUCTOR`: an `AgentRunStore` is `openStore(path, { stores:
    /// ['agents'] }).agentRuns`.
    #[napi(constructor, skip_typescript)]
    pub fn new(env: Env) -> Result<Self> {
        Err(Js(env.raw()).illegal_constructor(
            "AgentRunStore",
            "use openStore(path, { stores: ['agents'] }).agentRuns",
        ))
    }

    /// Records a run and returns it. Every field is optional: `id` defaults to
    /// `run-<ISO timestamp>`, `startedAt` to now, `status` to `'active'`. A duplicate id throws
    /// `SQLITE_CONSTRAINT_PRIMARYKEY`, a status other than active/completed/failed
    /// `SQLITE_CONSTRAINT_CHECK`.
    #[napi(
        catch_unwind,
        ts_args_type = "run?: AgentRunInput",
        ts_return_type = "AgentRun"
    )]
    pub fn create_run(&self, env: Env, run: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let f = "createRun";
        let input = if js.is_nullish(run.raw())? {
            RunInput::default()
        } else {
            let o = js.object(run.raw(), at(f, "run"))?;
            let opt = |key: &str| js.opt_str(js.get(o, key)?, at(f, &format!("run.{key}")));
            RunInput {
                id: opt("id")?,
                started_at: opt("startedAt")?,
                coordinator_session_id: opt("coordinatorSessionId")?,
                coordinator_name: opt("coordinatorName")?,
                status: opt("status")?,
                agent_count: js.opt_int(js.get(o, "agentCount")?, at(f, "run.agentCount"))?,
            }
        };
        let created = self.run(js, |a| a.create_run(&input))?;
        run_object(js, &created).map(Raw)
    }

    /// The run with this id, or `null`.
    #[napi(
        catch_unwind,
        ts_args_type = "id: string",
        ts_return_type = "AgentRun | null"
    )]
    pub fn get_run(&self, env: Env, id: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let id = js.str(id.raw(), at("getRun", "id"))?;
        run_or_null(js, self.run(js, |a| a.get_run(&id))?)
    }

    /// The most recently started active run, or `null`.
    #[napi(catch_unwind, ts_return_type = "AgentRun | null")]
    pub fn get_active_run(&self, env: Env) -> Result<Raw> {
        let js = Js(env.raw());
        run_or_null(js, self.run(js, |a| a.get_active_run())?)
    }

    /// The most recently started active run of the coordinator `coordinatorName`, or `null`.
    #[napi(
        catch_unwind,
        ts_args_type = "coordinatorName: string",
        ts_return_type = "AgentRun | null"
    )]
    pub fn get_active_run_for_coordinator(
        &self,
        env: Env,
        coordinator_name: Unknown<'_>,
    ) -> Result<Raw> {
        let js = Js(env.raw());
        let name = js.str(
            coordinator_name.raw(),
            at("getActiveRunForCoordinator", "coordinatorName"),
        )?;
        run_or_null(
            js,
            self.run(js, |a| a.get_active_run_for_coordinator(&name))?,
        )
    }

    /// Runs, most recently started first; `status` filters, `limit` caps the count.
    #[napi(
        catch_unwind,
        ts_args_type = "options?: { limit?: number; status?: AgentRunStatus }",
        ts_return_type = "AgentRun[]"
    )]
    pub fn list_runs(&self, env: Env, options: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let f = "listRuns";
        let (limit, status) = if js.is_nullish(options.raw())? {
            (None, None)
        } else {
            let o = js.object(options.raw(), at(f, "options"))?;
            let limit = js.opt_int(js.get(o, "limit")?, at(f, "options.limit"))?;
            if limit.is_some_and(|l| l < 0) {
                return Err(js.core(stowage_core::Error::InvalidArg(
                    "listRuns: options.limit must not be negative".into(),
                )));
            }
            (
                limit,
                js.opt_str(js.get(o, "status")?, at(f, "options.status"))?,
            )
        };
        let runs = self.run(js, |a| a.list_runs(limit, status.as_deref()))?;
        js.array(runs.iter().map(|r| run_object(js, r))).map(Raw)
    }

    /// Kept for overstory compatibility; does nothing (`agentCount` is derived on read).
    #[napi(catch_unwind, ts_args_type = "runId: string")]
    pub fn increment_agent_count(&self, env: Env, run_id: Unknown<'_>) -> Result<()> {
        let js = Js(env.raw());
        js.str(run_id.raw(), at("incrementAgentCount", "runId"))?;
        self.run(js, |_| Ok(()))
    }

    /// Marks the run `'completed'` or `'failed'` and stamps `completedAt`. An unknown id is a
    /// no-op; another status is `ERR_INVALID_ARG`.
    #[napi(
        catch_unwind,
        ts_args_type = "runId: string, status: 'completed' | 'failed'"
    )]
    pub fn complete_run(&self, env: Env, run_id: Unknown<'_>, status: Unknown<'_>) -> Result<()> {
        let js = Js(env.raw());
        let id = js.str(run_id.raw(), at("completeRun", "runId"))?;
        let status = js.str(status.raw(), at("completeRun", "status"))?;
        self.run(js, |a| a.complete_run(&id, &status))
    }
}
