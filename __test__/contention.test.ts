// Several processes on one file, as two VS Code windows on one global-storage folder: 4 writers
// making 10,000 drop-in calls each (STOWAGE_CONTENTION_WRITES) and a reader looping getRunRows,
// all starting together (on a handshake) on a file none of them has created yet. No call may
// surface SQLITE_BUSY or SQLITE_LOCKED (or anything else), and every row arrives. Halfway the
// writers stop: the reader must see exactly their first halves (it reads between the writers'
// halves by construction). Then a fifth process takes the write lock and holds it while the four
// go on, until each has said it is about to write: their next writes find the file locked and
// must wait for it rather than fail.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { expect, it } from 'vitest'

import { openStore } from '../index.js'
import { eachLine } from './helpers/lines'
import { tempDir } from './helpers/tmp'

const root = tempDir()
const entry = join(__dirname, '..', 'index.js')
const child = join(__dirname, 'fixtures', 'contention-child.js')
const WRITES = Number(process.env.STOWAGE_CONTENTION_WRITES || 10_000)
const WRITERS = 4

type Report = { calls: number; errors: Array<{ code: string; message: string }>; errorCount: number }

/** A process that says control lines (see the fixture), can be let go on, and ends with a report. */
function start(cmd: string, args: string[], name: string) {
  const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  let report: Report | undefined
  const waiting = new Map<string, (rest: string) => void>()
  const heard = new Map<string, Promise<string>>()
  for (const word of ['ready', 'half', 'seen', 'resumed', 'locked']) heard.set(word, new Promise((r) => waiting.set(word, r)))
  p.stderr.on('data', (d) => (stderr += d))
  eachLine(p.stdout, (line) => {
    if (line.startsWith('{')) report = JSON.parse(line)
    else waiting.get(line.split(' ')[0])!(line.slice(line.indexOf(' ') + 1))
  })
  const exit = new Promise<Report | undefined>((resolve, reject) => {
    p.on('error', reject)
    p.on('close', (code) => (code === 0 ? resolve(report) : reject(new Error(`${name} exited ${code}: ${stderr}`))))
  })
  return {
    exit,
    go: () => p.stdin.write('\n'),
    /** Resolves with the rest of the line once the process says `word`; rejects if it ends first. */
    until: (word: string) => Promise.race([heard.get(word)!, exit.then(() => Promise.reject(new Error(`${name} ended before saying ${word}`)))]),
  }
}

const LOCK = `
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute('BEGIN IMMEDIATE')
print('locked', flush=True)
sys.stdin.readline()
conn.execute('COMMIT')
`

it(`${WRITERS} processes × ${WRITES} writes and a reader on one file: no BUSY, nothing lost`, async () => {
  const folder = join(root, 'shared')
  const common = (role: string, id: number) => [child, entry, folder, role, String(id), String(WRITES), String(WRITERS)]
  const started = Date.now()
  const reader = start(process.execPath, common('reader', 0), 'the reader')
  const writers = Array.from({ length: WRITERS }, (_, i) => start(process.execPath, common('writer', i), `writer ${i}`))
  const everyone = [reader, ...writers]
  await Promise.all(everyone.map((c) => c.until('ready')))
  everyone.forEach((c) => c.go())

  // Halfway: the writers are stopped, so the reader's last look saw exactly their first halves.
  const half = (WRITES - 1) >> 1
  await Promise.all(writers.map((c) => c.until('half')))
  expect(JSON.parse(await reader.until('seen'))).toEqual(Array(WRITERS).fill(half - Math.floor(half / 10)))
  reader.go()

  // The four go on while another process holds the write lock, released once each is about to
  // write: those writes wait for it (SQLite's busy handler) and must not fail.
  const lock = start('python3', ['-c', LOCK, join(folder, 'runs.sqlite')], 'the lock holder')
  await lock.until('locked')
  writers.forEach((c) => c.go())
  await Promise.all(writers.map((c) => c.until('resumed')))
  lock.go()
  await lock.exit

  const [read, ...written] = (await Promise.all(everyone.map((c) => c.exit))) as Report[]
  const seconds = (Date.now() - started) / 1000
  for (const w of written) {
    expect(w.errors).toEqual([])
    expect(w.calls).toBe(WRITES)
  }
  expect(read.errors).toEqual([])

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
  console.log(`contention: ${WRITERS * WRITES} writes and ${read.calls} reads in ${seconds.toFixed(1)} s`)
}, 600_000)
