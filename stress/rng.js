'use strict'
// mulberry32: a small seeded generator, so that a stress run's sequence of calls and delays can
// be replayed from its seed.

/** A function returning numbers in [0, 1), the same sequence for the same seed. */
function rng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

module.exports = { rng }
