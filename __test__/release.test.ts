// The release build (`npm run build:release`, npm/linux-x64-gnu/stowage.linux-x64-gnu.node): it
// needs glibc 2.17 at most and only the system's base libraries, and it loads and gives the dev
// build's smoke results under every Node of the matrix. Skipped while the file is absent, unless
// STOWAGE_RELEASE=1 (CI), where its absence fails.
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

import { nodeMatrix, runSmoke } from './helpers/nodes'
import { tempDir } from './helpers/tmp'

const release = join(__dirname, '..', 'npm', 'linux-x64-gnu', 'stowage.linux-x64-gnu.node')
const required = process.env.STOWAGE_RELEASE === '1'
const root = tempDir('stowage-release-')

/** The versions of `GLIBC_x.y[.z]` symbol versions in `objdump -T` output, as number arrays. */
function glibcVersions(dump: string): number[][] {
  return [...new Set(dump.match(/\bGLIBC_\d+(\.\d+)+\b/g) ?? [])].map((v) => v.slice(6).split('.').map(Number))
}

/** Compares version arrays (`[2, 17]` < `[2, 17, 1]` < `[2, 18]`). */
function compare(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0)
    if (d !== 0) return d
  }
  return 0
}

describe.skipIf(!required && !existsSync(release))('the release build', () => {
  it('exists', () => {
    expect(existsSync(release)).toBe(true)
  })

  it('needs glibc 2.17 at most', () => {
    const versions = glibcVersions(execFileSync('objdump', ['-T', release], { encoding: 'utf8' }))
    expect(versions.length).toBeGreaterThan(0)
    const newest = versions.sort(compare).at(-1)!
    expect(compare(newest, [2, 17]), `needs GLIBC_${newest.join('.')}`).toBeLessThanOrEqual(0)
  })

  it('links only glibc and libgcc_s', () => {
    const needed = [...execFileSync('objdump', ['-p', release], { encoding: 'utf8' }).matchAll(/NEEDED\s+(\S+)/g)].map((m) => m[1])
    expect(needed).toContain('libc.so.6')
    const base = ['libc.so.6', 'libm.so.6', 'libdl.so.2', 'libpthread.so.0', 'librt.so.1', 'libgcc_s.so.1', 'ld-linux-x86-64.so.2']
    expect(needed.filter((lib) => !base.includes(lib))).toEqual([])
  })

  let devResult: Record<string, unknown> | undefined
  const dev = () => (devResult ??= runSmoke(process.execPath, root).result)
  it(`gives the dev build's smoke results under this Node (${process.version})`, () => {
    expect(runSmoke(process.execPath, root, release).result).toEqual(dev())
  })
  for (const [label, node] of nodeMatrix()) {
    it.skipIf(node === null)(`gives the dev build's smoke results under ${label}`, () => {
      expect(runSmoke(node!, root, release).result).toEqual(dev())
    })
  }
})

describe('glibc version checks', () => {
  it('finds every GLIBC_ version in objdump -T output and orders them numerically', () => {
    const dump = [
      '0000000000000000      DF *UND*  0000000000000000  GLIBC_2.2.5 free',
      '0000000000000000      DF *UND*  0000000000000000 (GLIBC_2.14) memcpy',
      '0000000000000000  w   DF *UND*  0000000000000000  GLIBC_2.3.4 __xpg_strerror_r',
      '0000000000000000      DF *UND*  0000000000000000  GLIBC_PRIVATE _dl_x',
    ].join('\n')
    expect(glibcVersions(dump).sort(compare)).toEqual([[2, 2, 5], [2, 3, 4], [2, 14]])
    expect(compare([2, 17], [2, 9])).toBeGreaterThan(0)
    expect(compare([2, 17, 1], [2, 17])).toBeGreaterThan(0)
  })
})
