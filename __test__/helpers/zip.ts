// Zip archives (VSIX files) read through Python's zipfile module, which every machine that runs
// the tests has (see README: python3).
import { spawnSync } from 'node:child_process'

const SCRIPT = `
import json, sys, zipfile
archive = zipfile.ZipFile(sys.argv[1])
if len(sys.argv) > 2:
    archive.extractall(sys.argv[2])
print(json.dumps(archive.namelist()))
`

function run(args: string[]): string[] {
  const r = spawnSync('python3', ['-c', SCRIPT, ...args], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`python3 zipfile failed: ${r.stderr}`)
  return JSON.parse(r.stdout)
}

/** The names of the entries of the zip file `file`. */
export function zipEntries(file: string): string[] {
  return run([file])
}

/** Extracts the zip file `file` into `dir`; returns its entries' names. */
export function unzip(file: string, dir: string): string[] {
  return run([file, dir])
}
