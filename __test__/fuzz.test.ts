// The fuzzer (stress/fuzz.js): every export, every method of the four classes and of the
// factories' objects, called with random values of every JS type and with valid arguments that
// have one part corrupted, in a child process. No crash, abort or hang; every thrown value is an
// Error with one of stowage's codes (or what the caller's own getter threw); wrong types are
// TypeErrors; a failed write leaves the store as it was; every file it opened passes
// integrityCheck afterwards. STOWAGE_FUZZ_SEEDS (default 1,2,3) and STOWAGE_FUZZ_CALLS (default
// 5,000 per seed) size it; RELIABILITY.md records runs of 100,000 calls.
import { expect, it } from 'vitest'

import { describe as report, fuzz } from '../stress/fuzz.js'

const SEEDS = (process.env.STOWAGE_FUZZ_SEEDS || '1,2,3').split(',').map(Number)
const CALLS = Number(process.env.STOWAGE_FUZZ_CALLS || 5000)

for (const seed of SEEDS) {
  it(`seed ${seed}: ${CALLS} calls without a crash, a hang or a broken rule`, async () => {
    const r = await fuzz({ seed, calls: CALLS })
    expect(r.ok, report(r)).toBe(true)
    expect(r.stats.calls).toBe(CALLS)
    // Every function of the surface was called (the child checks that the surface lists them all).
    expect(r.stats.uncalled).toEqual([])
  }, 600_000)
}
