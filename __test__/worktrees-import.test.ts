// The importer AIT42 never wrote: its legacy ~/.ait42/sessions/<hash>.json files into the
// worktrees store. AIT42's migration_tests.rs (§3.5) simulated the import by hand with SQL;
// here every case runs the real importer.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

import { openStore, workspaceHash, type WorktreeSessionInput } from '../index.js'
import { sqlQuery } from './helpers/sqlite'
import { tempDir, thrown } from './helpers/tmp'
import { instance, message, session } from './helpers/worktrees'

const root = tempDir('stowage-worktrees-import-')
let n = 0
const fresh = () => {
  const d = join(root, `case-${++n}`)
  mkdirSync(join(d, 'sessions'), { recursive: true })
  return { dir: join(d, 'sessions'), store: openStore(join(d, 'sessions.db'), { stores: ['worktrees'] }) }
}
const WS = '/home/dev/projects/editor'
const HASH = workspaceHash(WS)
/** A legacy file as AIT42 writes it: serde_json's pretty printing, no trailing newline. */
const write = (dir: string, sessions: unknown[], hash = HASH) => writeFileSync(join(dir, `${hash}.json`), JSON.stringify(sessions, null, 2))
const ids = (list: { id: string }[]) => list.map((s) => s.id).sort()

describe('migration_tests, with the importer', () => {
  it('migrates a single session', () => {
    const { dir, store } = fresh()
    write(dir, [session('one')])
    const r = store.worktrees.importLegacyJson(dir)
    expect(r).toEqual({ migrated: true, counts: { sessions: 1, workspaces: 1 }, orphans: {}, errors: [] })
    expect(store.worktrees.getSession(WS, 'one')?.task).toBe('Task of one')
    store.close()
  })

  it('migrates multiple sessions, and 100', () => {
    const { dir, store } = fresh()
    write(dir, Array.from({ length: 100 }, (_, i) => session(`s${i}`)))
    write(dir, [session('x1'), session('x2')], '0000000000000001')
    expect(store.worktrees.importLegacyJson(dir).counts).toEqual({ sessions: 102, workspaces: 2 })
    expect(store.worktrees.getAllSessions(WS)).toHaveLength(100)
    expect(store.worktrees.stats().sessions).toBe(102)
    store.close()
  })

  it('migrates sessions with instances and with chat messages', () => {
    const { dir, store } = fresh()
    write(dir, [
      session('with-instances', { instances: [instance(0), instance(1, { output: 'y'.repeat(120_000) })] }),
      session('with-messages', { chatHistory: [message('m1', '2025-01-13T10:00:00.000Z'), message('m2', '2025-01-13T10:00:01.000Z', { role: 'assistant', instanceId: 1 })] }),
    ])
    expect(store.worktrees.importLegacyJson(dir).counts).toEqual({ chat_messages: 2, instances: 2, sessions: 2, workspaces: 1 })
    const s = store.worktrees.getSession(WS, 'with-instances')!
    expect(s.instances.map((i) => [i.instanceId, i.sessionId])).toEqual([[0, 'with-instances'], [1, 'with-instances']])
    expect(s.instances[1].output).toBe('y'.repeat(120_000))
    expect(store.worktrees.getSession(WS, 'with-messages')!.chatHistory.map((m) => [m.id, m.role, m.instanceId])).toEqual([['m1', 'user', null], ['m2', 'assistant', 1]])
    store.close()
  })

  it('detects duplicates: a session the store has is skipped, a second run imports nothing twice', () => {
    const { dir, store } = fresh()
    store.worktrees.createSession(WS, session('dup', { task: 'Original task' }))
    write(dir, [session('dup', { task: 'Duplicate task' }), session('new')])
    expect(store.worktrees.importLegacyJson(dir).counts).toEqual({ sessions: 1 })
    expect(store.worktrees.getSession(WS, 'dup')?.task).toBe('Original task')
    expect(store.worktrees.importLegacyJson(dir)).toEqual({ migrated: false, counts: {}, orphans: {}, errors: [] })
    expect(store.worktrees.stats().sessions).toBe(2)
    store.close()
  })

  it('preserves every field, in AIT42\'s JSON shape', () => {
    const { dir, store } = fresh()
    const full: WorktreeSessionInput = session('full', {
      type: 'debate', status: 'completed', completedAt: '2025-01-13T11:00:00.000Z', model: 'opus', timeoutSeconds: 900,
      preserveWorktrees: true, winnerId: 1, runtimeMix: ['claude', 'gemini'], totalDuration: 4200, totalFilesChanged: 9,
      totalLinesAdded: 250, totalLinesDeleted: 40,
      instances: [instance(0, { output: 'out', startTime: 's', endTime: 'e', filesChanged: 1, linesAdded: 2, linesDeleted: 3, runtime: 'claude', model: 'opus', runtimeLabel: 'Claude' })],
      chatHistory: [message('fm', '2025-01-13T10:00:00+09:00', { role: 'system', instanceId: 0 })],
    })
    write(dir, [full])
    store.worktrees.importLegacyJson(dir)
    const got = store.worktrees.getSession(WS, 'full')!
    expect(got).toEqual({
      ...full,
      instances: [{ ...full.instances![0], sessionId: 'full' }],
      chatHistory: [{ ...full.chatHistory![0], sessionId: 'full' }],
    })
    store.close()
  })

  it('migrates incrementally: 5, then 5 more in the same file', () => {
    const { dir, store } = fresh()
    const first = Array.from({ length: 5 }, (_, i) => session(`a${i}`))
    write(dir, first)
    expect(store.worktrees.importLegacyJson(dir).counts.sessions).toBe(5)
    write(dir, [...first, ...Array.from({ length: 5 }, (_, i) => session(`b${i}`))])
    expect(store.worktrees.importLegacyJson(dir).counts).toEqual({ sessions: 5 })
    expect(store.worktrees.getAllSessions(WS)).toHaveLength(10)
    store.close()
  })
})

