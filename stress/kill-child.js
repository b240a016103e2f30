// Child process of the kill harness (stress/kill.js). It does one kind of work and writes one
// line on stdout after each call returns (synchronously, so a line is out before the next call
// starts); the parent SIGKILLs it (after a chosen line, at a chosen point of a migration, or at a
// random moment of an export) and checks the file against those lines.
//
//   stream  <entry> <folder> <tag> <seed>  drop-in calls on the default store until killed:
//                                          `m <step>` insertMetric, `l <n>` insertLog,
//                                          `B <k>` before and `b <k>` after insertMetric.batch
//   migrate <entry> <file>                 open a legacy OnTheFly file (adopts and migrates it)
//   export  <entry> <file> <dest>          exportBundle of the file to dest
'use strict'
const fs = require('node:fs')
const { rng } = require('./rng.js')

const [scenario, entry, ...args] = process.argv.slice(2)
const stowage = require(entry)
const say = (line) => fs.writeSync(1, line + '\n')

async function stream(folder, tag, seed) {
  const random = rng(Number(seed))
  await stowage.initStorage(folder)
  stowage.insertRun(tag, 'kill', tag, [])
  say('ready')
  let step = 0
  let log = 0
  let batch = 0
  for (;;) {
    const r = random()
    if (r < 0.7) {
      stowage.insertMetric(tag, { step, loss: 1 / (step + 1), val_loss: step % 10 === 0 ? random() : null, epoch: step >> 8 })
      say(`m ${step++}`)
    } else if (r < 0.93) {
      stowage.insertLog({ run_id: tag, session_id: tag, level: 'info', text: `line ${log} of ${tag}`, step, ts: Date.now() })
      say(`l ${log++}`)
    } else {
      const k = batch++
      const rows = Array.from({ length: 500 }, (_, i) => ({ run_id: `${tag}/b${k}`, step: i, loss: i / 500, val_loss: null, lr: 1e-3 }))
      say(`B ${k}`)
      stowage.insertMetric.batch(rows)
      say(`b ${k}`)
    }
  }
}

function migrate(file) {
  say('ready')
  stowage.openStore(file).close()
  say('done')
}

function exportBundle(file, dest) {
  const store = stowage.openStore(file)
  say('ready')
  store.training.exportBundle(dest)
  say('done')
}

const run = { stream, migrate, export: exportBundle }[scenario]
if (!run) throw new Error(`unknown scenario ${scenario}`)
Promise.resolve(run(...args)).catch((err) => {
  process.stderr.write(`${err.code}: ${err.stack}\n`)
  process.exit(2)
})
