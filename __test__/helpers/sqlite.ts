// Raw SQLite access for tests, through Python's sqlite3 module: builds files with the SQL of
// OnTheFly's released versions and reads files back independently of stowage.
import { spawnSync } from 'node:child_process'

const SCRIPT = `
import json, sqlite3, sys
path, mode = sys.argv[1], sys.argv[2]
conn = sqlite3.connect(path, isolation_level=None)
text = sys.stdin.read()
if mode == 'exec':
    conn.executescript(text)
    print('[]')
else:
    cur = conn.execute(text)
    cols = [d[0] for d in cur.description] if cur.description else []
    rows = [dict(zip(cols, [v if not isinstance(v, bytes) else v.hex() for v in r])) for r in cur.fetchall()]
    print(json.dumps(rows))
conn.close()
`

function run(file: string, mode: 'exec' | 'query', sql: string): unknown[] {
  const r = spawnSync('python3', ['-c', SCRIPT, file, mode], { input: sql, encoding: 'utf8', maxBuffer: 1 << 26 })
  if (r.status !== 0) throw new Error(`python3 sqlite3 failed: ${r.stderr}`)
  return JSON.parse(r.stdout)
}

/** Runs a script of SQL statements on `file` (created if missing). */
export function sqlExec(file: string, sql: string): void {
  run(file, 'exec', sql)
}

/** Runs one query on `file` and returns its rows as objects. */
export function sqlQuery<T = Record<string, unknown>>(file: string, sql: string): T[] {
  return run(file, 'query', sql) as T[]
}
