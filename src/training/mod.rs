//! `TrainingStore`: the drop-in methods of OnTheFly's `storage.ts` on one open file.
//!
//! Argument checking and result building happen here; every operation is one call into
//! `stowage_core::training`. The methods are grouped like the core's modules: runs, metrics,
//! checkpoints and summaries here; logs, reports and bundles in the submodules.

mod bundle;
mod columns;
mod logs;
mod mlflow;
mod reports;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use stowage_core::training::{FinalModelInput, MetricInput, Training, METRIC_COLUMNS};

use crate::handle::Handle;
use crate::js::{at, Js, Raw, Val};
use crate::stores::{member, Binding};

/// The training store's binding: `store.training`; it has no options.
pub(crate) const BINDING: Binding = Binding {
    store: "training",
    config: None,
    members: |env, handle| {
        let training = TrainingStore {
            handle: handle.clone(),
        };
        Ok(vec![("training", member(env, training)?)])
    },
};

/// The training store of an open file: OnTheFly's `storage.ts` functions as methods, with the
/// same arguments, results, row shapes and orderings. The package's module-level functions
/// (`insertRun`, `listRuns`, ...) call these on the default store opened by `initStorage`.
#[napi]
pub struct TrainingStore {
    pub(crate) handle: Handle,
}

impl TrainingStore {
    pub(crate) fn run<T>(
        &self,
        js: Js,
        f: impl FnOnce(Training<'_>) -> stowage_core::Result<T>,
    ) -> Result<T> {
        self.handle.with(js, |db| f(db.training()?))
    }

    /// The property keys of a metric row, made once per call.
    fn metric_keys(js: Js) -> Result<[Val; 12]> {
        let mut keys = [std::ptr::null_mut(); 12];
        for (k, field) in keys.iter_mut().zip(METRIC_COLUMNS) {
            *k = js.string(field)?;
        }
        Ok(keys)
    }

    /// The metric fields of the object `row`, named `<prefix>.<field>` in errors (the name is
    /// only built for an error).
    fn metric(
        js: Js,
        keys: &[Val; 12],
        func: &str,
        prefix: &dyn Fn() -> String,
        row: Val,
    ) -> Result<MetricInput> {
        let mut vals = [None; 12];
        for ((slot, field), key) in vals.iter_mut().zip(METRIC_COLUMNS).zip(keys) {
            let v = js.get_key(row, *key)?;
            *slot = match js.number_value(v) {
                Some(x) => Some(x),
                None => js.opt_num(v, at(func, &format!("{}.{field}", prefix())))?,
            };
        }
        let [step, epoch, loss, val_loss, accuracy, lr, grad_norm, weight_norm, activation_zero_frac, throughput, mem_vram, gpu_util] =
            vals;
        Ok(MetricInput {
            step,
            epoch,
            loss,
            val_loss,
            accuracy,
            lr,
            grad_norm,
            weight_norm,
            activation_zero_frac,
            throughput,
            mem_vram,
            gpu_util,
        })
    }

    /// A list of numbers: an array (items number, `null` or `undefined`) or a typed array.
    pub(crate) fn numbers(js: Js, v: Val, func: &str, arg: &str) -> Result<Vec<Option<f64>>> {
        if let Some(xs) = js.typed_numbers(v)? {
            return Ok(xs.into_iter().map(Some).collect());
        }
        if !js.is_array(v)? {
            return Err(js.type_error(at(func, arg), "an array of numbers", v));
        }
        js.map_items(v, at(func, arg), |i, item| {
            js.opt_num(item, at(func, &format!("{arg}[{i}]")))
        })
    }

    /// `Array.from(v || [])` for number lists.
    pub(crate) fn numbers_or_empty(
        js: Js,
        v: Val,
        func: &str,
        arg: &str,
    ) -> Result<Vec<Option<f64>>> {
        if js.truthy(v)? {
            Self::numbers(js, v, func, arg)
        } else {
            Ok(Vec::new())
        }
    }
}

#[napi]
impl TrainingStore {
    /// Throws `ERR_ILLEGAL_CONSTRUCTOR`: a `TrainingStore` is `openStore(path).training`.
    #[napi(constructor, skip_typescript)]
    pub fn new(env: Env) -> Result<Self> {
        Err(Js(env.raw()).illegal_constructor("TrainingStore", "use openStore(path).training"))
    }

