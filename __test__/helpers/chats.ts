// etcode's files for the chats store's tests: its migrations and Drizzle's ledger as its
// migrator writes them.
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

import { sqlExec } from './sqlite'

// etcode's migrations (packages/etcode/migration at d1504ac), kept byte for byte in the store's
// migrations folder, and the `when` of each in its meta/_journal.json.
export const ETCODE_MIGRATIONS = [
  { sql: readFileSync(join(__dirname, '../../crates/core/migrations/chats/0001_init.sql'), 'utf8'), when: 1740614400000 },
  { sql: readFileSync(join(__dirname, '../../crates/core/migrations/chats/0002_permission_summary.sql'), 'utf8'), when: 1740700800000 },
]
/** Drizzle's ledger hash of a migration: SHA-256 of its SQL file. */
export const drizzleHash = (sql: string) => createHash('sha256').update(sql).digest('hex')
/** The ledger table Drizzle's SQLite migrator creates. */
export const DRIZZLE_DDL = 'CREATE TABLE IF NOT EXISTS "__drizzle_migrations" (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric);'

/** Writes at `file` what etcode's Drizzle migrator leaves after its first `count` migrations,
 * with a session and a message. */
export function writeEtcodeFile(file: string, count: number): void {
  const applied = ETCODE_MIGRATIONS.slice(0, count)
  sqlExec(
    file,
    [
      DRIZZLE_DDL,
      'BEGIN;',
      ...applied.flatMap((m) => [...m.sql.split('--> statement-breakpoint').map((s) => `${s.trim()};`), `INSERT INTO "__drizzle_migrations" ("hash", "created_at") VALUES ('${drizzleHash(m.sql)}', '${m.when}');`]),
      "INSERT INTO session (id, project_id, directory, title, time_created, time_updated) VALUES ('sess_old', 'proj_1', '/w', 'from etcode', 1, 2);",
      "INSERT INTO message (id, session_id, time_created, time_updated, data) VALUES ('msg_old', 'sess_old', 1, 1, '{\"role\":\"user\",\"content\":\"hi\",\"time\":{\"created\":1}}');",
      'COMMIT;',
    ].join('\n'),
  )
}
