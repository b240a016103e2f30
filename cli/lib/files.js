// Opening store files for the CLI: read commands open the file read-only, or, when that cannot
// work (another process has it open, or its stores need migrating first), a private copy, so the
// file itself is never modified, not even one that stowage would adopt or migrate on opening.

import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { CliError } from './output.js'

const require = createRequire(import.meta.url)

/** The stowage library: the installed package, or this repository's checkout when the CLI runs
 * from it (the repository's `cli/` folder has no `node_modules/stowage` of its own). */
function loadLibrary() {
  try {
    return require('stowage')
  } catch (err) {
    const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..')
    const own = path.join(repo, 'package.json')
    if (err?.code === 'MODULE_NOT_FOUND' && /'stowage'/.test(err.message) && fs.existsSync(own) && JSON.parse(fs.readFileSync(own, 'utf8')).name === 'stowage') {
      return require(repo)
    }
    throw err
  }
}

export const stowage = loadLibrary()

/** The stores this build knows, with the tables each owns. */
export const KNOWN = stowage.knownStores()

/** Checks that `file` is an existing regular file. */
export function existingFile(file) {
  let st
  try {
    st = fs.statSync(file)
  } catch (err) {
    throw new CliError(err.code ?? 'ENOENT', `${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`)
  }
  if (!st.isFile()) throw new CliError('ERR_INVALID_ARG', `${file} is not a file`)
  return path.resolve(file)
}

/** Sizes of the file and of its `-wal`, and the journal mode its header records. */
export function fileFacts(file) {
  const size = fs.statSync(file).size
  let walSize = 0
  try {
    walSize = fs.statSync(`${file}-wal`).size
  } catch {
    walSize = 0
  }
  const header = Buffer.alloc(20)
  const fd = fs.openSync(file, 'r')
  try {
    fs.readSync(fd, header, 0, 20, 0)
  } finally {
    fs.closeSync(fd)
  }
  // Bytes 18 and 19 of SQLite's header: 1 for a rollback journal, 2 for WAL.
  const journalMode = header.toString('latin1', 0, 16) !== 'SQLite format 3\0' ? 'unknown' : header[18] === 2 ? 'wal' : 'rollback'
  return { size, walSize, journalMode }
}

/**
 * Runs `work(copyPath)` on a private copy of `file` (with its `-wal`, whose committed frames are
 * part of the database, or a crashed writer's `-journal`), then removes the copy. The original is only ever read. A file that a
 * process is writing at this moment may be copied mid-transaction; for a live file, `stowage
 * backup` gives a consistent copy.
 */
export async function withCopy(file, work) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-cli-'))
  const copy = path.join(dir, path.basename(file))
  try {
    fs.copyFileSync(file, copy)
    // A `-journal` left by a crashed writer is rolled back in the copy, as SQLite would.
    for (const side of ['-wal', '-journal']) {
      if (fs.existsSync(file + side)) fs.copyFileSync(file + side, copy + side)
    }
    return await work(copy)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** The tables of an open store file, by name. */
export function tablesOf(store) {
  return store
    .query("SELECT name, type FROM sqlite_schema WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name")
    .map((r) => r.name)
}

/**
 * The known stores the file holds. The stores its stowage ledger names come first; the others
 * are told from the tables (a file OnTheFly, overstory, AIT42 or etcode wrote has no ledger to
 * ask): the store with the most of its tables present is taken, then the next that shares no
 * present table with one taken, and so on, since stores that declare a common table (training's
 * and agents' `runs`, agents' and worktrees' `sessions`) cannot share a file.
 */
export function detectStores(tables, ledger = []) {
  const have = new Set(tables.map((t) => t.toLowerCase()))
  const present = (s) => s.tables.filter((t) => have.has(t.toLowerCase())).map((t) => t.toLowerCase())
  const taken = KNOWN.filter((s) => ledger.includes(s.name))
  const candidates = KNOWN.filter((s) => !taken.includes(s) && present(s).length)
    .map((s, order) => ({ s, order, n: present(s).length, share: present(s).length / s.tables.length }))
    .sort((a, b) => b.n - a.n || b.share - a.share || a.order - b.order)
  for (const { s } of candidates) {
    if (!taken.some((t) => present(t).some((name) => present(s).includes(name)))) taken.push(s)
  }
  return KNOWN.filter((s) => taken.includes(s)).map((s) => s.name)
}

/** The stores a file's stowage ledger records (none for a file stowage never opened). */
export function ledgerStores(store, tables) {
  if (!tables.includes('stowage_migrations')) return []
  return store.query('SELECT DISTINCT store FROM stowage_migrations').map((r) => r.store)
}

/** The stores of an open file, from its ledger and its tables. */
export function storesOf(store) {
  const tables = tablesOf(store)
  return detectStores(tables, ledgerStores(store, tables))
}

/**
 * Runs `work(path, readOnly)` on the file itself opened read-only when it can be (no connection
 * has it open, so there is no `-wal` beside it, and `work` needs no migration or write: nothing is
 * copied, nothing written), and otherwise on a private copy ([`withCopy`]).
 */
async function readSafely(file, work) {
  try {
    return await work(file, true)
  } catch (err) {
    if (err?.code !== 'ERR_READ_ONLY' && err?.code !== 'SQLITE_READONLY') throw err
  }
  return withCopy(file, (copy) => work(copy, false))
}

/** Opens `path` (read-only or not) without any store, runs `work(store)`, closes it. */
async function bare(path, readOnly, work) {
  const store = stowage.openStore(path, { stores: [], readOnly })
  try {
    return await work(store)
  } finally {
    store.close()
  }
}

/** Runs `work(store)` on the file as it is, opened without any store (its ledger unread). */
export function readBare(file, work) {
  return readSafely(existingFile(file), (path, readOnly) => bare(path, readOnly, work))
}

/** Runs `work(store, stores)` on the file opened with every store it holds, read-only. */
export function readStores(file, work) {
  return readSafely(existingFile(file), async (path, readOnly) => {
    const names = await bare(path, readOnly, storesOf)
    const store = stowage.openStore(path, { stores: names, readOnly })
    try {
      return await work(store, names)
    } finally {
      store.close()
    }
  })
}

/** `readStores`, for a command that needs the store `name`. */
export function readStore(file, name, work) {
  return readStores(file, (store, names) => {
    if (!names.includes(name)) {
      throw new CliError('ERR_STORE_ABSENT', `${file} holds no ${name} store (it holds: ${names.join(', ') || 'none of stowage\'s stores'})`)
    }
    return work(store)
  })
}
