//! Columnar reads and writes for charts: `getRunColumns`, `getRunSeries`,
//! `insertMetricColumns`.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use stowage_core::training::series::{SeriesQuery, SERIES_METRICS};
use stowage_core::training::METRIC_COLUMNS;

use super::{at, TrainingStore};
use crate::js::{At, Js, Raw, Val};
use crate::rows::float64_array;

/// The `fromStep`/`toStep` of an options object.
fn step_range(js: Js, f: &str, options: Val) -> Result<(Option<f64>, Option<f64>)> {
    Ok((
        js.opt_num(js.get(options, "fromStep")?, at(f, "options.fromStep"))?,
        js.opt_num(js.get(options, "toStep")?, at(f, "options.toStep"))?,
    ))
}

/// An options object, or an empty one for `undefined`/`null`.
fn options(js: Js, f: &str, v: Val) -> Result<Val> {
    if js.is_nullish(v)? {
        js.object_new()
    } else {
        js.object(v, at(f, "options"))
    }
}

/// A column of numbers: a numeric typed array, or an array of numbers and `null`s (NaN).
fn number_column(js: Js, v: Val, at: At<'_>) -> Result<Vec<f64>> {
    if let Some(xs) = js.typed_numbers(v)? {
        return Ok(xs);
    }
    if !js.is_array(v)? {
        return Err(js.type_error(at, "a Float64Array or an array of numbers", v));
    }
    js.map_items(v, at, |i, item| {
        js.opt_num(
            item,
            At {
                func: at.func,
                arg: &format!("{}[{i}]", at.arg),
            },
        )
        .map(|x| x.unwrap_or(f64::NAN))
    })
}

