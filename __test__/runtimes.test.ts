// The built addon under every Node of the matrix (18, 20, 22, 24, 26: `scripts/node-versions.js`
// fetches them from the npm registry and STOWAGE_NODES lists them), and two things a host can do
// to a loaded addon: terminate worker threads in the middle of calls, and require the package
// again. Every case runs in a child process, so a crash fails its test instead of killing vitest.
// Also: the addon imports nothing newer than Node-API 6, the level Cargo.toml builds for.
// STOWAGE_TERMINATIONS sets the worker terminations per Node (default 15), STOWAGE_TERMINATIONS_SEED
// the seed of their delays.
import { execFileSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

import { devBinary, entry, listed, MAJORS, majorOf, nodeMatrix, runSmoke, type Smoke } from './helpers/nodes'
import { run } from './helpers/spawn'
import { tempDir } from './helpers/tmp'

const root = tempDir('stowage-runtimes-')
const fixtures = join(__dirname, 'fixtures')
const TERMINATIONS = Number(process.env.STOWAGE_TERMINATIONS || 15)
const SEED = Number(process.env.STOWAGE_TERMINATIONS_SEED || Date.now() % 100_000)
const runtimes: Array<[string, string | null]> = [[`this Node (${process.version})`, process.execPath], ...nodeMatrix()]

let reference: Smoke | undefined
/** The smoke result under the Node running vitest, which every other Node must reproduce. */
function expected(): Smoke['result'] {
  reference ??= runSmoke(process.execPath, root)
  return reference.result
}

// Node-API functions newer than version 6: 7 and 8 (napi-sys's napi7/napi8 features), and every
// `node_api_*` function (9 and later, or experimental).
const AFTER_NAPI6 = ['napi_detach_arraybuffer', 'napi_is_detached_arraybuffer', 'napi_add_async_cleanup_hook',
  'napi_remove_async_cleanup_hook', 'napi_object_freeze', 'napi_object_seal', 'napi_type_tag_object', 'napi_check_object_type_tag']

it('imports no Node-API function newer than version 6', () => {
  const dump = execFileSync('objdump', ['-T', devBinary], { encoding: 'utf8' })
  const imported = [...dump.matchAll(/\*UND\*\s+\S+\s+(?:\S+\s+)?((?:napi|node_api)_\w+)$/gm)].map((m) => m[1])
  expect(imported.length).toBeGreaterThan(20)
  expect(imported.filter((f) => f.startsWith('node_api_') || AFTER_NAPI6.includes(f))).toEqual([])
})

describe('the drop-in smoke', () => {
  it('gives the documented results under this Node', () => {
    const r = expected() as Record<string, any>
    expect(r.beforeInit).toEqual({ ready: false, runs: [], write: { name: 'Error', code: 'ERR_NOT_READY' } })
    expect(r.errors).toEqual({ bigint: { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }, type: { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' } })
    expect(r.runs.map((x: any) => [x.run_id, x.parents])).toEqual([['fork', ['base']], ['base', []]])
    expect(r.rows.map((x: any) => x.step)).toEqual([1, 2, 3, 4, 5, 6])
    expect(r.rows[1]).toMatchObject({ loss: 0.5, val_loss: 1, lr: 0.001 })
    expect(r.forkRows).toBe(100)
    expect(r.report).toMatchObject({ losses: [0.5, 0.25], sample_indices: [3, 4] })
    expect(r.columns.lr).toEqual([0.001, 0.001, 0.001, 0.001, 0.001, null])
    expect(r.series).toEqual({ bucketSize: 32, count: [32, 32, 32, 4], last: [0.31, 0.63, 0.95, 0.99] })
    expect(r.exported).toEqual({ checkpoints: 1, finalModels: 1, missing: [], phases: ['snapshot', 'checkpoints', 'final_models', 'done'] })
    expect(r.closed).toEqual({ ready: false, fileKept: false })
    expect(r.loaded).toEqual({ runs: 2, checkpoints: 1, rows: 106 })
    expect(r.store).toEqual({ journalMode: 'wal', schema: { training: 3 }, integrity: ['ok'], latest: { path: join('bundle', 'checkpoints', 'base_5_0.pt'), step: 5 } })
    expect(r.afterClose).toEqual({ name: 'Error', code: 'ERR_CLOSED' })
    expect(r.agents[1]).toEqual({ ok: false, reason: 'illegal_transition', prev: 'working', attempted: 'booting' })
    expect(r.conversations).toEqual({ hits: ['the <mark>release</mark> build searches', 'the <mark>release</mark> build searches'], restored: 'Smoke (restored)', calls: [{ name: 'grep' }] })
  })

  for (const [label, node] of nodeMatrix()) {
    it.skipIf(node === null)(`gives the same results under ${label}`, () => {
      expect(runSmoke(node!, root).result).toEqual(expected())
    })
  }

  it.runIf(listed)(`STOWAGE_NODES has Node ${MAJORS.join(', ')}`, () => {
    expect(nodeMatrix().map(([, node]) => majorOf(node!))).toEqual(MAJORS)
  })
})

/** Runs a fixture under `node` in a fresh folder; returns its stdout after checking a clean exit. */
async function runFixture(node: string, args: string[], fixture: string, extra: string[] = []): Promise<string> {
  const dir = mkdtempSync(join(root, 'case-'))
  const r = await run(node, [...args, join(fixtures, fixture), entry, dir, ...extra], { timeout: 300_000 })
  expect(r.signal, `${fixture} under ${node}: ${r.stderr}`).toBeNull()
  expect(r.stderr).toBe('')
  expect(r.status).toBe(0)
  return r.stdout
}

describe('worker threads terminated mid-call', () => {
  for (const [label, node] of runtimes) {
    it.skipIf(node === null)(`leave the process, the file and every acknowledged row intact under ${label} (seed ${SEED})`, async () => {
      const summary = JSON.parse(await runFixture(node!, [], 'worker-terminate.js', [String(TERMINATIONS), String(SEED)]))
      expect(summary.rounds).toBe(TERMINATIONS)
      const jobs = ['batch', 'rows', 'series', 'exportBundle', 'exportBundleAsync', 'onProgress'].slice(0, TERMINATIONS)
      expect(Object.keys(summary.perJob)).toEqual(jobs)
      // Batch workers are terminated only after a batch was acknowledged.
      expect(summary.acked).toBeGreaterThan(0)
      // A worker held inside exportBundleAsync's progress callback is terminated there, while the
      // export's thread waits for the callback: the call never returns.
      if (summary.perJob.onProgress) expect(summary.perJob.onProgress.interrupted).toBe(summary.perJob.onProgress.rounds)
    })
  }
})

describe('the package required again in one process', () => {
  for (const [label, node] of runtimes) {
    it.skipIf(node === null)(`keeps every instance working under ${label}`, async () => {
      expect(await runFixture(node!, ['--expose-gc'], 're-require.js')).toBe('ok\n')
    })
  }
})
