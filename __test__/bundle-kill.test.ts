// A process killed (SIGKILL) during an export never leaves a partial bundle: the destination is
// the complete previous bundle, the complete new one, or absent, and what a killed export leaves
// in its hidden temporary siblings is gone after the next export. The child
// (fixtures/export-child.js) holds still at every progress event until the parent lets it go on,
// so each kill lands at a chosen point of the export, not at a moment that depends on the
// machine's speed: once with no bundle at the destination and once over a previous bundle. What
// the killed export left in its temporary folder shows that it was where it was meant to be.
import { spawn } from 'node:child_process'
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'

import { openStore } from '../index.js'
import { eachLine } from './helpers/lines'
import { sqlQuery } from './helpers/sqlite'
import { tempDir } from './helpers/tmp'

const root = tempDir()
const entry = join(__dirname, '..', 'index.js')
const child = join(__dirname, 'fixtures', 'export-child.js')
const MiB = 1 << 20
/** Larger than the 16 MiB between two progress events, so one event falls inside each file. */
const CKPT = 24 * MiB
const METRICS = 2000

type Event = { phase: string; bytesDone: number; bytesTotal: number; file: string | null }
type Leftovers = { tmp: string | null; tar: string | null }

/** Throws unless `dir` is a complete bundle; returns the round whose export wrote it. */
function bundleRound(dir: string): number {
  const manifest = JSON.parse(readFileSync(join(dir, 'bundle.json'), 'utf8'))
  const files = Object.values(manifest.checkpoints) as string[]
  expect(files).toHaveLength(3)
  for (const rel of files) expect(statSync(join(dir, rel)).size).toBe(CKPT)
  const db = join(dir, 'runs.sqlite')
  expect(sqlQuery(db, 'PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }])
  expect(sqlQuery(db, 'SELECT count(*) AS n FROM metrics')).toEqual([{ n: METRICS }])
  const [{ round }] = sqlQuery<{ round: number }>(db, "SELECT max(CAST(substr(run_id, 8) AS INTEGER)) AS round FROM runs WHERE run_id LIKE 'export-%'")
  return round
}

/** The round of the bundle at `dest`, or null when there is none; `dest.tar` goes with it. */
function destination(dest: string): number | null {
  if (!existsSync(dest)) {
    expect(existsSync(`${dest}.tar`)).toBe(false)
    return null
  }
  expect(statSync(`${dest}.tar`).size).toBeGreaterThan(3 * CKPT)
  return bundleRound(dest)
}

/** Where a kill can land, in export order, and what the killed export leaves behind there. */
const POINTS: Array<{ name: string; at: (e: Event) => boolean; renamed: boolean; left: (l: Leftovers, round: number) => void }> = [
  {
    name: 'before the database snapshot',
    at: (e) => e.phase === 'snapshot' && e.file === null,
    renamed: false,
    left: ({ tmp, tar }) => {
      expect(readdirSync(tmp!)).toEqual([])
      expect(tar).toBeNull()
    },
  },
  {
    name: 'in the middle of the database snapshot',
    at: (e) => e.phase === 'snapshot' && e.file !== null,
    renamed: false,
    left: ({ tmp }) => {
      const names = readdirSync(tmp!)
      expect(names).toContain('runs.sqlite')
      expect(names.filter((f) => f !== 'runs.sqlite-journal')).toEqual(['runs.sqlite'])
    },
  },
  {
    name: 'between the snapshot and the checkpoints',
    at: (e) => e.phase === 'checkpoints' && e.file === null,
    renamed: false,
    left: ({ tmp }) => {
      expect(readdirSync(tmp!)).toEqual(['runs.sqlite'])
      expect(sqlQuery(join(tmp!, 'runs.sqlite'), 'SELECT count(*) AS n FROM metrics')).toEqual([{ n: METRICS }])
    },
  },
  {
    name: 'in the middle of a checkpoint copy',
    at: (e) => e.phase === 'checkpoints' && e.file !== null,
    renamed: false,
    left: ({ tmp }) => {
      expect(readdirSync(tmp!).sort()).toEqual(['checkpoints', 'runs.sqlite'])
      const copied = readdirSync(join(tmp!, 'checkpoints'))
      expect(copied).toHaveLength(1)
      const size = statSync(join(tmp!, 'checkpoints', copied[0])).size
      expect(size).toBeGreaterThan(0)
      expect(size).toBeLessThan(CKPT)
    },
  },
  {
    name: 'with the bundle complete in its temporary folder, before the archive and the rename',
    at: (e) => e.phase === 'archive' && e.file === null,
    renamed: false,
    left: ({ tmp, tar }, round) => {
      expect(bundleRound(tmp!)).toBe(round)
      expect(tar).toBeNull()
    },
  },
  {
    name: 'in the middle of the archive, before the rename',
    at: (e) => e.phase === 'archive' && e.file !== null,
    renamed: false,
    left: ({ tmp, tar }, round) => {
      expect(bundleRound(tmp!)).toBe(round)
      expect(statSync(tar!).size).toBeGreaterThan(0)
    },
  },
  {
    name: 'after the rename, before the promise resolved',
    at: (e) => e.phase === 'done',
    renamed: true,
    left: ({ tmp, tar }) => {
      expect(tmp).toBeNull()
      expect(tar).toBeNull()
    },
  },
]

type Run = { outcome: 'done' } | { outcome: 'killed'; pid: number; event: Event }

/** Runs an export of `round`; SIGKILLs it at the first progress event `killAt` matches. */
function runChild(dbPath: string, dest: string, round: number, killAt: ((e: Event) => boolean) | null): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, entry, dbPath, dest, String(round)], { stdio: ['pipe', 'pipe', 'inherit'] })
    let killedAt: Event | null = null
    p.stdin.on('error', reject)
    eachLine(p.stdout, (line) => {
      if (line === 'done' || killedAt !== null) return
      const event = JSON.parse(line) as Event
      if (killAt !== null && killAt(event)) {
        killedAt = event
        p.kill('SIGKILL')
      } else {
        p.stdin.write('\n')
      }
    })
    p.on('error', reject)
    p.on('exit', (code, signal) => {
      if (signal === 'SIGKILL' && killedAt !== null) resolve({ outcome: 'killed', pid: p.pid!, event: killedAt })
      else if (code === 0 && killedAt === null && killAt === null) resolve({ outcome: 'done' })
      else reject(new Error(`export child exited ${code ?? signal}${killAt !== null && killedAt === null ? ' before reaching its kill point' : ''}`))
    })
  })
}