describe('the legacy files as AIT42 leaves them', () => {
  it('reads an older writer\'s file (no runtime keys) and a hand-written one without optional keys', () => {
    const { dir, store } = fresh()
    write(dir, [
      { id: 'old', type: 'competition', task: 't', status: 'completed', createdAt: 'c', updatedAt: 'u', completedAt: null,
        instances: [{ instanceId: 0, worktreePath: '/w', branch: 'b', agentName: 'a', status: 'completed', tmuxSessionId: 'm', output: null, startTime: null, endTime: null, filesChanged: null, linesAdded: null, linesDeleted: null }],
        chatHistory: [] },
      { id: 'bare', type: 'ensemble', task: 't', status: 'paused', createdAt: 'c', updatedAt: 'u' },
    ])
    expect(store.worktrees.importLegacyJson(dir).errors).toEqual([])
    expect(store.worktrees.getSession(WS, 'old')).toMatchObject({ runtimeMix: null, model: null, instances: [{ runtime: null, model: null, runtimeLabel: null }] })
    expect(store.worktrees.getSession(WS, 'bare')).toMatchObject({ instances: [], chatHistory: [] })
    store.close()
  })

  it('reports a truncated file, a non-array, a BOM and bad entries; imports the rest; leaves every file as it was', () => {
    const { dir, store } = fresh()
    const h = (i: number) => `00000000000000${String(i).padStart(2, '0')}`
    write(dir, [session('good'), { id: 'no-type' }, session('bad-status', { status: 'sleeping' as never }), session('m-dup', { chatHistory: [message('shared', 't')] }), session('m-dup2', { chatHistory: [message('shared', 't')] })])
    writeFileSync(join(dir, `${h(1)}.json`), '[\n  {\n    "id": "cut", "ta')
    writeFileSync(join(dir, `${h(2)}.json`), '{"sessions": []}')
    writeFileSync(join(dir, `${h(3)}.json`), `\ufeff${JSON.stringify([session('bom')])}`)
    writeFileSync(join(dir, `${h(4)}.json`), ' \n\t ')
    writeFileSync(join(dir, `${h(5)}.json`), '')
    writeFileSync(join(dir, 'settings.json'), '{ not ours')
    writeFileSync(join(dir, `${HASH.toUpperCase()}.json`), '[]')
    const before = readdirSync(dir).map((f) => [f, readFileSync(join(dir, f), 'utf8')])
    const r = store.worktrees.importLegacyJson(dir, { workspaces: { [HASH]: WS } })
    expect(r.counts).toEqual({ chat_messages: 1, sessions: 2, workspaces: 1 })
    expect(r.errors.map((e) => [e.file.slice(dir.length + 1), e.entry])).toEqual([
      [`${h(1)}.json`, null], [`${h(2)}.json`, null], [`${h(3)}.json`, null],
      [`${HASH}.json`, 1], [`${HASH}.json`, 2], [`${HASH}.json`, 4],
    ])
    expect(r.errors[0].reason).toMatch(/not valid JSON/)
    expect(r.errors[1].reason).toMatch(/expected an array/)
    expect(r.errors[3].reason).toMatch(/'type' must be a string/)
    expect(r.errors[4].reason).toMatch(/CHECK/)
    expect(r.errors[5].reason).toMatch(/UNIQUE|PRIMARY/)
    expect(ids(store.worktrees.getAllSessions(WS))).toEqual(['good', 'm-dup'])
    expect(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f), 'utf8')])).toEqual(before)
    store.close()
  })

  it('names the workspace row from options.workspaces, else from the hash as AIT42 does', () => {
    const { dir, store } = fresh()
    write(dir, [session('named')])
    write(dir, [session('unnamed')], 'abcdefabcdefabcd')
    store.worktrees.importLegacyJson(dir, { workspaces: { [HASH]: WS } })
    const file = store.info().path
    store.close()
    expect(sqlQuery(file, 'SELECT hash, path FROM workspaces ORDER BY hash')).toEqual([
      { hash: HASH, path: WS }, { hash: 'abcdefabcdefabcd', path: 'abcdefabcdefabcd' },
    ])
  })

  it('reads ~/.ait42/sessions by default, and a missing folder imports nothing', () => {
    const { store } = fresh()
    const home = join(root, `home-${n}`)
    mkdirSync(join(home, '.ait42', 'sessions'), { recursive: true })
    write(join(home, '.ait42', 'sessions'), [session('from-home')])
    const saved = process.env.HOME
    process.env.HOME = home
    try {
      expect(store.worktrees.importLegacyJson().counts.sessions).toBe(1)
    } finally {
      process.env.HOME = saved
    }
    expect(store.worktrees.importLegacyJson(join(root, 'absent'))).toEqual({ migrated: false, counts: {}, orphans: {}, errors: [] })
    store.close()
  })

  it('is one transaction: a throwing onProgress leaves nothing, and inside store.transaction it joins', () => {
    const { dir, store } = fresh()
    write(dir, [session('p1'), session('p2')])
    const phases: string[] = []
    const boom = new Error('stop')
    expect(thrown(() => store.worktrees.importLegacyJson(dir, { onProgress: (p) => { phases.push(p.phase); if (p.phase === 'commit') throw boom } }))).toBe(boom)
    expect(phases).toEqual(['scan', 'import', 'import', 'commit'])
    expect(store.worktrees.stats()).toMatchObject({ sessions: 0, workspaces: 0 })
    expect(() => store.transaction(() => {
      store.worktrees.importLegacyJson(dir)
      throw new Error('undo')
    })).toThrow('undo')
    expect(store.worktrees.stats().sessions).toBe(0)
    store.close()
  })

  it('runs off the JS thread with importLegacyJsonAsync', async () => {
    const { dir, store } = fresh()
    write(dir, [session('async', { instances: [instance(0)] })])
    const events: string[] = []
    const r = await store.worktrees.importLegacyJsonAsync(dir, { onProgress: (p) => events.push(p.phase) })
    expect(r.counts).toEqual({ instances: 1, sessions: 1, workspaces: 1 })
    expect(events.at(-1)).toBe('done')
    expect(store.worktrees.getSession(WS, 'async')?.instances).toHaveLength(1)
    await expect(store.worktrees.importLegacyJsonAsync(5 as never)).rejects.toMatchObject({ name: 'TypeError' })
    store.close()
  })
})
