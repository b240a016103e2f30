// The commands of `stowage`. Read commands work on a private copy of the file (files.js), so
// they never modify it; write commands (load, import, vacuum) say what they change first.

import fs from 'node:fs'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { KNOWN, detectStores, existingFile, fileFacts, ledgerStores, readBare, readStore, readStores, stowage, storesOf, tablesOf } from './files.js'
import { CliError, csv, emit, formatBytes, formatNumber, formatTime, json, ndjson, progress, table } from './output.js'
import { chartData, renderPng, renderSvg, renderTerm } from './plot.js'
import { SESSION_STORES } from './stores/index.js'

const METRICS = ['epoch', 'loss', 'val_loss', 'accuracy', 'lr', 'grad_norm', 'weight_norm', 'activation_zero_frac', 'throughput', 'mem_vram', 'gpu_util']

const JSON_OPT = { json: { type: 'boolean', help: 'print JSON instead of a table' } }

const STEP_RANGE = {
  from: { type: 'string', help: 'first step' },
  to: { type: 'string', help: 'last step' },
}

/** Every command: its arguments, options, help line and implementation. */
const COMMANDS = {
  info: {
    args: ['file'],
    options: { ...JSON_OPT, check: { type: 'boolean', help: "also run SQLite's quick_check" } },
    help: 'which stores the file hosts, schema versions, journal mode, sizes, rows per table',
    run: info,
  },
  runs: { args: ['file'], options: JSON_OPT, help: 'training runs with parents, steps, last and best losses', run: runs },
  metrics: {
    args: ['file', 'run'],
    options: {
      metrics: { type: 'string', help: 'comma-separated metric names (default: every metric)' },
      ...STEP_RANGE,
      format: { type: 'string', help: 'csv (default), json or ndjson' },
      out: { type: 'string', help: 'write to this file instead of standard output' },
    },
    help: "a run's metric rows as CSV, JSON or NDJSON",
    run: metrics,
  },
  logs: {
    args: ['file', 'run'],
    options: { ...JSON_OPT, phase: { type: 'string', help: 'only this phase (train, test, …)' } },
    help: "a run's log lines",
    run: logs,
  },
  plot: {
    args: ['file', 'run...'],
    options: {
      metric: { type: 'string', help: 'comma-separated metrics, one panel each (default: loss)' },
      out: { type: 'string', help: 'chart.svg or chart.png (default: chart.svg)' },
      ...STEP_RANGE,
      'log-y': { type: 'boolean', help: 'logarithmic y axis' },
      width: { type: 'string', help: 'pixels (default 960), or characters with --term' },
      height: { type: 'string', help: 'pixels (default 540), or rows per panel with --term' },
      term: { type: 'boolean', help: 'draw in the terminal instead of writing a file' },
    },
    help: 'line charts of metrics with min/max envelopes, runs overlaid, forks and merges marked',
    run: plot,
  },
  sessions: {
    args: ['file'],
    options: { ...JSON_OPT, state: { type: 'string', help: 'only sessions in this state' } },
    help: 'the sessions of every session store in the file',
    run: sessions,
  },
  show: { args: ['file', 'session'], options: JSON_OPT, help: 'one session, whole', run: show },
  search: { args: ['file', 'query'], options: JSON_OPT, help: 'full-text search, in stores that have it', run: search },
  export: {
    args: ['file', 'dir'],
    options: { tar: { type: 'boolean', help: 'also write <dir>.tar' } },
    help: 'export the training store as a bundle folder (with progress)',
    run: exportBundle,
  },
  load: { args: ['bundle', 'file'], options: {}, help: "replace the file's training tables with a bundle's (writes)", run: load },
  backup: {
    args: ['file', 'dest'],
    options: {
      gzip: { type: 'boolean', help: 'write the copy gzipped (restoreFrom reads it as it is)' },
      'no-verify': { type: 'boolean', help: "skip SQLite's integrity_check of the copy" },
    },
    help: 'a consistent single-file copy of the file, checked (with progress)',
    run: backup,
  },
  import: {
    args: ['format', 'source', 'file'],
    options: {},
    help: 'import a legacy JSON store into the file (writes); `stowage import --help` lists the formats',
    run: importLegacy,
  },
  check: { args: ['file'], options: JSON_OPT, help: 'integrity, schema shape and the stowage ledger', run: check },
  vacuum: { args: ['file'], options: {}, help: 'rewrite the file compactly (writes)', run: vacuum },
}

