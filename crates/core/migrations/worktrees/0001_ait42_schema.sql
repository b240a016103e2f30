-- The worktrees store: AIT42 Editor's `ait42-session` schema (its sqlx migration
-- `20250113_001_initial_schema.sql`), table for table, column for column, with the same
-- CHECKs, foreign keys and index names, so that one file serves AIT42's crate and stowage.
--
-- Every statement is IF NOT EXISTS / OR IGNORE: on a file AIT42 created, this migration finds
-- everything in place, changes nothing and only records itself in stowage's ledger (adoption).
-- The journal mode and foreign keys, which AIT42's file sets with PRAGMAs, are the engine's.

-- One row per workspace folder. `hash` is AIT42's workspace hash (the first 16 hex digits of
-- the SHA-256 of the canonical path), the same name its legacy JSON files carry; `path` is the
-- folder (AIT42's crate writes the hash here too, having no path; stowage writes the path).
CREATE TABLE IF NOT EXISTS workspaces (
    hash TEXT PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    -- Bumped whenever a session of the workspace is created or updated.
    last_accessed TEXT NOT NULL DEFAULT (datetime('now'))
);

CREATE INDEX IF NOT EXISTS idx_workspaces_path ON workspaces(path);
CREATE INDEX IF NOT EXISTS idx_workspaces_hash ON workspaces(hash);

-- One competition, ensemble or debate run of several agents on one task.
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    workspace_hash TEXT NOT NULL,
    -- Serialised as `type` in AIT42's objects.
    session_type TEXT NOT NULL CHECK(session_type IN ('competition', 'ensemble', 'debate')),
    task TEXT NOT NULL,
    status TEXT NOT NULL CHECK(status IN ('running', 'completed', 'failed', 'paused')),
    -- Timestamps are text, kept exactly as the caller gave them (RFC 3339 in AIT42's files).
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    completed_at TEXT,
    -- The model every instance runs, when the session has one.
    model TEXT,
    timeout_seconds INTEGER,
    -- 0/1: keep the git worktrees once the session ends.
    preserve_worktrees INTEGER,
    -- The instance id of the competition's winner.
    winner_id INTEGER,
    -- The runtimes of a mixed session, as a JSON array of strings.
    runtime_mix TEXT,
    -- Totals over the instances, filled in when the session completes.
    total_duration INTEGER,
    total_files_changed INTEGER,
    total_lines_added INTEGER,
    total_lines_deleted INTEGER,
    FOREIGN KEY (workspace_hash) REFERENCES workspaces(hash) ON DELETE CASCADE,
    CHECK(id <> ''),
    CHECK(task <> '')
);

CREATE INDEX IF NOT EXISTS idx_sessions_workspace ON sessions(workspace_hash);
CREATE INDEX IF NOT EXISTS idx_sessions_status ON sessions(status);
CREATE INDEX IF NOT EXISTS idx_sessions_type ON sessions(session_type);
CREATE INDEX IF NOT EXISTS idx_sessions_created ON sessions(created_at DESC);
CREATE INDEX IF NOT EXISTS idx_sessions_updated ON sessions(updated_at DESC);

-- One agent of a session, working in its own git worktree and tmux session. `id` is only the
-- row's key (AUTOINCREMENT, as AIT42 declares it); `instance_id` is the number AIT42's objects
-- carry, unique within the session.
CREATE TABLE IF NOT EXISTS instances (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    instance_id INTEGER NOT NULL,
    worktree_path TEXT NOT NULL,
    branch TEXT NOT NULL,
    agent_name TEXT NOT NULL,
    status TEXT NOT NULL CHECK(status IN ('idle', 'running', 'completed', 'failed', 'paused', 'archived')),
    tmux_session_id TEXT NOT NULL,
    -- The agent's captured output; often beyond 100 KB.
    output TEXT,
    start_time TEXT,
    end_time TEXT,
    files_changed INTEGER,
    lines_added INTEGER,
    lines_deleted INTEGER,
    -- The runtime (claude, codex, ...) of a mixed session, its model and display label.
    runtime TEXT,
    model TEXT,
    runtime_label TEXT,
    FOREIGN KEY (session_id) REFERENCES sessions(id) ON DELETE CASCADE,
    UNIQUE(session_id, instance_id),
    CHECK(instance_id >= 0)
);

CREATE INDEX IF NOT EXISTS idx_instances_session ON instances(session_id);
CREATE INDEX IF NOT EXISTS idx_instances_status ON instances(status);
CREATE INDEX IF NOT EXISTS idx_instances_session_instance ON instances(session_id, instance_id);

-- The session's chat. Message ids are one key across all sessions; `instance_id` names the
-- instance a message is about, without a foreign key (as in AIT42's schema).
CREATE TABLE IF NOT EXISTS chat_messages (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    role TEXT NOT NULL CHECK(role IN ('user', 'assistant', 'system')),
    content TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    instance_id INTEGER,
    FOREIGN KEY (session_id) REFERENCES sessions(id) ON DELETE CASCADE,
    CHECK(id <> ''),
    CHECK(content <> '')
);

CREATE INDEX IF NOT EXISTS idx_chat_messages_session ON chat_messages(session_id);
CREATE INDEX IF NOT EXISTS idx_chat_messages_timestamp ON chat_messages(timestamp DESC);
CREATE INDEX IF NOT EXISTS idx_chat_messages_role ON chat_messages(role);

-- AIT42's planned JSON-migration status, a single row. Neither AIT42's crate nor stowage reads
-- it; it is here, seeded as AIT42 seeds it, so the file is the one AIT42 expects.
CREATE TABLE IF NOT EXISTS migration_metadata (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    schema_version INTEGER NOT NULL DEFAULT 1,
    migrated_at TEXT NOT NULL DEFAULT (datetime('now')),
    json_backup_path TEXT,
    migration_status TEXT NOT NULL DEFAULT 'pending',
    last_updated_at TEXT NOT NULL DEFAULT (datetime('now'))
);

INSERT OR IGNORE INTO migration_metadata (id, schema_version, migration_status)
VALUES (1, 1, 'pending');

-- sqlx's migration ledger, in sqlx's own DDL, with the row AIT42's migrator writes when it
-- applies `20250113_001_initial_schema.sql`: the version and description from the file name,
-- and the checksum sqlx compares on every open, the SHA-384 of that file's bytes. Without this
-- row AIT42 would run its migration again on the file, and fail. `execution_time` is sqlx's
-- elapsed nanoseconds, which nothing reads; stowage records 0.
CREATE TABLE IF NOT EXISTS _sqlx_migrations (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    success BOOLEAN NOT NULL,
    checksum BLOB NOT NULL,
    execution_time BIGINT NOT NULL
);

INSERT OR IGNORE INTO _sqlx_migrations (version, description, success, checksum, execution_time)
VALUES (20250113, '001 initial schema', TRUE,
    X'26e41e2cc0070785a900c3b9711e2e6b0c253f7dd1aa7341a8ed73835f729ad5179b7bd274617f09162bb7632d23b05c',
    0);
