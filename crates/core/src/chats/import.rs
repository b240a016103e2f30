//! Import of opencode's JSON storage tree (the layout etcode and opencode kept before SQLite) on
//! the engine's import framework, by the rules of opencode's own migrator
//! (`reference/session-stores.md` §4.7):
//! - parents before children: projects, sessions, messages, parts, todos, permissions;
//! - ids and parent ids come from file and directory names, never from the JSON body (whose
//!   `id`, `sessionID` and `messageID` are dropped from the stored `data`);
//! - a child whose parent is not in the import is skipped and counted in `orphans` (a part's
//!   also gets an entry in `errors`, as opencode records it); a `null` body is skipped;
//! - a file that is not JSON, and a todo file that is not an array, is an entry in `errors`; a
//!   todo item without `content`, `status` or `priority` is skipped (and reported) while the
//!   others keep their source position;
//! - rows are inserted with `ON CONFLICT DO NOTHING`, so a second run inserts nothing new (and
//!   reports the same errors again); `counts` are the rows actually inserted;
//! - missing `time.created`/`time.updated` become the run's start time, as do every todo's;
//! - all of it in one transaction.
//!
//! `project/*.json` only tell which projects exist (etcode has no project table), and
//! `session_share/*.json` are not read (nor a share table written).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection};
use serde_json::Value;

use super::Chats;
use crate::engine::import::{self, ImportReport, ImportSink, Importer};
use crate::engine::{now_ms, Error, Result};

/// The folders of the tree, in import order, and whether their files sit one folder deeper
/// (`session/<projectID>/<id>.json`) or directly inside (`todo/<sessionID>.json`).
const PHASES: [(&str, bool); 6] = [
    ("project", false),
    ("session", true),
    ("message", true),
    ("part", true),
    ("todo", false),
    ("permission", false),
];

/// Which program's storage folder is imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// etcode's: the tree below, plus the todo lists etcode's deprecated key-path store still
    /// writes, `<sessionID>/todo.json`, for sessions in the tree or already in the file.
    #[default]
    Etcode,
    /// opencode's tree only.
    Opencode,
}

/// opencode's storage tree as an [`Importer`] (for [`Chats::import_legacy_json`], or a run on
/// a connection of its own).
#[derive(Debug)]
pub struct OpencodeTree {
    layout: Layout,
    root: PathBuf,
    now: i64,
    projects: HashSet<String>,
    sessions: HashSet<String>,
    /// Each imported message's session, for its parts.
    messages: HashMap<String, String>,
}

impl Default for OpencodeTree {
    fn default() -> Self {
        OpencodeTree::new(Layout::default())
    }
}

impl OpencodeTree {
    /// An importer of the tree as `layout` has it.
    pub fn new(layout: Layout) -> Self {
        OpencodeTree {
            layout,
            root: PathBuf::new(),
            now: now_ms(),
            projects: HashSet::new(),
            sessions: HashSet::new(),
            messages: HashMap::new(),
        }
    }
}

impl Chats<'_> {
    /// Imports the JSON storage tree at `storage_dir` (`<data>/storage`) as `layout` has it, by
    /// the rules in the module docs, in one transaction (a savepoint inside an open one). A
    /// missing folder imports nothing, without error.
    pub fn import_legacy_json(
        &self,
        storage_dir: &Path,
        layout: Layout,
        progress: ImportSink<'_>,
    ) -> Result<ImportReport> {
        import::run(
            self.conn(),
            storage_dir,
            &mut OpencodeTree::new(layout),
            progress,
        )
    }
}

/// True for the folders of opencode's tree (and its `session_share/`, which is not read).
fn is_folder_of_the_tree(name: &str) -> bool {
    name == "session_share" || PHASES.iter().any(|(folder, _)| *folder == name)
}

