//! Sessions read column by column: every text value of a table in one string, every number in
//! one vector, and the order of the children. A long result reaches JS in this form with a
//! handful of Node-API calls (no JSON written or parsed, each string a slice of one copy), and
//! [`SessionColumns::sessions`] rebuilds AIT42's objects from it for Rust callers.

use std::collections::HashMap;

use rusqlite::types::{FromSqlError, ValueRef};
use rusqlite::{Connection, Row};

use super::model::{ChatMessage, WorktreeInstance, WorktreeSession};
use crate::engine::Result;

/// The values of one table's rows, field after field in the order [`SessionColumns`] gives.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Values {
    /// Every text value, one after the other.
    pub text: String,
    /// Where each text value ends in `text` (a byte offset); each starts where the one before
    /// ends.
    pub ends: Vec<usize>,
    /// Which text values are NULL (and empty).
    pub nulls: Vec<bool>,
    /// Every number, NULL as NaN.
    pub numbers: Vec<f64>,
}

/// Text fields of an instance record, in [`SessionColumns::instances`].
pub const INSTANCE_TEXTS: usize = 12;
/// Number fields of an instance record.
pub const INSTANCE_NUMBERS: usize = 4;
/// Text fields of a message record, in [`SessionColumns::messages`].
pub const MESSAGE_TEXTS: usize = 5;
/// Number fields of a message record.
pub const MESSAGE_NUMBERS: usize = 1;

/// Sessions with their instances and messages, as read by one query per table.
///
/// - `sessions`, one after the other: the texts `id`, `type`, `task`, `status`, `createdAt`,
///   `updatedAt`, `completedAt`, `model`, then the items of `runtimeMix`; the numbers
///   `timeoutSeconds`, `preserveWorktrees` (0 or 1), `winnerId`, the number of items of
///   `runtimeMix` (NaN for none), `totalDuration`, `totalFilesChanged`, `totalLinesAdded`,
///   `totalLinesDeleted`.
/// - `instances`, records of [`INSTANCE_TEXTS`] texts (`sessionId`, `worktreePath`, `branch`,
///   `agentName`, `status`, `tmuxSessionId`, `output`, `startTime`, `endTime`, `runtime`,
///   `model`, `runtimeLabel`) and [`INSTANCE_NUMBERS`] numbers (`instanceId`, `filesChanged`,
///   `linesAdded`, `linesDeleted`), in the order SQLite returned them.
/// - `messages`, records of [`MESSAGE_TEXTS`] texts (`id`, `sessionId`, `role`, `content`,
///   `timestamp`) and [`MESSAGE_NUMBERS`] number (`instanceId`).
/// - `children`, for each session in order: its number of instances and their record
///   numbers (by instance id), then its number of messages and theirs (chronological).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionColumns {
    pub count: usize,
    pub sessions: Values,
    pub instances: Values,
    pub messages: Values,
    pub children: Vec<u32>,
}

impl Values {
    fn push_str(&mut self, s: Option<&str>) {
        if let Some(s) = s {
            self.text.push_str(s);
        }
        self.ends.push(self.text.len());
        self.nulls.push(s.is_none());
    }

    fn text(&mut self, r: &Row<'_>, i: usize) -> rusqlite::Result<()> {
        let value = r.get_ref(i)?;
        let s = value.as_str().map_err(|e| conversion(r, i, value, e))?;
        self.push_str(Some(s));
        Ok(())
    }

    fn opt_text(&mut self, r: &Row<'_>, i: usize) -> rusqlite::Result<()> {
        self.push_str(opt_str(r, i)?);
        Ok(())
    }

    fn int(&mut self, r: &Row<'_>, i: usize) -> rusqlite::Result<()> {
        let n: i64 = r.get(i)?;
        self.numbers.push(n as f64);
        Ok(())
    }

    fn opt_int(&mut self, r: &Row<'_>, i: usize) -> rusqlite::Result<()> {
        let n: Option<i64> = r.get(i)?;
        self.numbers.push(n.map_or(f64::NAN, |n| n as f64));
        Ok(())
    }

    /// Text value `k`, `None` for NULL.
    pub fn str(&self, k: usize) -> Option<&str> {
        let start = if k == 0 { 0 } else { self.ends[k - 1] };
        (!self.nulls[k]).then(|| &self.text[start..self.ends[k]])
    }

    /// Number `k` as the integer it holds, `None` for NULL.
    pub fn int_at(&self, k: usize) -> Option<i64> {
        let x = self.numbers[k];
        (!x.is_nan()).then_some(x as i64)
    }
}

