// Files that are not what they claim: each gives a coded error at the call that meets it, never a
// crash, and the file is left byte-for-byte as it was (with no journal or WAL left beside it).
import { spawnSync, type SpawnSyncOptions } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

import * as s from '../index.js'
import { rng } from '../stress/rng.js'
import { sqlExec, sqlQuery } from './helpers/sqlite'
import { tempDir, thrown } from './helpers/tmp'

const root = tempDir()
chmodSync(root, 0o755)
/** The seed of the random files (STOWAGE_ODD_SEED replays a run); it is in the test's name. */
const SEED = Number(process.env.STOWAGE_ODD_SEED || Date.now() % 100_000)
let n = 0
const fresh = (name: string) => {
  const dir = join(root, `${name}-${++n}`)
  mkdirSync(dir)
  return dir
}
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex')

/** A stowage file with a run of `rows` metric rows, closed (its WAL folded back). */
function populated(dir: string, rows = 20_000): string {
  const file = join(dir, 'runs.sqlite')
  const store = s.openStore(file)
  store.training.insertRun('r', 'p', 'r', [])
  store.training.insertMetricBatch(Array.from({ length: rows }, (_, step) => ({ run_id: 'r', step, loss: 1 / (step + 1), val_loss: null })))
  store.close()
  return file
}

/** `fn` throws an error with one of `codes`; `file` is unchanged and has no siblings. */
function refused(fn: () => unknown, codes: string[], file: string, hash: string) {
  const err = thrown(fn)
  expect(err).toBeInstanceOf(Error)
  expect(codes).toContain(err.code)
  expect(sha(file)).toBe(hash)
  for (const suffix of ['-wal', '-shm', '-journal']) expect(existsSync(file + suffix), file + suffix).toBe(false)
  return err
}

describe('files that are not SQLite databases', () => {
  it('a zero-byte file is an empty database (SQLite’s rule): the store is created in it', async () => {
    const dir = fresh('zero')
    writeFileSync(join(dir, 'runs.sqlite'), '')
    await s.initStorage(dir)
    s.insertRun('r', 'p', 'r', [])
    expect(s.listRuns().map((r) => r.run_id)).toEqual(['r'])
    s.closeStorage({ retainFile: true })
  })

  it(`random bytes (seed ${SEED}) are SQLITE_NOTADB, with or without SQLite’s magic header, however short`, async () => {
    const random = rng(SEED)
    for (const size of [1, 16, 99, 100, 511, 4096, 100_000]) {
      for (const magic of [false, true]) {
        const dir = fresh('random')
        const file = join(dir, 'runs.sqlite')
        const bytes = Buffer.from(Array.from({ length: size }, () => Math.floor(random() * 256)))
        if (magic) Buffer.from('SQLite format 3\u0000').copy(bytes)
        writeFileSync(file, bytes)
        const hash = sha(file)
        refused(() => s.openStore(file), ['SQLITE_NOTADB', 'SQLITE_CORRUPT'], file, hash)
        const err = await s.initStorage(dir).catch((e) => e)
        expect(['SQLITE_NOTADB', 'SQLITE_CORRUPT']).toContain(err.code)
        expect(s.isReady()).toBe(false)
        expect(sha(file)).toBe(hash)
      }
    }
  })

  // SQLite compares the page count in the header with the file's at open. (A cut inside the
  // last page reads as zeros there, SQLite's rule for a short read; integrityCheck() reports it
  // if it hit data.)
  it('a database that lost pages is SQLITE_CORRUPT at open, wherever it was cut', () => {
    const original = populated(fresh('whole'))
    const size = readFileSync(original).length
    for (const keep of [100, 4096, 8192, size / 2, size - 4096]) {
      const dir = fresh('truncated')
      const file = join(dir, 'runs.sqlite')
      copyFileSync(original, file)
      truncateSync(file, Math.floor(keep))
      const err = refused(() => s.openStore(file), keep < 512 ? ['SQLITE_NOTADB'] : ['SQLITE_CORRUPT'], file, sha(file))
      expect(err.message).toContain(file)
    }
  })

  it('a file from a newer stowage is ERR_SCHEMA_TOO_NEW and not modified', () => {
    const file = populated(fresh('newer'), 10)
    sqlExec(file, "INSERT INTO stowage_migrations VALUES ('training', 99, 'from the future', 'x', 0)")
    const err = refused(() => s.openStore(file), ['ERR_SCHEMA_TOO_NEW'], file, sha(file))
    expect(err.message).toMatch(/newer stowage.*version 99/)
  })

  it('a path that is a directory, or in a missing folder, is SQLITE_CANTOPEN naming the path', async () => {
    const dir = fresh('isdir')
    const err = thrown(() => s.openStore(dir))
    expect(err.code).toBe('SQLITE_CANTOPEN')
    expect(err.message).toContain(dir)
    mkdirSync(join(dir, 'runs.sqlite'))
    const viaInit = await s.initStorage(dir).catch((e) => e)
    expect(viaInit.code).toBe('SQLITE_CANTOPEN')
    expect(s.isReady()).toBe(false)
    expect(readdirSync(join(dir, 'runs.sqlite'))).toEqual([])
    const missing = join(dir, 'no', 'such', 'folder', 'x.sqlite')
    expect(thrown(() => s.openStore(missing)).code).toBe('SQLITE_CANTOPEN')
    expect(existsSync(join(dir, 'no'))).toBe(false)
  })
})

