//! The store side of the MLflow sync, for the package's `mlflow.js`: its state table and the
//! incremental reads (rows written after a watermark, page by page). These functions take the
//! `TrainingStore` as their first argument and are not part of the documented surface; the
//! sync itself (`syncToMlflow`, `startMlflowSync`) is JS.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use stowage_core::training::mlflow::{Cursor, SyncRun, SyncTable};

use super::{at, TrainingStore};
use crate::js::{Js, Raw, Val};
use crate::rows::float64_array;

fn cursor_value(js: Js, c: &Cursor) -> Result<Val> {
    let obj = js.object_new()?;
    js.set_named(obj, "rowid", js.number(c.rowid as f64)?)?;
    js.set_named(obj, "rows", js.number(c.rows as f64)?)?;
    let opt = |x: Option<f64>| x.map_or_else(|| js.null(), |x| js.number(x));
    js.set_named(obj, "step", opt(c.step)?)?;
    js.set_named(obj, "ts", opt(c.ts)?)?;
    Ok(obj)
}

fn cursor_arg(js: Js, f: &str, arg: &str, v: Val) -> Result<Cursor> {
    let obj = js.object(v, at(f, arg))?;
    let int = |k: &str| -> Result<i64> {
        Ok(js
            .opt_int(js.get(obj, k)?, at(f, &format!("{arg}.{k}")))?
            .unwrap_or(0))
    };
    let num = |k: &str| js.opt_num(js.get(obj, k)?, at(f, &format!("{arg}.{k}")));
    Ok(Cursor {
        rowid: int("rowid")?,
        rows: int("rows")?,
        step: num("step")?,
        ts: num("ts")?,
    })
}

/// The MLflow sync state of every training run on `trackingUri` and `experiment`: `[{ runId,
/// createToken, mlflowRunId, metrics, tests, logsId, pushed, deletedAt }]`, where `metrics` and
/// `tests` are watermarks `{ rowid, rows, step, ts }` and `pushed` is a JSON string.
#[napi(catch_unwind, skip_typescript, js_name = "_mlflowSyncRuns")]
pub fn mlflow_sync_runs(
    env: Env,
    training: &TrainingStore,
    tracking_uri: Unknown<'_>,
    experiment: Unknown<'_>,
) -> Result<Raw> {
    let js = Js(env.raw());
    let f = "_mlflowSyncRuns";
    let uri = js.str(tracking_uri.raw(), at(f, "trackingUri"))?;
    let exp = js.str(experiment.raw(), at(f, "experiment"))?;
    let runs = training.run(js, |t| t.mlflow_sync_runs(&uri, &exp))?;
    let items = runs.iter().map(|s| {
        let obj = js.object_new()?;
        js.set_named(obj, "runId", js.string(&s.run_id)?)?;
        js.set_named(obj, "createToken", js.string(&s.create_token)?)?;
        let id = match &s.mlflow_run_id {
            Some(id) => js.string(id)?,
            None => js.null()?,
        };
        js.set_named(obj, "mlflowRunId", id)?;
        js.set_named(obj, "metrics", cursor_value(js, &s.metrics)?)?;
        js.set_named(obj, "tests", cursor_value(js, &s.tests)?)?;
        js.set_named(obj, "logsId", js.number(s.logs_id as f64)?)?;
        js.set_named(obj, "pushed", js.string(&s.pushed)?)?;
        let deleted = match s.deleted_at {
            Some(t) => js.number(t as f64)?,
            None => js.null()?,
        };
        js.set_named(obj, "deletedAt", deleted)?;
        Ok(obj)
    });
    js.array(items.collect::<Vec<_>>().into_iter()).map(Raw)
}

