// Integers are never rounded (a BigInt or a RangeError beyond ±2^53) and text is stored as the
// exact UTF-8 of the JS string: emoji, NUL and astral characters round-trip; a lone surrogate,
// which has no UTF-8 form, is stored as U+FFFD (as Node's Buffer.from(s) would).
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import { openStore, type Store } from '../index.js'
import { sqlExec, sqlQuery } from './helpers/sqlite'
import { tempDir, thrown } from './helpers/tmp'

const root = tempDir()
let n = 0
let store: Store
let file: string

beforeEach(() => {
  file = join(root, `v${++n}.sqlite`)
  store = openStore(file)
})
afterEach(() => store.close())

const hex = (s: string) => Buffer.from(s, 'utf8').toString('hex').toUpperCase()

describe('integers', () => {
  it('a number beyond 2^53 that a double holds exactly is stored exactly and read back as a BigInt', () => {
    const t = store.training
    for (const step of [2 ** 53, 2 ** 53 + 2, 2 ** 60, -(2 ** 62)]) t.insertMetric('r', { step, loss: 1, val_loss: null })
    t.insertLog({ run_id: 'r', text: 'x', ts: 2 ** 63 - 2 ** 11 })
    expect(sqlQuery(file, "SELECT CAST(step AS TEXT) AS s, typeof(step) AS t FROM metrics ORDER BY rowid")).toEqual([
      { s: '9007199254740992', t: 'integer' },
      { s: '9007199254740994', t: 'integer' },
      { s: '1152921504606846976', t: 'integer' },
      { s: '-4611686018427387904', t: 'integer' },
    ])
    expect(t.getRunRows('r').map((r) => r.step)).toEqual([-(2n ** 62n), 2n ** 53n, 2n ** 53n + 2n, 2n ** 60n])
    expect(t.getLogs('r')[0].ts).toBe(2n ** 63n - 2n ** 11n)
    expect([...t.getRunColumns('r').step]).toEqual([-(2 ** 62), 2 ** 53, 2 ** 53 + 2, 2 ** 60])
  })

  it('integers up to ±(2^53−1) are plain numbers', () => {
    const t = store.training
    t.insertMetric('r', { step: Number.MAX_SAFE_INTEGER, loss: 1, val_loss: null })
    t.insertMetric('r', { step: Number.MIN_SAFE_INTEGER, loss: 1, val_loss: null })
    expect(t.getRunRows('r').map((r) => r.step)).toEqual([Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER])
  })

  it('an integer another program wrote beyond 2^53 is a BigInt in rows and a RangeError in Float64 columns', () => {
    store.training.insertRun('r', 'p', 'r', [])
    store.close()
    sqlExec(file, "INSERT INTO metrics (run_id, step, loss, ts) VALUES ('r', 9007199254740993, 0.5, 1), ('r', -9223372036854775808, 0.25, 2)")
    // -2^63 is a power of two, which a double holds exactly; 2^53 + 1 is not
    store = openStore(file)
    const t = store.training
    expect(t.getRunRows('r').map((r) => r.step)).toEqual([-(2n ** 63n), 2n ** 53n + 1n])
    const err = thrown(() => t.getRunColumns('r'))
    expect(err).toBeInstanceOf(RangeError)
    expect(err.code).toBe('ERR_OUT_OF_RANGE')
    expect(err.message).toMatch(/getRunColumns: .*integer 9007199254740993 in 'step'.*BigInt/)
  })

  it('a BigInt argument beyond ±(2^53−1) is a RangeError and writes nothing', () => {
    const t = store.training
    for (const big of [2n ** 53n, -(2n ** 53n), 2n ** 64n]) {
      const err = thrown(() => t.insertMetric('r', { step: big as never, loss: 1, val_loss: null }))
      expect(err).toBeInstanceOf(RangeError)
      expect(err.code).toBe('ERR_OUT_OF_RANGE')
      const batch = thrown(() => t.insertMetricBatch([{ run_id: 'r', step: 1, loss: 1, val_loss: null }, { run_id: 'r', step: big as never, loss: 1, val_loss: null }]))
      expect(batch).toBeInstanceOf(RangeError)
    }
    t.insertMetric('r', { step: 7n as never, loss: 1, val_loss: null })
    expect(t.getRunRows('r').map((r) => r.step)).toEqual([7])
  })

  it('non-finite numbers: NaN is NULL, ±Infinity round-trip', () => {
    const t = store.training
    t.insertMetric('r', { step: 1, loss: NaN, val_loss: Infinity, accuracy: -Infinity })
    const [row] = t.getRunRows('r')
    expect(row.loss).toBeNull()
    expect(row.val_loss).toBe(Infinity)
    expect(row.accuracy).toBe(-Infinity)
  })
})

