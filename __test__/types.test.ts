// index.d.ts against code shaped like OnTheFly's extension (with an MLflow sync), compiled with
// `tsc --strict`.
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { expect, it } from 'vitest'

it('the extension- and overstory-shaped fixtures type-check against index.d.ts', () => {
  const tsc = join(__dirname, '..', 'node_modules', 'typescript', 'bin', 'tsc')
  const r = spawnSync(process.execPath, [tsc, '-p', join(__dirname, 'fixtures', 'extension', 'tsconfig.json')], { encoding: 'utf8' })
  expect(r.stdout + r.stderr).toBe('')
  expect(r.status).toBe(0)
})
