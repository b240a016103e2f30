// An extension bundled with esbuild (what VS Code's extension generator uses) loads stowage's
// binary at run time: with stowage external and shipped in node_modules, or bundled in with the
// binary copied beside the bundle (`loader: { '.node': 'copy' }`). See docs/bundlers.md.
import { buildSync, type BuildOptions } from 'esbuild'
import { cpSync, mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, expect, it } from 'vitest'

import { nodeJson, packed, platform, project } from './helpers/install'
import { tempDir } from './helpers/tmp'

const work = tempDir('stowage-bundlers-')
const binary = `stowage.${platform}.node`
let app: string

/** The options of VS Code's generated esbuild.js, production build. */
const extensionBuild = (outdir: string, more: BuildOptions): BuildOptions => ({
  absWorkingDir: app,
  entryPoints: ['src/extension.ts'],
  bundle: true,
  format: 'cjs',
  minify: true,
  platform: 'node',
  outdir,
  external: ['vscode'],
  logLevel: 'silent',
  ...more,
})

beforeAll(async () => {
  const tarballs = packed(work)
  app = await project(work, 'app', [tarballs.root, tarballs.platform])
  mkdirSync(join(app, 'src'))
  cpSync(join(__dirname, 'fixtures', 'bundlers', 'extension.ts'), join(app, 'src', 'extension.ts'))
})

it("with external: ['stowage'], the bundle loads stowage and its binary from node_modules", () => {
  const dist = join(app, 'dist-external')
  buildSync(extensionBuild(dist, { external: ['vscode', 'stowage'] }))
  expect(readdirSync(dist)).toEqual(['extension.js'])
  const bundle = readFileSync(join(dist, 'extension.js'), 'utf8')
  expect(bundle).toContain('require("stowage")')
  expect(bundle).not.toContain('NAPI_RS_NATIVE_LIBRARY_PATH')
  expect(nodeJson(app, [join(dist, 'extension.js'), join(work, 'data-external')])).toEqual({
    runs: ['run-1'],
    rows: [[1, 0.5]],
    binaries: [join(app, 'node_modules', `stowage-${platform}`, binary)],
  })
})

it("bundled in with loader: { '.node': 'copy' }, the bundle and the copied binary run without node_modules", () => {
  const dist = join(app, 'dist-bundled')
  buildSync(extensionBuild(dist, { loader: { '.node': 'copy' } }))
  const copied = readdirSync(dist).filter((f) => f.endsWith('.node'))
  expect(copied).toHaveLength(1)
  expect(copied[0]).toMatch(new RegExp(`^stowage\\.${platform}-[A-Z0-9]+\\.node$`))
  const shipped = join(work, 'shipped')
  cpSync(dist, join(shipped, 'dist'), { recursive: true })
  expect(nodeJson(shipped, [join(shipped, 'dist', 'extension.js'), join(work, 'data-bundled')])).toEqual({
    runs: ['run-1'],
    rows: [[1, 0.5]],
    binaries: [join(shipped, 'dist', copied[0])],
  })
})

it('bundled in without a loader for .node files, esbuild refuses to build', () => {
  expect(() => buildSync(extensionBuild(join(app, 'dist-refused'), {}))).toThrow(
    `No loader is configured for ".node" files: node_modules/stowage-${platform}/${binary}`,
  )
})
