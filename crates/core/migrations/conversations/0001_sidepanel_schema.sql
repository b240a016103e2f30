-- The conversations store: the opencode sidepanel's chat sessions and their messages (spec 37,
-- with the branch columns of its migration 2 in the table from the start, so no ALTER can fail
-- on a column that is already there). Timestamps are ISO 8601 text with milliseconds and `Z`
-- (`2026-05-01T12:00:00.000Z`), so text order is time order.

CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  title TEXT NOT NULL,
  created_at TEXT NOT NULL,
  -- Bumped by every message appended and every edit; the session list is ordered by it.
  updated_at TEXT NOT NULL,
  model TEXT NOT NULL,
  provider TEXT DEFAULT 'venice',
  -- A fork's own name; the sessions that are no fork are 'main'.
  branch_name TEXT DEFAULT 'main',
  -- The session this one was forked from. A parent's deletion leaves its forks as roots.
  parent_session_id TEXT REFERENCES sessions (id) ON DELETE SET NULL,
  -- The parent's message sequence the fork was taken at (its messages 1..branch_point copied).
  branch_point INTEGER,
  -- Running totals of the messages' tokens and cost, kept by appendMessage in its transaction.
  prompt_tokens INTEGER DEFAULT 0,
  completion_tokens INTEGER DEFAULT 0,
  cost REAL DEFAULT 0,
  is_archived INTEGER DEFAULT 0,
  -- 1 for a session restored from an archive.
  is_imported INTEGER DEFAULT 0
);

CREATE INDEX idx_sessions_updated ON sessions (updated_at DESC);
CREATE INDEX idx_sessions_archived ON sessions (is_archived);
CREATE INDEX idx_sessions_parent ON sessions (parent_session_id);

CREATE TABLE messages (
  id TEXT PRIMARY KEY,
  session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  role TEXT NOT NULL,
  content TEXT NOT NULL,
  created_at TEXT NOT NULL,
  prompt_tokens INTEGER,
  completion_tokens INTEGER,
  -- JSON array of the message's tool calls, or NULL.
  tool_calls TEXT,
  -- 1, 2, 3, ... within a session, assigned in the appending transaction: no gap, no duplicate.
  sequence INTEGER NOT NULL,
  -- Not in spec 37: the message's cost, so that a fork's session cost can be recomputed from
  -- the messages it copies.
  cost REAL,
  -- Not in spec 37: the full-text index's key. The table's rowid cannot be (it has no INTEGER
  -- PRIMARY KEY, so VACUUM may renumber it, which would detach the index from its rows).
  fts_rowid INTEGER NOT NULL UNIQUE
);

-- Unique: a second writer that computed the same next sequence fails instead of duplicating it.
CREATE UNIQUE INDEX idx_messages_session_sequence ON messages (session_id, sequence);

-- Full-text index over the messages' content (external content: the text is stored once, in
-- `messages`), kept in step by the triggers below; ranked with bm25.
CREATE VIRTUAL TABLE messages_fts USING fts5 (
  content,
  content = 'messages',
  content_rowid = 'fts_rowid',
  tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
  INSERT INTO messages_fts (rowid, content) VALUES (new.fts_rowid, new.content);
END;

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
  INSERT INTO messages_fts (messages_fts, rowid, content)
    VALUES ('delete', old.fts_rowid, old.content);
END;

CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, fts_rowid ON messages BEGIN
  INSERT INTO messages_fts (messages_fts, rowid, content)
    VALUES ('delete', old.fts_rowid, old.content);
  INSERT INTO messages_fts (rowid, content) VALUES (new.fts_rowid, new.content);
END;
