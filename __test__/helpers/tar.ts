// A minimal tar writer for crafting archives in tests, hostile ones included: names, types and
// link targets are written exactly as given.
import { writeFileSync } from 'node:fs'

export interface TarEntry {
  name: string
  /** '0' file (default), '5' folder, '2' symlink, '1' hard link, '6' FIFO. */
  type?: '0' | '1' | '2' | '5' | '6'
  data?: Buffer | string
  link?: string
}

function header(e: TarEntry, size: number): Buffer {
  const h = Buffer.alloc(512, 0)
  h.write(e.name, 0, 100, 'utf8')
  h.write('0000644\0', 100)
  h.write('0000000\0', 108)
  h.write('0000000\0', 116)
  h.write(size.toString(8).padStart(11, '0') + '\0', 124)
  h.write('00000000000\0', 136)
  h.write('        ', 148)
  h.write(e.type ?? '0', 156)
  if (e.link) h.write(e.link, 157, 100, 'utf8')
  h.write('ustar\0', 257)
  h.write('00', 263)
  let sum = 0
  for (const b of h) sum += b
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148)
  return h
}

/** `entries` as a tar archive. */
export function tarBytes(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = []
  for (const e of entries) {
    const data = Buffer.from(e.data ?? '')
    parts.push(header(e, data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512))
  }
  parts.push(Buffer.alloc(1024))
  return Buffer.concat(parts)
}

/** Writes `entries` as a tar file at `path`. */
export function writeTar(path: string, entries: TarEntry[]): void {
  writeFileSync(path, tarBytes(entries))
}
