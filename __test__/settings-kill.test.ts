// SIGKILL while settings are set and recovery states saved in a loop: every acknowledged `set`
// and `save` survives (the one in flight may too), and the file is intact. Each kill lands after
// a line the child wrote (fixtures/settings-kill-child.js); where it must land exactly, the child
// holds still after that line.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

import { openStore } from '../index.js'
import { eachLine } from './helpers/lines'
import { sqlQuery } from './helpers/sqlite'
import { tempDir } from './helpers/tmp'

const root = tempDir('stowage-settings-kill-')
const entry = join(__dirname, '..', 'index.js')
const child = join(__dirname, 'fixtures', 'settings-kill-child.js')
let n = 0

/** Runs the child on `file`; SIGKILLs it once it has written `killAt`. Resolves with its lines. */
function run(file: string, holdAt: string, killAt: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, entry, file, holdAt], { stdio: ['ignore', 'pipe', 'inherit'] })
    const lines: string[] = []
    let killed = false
    eachLine(p.stdout!, (line) => {
      lines.push(line)
      if (!killed && line === killAt) {
        killed = true
        p.kill('SIGKILL')
      }
    })
    p.on('error', reject)
    p.on('close', (code, signal) => (signal === 'SIGKILL' && killed ? resolve(lines) : reject(new Error(`child exited ${code ?? signal} before its kill point`))))
  })
}

/** What operation `i` of the child writes: a setting's key, or `null` for the recovery slot. */
function opKey(i: number): string | null {
  return i % 3 === 2 ? null : `k${i % 7}`
}

/** The last operation up to `last` that wrote `key` (-1 for none). */
function lastWrite(key: string | null, last: number): number {
  for (let i = last; i >= 0; i--) if (opKey(i) === key) return i
  return -1
}

/** Checks the file after the kill: intact, and each key and the slot hold the last acknowledged
 * write to them, or (unless `exact`) the write that was in flight. */
function verify(file: string, acknowledged: number, exact: boolean) {
  const store = openStore(file, { stores: ['settings'], settings: { namespace: 'sidepanel.' } })
  try {
    const inFlight = acknowledged + 1
    for (const key of [null, ...Array.from({ length: 7 }, (_, k) => `k${k}`)]) {
      const stored = key === null ? (store.recovery.check({ maxAgeMs: 3_600_000 })?.state as { n: number } | undefined) : store.settings.get<{ n: number } | undefined>(key)
      const expected = lastWrite(key, acknowledged)
      const got = stored === undefined ? -1 : stored.n
      const ok = got === expected || (!exact && opKey(inFlight) === key && got === inFlight)
      expect(ok, `${key ?? 'recovery'}: stored ${got}, last acknowledged write ${expected}`).toBe(true)
    }
  } finally {
    store.close()
  }
  expect(sqlQuery(file, 'PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }])
}

describe('a loop of settings.set and recovery.save', () => {
  for (const holdAt of [0, 2, 301]) {
    it(`killed right after operation ${holdAt} was acknowledged keeps exactly what it wrote`, async () => {
      const file = join(root, `h${++n}.sqlite`)
      const lines = await run(file, String(holdAt), String(holdAt))
      expect(lines.at(-1)).toBe(String(holdAt))
      verify(file, holdAt, true)
    })
  }

  for (const after of [40, 900]) {
    it(`killed while it runs, after ${after} acknowledged operations, keeps every acknowledged write`, async () => {
      const file = join(root, `r${++n}.sqlite`)
      const lines = await run(file, 'run', String(after))
      const acknowledged = Number(lines.at(-1))
      expect(acknowledged).toBeGreaterThanOrEqual(after)
      verify(file, acknowledged, false)
    })
  }
})
