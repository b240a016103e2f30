use std::collections::BTreeMap;

use super::*;
use crate::engine::import::ImportReport;
use crate::engine::{OpenOptions, StoreDef};

pub(crate) fn open() -> (tempfile::TempDir, Database) {
    let dir = tempfile::tempdir().unwrap();
    let options = OpenOptions::new([&schema::STORE as &'static dyn StoreDef]);
    let db = Database::open(&dir.path().join("sessions.db"), &options).unwrap();
    (dir, db)
}

pub(crate) fn session(id: &str, updated_at: &str) -> WorktreeSession {
    WorktreeSession {
        id: id.into(),
        session_type: "competition".into(),
        task: format!("task {id}"),
        status: "running".into(),
        created_at: "2025-01-13T10:00:00.000Z".into(),
        updated_at: updated_at.into(),
        ..Default::default()
    }
}

fn instance(n: i64, status: &str) -> WorktreeInstance {
    WorktreeInstance {
        instance_id: n,
        worktree_path: format!("/w/{n}"),
        branch: format!("b{n}"),
        agent_name: "agent".into(),
        status: status.into(),
        tmux_session_id: format!("t{n}"),
        ..Default::default()
    }
}

fn message(id: &str, timestamp: &str) -> ChatMessage {
    ChatMessage {
        id: id.into(),
        role: "user".into(),
        content: format!("said {id}"),
        timestamp: timestamp.into(),
        ..Default::default()
    }
}

const W: &str = "/no/such/workspace";

#[test]
fn a_session_round_trips_with_children_in_order_and_their_session_id() -> Result<()> {
    let (_dir, db) = open();
    let repo = db.worktrees()?;
    let mut s = session("s1", "2025-01-13T10:00:00.000Z");
    s.runtime_mix = Some(vec![]);
    s.preserve_worktrees = Some(true);
    s.instances = vec![instance(2, "running"), instance(0, "idle")];
    s.instances[0].output = Some("x".repeat(150 * 1024));
    s.chat_history = vec![
        message("late", "2025-01-13T10:00:02+00:00"),
        message("tokyo", "2025-01-13T19:00:01+09:00"),
    ];
    repo.create_session(W, &s)?;
    let got = repo.get_session(W, "s1")?.unwrap();
    assert_eq!(got.runtime_mix, Some(vec![]));
    assert_eq!(got.preserve_worktrees, Some(true));
    let numbers: Vec<i64> = got.instances.iter().map(|i| i.instance_id).collect();
    assert_eq!(numbers, [0, 2]);
    assert_eq!(got.instances[1].output.as_ref().unwrap().len(), 150 * 1024);
    assert!(got
        .instances
        .iter()
        .all(|i| i.session_id.as_deref() == Some("s1")));
    let ids: Vec<&str> = got.chat_history.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["tokyo", "late"], "chronological, not text order");
    assert_eq!(repo.get_session("/elsewhere", "s1")?, None);
    let path: String = db
        .conn()
        .query_row("SELECT path FROM workspaces", [], |r| r.get(0))?;
    assert_eq!(path, W);
    Ok(())
}

#[test]
fn update_replaces_children_and_a_failed_one_changes_nothing() -> Result<()> {
    let (_dir, db) = open();
    let repo = db.worktrees()?;
    let mut s = session("s1", "2025-01-13T10:00:00.000Z");
    s.instances = vec![instance(0, "idle"), instance(1, "idle")];
    s.chat_history = vec![message("m1", "2025-01-13T10:00:00Z")];
    repo.create_session(W, &s)?;
    s.status = "completed".into();
    s.instances = vec![instance(5, "completed")];
    s.chat_history = vec![];
    let updated = repo.update_session(W, &s)?;
    assert_eq!(updated.status, "completed");
    assert_eq!(updated.instances.len(), 1);
    assert!(updated.chat_history.is_empty());

    let before = repo.get_session(W, "s1")?;
    let mut bad = s.clone();
    bad.task = "changed".into();
    bad.instances = vec![instance(1, "idle"), instance(1, "idle")];
    let err = repo.update_session(W, &bad).unwrap_err();
    assert_eq!(err.code(), "SQLITE_CONSTRAINT_UNIQUE");
    assert_eq!(repo.get_session(W, "s1")?, before);

    let err = repo.update_session("/elsewhere", &s).unwrap_err();
    assert_eq!(err.code(), "ERR_NOT_FOUND");
    assert_eq!(repo.get_session(W, "s1")?, before);
    Ok(())
}

#[test]
fn bumps_write_rfc3339_and_sessions_sort_by_the_time_they_denote() -> Result<()> {
    let (_dir, db) = open();
    let repo = db.worktrees()?;
    repo.create_session(W, &session("old", "2025-01-13T00:00:00.000Z"))?;
    repo.create_session(W, &session("sql", "2025-01-13 22:28:40"))?;
    repo.create_session(W, &session("offset", "2025-01-14T08:00:00+09:00"))?;
    let ids = |v: Vec<WorktreeSession>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(ids(repo.get_all_sessions(W)?), ["offset", "sql", "old"]);

    let mut s = session("old", "2025-01-13T00:00:00.000Z");
    s.instances = vec![instance(0, "running")];
    repo.update_session(W, &s)?;
    repo.update_instance_status("old", 0, "completed")?;
    let got = repo.get_session(W, "old")?.unwrap();
    assert_eq!(got.instances[0].status, "completed");
    let bumped = &got.updated_at;
    assert!(
        bumped.len() == 24 && bumped.as_bytes()[10] == b'T' && bumped.ends_with('Z'),
        "{bumped}"
    );
    assert_eq!(ids(repo.get_all_sessions(W)?)[0], "old");
    repo.add_chat_message("sql", &message("m", "2025-01-13T00:00:00Z"))?;
    // Bumped last, so none is newer ("old" was bumped just before, maybe in the same millisecond).
    let all = repo.get_all_sessions(W)?;
    let sql = all.iter().find(|s| s.id == "sql").unwrap();
    assert_eq!(sql.updated_at, all[0].updated_at);

    assert_eq!(
        repo.update_instance_status("old", 9, "failed")
            .unwrap_err()
            .code(),
        "ERR_NOT_FOUND"
    );
    assert_eq!(
        repo.add_chat_message("nope", &message("m2", "x"))
            .unwrap_err()
            .code(),
        "SQLITE_CONSTRAINT_FOREIGNKEY"
    );
    assert_eq!(
        repo.add_chat_message("old", &message("m", "x"))
            .unwrap_err()
            .code(),
        "SQLITE_CONSTRAINT_PRIMARYKEY"
    );
    Ok(())
}

#[test]
fn delete_cascades_and_a_second_delete_is_not_found() -> Result<()> {
    let (_dir, db) = open();
    let repo = db.worktrees()?;
    let mut s = session("s1", "2025-01-13T10:00:00.000Z");
    s.instances = vec![instance(0, "idle")];
    s.chat_history = vec![message("m1", "t")];
    repo.create_session(W, &s)?;
    assert_eq!(
        repo.delete_session("/elsewhere", "s1").unwrap_err().code(),
        "ERR_NOT_FOUND"
    );
    repo.delete_session(W, "s1")?;
    let st = repo.stats()?;
    assert_eq!((st.sessions, st.instances, st.messages), (0, 0, 0));
    assert_eq!(st.workspaces, 1);
    assert!(st.file_size > 0);
    assert_eq!(
        repo.delete_session(W, "s1").unwrap_err().code(),
        "ERR_NOT_FOUND"
    );
    Ok(())
}

#[test]
fn list_filters_combine_and_page_and_count_by_type_counts() -> Result<()> {
    let (_dir, db) = open();
    let repo = db.worktrees()?;
    for (i, (t, status)) in [
        ("competition", "running"),
        ("ensemble", "completed"),
        ("debate", "failed"),
        ("competition", "completed"),
        ("competition", "paused"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut s = session(&format!("s{i}"), &format!("2025-01-13T10:00:0{i}.000Z"));
        s.session_type = t.into();
        s.status = status.into();
        s.task = format!("task_{i} 100%");
        repo.create_session(W, &s)?;
    }
    repo.create_session("/other", &session("x", "2025-01-13T11:00:00Z"))?;
    let ids = |q: SessionQuery| -> Result<Vec<String>> {
        Ok(repo.list_sessions(&q)?.into_iter().map(|s| s.id).collect())
    };
    let mine = || SessionQuery {
        workspace_path: Some(W.into()),
        ..Default::default()
    };
    assert_eq!(
        ids(SessionQuery {
            session_type: Some("competition".into()),
            statuses: vec!["completed".into(), "paused".into()],
            ..mine()
        })?,
        ["s4", "s3"]
    );
    assert_eq!(
        ids(SessionQuery {
            limit: Some(2),
            offset: Some(1),
            ..mine()
        })?,
        ["s3", "s2"]
    );
    assert_eq!(
        ids(SessionQuery {
            search: Some("K_1 1".into()),
            ..mine()
        })?,
        ["s1"]
    );
    assert_eq!(
        ids(SessionQuery {
            search: Some("sk%".into()),
            ..mine()
        })?,
        Vec::<String>::new()
    );
    assert_eq!(ids(SessionQuery::default())?.len(), 6);
    assert_eq!(
        repo.count_by_type(Some(W))?,
        [
            ("competition".to_string(), 3),
            ("ensemble".to_string(), 1),
            ("debate".to_string(), 1)
        ]
    );
    assert_eq!(repo.count_by_type(None)?[0].1, 4);
    Ok(())
}

fn legacy_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

#[test]
fn the_legacy_import_reports_bad_entries_and_imports_nothing_twice() -> Result<()> {
    let (_dir, db) = open();
    let repo = db.worktrees()?;
    let good = serde_json::to_string_pretty(&serde_json::json!([
        {"id": "a", "type": "debate", "task": "t", "status": "completed",
         "createdAt": "c", "updatedAt": "2025-01-13T10:00:00Z",
         "instances": [{"instanceId": 0, "worktreePath": "/w", "branch": "b", "agentName": "n",
                        "status": "completed", "tmuxSessionId": "m"}],
         "chatHistory": [{"id": "m1", "role": "user", "content": "hi", "timestamp": "t"}]},
        {"id": "b", "type": "nope", "task": "t", "status": "running", "createdAt": "c",
         "updatedAt": "u"},
        {"id": "c"}
    ]))
    .unwrap();
    let src = legacy_dir(&[
        ("0123456789abcdef.json", &good),
        ("fedcba9876543210.json", "  \n"),
        ("00000000000000aa.json", "[{\"id\": \"x\", \"ty"),
        ("notes.json", "not ait42's"),
    ]);
    let paths = BTreeMap::from([("0123456789abcdef".to_string(), "/real/path".to_string())]);
    let report = repo.import_legacy_json(src.path(), paths.clone(), &mut |_| Ok(()))?;
    let counts: Vec<(&str, u64)> = report
        .counts
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(
        counts,
        [
            ("chat_messages", 1),
            ("instances", 1),
            ("sessions", 1),
            ("workspaces", 1)
        ]
    );
    let issues: Vec<(String, Option<usize>)> = report
        .errors
        .iter()
        .map(|e| {
            (
                e.file.file_name().unwrap().to_string_lossy().into(),
                e.entry,
            )
        })
        .collect();
    assert_eq!(
        issues,
        [
            ("00000000000000aa.json".to_string(), None),
            ("0123456789abcdef.json".to_string(), Some(1)),
            ("0123456789abcdef.json".to_string(), Some(2)),
        ]
    );
    assert!(report.errors[1].reason.contains("CHECK"), "{report:?}");
    let got = repo.get_all_sessions("/real/path");
    assert!(got?.is_empty(), "the hash of /real/path is not the file's");
    let path: String = db.conn().query_row(
        "SELECT path FROM workspaces WHERE hash = '0123456789abcdef'",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(path, "/real/path");
    let again = repo.import_legacy_json(src.path(), paths, &mut |_| Ok(()))?;
    assert_eq!(
        (again.migrated, again.counts.len()),
        (false, 0),
        "{again:?}"
    );
    let none =
        repo.import_legacy_json(&src.path().join("absent"), BTreeMap::new(), &mut |_| Ok(()))?;
    assert_eq!(none, ImportReport::default());
    Ok(())
}
