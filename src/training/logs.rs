//! `logs` methods and the sessions derived from them.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use stowage_core::training::LogInput;

use super::{at, TrainingStore};
use crate::js::{Js, Raw};

#[napi]
impl TrainingStore {
    /// Appends a log line. `level` and `phase` default to `'info'`, `ts` to now; `step` and
    /// `epoch` are kept only when they are finite numbers.
    #[napi(catch_unwind, ts_args_type = "row: LogInsert")]
    pub fn insert_log(&self, env: Env, row: Unknown<'_>) -> Result<()> {
        let js = Js(env.raw());
        let f = "insertLog";
        let row = js.object(row.raw(), at(f, "row"))?;
        let input = LogInput {
            run_id: js.str(js.get(row, "run_id")?, at(f, "row.run_id"))?,
            session_id: js.opt_str(js.get(row, "session_id")?, at(f, "row.session_id"))?,
            level: js.opt_str(js.get(row, "level")?, at(f, "row.level"))?,
            text: js.opt_str(js.get(row, "text")?, at(f, "row.text"))?,
            phase: js.opt_str(js.get(row, "phase")?, at(f, "row.phase"))?,
            step: js.number_if_number(js.get(row, "step")?)?,
            epoch: js.number_if_number(js.get(row, "epoch")?)?,
            ts: js.opt_num(js.get(row, "ts")?, at(f, "row.ts"))?,
        };
        self.run(js, |t| t.insert_log(&input))
    }

    /// The run's log lines by time, then insertion; only `phase` when it is non-empty.
    #[napi(
        catch_unwind,
        ts_args_type = "run_id: string, phase?: string | null",
        ts_return_type = "LogRow[]"
    )]
    pub fn get_logs(&self, env: Env, run_id: Unknown<'_>, phase: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let run_id = js.str(run_id.raw(), at("getLogs", "run_id"))?;
        let phase = js.opt_str(phase.raw(), at("getLogs", "phase"))?;
        js.rows(&self.run(js, |t| t.logs(&run_id, phase.as_deref()))?)
            .map(Raw)
    }

    /// The session's log lines by time, then insertion; only `phase` when it is non-empty.
    #[napi(
        catch_unwind,
        ts_args_type = "session_id: string, phase?: string | null",
        ts_return_type = "LogRow[]"
    )]
    pub fn get_logs_by_session(
        &self,
        env: Env,
        session_id: Unknown<'_>,
        phase: Unknown<'_>,
    ) -> Result<Raw> {
        let js = Js(env.raw());
        let session_id = js.str(session_id.raw(), at("getLogsBySession", "session_id"))?;
        let phase = js.opt_str(phase.raw(), at("getLogsBySession", "phase"))?;
        js.rows(&self.run(js, |t| t.logs_by_session(&session_id, phase.as_deref()))?)
            .map(Raw)
    }

    /// The sessions seen in the logs, most recently active first:
    /// `{ session_id, last_ts, run_count }`.
    #[napi(catch_unwind, ts_return_type = "SessionRow[]")]
    pub fn list_sessions(&self, env: Env) -> Result<Raw> {
        let js = Js(env.raw());
        js.rows(&self.run(js, |t| t.list_sessions())?).map(Raw)
    }

    /// The distinct run ids that logged under the session.
    #[napi(catch_unwind, ts_args_type = "session_id: string")]
    pub fn runs_for_session(&self, env: Env, session_id: Unknown<'_>) -> Result<Vec<String>> {
        let js = Js(env.raw());
        let session_id = js.str(session_id.raw(), at("runsForSession", "session_id"))?;
        self.run(js, |t| t.runs_for_session(&session_id))
    }
}
