//! `AgentSessionStore` and `AgentRunStore`: overstory's session and run stores on one open file
//! (`store.agents`, `store.agentRuns`). Objects are camelCase like overstory's; the optional
//! `promptVersion` and `claudeSessionId` are omitted when unset, the nullable fields are `null`.

mod runs;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use stowage_core::agents::{AgentSession, Agents, LegacySessions, Purge, TransitionOutcome};
use stowage_core::engine::import::ImportReport;

use std::sync::Arc;

use stowage_core::agents::AgentsConfig;
use stowage_core::engine::StoreConfig;

use crate::handle::Handle;
use crate::js::{at, At, Js, Raw, Val};
use crate::stores::{member, Binding};
use crate::{import, job};

pub use runs::AgentRunStore;

/// The agents store's binding: `openStore`'s `options.agents`, and `store.agents` with
/// `store.agentRuns`.
pub(crate) const BINDING: Binding = Binding {
    store: "agents",
    config: Some(config),
    members: |env, handle| {
        Ok(vec![
            (
                "agents",
                member(
                    env,
                    AgentSessionStore {
                        handle: handle.clone(),
                    },
                )?,
            ),
            (
                "agentRuns",
                member(
                    env,
                    AgentRunStore {
                        handle: handle.clone(),
                    },
                )?,
            ),
        ])
    },
};

/// `options.agents`: `{ transitions?, terminalStates?, activeStates? }`, each replacing the
/// default's part.
fn config(js: Js, v: Val) -> Result<StoreConfig> {
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
    Ok(Arc::new(config))
}

/// overstory's `SessionStore`: one row per agent, keyed by `agentName`, with a lifecycle state
/// machine enforced by `tryTransitionState`.
#[napi]
pub struct AgentSessionStore {
    pub(crate) handle: Handle,
}

