// Many writers on one sessions.db, as overstory's agent processes are: 8 processes each drive
// their own agent through its lifecycle while a ninth fires random, conflicting transitions at
// all of them. No call may surface SQLITE_BUSY, and the outcomes must be exactly what the
// transition table says, in an order that chains from `booting` to the final state.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { expect, it } from 'vitest'

import { createSessionStore } from '../index.js'
import { tempDir } from './helpers/tmp'

const root = tempDir('stowage-agents-race-')
const entry = join(__dirname, '..', 'index.js')
const child = join(__dirname, 'fixtures', 'agents-writer.js')
const STEPS = Number(process.env.STOWAGE_RACE_STEPS || 1000)

const ALLOWED: Record<string, string[]> = {
  booting: [],
  working: ['booting', 'working', 'stalled'],
  in_turn: ['booting', 'in_turn', 'between_turns', 'stalled'],
  between_turns: ['in_turn', 'between_turns', 'stalled'],
  stalled: ['booting', 'working', 'in_turn', 'between_turns', 'stalled'],
  completed: ['booting', 'working', 'in_turn', 'between_turns', 'stalled', 'completed', 'zombie'],
  zombie: ['booting', 'working', 'in_turn', 'between_turns', 'stalled', 'zombie'],
}

type Outcome = { agent: string; attempted: string; ok: boolean; prev: string | null; reason: string | null; error?: string; code?: string }

function run(file: string, role: string, arg: number, startAt: number): Promise<{ code: number | null; lines: Outcome[] }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, entry, file, role, String(arg), String(role === 'racer' ? STEPS * 4 : STEPS), String(startAt)], { stdio: ['ignore', 'pipe', 'inherit'] })
    let text = ''
    p.stdout.on('data', (d) => (text += d))
    p.on('error', reject)
    p.on('close', (code) => resolve({ code, lines: text.split('\n').filter(Boolean).map((l) => JSON.parse(l)) }))
  })
}

it('8 lifecycle drivers and a racer on one file: every outcome follows the table, nothing is busy', async () => {
  const file = join(root, 'sessions.db')
  createSessionStore(file).close()
  const startAt = Date.now() + 2000
  const results = await Promise.all([...Array.from({ length: 8 }, (_, i) => run(file, 'driver', i, startAt)), run(file, 'racer', 7, startAt)])
  const errors = results.flatMap((r) => r.lines.filter((l) => l.error))
  expect(errors).toEqual([])
  expect(results.map((r) => r.code)).toEqual(Array(9).fill(0))
  const all = results.flatMap((r) => r.lines)
  expect(all.length).toBe(8 * (STEPS + 1) + STEPS * 4)

  // The racer got in the drivers' way: their own cycle is legal, so each rejection it met was
  // caused by a racer transition landing between two of its own.
  const driverLines = results.slice(0, 8).flatMap((r) => r.lines)
  expect(driverLines.filter((o) => !o.ok).length).toBeGreaterThan(0)

  const store = createSessionStore(file)
  for (let i = 0; i < 8; i++) {
    const agent = `agent-${i}`
    const mine = all.filter((o) => o.agent === agent)
    // Each outcome on its own is what the table says for the state it saw.
    for (const o of mine) {
      expect(o.reason).toBe(o.ok ? null : 'illegal_transition')
      expect(ALLOWED[o.attempted].includes(o.prev!)).toBe(o.ok)
    }
    // The applied transitions chain: every state left was entered before, from booting to the
    // stored final state (an Euler path over the applied edges).
    const applied = mine.filter((o) => o.ok)
    const balance = new Map<string, number>()
    for (const o of applied) {
      balance.set(o.prev!, (balance.get(o.prev!) ?? 0) - 1)
      balance.set(o.attempted, (balance.get(o.attempted) ?? 0) + 1)
    }
    const final = store.getByName(agent)!
    expect(final.state).toBe('completed')
    expect(final.tmuxSession).toBe('')
    const expected = new Map<string, number>([['booting', -1], ['completed', 1]])
    for (const [state, b] of balance) expect([state, b]).toEqual([state, expected.get(state) ?? 0])
  }
  expect(store.count()).toBe(8)
  store.close()
}, 120_000)