/// Column `i` of `r` as text, borrowed; `None` for NULL.
fn opt_str<'r>(r: &'r Row<'_>, i: usize) -> rusqlite::Result<Option<&'r str>> {
    let value = r.get_ref(i)?;
    value
        .as_str_or_null()
        .map_err(|e| conversion(r, i, value, e))
}

/// The error `Row::get` gives for a value of the wrong type.
fn conversion(r: &Row<'_>, i: usize, value: ValueRef<'_>, e: FromSqlError) -> rusqlite::Error {
    match e {
        FromSqlError::InvalidType => rusqlite::Error::InvalidColumnType(
            i,
            r.as_ref().column_name(i).unwrap_or_default().to_string(),
            value.data_type(),
        ),
        e => rusqlite::Error::FromSqlConversionFailure(i, value.data_type(), Box::new(e)),
    }
}

pub(crate) const SESSION_COLUMNS: &str = "id, session_type, task, status, created_at, \
     updated_at, completed_at, model, timeout_seconds, preserve_worktrees, winner_id, \
     runtime_mix, total_duration, total_files_changed, total_lines_added, total_lines_deleted";

pub(crate) const INSTANCE_COLUMNS: &str = "session_id, instance_id, worktree_path, branch, \
     agent_name, status, tmux_session_id, output, start_time, end_time, files_changed, \
     lines_added, lines_deleted, runtime, model, runtime_label";

pub(crate) const MESSAGE_COLUMNS: &str = "session_id, id, role, content, timestamp, instance_id";

/// The sessions `filter` (a `WHERE … ORDER BY … LIMIT …` tail) selects, in its order, with
/// their instances and messages: three queries whatever the number of sessions.
pub(crate) fn read(
    c: &Connection,
    filter: &str,
    args: impl rusqlite::Params,
) -> Result<SessionColumns> {
    let mut sessions = Values::default();
    let mut ids: Vec<(usize, usize)> = Vec::new();
    let mut stmt = c.prepare_cached(&format!("SELECT {SESSION_COLUMNS} FROM sessions {filter}"))?;
    let mut rows = stmt.query(args)?;
    while let Some(r) = rows.next()? {
        let start = sessions.text.len();
        sessions.text(r, 0)?;
        ids.push((start, sessions.text.len()));
        for i in 1..6 {
            sessions.text(r, i)?;
        }
        sessions.opt_text(r, 6)?;
        sessions.opt_text(r, 7)?;
        sessions.opt_int(r, 8)?;
        let preserve: Option<i64> = r.get(9)?;
        sessions
            .numbers
            .push(preserve.map_or(f64::NAN, |v| f64::from(u8::from(v != 0))));
        sessions.opt_int(r, 10)?;
        // As AIT42 reads it: text that is not a JSON array of strings is no mix.
        let mix: Option<Vec<String>> = opt_str(r, 11)?.and_then(|m| serde_json::from_str(m).ok());
        sessions
            .numbers
            .push(mix.as_ref().map_or(f64::NAN, |m| m.len() as f64));
        for item in mix.iter().flatten() {
            sessions.push_str(Some(item));
        }
        for i in 12..16 {
            sessions.opt_int(r, i)?;
        }
    }
    drop(rows);
    let count = ids.len();
    let mut out = SessionColumns {
        count,
        ..Default::default()
    };
    if count == 0 {
        out.sessions = sessions;
        return Ok(out);
    }
    let id_list: Vec<&str> = ids.iter().map(|&(a, b)| &sessions.text[a..b]).collect();
    let index: HashMap<&str, usize> = id_list.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let id_json = serde_json::to_string(&id_list).unwrap_or_default();
    let mut instances_of: Vec<Vec<u32>> = vec![Vec::new(); count];
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {INSTANCE_COLUMNS} FROM instances
         WHERE session_id IN (SELECT value FROM json_each(?1)) ORDER BY session_id, instance_id"
    ))?;
    let mut rows = stmt.query([&id_json])?;
    let instances = &mut out.instances;
    let mut record = 0u32;
    while let Some(r) = rows.next()? {
        let owner = opt_str(r, 0)?;
        instances.opt_text(r, 0)?;
        for i in 2..7 {
            instances.text(r, i)?;
        }
        for i in [7, 8, 9, 13, 14, 15] {
            instances.opt_text(r, i)?;
        }
        instances.int(r, 1)?;
        for i in 10..13 {
            instances.opt_int(r, i)?;
        }
        if let Some(&at) = owner.and_then(|id| index.get(id)) {
            instances_of[at].push(record);
        }
        record += 1;
    }
    drop(rows);
    // Chronological: by the instant each timestamp denotes, text that is none last, then by
    // text and insertion. The instants are computed by SQLite but sorted here, which spares
    // SQLite's sorter a copy of every row.
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS}, unixepoch(timestamp, 'subsec'), rowid FROM chat_messages
         WHERE session_id IN (SELECT value FROM json_each(?1))"
    ))?;
    let mut rows = stmt.query([&id_json])?;
    let messages = &mut out.messages;
    let mut keys: Vec<(Option<f64>, i64, Option<usize>)> = Vec::new();
    while let Some(r) = rows.next()? {
        let owner = opt_str(r, 0)?;
        keys.push((
            r.get(6)?,
            r.get(7)?,
            owner.and_then(|id| index.get(id).copied()),
        ));
        messages.text(r, 1)?;
        messages.opt_text(r, 0)?;
        for i in 2..5 {
            messages.text(r, i)?;
        }
        messages.opt_int(r, 5)?;
    }
    drop(rows);
    let timestamp = |k: usize| messages.str(MESSAGE_TEXTS * k + 4).unwrap_or_default();
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by(|&x, &y| {
        let ((a, ra, _), (b, rb, _)) = (&keys[x], &keys[y]);
        let instant = match (a, b) {
            (Some(a), Some(b)) => a.total_cmp(b),
            (a, b) => a.is_none().cmp(&b.is_none()),
        };
        instant
            .then_with(|| timestamp(x).cmp(timestamp(y)))
            .then(ra.cmp(rb))
    });
    let mut messages_of: Vec<Vec<u32>> = vec![Vec::new(); count];
    for k in order {
        if let Some(at) = keys[k].2 {
            messages_of[at].push(k as u32);
        }
    }
    for (i, m) in instances_of.iter().zip(&messages_of) {
        out.children.push(i.len() as u32);
        out.children.extend(i);
        out.children.push(m.len() as u32);
        out.children.extend(m);
    }
    out.sessions = sessions;
    Ok(out)
}