function usageLine(name, spec) {
  const opts = Object.keys(spec.options).map((o) => `[--${o}${spec.options[o].type === 'string' ? ' <v>' : ''}]`)
  return `stowage ${name} ${spec.args.map((a) => `<${a}>`).join(' ')} ${opts.join(' ')}`.replace(/\s+$/, '')
}

function commandHelp(name, spec) {
  const lines = [`usage: ${usageLine(name, spec)}`, '', spec.help]
  const opts = Object.entries(spec.options)
  if (opts.length) {
    lines.push('', 'options:')
    for (const [o, d] of opts) lines.push(`  --${o}${d.type === 'string' ? ' <v>' : ''}`.padEnd(22) + d.help)
  }
  if (name === 'import') {
    lines.push('', 'formats:')
    for (const [store, mod] of Object.entries(SESSION_STORES)) {
      for (const [format, imp] of Object.entries(mod.imports ?? {})) lines.push(`  ${format}`.padEnd(22) + `${imp.what} (into the ${store} store)`)
    }
  }
  return lines.join('\n') + '\n'
}

function help() {
  const lines = ['usage: stowage <command> [arguments] [options]', '', 'commands:']
  for (const [name, spec] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(10)}${spec.help}`)
  lines.push('', 'Read commands never modify the file. `stowage <command> --help` for one command; docs/cli.md for all.')
  return lines.join('\n') + '\n'
}

/** Runs the CLI with `argv`; returns the exit status. */
export async function main(argv) {
  const [name, ...rest] = argv
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(help())
    return name ? 0 : 2
  }
  if (name === '--version') {
    process.stdout.write(`stowage-cli ${JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version}\n`)
    return 0
  }
  const spec = COMMANDS[name]
  try {
    if (!spec) throw new CliError('ERR_USAGE', `unknown command '${name}' (stowage help lists them)`, { usage: true })
    let parsed
    try {
      parsed = parseArgs({
        args: rest,
        allowPositionals: true,
        options: { help: { type: 'boolean', short: 'h' }, ...Object.fromEntries(Object.entries(spec.options).map(([k, v]) => [k, { type: v.type }])) },
      })
    } catch (err) {
      throw new CliError('ERR_USAGE', `${err.message}\nusage: ${usageLine(name, spec)}`, { usage: true })
    }
    if (parsed.values.help) {
      process.stdout.write(commandHelp(name, spec))
      return 0
    }
    const variadic = spec.args.at(-1)?.endsWith('...')
    const n = spec.args.length
    const count = parsed.positionals.length
    if (variadic ? count < n : count !== n) {
      throw new CliError('ERR_USAGE', `${name} takes ${spec.args.map((a) => `<${a}>`).join(' ')}\nusage: ${usageLine(name, spec)}`, { usage: true })
    }
    await spec.run(parsed.positionals, parsed.values)
    return 0
  } catch (err) {
    const code = err?.code ?? 'ERR_UNEXPECTED'
    process.stderr.write(`stowage: ${code}: ${err?.message ?? String(err)}\n`)
    return err instanceof CliError && err.usage ? 2 : 1
  }
}

/** An integer option, or undefined. */
function intOption(values, name) {
  const v = values[name]
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isFinite(n) || !Number.isInteger(n)) throw new CliError('ERR_USAGE', `--${name} must be an integer, got '${v}'`, { usage: true })
  return n
}

function metricList(v, fallback) {
  const list = (v ?? fallback).split(',').map((s) => s.trim()).filter(Boolean)
  for (const m of list) {
    if (!METRICS.includes(m)) throw new CliError('ERR_USAGE', `unknown metric '${m}' (metrics: ${METRICS.join(', ')})`, { usage: true })
  }
  return list
}

// ---- read commands ---------------------------------------------------------------------------

async function info([file], values) {
  const abs = existingFile(file)
  const facts = fileFacts(abs)
  const result = await readBare(abs, (store) => {
    const tables = tablesOf(store)
    const hosted = detectStores(tables, ledgerStores(store, tables))
    const ledger = tables.includes('stowage_migrations')
      ? Object.fromEntries(store.query('SELECT store, max(version) AS v FROM stowage_migrations GROUP BY store').map((r) => [r.store, r.v]))
      : {}
    const stores = hosted.map((name) => {
      const known = KNOWN.find((s) => s.name === name)
      return { name, schemaVersion: ledger[name] ?? null, currentVersion: known.version, adopted: name in ledger }
    })
    const counts = tables.map((t) => ({ table: t, rows: Number(store.query(`SELECT count(*) AS n FROM "${t.replace(/"/g, '""')}"`)[0].n) }))
    const out = { path: abs, stores, journalMode: facts.journalMode, fileBytes: facts.size, walBytes: facts.walSize, tables: counts }
    if (values.check) out.quickCheck = store.integrityCheck({ quick: true })
    return out
  })
  if (values.json) return emit(json(result))
  const lines = [
    `file:     ${result.path}`,
    `size:     ${formatBytes(result.fileBytes)} (+ ${formatBytes(result.walBytes)} WAL)`,
    `journal:  ${result.journalMode}`,
    `stores:   ${result.stores.map((s) => `${s.name} (${s.adopted ? `schema ${s.schemaVersion} of ${s.currentVersion}` : 'not yet opened by stowage'})`).join(', ') || 'none of stowage\'s'}`,
  ]
  if (result.quickCheck) lines.push(`check:    ${result.quickCheck.join('; ')}`)
  emit(lines.join('\n') + '\n\n' + table(result.tables, ['table', 'rows']))
}

