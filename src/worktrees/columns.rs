//! Sessions as JS objects, built from their columns ([`SessionColumns`]) by one JS function:
//! each table's text travels as a few strings whose values the function slices (V8 shares the
//! characters instead of copying them), its numbers as one `Float64Array`. No JSON is written or
//! parsed and no property is set through Node-API (see BENCHMARKS.md, worktree sessions).

use napi::Result;
use stowage_core::worktrees::{
    SessionColumns, Values, INSTANCE_NUMBERS, INSTANCE_TEXTS, MESSAGE_NUMBERS, MESSAGE_TEXTS,
};

use crate::js::{Js, Val};
use crate::rows;

/// The builder: `(count, sessions…, instances…, messages…, children) => sessions`, each table
/// given as the chunks and places of its text values ([`rows::text_values`]) and its numbers,
/// in the layout [`SessionColumns`] documents. The keys are AIT42's, in its order.
fn source() -> String {
    let none = rows::NULL_CHUNK;
    format!(
        r#"(function (count, sc, sp, sn, ic, ip, inn, mc, mp, mn, g) {{
  var t = 0, n = 0, c = 0;
  function text(chunks, places, k) {{
    var at = places[3 * k];
    return at === {none} ? null : chunks[at].slice(places[3 * k + 1], places[3 * k + 2]);
  }}
  function num(a, k) {{ var v = a[k]; return v !== v ? null : v; }}
  function s() {{ return text(sc, sp, t++); }}
  function x() {{ return num(sn, n++); }}
  function b() {{ var v = sn[n++]; return v !== v ? null : v !== 0; }}
  function mix() {{
    var len = sn[n++];
    if (len !== len) return null;
    var out = [];
    for (var i = 0; i < len; i++) out.push(s());
    return out;
  }}
  function instance(r) {{
    var k = {INSTANCE_TEXTS} * r, m = {INSTANCE_NUMBERS} * r;
    return {{
      instanceId: inn[m], sessionId: text(ic, ip, k), worktreePath: text(ic, ip, k + 1),
      branch: text(ic, ip, k + 2), agentName: text(ic, ip, k + 3), status: text(ic, ip, k + 4),
      tmuxSessionId: text(ic, ip, k + 5), output: text(ic, ip, k + 6),
      startTime: text(ic, ip, k + 7), endTime: text(ic, ip, k + 8),
      filesChanged: num(inn, m + 1), linesAdded: num(inn, m + 2), linesDeleted: num(inn, m + 3),
      runtime: text(ic, ip, k + 9), model: text(ic, ip, k + 10), runtimeLabel: text(ic, ip, k + 11)
    }};
  }}
  function message(r) {{
    var k = {MESSAGE_TEXTS} * r;
    return {{
      id: text(mc, mp, k), sessionId: text(mc, mp, k + 1), role: text(mc, mp, k + 2),
      content: text(mc, mp, k + 3), timestamp: text(mc, mp, k + 4),
      instanceId: num(mn, {MESSAGE_NUMBERS} * r)
    }};
  }}
  function children(make) {{
    var len = g[c++], out = [];
    for (var i = 0; i < len; i++) out.push(make(g[c++]));
    return out;
  }}
  var out = [];
  for (var i = 0; i < count; i++) {{
    out.push({{
      id: s(), type: s(), task: s(), status: s(), createdAt: s(), updatedAt: s(),
      completedAt: s(), model: s(), timeoutSeconds: x(), preserveWorktrees: b(), winnerId: x(),
      runtimeMix: mix(), totalDuration: x(), totalFilesChanged: x(), totalLinesAdded: x(),
      totalLinesDeleted: x(), instances: children(instance), chatHistory: children(message)
    }});
  }}
  return out;
}})"#
    )
}

/// The three arguments of one table: the chunks and places of its text, and its numbers.
fn table(js: Js, v: &Values, args: &mut Vec<Val>) -> Result<()> {
    let (chunks, places) = rows::text_values(js, &v.text, &v.ends, &v.nulls)?;
    args.extend([chunks, places, rows::float64_array(js, &v.numbers)?]);
    Ok(())
}

/// The sessions as an array of AIT42's objects.
pub fn sessions_array(js: Js, c: &SessionColumns) -> Result<Val> {
    let builder = rows::compiled(js, "worktrees:sessions", source)?;
    let mut args = vec![js.number(c.count as f64)?];
    for v in [&c.sessions, &c.instances, &c.messages] {
        table(js, v, &mut args)?;
    }
    args.push(rows::uint32_array(js, &c.children)?);
    js.call(builder, &args)
}

/// The first session as AIT42's object, or `null` when there is none.
pub fn first_session(js: Js, c: &SessionColumns) -> Result<Val> {
    if c.count == 0 {
        return js.null();
    }
    js.element(sessions_array(js, c)?, 0)
}
