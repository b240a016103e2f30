// The agents store through the JS surface: overstory's store.test.ts cases (reference §2.8).
import { join } from 'node:path'
import { beforeEach, describe, expect, it } from 'vitest'

import { AgentSession, AgentSessionStore, createRunStore, createSessionStore, openStore, SessionStore } from '../index.js'
import { sqlQuery } from './helpers/sqlite'
import { tempDir, thrown } from './helpers/tmp'

const root = tempDir('stowage-agents-')
let n = 0
let file: string
let store: SessionStore

function session(over: Partial<AgentSession> = {}): AgentSession {
  return {
    id: `sess-${over.agentName ?? 'builder-1'}`,
    agentName: 'builder-1',
    capability: 'builder',
    worktreePath: '/repo/.overstory/worktrees/builder-1',
    branchName: 'overstory/builder-1/task-1',
    taskId: 'task-1',
    tmuxSession: 'overstory-builder-1',
    state: 'booting',
    pid: 4242,
    parentAgent: null,
    depth: 0,
    runId: 'run-1',
    startedAt: '2026-05-01T10:00:00.000Z',
    lastActivity: '2026-05-01T10:00:00.000Z',
    escalationLevel: 0,
    stalledSince: null,
    transcriptPath: null,
    ...over,
  }
}

beforeEach(() => {
  file = join(root, `s${++n}.db`)
  store = createSessionStore(file)
})

describe('upsert and reads', () => {
  it('inserts, then updates every field on the same agentName', () => {
    store.upsert(session())
    store.upsert(session({ id: 'sess-new', capability: 'lead', state: 'working', pid: 7, depth: 2 }))
    expect(store.count()).toBe(1)
    expect(store.getByName('builder-1')).toMatchObject({ id: 'sess-new', capability: 'lead', state: 'working', pid: 7, depth: 2 })
  })

  it('round-trips every field, camelCase to snake_case columns and back', () => {
    const full = session({
      parentAgent: 'lead-1',
      depth: 1,
      stalledSince: '2026-05-01T10:05:00.000Z',
      transcriptPath: '/t/x.jsonl',
      escalationLevel: 2,
      promptVersion: 'v3',
      claudeSessionId: 'claude-abc',
    })
    store.upsert(full)
    expect(store.getByName('builder-1')).toEqual(full)
    const [row] = sqlQuery(file, "SELECT agent_name, worktree_path, task_id, parent_agent, escalation_level, claude_session_id FROM sessions")
    expect(row).toEqual({ agent_name: 'builder-1', worktree_path: full.worktreePath, task_id: 'task-1', parent_agent: 'lead-1', escalation_level: 2, claude_session_id: 'claude-abc' })
  })

  it('keeps nullable fields null and omits unset optional ones', () => {
    store.upsert(session({ pid: null, runId: null }))
    const got = store.getByName('builder-1')!
    expect(got.pid).toBeNull()
    expect(got.parentAgent).toBeNull()
    expect(got.runId).toBeNull()
    expect(got.stalledSince).toBeNull()
    expect(got.transcriptPath).toBeNull()
    expect('promptVersion' in got).toBe(false)
    expect('claudeSessionId' in got).toBe(false)
    expect(sqlQuery(file, 'SELECT claude_session_id FROM sessions')).toEqual([{ claude_session_id: null }])
  })

  it('accepts any state string, empty strings and special characters', () => {
    store.upsert(session({ state: 'custom-state', worktreePath: "/tmp/a b/ü'\"; DROP TABLE x", taskId: '' }))
    expect(store.getByName('builder-1')).toMatchObject({ state: 'custom-state', worktreePath: "/tmp/a b/ü'\"; DROP TABLE x", taskId: '' })
  })

  it('getByName finds the right row among many and null for an unknown name', () => {
    for (let i = 0; i < 100; i++) store.upsert(session({ agentName: `a-${i}`, startedAt: `2026-05-01T10:00:${String(i % 60).padStart(2, '0')}.${String(i).padStart(3, '0')}Z` }))
    expect(store.count()).toBe(100)
    expect(store.getAll()).toHaveLength(100)
    expect(store.getByName('a-57')?.id).toBe('sess-a-57')
    expect(store.getByName('nobody')).toBeNull()
  })

  it('getActive returns the five active states oldest first, never completed or zombie', () => {
    expect(store.getActive()).toEqual([])
    const states = ['zombie', 'stalled', 'booting', 'completed', 'between_turns', 'working', 'in_turn']
    states.forEach((state, i) => store.upsert(session({ agentName: state, state, startedAt: `2026-05-01T10:00:0${9 - i}.000Z` })))
    expect(store.getActive().map((s) => s.state)).toEqual(['in_turn', 'working', 'between_turns', 'booting', 'stalled'])
  })

  it('getAll orders by startedAt, getByRun filters by run, count follows inserts and removes', () => {
    expect(store.getAll()).toEqual([])
    expect(store.count()).toBe(0)
    store.upsert(session({ agentName: 'late', startedAt: '2026-05-02T00:00:00.000Z', runId: 'run-2' }))
    store.upsert(session({ agentName: 'early', startedAt: '2026-05-01T00:00:00.000Z' }))
    store.upsert(session({ agentName: 'middle', startedAt: '2026-05-01T12:00:00.000Z' }))
    expect(store.getAll().map((s) => s.agentName)).toEqual(['early', 'middle', 'late'])
    expect(store.getByRun('run-1').map((s) => s.agentName)).toEqual(['early', 'middle'])
    expect(store.getByRun('run-none')).toEqual([])
    store.remove('middle')
    expect(store.count()).toBe(2)
    expect(store.count()).toBe(store.getAll().length)
    store.remove('nobody')
    expect(store.count()).toBe(2)
  })
})