/// The entries of `dir` that `keep` accepts, sorted; nothing when `dir` does not exist.
fn listing(dir: &Path, keep: fn(&Path) -> bool) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("listing", dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| Error::io("listing", dir, e))?.path();
        if keep(&path) {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// The `.json` files directly in `dir`, sorted.
fn json_files(dir: &Path) -> Result<Vec<PathBuf>> {
    listing(dir, |p| {
        p.extension().is_some_and(|x| x == "json") && p.is_file()
    })
}

/// A file's name without `.json`, or its folder's name.
fn name_of(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn parent_name(path: &Path) -> String {
    path.parent().map(name_of).unwrap_or_default()
}

/// `body.time[key]` as an integer, else the run's start.
fn time(body: &Value, key: &str, now: i64) -> i64 {
    body.get("time")
        .and_then(|t| t.get(key))
        .and_then(Value::as_i64)
        .unwrap_or(now)
}

/// The body without the keys that are columns, as text.
fn data_without(mut body: Value, ids: &[&str]) -> String {
    if let Value::Object(map) = &mut body {
        for id in ids {
            map.shift_remove(*id);
        }
    }
    body.to_string()
}

impl Importer for OpencodeTree {
    fn files(&mut self, source: &Path) -> Result<Vec<PathBuf>> {
        self.root = source.to_path_buf();
        let mut out = Vec::new();
        for (folder, nested) in PHASES {
            let dir = source.join(folder);
            if nested {
                for sub in listing(&dir, Path::is_dir)? {
                    out.extend(json_files(&sub)?);
                }
            } else {
                out.extend(json_files(&dir)?);
            }
        }
        if self.layout == Layout::Etcode {
            for sub in listing(source, Path::is_dir)? {
                let name = name_of(&sub);
                let todo = sub.join("todo.json");
                if !is_folder_of_the_tree(&name) && todo.is_file() {
                    out.push(todo);
                }
            }
        }
        Ok(out)
    }

    fn import_file(
        &mut self,
        conn: &Connection,
        file: &Path,
        bytes: &[u8],
        report: &mut ImportReport,
    ) -> Result<()> {
        let phase = file
            .strip_prefix(&self.root)
            .ok()
            .and_then(|rel| rel.components().next())
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .unwrap_or_default();
        let body: Value = match serde_json::from_slice(bytes) {
            Ok(Value::Null) => return Ok(()),
            Ok(v) => v,
            Err(e) => {
                report.issue(file, None, format!("failed to read: {e}"));
                return Ok(());
            }
        };
        let id = name_of(file);
        let parent = parent_name(file);
        let now = self.now;
        if !is_folder_of_the_tree(&phase) {
            // etcode's key-path store (only etcode's layout lists these): `<sessionID>/todo.json`.
            let known = self.sessions.contains(&phase)
                || conn
                    .prepare_cached("SELECT EXISTS (SELECT 1 FROM session WHERE id = ?1)")?
                    .query_row([&phase], |r| r.get::<_, bool>(0))?;
            return self.todos(conn, file, &phase, known, &body, report);
        }
        match phase.as_str() {
            "project" => {
                self.projects.insert(id);
            }
            "session" => {
                if !self.projects.contains(&parent) {
                    report.orphan("session");
                    return Ok(());
                }
                let text = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or("");
                let count = |k: &str| {
                    body.get("summary")
                        .and_then(|s| s.get(k))
                        .and_then(Value::as_i64)
                };
                let n = conn
                    .prepare_cached(
                        "INSERT INTO session (id, project_id, directory, title, agent,
                           summary_additions, summary_deletions, summary_files, time_created,
                           time_updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                         ON CONFLICT DO NOTHING",
                    )?
                    .execute(params![
                        id,
                        parent,
                        text("directory"),
                        text("title"),
                        body.get("agent").and_then(Value::as_str),
                        count("additions"),
                        count("deletions"),
                        count("files"),
                        time(&body, "created", now),
                        time(&body, "updated", now),
                    ])?;
                report.count("session", n as u64);
                self.sessions.insert(id);
            }
            "message" => {
                if !self.sessions.contains(&parent) {
                    report.orphan("message");
                    return Ok(());
                }
                let (created, updated) = (time(&body, "created", now), time(&body, "updated", now));
                let n = conn
                    .prepare_cached(
                        "INSERT INTO message (id, session_id, time_created, time_updated, data)
                         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                    )?
                    .execute(params![
                        id,
                        parent,
                        created,
                        updated,
                        data_without(body, &["id", "sessionID"])
                    ])?;
                report.count("message", n as u64);
                self.messages.insert(id, parent);
            }
            "part" => {
                let Some(session) = self.messages.get(&parent) else {
                    report.orphan("part");
                    report.issue(file, None, "part of a message that is not in the import");
                    return Ok(());
                };
                let (created, updated) = (time(&body, "created", now), time(&body, "updated", now));
                let n = conn
                    .prepare_cached(
                        "INSERT INTO part (id, message_id, session_id, time_created,
                           time_updated, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                         ON CONFLICT DO NOTHING",
                    )?
                    .execute(params![
                        id,
                        parent,
                        session,
                        created,
                        updated,
                        data_without(body, &["id", "messageID", "sessionID"])
                    ])?;
                report.count("part", n as u64);
            }
            "todo" => {
                let known = self.sessions.contains(&id);
                self.todos(conn, file, &id, known, &body, report)?
            }
            "permission" => {
                if !self.projects.contains(&id) {
                    report.orphan("permission");
                    return Ok(());
                }
                let n = conn
                    .prepare_cached(
                        "INSERT INTO permission (project_id, data, time_created, time_updated)
                         VALUES (?1, ?2, ?3, ?3) ON CONFLICT DO NOTHING",
                    )?
                    .execute(params![id, body.to_string(), now])?;
                report.count("permission", n as u64);
            }
            _ => {}
        }
        Ok(())
    }
}

impl OpencodeTree {
    /// A todo list (`todo/<sessionID>.json`, or etcode's `<sessionID>/todo.json`): an array of
    /// items, each at its source position; an orphan unless its session is `known`.
    fn todos(
        &self,
        conn: &Connection,
        file: &Path,
        session: &str,
        known: bool,
        body: &Value,
        report: &mut ImportReport,
    ) -> Result<()> {
        if !known {
            report.orphan("todo");
            return Ok(());
        }
        let Value::Array(items) = body else {
            report.issue(file, None, "todo not an array");
            return Ok(());
        };
        let mut insert = conn.prepare_cached(
            "INSERT INTO todo (session_id, content, status, priority, position, time_created,
               time_updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT DO NOTHING",
        )?;
        for (position, item) in items.iter().enumerate() {
            let field = |k: &str| {
                item.get(k)
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
            };
            let (Some(content), Some(status), Some(priority)) =
                (field("content"), field("status"), field("priority"))
            else {
                report.issue(
                    file,
                    Some(position),
                    "todo without content, status or priority",
                );
                continue;
            };
            let n = insert.execute(params![
                session,
                content,
                status,
                priority,
                position as i64,
                self.now
            ])?;
            report.count("todo", n as u64);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chats::tests::open;

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn count(db: &crate::Database, table: &str) -> i64 {
        db.conn()
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_tree_is_imported_by_opencodes_rules_and_a_rerun_adds_nothing() -> Result<()> {
        let (dir, db) = open();
        let root = dir.path().join("storage");
        write(
            &root,
            "project/proj_1.json",
            r#"{"id":"proj_1","worktree":"/w"}"#,
        );
        write(
            &root,
            "session/proj_1/ses_1.json",
            r#"{"id":"stale","directory":"/w","title":"t","time":{"created":5,"updated":6},"summary":{"additions":1,"deletions":2,"files":3}}"#,
        );
        write(
            &root,
            "session/proj_gone/ses_2.json",
            r#"{"title":"orphan"}"#,
        );
        write(
            &root,
            "message/ses_1/msg_1.json",
            r#"{"id":"x","sessionID":"y","role":"user","time":{"created":7}}"#,
        );
        write(&root, "message/ses_2/msg_2.json", r#"{"role":"user"}"#);
        write(
            &root,
            "part/msg_1/prt_1.json",
            r#"{"id":"x","messageID":"y","sessionID":"z","type":"text","text":"hi"}"#,
        );
        write(
            &root,
            "part/msg_2/prt_2.json",
            r#"{"type":"text","text":"lost"}"#,
        );
        write(
            &root,
            "todo/ses_1.json",
            r#"[{"content":"a","status":"pending","priority":"high"},{"content":"b"},{"content":"c","status":"completed","priority":"low"}]"#,
        );
        write(&root, "todo/ses_9.json", "[]");
        write(
            &root,
            "permission/proj_1.json",
            r#"[{"permission":"bash","pattern":"*","action":"ask"}]"#,
        );
        write(&root, "message/ses_1/msg_bad.json", "{not json");
        let report = db
            .chats()?
            .import_legacy_json(&root, Layout::Opencode, &mut |_| Ok(()))?;
        let counts: Vec<(&str, u64)> = report
            .counts
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        assert_eq!(
            counts,
            [
                ("message", 1),
                ("part", 1),
                ("permission", 1),
                ("session", 1),
                ("todo", 2)
            ]
        );
        let orphans: Vec<(&str, u64)> = report
            .orphans
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        assert_eq!(
            orphans,
            [("message", 1), ("part", 1), ("session", 1), ("todo", 1)]
        );
        assert_eq!(report.errors.len(), 3, "{:?}", report.errors);
        let c = db.chats()?;
        let s = c.session("ses_1", Some("proj_1"))?.unwrap();
        assert_eq!(
            (s.title.as_str(), s.time_created, s.time_updated),
            ("t", 5, 6)
        );
        assert_eq!(s.summary.map(|s| (s.additions, s.files)), Some((1, 3)));
        let m = c.message("msg_1")?.unwrap();
        assert_eq!(m.data, r#"{"role":"user","time":{"created":7}}"#);
        assert_eq!(m.time_created, 7);
        let p = c.part("prt_1")?.unwrap();
        assert_eq!(
            (p.session_id.as_str(), p.data.as_str()),
            ("ses_1", r#"{"type":"text","text":"hi"}"#)
        );
        let positions: Vec<i64> = db
            .conn()
            .prepare("SELECT position FROM todo ORDER BY position")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        assert_eq!(positions, [0, 2]);
        let again = db
            .chats()?
            .import_legacy_json(&root, Layout::Opencode, &mut |_| Ok(()))?;
        assert!(!again.migrated && again.counts.is_empty());
        assert_eq!(again.errors, report.errors);
        assert_eq!(count(&db, "message"), 1);
        Ok(())
    }

    #[test]
    fn etcodes_layout_adds_the_todo_lists_of_its_key_path_store() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::Database::open(
            &dir.path().join("etcode.db"),
            &crate::OpenOptions::new([crate::stores::find("chats")?]),
        )?;
        let chats = db.chats()?;
        let session = chats.create_session(&crate::chats::NewSession {
            project_id: "proj_1",
            directory: "/w",
            title: None,
            agent: None,
        })?;
        let root = dir.path().join("storage");
        let items = r#"[{"content":"a","status":"pending","priority":"high"},{"content":"b","status":"completed","priority":"low"}]"#;
        write(&root, &format!("{}/todo.json", session.id), items);
        write(&root, "sess_gone/todo.json", items);
        let opencode = chats.import_legacy_json(&root, Layout::Opencode, &mut |_| Ok(()))?;
        assert_eq!(opencode.total(), 0);
        let report = chats.import_legacy_json(&root, Layout::Etcode, &mut |_| Ok(()))?;
        assert_eq!(
            report.counts,
            [("todo".to_string(), 2)].into_iter().collect()
        );
        assert_eq!(
            report.orphans,
            [("todo".to_string(), 1)].into_iter().collect()
        );
        assert_eq!(count(&db, "todo"), 2);
        let again = chats.import_legacy_json(&root, Layout::Etcode, &mut |_| Ok(()))?;
        assert_eq!(again.total(), 0);
        Ok(())
    }

    #[test]
    fn a_missing_or_empty_tree_imports_nothing() -> Result<()> {
        let (dir, db) = open();
        let none = db.chats()?.import_legacy_json(
            &dir.path().join("absent"),
            Layout::Etcode,
            &mut |_| Ok(()),
        )?;
        assert_eq!(none, ImportReport::default());
        std::fs::create_dir(dir.path().join("empty")).unwrap();
        let empty = db.chats()?.import_legacy_json(
            &dir.path().join("empty"),
            Layout::Opencode,
            &mut |_| Ok(()),
        )?;
        assert!(!empty.migrated && empty.errors.is_empty());
        Ok(())
    }
}
