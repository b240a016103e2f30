// Many writers on one sessions.db, as overstory's agent processes are: 8 processes each drive
// their own agent through its lifecycle while a ninth fires random, conflicting transitions at
// all of them. No call may surface SQLITE_BUSY, and the outcomes must be exactly what the
// transition table says, in an order that chains from `booting` to the final state. The
// processes start together on a handshake (not a clock), run freely, and meet once halfway:
// there the racer moves every agent while its driver is paused, so each driver's next step must
// be rejected — the processes interleave by construction, not by the scheduler's luck.
// STOWAGE_RACE_STEPS sets the steps per driver (default 1,000), STOWAGE_RACE_SEED the racer's seed.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { expect, it } from 'vitest'

import { createSessionStore } from '../index.js'
import { eachLine } from './helpers/lines'
import { tempDir } from './helpers/tmp'

const root = tempDir('stowage-agents-race-')
const entry = join(__dirname, '..', 'index.js')
const child = join(__dirname, 'fixtures', 'agents-writer.js')
const { CYCLE, halfway } = require('./fixtures/agents-writer.js') as { CYCLE: string[]; halfway: (n: number) => number }
const STEPS = Number(process.env.STOWAGE_RACE_STEPS || 1000)
const SEED = Number(process.env.STOWAGE_RACE_SEED || Date.now() % 100_000)

const ALLOWED: Record<string, string[]> = {
  booting: [],
  working: ['booting', 'working', 'stalled'],
  in_turn: ['booting', 'in_turn', 'between_turns', 'stalled'],
  between_turns: ['in_turn', 'between_turns', 'stalled'],
  stalled: ['booting', 'working', 'in_turn', 'between_turns', 'stalled'],
  completed: ['booting', 'working', 'in_turn', 'between_turns', 'stalled', 'completed', 'zombie'],
  zombie: ['booting', 'working', 'in_turn', 'between_turns', 'stalled', 'zombie'],
}

type Outcome = { agent: string; attempted: string; ok: boolean; prev: string | null; reason: string | null; forced: boolean; error?: string; code?: string }

/** A writer process: its outcomes, the control lines it says, and a way to let it go on. */
function start(file: string, role: 'driver' | 'racer', arg: number, steps: number) {
  const p = spawn(process.execPath, [child, entry, file, role, String(arg), String(steps)], { stdio: ['pipe', 'pipe', 'inherit'] })
  const outcomes: Outcome[] = []
  const said = new Map<string, () => void>()
  const heard = Object.fromEntries(['ready', 'paused', 'forced', 'stepped'].map((w) => [w, new Promise<void>((r) => said.set(w, r))]))
  eachLine(p.stdout, (line) => (line.startsWith('{') ? outcomes.push(JSON.parse(line)) : said.get(line)!()))
  const exit = new Promise<number | null>((resolve, reject) => {
    p.on('error', reject)
    p.on('close', resolve)
  })
  const name = role === 'driver' ? `driver ${arg}` : 'the racer'
  return {
    outcomes,
    exit,
    go: () => p.stdin.write('\n'),
    /** Resolves when the process says `word`; rejects if it exits first. */
    until: (word: string) =>
      Promise.race([heard[word], exit.then((code) => Promise.reject(new Error(`${name} exited ${code} before saying ${word}: ${JSON.stringify(outcomes.at(-1))}`)))]),
  }
}

it(`8 lifecycle drivers and a racer (seed ${SEED}) on one file: every outcome follows the table, nothing is busy`, async () => {
  // The drivers' own cycle is legal from booting and from its own end, so every rejection a
  // driver meets was caused by the racer.
  let state = 'booting'
  for (const next of [...CYCLE, ...CYCLE, 'completed']) {
    expect(ALLOWED[next], `${state} -> ${next}`).toContain(state)
    state = next
  }

  const file = join(root, 'sessions.db')
  createSessionStore(file).close()
  const drivers = Array.from({ length: 8 }, (_, i) => start(file, 'driver', i, STEPS))
  const racer = start(file, 'racer', SEED, STEPS * 4)
  const everyone = [...drivers, racer]
  await Promise.all(everyone.map((c) => c.until('ready')))
  everyone.forEach((c) => c.go())
  await Promise.all(everyone.map((c) => c.until('paused')))
  racer.go()
  await racer.until('forced')
  drivers.forEach((c) => c.go())
  await Promise.all(drivers.map((c) => c.until('stepped')))
  racer.go()
  const codes = await Promise.all(everyone.map((c) => c.exit))

  const all = everyone.flatMap((c) => c.outcomes)
  expect(all.filter((o) => o.error)).toEqual([])
  expect(codes).toEqual(Array(9).fill(0))
  expect(all.length).toBe(8 * (STEPS + 1) + STEPS * 4 + 16)

  const store = createSessionStore(file)
  for (let i = 0; i < 8; i++) {
    const agent = `agent-${i}`
    const mine = all.filter((o) => o.agent === agent)
    // Each outcome on its own is what the table says for the state it saw.
    for (const o of mine) {
      expect(o.reason).toBe(o.ok ? null : 'illegal_transition')
      expect(ALLOWED[o.attempted].includes(o.prev!)).toBe(o.ok)
    }
    // Halfway, the racer moved the paused agent to `working` (or found it completed or a
    // zombie, where it stays): the driver's next step, `in_turn`, saw that state and failed.
    const [toStalled, toWorking] = mine.filter((o) => o.forced)
    expect([toStalled.attempted, toWorking.attempted]).toEqual(['stalled', 'working'])
    const next = drivers[i].outcomes[halfway(STEPS)]
    expect(next).toMatchObject({ agent, attempted: 'in_turn', ok: false, prev: toWorking.ok ? 'working' : toWorking.prev })
    // The applied transitions chain: every state left was entered before, from booting to the
    // stored final state (an Euler path over the applied edges).
    const balance = new Map<string, number>()
    for (const o of mine.filter((x) => x.ok)) {
      balance.set(o.prev!, (balance.get(o.prev!) ?? 0) - 1)
      balance.set(o.attempted, (balance.get(o.attempted) ?? 0) + 1)
    }
    const final = store.getByName(agent)!
    expect(final.state).toBe('completed')
    expect(final.tmuxSession).toBe('')
    const expected = new Map<string, number>([['booting', -1], ['completed', 1]])
    for (const [s, b] of balance) expect([s, b]).toEqual([s, expected.get(s) ?? 0])
  }
  expect(store.count()).toBe(8)
  store.close()
}, 300_000)
