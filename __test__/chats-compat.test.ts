// etcode's own files: built here as etcode's Drizzle migrator leaves them (its migration SQL,
// statement by statement, and the `__drizzle_migrations` rows), adopted by stowage; and the
// reverse: a file stowage creates has exactly etcode's schema and ledger.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

import { openStore } from '../index.js'
import { sqlExec, sqlQuery } from './helpers/sqlite'
import { tempDir, thrown } from './helpers/tmp'
import { ETCODE_MIGRATIONS, drizzleHash, writeEtcodeFile } from './helpers/chats'

const root = tempDir('stowage-chats-compat-')
let n = 0
const fresh = () => join(root, `f${++n}.db`)

const MIGRATIONS = ETCODE_MIGRATIONS
const hash = drizzleHash

/** The file etcode's Drizzle migrator leaves after its first `count` migrations, with a session. */
function etcodeFile(count: number): string {
  const file = fresh()
  writeEtcodeFile(file, count)
  return file
}

type Info = Record<string, unknown>
/** Every table's columns, indexes and foreign keys, as SQLite reports them (not its SQL text). */
function schemaOf(file: string) {
  const tables = sqlQuery<{ name: string }>(file, "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'stowage_%' AND name NOT LIKE 'sqlite_%' ORDER BY name")
  return Object.fromEntries(
    tables.map(({ name }) => [
      name,
      {
        columns: sqlQuery<Info>(file, `SELECT * FROM pragma_table_info('${name}')`),
        indexes: sqlQuery<Info>(file, `SELECT name, "unique", origin, partial FROM pragma_index_list('${name}') ORDER BY name`).map((ix) => ({
          ...ix,
          columns: sqlQuery<Info>(file, `SELECT name FROM pragma_index_info('${ix.name}')`).map((c) => c.name),
        })),
        foreignKeys: sqlQuery<Info>(file, `SELECT * FROM pragma_foreign_key_list('${name}')`),
      },
    ]),
  )
}

const ledger = (file: string) => sqlQuery(file, 'SELECT id, hash, created_at FROM __drizzle_migrations ORDER BY rowid')

describe("etcode's migrations", () => {
  it('are the files Drizzle hashed: the hashes etcode files carry', () => {
    expect(hash(MIGRATIONS[0].sql)).toMatch(/^32e827e2.*b951$/)
    expect(hash(MIGRATIONS[1].sql)).toMatch(/^e3b3333e.*24b9$/)
  })
})

describe('adoption', () => {
  it('a file with only the first migration gets the second and its ledger row, rows kept', () => {
    const file = etcodeFile(1)
    const store = openStore(file, { stores: ['chats'] })
    expect(store.chats.getSession('sess_old', 'proj_1')).toMatchObject({ title: 'from etcode', summary: undefined })
    expect(store.chats.listMessages('sess_old')).toEqual([{ id: 'msg_old', sessionID: 'sess_old', role: 'user', content: 'hi', time: { created: 1 } }])
    store.chats.setPermission('proj_1', [])
    store.chats.setSessionSummary('sess_old', { additions: 1, deletions: 2, files: 3 })
    store.close()
    expect(schemaOf(file)).toEqual(schemaOf(etcodeFile(2)))
    expect(ledger(file)).toEqual(MIGRATIONS.map((m) => ({ id: null, hash: hash(m.sql), created_at: m.when })))
  })

  it('a file with both migrations is opened unchanged but for stowage’s own ledger', () => {
    const file = etcodeFile(2)
    const before = schemaOf(file)
    const store = openStore(file, { stores: ['chats'] })
    expect(store.info().schema).toEqual({ chats: 2 })
    store.close()
    expect(schemaOf(file)).toEqual(before)
    expect(ledger(file)).toHaveLength(2)
  })

  it('a file whose Drizzle ledger is ahead of etcode’s (opencode’s own) gets no ledger row', () => {
    const file = etcodeFile(2)
    sqlExec(file, "INSERT INTO __drizzle_migrations (hash, created_at) VALUES ('later', 1778520877000);")
    openStore(file, { stores: ['chats'] }).close()
    expect(ledger(file)).toHaveLength(3)
  })

  it('another program’s session table refuses the file, unchanged', () => {
    const file = fresh()
    sqlExec(file, 'CREATE TABLE session (id TEXT PRIMARY KEY, user TEXT);')
    const before = readFileSync(file)
    const err = thrown(() => openStore(file, { stores: ['chats'] }))
    expect(err.code).toBe('ERR_SCHEMA_CONFLICT')
    expect(readFileSync(file).equals(before)).toBe(true)
  })

  it('a migration that fails is an error, never swallowed, and leaves nothing', () => {
    const file = fresh()
    sqlExec(file, 'CREATE VIEW session AS SELECT 1 AS id, 2 AS project_id, 3 AS directory, 4 AS title, 5 AS time_created, 6 AS time_updated;')
    const err = thrown(() => openStore(file, { stores: ['chats'] }))
    expect(err.code).toBe('SQLITE_ERROR')
    expect(err.message).toContain('migration chats/0001_init')
    expect(sqlQuery(file, "SELECT name FROM sqlite_schema WHERE type = 'table'")).toEqual([])
  })
})