async function runs([file], values) {
  const rows = await readStore(file, 'training', (store) => {
    const t = store.training
    return t.listRuns().map((r) => {
      const cols = t.getRunColumns(r.run_id, { metrics: ['loss', 'val_loss'] })
      let last = null
      let best = null
      let bestVal = null
      for (let i = 0; i < cols.step.length; i++) {
        const l = cols.loss[i]
        if (!Number.isNaN(l)) {
          last = l
          if (best === null || l < best) best = l
        }
        const v = cols.val_loss[i]
        if (!Number.isNaN(v) && (bestVal === null || v < bestVal)) bestVal = v
      }
      return { run: r.run_id, name: r.name, project: r.project, parents: r.parents, steps: cols.step.length, lastLoss: last, bestLoss: best, bestValLoss: bestVal, created: r.created_at }
    })
  })
  if (values.json) return emit(json(rows))
  emit(table(rows.map((r) => ({ ...r, created: formatTime(r.created) })), ['run', 'name', 'project', 'parents', 'steps', 'lastLoss', 'bestLoss', 'bestValLoss', 'created']))
}

async function metrics([file, run], values) {
  const names = metricList(values.metrics, METRICS.join(','))
  const format = values.format ?? 'csv'
  if (!['csv', 'json', 'ndjson'].includes(format)) throw new CliError('ERR_USAGE', `--format must be csv, json or ndjson, got '${format}'`, { usage: true })
  const fromStep = intOption(values, 'from')
  const toStep = intOption(values, 'to')
  const rows = await readStore(file, 'training', (store) => {
    const t = store.training
    if (!t.listRuns().some((r) => r.run_id === run)) throw new CliError('ERR_NOT_FOUND', `no run '${run}' in ${file}`)
    const cols = t.getRunColumns(run, { metrics: names, fromStep, toStep })
    const out = new Array(cols.step.length)
    for (let i = 0; i < out.length; i++) {
      const row = { step: cols.step[i] }
      for (const m of names) row[m] = Number.isNaN(cols[m][i]) ? null : cols[m][i]
      out[i] = row
    }
    return out
  })
  const columns = ['step', ...names]
  emit(format === 'csv' ? csv(rows, columns) : format === 'json' ? json(rows) : ndjson(rows), values.out)
}

