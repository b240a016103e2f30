// SIGKILL during the history store's work: applyRetention (sync and async) and snapshot creates
// with the size cap engaged. Afterwards the file is intact, the snapshots' running total equals
// SUM(size_bytes), and the rows deleted are exactly the expired ones or the oldest of them; no
// acknowledged snapshot that the cap did not evict is lost (fixtures/history-kill-child.js).
import { spawn } from 'node:child_process'
import { copyFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'

import { openStore } from '../index.js'
import { eachLine } from './helpers/lines'
import { sqlQuery } from './helpers/sqlite'
import { tempDir } from './helpers/tmp'

const root = tempDir('stowage-history-kill-')
const entry = join(__dirname, '..', 'index.js')
const child = join(__dirname, 'fixtures', 'history-kill-child.js')
const DAY = 86_400_000
let n = 0

/** Runs the child; SIGKILLs it once `killAfter` accepts a line, or `delayMs` after the first
 * line. Resolves with every line, and whether the kill came before the child finished. */
function run(args: string[], killAfter: (line: string) => boolean, delayMs?: number): Promise<{ lines: string[]; killed: boolean }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
    const lines: string[] = []
    let killed = false
    const kill = () => {
      if (!killed && p.exitCode === null) {
        killed = true
        p.kill('SIGKILL')
      }
    }
    eachLine(p.stdout!, (line) => {
      lines.push(line)
      if (delayMs !== undefined && lines.length === 1) setTimeout(kill, delayMs)
      else if (killAfter(line)) kill()
    })
    p.on('error', reject)
    p.on('close', (code, signal) => {
      if (signal === 'SIGKILL' && killed) resolve({ lines, killed: true })
      else if (code === 0 && delayMs !== undefined) resolve({ lines, killed: false })
      else reject(new Error(`child exited ${code ?? signal} before its kill point`))
    })
  })
}

