// The kill harness (stress/kill.js): a child streaming drop-in writes, migrating a legacy file or
// exporting a bundle is SIGKILLed; every acknowledged row survives, batches and migrations are
// all-or-nothing, bundles whole or absent, and integrity_check stays ok. Stream kills come after
// a chosen number of acknowledged calls or at a batch; migration kills land mid-transaction or
// after the commit, as the harness sees in the WAL while the child is stopped. STOWAGE_KILL_ROUNDS
// sets the number of rounds (default 200; RELIABILITY.md records 1,000), STOWAGE_KILL_SEED the seed.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { expect, it } from 'vitest'

const ROUNDS = Number(process.env.STOWAGE_KILL_ROUNDS || 200)
const SEED = Number(process.env.STOWAGE_KILL_SEED || Date.now() % 100_000)

/** Runs the harness asynchronously: a blocking spawnSync would starve vitest's worker RPC. */
function harness(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [join(__dirname, '..', 'stress', 'kill.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (d) => (stdout += d))
    p.stderr.on('data', (d) => (stderr += d))
    p.on('error', reject)
    p.on('close', (status) => resolve({ status, stdout, stderr }))
  })
}

it(`survives ${ROUNDS} rounds of SIGKILL (seed ${SEED})`, async () => {
  const r = await harness(['--kills', String(ROUNDS), '--seed', String(SEED)])
  expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0)
  const summary = JSON.parse(r.stdout)
  expect(summary.failures).toEqual([])
  expect(summary.rounds).toBe(ROUNDS)
  const { stream, migrate, export: exp } = summary
  expect(stream.rounds + migrate.rounds + exp.rounds).toBe(ROUNDS)
  // The stream child never stops by itself: every stream round is a kill mid-stream, and every
  // fourth is killed once its first batch is acknowledged (which must then be whole).
  expect(stream.killed).toBe(stream.rounds)
  if (stream.rounds >= 4) expect(stream.batchesWhole).toBeGreaterThan(0)
  // Migrate rounds alternate: killed with the transaction's frames in the WAL but no commit
  // (the file must be untouched), and killed after the commit (migrated).
  expect(migrate.midTransaction).toBe(Math.ceil(migrate.rounds / 2))
  expect(migrate.untouched).toBe(migrate.midTransaction)
  expect(migrate.afterCommit).toBeGreaterThanOrEqual(Math.floor(migrate.rounds / 2))
}, 3_600_000)
