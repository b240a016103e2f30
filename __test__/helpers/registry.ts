// An npm registry on loopback for install tests: it serves the given package tarballs (one version
// per name, manifests read from the tarballs) and answers 404 to anything else, so npm resolves
// stowage's optional platform packages exactly as it would from the public registry.
import { createHash } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { basename, join } from 'node:path'
import { gunzipSync, gzipSync } from 'node:zlib'

import { tarBytes } from './tar'

export interface Registry {
  /** The registry URL to give npm (`--registry` or `npm_config_registry`). */
  url: string
  close(): Promise<void>
}

/** The `package/package.json` of an npm tarball. */
export function tarballManifest(tgz: string): Record<string, unknown> & { name: string; version: string } {
  const tar = gunzipSync(readFileSync(tgz))
  const field = (at: number, len: number) => tar.toString('utf8', at, at + len).replace(/\0.*$/s, '')
  for (let at = 0; at + 512 <= tar.length && field(at, 100) !== ''; ) {
    const size = parseInt(field(at + 124, 12).trim() || '0', 8)
    if (field(at, 100) === 'package/package.json') return JSON.parse(tar.toString('utf8', at + 512, at + 512 + size))
    at += 512 + Math.ceil(size / 512) * 512
  }
  throw new Error(`${tgz}: no package/package.json`)
}

/** Writes `<dir>/<name>-<version>.tgz` holding `manifest` and `files` (name → content). */
export function writeTarball(dir: string, manifest: { name: string; version: string }, files: Record<string, string>): string {
  const file = join(dir, `${manifest.name}-${manifest.version}.tgz`)
  const entries = [{ name: 'package/package.json', data: JSON.stringify(manifest, null, 2) }]
  for (const [name, data] of Object.entries(files)) entries.push({ name: `package/${name}`, data })
  writeFileSync(file, gzipSync(tarBytes(entries)))
  return file
}

/** Starts a registry serving `tarballs` on 127.0.0.1. */
export async function startRegistry(tarballs: string[]): Promise<Registry> {
  const packuments = new Map<string, object>()
  const files = new Map(tarballs.map((f) => [basename(f), f]))
  const server = createServer((req, res) => {
    const url = decodeURIComponent(req.url ?? '/')
    const tarball = /^\/(?:@[^/]+\/)?[^/]+\/-\/([^/]+\.tgz)$/.exec(url)
    const file = tarball ? files.get(tarball[1]) : undefined
    if (file !== undefined) {
      res.setHeader('content-type', 'application/octet-stream')
      res.end(readFileSync(file))
      return
    }
    const packument = packuments.get(url.slice(1))
    if (packument !== undefined) {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify(packument))
      return
    }
    res.statusCode = 404
    res.setHeader('content-type', 'application/json')
    res.end('{"error":"Not found"}')
  })
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  for (const file of tarballs) {
    const manifest = tarballManifest(file)
    const data = readFileSync(file)
    const dist = {
      tarball: `${url}/${manifest.name}/-/${basename(file)}`,
      integrity: `sha512-${createHash('sha512').update(data).digest('base64')}`,
      shasum: createHash('sha1').update(data).digest('hex'),
    }
    packuments.set(manifest.name, {
      name: manifest.name,
      'dist-tags': { latest: manifest.version },
      versions: { [manifest.version]: { ...manifest, _id: `${manifest.name}@${manifest.version}`, dist } },
    })
  }
  return {
    url,
    close: () => new Promise<void>((done, fail) => server.close((err) => (err ? fail(err) : done()))),
  }
}
