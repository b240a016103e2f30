// overstory files: importing the legacy sessions.json (compat.test.ts cases, §2.8) and adopting
// sessions.db files of every overstory layout (§2.5).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

import { createRunStore, createSessionStore, openSessionStore } from '../index.js'
import { sqlExec, sqlQuery } from './helpers/sqlite'
import { tempDir, thrown } from './helpers/tmp'
import { OVERSTORY_LAYOUTS } from './helpers/overstory'

const root = tempDir('stowage-agents-compat-')
let n = 0
const dir = () => {
  const d = join(root, `o${++n}`)
  mkdirSync(d)
  return d
}

const legacy = (agentName: string, extra: Record<string, unknown> = {}) => ({
  id: `id-${agentName}`, agentName, capability: 'builder', worktreePath: `/w/${agentName}`, branchName: 'b', taskId: 't-1',
  tmuxSession: `tmux-${agentName}`, state: 'working', startedAt: '2026-01-01T00:00:00.000Z', lastActivity: '2026-01-01T00:00:01.000Z',
  ...extra,
})

describe('openSessionStore and sessions.json', () => {
  it('creates an empty database when neither file exists', () => {
    const d = dir()
    const r = openSessionStore(d)
    expect(r).toMatchObject({ migrated: false, imported: 0, errors: [] })
    expect(r.store.count()).toBe(0)
    r.store.close()
  })

  it('imports when no database exists, with defaults for missing optional fields', () => {
    const d = dir()
    writeFileSync(join(d, 'sessions.json'), JSON.stringify([legacy('a'), legacy('b', { pid: 12, runId: 'run-1', depth: 1, escalationLevel: 2, stalledSince: 'x', transcriptPath: '/t', parentAgent: 'a' })]))
    const r = openSessionStore(d)
    expect(r).toMatchObject({ migrated: true, imported: 2, errors: [] })
    expect(r.store.getByName('a')).toEqual({ ...legacy('a'), pid: null, parentAgent: null, depth: 0, runId: null, escalationLevel: 0, stalledSince: null, transcriptPath: null })
    expect(r.store.getByName('b')).toMatchObject({ pid: 12, runId: 'run-1', depth: 1, escalationLevel: 2, stalledSince: 'x', transcriptPath: '/t', parentAgent: 'a' })
    expect(r.store.tryTransitionState('a', 'completed').ok).toBe(true)
    r.store.close()
    expect(readFileSync(join(d, 'sessions.json'), 'utf8')).toContain('"agentName":"a"')
  })

  it('does not import a second time once the database has data', () => {
    const d = dir()
    writeFileSync(join(d, 'sessions.json'), JSON.stringify([legacy('a')]))
    openSessionStore(d).store.close()
    writeFileSync(join(d, 'sessions.json'), JSON.stringify([legacy('a'), legacy('b'), legacy('c')]))
    const r = openSessionStore(d)
    expect(r).toMatchObject({ migrated: false, imported: 0 })
    expect(r.store.count()).toBe(1)
    r.store.close()
  })

  it('imports when the database exists but is empty', () => {
    const d = dir()
    createSessionStore(join(d, 'sessions.db')).close()
    writeFileSync(join(d, 'sessions.json'), JSON.stringify([legacy('a')]))
    const r = openSessionStore(d)
    expect(r.migrated).toBe(true)
    r.store.close()
  })

  it('an empty array imports nothing', () => {
    const d = dir()
    writeFileSync(join(d, 'sessions.json'), '[]')
    const r = openSessionStore(d)
    expect(r).toMatchObject({ migrated: false, imported: 0, errors: [] })
    r.store.close()
  })

  it('reports malformed JSON and a non-array instead of ignoring them; the store stays empty', () => {
    for (const [text, reason] of [['{"oops', /not valid JSON/], ['{"sessions": []}', /expected an array of sessions, found an object/]] as const) {
      const d = dir()
      writeFileSync(join(d, 'sessions.json'), text)
      const r = openSessionStore(d)
      expect(r.migrated).toBe(false)
      expect(r.errors).toHaveLength(1)
      expect(r.errors[0]).toMatchObject({ file: join(d, 'sessions.json'), entry: null })
      expect(r.errors[0].reason).toMatch(reason)
      expect(r.store.count()).toBe(0)
      r.store.close()
    }
  })

  it('duplicate agent names: the last entry wins', () => {
    const d = dir()
    writeFileSync(join(d, 'sessions.json'), JSON.stringify([legacy('a', { state: 'booting' }), legacy('a', { state: 'completed', id: 'second' })]))
    const r = openSessionStore(d)
    expect(r.store.count()).toBe(1)
    expect(r.store.getByName('a')).toMatchObject({ state: 'completed', id: 'second' })
    r.store.close()
  })

  it('imports the good entries, reports the bad ones by index, reads a pre-2026 beadId', () => {
    const d = dir()
    const { taskId: _, ...old } = legacy('old')
    writeFileSync(join(d, 'sessions.json'), JSON.stringify([legacy('a'), 42, { ...legacy('b'), capability: undefined }, { ...old, beadId: 'bead-7' }, legacy('c', { pid: 'x' })]))
    const r = openSessionStore(d)
    expect(r.imported).toBe(2)
    expect(r.errors.map((e) => [e.entry, e.reason])).toEqual([[1, 'not an object'], [2, "'capability' is missing"], [4, "'pid' is not a number"]])
    expect(r.store.getByName('old')?.taskId).toBe('bead-7')
    r.store.close()
  })

  it('the import is one transaction: a failing write leaves no session behind', () => {
    const d = dir()
    // Two entries with the same id but different agent names: the second violates the primary key.
    writeFileSync(join(d, 'sessions.json'), JSON.stringify([legacy('a', { id: 'same' }), legacy('b', { id: 'same' })]))
    expect(thrown(() => openSessionStore(d)).code).toBe('SQLITE_CONSTRAINT_PRIMARYKEY')
    const s = createSessionStore(join(d, 'sessions.db'))
    expect(s.count()).toBe(0)
    s.close()
  })
})