#[napi]
impl TrainingStore {
    /// The run's `step` and metrics as columns, for charts: `{ step: Float64Array, loss:
    /// Float64Array, … }`, rows in `getRunRows` order, NULL as NaN. `options.metrics` picks the
    /// metrics (default: all eleven); `fromStep`/`toStep` limit the steps (inclusive).
    #[napi(
        catch_unwind,
        ts_args_type = "run_id: string, options?: { metrics?: MetricName[]; fromStep?: number; toStep?: number }",
        ts_return_type = "RunColumns"
    )]
    pub fn get_run_columns(
        &self,
        env: Env,
        run_id: Unknown<'_>,
        options_v: Unknown<'_>,
    ) -> Result<Raw> {
        let js = Js(env.raw());
        let f = "getRunColumns";
        let run_id = js.str(run_id.raw(), at(f, "run_id"))?;
        let opts = options(js, f, options_v.raw())?;
        let list = js.get(opts, "metrics")?;
        let metrics: Vec<String> = if js.is_nullish(list)? {
            SERIES_METRICS.iter().map(|m| m.to_string()).collect()
        } else if js.is_array(list)? {
            js.map_items(list, at(f, "options.metrics"), |i, m| {
                js.str(m, at(f, &format!("options.metrics[{i}]")))
            })?
        } else {
            return Err(js.type_error(at(f, "options.metrics"), "an array of metric names", list));
        };
        let (from, to) = step_range(js, f, opts)?;
        let names: Vec<&str> = metrics.iter().map(String::as_str).collect();
        let rows = self.run(js, |t| t.run_columns(&run_id, &names, from, to))?;
        let out = js.object_new()?;
        for (name, col) in rows.columns.iter().zip(&rows.data) {
            let xs = col.to_f64s().map_err(|i| {
                js.range_error(
                    at(f, "run_id"),
                    &format!(
                        "has the integer {i} in '{name}', which a Float64Array cannot hold \
                         exactly; getRunRows returns it as a BigInt"
                    ),
                )
            })?;
            js.set_named(out, name, float64_array(js, &xs)?)?;
        }
        Ok(Raw(out))
    }

    /// A chart series of one metric of a long run: at most `maxPoints` (default 1000) buckets
    /// of `bucketSize` steps (a power of two), each with the exact `count`, `min`, `max`, `mean`
    /// and `last` value of its rows and their first and last step; empty buckets are left out.
    /// Its cost does not grow with the run's length: a multi-resolution summary is kept, folded
    /// from the rows added since the previous call.
    #[napi(
        catch_unwind,
        ts_args_type = "run_id: string, metric: MetricName, options?: { maxPoints?: number; fromStep?: number; toStep?: number }",
        ts_return_type = "RunSeries"
    )]
    pub fn get_run_series(
        &self,
        env: Env,
        run_id: Unknown<'_>,
        metric: Unknown<'_>,
        options_v: Unknown<'_>,
    ) -> Result<Raw> {
        let js = Js(env.raw());
        let f = "getRunSeries";
        let run_id = js.str(run_id.raw(), at(f, "run_id"))?;
        let metric = js.str(metric.raw(), at(f, "metric"))?;
        let opts = options(js, f, options_v.raw())?;
        let max_points = js
            .opt_num(js.get(opts, "maxPoints")?, at(f, "options.maxPoints"))?
            .unwrap_or(1000.0);
        if !((1.0..=1e7).contains(&max_points) && max_points.fract() == 0.0) {
            return Err(js.core(stowage_core::Error::InvalidArg(format!(
                "{f}: options.maxPoints must be a whole number from 1 to 10,000,000, not {max_points}"
            ))));
        }
        let (from_step, to_step) = step_range(js, f, opts)?;
        let q = SeriesQuery {
            max_points: max_points as usize,
            from_step,
            to_step,
        };
        let series = self.run(js, |t| t.run_series(&run_id, &metric, &q))?;
        let b = &series.buckets;
        let col = |get: fn(&stowage_core::training::series::Agg) -> f64| {
            float64_array(js, &b.iter().map(get).collect::<Vec<_>>())
        };
        let out = js.object_new()?;
        js.set_named(out, "metric", js.string(&metric)?)?;
        js.set_named(out, "bucketSize", js.number(series.bucket_size)?)?;
        js.set_named(out, "fromStep", col(|a| a.first_step)?)?;
        js.set_named(out, "toStep", col(|a| a.last_step)?)?;
        js.set_named(out, "count", col(|a| a.count as f64)?)?;
        js.set_named(out, "min", col(|a| a.min)?)?;
        js.set_named(out, "max", col(|a| a.max)?)?;
        js.set_named(out, "mean", col(|a| a.mean())?)?;
        js.set_named(out, "last", col(|a| a.last)?)?;
        Ok(Raw(out))
    }

    /// The fast path of `insertMetricBatch`, for index.js: the rows' twelve metric columns one
    /// after the other in `values` (NaN for NULL), the row's run as an index into `runs`.
    #[napi(catch_unwind, skip_typescript, js_name = "_insertMetricBlock")]
    pub fn insert_metric_block(
        &self,
        env: Env,
        values: Unknown<'_>,
        runs: Unknown<'_>,
        run_of: Unknown<'_>,
    ) -> Result<u32> {
        let js = Js(env.raw());
        let f = "insertMetric.batch";
        // The run ids first: reading them can run JS (an index getter), which could detach the
        // typed arrays' buffers while their slices below are in use.
        let runs = js.strings(runs.raw(), at(f, "runs"))?;
        let values: &[f64] = js
            .typed_slice(values.raw(), sys::TypedarrayType::float64_array)?
            .ok_or_else(|| js.type_error(at(f, "values"), "a Float64Array", values.raw()))?;
        let run_of: &[u32] = js
            .typed_slice(run_of.raw(), sys::TypedarrayType::uint32_array)?
            .ok_or_else(|| js.type_error(at(f, "runOf"), "a Uint32Array", run_of.raw()))?;
        let n = run_of.len();
        if values.len() != n * METRIC_COLUMNS.len() {
            return Err(js.core(stowage_core::Error::InvalidArg(format!(
                "{f}: {} values for {n} rows",
                values.len()
            ))));
        }
        let mut cols: [Option<&[f64]>; 12] = [None; 12];
        for (c, col) in cols.iter_mut().enumerate() {
            *col = Some(&values[c * n..(c + 1) * n]);
        }
        let runs: Vec<&str> = runs.iter().map(String::as_str).collect();
        self.run(js, |t| t.insert_metric_block(&runs, run_of, &cols))
            .map(|n| n as u32)
    }

    /// Appends many steps of one run from columns — `{ step, loss?, val_loss?, … }`, each a
    /// `Float64Array` (or an array of numbers) of the same length, NaN or `null` stored as NULL —
    /// in one transaction sharing one `ts`. Returns the number of rows written.
    #[napi(
        catch_unwind,
        ts_args_type = "run_id: string, columns: MetricColumnsInput"
    )]
    pub fn insert_metric_columns(
        &self,
        env: Env,
        run_id: Unknown<'_>,
        columns: Unknown<'_>,
    ) -> Result<u32> {
        let js = Js(env.raw());
        let f = "insertMetricColumns";
        let run_id = js.str(run_id.raw(), at(f, "run_id"))?;
        let cols = js.object(columns.raw(), at(f, "columns"))?;
        let steps = number_column(js, js.get(cols, "step")?, at(f, "columns.step"))?;
        let mut given = Vec::new();
        for (i, name) in METRIC_COLUMNS.iter().enumerate().skip(1) {
            let v = js.get(cols, name)?;
            if !js.is_nullish(v)? {
                given.push((i, number_column(js, v, at(f, &format!("columns.{name}")))?));
            }
        }
        let refs: Vec<(usize, &[f64])> = given.iter().map(|(i, v)| (*i, v.as_slice())).collect();
        self.run(js, |t| t.insert_metric_columns(&run_id, &steps, &refs))
            .map(|n| n as u32)
    }
}
