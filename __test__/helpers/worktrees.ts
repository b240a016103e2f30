// Factories of AIT42's objects for the worktrees store's tests (AIT42's tests/common factories),
// and the files AIT42's crate writes.
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

import type { WorktreeSessionInput } from '../../index.js'
import { sqlExec } from './sqlite'

/** A running competition session created and updated at 2025-01-13T10:00:00.000Z. */
export const session = (id: string, extra: Partial<WorktreeSessionInput> = {}): WorktreeSessionInput => ({
  id,
  type: 'competition',
  task: `Task of ${id}`,
  status: 'running',
  createdAt: '2025-01-13T10:00:00.000Z',
  updatedAt: '2025-01-13T10:00:00.000Z',
  ...extra,
})

/** A running instance numbered `instanceId`. */
export const instance = (instanceId: number, extra: Record<string, unknown> = {}) => ({
  instanceId,
  worktreePath: `/tmp/worktree-${instanceId}`,
  branch: `ait42/instance-${instanceId}`,
  agentName: 'claude',
  status: 'running' as const,
  tmuxSessionId: `tmux-${instanceId}`,
  ...extra,
})

/** A user message. */
export const message = (id: string, timestamp: string, extra: Record<string, unknown> = {}) => ({
  id,
  role: 'user' as const,
  content: `Message ${id}`,
  timestamp,
  ...extra,
})

/** AIT42's migration, byte for byte (__test__/fixtures/ait42). */
export const AIT42_MIGRATION = readFileSync(join(__dirname, '..', 'fixtures', 'ait42', '20250113_001_initial_schema.sql'))
/** sqlx's checksum of it: SHA-384 of the bytes. */
export const AIT42_CHECKSUM = createHash('sha384').update(AIT42_MIGRATION).digest('hex')

/** sqlx 0.7's ledger DDL for SQLite and the row its migrator writes after applying AIT42's file. */
export const SQLX_LEDGER = `
CREATE TABLE IF NOT EXISTS _sqlx_migrations (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    success BOOLEAN NOT NULL,
    checksum BLOB NOT NULL,
    execution_time BIGINT NOT NULL
);
INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
VALUES (20250113, '001 initial schema', TRUE, X'${AIT42_CHECKSUM}', 1893042);`

/** Writes at `path` a file as AIT42's crate leaves it: its migration, sqlx's ledger, rows written
 * by its repository for the workspace `HASH` (path = the hash; `datetime('now')` bumps beside
 * RFC 3339). */
export function writeAit42File(path: string, hash: string): void {
  sqlExec(path, `${AIT42_MIGRATION.toString('utf8')}\n${SQLX_LEDGER}
    INSERT INTO workspaces (hash, path, last_accessed) VALUES ('${hash}', '${hash}', datetime('now'));
    INSERT INTO sessions (id, workspace_hash, session_type, task, status, created_at, updated_at, preserve_worktrees, runtime_mix, winner_id)
      VALUES ('old', '${hash}', 'competition', 'Old task', 'completed', '2025-01-13T00:00:00.000Z', '2025-01-13 22:28:40', 1, '["claude","codex"]', 1),
             ('new', '${hash}', 'debate', 'New task', 'running', '2025-01-14T00:00:00.123456789+00:00', '2025-01-14T00:00:00.123456789+00:00', NULL, NULL, NULL);
    INSERT INTO instances (session_id, instance_id, worktree_path, branch, agent_name, status, tmux_session_id, output)
      VALUES ('old', 1, '/w/1', 'b1', 'claude', 'completed', 't1', 'done'), ('old', 0, '/w/0', 'b0', 'codex', 'failed', 't0', NULL);
    INSERT INTO chat_messages (id, session_id, role, content, timestamp, instance_id)
      VALUES ('m2', 'old', 'assistant', 'later', '2025-01-13T10:00:02Z', 0), ('m1', 'old', 'user', 'tokyo', '2025-01-13T19:00:01+09:00', NULL);`)
}
