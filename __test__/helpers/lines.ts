import type { Readable } from 'node:stream'

/** Calls `onLine` with each whole line `stream` delivers, in order. */
export function eachLine(stream: Readable, onLine: (line: string) => void): void {
  let buffered = ''
  stream.setEncoding('utf8')
  stream.on('data', (d: string) => {
    buffered += d
    for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl)
      buffered = buffered.slice(nl + 1)
      onLine(line)
    }
  })
}
