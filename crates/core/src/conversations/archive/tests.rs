//! The archive tests: round trips, hostile files, and progress sinks that stop the work.

use std::io::Write;

use super::*;
use crate::conversations::tests::{open, say, session};
use crate::conversations::{ListMessages, NewMessage};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

fn count(db: &crate::Database, table: &str) -> i64 {
    db.conn()
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_restored_archive_is_a_new_session_with_new_ids_and_the_same_messages() -> Result<()> {
    let (dir, db) = open();
    let c = db.conversations()?;
    let s = session(&c, "Design review");
    say(&c, &s.id, "first");
    c.append_message(
        &s.id,
        &NewMessage {
            role: "assistant".into(),
            content: "second, with a tool".into(),
            tool_calls: Some(r#"[{"name":"read","args":{"path":"a.rs"}}]"#.into()),
            prompt_tokens: Some(12),
            completion_tokens: Some(30),
            cost: Some(0.125),
        },
    )?;
    c.archive_session(&s.id, true)?;
    let file = dir.path().join("review.json.gz");
    let exported = c.export_archive(&s.id, &file)?;
    assert_eq!(
        (exported.messages, exported.bytes),
        (2, std::fs::metadata(&file).unwrap().len())
    );
    let r = c.restore_archive(&file)?;
    assert_ne!(r.id, s.id);
    assert_eq!(r.title, "Design review (restored)");
    assert!(r.is_imported && r.is_archived);
    assert_eq!(
        (r.created_at.as_str(), r.model.as_str()),
        (s.created_at.as_str(), "llama-3.3-70b")
    );
    assert_eq!(
        (r.prompt_tokens, r.completion_tokens, r.cost),
        (12, 30, 0.125)
    );
    let before = c.list_messages(&s.id, &ListMessages::default())?;
    let after = c.list_messages(&r.id, &ListMessages::default())?;
    assert_eq!(after.len(), 2);
    for (a, b) in after.iter().zip(&before) {
        assert_ne!(a.id, b.id);
        assert_eq!(
            (
                a.sequence,
                &a.role,
                &a.content,
                &a.created_at,
                &a.tool_calls,
                a.cost
            ),
            (
                b.sequence,
                &b.role,
                &b.content,
                &b.created_at,
                &b.tool_calls,
                b.cost
            )
        );
    }
    assert_eq!(c.search_messages("tool", &Default::default())?.len(), 2);
    assert_eq!(c.restore_archive(&file)?.title, "Design review (restored)");
    Ok(())
}

#[test]
fn a_hostile_archive_is_refused_with_nothing_written() -> Result<()> {
    let (dir, db) = open();
    let c = db.conversations()?;
    let s = session(&c, "Good");
    say(&c, &s.id, "hello");
    let good = dir.path().join("good.json.gz");
    c.export_archive(&s.id, &good)?;
    let bytes = std::fs::read(&good).unwrap();
    let mut text = Vec::new();
    GzDecoder::new(bytes.as_slice())
        .read_to_end(&mut text)
        .unwrap();
    let doc: Value = serde_json::from_slice(&text).unwrap();
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut d = doc.clone();
        edit(&mut d);
        gzip(d.to_string().as_bytes())
    };
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("not gzip", b"{\"format\": 1}".to_vec()),
        ("truncated", bytes[..bytes.len() / 2].to_vec()),
        ("empty", Vec::new()),
        ("not JSON", gzip(b"hello")),
        ("deep", gzip(deep.as_bytes())),
        ("array", gzip(b"[]")),
        ("format", with(&|d| d["format"] = json!("other"))),
        ("version", with(&|d| d["version"] = json!(2))),
        (
            "no session",
            with(&|d| {
                d.as_object_mut().unwrap().remove("session");
            }),
        ),
        ("title", with(&|d| d["session"]["title"] = json!(7))),
        (
            "created",
            with(&|d| d["session"]["createdAt"] = json!("2026-02-30T00:00:00.000Z")),
        ),
        ("messages", with(&|d| d["messages"] = json!({}))),
        ("role", with(&|d| d["messages"][0]["role"] = json!(null))),
        (
            "content",
            with(&|d| d["messages"][0]["content"] = json!(["x"])),
        ),
        (
            "tokens",
            with(&|d| d["messages"][0]["promptTokens"] = json!(-3)),
        ),
        (
            "fraction",
            with(&|d| d["messages"][0]["completionTokens"] = json!(1.5)),
        ),
        ("cost", with(&|d| d["messages"][0]["cost"] = json!("free"))),
        (
            "calls",
            with(&|d| d["messages"][0]["toolCalls"] = json!({"a": 1})),
        ),
        (
            "sequence",
            with(&|d| d["messages"][0]["sequence"] = json!(0)),
        ),
        (
            "twice",
            with(&|d| {
                let m = d["messages"][0].clone();
                d["messages"].as_array_mut().unwrap().push(m);
            }),
        ),
    ];
    let file = dir.path().join("bad.json.gz");
    for (name, bytes) in cases {
        std::fs::write(&file, bytes).unwrap();
        let err = c.restore_archive(&file).unwrap_err();
        assert_eq!(err.code(), "ERR_ARCHIVE_INVALID", "{name}: {err}");
    }
    let huge = dir.path().join("huge.json.gz");
    File::create(&huge)
        .unwrap()
        .set_len(MAX_ARCHIVE_BYTES + 1)
        .unwrap();
    assert_eq!(
        c.restore_archive(&huge).unwrap_err().code(),
        "ERR_ARCHIVE_INVALID"
    );
    assert_eq!(
        c.restore_archive(&dir.path().join("none"))
            .unwrap_err()
            .code(),
        "ENOENT"
    );
    assert_eq!((count(&db, "sessions"), count(&db, "messages")), (1, 1));
    Ok(())
}