describe('state changes', () => {
  it('updateState overwrites without checks; an unknown agent is a no-op', () => {
    store.upsert(session({ state: 'completed' }))
    store.updateState('builder-1', 'working')
    expect(store.getByName('builder-1')?.state).toBe('working')
    store.updateState('nobody', 'working')
    expect(store.count()).toBe(1)
  })

  const cases: Array<[string, string, boolean]> = [
    ['booting', 'working', true],
    ['working', 'completed', true],
    ['working', 'zombie', true],
    ['zombie', 'completed', true],
    ['stalled', 'working', true],
    ['completed', 'zombie', false],
    ['completed', 'working', false],
    ['zombie', 'working', false],
    ['working', 'working', true],
    ['completed', 'completed', true],
    ['stalled', 'stalled', true],
    ['booting', 'booting', false],
    ['working', 'booting', false],
    ['booting', 'in_turn', true],
    ['in_turn', 'between_turns', true],
    ['between_turns', 'in_turn', true],
    ['working', 'in_turn', false],
    ['booting', 'between_turns', false],
    ['in_turn', 'completed', true],
    ['between_turns', 'zombie', true],
    ['working', 'no-such-state', false],
  ]
  for (const [from, to, ok] of cases) {
    it(`tryTransitionState ${from} → ${to} is ${ok ? 'applied' : 'rejected'}`, () => {
      store.upsert(session({ state: from }))
      const out = store.tryTransitionState('builder-1', to)
      if (ok) expect(out).toEqual({ ok: true, prev: from, next: to })
      else expect(out).toEqual({ ok: false, reason: 'illegal_transition', prev: from, attempted: to })
      expect(store.getByName('builder-1')?.state).toBe(ok ? to : from)
    })
  }

  it('tryTransitionState on an unknown agent is not_found', () => {
    expect(store.tryTransitionState('ghost', 'working')).toEqual({ ok: false, reason: 'not_found', attempted: 'working' })
  })

  it('runs the in_turn / between_turns cycle', () => {
    store.upsert(session())
    for (const s of ['in_turn', 'between_turns', 'in_turn', 'between_turns', 'stalled', 'in_turn', 'completed']) {
      expect(store.tryTransitionState('builder-1', s).ok).toBe(true)
    }
  })

  it('races: stop wins and the late watchdog zombie is rejected with prev=completed', () => {
    store.upsert(session({ state: 'working' }))
    const other = createSessionStore(file)
    expect(store.tryTransitionState('builder-1', 'completed').ok).toBe(true)
    expect(other.tryTransitionState('builder-1', 'zombie')).toEqual({ ok: false, reason: 'illegal_transition', prev: 'completed', attempted: 'zombie' })
    other.close()
  })

  it('races: watchdog wins and the late turn-runner settle is rejected', () => {
    store.upsert(session({ state: 'in_turn' }))
    const other = createSessionStore(file)
    expect(other.tryTransitionState('builder-1', 'zombie').ok).toBe(true)
    expect(store.tryTransitionState('builder-1', 'working')).toMatchObject({ ok: false, prev: 'zombie' })
    other.close()
  })

  it('races: two writers to the same target both succeed; conflicting targets reject the second', () => {
    store.upsert(session({ state: 'working' }))
    const other = createSessionStore(file)
    expect(store.tryTransitionState('builder-1', 'stalled').ok).toBe(true)
    expect(other.tryTransitionState('builder-1', 'stalled').ok).toBe(true)
    expect(store.tryTransitionState('builder-1', 'completed').ok).toBe(true)
    expect(other.tryTransitionState('builder-1', 'working')).toMatchObject({ ok: false, prev: 'completed' })
    other.close()
  })

  it('clears tmuxSession on terminal states by both paths, keeps it otherwise and on rejection', () => {
    store.upsert(session({ agentName: 'a', state: 'working' }))
    store.upsert(session({ agentName: 'b', state: 'working' }))
    store.upsert(session({ agentName: 'c', state: 'completed' }))
    store.tryTransitionState('a', 'stalled')
    expect(store.getByName('a')?.tmuxSession).toBe('overstory-builder-1')
    store.tryTransitionState('a', 'zombie')
    expect(store.getByName('a')?.tmuxSession).toBe('')
    store.updateState('b', 'completed')
    expect(store.getByName('b')?.tmuxSession).toBe('')
    expect(store.tryTransitionState('c', 'working').ok).toBe(false)
    expect(store.getByName('c')?.tmuxSession).toBe('overstory-builder-1')
    store.updateState('c', 'working')
    expect(store.getByName('c')?.tmuxSession).toBe('overstory-builder-1')
  })

  it('takes a configured state machine', () => {
    const custom = openStore(join(root, 'custom.db'), {
      stores: ['agents'],
      agents: { transitions: { queued: [], running: ['queued'], done: ['running'] }, terminalStates: ['done'], activeStates: ['queued', 'running'] },
    })
    custom.agents.upsert(session({ state: 'queued' }))
    expect(custom.agents.getActive()).toHaveLength(1)
    expect(custom.agents.tryTransitionState('builder-1', 'done')).toMatchObject({ ok: false, prev: 'queued' })
    expect(custom.agents.tryTransitionState('builder-1', 'running').ok).toBe(true)
    expect(custom.agents.tryTransitionState('builder-1', 'done').ok).toBe(true)
    expect(custom.agents.getByName('builder-1')).toMatchObject({ state: 'done', tmuxSession: '' })
    expect(custom.agents.getActive()).toEqual([])
    custom.close()
  })
})

