// What the CLI prints: tables for people, JSON/CSV/NDJSON for scripts, one-line errors with the
// stable code, and progress on long work.

import fs from 'node:fs'

/** An error the CLI reports as `stowage: <code>: <message>`. `usage` errors exit with 2. */
export class CliError extends Error {
  constructor(code, message, { usage = false } = {}) {
    super(message)
    this.code = code
    this.usage = usage
  }
}

/** A value as a table cell. */
function cell(v) {
  if (v === null || v === undefined) return ''
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : formatNumber(v)
  if (Array.isArray(v)) return v.join(',')
  if (typeof v === 'object') return JSON.stringify(v)
  return String(v)
}

/** A number with at most 6 significant digits, for people (CSV and JSON keep every digit). */
export function formatNumber(x) {
  if (!Number.isFinite(x)) return String(x)
  return Number.parseFloat(x.toPrecision(6)).toString()
}

/** A time in milliseconds since the epoch as `YYYY-MM-DD HH:MM:SS` (UTC). */
export function formatTime(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return ''
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19)
}

/** Bytes for people. */
export function formatBytes(n) {
  if (n < 1024) return `${n} B`
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KiB`
  if (n < 1 << 30) return `${(n / (1 << 20)).toFixed(1)} MiB`
  return `${(n / (1 << 30)).toFixed(2)} GiB`
}

/** Rows (objects) as an aligned text table with the given columns. */
export function table(rows, columns) {
  const cells = rows.map((r) => columns.map((c) => cell(r[c])))
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i].length)))
  const line = (values) => values.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd()
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n') + '\n'
}

/** JSON text of a value (BigInts as decimal strings, which JSON has no other way to hold). */
export function json(value) {
  return JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n'
}

/** A CSV field (RFC 4180 quoting). Numbers keep every digit, so the CSV round-trips. */
function csvField(v) {
  if (v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v))) return ''
  const s = String(v)
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

/** Rows as CSV with a header line. */
export function csv(rows, columns) {
  return [columns.join(','), ...rows.map((r) => columns.map((c) => csvField(r[c])).join(','))].join('\n') + '\n'
}

/** Rows as newline-delimited JSON. */
export function ndjson(rows) {
  return rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : '')
}

/** Writes `text` to `out` (a file path) or to standard output. */
export function emit(text, out) {
  if (out) fs.writeFileSync(out, text)
  else process.stdout.write(text)
}

/**
 * Progress on standard error: a bar with bytes and ETA, redrawn in place, on a terminal; one
 * plain line per phase (and per tenth of the work) otherwise, so logs stay readable.
 */
export function progress(label, { tty = process.stderr.isTTY } = {}) {
  const started = Date.now()
  let lastPhase = null
  let lastTenth = -1
  let drawn = false
  return {
    update({ phase, bytesDone = 0, bytesTotal = 0 }) {
      const frac = bytesTotal > 0 ? Math.min(1, bytesDone / bytesTotal) : 0
      if (tty) {
        const width = 24
        const full = Math.round(frac * width)
        const elapsed = (Date.now() - started) / 1000
        const eta = frac > 0 && frac < 1 ? ` ETA ${Math.ceil((elapsed / frac) * (1 - frac))} s` : ''
        const bar = `${'#'.repeat(full)}${'.'.repeat(width - full)}`
        process.stderr.write(`\r${label} ${phase.padEnd(12)} [${bar}] ${String(Math.round(frac * 100)).padStart(3)}% ${formatBytes(bytesDone)}/${formatBytes(bytesTotal)}${eta}\x1b[K`)
        drawn = true
        return
      }
      const tenth = Math.floor(frac * 10)
      if (phase !== lastPhase || tenth > lastTenth) {
        process.stderr.write(`${label}: ${phase} ${Math.round(frac * 100)}% (${formatBytes(bytesDone)} of ${formatBytes(bytesTotal)})\n`)
        lastPhase = phase
        lastTenth = tenth
      }
    },
    done() {
      if (drawn) process.stderr.write('\n')
    },
  }
}
