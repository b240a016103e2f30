//! The worktrees store as the editor's Rust side uses it: no Node, one `Database` behind a
//! `Mutex`, each call on a blocking worker thread (as a Tauri command's `spawn_blocking`), on a
//! file AIT42's own migration created, returning AIT42's serde JSON.

use std::sync::{Arc, Mutex};
use std::thread;

use rusqlite::Connection;
use serde_json::json;
use stowage_core::worktrees::{self, schema, ChatMessage, WorktreeInstance, WorktreeSession};
use stowage_core::{Database, OpenOptions, Result, StoreDef};

/// AIT42's migration, byte for byte (RenTonoduka/AIT42-Editor, crates/ait42-session).
const AIT42_MIGRATION: &str =
    include_str!("../../../__test__/fixtures/ait42/20250113_001_initial_schema.sql");

fn options() -> OpenOptions {
    OpenOptions::new([&schema::STORE as &'static dyn StoreDef])
}

/// A file as AIT42's `DbPool::new` leaves it: its migration and sqlx's ledger row.
fn ait42_file(path: &std::path::Path) -> Result<()> {
    let conn = Connection::open(path)?;
    conn.execute_batch(AIT42_MIGRATION)?;
    conn.execute_batch(&format!(
        "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL,
           installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, success BOOLEAN NOT NULL,
           checksum BLOB NOT NULL, execution_time BIGINT NOT NULL);
         INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
           VALUES ({}, '{}', TRUE, X'{}', 1000);",
        schema::SQLX_VERSION,
        schema::SQLX_DESCRIPTION,
        schema::SQLX_CHECKSUM
    ))?;
    Ok(())
}

/// Runs `f` on the database on a thread of its own and waits for it (`spawn_blocking`).
fn blocking<T: Send + 'static>(
    db: &Arc<Mutex<Database>>,
    f: impl FnOnce(&Database) -> Result<T> + Send + 'static,
) -> Result<T> {
    let db = Arc::clone(db);
    thread::spawn(move || f(&db.lock().unwrap()))
        .join()
        .expect("the worker does not panic")
}

#[test]
fn a_tauri_style_command_flow_on_ait42s_own_file() -> Result<()> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sessions.db");
    ait42_file(&path)?;
    let db = Arc::new(Mutex::new(Database::open(&path, &options())?));
    let workspace = dir.path().to_string_lossy().into_owned();

    let session = WorktreeSession {
        id: "cmp-1".into(),
        session_type: "competition".into(),
        task: "Make the build pass".into(),
        status: "running".into(),
        created_at: "2025-01-13T10:00:00.000Z".into(),
        updated_at: "2025-01-13T10:00:00.000Z".into(),
        runtime_mix: Some(vec!["claude".into()]),
        instances: vec![WorktreeInstance {
            instance_id: 0,
            worktree_path: "/w/0".into(),
            branch: "ait42/cmp-1-0".into(),
            agent_name: "claude".into(),
            status: "running".into(),
            tmux_session_id: "ait42-cmp-1-0".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let ws = workspace.clone();
    blocking(&db, move |db| db.worktrees()?.create_session(&ws, &session))?;
    blocking(&db, |db| {
        let w = db.worktrees()?;
        w.add_chat_message(
            "cmp-1",
            &ChatMessage {
                id: "m-1".into(),
                role: "user".into(),
                content: "Go".into(),
                timestamp: "2025-01-13T10:00:01.000Z".into(),
                ..Default::default()
            },
        )?;
        w.update_instance_status("cmp-1", 0, "completed")
    })?;

    let ws = workspace.clone();
    let json: Vec<serde_json::Value> = blocking(&db, move |db| {
        let sessions = db.worktrees()?.get_all_sessions(&ws)?;
        Ok(sessions.iter().map(WorktreeSession::to_json).collect())
    })?;
    assert_eq!(json.len(), 1);
    let s = &json[0];
    let keys: Vec<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "id",
            "type",
            "task",
            "status",
            "createdAt",
            "updatedAt",
            "completedAt",
            "model",
            "timeoutSeconds",
            "preserveWorktrees",
            "winnerId",
            "runtimeMix",
            "totalDuration",
            "totalFilesChanged",
            "totalLinesAdded",
            "totalLinesDeleted",
            "instances",
            "chatHistory"
        ]
    );
    assert_eq!(s["runtimeMix"], json!(["claude"]));
    assert_eq!(s["completedAt"], json!(null));
    assert_eq!(s["instances"][0]["status"], json!("completed"));
    assert_eq!(s["instances"][0]["sessionId"], json!("cmp-1"));
    assert_eq!(
        s["chatHistory"][0],
        json!({"id": "m-1", "sessionId": "cmp-1", "role": "user", "content": "Go",
               "timestamp": "2025-01-13T10:00:01.000Z", "instanceId": null})
    );
    assert_ne!(s["updatedAt"], json!("2025-01-13T10:00:00.000Z"));

    let hash = worktrees::workspace_hash(&workspace);
    let (stats, integrity, sqlx_rows) = blocking(&db, move |db| {
        let sqlx: i64 = db
            .conn()
            .query_row("SELECT count(*) FROM _sqlx_migrations", [], |r| r.get(0))?;
        Ok((db.worktrees()?.stats()?, db.integrity_check(false)?, sqlx))
    })?;
    assert_eq!((stats.sessions, stats.instances, stats.messages), (1, 1, 1));
    assert_eq!(integrity, ["ok"]);
    assert_eq!(sqlx_rows, 1, "stowage never adds to AIT42's ledger");
    drop(db);
    let path_of: String = Connection::open(&path)?.query_row(
        "SELECT path FROM workspaces WHERE hash = ?1",
        [&hash],
        |r| r.get(0),
    )?;
    assert_eq!(
        path_of,
        std::fs::canonicalize(&workspace).unwrap().to_string_lossy()
    );
    Ok(())
}

#[test]
fn the_json_ait42s_frontend_sends_is_read_back_unchanged() -> Result<()> {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(&dir.path().join("s.db"), &options())?;
    let text = r#"{"id":"deb-1","type":"debate","task":"Pick a name","status":"paused",
        "createdAt":"2025-01-13T10:00:00.123456789+00:00","updatedAt":"2025-01-13T10:00:00.123456789+00:00",
        "completedAt":null,"model":"opus","timeoutSeconds":600,"preserveWorktrees":false,"winnerId":null,
        "runtimeMix":[],"totalDuration":null,"totalFilesChanged":null,"totalLinesAdded":null,
        "totalLinesDeleted":null,"instances":[],"chatHistory":[]}"#;
    let session: WorktreeSession = text.parse().unwrap();
    db.worktrees()?.create_session("/no/such/dir/", &session)?;
    let back = db
        .worktrees()?
        .get_session("/no/such/dir", "deb-1")?
        .unwrap();
    let expected: serde_json::Value = serde_json::from_str(text).unwrap();
    assert_eq!(back.to_json(), expected);
    Ok(())
}
