#!/usr/bin/env node
'use strict'
// The settings store's costs: `set` in autocommit mode without a quota and with one (a 5 MB quota
// over a namespace that holds 4 MB in 2,000 keys, so every write sums the namespace's bytes),
// `get`, `exportAll` and `importAll` of those 2,000 keys, and `recovery.save` of a 100 KB state
// when it changed and when it did not.
//
//   node bench/settings.js [--runs 7]
//
// Works in a temporary folder; prints medians in ms; writes bench/results/settings.json.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const { openStore } = require(path.resolve(__dirname, '..'))

function opt(name, fallback) {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1] : fallback
}
const RUNS = Number(opt('runs', 7))
const SETS = 10_000
const GETS = 100_000
const KEYS = 2_000
const SAVES = 1_000

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]
/** Milliseconds `fn` takes. */
function ms(fn) {
  const t0 = process.hrtime.bigint()
  fn()
  return Number(process.hrtime.bigint() - t0) / 1e6
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-bench-settings-'))
const value = (i) => ({ id: i, label: `setting ${i}`, flags: [i % 2 === 0, i % 3 === 0], note: 'n'.repeat(40) })
/** A namespace of KEYS keys holding about 4 MB. */
const bulk = Object.fromEntries(Array.from({ length: KEYS }, (_, i) => [`bulk.${i}`, { i, text: 'b'.repeat(2000) }]))
const state = { draft: 's'.repeat(100_000), cursor: 0 }

const results = {}
const record = (name, runs) => {
  results[name] = median(runs)
  process.stderr.write(`${name}: ${results[name].toFixed(1)} ms\n`)
}
const runs = (make) => Array.from({ length: RUNS + 1 }, (_, r) => make(r)).slice(1)

record(`set ×${SETS} (no quota)`, runs((r) => {
  const store = openStore(path.join(dir, `plain-${r}.sqlite`), { stores: ['settings'] })
  const t = ms(() => {
    for (let i = 0; i < SETS; i++) store.settings.set(`k${i % 1000}`, value(i))
  })
  store.close()
  return t
}))

record(`set ×${SETS} (5 MB quota, 4 MB held)`, runs((r) => {
  const file = path.join(dir, `quota-${r}.sqlite`)
  const store = openStore(file, { stores: ['settings'], settings: { namespace: 'app.', maxBytes: 5_000_000 } })
  store.settings.importAll(bulk)
  const t = ms(() => {
    for (let i = 0; i < SETS; i++) store.settings.set(`k${i % 1000}`, value(i))
  })
  store.close()
  return t
}))

const shared = openStore(path.join(dir, 'shared.sqlite'), { stores: ['settings'], settings: { namespace: 'app.' } })
shared.settings.importAll(bulk)
record(`get ×${GETS}`, runs(() => ms(() => {
  for (let i = 0; i < GETS; i++) shared.settings.get(`bulk.${i % KEYS}`)
})))
record(`exportAll (${KEYS} keys, 4 MB)`, runs(() => ms(() => shared.settings.exportAll())))
record(`importAll (${KEYS} keys, 4 MB)`, runs(() => ms(() => shared.settings.importAll(bulk))))
record(`recovery.save ×${SAVES}, 100 KB state, unchanged`, runs(() => {
  shared.recovery.save(state)
  return ms(() => {
    for (let i = 0; i < SAVES; i++) shared.recovery.save(state)
  })
}))
record(`recovery.save ×${SAVES}, 100 KB state, changed each time`, runs(() => ms(() => {
  for (let i = 0; i < SAVES; i++) {
    state.cursor++
    shared.recovery.save(state)
  }
})))
shared.close()
fs.rmSync(dir, { recursive: true, force: true })

const out = path.join(__dirname, 'results')
fs.mkdirSync(out, { recursive: true })
fs.writeFileSync(path.join(out, 'settings.json'), `${JSON.stringify({ runs: RUNS, node: process.version, results }, null, 2)}\n`)
for (const [name, t] of Object.entries(results)) console.log(`| ${name} | ${t.toFixed(1)} |`)
