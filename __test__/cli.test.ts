// The `stowage` CLI (cli/) as a user runs it: a subprocess on real files (the demo's store and
// bundle, a legacy OnTheFly file, an overstory file, a live file with a WAL), its answers compared
// with the library's, its charts parsed, its progress on a pseudo-terminal, and the guarantee that
// read commands leave every file byte-identical.
import { createHash } from 'node:crypto'
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync, inflateSync, crc32 } from 'node:zlib'
import { DOMParser } from '@xmldom/xmldom'
import { beforeAll, describe, expect, it } from 'vitest'

import { formatBytes } from '../cli/lib/output.js'
import { openStore, workspaceHash } from '../index.js'
import { OVERSTORY_LAYOUTS } from './helpers/overstory'
import { sqlExec, sqlQuery } from './helpers/sqlite'
import { run } from './helpers/spawn'
import { tempDir } from './helpers/tmp'
import { session, writeAit42File } from './helpers/worktrees'
import { writeEtcodeFile } from './helpers/chats'

const CLI = join(__dirname, '..', 'cli', 'bin', 'stowage.js')
const root = tempDir('stowage-cli-')
const demoDir = join(root, 'demo')
const demoFile = join(demoDir, 'globalStorage', 'runs.sqlite')
const bundle = join(demoDir, 'onthefly_bundle')

let n = 0

const stowage = (...args: string[]) => run(process.execPath, [CLI, ...args], { cwd: root })

/** SHA-256 of a file and of each of its sidecars that exists. */
function hashes(file: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const side of ['', '-wal', '-shm', '-journal']) {
    if (existsSync(file + side)) out[side || 'db'] = createHash('sha256').update(readFileSync(file + side)).digest('hex')
  }
  return out
}

/** A file as OnTheFly wrote it before stowage (rollback journal, no ledger, the `mode` column). */
function legacyOnTheFly(): string {
  const file = join(root, `legacy-runs-${++n}.sqlite`)
  sqlExec(file, `
    CREATE TABLE runs (run_id TEXT PRIMARY KEY, parent_run_id TEXT, project TEXT, name TEXT, mode TEXT, created_at INTEGER);
    CREATE TABLE run_subsets (run_id TEXT PRIMARY KEY, indices TEXT);
    CREATE TABLE checkpoints (ckpt_id TEXT PRIMARY KEY, run_id TEXT, step INTEGER, path TEXT, created_at INTEGER);
    CREATE TABLE metrics (run_id TEXT, step INTEGER, epoch INTEGER, loss REAL, val_loss REAL, accuracy REAL, lr REAL, grad_norm REAL,
      weight_norm REAL, activation_zero_frac REAL, throughput REAL, mem_vram REAL, gpu_util REAL, ts INTEGER);
    CREATE TABLE summaries (run_id TEXT PRIMARY KEY, final_loss REAL, val_loss REAL);
    CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT);
    CREATE TABLE run_edges (child_run_id TEXT NOT NULL, parent_run_id TEXT NOT NULL, PRIMARY KEY (child_run_id, parent_run_id));
    CREATE TABLE logs (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT, session_id TEXT, level TEXT, text TEXT, phase TEXT, step INTEGER, epoch INTEGER, ts INTEGER);
    INSERT INTO runs VALUES ('old', NULL, 'proj', 'old run', 'single', 1000);
    INSERT INTO metrics VALUES ('old', 1, 0, 0.9, NULL, 0.4, 0.001, 1.6, 31, 0.2, 240, 2048, 91, 1002);
    INSERT INTO metrics VALUES ('old', 2, 0, 0.8, 0.85, 0.5, 0.001, 1.5, 30, 0.1, 250, 2048, 90, 1003);
    INSERT INTO logs (run_id, session_id, level, text, phase, step, epoch, ts) VALUES ('old', 's', 'info', 'step 1', 'train', 1, 0, 1001);
  `)
  return file
}