describe('files this process may not write', () => {
  // Root ignores permissions, so as root the child runs as nobody, from a copy of the package
  // that nobody can read.
  const asUser: SpawnSyncOptions = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {}
  const pkg = join(root, 'pkg')
  mkdirSync(pkg)
  const files: string[] = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')).files
  for (const f of [...files, 'stowage.linux-x64-gnu.node']) copyFileSync(join(__dirname, '..', f), join(pkg, f))
  const child = join(__dirname, 'fixtures', 'odd-file-child.js')
  copyFileSync(child, join(pkg, 'child.js'))

  function run(scenario: string, file: string, opts: SpawnSyncOptions = asUser) {
    const r = spawnSync(process.execPath, [join(pkg, 'child.js'), join(pkg, 'index.js'), scenario, file], { ...opts, encoding: 'utf8' })
    expect(r.signal, String(r.stderr)).toBeNull()
    expect(r.status, String(r.stderr)).toBe(0)
    return JSON.parse(String(r.stdout))
  }

  it('a read-only file opens and reads; every write is SQLITE_READONLY and changes nothing', () => {
    const dir = fresh('rofile')
    chmodSync(dir, 0o777)
    const file = populated(dir, 100)
    chmodSync(file, 0o444)
    const hash = sha(file)
    const r = run('readonly', file)
    expect(r.open).toEqual({ ok: true })
    expect(r.read).toEqual({ ok: 100 })
    expect(r.write).toMatchObject({ code: 'SQLITE_READONLY', name: 'Error' })
    expect(r.batch).toMatchObject({ code: 'SQLITE_READONLY', name: 'Error' })
    expect(r.integrity).toEqual({ ok: ['ok'] })
    expect(sha(file)).toBe(hash)
  })

  it('a file in a read-only folder, or a new file there, is refused at open', () => {
    const dir = fresh('rodir')
    const file = populated(dir, 100)
    chmodSync(file, 0o444)
    chmodSync(dir, 0o555)
    const hash = sha(file)
    const r = run('readonly', file)
    expect(['SQLITE_READONLY_DIRECTORY', 'SQLITE_READONLY', 'SQLITE_CANTOPEN']).toContain(r.open.code)
    expect(r.open.message).toContain(file)
    expect(sha(file)).toBe(hash)
    const created = run('readonly', join(dir, 'new.sqlite'))
    expect(created.open.code).toBe('SQLITE_CANTOPEN')
    expect(readdirSync(dir)).toEqual(['runs.sqlite'])
  })

  it('a disk that fills up mid-write: the failing batch is SQLITE_FULL or an I/O error and leaves nothing behind', () => {
    const dir = fresh('full')
    chmodSync(dir, 0o777)
    const file = join(dir, 'runs.sqlite')
    // `ulimit -f` counts 1024-byte blocks: the file and its WAL may not grow past 2 MiB
    const r = spawnSync('bash', ['-c', `ulimit -f 2048 && exec "$0" "$@"`, process.execPath, join(pkg, 'child.js'), join(pkg, 'index.js'), 'fill', file], { encoding: 'utf8' })
    expect(r.signal, r.stderr).toBeNull()
    expect(r.status, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(['SQLITE_FULL', 'SQLITE_IOERR_WRITE']).toContain(out.batch.code)
    expect(out.batch.name).toBe('Error')
    expect(['SQLITE_FULL', 'SQLITE_IOERR_WRITE']).toContain(out.single.code)
    expect(out.acked).toBeGreaterThan(5)
    expect(sqlQuery(file, 'PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }])
    const counts = sqlQuery<{ run_id: string; n: number }>(file, 'SELECT run_id, count(*) AS n FROM metrics GROUP BY run_id')
    expect(counts).toHaveLength(out.acked)
    for (const c of counts) {
      expect(c.n).toBe(1000)
      expect(Number(c.run_id.slice(1))).toBeLessThan(out.acked)
    }
    expect(sqlQuery(file, 'SELECT count(*) AS n FROM logs')).toEqual([{ n: 0 }])
    const store = s.openStore(file)
    expect(store.integrityCheck()).toEqual(['ok'])
    store.training.insertLog({ run_id: 'r', text: 'room again' })
    expect(store.training.getLogs('r')).toHaveLength(1)
    store.close()
  })
})