/// Writes one training run's sync state (the shape `_mlflowSyncRuns` returns), in one
/// autocommitted statement.
#[napi(catch_unwind, skip_typescript, js_name = "_mlflowSyncSave")]
pub fn mlflow_sync_save(
    env: Env,
    training: &TrainingStore,
    tracking_uri: Unknown<'_>,
    experiment: Unknown<'_>,
    state: Unknown<'_>,
) -> Result<()> {
    let js = Js(env.raw());
    let f = "_mlflowSyncSave";
    let uri = js.str(tracking_uri.raw(), at(f, "trackingUri"))?;
    let exp = js.str(experiment.raw(), at(f, "experiment"))?;
    let s = js.object(state.raw(), at(f, "state"))?;
    let run = SyncRun {
        run_id: js.str(js.get(s, "runId")?, at(f, "state.runId"))?,
        create_token: js.str(js.get(s, "createToken")?, at(f, "state.createToken"))?,
        mlflow_run_id: js.opt_str(js.get(s, "mlflowRunId")?, at(f, "state.mlflowRunId"))?,
        metrics: cursor_arg(js, f, "state.metrics", js.get(s, "metrics")?)?,
        tests: cursor_arg(js, f, "state.tests", js.get(s, "tests")?)?,
        logs_id: js
            .opt_int(js.get(s, "logsId")?, at(f, "state.logsId"))?
            .unwrap_or(0),
        pushed: js.str(js.get(s, "pushed")?, at(f, "state.pushed"))?,
        deleted_at: js.opt_int(js.get(s, "deletedAt")?, at(f, "state.deletedAt"))?,
    };
    training.run(js, |t| t.mlflow_sync_save(&uri, &exp, &run))
}

/// Forgets a training run's MLflow run on `trackingUri` and `experiment`; true when there was
/// one.
#[napi(catch_unwind, skip_typescript, js_name = "_mlflowSyncForget")]
pub fn mlflow_sync_forget(
    env: Env,
    training: &TrainingStore,
    tracking_uri: Unknown<'_>,
    experiment: Unknown<'_>,
    run_id: Unknown<'_>,
) -> Result<bool> {
    let js = Js(env.raw());
    let f = "_mlflowSyncForget";
    let uri = js.str(tracking_uri.raw(), at(f, "trackingUri"))?;
    let exp = js.str(experiment.raw(), at(f, "experiment"))?;
    let run_id = js.str(run_id.raw(), at(f, "runId"))?;
    training.run(js, |t| t.mlflow_sync_forget(&uri, &exp, &run_id))
}

/// The rowid to resume `table` (`'metrics'` or `'tests'`) of the run after, given its watermark
/// `{ rowid, rows, step, ts }`: re-found by counting when rowids were renumbered, `null` when
/// the rows the watermark describes are gone.
#[napi(catch_unwind, skip_typescript, js_name = "_mlflowResume")]
pub fn mlflow_resume(
    env: Env,
    training: &TrainingStore,
    table: Unknown<'_>,
    run_id: Unknown<'_>,
    cursor: Unknown<'_>,
) -> Result<Option<f64>> {
    let js = Js(env.raw());
    let f = "_mlflowResume";
    let (table, run_id) = table_and_run(js, f, table, run_id)?;
    let c = cursor_arg(js, f, "cursor", cursor.raw())?;
    training
        .run(js, |t| t.mlflow_resume(table, &run_id, &c))
        .map(|r| r.map(|x| x as f64))
}

/// Up to `limit` rows of the run in `table` after rowid `after`, in insertion order, as columns
/// of `Float64Array`s (NULL as NaN): `rowid, step, ts` and the eleven metrics or the test `loss`.
#[napi(catch_unwind, skip_typescript, js_name = "_mlflowRowsAfter")]
pub fn mlflow_rows_after(
    env: Env,
    training: &TrainingStore,
    table: Unknown<'_>,
    run_id: Unknown<'_>,
    after: Unknown<'_>,
    limit: Unknown<'_>,
) -> Result<Raw> {
    let js = Js(env.raw());
    let f = "_mlflowRowsAfter";
    let (table, run_id) = table_and_run(js, f, table, run_id)?;
    let after = js.opt_int(after.raw(), at(f, "after"))?.unwrap_or(0);
    let limit = js
        .opt_int(limit.raw(), at(f, "limit"))?
        .unwrap_or(0)
        .clamp(0, 1 << 20);
    let rows = training.run(js, |t| {
        t.mlflow_rows_after(table, &run_id, after, limit as usize)
    })?;
    let out = js.object_new()?;
    for (name, col) in rows.columns.iter().zip(&rows.data) {
        let xs = col.to_f64s().map_err(|i| {
            js.range_error(
                at(f, "runId"),
                &format!("has the integer {i} in '{name}', which the sync cannot send exactly"),
            )
        })?;
        js.set_named(out, name, float64_array(js, &xs)?)?;
    }
    Ok(Raw(out))
}