function intact(file: string) {
  // Opening through stowage first recovers the WAL the killed process left.
  openStore(file, { stores: ['history'] }).close()
  expect(sqlQuery(file, 'PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }])
  const [{ total, summed }] = sqlQuery<{ total: number; summed: number }>(file, 'SELECT (SELECT total_bytes FROM snapshot_usage) AS total, (SELECT coalesce(sum(size_bytes), 0) FROM snapshots) AS summed')
  expect(total).toBe(summed)
}

describe('applyRetention killed midway', () => {
  const seed = join(root, 'seed.sqlite')
  const EVENTS = 30_000
  const EXPIRED = 15_000
  const SNAPSHOTS = 300
  let now = 0

  beforeAll(() => {
    // Every snapshot expires at `now` (31 days ahead), and half the events (90 days before it).
    now = Date.now() + 31 * DAY
    const cut = now - 90 * DAY
    const store = openStore(seed, { stores: ['history'] })
    store.transaction(() => {
      for (let i = 0; i < SNAPSHOTS; i++) store.snapshots.create({ type: 'auto', trigger: { i }, summary: i, state: 'x'.repeat(150), starred: i % 10 === 0 })
      for (let i = 0; i < EVENTS; i++) store.analytics.record({ eventType: 'message', timestamp: new Date(cut - EXPIRED * 1000 + i * 1000).toISOString(), promptTokens: i })
    })
    store.close()
  })

  /** The file's rows against the seed's: nothing but expired rows deleted, oldest first. */
  function checkPrefix(file: string) {
    intact(file)
    const ids = sqlQuery<{ id: number }>(file, 'SELECT id FROM analytics ORDER BY id').map((r) => r.id)
    const deleted = EVENTS - ids.length
    expect(deleted).toBeLessThanOrEqual(EXPIRED)
    // Events were recorded in time order, so the oldest expired ones are the lowest ids.
    expect(ids[0]).toBe(deleted + 1)
    expect(ids.at(-1)! - ids[0] + 1).toBe(ids.length)
    const snaps = sqlQuery<{ n: number; starred: number }>(file, 'SELECT CAST(summary_json AS INTEGER) AS n, starred FROM snapshots ORDER BY seq')
    expect(snaps.filter((s) => s.starred).length).toBe(SNAPSHOTS / 10)
    const unstarred = snaps.filter((s) => !s.starred).map((s) => s.n)
    const all = Array.from({ length: SNAPSHOTS }, (_, i) => i).filter((i) => i % 10 !== 0)
    expect(unstarred).toEqual(all.slice(all.length - unstarred.length))
    return { events: deleted, snapshots: all.length - unstarred.length }
  }

  for (const delayMs of [0, 15, 40, 90, 200]) {
    it(`sync, killed ${delayMs} ms after it started, deleted a prefix of the expired rows`, async () => {
      const file = join(root, `r${++n}.sqlite`)
      copyFileSync(seed, file)
      const { lines, killed } = await run(['retention', entry, file, String(now)], () => false, delayMs)
      const deleted = checkPrefix(file)
      if (!killed) {
        expect(lines.at(-1)).toBe(`done ${JSON.stringify({ snapshots: deleted.snapshots, analytics: deleted.events })}`)
        expect(deleted).toEqual({ events: EXPIRED, snapshots: SNAPSHOTS - SNAPSHOTS / 10 })
      }
    })
  }

  for (const at of [1, 3]) {
    it(`async, killed at the progress event after its analytics chunk ${at}, deleted exactly what it reported`, async () => {
      const file = join(root, `a${++n}.sqlite`)
      copyFileSync(seed, file)
      let seen = 0
      const { lines } = await run(['retention-async', entry, file, String(now), String(at + 1)], (l) => l.startsWith('p analytics ') && ++seen === at + 1)
      const reported = Number(lines.at(-1)!.split(' ')[2])
      const deleted = checkPrefix(file)
      // The job waits at each event until the callback returns, and the child's holds: the kill
      // lands between chunks.
      expect(deleted.events).toBe(reported)
      expect(deleted.snapshots).toBe(SNAPSHOTS - SNAPSHOTS / 10)
      const again = openStore(file, { stores: ['history'] })
      expect(again.applyRetention({ now })).toEqual({ snapshots: 0, analytics: EXPIRED - reported })
      again.close()
    })
  }
})

describe('snapshot creates with the cap engaged, killed', () => {
  const CAP = 50 * 200

  for (const after of [60, 150, 400]) {
    it(`once create ${after} is acknowledged keep the newest snapshots, the last acknowledged one among them`, async () => {
      const file = join(root, `s${++n}.sqlite`)
      const { lines } = await run(['snapshots', entry, file, String(CAP), '200'], (l) => l === `c ${after}`)
      const acknowledged = Number(lines.at(-1)!.split(' ')[1])
      expect(acknowledged).toBeGreaterThanOrEqual(after)
      intact(file)
      const kept = sqlQuery<{ n: number; size: number }>(file, 'SELECT CAST(summary_json AS INTEGER) AS n, size_bytes AS size FROM snapshots ORDER BY seq')
      expect(kept.every((s) => s.size === 200)).toBe(true)
      const last = kept.at(-1)!.n
      expect(last === acknowledged || last === acknowledged + 1, `newest ${last}, acknowledged ${acknowledged}`).toBe(true)
      expect(kept.map((s) => s.n)).toEqual(Array.from({ length: CAP / 200 }, (_, i) => last - CAP / 200 + 1 + i))
    })
  }

  it('at a random moment leaves the total equal to the rows', async () => {
    const file = join(root, `s${++n}.sqlite`)
    await run(['snapshots', entry, file, String(CAP), '200'], () => false, 120)
    intact(file)
    const [{ count }] = sqlQuery<{ count: number }>(file, 'SELECT count(*) AS count FROM snapshots')
    expect(count).toBeLessThanOrEqual(CAP / 200)
  })
})