    /// Records a run once and sets its parents.
    ///
    /// An existing run keeps its project, name, primary parent and creation time (`INSERT OR
    /// IGNORE`), but its parent edges are replaced by `parents`, in order. `parents` may be an
    /// array (falsy items dropped, others turned into strings), one id, or `null`/`''` for none.
    /// `project` and `name` may also be `null` at run time (stored as NULL).
    #[napi(
        catch_unwind,
        ts_args_type = "run_id: string, project: string, name: string, parents?: string[] | string | null"
    )]
    pub fn insert_run(
        &self,
        env: Env,
        run_id: Unknown<'_>,
        project: Unknown<'_>,
        name: Unknown<'_>,
        parents: Unknown<'_>,
    ) -> Result<()> {
        let js = Js(env.raw());
        let f = "insertRun";
        let run_id = js.str(run_id.raw(), at(f, "run_id"))?;
        let project = js.opt_str(project.raw(), at(f, "project"))?;
        let name = js.opt_str(name.raw(), at(f, "name"))?;
        let parents = parents.raw();
        let list = if js.is_array(parents)? {
            js.map_items(parents, at(f, "parents"), |i, item| {
                if js.truthy(item)? {
                    js.js_string(item, at(f, &format!("parents[{i}]")))
                        .map(Some)
                } else {
                    Ok(None)
                }
            })?
            .into_iter()
            .flatten()
            .collect()
        } else if js.is_nullish(parents)?
            || js.type_of(parents)? == sys::ValueType::napi_string && !js.truthy(parents)?
        {
            Vec::new()
        } else {
            vec![js.js_string(parents, at(f, "parents"))?]
        };
        self.run(js, |t| {
            t.insert_run(&run_id, project.as_deref(), name.as_deref(), &list)
        })
    }

    /// Every run, newest first: all columns of `runs` (legacy ones such as `mode` included) plus
    /// `parents`, the run's parent ids in the order they were recorded.
    #[napi(catch_unwind, ts_return_type = "RunRow[]")]
    pub fn list_runs(&self, env: Env) -> Result<Raw> {
        let js = Js(env.raw());
        let list = self.run(js, |t| t.list_runs())?;
        let parents = list
            .parents
            .iter()
            .map(|ps| {
                js.array(
                    ps.iter()
                        .map(|p| js.string(p))
                        .collect::<Vec<_>>()
                        .into_iter(),
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let extra = crate::rows::Extra {
            name: "parents",
            values: parents,
        };
        crate::rows::objects(js, &list.rows, Some(extra)).map(Raw)
    }

    /// Records a checkpoint file; a repeated `ckpt_id` replaces the row.
    #[napi(
        catch_unwind,
        ts_args_type = "ckpt_id: string, run_id: string, step: number, p: string"
    )]
    pub fn insert_checkpoint(
        &self,
        env: Env,
        ckpt_id: Unknown<'_>,
        run_id: Unknown<'_>,
        step: Unknown<'_>,
        p: Unknown<'_>,
    ) -> Result<()> {
        let js = Js(env.raw());
        let f = "insertCheckpoint";
        let ckpt_id = js.str(ckpt_id.raw(), at(f, "ckpt_id"))?;
        let run_id = js.opt_str(run_id.raw(), at(f, "run_id"))?;
        let step = js.opt_num(step.raw(), at(f, "step"))?;
        let p = js.opt_str(p.raw(), at(f, "p"))?;
        self.run(js, |t| {
            t.insert_checkpoint(&ckpt_id, run_id.as_deref(), step, p.as_deref())
        })
    }

    /// The run's checkpoint with the highest step (newest on ties), or `null` when there is
    /// none or its path is empty.
    #[napi(
        catch_unwind,
        ts_args_type = "run_id: string",
        ts_return_type = "{ path: string; step: number } | null"
    )]
    pub fn latest_checkpoint_for_run(&self, env: Env, run_id: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let run_id = js.str(run_id.raw(), at("latestCheckpointForRun", "run_id"))?;
        match self.run(js, |t| t.latest_checkpoint_for_run(&run_id))? {
            None => js.null().map(Raw),
            Some(c) => {
                let obj = js.object_new()?;
                js.set_named(obj, "path", js.value(&c.path)?)?;
                js.set_named(obj, "step", js.number(c.step)?)?;
                Ok(Raw(obj))
            }
        }
    }

    /// Appends one metric row (its own transaction). `ts` is always the current time; missing
    /// fields are stored as NULL.
    #[napi(catch_unwind, ts_args_type = "run_id: string, row: MetricInsertRow")]
    pub fn insert_metric(&self, env: Env, run_id: Unknown<'_>, row: Unknown<'_>) -> Result<()> {
        let js = Js(env.raw());
        let f = "insertMetric";
        let run_id = js.str(run_id.raw(), at(f, "run_id"))?;
        let row = js.object(row.raw(), at(f, "row"))?;
        let m = Self::metric(js, &Self::metric_keys(js)?, f, &|| "row".into(), row)?;
        self.run(js, |t| t.insert_metric(&run_id, &m))
    }

    /// Appends many metric rows, each with its own `run_id`, in one transaction sharing one
    /// `ts`: all rows are written or none. An empty array does nothing. The module-level
    /// function is `insertMetric.batch(rows)`.
    #[napi(catch_unwind, ts_args_type = "rows: MetricBatchRow[]")]
    pub fn insert_metric_batch(&self, env: Env, rows: Unknown<'_>) -> Result<()> {
        let js = Js(env.raw());
        let f = "insertMetric.batch";
        let rows = rows.raw();
        if !js.is_array(rows)? {
            return Err(js.type_error(at(f, "rows"), "an array", rows));
        }
        let keys = Self::metric_keys(js)?;
        let run_key = js.string("run_id")?;
        let batch = js.map_items(rows, at(f, "rows"), |i, row| {
            let prefix = || format!("rows[{i}]");
            let row = js.object(row, at(f, &prefix()))?;
            let run_id = js.str(
                js.get_key(row, run_key)?,
                at(f, &format!("{}.run_id", prefix())),
            )?;
            Ok((run_id, Self::metric(js, &keys, f, &prefix, row)?))
        })?;
        self.run(js, |t| t.insert_metrics(&batch))
    }

    /// The run's metric rows by step: `{ step, epoch, loss, val_loss, accuracy, lr, grad_norm,
    /// weight_norm, activation_zero_frac, throughput, mem_vram, gpu_util }`.
    #[napi(
        catch_unwind,
        ts_args_type = "run_id: string",
        ts_return_type = "MetricRow[]"
    )]
    pub fn get_run_rows(&self, env: Env, run_id: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let run_id = js.str(run_id.raw(), at("getRunRows", "run_id"))?;
        js.rows(&self.run(js, |t| t.run_rows(&run_id))?).map(Raw)
    }

    /// Creates or updates the run's summary; a missing value keeps the stored one.
    #[napi(
        catch_unwind,
        ts_args_type = "run_id: string, final_loss?: number | null, val_loss?: number | null"
    )]
    pub fn upsert_summary(
        &self,
        env: Env,
        run_id: Unknown<'_>,
        final_loss: Unknown<'_>,
        val_loss: Unknown<'_>,
    ) -> Result<()> {
        let js = Js(env.raw());
        let f = "upsertSummary";
        let run_id = js.str(run_id.raw(), at(f, "run_id"))?;
        let final_loss = js.opt_num(final_loss.raw(), at(f, "final_loss"))?;
        let val_loss = js.opt_num(val_loss.raw(), at(f, "val_loss"))?;
        self.run(js, |t| t.upsert_summary(&run_id, final_loss, val_loss))
    }

    /// The run's summary as an array of zero or one `{ run_id, final_loss, val_loss }`.
    #[napi(
        catch_unwind,
        ts_args_type = "run_id: string",
        ts_return_type = "SummaryRow[]"
    )]
    pub fn get_run_summary(&self, env: Env, run_id: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let run_id = js.str(run_id.raw(), at("getRunSummary", "run_id"))?;
        js.rows(&self.run(js, |t| t.run_summary(&run_id))?).map(Raw)
    }

    /// Records whether the trainer saves every checkpoint (`kv` key `saving`). The first
    /// argument (a `vscode.ExtensionContext` in the original) is ignored.
    #[napi(catch_unwind, ts_args_type = "context: unknown, on: boolean")]
    pub fn set_saving_everything(
        &self,
        env: Env,
        _context: Unknown<'_>,
        on: Unknown<'_>,
    ) -> Result<()> {
        let js = Js(env.raw());
        let on = js.truthy(on.raw())?;
        self.run(js, |t| t.set_saving_everything(on))
    }

    /// True when the saving flag was last set on.
    #[napi(catch_unwind)]
    pub fn is_saving_everything(&self, env: Env) -> Result<bool> {
        self.run(Js(env.raw()), |t| t.is_saving_everything())
    }

    /// Appends a test-batch loss. A missing or non-finite loss is stored as NULL (the original
    /// stored `null` as 0; see COMPATIBILITY.md).
    #[napi(
        catch_unwind,
        ts_args_type = "run_id: string, step: number, loss: number | null"
    )]
    pub fn insert_test_metric(
        &self,
        env: Env,
        run_id: Unknown<'_>,
        step: Unknown<'_>,
        loss: Unknown<'_>,
    ) -> Result<()> {
        let js = Js(env.raw());
        let f = "insertTestMetric";
        let run_id = js.str(run_id.raw(), at(f, "run_id"))?;
        let step = js.opt_num(step.raw(), at(f, "step"))?;
        let loss = js.opt_num(loss.raw(), at(f, "loss"))?;
        self.run(js, |t| t.insert_test_metric(&run_id, step, loss))
    }

    /// The run's test losses by step: `{ step, loss }`.
    #[napi(
        catch_unwind,
        ts_args_type = "run_id: string",
        ts_return_type = "TestRow[]"
    )]
    pub fn get_test_rows(&self, env: Env, run_id: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let run_id = js.str(run_id.raw(), at("getTestRows", "run_id"))?;
        js.rows(&self.run(js, |t| t.test_rows(&run_id))?).map(Raw)
    }

    /// Records the model a session settled on (one per session, replaced on update). A missing
    /// or non-finite `avg_test_loss` is stored as NULL (the original stored `null` as 0).
    #[napi(catch_unwind, ts_args_type = "row: FinalModelRow")]
    pub fn upsert_final_model(&self, env: Env, row: Unknown<'_>) -> Result<()> {
        let js = Js(env.raw());
        let f = "upsertFinalModel";
        let row = js.object(row.raw(), at(f, "row"))?;
        let input = FinalModelInput {
            session_id: js.str(js.get(row, "session_id")?, at(f, "row.session_id"))?,
            run_id: js.opt_str(js.get(row, "run_id")?, at(f, "row.run_id"))?,
            ckpt_path: js.opt_str(js.get(row, "ckpt_path")?, at(f, "row.ckpt_path"))?,
            step: js.opt_num(js.get(row, "step")?, at(f, "row.step"))?,
            avg_test_loss: js.opt_num(js.get(row, "avg_test_loss")?, at(f, "row.avg_test_loss"))?,
        };
        self.run(js, |t| t.upsert_final_model(&input))
    }

    /// The session's final model, or `null`.
    #[napi(
        catch_unwind,
        ts_args_type = "session_id: string",
        ts_return_type = "FinalModelRecord | null"
    )]
    pub fn get_final_model(&self, env: Env, session_id: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let session_id = js.str(session_id.raw(), at("getFinalModel", "session_id"))?;
        match self.run(js, |t| t.final_model(&session_id))? {
            None => js.null().map(Raw),
            Some(rows) => js.element(js.rows(&rows)?, 0).map(Raw),
        }
    }
}
