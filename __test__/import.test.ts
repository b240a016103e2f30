// The import framework as every store's importLegacyJson uses it, through the agents store:
// the report, progress on the JS thread and off it, one transaction, a throwing callback.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

import { openStore } from '../index.js'
import type { ImportProgress } from '../index.js'
import { tempDir, thrown } from './helpers/tmp'

const root = tempDir('stowage-import-')
let n = 0
const agentsStore = () => openStore(join(root, `a${++n}.db`), { stores: ['agents'] })

const session = (agentName: string) => ({
  id: `id-${agentName}`, agentName, capability: 'builder', worktreePath: `/w/${agentName}`, branchName: 'b', taskId: 't',
  tmuxSession: `tmux-${agentName}`, state: 'working', startedAt: '2026-01-01T00:00:00.000Z', lastActivity: '2026-01-01T00:00:01.000Z',
})

function legacyFile(entries: unknown[]): string {
  const file = join(root, `sessions-${++n}.json`)
  writeFileSync(file, JSON.stringify(entries))
  return file
}

describe('importLegacyJson', () => {
  it('reports counts, orphans and errors, and imports the good entries', () => {
    const store = agentsStore()
    const file = legacyFile([session('a'), { agentName: 'no-id' }, 'not an object', session('b')])
    const report = store.agents.importLegacyJson(file)
    expect(report).toEqual({
      migrated: true,
      imported: 2,
      counts: { sessions: 2 },
      orphans: {},
      errors: [
        { file, entry: 1, reason: "'taskId' is missing" },
        { file, entry: 2, reason: 'not an object' },
      ],
    })
    expect(store.agents.getAll().map((s) => s.agentName)).toEqual(['a', 'b'])
    store.close()
  })

  it('calls onProgress on this thread, phase by phase, with the file and its bytes', () => {
    const store = agentsStore()
    const file = legacyFile([session('a'), session('b'), session('c')])
    const bytes = readFileSync(file).length
    const events: ImportProgress[] = []
    store.agents.importLegacyJson(file, { onProgress: (p) => events.push(p) })
    expect(events).toEqual([
      { phase: 'scan', filesDone: 0, filesTotal: 0, bytesDone: 0, bytesTotal: 0, rows: 0 },
      { phase: 'import', filesDone: 0, filesTotal: 1, bytesDone: 0, bytesTotal: bytes, rows: 0 },
      { phase: 'import', filesDone: 1, filesTotal: 1, bytesDone: bytes, bytesTotal: bytes, rows: 3, file },
      { phase: 'commit', filesDone: 1, filesTotal: 1, bytesDone: bytes, bytesTotal: bytes, rows: 3 },
      { phase: 'done', filesDone: 1, filesTotal: 1, bytesDone: bytes, bytesTotal: bytes, rows: 3 },
    ])
    store.close()
  })

  it('a callback that throws before the commit leaves nothing imported and its value rethrown', () => {
    const store = agentsStore()
    const file = legacyFile([session('a')])
    const mine = { mine: true }
    for (const stopAt of ['scan', 'import', 'commit']) {
      let caught: unknown
      try {
        store.agents.importLegacyJson(file, {
          onProgress: (p) => {
            if (p.phase === stopAt) throw mine
          },
        })
      } catch (err) {
        caught = err
      }
      expect(caught).toBe(mine)
      expect(store.agents.count()).toBe(0)
    }
    expect(store.agents.importLegacyJson(file).imported).toBe(1)
    store.close()
  })

  it('joins an open transaction: rolled back with it', () => {
    const store = agentsStore()
    const file = legacyFile([session('a')])
    expect(
      thrown(() =>
        store.transaction(() => {
          expect(store.agents.importLegacyJson(file).imported).toBe(1)
          expect(store.agents.count()).toBe(1)
          throw new Error('undo')
        }),
      ).message,
    ).toBe('undo')
    expect(store.agents.count()).toBe(0)
    store.close()
  })

  it('onProgress must be a function: TypeError naming it', () => {
    const store = agentsStore()
    const err = thrown(() => store.agents.importLegacyJson(legacyFile([]), { onProgress: 5 as never }))
    expect(err).toBeInstanceOf(TypeError)
    expect(err.message).toMatch(/^importLegacyJson: options.onProgress must be a function/)
    store.close()
  })
})

describe('importLegacyJsonAsync', () => {
  it('imports on a connection of its own and resolves with the report; progress arrives first', async () => {
    const store = agentsStore()
    const file = legacyFile([session('a'), session('b')])
    const phases: string[] = []
    const report = await store.agents.importLegacyJsonAsync(file, { onProgress: (p) => phases.push(p.phase) })
    expect(report).toMatchObject({ migrated: true, imported: 2, counts: { sessions: 2 }, errors: [] })
    expect(phases).toEqual(['scan', 'import', 'import', 'commit', 'done'])
    expect(store.agents.getAll().map((s) => s.agentName)).toEqual(['a', 'b'])
    store.close()
  })

  it('a callback that throws by the commit rejects with its value and imports nothing', async () => {
    const store = agentsStore()
    const file = legacyFile([session('a')])
    const mine = new Error('stop')
    await expect(
      store.agents.importLegacyJsonAsync(file, {
        onProgress: (p) => {
          if (p.phase === 'import') throw mine
        },
      }),
    ).rejects.toBe(mine)
    expect(store.agents.count()).toBe(0)
    store.close()
  })

  it('rejects, not throws, for bad arguments and a store in memory', async () => {
    const store = agentsStore()
    await expect(store.agents.importLegacyJsonAsync(5 as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' })
    store.close()
    const memory = openStore(':memory:', { stores: ['agents'] })
    await expect(memory.agents.importLegacyJsonAsync(legacyFile([session('a')]))).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' })
    memory.close()
  })
})
