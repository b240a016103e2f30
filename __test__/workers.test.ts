// The default store belongs to the JS environment: each worker thread has its own.
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'

import * as s from '../index.js'
import { tempDir } from './helpers/tmp'

const root = tempDir()
const entry = join(__dirname, '..', 'index.js')

/** Runs `body` (a function source taking the stowage module and `data`) in a worker. */
function inWorker<T>(body: string, data: unknown): Promise<T> {
  const src = `
    const { parentPort, workerData } = require('node:worker_threads')
    const stowage = require(workerData.entry)
    Promise.resolve((${body})(stowage, workerData.data))
      .then((r) => parentPort.postMessage({ ok: r }), (e) => parentPort.postMessage({ err: String(e && e.code) + ': ' + e.message }))
  `
  return new Promise((resolve, reject) => {
    const w = new Worker(src, { eval: true, workerData: { entry, data } })
    w.once('message', (m) => (m.err ? reject(new Error(m.err)) : resolve(m.ok)))
    w.once('error', reject)
  })
}

describe('worker threads', () => {
  it('each worker has its own default store, separate from the main thread’s', async () => {
    await s.initStorage(join(root, 'main'))
    s.insertRun('main-run', 'p', 'main', [])
    const seen = await Promise.all(
      [1, 2, 3].map((i) =>
        inWorker<{ readyBefore: boolean; runs: string[]; path: string }>(
          `async (st, d) => {
            const readyBefore = st.isReady()
            await st.initStorage(d.dir)
            for (let step = 0; step < 200; step++) st.insertMetric(d.run, { step, loss: step, val_loss: null })
            st.insertRun(d.run, 'p', d.run, [])
            const out = { readyBefore, runs: st.listRuns().map((r) => r.run_id), path: st.getDbPath() }
            st.closeStorage({ retainFile: true })
            return out
          }`,
          { dir: join(root, `w${i}`), run: `worker-${i}` },
        ),
      ),
    )
    seen.forEach((r, i) => {
      expect(r.readyBefore).toBe(false)
      expect(r.runs).toEqual([`worker-${i + 1}`])
      expect(r.path).toBe(join(root, `w${i + 1}`, 'runs.sqlite'))
    })
    expect(s.listRuns().map((r) => r.run_id)).toEqual(['main-run'])
    s.closeStorage({ retainFile: true })
  })

  it('workers writing one file concurrently lose nothing', async () => {
    const dir = join(root, 'shared')
    await Promise.all(
      [1, 2, 3, 4].map((i) =>
        inWorker(
          `async (st, d) => {
            await st.initStorage(d.dir)
            for (let step = 0; step < 250; step++) st.insertMetric(d.run, { step, loss: step, val_loss: null })
            st.closeStorage({ retainFile: true })
          }`,
          { dir, run: `w${i}` },
        ),
      ),
    )
    await s.initStorage(dir)
    for (const i of [1, 2, 3, 4]) expect(s.getRunRows(`w${i}`)).toHaveLength(250)
    s.closeStorage({ retainFile: true })
  })
})