describe('other fields', () => {
  it('updateLastActivity stamps a recent ISO time and changes nothing else', () => {
    store.upsert(session())
    const before = Date.now()
    store.updateLastActivity('builder-1')
    const got = store.getByName('builder-1')!
    expect(got.lastActivity).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    expect(Date.parse(got.lastActivity)).toBeGreaterThanOrEqual(before - 5)
    expect(Date.parse(got.lastActivity)).toBeLessThanOrEqual(Date.now() + 5)
    expect({ ...got, lastActivity: '' }).toEqual({ ...session(), lastActivity: '' })
  })

  it('updateEscalation sets and clears stalledSince', () => {
    store.upsert(session())
    store.updateEscalation('builder-1', 2, '2026-05-01T11:00:00.000Z')
    expect(store.getByName('builder-1')).toMatchObject({ escalationLevel: 2, stalledSince: '2026-05-01T11:00:00.000Z' })
    store.updateEscalation('builder-1', 0, null)
    expect(store.getByName('builder-1')).toMatchObject({ escalationLevel: 0, stalledSince: null })
  })

  it('updateTranscriptPath and updateClaudeSessionId set one field; unknown agents are no-ops', () => {
    store.upsert(session())
    store.updateTranscriptPath('builder-1', '/t/1.jsonl')
    store.updateClaudeSessionId('builder-1', 'cs-1')
    store.updateTranscriptPath('nobody', '/x')
    expect(store.getByName('builder-1')).toMatchObject({ transcriptPath: '/t/1.jsonl', claudeSessionId: 'cs-1' })
    expect(store.count()).toBe(1)
  })

  it('remove deletes only the target row', () => {
    store.upsert(session({ agentName: 'a' }))
    store.upsert(session({ agentName: 'b' }))
    store.remove('a')
    expect(store.getAll().map((s) => s.agentName)).toEqual(['b'])
  })
})