/** sessions.db as overstory wrote it (May 2026 layout), never opened by stowage. */
function overstoryFile(): string {
  const file = join(root, `sessions-${++n}.db`)
  sqlExec(file, `${OVERSTORY_LAYOUTS['May 2026 (no CHECK, every column)']}
    PRAGMA journal_mode = WAL;
    INSERT INTO sessions (id, agent_name, capability, worktree_path, branch_name, task_id, tmux_session, state, started_at, last_activity)
      VALUES ('s-1', 'builder-1', 'builder', '/w/1', 'b1', 'task-1', 'tmux-1', 'working', '2026-05-01T00:00:00.000Z', '2026-05-01T00:01:00.000Z'),
             ('s-2', 'scout-1', 'scout', '/w/2', 'b2', 'task-2', '', 'completed', '2026-05-01T00:00:00.000Z', '2026-05-01T00:02:00.000Z');
  `)
  return file
}

/** The pixels of a PNG, decoded: chunk CRCs checked, IHDR read, the IDAT stream inflated. */
function decodePng(buf: Buffer): { width: number; height: number; bytes: number } {
  expect(buf.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
  let at = 8
  let width = 0
  let height = 0
  let channels = 0
  const idat: Buffer[] = []
  while (at < buf.length) {
    const len = buf.readUInt32BE(at)
    const type = buf.toString('latin1', at + 4, at + 8)
    const data = buf.subarray(at + 8, at + 8 + len)
    expect(buf.readUInt32BE(at + 8 + len)).toBe(crc32(buf.subarray(at + 4, at + 8 + len)))
    if (type === 'IHDR') {
      width = data.readUInt32BE(0)
      height = data.readUInt32BE(4)
      expect(data[8]).toBe(8)
      channels = ({ 2: 3, 6: 4, 0: 1, 4: 2 } as Record<number, number>)[data[9]]
    }
    if (type === 'IDAT') idat.push(data)
    at += 12 + len
  }
  const pixels = inflateSync(Buffer.concat(idat))
  expect(pixels.length).toBe(height * (1 + width * channels))
  return { width, height, bytes: pixels.length }
}

beforeAll(async () => {
  const demo = await run(process.execPath, [join(__dirname, '..', 'examples', 'demo.js'), '--dir', demoDir, '--steps', '300'])
  expect(demo.status, demo.stderr).toBe(0)
})

describe('stowage CLI: training', () => {
  it('info reports the stores, the ledger and row counts as the library sees them', async () => {
    const r = await stowage('info', demoFile, '--json', '--check')
    expect(r.status, r.stderr).toBe(0)
    const info = JSON.parse(r.stdout)
    const store = openStore(demoFile)
    try {
      expect(info.stores).toEqual([{ name: 'training', schemaVersion: store.info().schema.training, currentVersion: store.info().schema.training, adopted: true }])
      expect(info.journalMode).toBe('wal')
      expect(info.quickCheck).toEqual(['ok'])
      const counts = Object.fromEntries(info.tables.map((t: { table: string; rows: number }) => [t.table, t.rows]))
      expect(counts.runs).toBe(store.training.listRuns().length)
      expect(counts.metrics).toBe(store.query('SELECT count(*) AS n FROM metrics')[0].n)
      expect(counts.logs).toBe(store.query('SELECT count(*) AS n FROM logs')[0].n)
    } finally {
      store.close()
    }
  })

  it('runs lists every run with its parents and losses', async () => {
    const r = await stowage('runs', demoFile, '--json')
    expect(r.status, r.stderr).toBe(0)
    const runs = JSON.parse(r.stdout)
    const store = openStore(demoFile)
    try {
      const lib = store.training.listRuns()
      expect(runs.map((x: { run: string }) => x.run)).toEqual(lib.map((x) => x.run_id))
      for (const x of runs) {
        const rows = store.training.getRunRows(x.run)
        const losses = rows.map((m) => m.loss).filter((l): l is number => l !== null)
        expect(x.parents).toEqual(lib.find((l) => l.run_id === x.run)!.parents)
        expect(x.steps).toBe(rows.length)
        expect(x.lastLoss).toBe(losses.at(-1))
        expect(x.bestLoss).toBe(Math.min(...losses))
      }
    } finally {
      store.close()
    }
    const text = await stowage('runs', demoFile)
    expect(text.stdout.split('\n')[0].split(/\s+/)).toEqual(['run', 'name', 'project', 'parents', 'steps', 'lastLoss', 'bestLoss', 'bestValLoss', 'created'])
  })

  it('metrics CSV round-trips to the numbers getRunRows returns', async () => {
    const out = join(root, 'fork1.csv')
    const r = await stowage('metrics', demoFile, 'fork1', '--out', out)
    expect(r.status, r.stderr).toBe(0)
    const [header, ...lines] = readFileSync(out, 'utf8').trimEnd().split('\n')
    const cols = header.split(',')
    const store = openStore(demoFile)
    try {
      const rows = store.training.getRunRows('fork1')
      expect(lines.length).toBe(rows.length)
      lines.forEach((line, i) => {
        const fields = line.split(',')
        cols.forEach((c, j) => {
          const want = (rows[i] as unknown as Record<string, number | null>)[c]
          expect(fields[j] === '' ? null : Number(fields[j])).toBe(want)
        })
      })
      const part = await stowage('metrics', demoFile, 'fork1', '--metrics', 'loss', '--from', '310', '--to', '312', '--format', 'ndjson')
      expect(part.stdout.trimEnd().split('\n').map((l) => JSON.parse(l))).toEqual(
        rows.filter((m) => m.step >= 310 && m.step <= 312).map((m) => ({ step: m.step, loss: m.loss })),
      )
    } finally {
      store.close()
    }
  })

  it('logs prints a run\'s lines, by phase', async () => {
    const r = await stowage('logs', demoFile, 'base', '--phase', 'train', '--json')
    const store = openStore(demoFile)
    try {
      expect(JSON.parse(r.stdout)).toEqual(store.training.getLogs('base', 'train'))
    } finally {
      store.close()
    }
  })

  it('plot writes an SVG with one line per metric and run, and fork and merge marks', async () => {
    const out = join(root, 'chart.svg')
    const r = await stowage('plot', demoFile, 'base', 'fork1', 'merge1', '--metric', 'loss,val_loss', '--out', out)
    expect(r.status, r.stderr).toBe(0)
    const errors: string[] = []
    const doc = new DOMParser({ onError: (level, msg) => errors.push(`${level}: ${msg}`) }).parseFromString(readFileSync(out, 'utf8'), 'image/svg+xml')
    expect(errors).toEqual([])
    const paths = Array.from(doc.getElementsByTagName('path'))
    const series = paths.filter((p) => p.getAttribute('class') === 'series')
    expect(series.map((p) => `${p.getAttribute('data-metric')}/${p.getAttribute('data-run')}`).sort()).toEqual(
      ['loss/base', 'loss/fork1', 'loss/merge1', 'val_loss/base', 'val_loss/fork1', 'val_loss/merge1'],
    )
    for (const p of series) expect(p.getAttribute('d')).toMatch(/^M[\d.]+,[\d.]+(L[\d.]+,[\d.]+)+$/)
    expect(doc.getElementsByTagName('circle').length).toBe(2)
    expect(paths.filter((p) => p.getAttribute('class') === 'mark merge').length).toBe(2)
    expect(doc.documentElement!.getAttribute('width')).toBe('960')
  })

  it('plot writes a PNG of the requested size, and draws in the terminal', async () => {
    const out = join(root, 'chart.png')
    const r = await stowage('plot', demoFile, 'base', 'merge1', '--out', out, '--width', '640', '--height', '360', '--log-y')
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout.trim()).toBe(out)
    const png = decodePng(readFileSync(out))
    expect([png.width, png.height]).toEqual([640, 360])
    const term = await stowage('plot', demoFile, 'base', '--term', '--width', '60', '--height', '6')
    expect(term.status, term.stderr).toBe(0)
    const rows = term.stdout.split('\n').filter((l) => l.includes('┤'))
    expect(rows.length).toBe(6)
    expect(rows.join('')).toMatch(/[\u2801-\u28ff]/)
  })

  it('export writes a bundle with progress lines, and load brings it back', async () => {
    const out = join(root, 'exported')
    const r = await stowage('export', demoFile, out)
    expect(r.status, r.stderr).toBe(0)
    expect(readdirSync(out).sort()).toEqual(readdirSync(bundle).sort())
    expect(r.stderr).toMatch(/^export: snapshot \d+%/m)
    expect(r.stderr).not.toMatch(/\r/)
    const target = join(root, 'loaded.sqlite')
    const l = await stowage('load', out, target)
    expect(l.status, l.stderr).toBe(0)
    expect(l.stderr).toMatch(/replaces the training tables of/)
    const a = openStore(demoFile)
    const b = openStore(target)
    try {
      expect(b.training.getRunRows('merge1')).toEqual(a.training.getRunRows('merge1'))
    } finally {
      a.close()
      b.close()
    }
  })

  it('draws a progress bar on a terminal', async () => {
    const out = join(root, 'exported-tty')
    const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} export ${JSON.stringify(demoFile)} ${JSON.stringify(out)}`
    const r = await run('script', ['-qfec', cmd, '/dev/null'], { cwd: root })
    expect(r.status, r.stdout).toBe(0)
    expect(r.stdout).toMatch(/\rexport \w+ +\[[#.]{24}\] +\d+% /)
    expect(r.stdout).toMatch(/\[#{24}\] 100%/)
  })

  it('backup, check and vacuum', async () => {
    const copy = join(root, 'backup.sqlite')
    expect((await stowage('backup', demoFile, copy)).status).toBe(0)
    const check = await stowage('check', copy, '--json')
    expect(check.status, check.stderr).toBe(0)
    expect(JSON.parse(check.stdout)).toMatchObject({ ok: true, integrity: ['ok'], stores: ['training'] })
    const v = await stowage('vacuum', copy)
    expect(v.status, v.stderr).toBe(0)
    expect(v.stdout).toMatch(/^\d+ pages before, \d+ after/)
    const again = await stowage('backup', demoFile, copy)
    expect(again.status).toBe(1)
    expect(again.stderr).toMatch(/^stowage: EEXIST: /)
  })

  it('backup --gzip writes a gzipped, checked copy; a damaged file\'s backup fails with its problems', async () => {
    const gz = join(root, 'backup.sqlite.gz')
    const r = await stowage('backup', demoFile, gz, '--gzip')
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toBe(`${gz} (${formatBytes(readFileSync(gz).length)} gzipped, integrity ok)\n`)
    expect(gunzipSync(readFileSync(gz)).subarray(0, 16).toString('latin1')).toBe('SQLite format 3\0')
    const damaged = join(root, 'damaged.sqlite')
    const store = openStore(damaged)
    store.training.insertRun('r', 'p', 'n', [])
    store.training.insertMetricColumns('r', { step: Float64Array.from({ length: 3000 }, (_, i) => i), loss: new Float64Array(3000) })
    store.close()
    // Overwrite the root page of one index: the tables still read, the check fails.
    const [{ rootpage }] = sqlQuery<{ rootpage: number }>(damaged, "SELECT rootpage FROM sqlite_schema WHERE name = 'idx_metrics_run_step'")
    const [{ page_size }] = sqlQuery<{ page_size: number }>(damaged, 'PRAGMA page_size')
    const fd = openSync(damaged, 'r+')
    writeSync(fd, Buffer.alloc(page_size, 0x0d), 0, page_size, (rootpage - 1) * page_size)
    closeSync(fd)
    const bad = await stowage('backup', damaged, join(root, 'damaged-copy.sqlite'))
    expect(bad.status).toBe(1)
    expect(bad.stdout).toMatch(/integrity check FAILED\)\n$/)
    expect(bad.stderr).toMatch(/^stowage: SQLITE_CORRUPT: the copy is page for page, so .*damaged\.sqlite has these problems too: \S/m)
    const unchecked = await stowage('backup', damaged, join(root, 'damaged-unchecked.sqlite'), '--no-verify')
    expect(unchecked.status, unchecked.stderr).toBe(0)
    expect(unchecked.stdout).toMatch(/, not checked\)\n$/)
  })
})

describe('stowage CLI: files other programs wrote', () => {
  it('reads a legacy OnTheFly file through a migrated copy', async () => {
    const file = legacyOnTheFly()
    const info = JSON.parse((await stowage('info', file, '--json')).stdout)
    expect(info.stores).toEqual([expect.objectContaining({ name: 'training', adopted: false, schemaVersion: null })])
    expect(info.journalMode).toBe('rollback')
    const runs = JSON.parse((await stowage('runs', file, '--json')).stdout)
    expect(runs).toEqual([expect.objectContaining({ run: 'old', steps: 2, lastLoss: 0.8, bestLoss: 0.8, bestValLoss: 0.85 })])
  })

  it('lists and shows overstory sessions, and imports its legacy JSON', async () => {
    const file = overstoryFile()
    const list = await stowage('sessions', file, '--json')
    expect(list.status, list.stderr).toBe(0)
    expect(JSON.parse(list.stdout).agents.map((s: { agentName: string }) => s.agentName).sort()).toEqual(['builder-1', 'scout-1'])
    const working = JSON.parse((await stowage('sessions', file, '--state', 'working', '--json')).stdout)
    expect(working.agents.map((s: { agentName: string }) => s.agentName)).toEqual(['builder-1'])
    const one = JSON.parse((await stowage('show', file, 's-2', '--json')).stdout)
    expect(one).toMatchObject({ agentName: 'scout-1', state: 'completed', taskId: 'task-2' })
    const search = await stowage('search', file, 'builder')
    expect(search.status).toBe(1)
    expect(search.stderr).toMatch(/^stowage: ERR_NO_SEARCH: /)

    const legacy = join(root, 'sessions.json')
    writeFileSync(legacy, JSON.stringify([{ id: 'j-1', agentName: 'lead-1', capability: 'lead', worktreePath: '/w', branchName: 'main', taskId: 't', tmuxSession: 'x', state: 'working', startedAt: '2026-01-01T00:00:00.000Z', lastActivity: '2026-01-01T00:00:00.000Z' }]))
    const target = join(root, 'imported.db')
    const imp = await stowage('import', 'overstory', legacy, target)
    expect(imp.status, imp.stderr).toBe(0)
    expect(JSON.parse(imp.stdout)).toMatchObject({ migrated: true, imported: 1, counts: { sessions: 1 } })
    expect(imp.stderr).toMatch(/adds overstory's legacy sessions.json/)
    const shown = JSON.parse((await stowage('show', target, 'lead-1', '--json')).stdout)
    expect(shown.capability).toBe('lead')
  })
})

describe('stowage CLI: AIT42 worktree sessions', () => {
  it('tells a worktrees file from an overstory one, and lists, shows, searches and imports its sessions', async () => {
    const legacy = join(root, `ait42-${++n}`)
    mkdirSync(legacy)
    writeFileSync(join(legacy, `${workspaceHash('/w/editor')}.json`), JSON.stringify([session('s-ait', { task: 'refactor the parser' }), session('s-two', { task: 'write docs' })], null, 2))
    const file = join(root, `worktrees-${n}.db`)
    const imp = await stowage('import', 'ait42', legacy, file)
    expect(imp.status, imp.stderr).toBe(0)
    expect(JSON.parse(imp.stdout).counts.sessions).toBe(2)
    const info = JSON.parse((await stowage('info', file, '--json')).stdout)
    expect(info.stores.map((x: { name: string }) => x.name)).toEqual(['worktrees'])
    const list = JSON.parse((await stowage('sessions', file, '--json')).stdout)
    expect(list.worktrees.map((x: { id: string }) => x.id).sort()).toEqual(['s-ait', 's-two'])
    const shown = JSON.parse((await stowage('show', file, 's-ait', '--json')).stdout)
    expect(shown).toMatchObject({ id: 's-ait', task: 'refactor the parser' })
    const found = JSON.parse((await stowage('search', file, 'parser', '--json')).stdout)
    expect(found.worktrees.map((x: { id: string }) => x.id)).toEqual(['s-ait'])
    // overstory's file keeps a `sessions` table too: it is still the agents store.
    const overstory = JSON.parse((await stowage('info', overstoryFile(), '--json')).stdout)
    expect(overstory.stores.map((x: { name: string }) => x.name)).toEqual(['agents'])
  })
})

describe('stowage CLI: chats and conversations', () => {
  it('lists and shows etcode chats, and imports an opencode JSON tree', async () => {
    const tree = join(root, `opencode-${++n}`)
    for (const d of ['project', 'session/proj_0', 'message/ses_0', 'part/msg_0']) mkdirSync(join(tree, d), { recursive: true })
    writeFileSync(join(tree, 'project/proj_0.json'), JSON.stringify({ worktree: '/w' }))
    writeFileSync(join(tree, 'session/proj_0/ses_0.json'), JSON.stringify({ directory: '/w', title: 'imported', time: { created: 1, updated: 2 } }))
    writeFileSync(join(tree, 'message/ses_0/msg_0.json'), JSON.stringify({ role: 'user', content: 'hi', time: { created: 1 } }))
    writeFileSync(join(tree, 'part/msg_0/prt_0.json'), JSON.stringify({ type: 'text', text: 'hi' }))
    const file = join(root, `etcode-${n}.db`)
    const imp = await stowage('import', 'opencode', tree, file)
    expect(imp.status, imp.stderr).toBe(0)
    expect(JSON.parse(imp.stdout).counts).toMatchObject({ session: 1, message: 1, part: 1 })
    const list = JSON.parse((await stowage('sessions', file, '--json')).stdout)
    expect(list.chats.map((x: { id: string; title: string }) => [x.id, x.title])).toEqual([['ses_0', 'imported']])
    const one = JSON.parse((await stowage('show', file, 'ses_0', '--json')).stdout)
    expect(one.messages.map((m: { info: { id: string }; parts: { text: string }[] }) => [m.info.id, m.parts.map((p) => p.text)])).toEqual([['msg_0', ['hi']]])
  })

  it('searches conversations with FTS5, in a file that also holds training runs', async () => {
    const file = join(root, `sidepanel-${++n}.sqlite`)
    const s = openStore(file, { stores: ['training', 'conversations'] })
    const chat = s.conversations!.createSession({ title: 'Plans', model: 'm' })
    s.conversations!.appendMessage(chat.id, { role: 'user', content: 'ship the release on Friday' })
    s.conversations!.appendMessage(chat.id, { role: 'assistant', content: 'the changelog is ready' })
    s.training!.insertRun('r', 'p', 'n', null)
    s.close()
    const info = JSON.parse((await stowage('info', file, '--json')).stdout)
    expect(info.stores.map((x: { name: string }) => x.name)).toEqual(['training', 'conversations'])
    const found = JSON.parse((await stowage('search', file, 'release', '--json')).stdout)
    expect(found.conversations).toEqual([{ sessionId: chat.id, sequence: 1, role: 'user', snippet: 'ship the [release] on Friday' }])
    const shown = JSON.parse((await stowage('show', file, chat.id, '--json')).stdout)
    expect(shown.messages.map((m: { sequence: number }) => m.sequence)).toEqual([1, 2])
    expect(JSON.parse((await stowage('runs', file, '--json')).stdout).map((r: { run: string }) => r.run)).toEqual(['r'])
  })
})

describe('stowage CLI: read commands never modify the file', () => {
  it('leaves every layout byte-identical, sidecars included', async () => {
    const live = join(root, 'live.sqlite')
    const writer = openStore(live)
    writer.training.insertRun('live', 'p', 'live run', null)
    writer.training.insertMetric('live', { step: 1, loss: 0.5 })
    try {
      expect(existsSync(`${live}-wal`)).toBe(true)
      const ait42 = join(root, `ait42-ro-${++n}.db`)
      writeAit42File(ait42, workspaceHash('/w/editor'))
      const etcode = join(root, `etcode-ro-${++n}.db`)
      writeEtcodeFile(etcode, 1)
      const sessionsOf: Record<string, string> = { [ait42]: 'old', [etcode]: 'sess_old' }
      const files = [demoFile, legacyOnTheFly(), overstoryFile(), live, ait42, etcode]
      for (const file of files) {
        const before = hashes(file)
        const training = !file.endsWith('.db')
        const commands = [
          ['info', file, '--check'],
          ['check', file],
          ...(file in sessionsOf ? [['sessions', file], ['show', file, sessionsOf[file]]] : training
            ? [['runs', file], ['metrics', file, file === live ? 'live' : file === demoFile ? 'base' : 'old'], ['logs', file, 'base'],
              ['plot', file, file === live ? 'live' : file === demoFile ? 'base' : 'old', '--out', join(root, 'ro.svg')], ['export', file, join(root, `ro-export-${Object.keys(before).length}-${Math.random()}`)]]
            : [['sessions', file], ['show', file, 's-1']]),
          ['backup', file, join(root, `ro-backup-${Math.random()}.sqlite`)],
        ]
        for (const cmd of commands) {
          const r = await stowage(...cmd)
          expect(r.status, `${cmd.join(' ')}: ${r.stderr}`).toBe(0)
          expect(hashes(file), cmd.join(' ')).toEqual(before)
        }
      }
      expect(writer.training.getRunRows('live').map((m) => m.loss)).toEqual([0.5])
    } finally {
      writer.close()
    }
  })
})

describe('stowage CLI: errors and help', () => {
  it('prints one line with the code and exits non-zero', async () => {
    const missing = await stowage('info', join(root, 'nope.sqlite'))
    expect(missing.status).toBe(1)
    expect(missing.stderr).toMatch(/^stowage: ENOENT: .*no such file\n$/)
    const unknownRun = await stowage('metrics', demoFile, 'no-such-run')
    expect(unknownRun.status).toBe(1)
    expect(unknownRun.stderr).toMatch(/^stowage: ERR_NOT_FOUND: /)
    const noTraining = await stowage('runs', overstoryFile())
    expect(noTraining.stderr).toMatch(/^stowage: ERR_STORE_ABSENT: /)
    const usage = await stowage('plot', demoFile, 'base', '--metric', 'nonsense')
    expect(usage.status).toBe(2)
    expect(usage.stderr).toMatch(/^stowage: ERR_USAGE: unknown metric 'nonsense'/)
    const unknown = await stowage('frobnicate')
    expect(unknown.status).toBe(2)
  })

  it('has --help on every command', async () => {
    const all = await stowage('help')
    expect(all.status).toBe(0)
    const names = all.stdout.split('\n').filter((l) => /^ {2}\w/.test(l)).map((l) => l.trim().split(/\s+/)[0])
    expect(names).toEqual(['info', 'runs', 'metrics', 'logs', 'plot', 'sessions', 'show', 'search', 'export', 'load', 'backup', 'import', 'check', 'vacuum'])
    for (const name of names) {
      const h = await stowage(name, '--help')
      expect(h.status, name).toBe(0)
      expect(h.stdout, name).toMatch(new RegExp(`^usage: stowage ${name} `))
    }
    expect((await stowage('import', '--help')).stdout).toMatch(/overstory +overstory's legacy sessions.json \(into the agents store\)/)
  })
})