async function logs([file, run], values) {
  const rows = await readStore(file, 'training', (store) => store.training.getLogs(run, values.phase ?? null))
  if (values.json) return emit(json(rows))
  emit(table(rows.map((r) => ({ ...r, ts: formatTime(r.ts) })), ['ts', 'level', 'phase', 'step', 'text']))
}

async function plot([file, ...ids], values) {
  const metricsWanted = metricList(values.metric, 'loss')
  const term = Boolean(values.term)
  const width = intOption(values, 'width') ?? (term ? process.stdout.columns || 80 : 960)
  const height = intOption(values, 'height') ?? (term ? 12 : 540)
  const out = values.out ?? 'chart.svg'
  const ext = path.extname(out).toLowerCase()
  if (!term && ext !== '.svg' && ext !== '.png') throw new CliError('ERR_USAGE', `--out must end in .svg or .png, got '${out}'`, { usage: true })
  const range = { from: intOption(values, 'from'), to: intOption(values, 'to') }
  const data = await readStore(file, 'training', (store) => chartData(store.training, ids, metricsWanted, { width: term ? width * 2 : width, ...range }))
  const logY = Boolean(values['log-y'])
  if (term) return emit(renderTerm(data, { columns: width, rows: height, logY, color: Boolean(process.stdout.isTTY) }))
  fs.writeFileSync(out, ext === '.png' ? await renderPng(data, { width, height, logY }) : renderSvg(data, { width, height, logY }))
  process.stdout.write(`${path.resolve(out)}\n`)
}

/** The session stores of a file that the CLI has commands for. */
function sessionStores(names, file) {
  const have = names.filter((n) => n in SESSION_STORES)
  if (!have.length) throw new CliError('ERR_STORE_ABSENT', `${file} holds no session store (session stores: ${Object.keys(SESSION_STORES).join(', ')})`)
  return have
}

async function sessions([file], values) {
  const results = await readStores(existingFile(file), (store, names) =>
    sessionStores(names, file).map((name) => ({ store: name, ...SESSION_STORES[name].sessions(store, { state: values.state }) })),
  )
  if (values.json) return emit(json(Object.fromEntries(results.map((r) => [r.store, r.rows]))))
  emit(results.map((r) => `${r.store}:\n${table(r.rows, r.columns)}`).join('\n'))
}

async function show([file, key], values) {
  const found = await readStores(existingFile(file), (store, names) => {
    const errors = []
    for (const name of sessionStores(names, file)) {
      try {
        return { store: name, session: SESSION_STORES[name].show(store, key) }
      } catch (err) {
        if (err.code !== 'ERR_NOT_FOUND') throw err
        errors.push(err.message)
      }
    }
    throw new CliError('ERR_NOT_FOUND', errors.join('; '))
  })
  if (values.json) return emit(json(found.session))
  const lines = Object.entries(found.session).map(([k, v]) => `${k.padEnd(18)} ${v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : v}`)
  emit(`${found.store} session\n${lines.join('\n')}\n`)
}

async function search([file, query], values) {
  const results = await readStores(existingFile(file), (store, names) => {
    const searchable = sessionStores(names, file).filter((n) => SESSION_STORES[n].search)
    if (!searchable.length) throw new CliError('ERR_NO_SEARCH', `none of the stores in ${file} (${names.join(', ')}) has full-text search`)
    return searchable.map((name) => ({ store: name, ...SESSION_STORES[name].search(store, query) }))
  })
  if (values.json) return emit(json(Object.fromEntries(results.map((r) => [r.store, r.rows]))))
  emit(results.map((r) => `${r.store}:\n${table(r.rows, r.columns)}`).join('\n'))
}

async function exportBundle([file, dir], values) {
  const bar = progress('export')
  const result = await readStore(file, 'training', (store) =>
    store.training.exportBundleAsync(path.resolve(dir), { archive: Boolean(values.tar), onProgress: (p) => bar.update(p) }),
  )
  bar.done()
  process.stdout.write(`${result.dir}${result.archive ? `\n${result.archive}` : ''}\n${result.checkpoints} checkpoints, ${result.finalModels} final models, ${formatBytes(result.bytes)}${result.missing.length ? `, ${result.missing.length} referenced files missing` : ''}\n`)
}