describe('purge', () => {
  beforeEach(() => {
    store.upsert(session({ agentName: 'a', state: 'completed' }))
    store.upsert(session({ agentName: 'b', state: 'completed' }))
    store.upsert(session({ agentName: 'c', state: 'working' }))
  })
  it('all deletes everything and returns the count', () => {
    expect(store.purge({ all: true })).toBe(3)
    expect(store.count()).toBe(0)
    expect(store.purge({ all: true })).toBe(0)
  })
  it('by state, by agent, and both with AND', () => {
    expect(store.purge({ state: 'completed', agent: 'c' })).toBe(0)
    expect(store.purge({ state: 'completed', agent: 'a' })).toBe(1)
    expect(store.purge({ agent: 'c' })).toBe(1)
    expect(store.purge({ state: 'completed' })).toBe(1)
    expect(store.count()).toBe(0)
  })
  it('no criteria deletes nothing', () => {
    expect(store.purge({})).toBe(0)
    expect(store.count()).toBe(3)
  })
})

describe('files and errors', () => {
  it('data persists across instances; opening twice is idempotent', () => {
    store.upsert(session())
    store.close()
    store.close()
    const again = createSessionStore(file)
    expect(again.getByName('builder-1')?.agentName).toBe('builder-1')
    const third = createSessionStore(file)
    expect(third.count()).toBe(1)
    again.close()
    third.close()
    expect(sqlQuery(file, "SELECT version FROM stowage_migrations WHERE store = 'agents'")).toEqual([{ version: 1 }])
  })

  it('the run store shares the session store’s file', () => {
    const runs = createRunStore(file)
    runs.createRun({ id: 'run-1', startedAt: '2026-05-01T09:00:00.000Z' })
    store.upsert(session())
    expect(runs.getRun('run-1')?.agentCount).toBe(1)
    runs.close()
  })

  it('rejects wrong types with TypeErrors naming the argument, and calls after close', () => {
    const e1 = thrown(() => store.upsert({ ...session(), agentName: 5 as unknown as string }))
    expect(e1).toBeInstanceOf(TypeError)
    expect(e1.message).toContain('upsert: session.agentName must be a string')
    expect(thrown(() => store.upsert(null as unknown as AgentSession))).toBeInstanceOf(TypeError)
    expect(thrown(() => store.upsert(session({ depth: 1.5 }))).code).toBe('ERR_OUT_OF_RANGE')
    expect(thrown(() => store.tryTransitionState('a', undefined as unknown as string)).code).toBe('ERR_INVALID_ARG_TYPE')
    expect(thrown(() => store.updateEscalation('a', null as unknown as number, null)).code).toBe('ERR_INVALID_ARG_TYPE')
    expect(thrown(() => store.purge(undefined as unknown as {})).code).toBe('ERR_INVALID_ARG_TYPE')
    store.close()
    expect(thrown(() => store.count()).code).toBe('ERR_CLOSED')
  })

  it('the agents store is separate from the training store', () => {
    expect(thrown(() => openStore(join(root, 'both.db'), { stores: ['training', 'agents'] })).code).toBe('ERR_INVALID_ARG')
    const training = openStore(join(root, 'training.db'))
    expect('agents' in training).toBe(false)
    expect(Object.keys(training)).toEqual(['training'])
    training.close()
    const err = thrown(() => createSessionStore(join(root, 'training.db')))
    expect(err.code).toBe('ERR_SCHEMA_CONFLICT')
    const s = openStore(join(root, 'training.db'))
    expect(s.training.listRuns()).toEqual([])
    s.close()
    const agents = openStore(join(root, 'x.db'), { stores: ['agents'] })
    expect(agents.agents).toBeInstanceOf(AgentSessionStore)
    expect('training' in agents).toBe(false)
    expect(agents.info()).toMatchObject({ stores: ['agents'], schema: { agents: 1 } })
    agents.close()
  })
})
