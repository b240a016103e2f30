//! Result rows as JS objects, fast.
//!
//! Creating objects property by property through Node-API costs two calls per value. Instead the
//! rows travel column by column (numbers as one `Float64Array`, text as a few strings of whole
//! values with a `Uint32Array` of where each value is, other values as an array) and a small JS
//! function builds the objects with one object literal per row, which V8 allocates with a fixed
//! shape. The function is generated for each column signature, compiled once per JS environment
//! and cached.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::c_void;
use std::ptr;

use napi::{sys, Result};
use stowage_core::engine::rows::Column;
use stowage_core::Rows;

use crate::js::{Js, Val};

thread_local! {
    /// Compiled builders by (environment, key).
    static BUILDERS: RefCell<HashMap<(usize, String), sys::napi_ref>> = RefCell::new(HashMap::new());
}

/// One more column given as ready JS values (e.g. `parents` of `listRuns`).
pub struct Extra<'a> {
    pub name: &'a str,
    pub values: Vec<Val>,
}

/// One object per row, keys in column order, then `extra` if given.
pub fn objects(js: Js, rows: &Rows, extra: Option<Extra<'_>>) -> Result<Val> {
    build(js, rows, extra, &[])
}

/// One object per row, keys in column order, the text of the columns named in `json` parsed
/// (`JSON.parse` in the builder, one call per value; NULL stays `null`): how a JSON column comes
/// back as a JS value.
pub fn objects_json(js: Js, rows: &Rows, json: &[&str]) -> Result<Val> {
    build(js, rows, None, json)
}

fn build(js: Js, rows: &Rows, extra: Option<Extra<'_>>, json: &[&str]) -> Result<Val> {
    let mut kinds = Vec::with_capacity(rows.data.len() + 1);
    // Every numeric column in one buffer, column after column: one typed array per call.
    let mut numbers = Vec::new();
    let mut args = vec![js.number(rows.len() as f64)?, js.undefined()?];
    for (col, name) in rows.data.iter().zip(&rows.columns) {
        match col {
            Column::Number(xs) => {
                kinds.push('n');
                numbers.extend_from_slice(xs);
            }
            Column::Text { text, ends, nulls } => {
                kinds.push(if json.contains(&name.as_str()) {
                    'j'
                } else {
                    't'
                });
                let (chunks, places) = text_values(js, text, ends, nulls)?;
                args.extend([chunks, places]);
            }
            Column::Values(vs) => {
                kinds.push('v');
                args.push(
                    js.array(
                        vs.iter()
                            .map(|v| js.value(v))
                            .collect::<Vec<_>>()
                            .into_iter(),
                    )?,
                );
            }
        }
    }
    let mut names: Vec<&str> = rows.columns.iter().map(String::as_str).collect();
    if let Some(extra) = extra {
        kinds.push('v');
        names.push(extra.name);
        args.push(
            js.array(
                extra
                    .values
                    .into_iter()
                    .map(Ok)
                    .collect::<Vec<_>>()
                    .into_iter(),
            )?,
        );
    }
    args[1] = float64_array(js, &numbers)?;
    let builder = builder(js, &kinds, &names)?;
    let mut undefined = ptr::null_mut();
    let mut out = ptr::null_mut();
    js.check_status(unsafe { sys::napi_get_undefined(js.0, &mut undefined) })?;
    js.check_status(unsafe {
        sys::napi_call_function(
            js.0,
            undefined,
            builder,
            args.len(),
            args.as_ptr(),
            &mut out,
        )
    })?;
    Ok(out)
}

/// A `Float64Array` copy of `xs` (external buffers are not allowed in Electron).
pub fn float64_array(js: Js, xs: &[f64]) -> Result<Val> {
    typed_array(
        js,
        sys::TypedarrayType::float64_array,
        xs.len(),
        std::mem::size_of_val(xs),
        xs.as_ptr().cast(),
    )
}

/// A `Uint32Array` copy of `xs`.
pub(crate) fn uint32_array(js: Js, xs: &[u32]) -> Result<Val> {
    typed_array(
        js,
        sys::TypedarrayType::uint32_array,
        xs.len(),
        std::mem::size_of_val(xs),
        xs.as_ptr().cast(),
    )
}

/// The most UTF-16 units one chunk of [`text_values`] holds, unless a single value is longer:
/// small enough for V8 to allocate the string in its young generation, whose pages are reused,
/// rather than in pages of its own that the kernel zeroes and maps for each result.
const CHUNK_UNITS: usize = 32 * 1024;

/// The chunk number of a NULL text value in [`text_values`]' places.
pub(crate) const NULL_CHUNK: u32 = u32::MAX;

/// Text values (value `k` is `text[ends[k - 1]..ends[k]]`, or NULL where `nulls[k]`) as JS
/// strings: `(chunks, places)`, an array of strings each holding whole values one after the
/// other, and a `Uint32Array` of three numbers per value, its chunk ([`NULL_CHUNK`] for NULL)
/// and its start and end there in UTF-16 units. JS slices each value out of its chunk, which
/// V8 does without copying the characters.
pub(crate) fn text_values(
    js: Js,
    text: &str,
    ends: &[usize],
    nulls: &[bool],
) -> Result<(Val, Val)> {
    let ascii = text.is_ascii();
    let mut chunks = Vec::new();
    let mut places = Vec::with_capacity(3 * ends.len());
    let (mut chunk_start, mut units, mut start) = (0usize, 0usize, 0usize);
    // Whether a value (maybe empty) is placed in the chunk being filled.
    let mut open = false;
    for (&end, &null) in ends.iter().zip(nulls) {
        if null {
            places.extend([NULL_CHUNK, 0, 0]);
            start = end;
            continue;
        }
        let value = &text[start..end];
        let len = if ascii {
            value.len()
        } else {
            value.encode_utf16().count()
        };
        if units > 0 && units + len > CHUNK_UNITS {
            chunks.push(js.ascii_or_utf8(&text[chunk_start..start])?);
            (chunk_start, units) = (start, 0);
        }
        places.extend([chunks.len() as u32, units as u32, (units + len) as u32]);
        units += len;
        start = end;
        open = true;
    }
    if open {
        chunks.push(js.ascii_or_utf8(&text[chunk_start..start])?);
    }
    Ok((
        js.array(chunks.into_iter().map(Ok))?,
        uint32_array(js, &places)?,
    ))
}