#[test]
fn a_sink_that_stops_the_restore_leaves_nothing_and_a_failed_export_no_file() -> Result<()> {
    let (dir, db) = open();
    let c = db.conversations()?;
    let s = session(&c, "Long");
    for i in 0..1500 {
        say(&c, &s.id, &format!("message {i}"));
    }
    let file = dir.path().join("long.json.gz");
    let mut phases = Vec::new();
    export_archive_on(db.conn(), &s.id, &file, &mut |p| {
        phases.push((p.phase.name(), p.done, p.total));
        Ok(())
    })?;
    assert_eq!(
        phases,
        [
            ("read", 0, 1500),
            ("read", 1000, 1500),
            ("write", 0, 1500),
            ("write", 1500, 1500)
        ]
    );
    let stop_at = |phase: ArchivePhase| {
        let err = restore_archive_on(db.conn(), &file, &mut |p| {
            if p.phase == phase {
                return Err(Error::Cancelled);
            }
            Ok(())
        })
        .unwrap_err();
        assert_eq!(err.code(), "ERR_CANCELLED");
    };
    for phase in [
        ArchivePhase::Read,
        ArchivePhase::Validate,
        ArchivePhase::Restore,
        ArchivePhase::Commit,
    ] {
        stop_at(phase);
    }
    assert_eq!((count(&db, "sessions"), count(&db, "messages")), (1, 1500));
    let missing_dir = dir.path().join("no").join("such.json.gz");
    assert_eq!(
        c.export_archive(&s.id, &missing_dir).unwrap_err().code(),
        "ENOENT"
    );
    let nope = dir.path().join("nope.json.gz");
    assert_eq!(
        c.export_archive("nope", &nope).unwrap_err().code(),
        "ERR_NOT_FOUND"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        !left
            .iter()
            .any(|n| n.to_string_lossy().ends_with(".tmp") || n == "nope.json.gz"),
        "{left:?}"
    );
    Ok(())
}
