//! Forks: a new session holding copies of another's messages up to a sequence, and the tree of
//! forks below a session.

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension};

use super::{missing, non_empty, session_from_row, session_on, Conversations, Session};
use super::{NEW_ID, SESSION_COLUMNS};
use crate::engine::time::now_iso;
use crate::engine::{Error, Result};

/// Where and how [`Conversations::fork_session`] forks.
#[derive(Debug, Clone, Default)]
pub struct Fork {
    /// The sequence of the last message copied; a message of the session must have it.
    pub at_sequence: i64,
    /// Default `branch-<n>`, `n` counting the session's forks (this one included).
    pub branch_name: Option<String>,
    /// Default: the session's title.
    pub title: Option<String>,
}

/// A fork and the forks below it.
#[derive(Debug, Clone, PartialEq)]
pub struct Branch {
    pub session: Session,
    /// Its own forks, oldest first.
    pub branches: Vec<Branch>,
}

impl Conversations<'_> {
    /// Creates a fork of session `id`: a new session with `parent_session_id` = `id`,
    /// `branch_point` = `at_sequence`, the parent's model and provider, and copies (with new
    /// ids, the same sequences and timestamps) of the parent's messages 1..=`at_sequence`; its
    /// token and cost totals are those of the copied messages. One transaction.
    /// `ERR_NOT_FOUND` when there is no session `id` or no message `at_sequence` in it.
    pub fn fork_session(&self, id: &str, fork: &Fork) -> Result<Session> {
        if let Some(title) = &fork.title {
            non_empty("title", title)?;
        }
        if let Some(name) = &fork.branch_name {
            non_empty("branchName", name)?;
        }
        let now = now_iso();
        self.write(|c| {
            let parent = session_on(c, id)?.ok_or_else(|| missing(id))?;
            let at: Option<i64> = c
                .prepare_cached(
                    "SELECT sequence FROM messages WHERE session_id = ?1 AND sequence = ?2",
                )?
                .query_row(params![id, fork.at_sequence], |r| r.get(0))
                .optional()?;
            let Some(at) = at else {
                return Err(Error::NotFound(format!(
                    "session '{id}' has no message with sequence {}",
                    fork.at_sequence
                )));
            };
            let name = match &fork.branch_name {
                Some(name) => name.clone(),
                None => {
                    let forks: i64 = c
                        .prepare_cached(
                            "SELECT count(*) FROM sessions WHERE parent_session_id = ?1",
                        )?
                        .query_row([id], |r| r.get(0))?;
                    format!("branch-{}", forks + 1)
                }
            };
            let new_id: String = c
                .prepare_cached(&format!(
                    "INSERT INTO sessions (id, title, created_at, updated_at, model, provider,
                       branch_name, parent_session_id, branch_point)
                     VALUES ({NEW_ID}, ?1, ?2, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id"
                ))?
                .query_row(
                    params![
                        fork.title.as_deref().unwrap_or(&parent.title),
                        now,
                        parent.model,
                        parent.provider,
                        name,
                        id,
                        at
                    ],
                    |r| r.get(0),
                )?;
            let base: i64 = c
                .prepare_cached("SELECT coalesce(max(fts_rowid), 0) FROM messages")?
                .query_row([], |r| r.get(0))?;
            c.prepare_cached(&format!(
                "INSERT INTO messages (id, session_id, role, content, created_at, prompt_tokens,
                   completion_tokens, tool_calls, sequence, cost, fts_rowid)
                 SELECT {NEW_ID}, ?1, role, content, created_at, prompt_tokens,
                   completion_tokens, tool_calls, sequence, cost,
                   ?4 + row_number() OVER (ORDER BY sequence)
                 FROM messages WHERE session_id = ?2 AND sequence <= ?3 ORDER BY sequence"
            ))?
            .execute(params![new_id, id, at, base])?;
            c.prepare_cached(
                "UPDATE sessions SET
                   (prompt_tokens, completion_tokens, cost) = (
                     SELECT coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0),
                       coalesce(sum(cost), 0.0)
                     FROM messages WHERE session_id = ?1)
                 WHERE id = ?1",
            )?
            .execute([&new_id])?;
            session_on(c, &new_id)?.ok_or_else(|| missing(&new_id))
        })
    }

    /// The forks below session `id`, each with its own, oldest first. `ERR_NOT_FOUND` when
    /// there is no session `id`.
    pub fn get_branches(&self, id: &str) -> Result<Vec<Branch>> {
        if self.get_session(id)?.is_none() {
            return Err(missing(id));
        }
        let mut stmt = self.conn().prepare_cached(&format!(
            "WITH RECURSIVE below (id) AS (
               SELECT id FROM sessions WHERE parent_session_id = ?1
               UNION
               SELECT s.id FROM sessions s JOIN below b ON s.parent_session_id = b.id)
             SELECT {SESSION_COLUMNS} FROM sessions WHERE id IN below
             ORDER BY created_at, id"
        ))?;
        let sessions = stmt
            .query_map([id], session_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut children: HashMap<String, Vec<Session>> = HashMap::new();
        for s in sessions {
            let parent = s.parent_session_id.clone().unwrap_or_default();
            children.entry(parent).or_default().push(s);
        }
        Ok(tree(id, &mut children))
    }
}