async function backup([file, dest], values) {
  if (fs.existsSync(dest)) throw new CliError('EEXIST', `${dest} exists; backup never overwrites`)
  const bar = progress('backup')
  const verify = !values['no-verify']
  const result = await readStores(existingFile(file), (store) => store.backupToAsync(path.resolve(dest), { gzip: Boolean(values.gzip), verify, onProgress: (p) => bar.update(p) }))
  bar.done()
  const checked = verify ? (result.ok ? ', integrity ok' : ', integrity check FAILED') : ', not checked'
  process.stdout.write(`${path.resolve(dest)} (${formatBytes(result.bytes)}${values.gzip ? ' gzipped' : ''}${checked})\n`)
  if (result.ok === false) {
    throw new CliError('SQLITE_CORRUPT', `the copy is page for page, so ${file} has these problems too: ${result.problems.join('; ')}`)
  }
}

async function check([file], values) {
  const abs = existingFile(file)
  const result = await readStores(abs, (store, names) => ({
    stores: names,
    schema: store.info().schema,
    integrity: store.integrityCheck(),
  }))
  result.ok = result.integrity.length === 1 && result.integrity[0] === 'ok'
  if (values.json) emit(json(result))
  else {
    emit(`integrity: ${result.integrity.join('; ')}\nschema:    ${Object.entries(result.schema).map(([k, v]) => `${k} ${v}`).join(', ') || 'no stowage store'} (adopted and migrated on a copy: the shapes are the stores')\n`)
  }
  if (!result.ok) throw new CliError('ERR_INTEGRITY', `${file} failed SQLite's integrity check`)
}

// ---- write commands --------------------------------------------------------------------------

/** Opens the file itself with the stores it holds, for a command that changes it. */
function openForWrite(file, extra = []) {
  return readBare(file, storesOf).then((names) => stowage.openStore(file, { stores: [...new Set([...names, ...extra])] }))
}

async function load([bundle, file]) {
  const abs = path.resolve(file)
  process.stderr.write(`load: replaces the training tables of ${abs} with those of ${path.resolve(bundle)}\n`)
  const store = fs.existsSync(abs) ? await openForWrite(abs, ['training']) : stowage.openStore(abs)
  const bar = progress('load')
  try {
    const r = await store.training.loadBundleAsync(path.resolve(bundle), null, { onProgress: (p) => bar.update(p) })
    bar.done()
    process.stdout.write(`${r.runs} runs, ${r.checkpoints} checkpoints, ${r.finalModels} final models loaded into ${abs}\n`)
  } finally {
    store.close()
  }
}

async function importLegacy([format, source, file]) {
  const entry = Object.entries(SESSION_STORES).flatMap(([store, mod]) => Object.entries(mod.imports ?? {}).map(([f, imp]) => ({ store, format: f, imp }))).find((e) => e.format === format)
  if (!entry) throw new CliError('ERR_USAGE', `unknown import format '${format}' (stowage import --help lists them)`, { usage: true })
  const abs = path.resolve(file)
  process.stderr.write(`import: adds ${entry.imp.what} from ${path.resolve(source)} to the ${entry.store} store of ${abs}\n`)
  const store = fs.existsSync(abs) ? await openForWrite(abs, [entry.store]) : stowage.openStore(abs, { stores: [entry.store] })
  const bar = progress('import')
  try {
    const report = await entry.imp.run(store, path.resolve(source), (p) => bar.update({ phase: p.phase, bytesDone: p.bytesDone, bytesTotal: p.bytesTotal }))
    bar.done()
    emit(json(report))
  } finally {
    store.close()
  }
}

async function vacuum([file]) {
  const abs = existingFile(file)
  process.stderr.write(`vacuum: rewrites ${abs} compactly (holds its write lock meanwhile)\n`)
  const store = await openForWrite(abs)
  try {
    const r = await store.vacuumAsync()
    process.stdout.write(`${r.pagesBefore} pages before, ${r.pagesAfter} after (${formatNumber(((r.pagesBefore - r.pagesAfter) / Math.max(1, r.pagesBefore)) * 100)}% smaller)\n`)
  } finally {
    store.close()
  }
}