impl SessionColumns {
    /// The sessions as AIT42's objects.
    pub fn sessions(&self) -> Vec<WorktreeSession> {
        let (s, i, m) = (&self.sessions, &self.instances, &self.messages);
        let (mut t, mut n, mut g) = (0, 0, 0);
        let mut text = || {
            t += 1;
            s.str(t - 1).map(str::to_string)
        };
        let mut number = || {
            n += 1;
            s.int_at(n - 1)
        };
        let mut child = || {
            g += 1;
            self.children[g - 1] as usize
        };
        let mut out = Vec::with_capacity(self.count);
        for _ in 0..self.count {
            let mut session = WorktreeSession {
                id: text().unwrap_or_default(),
                session_type: text().unwrap_or_default(),
                task: text().unwrap_or_default(),
                status: text().unwrap_or_default(),
                created_at: text().unwrap_or_default(),
                updated_at: text().unwrap_or_default(),
                completed_at: text(),
                model: text(),
                timeout_seconds: number(),
                preserve_worktrees: number().map(|v| v != 0),
                winner_id: number(),
                runtime_mix: number()
                    .map(|len| (0..len).map(|_| text().unwrap_or_default()).collect()),
                total_duration: number(),
                total_files_changed: number(),
                total_lines_added: number(),
                total_lines_deleted: number(),
                ..Default::default()
            };
            session.instances = (0..child())
                .map(|_| instance(i, child()))
                .collect::<Vec<_>>();
            session.chat_history = (0..child()).map(|_| message(m, child())).collect();
            out.push(session);
        }
        out
    }
}

fn instance(v: &Values, record: usize) -> WorktreeInstance {
    let (t, n) = (INSTANCE_TEXTS * record, INSTANCE_NUMBERS * record);
    let text = |k: usize| v.str(t + k).map(str::to_string);
    WorktreeInstance {
        session_id: text(0),
        worktree_path: text(1).unwrap_or_default(),
        branch: text(2).unwrap_or_default(),
        agent_name: text(3).unwrap_or_default(),
        status: text(4).unwrap_or_default(),
        tmux_session_id: text(5).unwrap_or_default(),
        output: text(6),
        start_time: text(7),
        end_time: text(8),
        runtime: text(9),
        model: text(10),
        runtime_label: text(11),
        instance_id: v.int_at(n).unwrap_or_default(),
        files_changed: v.int_at(n + 1),
        lines_added: v.int_at(n + 2),
        lines_deleted: v.int_at(n + 3),
    }
}

fn message(v: &Values, record: usize) -> ChatMessage {
    let t = MESSAGE_TEXTS * record;
    let text = |k: usize| v.str(t + k).map(str::to_string);
    ChatMessage {
        id: text(0).unwrap_or_default(),
        session_id: text(1),
        role: text(2).unwrap_or_default(),
        content: text(3).unwrap_or_default(),
        timestamp: text(4).unwrap_or_default(),
        instance_id: v.int_at(MESSAGE_NUMBERS * record),
    }
}