describe('text', () => {
  const exact = [
    'plain ascii',
    'emoji 🧪🚀 and a flag 🇺🇦',
    'NUL \u0000 in the middle and at the end \u0000',
    'astral 𝕏 𠜎, combining é (e\u0301), RTL שלום, BOM \ufeff',
    '\u0000',
    '',
    'x'.repeat(1 << 20) + '🧪',
  ]

  it('every string round-trips byte-exactly through ids, names, log text and paths', () => {
    const t = store.training
    exact.forEach((s, i) => {
      const id = `run ${i} ${s.slice(0, 64)}`
      t.insertRun(id, s, s, [])
      t.insertLog({ run_id: id, text: s, session_id: s, ts: i })
      t.insertCheckpoint(`${id}:1`, id, 1, s)
      expect(t.getLogs(id).map((l) => l.text)).toEqual([s])
      expect(t.getLogsBySession(s).some((l) => l.text === s)).toBe(true)
      // the original's quirk: an empty path reads as no checkpoint
      expect(t.latestCheckpointForRun(id)).toEqual(s === '' ? null : { path: s, step: 1 })
      const run = t.listRuns().find((r) => r.run_id === id)
      expect(run?.project).toBe(s)
      expect(run?.name).toBe(s)
    })
    const stored = sqlQuery<{ h: string }>(file, 'SELECT hex(text) AS h FROM logs ORDER BY id')
    expect(stored.map((r) => r.h)).toEqual(exact.map(hex))
  })

  it('a lone surrogate, which has no UTF-8 form, is stored as U+FFFD', () => {
    const t = store.training
    const cases: Array<[string, string]> = [
      ['high \ud800 alone', 'high \ufffd alone'],
      ['low \udc00 alone', 'low \ufffd alone'],
      ['reversed \udc00\ud800 pair', 'reversed \ufffd\ufffd pair'],
      ['at the end \ud83e', 'at the end \ufffd'],
    ]
    for (const [s, back] of cases) {
      t.insertLog({ run_id: 'r', text: s })
      expect(t.getLogs('r').at(-1)?.text).toBe(back)
      expect(Buffer.from(s).toString()).toBe(back)
    }
  })

  it('text another program wrote as invalid UTF-8 is read with U+FFFD, never a throw', () => {
    store.training.insertRun('r', 'p', 'r', [])
    store.close()
    sqlExec(file, "INSERT INTO logs (run_id, text, ts) VALUES ('r', CAST(x'61ff62c3' AS TEXT), 1)")
    store = openStore(file)
    expect(store.training.getLogs('r')[0].text).toBe('a\ufffdb\ufffd')
  })

  it('the agents store keeps text exactly too', () => {
    const dir = join(root, `agents-${n}.db`)
    const a = openStore(dir, { stores: ['agents'] })
    const now = new Date(0).toISOString()
    const name = 'agent 🧪 \u0000 𝕏'
    a.agents.upsert({ id: 's', agentName: name, capability: 'builder', worktreePath: '/w/🧪', branchName: 'b\u0000', taskId: 't', tmuxSession: 'x', state: 'booting', pid: null, parentAgent: null, depth: 0, runId: null, startedAt: now, lastActivity: now, escalationLevel: 0, stalledSince: null, transcriptPath: null })
    const got = a.agents.getByName(name)
    expect(got?.worktreePath).toBe('/w/🧪')
    expect(got?.branchName).toBe('b\u0000')
    a.close()
  })
})