/// The branches below `id`, taking them out of `children` (so a cycle, which only another
/// program could write, ends instead of recursing forever).
fn tree(id: &str, children: &mut HashMap<String, Vec<Session>>) -> Vec<Branch> {
    let Some(list) = children.remove(id) else {
        return Vec::new();
    };
    list.into_iter()
        .map(|session| {
            let branches = tree(&session.id, children);
            Branch { session, branches }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversations::tests::{open, say, session};
    use crate::conversations::{ListMessages, NewMessage};

    #[test]
    fn a_fork_copies_the_messages_up_to_the_branch_point_with_recomputed_totals() -> Result<()> {
        let (_dir, db) = open();
        let c = db.conversations()?;
        let s = session(&c, "Trip");
        for (i, text) in ["plan", "book", "pack", "go"].iter().enumerate() {
            c.append_message(
                &s.id,
                &NewMessage {
                    role: "user".into(),
                    content: (*text).into(),
                    prompt_tokens: Some(i as i64 + 1),
                    cost: Some(0.5),
                    ..Default::default()
                },
            )?;
        }
        let f = c.fork_session(
            &s.id,
            &Fork {
                at_sequence: 2,
                ..Default::default()
            },
        )?;
        assert_eq!(f.parent_session_id.as_deref(), Some(s.id.as_str()));
        assert_eq!(
            (f.branch_point, f.branch_name.as_str()),
            (Some(2), "branch-1")
        );
        assert_eq!(
            (f.title.as_str(), f.model.as_str()),
            ("Trip", "llama-3.3-70b")
        );
        assert_eq!((f.prompt_tokens, f.cost), (3, 1.0));
        let copied = c.list_messages(&f.id, &ListMessages::default())?;
        let original = c.list_messages(&s.id, &ListMessages::default())?;
        assert_eq!(copied.len(), 2);
        for (copy, orig) in copied.iter().zip(&original) {
            assert_ne!(copy.id, orig.id);
            assert_eq!(
                (copy.sequence, &copy.content, &copy.created_at),
                (orig.sequence, &orig.content, &orig.created_at)
            );
        }
        assert_eq!(say(&c, &f.id, "detour").sequence, 3);
        assert_eq!(c.list_messages(&s.id, &ListMessages::default())?.len(), 4);
        let hits = c.search_messages("book", &Default::default())?;
        assert_eq!(hits.len(), 2);
        let second = c.fork_session(
            &s.id,
            &Fork {
                at_sequence: 4,
                title: Some("Trip, all of it".into()),
                branch_name: None,
            },
        )?;
        assert_eq!(second.branch_name, "branch-2");
        for at in [0, 5] {
            let err = c
                .fork_session(
                    &s.id,
                    &Fork {
                        at_sequence: at,
                        ..Default::default()
                    },
                )
                .unwrap_err();
            assert_eq!(err.code(), "ERR_NOT_FOUND");
        }
        Ok(())
    }

    #[test]
    fn branches_form_the_tree_below_a_session_and_outlive_their_parent() -> Result<()> {
        let (_dir, db) = open();
        let c = db.conversations()?;
        let root = session(&c, "Root");
        say(&c, &root.id, "a");
        let at = |n| Fork {
            at_sequence: n,
            ..Default::default()
        };
        let a = c.fork_session(&root.id, &at(1))?;
        let b = c.fork_session(&root.id, &at(1))?;
        let a1 = c.fork_session(&a.id, &at(1))?;
        let tree = c.get_branches(&root.id)?;
        let mut top = [&a, &b];
        top.sort_by(|x, y| (&x.created_at, &x.id).cmp(&(&y.created_at, &y.id)));
        let ids = |list: &[Branch]| -> Vec<String> {
            list.iter().map(|br| br.session.id.clone()).collect()
        };
        assert_eq!(ids(&tree), [top[0].id.clone(), top[1].id.clone()]);
        let below = |s: &Session| tree.iter().find(|br| br.session.id == s.id).unwrap();
        assert_eq!(ids(&below(&a).branches), std::slice::from_ref(&a1.id));
        assert!(below(&b).branches.is_empty());
        assert!(c.get_branches(&a1.id)?.is_empty());
        assert_eq!(c.get_branches("nope").unwrap_err().code(), "ERR_NOT_FOUND");
        c.delete_session(&root.id)?;
        let orphan = c.get_session(&a.id)?.unwrap();
        assert_eq!(
            (orphan.parent_session_id, orphan.branch_point),
            (None, Some(1))
        );
        assert_eq!(c.get_branches(&a.id)?.len(), 1);
        Ok(())
    }
}
