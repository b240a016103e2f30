// A process killed (SIGKILL) during exportBundle never leaves a partial bundle: the destination
// is the complete previous bundle, the complete new one, or absent. The number of kills is
// STOWAGE_KILLS (default 12).
import { spawn } from 'node:child_process'
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'

import { openStore } from '../index.js'
import { sqlQuery } from './helpers/sqlite'
import { tempDir } from './helpers/tmp'

const root = tempDir()
const entry = join(__dirname, '..', 'index.js')
const child = join(__dirname, 'fixtures', 'export-child.js')
const KILLS = Number(process.env.STOWAGE_KILLS || 12)

/** Throws unless `dir` is absent, has no bundle.json, or is a complete bundle. */
function assertWholeOrAbsent(dir: string): 'absent' | 'complete' {
  if (!existsSync(join(dir, 'bundle.json'))) return 'absent'
  const manifest = JSON.parse(readFileSync(join(dir, 'bundle.json'), 'utf8'))
  for (const rel of Object.values(manifest.checkpoints) as string[]) {
    expect(statSync(join(dir, rel)).size).toBe(40 << 20)
  }
  expect(sqlQuery(join(dir, 'runs.sqlite'), 'PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }])
  expect(sqlQuery(join(dir, 'runs.sqlite'), 'SELECT count(*) AS n FROM metrics')).toEqual([{ n: 2000 }])
  return 'complete'
}

function runChild(dbPath: string, dest: string, killAfterMs: number | null): Promise<'done' | 'killed'> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, entry, dbPath, dest], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    p.stdout.on('data', (d) => {
      out += d
      if (killAfterMs !== null && out.includes('ready')) {
        setTimeout(() => p.kill('SIGKILL'), killAfterMs)
        killAfterMs = null
      }
    })
    p.on('error', reject)
    p.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve('killed') : code === 0 ? resolve('done') : reject(new Error(`child exited ${code}`))))
  })
}

it(`survives ${KILLS} kills during export without a partial bundle`, async () => {
  const dir = join(root, 'store')
  mkdirSync(dir)
  const dbPath = join(dir, 'runs.sqlite')
  const store = openStore(dbPath)
  const t = store.training
  t.insertRun('r', 'p', 'r', [])
  t.insertMetricBatch(Array.from({ length: 2000 }, (_, step) => ({ run_id: 'r', step, loss: 1 / (step + 1), val_loss: null })))
  for (let i = 0; i < 3; i++) {
    const file = join(dir, `ckpt-${i}.pt`)
    const fd = openSync(file, 'w')
    ftruncateSync(fd, 40 << 20)
    closeSync(fd)
    t.insertCheckpoint(`r:${i}:0`, 'r', i, file)
  }
  store.close()

  const out = join(root, 'out')
  mkdirSync(out)
  const dest = join(out, 'bundle')
  const started = Date.now()
  expect(await runChild(dbPath, dest, null)).toBe('done')
  const full = Date.now() - started
  expect(assertWholeOrAbsent(dest)).toBe('complete')

  const outcomes = { killed: 0, done: 0, absent: 0, complete: 0 }
  for (let i = 0; i < KILLS; i++) {
    const when = Math.floor(Math.random() * full)
    outcomes[await runChild(dbPath, dest, when)]++
    outcomes[assertWholeOrAbsent(dest)]++
  }
  expect(outcomes.killed).toBeGreaterThan(0)
  expect(outcomes.complete).toBeGreaterThan(0)

  expect(await runChild(dbPath, dest, null)).toBe('done')
  expect(assertWholeOrAbsent(dest)).toBe('complete')
  expect(readdirSync(out)).toEqual(['bundle'])
})
