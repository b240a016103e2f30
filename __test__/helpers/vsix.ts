// examples/vscode-extension built from this tree as it ships: stowage packed as published
// (scripts/pack.js) and served, with stand-ins for the seven other platform packages, by an npm
// registry on loopback; the example installed from it and packaged by `vsce package --target`.
// The example is built in target/tmp so that its build tools resolve to the repository's
// devDependencies, which pin the same versions as the example.
import { execFile } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'

import { startRegistry, writeTarball } from './registry'

const { pack } = require('../../scripts/pack.js') as { pack: (out: string) => { root: string; platform: string; binary: string } }

const repo = join(__dirname, '..', '..')
export const example = join(repo, 'examples', 'vscode-extension')
const execFileAsync = promisify(execFile)

export interface ExampleBuild {
  /** The folder everything is built in; `close()` removes it. */
  scratch: string
  /** The example's copy, with stowage installed from the registry. */
  ext: string
  /** The tarballs the registry serves. */
  packages: string
  /** The stowage binary that went into the platform package. */
  binary: string
  /** Runs npm in the example's copy against the loopback registry. */
  npm(args: string[]): Promise<string>
  /** `npm run vsix` (vsce package, whose prepublish type-checks and bundles) for `target`. */
  packageVsix(target: string): Promise<string>
  close(): Promise<void>
}

/** Packs stowage, starts the registry and installs the example from it into a new folder of
 * target/tmp named after `prefix`. */
export async function buildExample(prefix: string): Promise<ExampleBuild> {
  mkdirSync(join(repo, 'target', 'tmp'), { recursive: true })
  const scratch = mkdtempSync(join(repo, 'target', 'tmp', prefix))
  const packages = join(scratch, 'packages')
  const packed = pack(packages)
  const others = readdirSync(join(repo, 'npm'))
    .filter((dir) => dir !== 'linux-x64-gnu')
    .map((dir) => {
      const manifest = JSON.parse(readFileSync(join(repo, 'npm', dir, 'package.json'), 'utf8'))
      return writeTarball(packages, manifest, { [manifest.main]: `stand-in binary of ${manifest.name}` })
    })
  const registry = await startRegistry([packed.root, packed.platform, ...others])
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)))
  Object.assign(env, {
    npm_config_registry: registry.url,
    npm_config_cache: join(scratch, 'npm-cache'),
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
  })

  const ext = join(scratch, 'ext')
  // Without blocking the registry's event loop.
  async function npm(args: string[]): Promise<string> {
    try {
      return (await execFileAsync('npm', args, { cwd: ext, env, maxBuffer: 64 << 20 })).stdout
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string }
      throw new Error(`npm ${args.join(' ')} failed:\n${e.stdout}\n${e.stderr}`)
    }
  }
  async function packageVsix(target: string): Promise<string> {
    const out = join(scratch, `${target}.vsix`)
    await npm(['run', 'vsix', '--', '--target', target, '--out', out])
    return out
  }
  async function close(): Promise<void> {
    await registry.close()
    rmSync(scratch, { recursive: true, force: true })
  }

  try {
    cpSync(example, ext, { recursive: true, filter: (src) => !/[\\/](node_modules|dist|vsix|package-lock\.json)$|\.vsix$/.test(src) })
    const manifest = JSON.parse(readFileSync(join(ext, 'package.json'), 'utf8'))
    delete manifest.devDependencies
    writeFileSync(join(ext, 'package.json'), JSON.stringify(manifest, null, 2))
    await npm(['install'])
  } catch (err) {
    await close()
    throw err
  }
  return { scratch, ext, packages, binary: packed.binary, npm, packageVsix, close }
}