describe('adopting overstory sessions.db files', () => {
  for (const [era, ddl] of Object.entries(OVERSTORY_LAYOUTS)) {
    it(`${era}: opens with every row kept, then accepts the 7 states`, () => {
      const file = join(dir(), 'sessions.db')
      const task = ddl.includes('bead_id') ? 'bead_id' : 'task_id'
      sqlExec(file, `${ddl}
        INSERT INTO sessions (id, agent_name, capability, worktree_path, branch_name, ${task}, tmux_session, state, pid,
          run_id, started_at, last_activity, escalation_level, stalled_since)
        VALUES ('s1', 'alpha', 'lead', '/w/a', 'br-a', 'task-a', 'tmux-a', 'working', 11, 'run-1', '2026-01-01T00:00:00.000Z', '2026-01-01T00:01:00.000Z', 1, NULL),
               ('s2', 'beta', 'builder', '/w/b', 'br-b', 'task-b', 'tmux-b', 'completed', NULL, 'run-1', '2026-01-02T00:00:00.000Z', '2026-01-02T00:01:00.000Z', 0, NULL);`)
      const s = createSessionStore(file)
      expect(s.getAll()).toEqual([
        { id: 's1', agentName: 'alpha', capability: 'lead', worktreePath: '/w/a', branchName: 'br-a', taskId: 'task-a', tmuxSession: 'tmux-a', state: 'working', pid: 11, parentAgent: null, depth: 0, runId: 'run-1', startedAt: '2026-01-01T00:00:00.000Z', lastActivity: '2026-01-01T00:01:00.000Z', escalationLevel: 1, stalledSince: null, transcriptPath: null },
        { id: 's2', agentName: 'beta', capability: 'builder', worktreePath: '/w/b', branchName: 'br-b', taskId: 'task-b', tmuxSession: 'tmux-b', state: 'completed', pid: null, parentAgent: null, depth: 0, runId: 'run-1', startedAt: '2026-01-02T00:00:00.000Z', lastActivity: '2026-01-02T00:01:00.000Z', escalationLevel: 0, stalledSince: null, transcriptPath: null },
      ])
      expect(s.tryTransitionState('alpha', 'stalled')).toEqual({ ok: true, prev: 'working', next: 'stalled' })
      expect(s.tryTransitionState('alpha', 'in_turn')).toEqual({ ok: true, prev: 'stalled', next: 'in_turn' })
      s.upsert({ ...s.getByName('beta')!, state: 'between_turns' })
      expect(s.getByName('beta')?.state).toBe('between_turns')
      const runs = createRunStore(file)
      runs.createRun({ id: 'run-2', coordinatorName: 'coordinator' })
      expect(runs.getActiveRunForCoordinator('coordinator')?.id).toBe('run-2')
      if (!era.startsWith('design')) expect(runs.getRun('run-1')).toMatchObject({ agentCount: 2, coordinatorSessionId: 'coord' })
      runs.close()
      s.close()
      const schema = sqlQuery<{ sql: string }>(file, "SELECT sql FROM sqlite_schema WHERE name = 'sessions'")[0].sql
      expect(schema).not.toMatch(/CHECK\s*\(\s*state/i)
      expect(sqlQuery(file, "SELECT name FROM sqlite_schema WHERE type = 'index' AND name LIKE 'idx_%' ORDER BY name").map((r) => r.name))
        .toEqual(['idx_runs_coordinator', 'idx_runs_status', 'idx_sessions_run', 'idx_sessions_state'])
      expect(sqlQuery(file, "SELECT store, version FROM stowage_migrations")).toEqual([{ store: 'agents', version: 1 }])
      expect(sqlQuery(file, 'PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }])
      const again = createSessionStore(file)
      expect(again.count()).toBe(2)
      again.close()
      expect(sqlQuery(file, "SELECT count(*) AS n FROM stowage_migrations")).toEqual([{ n: 1 }])
    })
  }

  it('a file holding another program’s runs table is refused and left unchanged', () => {
    const file = join(dir(), 'sessions.db')
    sqlExec(file, "CREATE TABLE runs (run_id TEXT PRIMARY KEY, name TEXT); INSERT INTO runs VALUES ('x', 'y');")
    const err = thrown(() => createSessionStore(file))
    expect(err.code).toBe('ERR_SCHEMA_CONFLICT')
    expect(err.message).toContain("table 'runs' exists but has no 'id' column")
    expect(sqlQuery(file, "SELECT name FROM sqlite_schema ORDER BY name")).toEqual([{ name: 'runs' }, { name: 'sqlite_autoindex_runs_1' }])
  })
})
