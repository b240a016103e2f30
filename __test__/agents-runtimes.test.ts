// overstory's factories under the runtimes overstory uses: the smoke cases under Node, and
// under Bun when one is available (STOWAGE_BUN, or `bun` on the PATH; .ci/run installs it).
import { spawnSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'

import { tempDir } from './helpers/tmp'

const root = tempDir('stowage-agents-runtimes-')
const entry = join(__dirname, '..', 'index.js')
const smoke = join(__dirname, 'fixtures', 'agents-smoke.js')

/** The Bun to use: STOWAGE_BUN when set (then it must work), else `bun` if on the PATH. */
function bun(): string | null {
  if (process.env.STOWAGE_BUN) return process.env.STOWAGE_BUN
  return spawnSync('bun', ['--version']).status === 0 ? 'bun' : null
}

function runSmoke(runtime: string, name: string) {
  const dir = join(root, name)
  mkdirSync(dir)
  const r = spawnSync(runtime, [smoke, entry, dir], { encoding: 'utf8' })
  expect(r.stderr).toBe('')
  expect(r.stdout).toBe('ok\n')
  expect(r.status).toBe(0)
}

it('runs the smoke cases under Node', () => runSmoke(process.execPath, 'node'))

it.skipIf(bun() === null)('runs the smoke cases under Bun', () => runSmoke(bun()!, 'bun'))
