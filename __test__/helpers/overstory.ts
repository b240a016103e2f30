// overstory's sessions.db layouts, for the tests that build files overstory wrote.

/** sessions.db as overstory wrote it before stowage, at three points in its history. */
export const OVERSTORY_LAYOUTS: Record<string, string> = {
  'design-note era (5-state CHECK, bead_id, no later columns, no runs table)': `
    CREATE TABLE sessions (id TEXT PRIMARY KEY, agent_name TEXT NOT NULL UNIQUE, capability TEXT NOT NULL,
      worktree_path TEXT NOT NULL, branch_name TEXT NOT NULL, bead_id TEXT NOT NULL, tmux_session TEXT NOT NULL,
      state TEXT NOT NULL DEFAULT 'booting' CHECK(state IN ('booting','working','completed','stalled','zombie')),
      pid INTEGER, parent_agent TEXT, depth INTEGER NOT NULL DEFAULT 0, run_id TEXT, started_at TEXT NOT NULL,
      last_activity TEXT NOT NULL, escalation_level INTEGER NOT NULL DEFAULT 0, stalled_since TEXT);
    CREATE INDEX idx_sessions_state ON sessions(state);`,
  'February 2026 (CHECK, task_id, transcript_path; runs without coordinator_name)': `
    CREATE TABLE sessions (id TEXT PRIMARY KEY, agent_name TEXT NOT NULL UNIQUE, capability TEXT NOT NULL,
      worktree_path TEXT NOT NULL, branch_name TEXT NOT NULL, task_id TEXT NOT NULL, tmux_session TEXT NOT NULL,
      state TEXT NOT NULL DEFAULT 'booting'
        CHECK(state IN ('booting','working','completed','stalled','zombie')),
      pid INTEGER, parent_agent TEXT, depth INTEGER NOT NULL DEFAULT 0, run_id TEXT, started_at TEXT NOT NULL,
      last_activity TEXT NOT NULL, escalation_level INTEGER NOT NULL DEFAULT 0, stalled_since TEXT, transcript_path TEXT);
    CREATE TABLE runs (id TEXT PRIMARY KEY, started_at TEXT NOT NULL, completed_at TEXT,
      agent_count INTEGER NOT NULL DEFAULT 0, coordinator_session_id TEXT,
      status TEXT NOT NULL DEFAULT 'active' CHECK(status IN ('active','completed','failed')));
    INSERT INTO runs VALUES ('run-1', '2026-02-01T00:00:00.000Z', NULL, 1, 'coord', 'active');`,
  'May 2026 (no CHECK, every column)': `
    CREATE TABLE sessions (id TEXT PRIMARY KEY, agent_name TEXT NOT NULL UNIQUE, capability TEXT NOT NULL,
      worktree_path TEXT NOT NULL, branch_name TEXT NOT NULL, task_id TEXT NOT NULL, tmux_session TEXT NOT NULL,
      state TEXT NOT NULL DEFAULT 'booting', pid INTEGER, parent_agent TEXT, depth INTEGER NOT NULL DEFAULT 0,
      run_id TEXT, started_at TEXT NOT NULL, last_activity TEXT NOT NULL, escalation_level INTEGER NOT NULL DEFAULT 0,
      stalled_since TEXT, transcript_path TEXT, prompt_version TEXT, claude_session_id TEXT);
    CREATE TABLE runs (id TEXT PRIMARY KEY, started_at TEXT NOT NULL, completed_at TEXT,
      agent_count INTEGER NOT NULL DEFAULT 0, coordinator_session_id TEXT, coordinator_name TEXT,
      status TEXT NOT NULL DEFAULT 'active' CHECK(status IN ('active','completed','failed')));
    INSERT INTO runs VALUES ('run-1', '2026-05-01T00:00:00.000Z', NULL, 1, 'coord', 'coordinator', 'active');`,
}
