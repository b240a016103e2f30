'use strict'
// Measurement of the two ways to turn JSON text into a JS value in the binding
// (BENCHMARKS.md, "JSON columns"): JSON.parse of the text, or serde_json plus one Node-API call
// per value. Usage: node bench/json.js [--runs 7] (after npm run build)
const addon = require('../binding.js')
const RUNS = Number(process.argv[process.argv.indexOf('--runs') + 1] || 7)

const words = 'the quick brown fox jumps over a lazy dog while stowage keeps every byte safe'.split(' ')
let seed = 1
const rand = () => ((seed = (seed * 48271) % 2147483647) / 2147483647)
const text = (n) => { let s = ''; while (s.length < n) s += words[Math.floor(rand() * words.length)] + ' '; return s.slice(0, n) }

// An opencode-style tool part: nested state with input, output text and metadata.
function toolPart(outputBytes) {
  return {
    id: 'part_01J' + Math.floor(rand() * 1e9),
    type: 'tool',
    tool: 'bash',
    callID: 'call_' + Math.floor(rand() * 1e9),
    state: {
      status: 'completed',
      input: { command: 'rg -n "fn main" src', description: 'find the entry point', timeout: 120000 },
      output: text(outputBytes),
      title: 'rg -n "fn main" src',
      metadata: { exit: 0, truncated: false, lines: 42, cwd: '/home/user/project', env: { TERM: 'xterm-256color', LANG: 'en_US.UTF-8' } },
      time: { start: 1764633600000, end: 1764633601234 },
    },
  }
}
const oneKb = JSON.stringify(toolPart(500))
const hundredKb = JSON.stringify(toolPart(100 * 1024 - 500))
const hundredParts = JSON.stringify(Array.from({ length: 100 }, () => toolPart(500)))
const payloads = [['1 KB tool part', oneKb, 20000], ['100 KB tool part', hundredKb, 2000], ['100 × 1 KB parts', hundredParts, 200]]

const median = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1]
function time(fn, reps) {
  for (let i = 0; i < Math.min(reps, 200); i++) fn()
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < reps; i++) fn()
  return Number(process.hrtime.bigint() - t0) / 1e3 / reps
}
for (const [label, payload, reps] of payloads) {
  const parse = []
  const build = []
  for (let r = 0; r < RUNS; r++) {
    parse.push(time(() => addon.__jsonBench(payload, 0), reps))
    build.push(time(() => addon.__jsonBench(payload, 1), reps))
  }
  const p = median(parse)
  const b = median(build)
  console.log(`${label.padEnd(18)} ${String(payload.length).padStart(7)} B  JSON.parse ${p.toFixed(2).padStart(8)} µs  serde→Node-API ${b.toFixed(2).padStart(8)} µs  ratio ${(b / p).toFixed(2)}×`)
}