describe('an opencode-shaped file', () => {
  it('opens and reads; its own Drizzle ledger is left alone; a session insert meets its NOT NULL columns', () => {
    const file = fresh()
    sqlExec(
      file,
      `${MIGRATIONS.map((m) => m.sql.replaceAll('--> statement-breakpoint', '')).join(';\n').replace(
        "`time_updated` integer NOT NULL\n);",
        "`time_updated` integer NOT NULL,\n  `slug` text NOT NULL,\n  `version` text NOT NULL\n);",
      )};
      CREATE TABLE project (id text PRIMARY KEY);
      CREATE TABLE "__drizzle_migrations" (id integer PRIMARY KEY, hash text NOT NULL, name text, applied_at text);
      INSERT INTO "__drizzle_migrations" (hash, name, applied_at) VALUES ('', '0001_init', '2026-05-01');
      INSERT INTO session (id, project_id, directory, title, time_created, time_updated, slug, version)
        VALUES ('ses_1', 'proj_1', '/w', 'from opencode', 1, 2, 'calm-fox', '1.15.13');`,
    )
    const store = openStore(file, { stores: ['chats'] })
    expect(store.chats.getSession('ses_1', 'proj_1')).toMatchObject({ title: 'from opencode' })
    expect(thrown(() => store.chats.createSession({ projectID: 'proj_1', directory: '/w' })).code).toBe('SQLITE_CONSTRAINT_NOTNULL')
    store.close()
    expect(sqlQuery(file, 'SELECT hash, name FROM __drizzle_migrations')).toEqual([{ hash: '', name: '0001_init' }])
  })
})

describe('the reverse', () => {
  it('a file stowage creates has exactly etcode’s schema and the ledger Drizzle writes', () => {
    const file = fresh()
    openStore(file, { stores: ['chats'] }).close()
    const theirs = schemaOf(etcodeFile(2))
    expect(schemaOf(file)).toEqual(theirs)
    const rows = ledger(file)
    expect(rows).toEqual(MIGRATIONS.map((m) => ({ id: null, hash: hash(m.sql), created_at: m.when })))
    // Drizzle's migrate() applies the journal entries newer than the newest created_at: none.
    const newest = sqlQuery<{ created_at: number }>(file, 'SELECT created_at FROM __drizzle_migrations ORDER BY created_at DESC LIMIT 1')[0]
    expect(MIGRATIONS.filter((m) => m.when > newest.created_at)).toEqual([])
  })

  it('what stowage writes, etcode’s queries read', () => {
    const file = fresh()
    const store = openStore(file, { stores: ['chats'] })
    const s = store.chats.createSession({ projectID: 'proj_1', directory: '/w', agent: 'build' })
    const m = store.chats.createMessage({ sessionID: s.id, role: 'assistant', agent: 'build' })
    store.chats.createPart({ messageID: m.id, sessionID: s.id, type: 'text', text: 'hello' })
    store.close()
    const [row] = sqlQuery<Info>(file, `SELECT * FROM session WHERE id = '${s.id}'`)
    expect(row).toMatchObject({ project_id: 'proj_1', directory: '/w', title: 'New Session', agent: 'build', summary_additions: 0 })
    const [part] = sqlQuery<{ data: string; session_id: string }>(file, `SELECT data, session_id FROM part WHERE message_id = '${m.id}'`)
    expect(JSON.parse(part.data)).toEqual({ type: 'text', text: 'hello' })
    expect(part.session_id).toBe(s.id)
  })
})