/** The hidden siblings of `dest` in `out` other than those of process `pid`, and those of `pid`. */
function siblings(out: string, pid: number): { others: string[]; mine: Leftovers } {
  const hidden = readdirSync(out).filter((f) => f !== 'bundle' && f !== 'bundle.tar')
  const tmp = hidden.find((f) => f.startsWith(`.bundle.stowage-tmp-${pid}-`))
  const tar = hidden.find((f) => f.startsWith(`.bundle.tar.stowage-tmp-${pid}-`))
  return {
    others: hidden.filter((f) => f !== tmp && f !== tar),
    mine: { tmp: tmp === undefined ? null : join(out, tmp), tar: tar === undefined ? null : join(out, tar) },
  }
}

it(`a kill at each of ${POINTS.length} points of an export, over no bundle and over a previous one, never leaves a partial bundle`, async () => {
  const dir = join(root, 'store')
  mkdirSync(dir)
  const dbPath = join(dir, 'runs.sqlite')
  const store = openStore(dbPath)
  const t = store.training
  t.insertRun('r', 'p', 'r', [])
  t.insertMetricBatch(Array.from({ length: METRICS }, (_, step) => ({ run_id: 'r', step, loss: 1 / (step + 1), val_loss: null })))
  // 20 MiB of log text: the database is larger than the 16 MiB between two progress events.
  for (let i = 0; i < 20; i++) t.insertLog({ run_id: 'r', text: String(i % 10).repeat(MiB) })
  for (let i = 0; i < 3; i++) {
    const file = join(dir, `ckpt-${i}.pt`)
    const fd = openSync(file, 'w')
    ftruncateSync(fd, CKPT)
    closeSync(fd)
    t.insertCheckpoint(`r:${i}:0`, 'r', i, file)
  }
  store.close()
  expect(statSync(dbPath).size).toBeGreaterThan(16 * MiB)

  const out = join(root, 'out')
  mkdirSync(out)
  const dest = join(out, 'bundle')
  let round = 0
  let expected: number | null = null
  for (const over of ['no bundle', 'a previous bundle']) {
    expect(destination(dest) === null).toBe(over === 'no bundle')
    for (const point of POINTS) {
      const r = await runChild(dbPath, dest, round, point.at)
      if (r.outcome !== 'killed') throw new Error(`round ${round}: not killed`)
      const { others, mine } = siblings(out, r.pid)
      expect(others, `round ${round} (${point.name}): earlier exports' temporary files`).toEqual([])
      point.left(mine, round)
      if (point.renamed) expected = round
      expect(destination(dest), `round ${round}: killed ${point.name} over ${over}`).toBe(expected)
      round++
    }
  }

  expect(await runChild(dbPath, dest, round, null)).toEqual({ outcome: 'done' })
  expect(destination(dest)).toBe(round)
  expect(readdirSync(out).sort()).toEqual(['bundle', 'bundle.tar'])
}, 300_000)
