// Files AIT42 and stowage exchange, both ways: a file built with AIT42's own migration SQL and
// the `_sqlx_migrations` row sqlx writes is adopted with its rows; a file stowage creates
// passes an independent check (Python's sqlite3) of AIT42's schema and of sqlx's ledger.
// __test__/fixtures/ait42/20250113_001_initial_schema.sql is AIT42's migration byte for byte
// (RenTonoduka/AIT42-Editor at f409f90, crates/ait42-session/migrations, MIT).
import { copyFileSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

import { openStore, workspaceHash } from '../index.js'
import { sqlExec, sqlQuery } from './helpers/sqlite'
import { tempDir, thrown } from './helpers/tmp'
import { AIT42_CHECKSUM, AIT42_MIGRATION, SQLX_LEDGER, instance, message, session, writeAit42File } from './helpers/worktrees'

const root = tempDir('stowage-worktrees-compat-')
let n = 0
const file = () => join(root, `f${++n}.db`)
const WS = '/home/dev/projects/editor'
const HASH = workspaceHash(WS)
const MIGRATION = AIT42_MIGRATION
const CHECKSUM = AIT42_CHECKSUM

/** A file as AIT42's crate leaves it ([`writeAit42File`]). */
function ait42File(): string {
  const path = file()
  writeAit42File(path, HASH)
  return path
}

const SQLX_ROW = `SELECT version, description, success, hex(checksum) AS checksum FROM _sqlx_migrations`

describe('a file AIT42 created', () => {
  it('the fixture is AIT42\'s migration: its SHA-384 is the checksum stowage writes', () => {
    expect(CHECKSUM).toBe('26e41e2cc0070785a900c3b9711e2e6b0c253f7dd1aa7341a8ed73835f729ad5179b7bd274617f09162bb7632d23b05c')
  })

  it('is adopted with every row, read in AIT42\'s shapes, and its sqlx ledger kept as it was', () => {
    const path = ait42File()
    const ledger = sqlQuery(path, 'SELECT * FROM _sqlx_migrations')
    const store = openStore(path, { stores: ['worktrees'] })
    expect(store.info().schema).toEqual({ worktrees: 1 })
    const all = store.worktrees.getAllSessions(WS)
    expect(all.map((s) => s.id)).toEqual(['new', 'old'])
    const old = all[1]
    expect(old).toMatchObject({ updatedAt: '2025-01-13 22:28:40', preserveWorktrees: true, runtimeMix: ['claude', 'codex'], winnerId: 1 })
    expect(all[0]).toMatchObject({ createdAt: '2025-01-14T00:00:00.123456789+00:00', preserveWorktrees: null, runtimeMix: null })
    expect(old.instances.map((i) => [i.instanceId, i.sessionId, i.output])).toEqual([[0, 'old', null], [1, 'old', 'done']])
    expect(old.chatHistory.map((m) => m.id)).toEqual(['m1', 'm2'])
    store.worktrees.updateSession(WS, { ...session('new'), status: 'completed', instances: [instance(0)] })
    store.worktrees.addChatMessage('old', message('m3', '2025-01-15T00:00:00.000Z'))
    expect(store.integrityCheck()).toEqual(['ok'])
    store.close()
    expect(sqlQuery(path, 'SELECT * FROM _sqlx_migrations')).toEqual(ledger)
    expect(sqlQuery(path, "SELECT path FROM workspaces")).toEqual([{ path: HASH }])
    expect(sqlQuery(path, 'SELECT count(*) AS n FROM stowage_migrations')).toEqual([{ n: 1 }])
  })

  it('with its ledger emptied or its checksum changed is refused, unchanged', () => {
    for (const edit of ['DELETE FROM _sqlx_migrations', "UPDATE _sqlx_migrations SET checksum = X'00'", 'DROP TABLE _sqlx_migrations']) {
      const path = ait42File()
      sqlExec(path, edit)
      const before = readFileSync(path)
      expect(thrown(() => openStore(path, { stores: ['worktrees'] })).code).toBe('ERR_SCHEMA_CONFLICT')
      expect(readFileSync(path).equals(before)).toBe(true)
    }
  })
})

/** The schema of a file as text to compare: each table's and index's CREATE statement without
 * comments, `IF NOT EXISTS` and layout, with the columns, foreign keys and index columns. */
const SCHEMA = `
SELECT m.type, m.name, m.tbl_name, m.sql,
  (SELECT group_concat(c.name || ' ' || c.type || ' ' || c."notnull" || ' ' || coalesce(c.dflt_value, '-') || ' ' || c.pk, '; ')
     FROM pragma_table_info(m.name) c WHERE m.type = 'table') AS columns,
  (SELECT group_concat(f."from" || '>' || f."table" || '.' || f."to" || ' ' || f.on_delete, '; ')
     FROM pragma_foreign_key_list(m.name) f WHERE m.type = 'table') AS fks,
  (SELECT group_concat(x.name || ' ' || x."desc", '; ') FROM pragma_index_xinfo(m.name) x
     WHERE m.type = 'index' AND x.key) AS index_columns
FROM sqlite_schema m
WHERE m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE 'stowage_%' ORDER BY m.type, m.name`

const squash = (sql: unknown) =>
  String(sql).replace(/--[^\n]*/g, ' ').replace(/\s+/g, ' ').replace(/\( /g, '(').replace(/ \)/g, ')').replace(/ ,/g, ',').trim()

describe('a file stowage created', () => {
  const path = file()
  const store = openStore(path, { stores: ['worktrees'] })
  store.worktrees.createSession(WS, session('s', { runtimeMix: ['claude'], preserveWorktrees: true, instances: [instance(0)], chatHistory: [message('m', '2025-01-13T10:00:00.000Z')] }))
  store.worktrees.addChatMessage('s', message('m2', '2025-01-13T10:00:01.000Z'))
  store.close()
  const copy = join(root, 'independent.db')
  copyFileSync(path, copy)

  it('has exactly AIT42\'s tables, columns, CHECKs, foreign keys and indexes', () => {
    const reference = file()
    sqlExec(reference, `${MIGRATION.toString('utf8')}\n${SQLX_LEDGER}`)
    const shape = (p: string) => sqlQuery<Record<string, unknown>>(p, SCHEMA).map((r) => ({ ...r, sql: squash(r.sql) }))
    expect(shape(copy)).toEqual(shape(reference))
  })

  it('carries the _sqlx_migrations row AIT42\'s migrator writes, so it would not run its migration again', () => {
    expect(sqlQuery(copy, SQLX_ROW)).toEqual([{ version: 20250113, description: '001 initial schema', success: 1, checksum: CHECKSUM.toUpperCase() }])
    // sqlx's open: every migration file whose version has a row must match its checksum, and
    // only versions without a row are applied; AIT42's one file is applied already.
    const applied = new Map(sqlQuery<{ version: number; checksum: string }>(copy, 'SELECT version, hex(checksum) AS checksum FROM _sqlx_migrations WHERE success').map((r) => [r.version, r.checksum]))
    expect(applied.get(20250113)).toBe(CHECKSUM.toUpperCase())
    // ...which matters: AIT42's CREATE INDEX statements have no IF NOT EXISTS.
    expect(() => sqlExec(copy, MIGRATION.toString('utf8'))).toThrow(/already exists/)
    expect(sqlQuery(copy, 'SELECT id, schema_version, migration_status FROM migration_metadata')).toEqual([{ id: 1, schema_version: 1, migration_status: 'pending' }])
  })

  it('holds rows AIT42\'s queries read as AIT42 wrote them', () => {
    const [s] = sqlQuery<Record<string, unknown>>(copy, `SELECT * FROM sessions WHERE workspace_hash = '${HASH}' AND id = 's'`)
    expect(s).toMatchObject({ session_type: 'competition', preserve_worktrees: 1, runtime_mix: '["claude"]', created_at: '2025-01-13T10:00:00.000Z' })
    expect(String(s.updated_at)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    expect(sqlQuery(copy, "SELECT instance_id, status FROM instances WHERE session_id = 's' ORDER BY instance_id ASC")).toEqual([{ instance_id: 0, status: 'running' }])
    expect(sqlQuery(copy, "SELECT id FROM chat_messages WHERE session_id = 's' ORDER BY timestamp ASC")).toEqual([{ id: 'm' }, { id: 'm2' }])
    expect(sqlQuery(copy, 'SELECT hash, path FROM workspaces')).toEqual([{ hash: HASH, path: WS }])
    expect(sqlQuery(copy, 'PRAGMA journal_mode')).toEqual([{ journal_mode: 'wal' }])
  })
})
