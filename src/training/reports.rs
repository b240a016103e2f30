//! `report_loss_dist` and `run_subsets` methods.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use stowage_core::training::ReportInput;

use super::{at, TrainingStore};
use crate::js::{At, Js, Raw, Val};

#[napi]
impl TrainingStore {
    /// Stores the per-sample loss distribution of a run on its `train` or `val` subset,
    /// replacing the previous one. `samples` defaults to the number of losses; non-finite
    /// losses are stored as `null`; indices are truncated to integers.
    #[napi(
        catch_unwind,
        ts_args_type = "run_id: string, subset_on: 'train' | 'val' | (string & {}), payload: ReportLossDistPayload"
    )]
    pub fn upsert_report_loss_dist(
        &self,
        env: Env,
        run_id: Unknown<'_>,
        subset_on: Unknown<'_>,
        payload: Unknown<'_>,
    ) -> Result<()> {
        let js = Js(env.raw());
        let f = "upsertReportLossDist";
        let run_id = js.str(run_id.raw(), at(f, "run_id"))?;
        let subset_on = js.str(subset_on.raw(), at(f, "subset_on"))?;
        let p = js.object(payload.raw(), at(f, "payload"))?;
        let losses_v = js.get(p, "losses")?;
        let samples = js.opt_num(js.get(p, "samples")?, at(f, "payload.samples"))?;
        let losses = if samples.is_none() {
            Self::numbers(js, losses_v, f, "payload.losses")?
        } else {
            Self::numbers_or_empty(js, losses_v, f, "payload.losses")?
        };
        let indices_v = js.get(p, "sample_indices")?;
        let sample_indices = if !js.truthy(indices_v)? {
            Vec::new()
        } else if let Some(xs) = js.typed_numbers(indices_v)? {
            xs
        } else if js.is_array(indices_v)? {
            js.map_items(indices_v, at(f, "payload.sample_indices"), |i, item| {
                number_coerced(js, item, at(f, &format!("payload.sample_indices[{i}]")))
            })?
        } else {
            return Err(js.type_error(
                at(f, "payload.sample_indices"),
                "an array of numbers",
                indices_v,
            ));
        };
        let input = ReportInput {
            losses,
            sample_indices,
            note: js.opt_str(js.get(p, "note")?, at(f, "payload.note"))?,
            at_step: js.opt_num(js.get(p, "at_step")?, at(f, "payload.at_step"))?,
            at_epoch: js.opt_num(js.get(p, "at_epoch")?, at(f, "payload.at_epoch"))?,
            samples,
        };
        self.run(js, |t| {
            t.upsert_report_loss_dist(&run_id, &subset_on, &input)
        })
    }

    /// The run's loss distribution, normalised as the original reader did, or `null`.
    #[napi(
        catch_unwind,
        ts_args_type = "run_id: string, subset_on: 'train' | 'val' | (string & {})",
        ts_return_type = "ReportLossDist | null"
    )]
    pub fn get_report_loss_dist(
        &self,
        env: Env,
        run_id: Unknown<'_>,
        subset_on: Unknown<'_>,
    ) -> Result<Raw> {
        let js = Js(env.raw());
        let f = "getReportLossDist";
        let run_id = js.str(run_id.raw(), at(f, "run_id"))?;
        let subset_on = js.str(subset_on.raw(), at(f, "subset_on"))?;
        let Some(r) = self.run(js, |t| t.report_loss_dist(&run_id, &subset_on))? else {
            return js.null().map(Raw);
        };
        let numbers = |xs: &[f64]| {
            js.array(
                xs.iter()
                    .map(|x| js.number(*x))
                    .collect::<Vec<_>>()
                    .into_iter(),
            )
        };
        let obj = js.object_new()?;
        js.set_named(obj, "run_id", js.string(&r.run_id)?)?;
        js.set_named(obj, "subset_on", js.string(&r.subset_on)?)?;
        js.set_named(obj, "losses", numbers(&r.losses)?)?;
        js.set_named(obj, "sample_indices", numbers(&r.sample_indices)?)?;
        js.set_named(obj, "note", js.value(&r.note)?)?;
        js.set_named(obj, "at_step", js.value(&r.at_step)?)?;
        js.set_named(obj, "at_epoch", js.value(&r.at_epoch)?)?;
        js.set_named(obj, "samples", js.number(r.samples)?)?;
        Ok(Raw(obj))
    }

    /// Stores the sample subset of a run (replacing the previous one).
    #[napi(catch_unwind, ts_args_type = "run_id: string, indices: number[]")]
    pub fn set_run_subset(
        &self,
        env: Env,
        run_id: Unknown<'_>,
        indices: Unknown<'_>,
    ) -> Result<()> {
        let js = Js(env.raw());
        let f = "setRunSubset";
        let run_id = js.str(run_id.raw(), at(f, "run_id"))?;
        let indices = Self::numbers_or_empty(js, indices.raw(), f, "indices")?;
        self.run(js, |t| t.set_run_subset(&run_id, &indices))
    }

    /// The run's sample subset: the stored values that are non-negative integers.
    #[napi(
        catch_unwind,
        ts_args_type = "run_id: string",
        ts_return_type = "number[]"
    )]
    pub fn get_run_subset(&self, env: Env, run_id: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let run_id = js.str(run_id.raw(), at("getRunSubset", "run_id"))?;
        let xs = self.run(js, |t| t.run_subset(&run_id))?;
        js.array(
            xs.iter()
                .map(|x| js.number(*x))
                .collect::<Vec<_>>()
                .into_iter(),
        )
        .map(Raw)
    }
}

/// JS `Number(v)` for the values a sample index list may hold (numbers, `null`, `undefined`,
/// booleans, numeric strings, BigInts); other types are a `TypeError`.
fn number_coerced(js: Js, v: Val, at: At<'_>) -> Result<f64> {
    Ok(match js.type_of(v)? {
        sys::ValueType::napi_number => js.read_f64(v)?,
        // `Number(bigint)` rounds to the nearest double; parsing its decimal form does the same.
        sys::ValueType::napi_bigint => js.js_string(v, at)?.parse::<f64>().unwrap_or(f64::NAN),
        sys::ValueType::napi_null => 0.0,
        sys::ValueType::napi_undefined => f64::NAN,
        sys::ValueType::napi_boolean => f64::from(u8::from(js.truthy(v)?)),
        sys::ValueType::napi_string => stowage_core::jsnum::string_to_number(&js.js_string(v, at)?),
        _ => return Err(js.type_error(at, "a number", v)),
    })
}