/// The number of rows of the run in `table` after rowid `after`.
#[napi(catch_unwind, skip_typescript, js_name = "_mlflowCountAfter")]
pub fn mlflow_count_after(
    env: Env,
    training: &TrainingStore,
    table: Unknown<'_>,
    run_id: Unknown<'_>,
    after: Unknown<'_>,
) -> Result<f64> {
    let js = Js(env.raw());
    let f = "_mlflowCountAfter";
    let (table, run_id) = table_and_run(js, f, table, run_id)?;
    let after = js.opt_int(after.raw(), at(f, "after"))?.unwrap_or(0);
    training
        .run(js, |t| t.mlflow_count_after(table, &run_id, after))
        .map(|n| n as f64)
}

/// Up to `limit` log lines of the run with an id above `after`, by id: `{ id, level, phase,
/// step, epoch, text, ts }`.
#[napi(catch_unwind, skip_typescript, js_name = "_mlflowLogsAfter")]
pub fn mlflow_logs_after(
    env: Env,
    training: &TrainingStore,
    run_id: Unknown<'_>,
    after: Unknown<'_>,
    limit: Unknown<'_>,
) -> Result<Raw> {
    let js = Js(env.raw());
    let f = "_mlflowLogsAfter";
    let run_id = js.str(run_id.raw(), at(f, "runId"))?;
    let after = js.opt_int(after.raw(), at(f, "after"))?.unwrap_or(0);
    let limit = js
        .opt_int(limit.raw(), at(f, "limit"))?
        .unwrap_or(0)
        .clamp(0, 1 << 20);
    let rows = training.run(js, |t| t.mlflow_logs_after(&run_id, after, limit as usize))?;
    js.rows(&rows).map(Raw)
}

/// The highest log id of the run (0 when it has no lines).
#[napi(catch_unwind, skip_typescript, js_name = "_mlflowLastLogId")]
pub fn mlflow_last_log_id(env: Env, training: &TrainingStore, run_id: Unknown<'_>) -> Result<f64> {
    let js = Js(env.raw());
    let run_id = js.str(run_id.raw(), at("_mlflowLastLogId", "runId"))?;
    training
        .run(js, |t| t.mlflow_last_log_id(&run_id))
        .map(|n| n as f64)
}

/// The run's checkpoints and final models: `{ kind, id, step, path }` (`kind` is `'checkpoint'`
/// or `'final_model'`), rows without a path left out.
#[napi(catch_unwind, skip_typescript, js_name = "_mlflowFiles")]
pub fn mlflow_files(env: Env, training: &TrainingStore, run_id: Unknown<'_>) -> Result<Raw> {
    let js = Js(env.raw());
    let run_id = js.str(run_id.raw(), at("_mlflowFiles", "runId"))?;
    js.rows(&training.run(js, |t| t.mlflow_files(&run_id))?)
        .map(Raw)
}

/// The `(table, runId)` arguments of the row readers.
fn table_and_run(
    js: Js,
    f: &str,
    table: Unknown<'_>,
    run_id: Unknown<'_>,
) -> Result<(SyncTable, String)> {
    let table =
        SyncTable::from_name(&js.str(table.raw(), at(f, "table"))?).map_err(|e| js.core(e))?;
    Ok((table, js.str(run_id.raw(), at(f, "runId"))?))
}