pub(crate) fn with_agents<T>(
    handle: &Handle,
    js: Js,
    f: impl FnOnce(Agents<'_>) -> stowage_core::Result<T>,
) -> Result<T> {
    handle.with(js, |db| f(db.agents()?))
}

/// `null` or the string.
pub(crate) fn opt_string(js: Js, s: Option<&str>) -> Result<Val> {
    s.map_or_else(|| js.null(), |s| js.string(s))
}

fn session_object(js: Js, s: &AgentSession) -> Result<Val> {
    let o = js.object_new()?;
    let num = |x: i64| js.number(x as f64);
    js.set_named(o, "id", js.string(&s.id)?)?;
    js.set_named(o, "agentName", js.string(&s.agent_name)?)?;
    js.set_named(o, "capability", js.string(&s.capability)?)?;
    js.set_named(o, "worktreePath", js.string(&s.worktree_path)?)?;
    js.set_named(o, "branchName", js.string(&s.branch_name)?)?;
    js.set_named(o, "taskId", js.string(&s.task_id)?)?;
    js.set_named(o, "tmuxSession", js.string(&s.tmux_session)?)?;
    js.set_named(o, "state", js.string(&s.state)?)?;
    js.set_named(o, "pid", s.pid.map_or_else(|| js.null(), num)?)?;
    js.set_named(o, "parentAgent", opt_string(js, s.parent_agent.as_deref())?)?;
    js.set_named(o, "depth", num(s.depth)?)?;
    js.set_named(o, "runId", opt_string(js, s.run_id.as_deref())?)?;
    js.set_named(o, "startedAt", js.string(&s.started_at)?)?;
    js.set_named(o, "lastActivity", js.string(&s.last_activity)?)?;
    js.set_named(o, "escalationLevel", num(s.escalation_level)?)?;
    js.set_named(
        o,
        "stalledSince",
        opt_string(js, s.stalled_since.as_deref())?,
    )?;
    js.set_named(
        o,
        "transcriptPath",
        opt_string(js, s.transcript_path.as_deref())?,
    )?;
    if let Some(v) = &s.prompt_version {
        js.set_named(o, "promptVersion", js.string(v)?)?;
    }
    if let Some(v) = &s.claude_session_id {
        js.set_named(o, "claudeSessionId", js.string(v)?)?;
    }
    Ok(o)
}

fn sessions_array(js: Js, list: &[AgentSession]) -> Result<Val> {
    js.array(list.iter().map(|s| session_object(js, s)))
}

fn session_input(js: Js, v: Val) -> Result<AgentSession> {
    let f = "upsert";
    let o = js.object(v, at(f, "session"))?;
    let req = |key: &str| js.str(js.get(o, key)?, at(f, &format!("session.{key}")));
    let opt = |key: &str| js.opt_str(js.get(o, key)?, at(f, &format!("session.{key}")));
    let int = |key: &str| js.opt_int(js.get(o, key)?, at(f, &format!("session.{key}")));
    Ok(AgentSession {
        id: req("id")?,
        agent_name: req("agentName")?,
        capability: req("capability")?,
        worktree_path: req("worktreePath")?,
        branch_name: req("branchName")?,
        task_id: req("taskId")?,
        tmux_session: req("tmuxSession")?,
        state: req("state")?,
        pid: int("pid")?,
        parent_agent: opt("parentAgent")?,
        depth: int("depth")?.unwrap_or(0),
        run_id: opt("runId")?,
        started_at: req("startedAt")?,
        last_activity: req("lastActivity")?,
        escalation_level: int("escalationLevel")?.unwrap_or(0),
        stalled_since: opt("stalledSince")?,
        transcript_path: opt("transcriptPath")?,
        prompt_version: opt("promptVersion")?,
        claude_session_id: opt("claudeSessionId")?,
    })
}

impl AgentSessionStore {
    fn run<T>(&self, js: Js, f: impl FnOnce(Agents<'_>) -> stowage_core::Result<T>) -> Result<T> {
        with_agents(&self.handle, js, f)
    }

    /// The agent-name argument every update takes.
    fn name(js: Js, v: Unknown<'_>, func: &str) -> Result<String> {
        js.str(v.raw(), at(func, "agentName"))
    }
}

#[napi]
impl AgentSessionStore {
    /// Throws `ERR_ILLEGAL_CONSTRUCTOR`: an `AgentSessionStore` is `openStore(path, { stores:
    /// ['agents'] }).agents`.
    #[napi(constructor, skip_typescript)]
    pub fn new(env: Env) -> Result<Self> {
        Err(Js(env.raw()).illegal_constructor(
            "AgentSessionStore",
            "use openStore(path, { stores: ['agents'] }).agents",
        ))
    }

    /// Inserts the session, or overwrites every field of the one with the same `agentName`
    /// (its `id` included). Any state string is accepted. `depth` and `escalationLevel`
    /// default to 0, the nullable fields to `null`.
    #[napi(catch_unwind, ts_args_type = "session: AgentSessionInput")]
    pub fn upsert(&self, env: Env, session: Unknown<'_>) -> Result<()> {
        let js = Js(env.raw());
        let s = session_input(js, session.raw())?;
        self.run(js, |a| a.upsert(&s))
    }

    /// The session of `agentName`, or `null`.
    #[napi(
        catch_unwind,
        ts_args_type = "agentName: string",
        ts_return_type = "AgentSession | null"
    )]
    pub fn get_by_name(&self, env: Env, agent_name: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let name = Self::name(js, agent_name, "getByName")?;
        match self.run(js, |a| a.get_by_name(&name))? {
            Some(s) => session_object(js, &s).map(Raw),
            None => js.null().map(Raw),
        }
    }

    /// Sessions in an active state (by default booting, working, in_turn, between_turns and
    /// stalled), oldest first.
    #[napi(catch_unwind, ts_return_type = "AgentSession[]")]
    pub fn get_active(&self, env: Env) -> Result<Raw> {
        let js = Js(env.raw());
        sessions_array(js, &self.run(js, |a| a.get_active())?).map(Raw)
    }

    /// Every session, oldest first.
    #[napi(catch_unwind, ts_return_type = "AgentSession[]")]
    pub fn get_all(&self, env: Env) -> Result<Raw> {
        let js = Js(env.raw());
        sessions_array(js, &self.run(js, |a| a.get_all())?).map(Raw)
    }

    /// The number of sessions.
    #[napi(catch_unwind)]
    pub fn count(&self, env: Env) -> Result<i64> {
        self.run(Js(env.raw()), |a| a.count())
    }

    /// The sessions of one run, oldest first.
    #[napi(
        catch_unwind,
        ts_args_type = "runId: string",
        ts_return_type = "AgentSession[]"
    )]
    pub fn get_by_run(&self, env: Env, run_id: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let run_id = js.str(run_id.raw(), at("getByRun", "runId"))?;
        sessions_array(js, &self.run(js, |a| a.get_by_run(&run_id))?).map(Raw)
    }

    /// Sets the state without checking the transition table (forced cleanup paths); a terminal
    /// state clears `tmuxSession`. An unknown agent is a no-op.
    #[napi(catch_unwind, ts_args_type = "agentName: string, state: AgentState")]
    pub fn update_state(
        &self,
        env: Env,
        agent_name: Unknown<'_>,
        state: Unknown<'_>,
    ) -> Result<()> {
        let js = Js(env.raw());
        let name = Self::name(js, agent_name, "updateState")?;
        let state = js.str(state.raw(), at("updateState", "state"))?;
        self.run(js, |a| a.update_state(&name, &state))
    }

    /// Moves the agent to `state` if the transition table allows it from its current state, as
    /// one compare-and-swap: of racing writers exactly the allowed ones apply. Returns
    /// `{ ok: true, prev, next }`, or `{ ok: false, reason: 'not_found' | 'illegal_transition',
    /// prev?, attempted }` with the state that blocked it.
    #[napi(
        catch_unwind,
        ts_args_type = "agentName: string, state: AgentState",
        ts_return_type = "TransitionOutcome"
    )]
    pub fn try_transition_state(
        &self,
        env: Env,
        agent_name: Unknown<'_>,
        state: Unknown<'_>,
    ) -> Result<Raw> {
        let js = Js(env.raw());
        let f = "tryTransitionState";
        let name = Self::name(js, agent_name, f)?;
        let next = js.str(state.raw(), at(f, "state"))?;
        let outcome = self.run(js, |a| a.try_transition_state(&name, &next))?;
        let o = js.object_new()?;
        match outcome {
            TransitionOutcome::Applied { prev, next } => {
                js.set_named(o, "ok", js.boolean(true)?)?;
                js.set_named(o, "prev", js.string(&prev)?)?;
                js.set_named(o, "next", js.string(&next)?)?;
            }
            TransitionOutcome::NotFound { attempted } => {
                js.set_named(o, "ok", js.boolean(false)?)?;
                js.set_named(o, "reason", js.string("not_found")?)?;
                js.set_named(o, "attempted", js.string(&attempted)?)?;
            }
            TransitionOutcome::Illegal { prev, attempted } => {
                js.set_named(o, "ok", js.boolean(false)?)?;
                js.set_named(o, "reason", js.string("illegal_transition")?)?;
                js.set_named(o, "prev", js.string(&prev)?)?;
                js.set_named(o, "attempted", js.string(&attempted)?)?;
            }
        }
        Ok(Raw(o))
    }

    /// Sets `lastActivity` to now (ISO 8601); nothing else changes.
    #[napi(catch_unwind, ts_args_type = "agentName: string")]
    pub fn update_last_activity(&self, env: Env, agent_name: Unknown<'_>) -> Result<()> {
        let js = Js(env.raw());
        let name = Self::name(js, agent_name, "updateLastActivity")?;
        self.run(js, |a| a.update_last_activity(&name))
    }

    /// Sets the escalation level (0 warn, 1 nudge, 2 escalate, 3 terminate) and `stalledSince`
    /// (`null` clears it).
    #[napi(
        catch_unwind,
        ts_args_type = "agentName: string, level: number, stalledSince: string | null"
    )]
    pub fn update_escalation(
        &self,
        env: Env,
        agent_name: Unknown<'_>,
        level: Unknown<'_>,
        stalled_since: Unknown<'_>,
    ) -> Result<()> {
        let js = Js(env.raw());
        let f = "updateEscalation";
        let name = Self::name(js, agent_name, f)?;
        let level_v = level.raw();
        let level = js
            .opt_int(level_v, at(f, "level"))?
            .ok_or_else(|| js.type_error(at(f, "level"), "an integer", level_v))?;
        let since = js.opt_str(stalled_since.raw(), at(f, "stalledSince"))?;
        self.run(js, |a| a.update_escalation(&name, level, since.as_deref()))
    }

    /// Sets `transcriptPath`. An unknown agent is a no-op.
    #[napi(catch_unwind, ts_args_type = "agentName: string, path: string")]
    pub fn update_transcript_path(
        &self,
        env: Env,
        agent_name: Unknown<'_>,
        path: Unknown<'_>,
    ) -> Result<()> {
        let js = Js(env.raw());
        let name = Self::name(js, agent_name, "updateTranscriptPath")?;
        let path = js.str(path.raw(), at("updateTranscriptPath", "path"))?;
        self.run(js, |a| a.update_transcript_path(&name, &path))
    }

    /// Sets `claudeSessionId` (the runtime's own session id). An unknown agent is a no-op.
    #[napi(catch_unwind, ts_args_type = "agentName: string, sessionId: string")]
    pub fn update_claude_session_id(
        &self,
        env: Env,
        agent_name: Unknown<'_>,
        session_id: Unknown<'_>,
    ) -> Result<()> {
        let js = Js(env.raw());
        let name = Self::name(js, agent_name, "updateClaudeSessionId")?;
        let id = js.str(session_id.raw(), at("updateClaudeSessionId", "sessionId"))?;
        self.run(js, |a| a.update_claude_session_id(&name, &id))
    }

    /// Deletes the session. An unknown agent is a no-op.
    #[napi(catch_unwind, ts_args_type = "agentName: string")]
    pub fn remove(&self, env: Env, agent_name: Unknown<'_>) -> Result<()> {
        let js = Js(env.raw());
        let name = Self::name(js, agent_name, "remove")?;
        self.run(js, |a| a.remove(&name))
    }

    /// Deletes sessions and returns how many: `{ all: true }` deletes every one; otherwise
    /// `state` and `agent` are combined with AND; with no criterion nothing is deleted (0).
    #[napi(
        catch_unwind,
        ts_args_type = "options: { all?: boolean; state?: AgentState; agent?: string }"
    )]
    pub fn purge(&self, env: Env, options: Unknown<'_>) -> Result<u32> {
        let js = Js(env.raw());
        let f = "purge";
        let o = js.object(options.raw(), at(f, "options"))?;
        let criteria = Purge {
            all: js.truthy(js.get(o, "all")?)?,
            state: js.opt_str(js.get(o, "state")?, at(f, "options.state"))?,
            agent: js.opt_str(js.get(o, "agent")?, at(f, "options.agent"))?,
        };
        let n = self.run(js, |a| a.purge(&criteria))?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Imports overstory's legacy `sessions.json` at `file` when the store holds no session yet
    /// (see docs/agents.md: missing file → nothing; last entry of an agent wins; optional
    /// fields defaulted), in one transaction (joining `store.transaction` when one is open).
    /// Returns `{ migrated, imported, counts, orphans, errors }`: `imported` (= `counts.sessions`)
    /// the entries written, `errors` an unreadable or malformed file (`entry: null`) and the
    /// entries lacking a required field (`entry`: their index); the other entries are still
    /// imported. `options.onProgress(progress)` is called on this thread as the import goes; if it
    /// throws, nothing is imported and what it threw is rethrown.
    #[napi(
        catch_unwind,
        ts_args_type = "file: string, options?: { onProgress?: (progress: ImportProgress) => void }",
        ts_return_type = "LegacyImportReport"
    )]
    pub fn import_legacy_json(
        &self,
        env: Env,
        file: Unknown<'_>,
        options: Unknown<'_>,
    ) -> Result<Raw> {
        let js = Js(env.raw());
        let f = "importLegacyJson";
        let file = js.path(file.raw(), at(f, "file"))?;
        let on_progress = job::progress_option(js, f, options.raw())?;
        import::run_here(
            js,
            &self.handle,
            on_progress,
            |db, sink| {
                db.agents()?
                    .import_legacy_sessions(std::path::Path::new(&file), sink)
            },
            import_report,
        )
    }

    /// `importLegacyJson` off the JS thread, on a connection of its own, in one transaction:
    /// writes made meanwhile through this store wait for it. `options.onProgress` is called on
    /// the JS thread; if it throws, nothing is imported and the promise rejects with what it
    /// threw. A store in memory is refused (`ERR_INVALID_ARG`).
    #[napi(
        catch_unwind,
        ts_args_type = "file: string, options?: { onProgress?: (progress: ImportProgress) => void }",
        ts_return_type = "Promise<LegacyImportReport>"
    )]
    pub fn import_legacy_json_async(
        &self,
        env: Env,
        file: Unknown<'_>,
        options: Unknown<'_>,
    ) -> Result<Raw> {
        let js = Js(env.raw());
        let f = "importLegacyJsonAsync";
        let args = js.path(file.raw(), at(f, "file")).and_then(|file| {
            let on_progress = job::progress_option(js, f, options.raw())?;
            let db = self.handle.with(js, |db| {
                db.agents()?;
                db.job_path(f)
            })?;
            Ok((file, on_progress, db))
        });
        let (file, on_progress, db) = match args {
            Ok(a) => a,
            Err(e) => return job::rejected(js, e),
        };
        import::run_async(
            js,
            db,
            file.into(),
            LegacySessions,
            on_progress,
            import_report,
        )
    }
}

/// The import report with overstory's `imported`: the sessions written.
fn import_report(js: Js, report: &ImportReport) -> Result<Val> {
    let o = import::report_object(js, report)?;
    let sessions = report.counts.get("sessions").copied().unwrap_or(0);
    js.set_named(o, "imported", js.number(sessions as f64)?)?;
    Ok(o)
}