fn typed_array(
    js: Js,
    kind: sys::napi_typedarray_type,
    len: usize,
    bytes: usize,
    src: *const c_void,
) -> Result<Val> {
    let (mut data, mut buffer, mut array) = (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
    js.check_status(unsafe { sys::napi_create_arraybuffer(js.0, bytes, &mut data, &mut buffer) })?;
    if bytes > 0 {
        // SAFETY: the new buffer holds `bytes` bytes; `src` points to `bytes` readable bytes.
        unsafe { ptr::copy_nonoverlapping(src.cast::<u8>(), data.cast::<u8>(), bytes) };
    }
    js.check_status(unsafe {
        sys::napi_create_typedarray(js.0, kind, len, buffer, 0, &mut array)
    })?;
    Ok(array)
}

/// The builder for these column kinds and names, compiled on first use in this environment.
fn builder(js: Js, kinds: &[char], names: &[&str]) -> Result<Val> {
    let signature: String = kinds
        .iter()
        .zip(names)
        .map(|(k, n)| format!("{k}{}", js_literal(n)))
        .collect();
    compiled(js, &format!("rows:{signature}"), || source(kinds, names))
}

/// The function the script `source()` evaluates to, compiled on first use of `key` in this
/// environment and kept for the environment's life.
pub(crate) fn compiled(js: Js, key: &str, source: impl FnOnce() -> String) -> Result<Val> {
    let key = (js.0 as usize, key.to_string());
    if let Some(r) = BUILDERS.with(|b| b.borrow().get(&key).copied()) {
        let mut f = ptr::null_mut();
        js.check_status(unsafe { sys::napi_get_reference_value(js.0, r, &mut f) })?;
        return Ok(f);
    }
    let source = js.string(&source())?;
    let mut f = ptr::null_mut();
    js.check_status(unsafe { sys::napi_run_script(js.0, source, &mut f) })?;
    let mut r = ptr::null_mut();
    js.check_status(unsafe { sys::napi_create_reference(js.0, f, 1, &mut r) })?;
    let first_for_env = BUILDERS.with(|b| {
        let mut b = b.borrow_mut();
        let first = !b.keys().any(|(env, _)| *env == key.0);
        b.insert(key, r);
        first
    });
    if first_for_env {
        unsafe { sys::napi_add_env_cleanup_hook(js.0, Some(forget_env), js.0.cast()) };
    }
    Ok(f)
}

/// Drops the builders of an environment that is shutting down.
unsafe extern "C" fn forget_env(env: *mut c_void) {
    let refs: Vec<sys::napi_ref> = BUILDERS.with(|b| {
        let mut b = b.borrow_mut();
        let keys: Vec<_> = b
            .keys()
            .filter(|(e, _)| *e == env as usize)
            .cloned()
            .collect();
        keys.into_iter().filter_map(|k| b.remove(&k)).collect()
    });
    for r in refs {
        unsafe { sys::napi_delete_reference(env.cast(), r) };
    }
}

/// The builder's source: `(n, numbers, <other column args>) => rows`, where `numbers` holds the
/// numeric columns one after the other. Keys are JS string literals (so column names from a file
/// cannot inject code); `__proto__` is a computed key so it stays a property.
fn source(kinds: &[char], names: &[&str]) -> String {
    let mut params = vec!["n".to_string(), "num".to_string()];
    let mut pre = String::new();
    let mut fields = Vec::new();
    let mut numeric = 0;
    for (i, (kind, name)) in kinds.iter().zip(names).enumerate() {
        let key = if *name == "__proto__" {
            format!("[{}]", js_literal(name))
        } else {
            js_literal(name)
        };
        match kind {
            'n' => {
                pre.push_str(&format!("var x{i} = num[{numeric} * n + i]; "));
                fields.push(format!("{key}: x{i} !== x{i} ? null : x{i}"));
                numeric += 1;
            }
            't' | 'j' => {
                params.extend([format!("a{i}"), format!("p{i}")]);
                pre.push_str(&format!("var c{i} = p{i}[3 * i]; "));
                let text = format!("a{i}[c{i}].slice(p{i}[3 * i + 1], p{i}[3 * i + 2])");
                let value = if *kind == 'j' {
                    format!("JSON.parse({text})")
                } else {
                    text
                };
                fields.push(format!("{key}: c{i} === {NULL_CHUNK} ? null : {value}"));
            }
            _ => {
                params.push(format!("a{i}"));
                fields.push(format!("{key}: a{i}[i]"));
            }
        }
    }
    format!(
        "(function ({}) {{ var out = []; for (var i = 0; i < n; i++) {{ {pre}out.push({{ {} }}); }} return out; }})",
        params.join(", "),
        fields.join(", ")
    )
}

/// `s` as a JS string literal.
fn js_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
