-- The agents store's tables, as overstory's src/sessions/store.ts (May 2026 and later) creates
-- them in .overstory/sessions.db, so the file stays usable by overstory's own tools (`ov doctor`
-- checks these tables and columns) and by an overstory that has not switched to stowage.
-- Every statement is IF NOT EXISTS: on a file overstory wrote, older layouts are brought to this
-- shape beforehand (see agents/schema.rs) and this only adds what is missing.

-- One row per agent process. agent_name is the key every operation uses; id is the caller's
-- session id and is overwritten by upsert. state has no CHECK: the state machine is enforced by
-- the store (tryTransitionState), so new states need no table rebuild. Timestamps are ISO 8601
-- text (JS `toISOString()`), as overstory writes them.
CREATE TABLE IF NOT EXISTS sessions (
  id                TEXT PRIMARY KEY,
  agent_name        TEXT NOT NULL UNIQUE,
  capability        TEXT NOT NULL,
  worktree_path     TEXT NOT NULL,
  branch_name       TEXT NOT NULL,
  -- named bead_id before February 2026
  task_id           TEXT NOT NULL,
  -- set to '' when the agent reaches a terminal state (its tmux session is gone)
  tmux_session      TEXT NOT NULL,
  state             TEXT NOT NULL DEFAULT 'booting',
  pid               INTEGER,
  -- NULL when the orchestrator spawned the agent
  parent_agent      TEXT,
  depth             INTEGER NOT NULL DEFAULT 0,
  run_id            TEXT,
  started_at        TEXT NOT NULL,
  last_activity     TEXT NOT NULL,
  -- 0 warn, 1 nudge, 2 escalate, 3 terminate
  escalation_level  INTEGER NOT NULL DEFAULT 0,
  stalled_since     TEXT,
  transcript_path   TEXT,
  prompt_version    TEXT,
  -- the runtime's own session id (Claude stream-json session_id)
  claude_session_id TEXT
);

CREATE INDEX IF NOT EXISTS idx_sessions_state ON sessions(state);
CREATE INDEX IF NOT EXISTS idx_sessions_run ON sessions(run_id);

-- One row per orchestration run. agent_count is still written for older overstory binaries but
-- never read: the store derives it from sessions on every read.
CREATE TABLE IF NOT EXISTS runs (
  id                     TEXT PRIMARY KEY,
  started_at             TEXT NOT NULL,
  completed_at           TEXT,
  agent_count            INTEGER NOT NULL DEFAULT 0,
  coordinator_session_id TEXT,
  coordinator_name       TEXT,
  status                 TEXT NOT NULL DEFAULT 'active'
    CHECK(status IN ('active','completed','failed'))
);

CREATE INDEX IF NOT EXISTS idx_runs_status ON runs(status);
CREATE INDEX IF NOT EXISTS idx_runs_coordinator ON runs(coordinator_name);
