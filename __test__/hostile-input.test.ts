// Hostile arguments found by the fuzzer (stress/fuzz.js). Before its fix each of these crashed or
// hung the process, read memory it no longer owned, or threw an error without one of stowage's
// codes.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'

import * as stowage from '../index.js'
import { tempDir, thrown } from './helpers/tmp'

const root = tempDir()
let opened = 0
const fresh = () => stowage.openStore(join(root, `s${opened++}.sqlite`))

describe('the typed-array path of insertMetric.batch', () => {
  it('reads the run ids before it borrows the arrays, so a getter that detaches them is seen', () => {
    const t = fresh().training as unknown as { _insertMetricBlock: (...a: unknown[]) => number } & stowage.TrainingStore
    const values = new Float64Array(12 * 1024).fill(1)
    const runOf = new Uint32Array(1024)
    const runs: string[] = []
    Object.defineProperty(runs, 0, {
      get() {
        structuredClone(values.buffer, { transfer: [values.buffer] })
        return 'r'
      },
      enumerable: true,
    })
    // The arrays were detached before they were borrowed: no values for 1024 rows, nothing written
    // (before, 1024 rows were written from the buffer the getter had given away).
    expect(thrown(() => t._insertMetricBlock(values, runs, runOf)).code).toBe('ERR_INVALID_ARG')
    expect(t.getRunRows('r')).toEqual([])
  })

  it('wants an array of run ids', () => {
    const t = fresh().training as unknown as { _insertMetricBlock: (...a: unknown[]) => number }
    const err = thrown(() => t._insertMetricBlock(new Float64Array(12), 'r', new Uint32Array(1)))
    expect(err).toBeInstanceOf(TypeError)
    expect(err.code).toBe('ERR_INVALID_ARG_TYPE')
  })
})
