// Verified backups (issue 15, item 6): backupTo with gzip and an integrity check, restoreFrom
// that checks before it replaces and keeps the pre-restore copy, rotateBackups, and a SIGKILL
// in the middle of restores leaving the old database or the new one.
import { spawn } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync, writeSync } from 'node:fs'
import { basename, join } from 'node:path'
import { gunzipSync, gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'

import { openStore, rotateBackups, type BackupProgress, type RestoreProgress } from '../index.js'
import { eachLine } from './helpers/lines'
import { sqlQuery } from './helpers/sqlite'
import { tempDir, thrown } from './helpers/tmp'

const root = tempDir('stowage-backups-')
const entry = join(__dirname, '..', 'index.js')

/** A training file with `runs` runs of `steps` metric rows each, named `<prefix>-<i>`. */
function trainingFile(file: string, prefix: string, runs = 3, steps = 200) {
  const store = openStore(file)
  for (let r = 0; r < runs; r++) {
    const id = `${prefix}-${r}`
    store.training.insertRun(id, 'p', 'n', [])
    store.training.insertMetricColumns(id, {
      step: Float64Array.from({ length: steps }, (_, i) => i),
      loss: Float64Array.from({ length: steps }, (_, i) => 1 / (i + 1)),
    })
  }
  return store
}

const runIds = (file: string) => sqlQuery<{ run_id: string }>(file, 'SELECT run_id FROM runs ORDER BY run_id').map((r) => r.run_id)

/** Runs the fixture `script` with `args` and SIGKILLs it when it prints `line`; resolves to
 * whether it was killed there. The child's stdin is a pipe that stays open, so a child blocked
 * waiting on it holds still until the kill. */
function killAtLine(script: string, args: string[], line: string) {
  return new Promise<boolean>((resolve, reject) => {
    const p = spawn(process.execPath, [join(__dirname, 'fixtures', script), entry, ...args], { stdio: ['pipe', 'pipe', 'inherit'] })
    let sent = false
    eachLine(p.stdout!, (l) => {
      if (!sent && l === line) {
        sent = true
        p.kill('SIGKILL')
      }
    })
    p.on('error', reject)
    p.on('exit', (_code, signal) => resolve(sent && signal === 'SIGKILL'))
  })
}

describe('backupTo', () => {
  it('writes a checked copy, gzipped on request, and never over an existing file', () => {
    const dir = join(root, 'backup')
    mkdirSync(dir)
    const store = trainingFile(join(dir, 'live.sqlite'), 'r')
    const plain = store.backupTo(join(dir, 'plain.sqlite'))
    expect(plain).toEqual({ bytes: readFileSync(join(dir, 'plain.sqlite')).length, ok: true, problems: [] })
    expect(runIds(join(dir, 'plain.sqlite'))).toEqual(['r-0', 'r-1', 'r-2'])
    const gz = store.backupTo(join(dir, 'live.sqlite.gz'), { gzip: true })
    const packed = readFileSync(join(dir, 'live.sqlite.gz'))
    expect(gz.bytes).toBe(packed.length)
    expect(gz.ok).toBe(true)
    const unpacked = join(dir, 'unpacked.sqlite')
    writeFileSync(unpacked, gunzipSync(packed))
    expect(runIds(unpacked)).toEqual(['r-0', 'r-1', 'r-2'])
    expect(store.backupTo(join(dir, 'unchecked.sqlite'), { verify: false })).toMatchObject({ ok: null, problems: [] })
    expect(thrown(() => store.backupTo(join(dir, 'plain.sqlite'))).code).toBe('EEXIST')
    expect(thrown(() => store.backupTo(join(dir, 'x.sqlite'), { gzip: 'yes' as never })).name).toBe('TypeError')
    expect(thrown(() => store.backupTo(join(dir, 'x.sqlite'), 5 as never)).name).toBe('TypeError')
    expect(existsSync(join(dir, 'x.sqlite'))).toBe(false)
    // Nothing but the backups asked for: no work file stays beside them.
    expect(readdirSync(dir).filter((n) => n.startsWith('.'))).toEqual([])
    store.close()
  })

  it('reports the problems SQLite finds in a damaged database, and keeps the copy', () => {
    const dir = join(root, 'damaged')
    mkdirSync(dir)
    const file = join(dir, 'live.sqlite')
    trainingFile(file, 'r', 3, 2000).close()
    // Overwrite the root page of one index: the tables still read, the check fails.
    const [{ rootpage }] = sqlQuery<{ rootpage: number }>(file, "SELECT rootpage FROM sqlite_schema WHERE name = 'idx_metrics_run_step'")
    const [{ page_size }] = sqlQuery<{ page_size: number }>(file, 'PRAGMA page_size')
    const fd = openSync(file, 'r+')
    writeSync(fd, Buffer.alloc(page_size, 0x0d), 0, page_size, (rootpage - 1) * page_size)
    closeSync(fd)
    const store = openStore(file)
    const made = store.backupTo(join(dir, 'copy.sqlite'))
    expect(made.ok).toBe(false)
    expect(made.problems.length).toBeGreaterThan(0)
    expect(made.problems).not.toContain('ok')
    expect(existsSync(join(dir, 'copy.sqlite'))).toBe(true)
    // Such a copy is not restorable: restoring checks first.
    expect(thrown(() => store.restoreFrom(join(dir, 'copy.sqlite'))).code).toBe('ERR_BACKUP_INVALID')
    store.close()
  })

  it('backupToAsync goes through copy, verify and compress with progress, and stops when onProgress throws', async () => {
    const dir = join(root, 'async')
    mkdirSync(dir)
    const store = trainingFile(join(dir, 'live.sqlite'), 'r', 2, 20_000)
    const events: BackupProgress[] = []
    const made = await store.backupToAsync(join(dir, 'b.sqlite.gz'), { gzip: true, onProgress: (p) => events.push(p) })
    expect(made.ok).toBe(true)
    expect(made.bytes).toBe(readFileSync(join(dir, 'b.sqlite.gz')).length)
    const phases = events.map((e) => e.phase).filter((p, i, all) => all[i - 1] !== p)
    expect(phases).toEqual(['copy', 'verify', 'compress'])
    for (const e of events) expect(e.bytesDone).toBeLessThanOrEqual(e.bytesTotal)
    const last = events.at(-1)!
    expect(last.bytesDone).toBe(last.bytesTotal)
    const boom = new Error('stop')
    const stopAt = async (phase: string) => {
      const target = join(dir, `stopped-${phase}.sqlite.gz`)
      const run = store.backupToAsync(target, { gzip: true, onProgress: (p) => { if (p.phase === phase) throw boom } })
      await expect(run).rejects.toBe(boom)
      expect(existsSync(target)).toBe(false)
    }
    for (const phase of ['copy', 'verify', 'compress']) await stopAt(phase)
    expect(readdirSync(dir).filter((n) => n.startsWith('.'))).toEqual([])
    await expect(store.backupToAsync(join(dir, 'y.sqlite'), { verify: 1 as never })).rejects.toBeInstanceOf(TypeError)
    store.close()
  })

  it('a backup killed midway leaves no file under its name, and the next backup in the folder removes its work files', async () => {
    const dir = join(root, 'leftovers')
    mkdirSync(dir)
    const live = join(dir, 'live.sqlite')
    trainingFile(live, 'r', 2, 20_000).close()
    const hidden = () => readdirSync(dir).filter((n) => n.startsWith('.'))
    for (const phase of ['copy', 'verify', 'compress']) {
      const target = join(dir, `killed-${phase}.sqlite.gz`)
      const held = await killAtLine('backup-child.js', [live, target, phase], `held ${phase}`)
      expect(held).toBe(true)
      expect(existsSync(target)).toBe(false)
      // What this killed backup was working on is left, named after its process; the next
      // backup (the next round's child) removed what the previous one left.
      expect(hidden().length).toBeGreaterThan(0)
      for (const n of hidden()) expect(n.startsWith(`.killed-${phase}.sqlite.gz.stowage-backup-`), n).toBe(true)
    }
    const store = openStore(live)
    expect(store.backupTo(join(dir, 'next.sqlite')).ok).toBe(true)
    expect(hidden()).toEqual([])
    store.close()
  }, 120_000)
})

describe('restoreFrom', () => {
  it('replaces the database, keeps the pre-restore copy, and other handles see the restored data', () => {
    const dir = join(root, 'restore')
    mkdirSync(dir)
    const file = join(dir, 'live.sqlite')
    const store = trainingFile(file, 'old')
    const other = openStore(file)
    const backup = join(dir, 'backup.sqlite.gz')
    store.backupTo(backup, { gzip: true })
    const backupBytes = readFileSync(backup)
    store.training.insertRun('later', 'p', 'n', [])
    const before = runIds(file)
    const done = store.restoreFrom(backup)
    expect(store.training.listRuns().map((r) => r.run_id).sort()).toEqual(['old-0', 'old-1', 'old-2'])
    expect(other.training.listRuns().map((r) => r.run_id).sort()).toEqual(['old-0', 'old-1', 'old-2'])
    expect(store.training.getRunRows('old-1').length).toBe(200)
    expect(done.bytes).toBeGreaterThan(0)
    expect(basename(done.preRestore!)).toMatch(/^live\.sqlite\.pre-restore-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}Z\.sqlite$/)
    expect(runIds(done.preRestore!)).toEqual(before)
    expect(readFileSync(backup)).toEqual(backupBytes)
    expect(store.info().journalMode).toBe('wal')
    expect(store.integrityCheck()).toEqual(['ok'])
    store.training.insertRun('after', 'p', 'n', [])
    expect(other.training.listRuns().some((r) => r.run_id === 'after')).toBe(true)
    expect(store.restoreFrom(backup, { keepPreRestore: false }).preRestore).toBeNull()
    other.close()
    store.close()
  })

  it('refuses what is not a sound backup of this store, leaving the live file as it was', () => {
    const dir = join(root, 'refuse')
    mkdirSync(dir)
    const file = join(dir, 'live.sqlite')
    const store = trainingFile(file, 'live')
    const good = join(dir, 'good.sqlite')
    store.backupTo(good)
    const bytes = readFileSync(good)
    const agents = join(dir, 'agents.sqlite')
    openStore(agents, { stores: ['agents'] }).close()
    const put = (name: string, data: Uint8Array) => {
      writeFileSync(join(dir, name), data)
      return join(dir, name)
    }
    const hostile = [
      put('text.sqlite', Buffer.from('not a database')),
      put('empty.sqlite', Buffer.alloc(0)),
      put('header-only.sqlite', bytes.subarray(0, 100)),
      put('truncated.sqlite.gz', gzipSync(bytes).subarray(0, 2000)),
      put('gzip-of-json.gz', gzipSync(Buffer.from('{"runs": []}'))),
      agents,
    ]
    const before = runIds(file)
    for (const bad of hostile) {
      const err = thrown(() => store.restoreFrom(bad))
      expect(err.code, `${basename(bad)}: ${err.message}`).toBe('ERR_BACKUP_INVALID')
      expect(runIds(file)).toEqual(before)
    }
    expect(thrown(() => store.restoreFrom(join(dir, 'missing.sqlite'))).code).toBe('ENOENT')
    expect(readdirSync(dir).filter((n) => n.startsWith('.') || n.includes('pre-restore'))).toEqual([])
    const inside = store.transaction(() => thrown(() => store.restoreFrom(good)))
    expect(inside.code).toBe('ERR_TRANSACTION_OPEN')
    expect(thrown(() => store.restoreFrom(good, { keepPreRestore: 'no' as never })).name).toBe('TypeError')
    expect(thrown(() => store.restoreFrom(42 as never)).name).toBe('TypeError')
    store.close()
    expect(thrown(() => store.restoreFrom(good)).code).toBe('ERR_CLOSED')
    const mem = openStore(':memory:')
    expect(thrown(() => mem.restoreFrom(good)).code).toBe('ERR_INVALID_ARG')
    mem.close()
  })

  it('restoreFromAsync goes through unpack, check, the pre-restore copy and replace, the store usable meanwhile', async () => {
    const dir = join(root, 'restore-async')
    mkdirSync(dir)
    const file = join(dir, 'live.sqlite')
    const store = trainingFile(file, 'old', 2, 20_000)
    const backup = join(dir, 'backup.sqlite.gz')
    await store.backupToAsync(backup, { gzip: true })
    store.training.insertRun('later', 'p', 'n', [])
    const events: RestoreProgress[] = []
    let readsDuring = 0
    const done = await store.restoreFromAsync(backup, {
      onProgress: (p) => {
        events.push(p)
        // The store answers on the JS thread while the job works on connections of its own.
        if (p.phase !== 'replace') readsDuring += store.training.listRuns().length
      },
    })
    expect(readsDuring).toBeGreaterThan(0)
    const phases = events.map((e) => e.phase).filter((p, i, all) => all[i - 1] !== p)
    expect(phases).toEqual(['unpack', 'check', 'copy', 'verify', 'replace'])
    for (const e of events) expect(e.bytesDone).toBeLessThanOrEqual(e.bytesTotal)
    const unpacked = events.filter((e) => e.phase === 'unpack').at(-1)!
    expect(unpacked.bytesDone).toBe(readFileSync(backup).length)
    expect(store.training.listRuns().map((r) => r.run_id).sort()).toEqual(['old-0', 'old-1'])
    expect(runIds(done.preRestore!)).toEqual(['later', 'old-0', 'old-1'])
    expect(done.bytes).toBe(events.at(-1)!.bytesTotal)
    store.training.insertRun('after', 'p', 'n', [])
    expect(runIds(file)).toEqual(['after', 'old-0', 'old-1'])
    expect(store.integrityCheck()).toEqual(['ok'])

    // Stopped in any phase: the live file as it was, no work files left.
    const before = runIds(file)
    const boom = new Error('stop')
    for (const phase of ['unpack', 'check', 'copy', 'verify', 'replace']) {
      const run = store.restoreFromAsync(backup, { onProgress: (p) => { if (p.phase === phase) throw boom } })
      await expect(run, phase).rejects.toBe(boom)
      expect(runIds(file), phase).toEqual(before)
    }
    expect((await store.restoreFromAsync(backup, { keepPreRestore: false })).preRestore).toBeNull()
    expect(runIds(file)).toEqual(['old-0', 'old-1'])
    const leftovers = readdirSync(dir).filter((n) => n.startsWith('.') || n.includes('pre-restore'))
    expect(leftovers).toHaveLength(1) // the first restore's pre-restore copy, and nothing else
    expect(leftovers[0]).toBe(basename(done.preRestore!))

    writeFileSync(join(dir, 'text.sqlite'), 'not a database')
    await expect(store.restoreFromAsync(join(dir, 'text.sqlite'))).rejects.toMatchObject({ code: 'ERR_BACKUP_INVALID' })
    await expect(store.restoreFromAsync(backup, { keepPreRestore: 1 as never })).rejects.toBeInstanceOf(TypeError)
    await expect(store.restoreFromAsync(backup, { onProgress: 'x' as never })).rejects.toBeInstanceOf(TypeError)
    let inside: Promise<unknown> | undefined
    store.transaction(() => {
      inside = store.restoreFromAsync(backup)
    })
    await expect(inside).rejects.toMatchObject({ code: 'ERR_TRANSACTION_OPEN' })
    const mem = openStore(':memory:')
    await expect(mem.restoreFromAsync(backup)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' })
    mem.close()
    store.close()
    await expect(store.restoreFromAsync(backup)).rejects.toMatchObject({ code: 'ERR_CLOSED' })
  }, 60_000)

  it('a store that hosts several stores gets all of them back, FTS index included', () => {
    const dir = join(root, 'several')
    mkdirSync(dir)
    const file = join(dir, 'chat.sqlite')
    const store = openStore(file, { stores: ['conversations', 'chats'] })
    const s = store.conversations.createSession({ title: 'Plan', model: 'm' })
    store.conversations.appendMessage(s.id, { role: 'user', content: 'the release ships on friday' })
    store.backupTo(join(dir, 'b.sqlite'))
    store.conversations.appendMessage(s.id, { role: 'user', content: 'no, monday' })
    store.restoreFrom(join(dir, 'b.sqlite'))
    expect(store.conversations.listMessages(s.id).map((m) => m.content)).toEqual(['the release ships on friday'])
    expect(store.conversations.searchMessages('monday')).toEqual([])
    expect(store.conversations.searchMessages('friday')).toHaveLength(1)
    expect(sqlQuery(file, "INSERT INTO messages_fts(messages_fts) VALUES('integrity-check')")).toEqual([])
    store.close()
  })

  it('a SIGKILL during restores leaves the database it had or the one being restored, never a mix', async () => {
    const dir = join(root, 'kill')
    mkdirSync(dir)
    const a = join(dir, 'a.sqlite')
    const b = join(dir, 'b.sqlite')
    trainingFile(join(dir, 'a-live.sqlite'), 'a', 4, 30_000).backupTo(a)
    trainingFile(join(dir, 'b-live.sqlite'), 'b', 6, 20_000).backupTo(b)
    const expected = (n: number) => (n % 2 === 1 ? ['a-0', 'a-1', 'a-2', 'a-3'] : ['b-0', 'b-1', 'b-2', 'b-3', 'b-4', 'b-5'])
    for (const after of [1, 2, 5]) {
      const file = join(dir, `live-${after}.sqlite`)
      trainingFile(file, 'start', 1, 10).close()
      const killed = await killAtLine('restore-child.js', [file, a, b], `acked ${after}`)
      expect(killed).toBe(true)
      expect(sqlQuery(file, 'PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }])
      const ids = runIds(file)
      expect([expected(after), expected(after + 1)]).toContainEqual(ids)
      const [{ n }] = sqlQuery<{ n: number }>(file, 'SELECT count(*) AS n FROM metrics')
      expect(n).toBe(ids[0].startsWith('a') ? 4 * 30_000 : 6 * 20_000)
    }
  }, 120_000)
})

describe('rotateBackups', () => {
  it('keeps the newest backup of each recent day, week and month, and touches nothing else', () => {
    const dir = join(root, 'rotate')
    mkdirSync(dir)
    const live = join(dir, 'live.sqlite')
    const store = trainingFile(live, 'r', 1, 10)
    // One backup a day for the 60 days up to Tuesday 2026-12-01, named as the docs suggest.
    const names: string[] = []
    for (let d = 0; d < 60; d++) {
      const at = new Date(Date.UTC(2026, 11, 1, 6) - d * 86_400_000)
      const name = `live-${at.toISOString().replaceAll(':', '-')}.sqlite${d % 2 ? '.gz' : ''}`
      store.backupTo(join(dir, name), { gzip: d % 2 === 1, verify: false })
      names.push(name)
    }
    writeFileSync(join(dir, 'notes-2026-12-01.txt'), 'not a backup')
    const dry = rotateBackups(dir, { daily: 3, weekly: 2, monthly: 3, dryRun: true })
    expect(readdirSync(dir)).toHaveLength(60 + 4)
    const done = rotateBackups(dir, { daily: 3, weekly: 2, monthly: 3 })
    expect(done).toEqual(dry)
    const day = (p: string) => basename(p).slice(5, 15)
    expect(done.kept.map(day)).toEqual(['2026-12-01', '2026-11-30', '2026-11-29', '2026-10-31'])
    expect(done.deleted).toHaveLength(56)
    expect(readdirSync(dir).sort()).toEqual(
      [...done.kept.map((p) => basename(p)), 'live.sqlite', 'live.sqlite-shm', 'live.sqlite-wal', 'notes-2026-12-01.txt'].sort(),
    )
    expect(rotateBackups(dir)).toEqual({ kept: done.kept, deleted: [] })
    expect(thrown(() => rotateBackups(dir, { daily: -1 })).name).toBe('RangeError')
    expect(thrown(() => rotateBackups(dir, { dryRun: 1 as never })).name).toBe('TypeError')
    expect(thrown(() => rotateBackups(join(dir, 'missing'))).code).toBe('ENOENT')
    store.close()
  })
})
