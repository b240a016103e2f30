// SIGKILL during the chats store's two long-running kinds of work: a tool part streamed through
// updatePart (every acknowledged state survives, at most one more committed) and an opencode
// import (all of it or nothing). Each kill lands after a line the child wrote; where it must land
// exactly, the child holds still after that line (fixtures/chats-kill-child.js).
import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'

import { openStore } from '../index.js'
import { eachLine } from './helpers/lines'
import { sqlQuery } from './helpers/sqlite'
import { tempDir } from './helpers/tmp'

const root = tempDir('stowage-chats-kill-')
const entry = join(__dirname, '..', 'index.js')
const child = join(__dirname, 'fixtures', 'chats-kill-child.js')
let n = 0

/** Runs the child; SIGKILLs it once `killAfter` accepts a line. Resolves with every line. */
function run(args: string[], killAfter: (line: string) => boolean): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
    const lines: string[] = []
    let killed = false
    eachLine(p.stdout!, (line) => {
      lines.push(line)
      if (!killed && killAfter(line)) {
        killed = true
        p.kill('SIGKILL')
      }
    })
    p.on('error', reject)
    p.on('close', (code, signal) => (signal === 'SIGKILL' && killed ? resolve(lines) : reject(new Error(`child exited ${code ?? signal} before its kill point`))))
  })
}

function intact(file: string) {
  expect(sqlQuery(file, 'PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }])
}

/** The part's stored `state.n` after the kill, read through stowage (which recovers the WAL). */
function storedUpdate(file: string, partID: string): number {
  const store = openStore(file, { stores: ['chats'] })
  try {
    const part = store.chats.getPart(partID)
    expect(part?.type).toBe('tool')
    const state = (part as { state: { n: number; output: string } }).state
    expect(state.output.split('\n').filter(Boolean)).toHaveLength(state.n)
    return state.n
  } finally {
    store.close()
  }
}

describe('a streaming updatePart loop', () => {
  for (const holdAt of [1, 40, 400]) {
    it(`killed right after update ${holdAt} was acknowledged keeps exactly that state`, async () => {
      const file = join(root, `s${++n}.db`)
      const lines = await run(['stream', entry, file, String(holdAt)], (l) => l === `u ${holdAt}`)
      const partID = lines[0].split(' ')[1]
      intact(file)
      expect(storedUpdate(file, partID)).toBe(holdAt)
    })
  }

  for (const after of [25, 300]) {
    it(`killed while it runs, after ${after} acknowledged updates, keeps the last acknowledged state or the one after`, async () => {
      const file = join(root, `s${++n}.db`)
      const lines = await run(['stream', entry, file, 'run'], (l) => l === `u ${after}`)
      const partID = lines[0].split(' ')[1]
      const acknowledged = Number(lines.at(-1)!.split(' ')[1])
      intact(file)
      const stored = storedUpdate(file, partID)
      expect(stored === acknowledged || stored === acknowledged + 1, `stored ${stored}, acknowledged ${acknowledged}`).toBe(true)
    })
  }
})

describe('an opencode import', () => {
  const tree = join(root, 'storage')
  const FILES = 1 + 10 + 100 + 600
  const put = (rel: string, body: unknown) => {
    const path = join(tree, rel)
    mkdirSync(dirname(path), { recursive: true })
    writeFileSync(path, JSON.stringify(body))
  }

  beforeAll(() => {
    put('project/proj_1.json', { worktree: '/w' })
    for (let s = 0; s < 10; s++) put(`session/proj_1/ses_${s}.json`, { directory: '/w', title: `s${s}`, time: { created: s, updated: s } })
    for (let m = 0; m < 100; m++) put(`message/ses_${m % 10}/msg_${m}.json`, { role: 'user', content: `m${m}`, time: { created: m } })
    for (let p = 0; p < 600; p++) put(`part/msg_${p % 100}/prt_${p}.json`, { type: 'text', text: `part ${p} `.repeat(20) })
  })

  const rows = (file: string) => sqlQuery(file, 'SELECT (SELECT count(*) FROM session) AS s, (SELECT count(*) FROM message) AS m, (SELECT count(*) FROM part) AS p')[0]

  for (const [phase, files, whole] of [['import', 256, false], ['import', 512, false], ['commit', 0, false], ['done', 0, true]] as const) {
    it(`killed at its ${phase} event${files ? ` after ${files} files` : ''} leaves ${whole ? 'all of it' : 'nothing of it'}`, async () => {
      const file = join(root, `i${++n}.db`)
      const lines = await run(['import', entry, file, tree, phase, String(files)], (l) => l.startsWith('at '))
      expect(lines.at(-1)).toMatch(new RegExp(`^at ${phase} \\d+$`))
      if (phase === 'import') expect(Number(lines.at(-1)!.split(' ')[2])).toBeLessThan(FILES)
      const store = openStore(file, { stores: ['chats'] })
      store.close()
      intact(file)
      expect(rows(file)).toEqual(whole ? { s: 10, m: 100, p: 600 } : { s: 0, m: 0, p: 0 })
    })
  }
})
