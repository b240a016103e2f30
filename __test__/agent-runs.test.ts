// The runs of the agents store through the JS surface: overstory's RunStore cases (§2.8).
import { join } from 'node:path'
import { beforeEach, describe, expect, it } from 'vitest'

import { AgentSession, createRunStore, createSessionStore, RunStore, SessionStore } from '../index.js'
import { tempDir, thrown } from './helpers/tmp'

const root = tempDir('stowage-agent-runs-')
let n = 0
let runs: RunStore
let sessions: SessionStore

const agent = (agentName: string, runId: string | null): AgentSession => ({
  id: `id-${agentName}`, agentName, capability: 'builder', worktreePath: '/w', branchName: 'b', taskId: 't',
  tmuxSession: 'tmux', state: 'working', pid: null, parentAgent: null, depth: 0, runId,
  startedAt: '2026-05-01T10:00:00.000Z', lastActivity: '2026-05-01T10:00:00.000Z', escalationLevel: 0,
  stalledSince: null, transcriptPath: null,
})

beforeEach(() => {
  const file = join(root, `r${++n}.db`)
  runs = createRunStore(file)
  sessions = createSessionStore(file)
})

describe('runs', () => {
  it('creates and gets a run with every field; unknown ids are null', () => {
    const created = runs.createRun({ id: 'run-a', startedAt: '2026-05-01T09:00:00.000Z', coordinatorSessionId: 'coord-sess', coordinatorName: 'coordinator', status: 'active' })
    const expected = { id: 'run-a', startedAt: '2026-05-01T09:00:00.000Z', completedAt: null, agentCount: 0, coordinatorSessionId: 'coord-sess', coordinatorName: 'coordinator', status: 'active' }
    expect(created).toEqual(expected)
    expect(runs.getRun('run-a')).toEqual(expected)
    expect(runs.getRun('nope')).toBeNull()
  })

  it('defaults: generated run-<ISO> id, startedAt now, status active, null coordinator', () => {
    const r = runs.createRun()
    expect(r.id).toMatch(/^run-\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    expect(r.startedAt).toBe(r.id.slice(4))
    expect(r).toMatchObject({ status: 'active', coordinatorSessionId: null, coordinatorName: null, completedAt: null })
    const again = runs.createRun({})
    expect(again.id).not.toBe(r.id)
  })

  it('derives agentCount from the sessions on every read', () => {
    runs.createRun({ id: 'run-a', agentCount: 99 })
    sessions.upsert(agent('a', 'run-a'))
    sessions.upsert(agent('b', 'run-a'))
    sessions.upsert(agent('c', 'run-other'))
    expect(runs.getRun('run-a')?.agentCount).toBe(2)
    sessions.remove('a')
    expect(runs.listRuns()[0].agentCount).toBe(1)
  })

  it('rejects an invalid status and a duplicate id', () => {
    expect(thrown(() => runs.createRun({ id: 'x', status: 'paused' as 'active' })).code).toBe('SQLITE_CONSTRAINT_CHECK')
    runs.createRun({ id: 'dup' })
    expect(thrown(() => runs.createRun({ id: 'dup' })).code).toBe('SQLITE_CONSTRAINT_PRIMARYKEY')
    expect(runs.listRuns()).toHaveLength(1)
  })

  it('getActiveRun returns the newest active run and ignores completed and failed ones', () => {
    expect(runs.getActiveRun()).toBeNull()
    runs.createRun({ id: 'old', startedAt: '2026-05-01T01:00:00.000Z' })
    runs.createRun({ id: 'new', startedAt: '2026-05-01T03:00:00.000Z' })
    runs.createRun({ id: 'done', startedAt: '2026-05-01T05:00:00.000Z', status: 'completed' })
    runs.createRun({ id: 'bad', startedAt: '2026-05-01T06:00:00.000Z', status: 'failed' })
    expect(runs.getActiveRun()?.id).toBe('new')
  })

  it('listRuns orders newest first, filters by status, limits, and both together', () => {
    for (let i = 0; i < 50; i++) runs.createRun({ id: `run-${i}`, startedAt: `2026-05-01T00:${String(i).padStart(2, '0')}:00.000Z`, status: i % 2 ? 'completed' : 'active' })
    expect(runs.listRuns().map((r) => r.id).slice(0, 3)).toEqual(['run-49', 'run-48', 'run-47'])
    expect(runs.listRuns({ status: 'completed' })).toHaveLength(25)
    expect(runs.listRuns({ limit: 5 })).toHaveLength(5)
    expect(runs.listRuns({ limit: 2, status: 'active' }).map((r) => r.id)).toEqual(['run-48', 'run-46'])
    expect(runs.listRuns({ limit: 0 })).toEqual([])
    expect(thrown(() => runs.listRuns({ limit: -1 })).code).toBe('ERR_INVALID_ARG')
    expect(thrown(() => runs.listRuns({ limit: 'x' as unknown as number })).code).toBe('ERR_INVALID_ARG_TYPE')
  })

  it('incrementAgentCount is a no-op, also on an unknown id', () => {
    runs.createRun({ id: 'r' })
    runs.incrementAgentCount('r')
    runs.incrementAgentCount('unknown')
    expect(runs.getRun('r')?.agentCount).toBe(0)
  })

  it('completeRun sets completed or failed with a timestamp, keeps the count, ignores unknown ids', () => {
    runs.createRun({ id: 'a' })
    runs.createRun({ id: 'b' })
    sessions.upsert(agent('x', 'a'))
    runs.completeRun('a', 'completed')
    runs.completeRun('b', 'failed')
    runs.completeRun('nope', 'completed')
    expect(runs.getRun('a')).toMatchObject({ status: 'completed', agentCount: 1 })
    expect(runs.getRun('a')?.completedAt).toMatch(/Z$/)
    expect(runs.getRun('b')?.status).toBe('failed')
    expect(thrown(() => runs.completeRun('a', 'active' as 'failed')).code).toBe('ERR_INVALID_ARG')
  })

  it('getActiveRunForCoordinator matches, ignores others, returns the newest or null', () => {
    runs.createRun({ id: 'c1-old', coordinatorName: 'c1', startedAt: '2026-05-01T01:00:00.000Z' })
    runs.createRun({ id: 'c1-new', coordinatorName: 'c1', startedAt: '2026-05-01T02:00:00.000Z' })
    runs.createRun({ id: 'c2', coordinatorName: 'c2', startedAt: '2026-05-01T03:00:00.000Z' })
    runs.createRun({ id: 'c1-done', coordinatorName: 'c1', startedAt: '2026-05-01T04:00:00.000Z', status: 'completed' })
    expect(runs.getActiveRunForCoordinator('c1')?.id).toBe('c1-new')
    expect(runs.getActiveRunForCoordinator('c2')?.id).toBe('c2')
    expect(runs.getActiveRunForCoordinator('c3')).toBeNull()
    runs.completeRun('c2', 'completed')
    expect(runs.getActiveRunForCoordinator('c2')).toBeNull()
  })
})
