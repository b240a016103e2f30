// Several processes on one file, as two VS Code windows on one global-storage folder: 4 writers
// making 10,000 drop-in calls each (STOWAGE_CONTENTION_WRITES) and a reader looping getRunRows,
// all starting together on a file none of them has created yet. No call may surface SQLITE_BUSY
// or SQLITE_LOCKED (or anything else), and every row arrives.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { expect, it } from 'vitest'

import { openStore } from '../index.js'
import { tempDir } from './helpers/tmp'

const root = tempDir()
const entry = join(__dirname, '..', 'index.js')
const child = join(__dirname, 'fixtures', 'contention-child.js')
const WRITES = Number(process.env.STOWAGE_CONTENTION_WRITES || 10_000)
const WRITERS = 4

type Report = { calls: number; errors: Array<{ code: string; message: string }>; errorCount: number }

function start(args: string[]): Promise<Report> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, entry, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    p.stdout.on('data', (d) => (out += d))
    p.stderr.on('data', (d) => (err += d))
    p.on('error', reject)
    p.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`exit ${code}: ${err}`))))
  })
}

it(`${WRITERS} processes × ${WRITES} writes and a reader on one file: no BUSY, nothing lost`, async () => {
  const folder = join(root, 'shared')
  const startAt = String(Date.now() + 1500)
  const common = (role: string, id: number) => [folder, role, String(id), String(WRITES), startAt, String(WRITERS)]
  const started = Date.now()
  const [reader, ...writers] = await Promise.all([
    start(common('reader', 0)),
    ...Array.from({ length: WRITERS }, (_, i) => start(common('writer', i))),
  ])
  const seconds = (Date.now() - started) / 1000
  for (const w of writers) {
    expect(w.errors).toEqual([])
    expect(w.calls).toBe(WRITES)
  }
  expect(reader.errors).toEqual([])
  expect(reader.calls).toBeGreaterThan(WRITERS)

  const store = openStore(join(folder, 'runs.sqlite'))
  const t = store.training
  const metricsPerWriter = Array.from({ length: WRITES - 1 }, (_, i) => i).filter((i) => i % 10 !== 9)
  for (let w = 0; w < WRITERS; w++) {
    expect(t.getRunRows(`w${w}`).map((r) => r.step)).toEqual(metricsPerWriter)
    expect(t.getLogs(`w${w}`)).toHaveLength(WRITES - 1 - metricsPerWriter.length)
  }
  expect(t.listRuns().map((r) => r.run_id).sort()).toEqual(Array.from({ length: WRITERS }, (_, w) => `w${w}`))
  expect(store.integrityCheck()).toEqual(['ok'])
  store.close()
  console.log(`contention: ${WRITERS * WRITES} writes and ${reader.calls} reads in ${seconds.toFixed(1)} s`)
}, 600_000)
