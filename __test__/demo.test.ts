// The README's main job keeps working: the demo replays, exports, reloads and verifies.
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'

import { tempDir } from './helpers/tmp'

const demo = join(__dirname, '..', 'examples', 'demo.js')
const root = tempDir()

it('runs a short session end to end and verifies the reloaded bundle', () => {
  const dir = join(root, 'demo')
  const r = spawnSync(process.execPath, [demo, '--dir', dir, '--steps', '60'], { encoding: 'utf8' })
  expect(r.stderr).toBe('')
  expect(r.status).toBe(0)
  expect(r.stdout).toContain('all verified')
  expect(r.stdout).toContain('merge1 (parents: fork1, base)')
  // It ends with the loss chart of its three runs, a PNG, and says where it is.
  const chart = join(dir, 'loss.png')
  expect(r.stdout).toMatch(new RegExp(`^chart +${chart.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'))
  expect(readFileSync(chart).subarray(1, 4).toString('latin1')).toBe('PNG')
  const again = spawnSync(process.execPath, [demo, '--dir', dir, '--steps', '60'], { encoding: 'utf8' })
  expect(again.status).toBe(0)
})

it('refuses to clear a folder it did not create', () => {
  const dir = join(root, 'mine')
  mkdirSync(dir)
  writeFileSync(join(dir, 'notes.txt'), 'keep')
  const r = spawnSync(process.execPath, [demo, '--dir', dir], { encoding: 'utf8' })
  expect(r.status).toBe(1)
  expect(r.stderr).toContain('not made by this demo')
})
