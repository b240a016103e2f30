// Charts of training metrics: SVG (d3-scale for the axes and ticks, d3-shape for the line and
// envelope paths), PNG (the SVG rasterised by resvg), and a terminal rendering in braille dots.
// The data is `getRunSeries`: one bucket per pixel column with min, max and mean, so the cost
// depends on the chart's width, not on the run's length.

import { scaleLinear, scaleLog } from 'd3-scale'
import { area, line } from 'd3-shape'
import { CliError, formatNumber } from './output.js'

/** Tableau 10, one color per run. */
const COLORS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac']

/** ANSI colors for the terminal chart, in the same order. */
const ANSI = [34, 33, 31, 36, 32, 93, 35, 95, 90, 37]

const MARGIN = { top: 28, right: 150, bottom: 34, left: 64 }

function escapeXml(s) {
  return String(s).replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c])
}

/**
 * The points of one run's series for a chart: the bucket's middle step, its mean, min and max,
 * leaving out buckets that a log scale cannot show.
 */
function points(series, logY) {
  const out = []
  for (let i = 0; i < series.count.length; i++) {
    const p = { step: (series.fromStep[i] + series.toStep[i]) / 2, first: series.fromStep[i], mean: series.mean[i], min: series.min[i], max: series.max[i] }
    if (logY && !(p.min > 0)) continue
    out.push(p)
  }
  return out
}

/**
 * Reads what a chart needs from a training store: for each run and metric, the bucketed series.
 * `runs` are run ids; each must exist.
 */
export function chartData(training, runs, metrics, { width = 960, from, to } = {}) {
  const known = new Map(training.listRuns().map((r) => [r.run_id, r]))
  const plotWidth = Math.max(50, width - MARGIN.left - MARGIN.right)
  return {
    metrics,
    runs: runs.map((id) => {
      const run = known.get(id)
      if (!run) throw new CliError('ERR_NOT_FOUND', `no run '${id}' (runs: ${[...known.keys()].join(', ') || 'none'})`)
      const series = {}
      for (const metric of metrics) {
        series[metric] = training.getRunSeries(id, metric, { maxPoints: plotWidth, fromStep: from, toStep: to })
      }
      return { id, name: run.name || id, parents: run.parents ?? [], series }
    }),
  }
}

/** The y scale of one panel. */
function yScale(all, logY, y0, y1) {
  let lo = Infinity
  let hi = -Infinity
  for (const p of all) {
    if (p.min < lo) lo = p.min
    if (p.max > hi) hi = p.max
  }
  if (!Number.isFinite(lo)) {
    lo = logY ? 1 : 0
    hi = logY ? 10 : 1
  }
  if (lo === hi) {
    lo = logY ? lo / 2 : lo - 1
    hi = logY ? hi * 2 : hi + 1
  }
  return (logY ? scaleLog() : scaleLinear()).domain([lo, hi]).range([y1, y0]).nice()
}

/** A chart as SVG text: one panel per metric, every run overlaid, a legend, fork and merge marks. */
export function renderSvg(data, { width = 960, height = 540, logY = false } = {}) {
  if (!data.runs.length) throw new CliError('ERR_INVALID_ARG', 'plot: no run given')
  const panels = data.metrics.length
  const plotH = (height - MARGIN.top - MARGIN.bottom * panels - 12 * (panels - 1)) / panels
  if (plotH < 40 || width - MARGIN.left - MARGIN.right < 50) {
    throw new CliError('ERR_INVALID_ARG', `plot: ${width}×${height} is too small for ${panels} panel(s)`)
  }
  const out = []
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="11">`)
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`)
  let steps = []
  for (const run of data.runs) for (const m of data.metrics) steps.push(...points(run.series[m], false).map((p) => p.step))
  const xLo = steps.length ? Math.min(...steps) : 0
  const xHi = steps.length ? Math.max(...steps) : 1
  steps = null
  const x = scaleLinear().domain([xLo, xHi === xLo ? xLo + 1 : xHi]).range([MARGIN.left, width - MARGIN.right]).nice()
  data.metrics.forEach((metric, k) => {
    const top = MARGIN.top + k * (plotH + MARGIN.bottom + 12)
    const bottom = top + plotH
    const perRun = data.runs.map((run) => points(run.series[metric], logY))
    const y = yScale(perRun.flat(), logY, top, bottom)
    out.push(`<g class="panel" data-metric="${escapeXml(metric)}">`)
    out.push(`<text x="${MARGIN.left}" y="${top - 8}" font-size="13" font-weight="bold">${escapeXml(metric)}${logY ? ' (log)' : ''}</text>`)
    const yTicks = logY ? y.ticks(5).filter((_, i, a) => a.length <= 8 || i % Math.ceil(a.length / 6) === 0) : y.ticks(5)
    for (const t of yTicks) {
      out.push(`<line x1="${MARGIN.left}" x2="${width - MARGIN.right}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#e5e5e5"/>`)
      out.push(`<text x="${MARGIN.left - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end" fill="#555">${escapeXml(formatNumber(t))}</text>`)
    }
    // Plain numbers up to 100k steps (1,500), SI prefixes beyond (2.5M).
    const xFormat = x.tickFormat(6, x.domain()[1] < 1e5 ? ',~f' : '~s')
    for (const t of x.ticks(6)) {
      out.push(`<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${bottom}" y2="${bottom + 4}" stroke="#555"/>`)
      out.push(`<text x="${x(t).toFixed(1)}" y="${bottom + 16}" text-anchor="middle" fill="#555">${escapeXml(xFormat(t))}</text>`)
    }
    out.push(`<line x1="${MARGIN.left}" x2="${width - MARGIN.right}" y1="${bottom}" y2="${bottom}" stroke="#555"/>`)
    out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${top}" y2="${bottom}" stroke="#555"/>`)
    if (k === panels - 1) out.push(`<text x="${(MARGIN.left + width - MARGIN.right) / 2}" y="${bottom + 30}" text-anchor="middle" fill="#333">step</text>`)
    data.runs.forEach((run, i) => {
      const pts = perRun[i]
      const color = COLORS[i % COLORS.length]
      const env = area().x((p) => x(p.step)).y0((p) => y(p.min)).y1((p) => y(p.max))(pts)
      const mean = line().x((p) => x(p.step)).y((p) => y(p.mean))(pts)
      if (env) out.push(`<path class="envelope" data-run="${escapeXml(run.id)}" d="${env}" fill="${color}" fill-opacity="0.18" stroke="none"/>`)
      out.push(`<path class="series" data-run="${escapeXml(run.id)}" data-metric="${escapeXml(metric)}" d="${mean ?? ''}" fill="none" stroke="${color}" stroke-width="1.5"/>`)
      if (run.parents.length && pts.length) {
        const p = pts[0]
        const cx = x(p.step).toFixed(1)
        const cy = y(p.mean).toFixed(1)
        const what = run.parents.length > 1 ? `merge of ${run.parents.join(' + ')}` : `fork of ${run.parents[0]}`
        const mark = run.parents.length > 1
          ? `<path class="mark merge" d="M${cx},${(cy - 6).toFixed(1)}l6,6l-6,6l-6,-6z" fill="#ffffff" stroke="${color}" stroke-width="2">`
          : `<circle class="mark fork" cx="${cx}" cy="${cy}" r="5" fill="#ffffff" stroke="${color}" stroke-width="2">`
        out.push(`${mark}<title>${escapeXml(`${run.name}: ${what} at step ${p.first}`)}</title>${run.parents.length > 1 ? '</path>' : '</circle>'}`)
      }
    })
    out.push('</g>')
  })
  const lx = width - MARGIN.right + 14
  out.push('<g class="legend">')
  data.runs.forEach((run, i) => {
    const ly = MARGIN.top + i * 18
    const kind = run.parents.length > 1 ? ' (merge)' : run.parents.length ? ' (fork)' : ''
    out.push(`<rect x="${lx}" y="${ly - 9}" width="14" height="4" fill="${COLORS[i % COLORS.length]}"/>`)
    out.push(`<text x="${lx + 20}" y="${ly - 3}">${escapeXml(run.name + kind)}</text>`)
  })
  out.push('</g>')
  out.push('</svg>')
  return out.join('\n') + '\n'
}

/** The chart as a PNG of exactly `width`×`height` pixels. */
export async function renderPng(data, options = {}) {
  const { Resvg } = await import('@resvg/resvg-js')
  const svg = renderSvg(data, options)
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'width', value: options.width ?? 960 },
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
  })
  return resvg.render().asPng()
}

/** The chart drawn with braille dots (2×4 per character), one panel per metric, for a terminal. */
export function renderTerm(data, { columns = 80, rows = 12, logY = false, color = true } = {}) {
  const labelW = 10
  const cols = Math.max(20, columns - labelW - 1)
  const w = cols * 2
  const h = rows * 4
  const out = []
  for (const metric of data.metrics) {
    const perRun = data.runs.map((run) => points(run.series[metric], logY))
    const all = perRun.flat()
    const y = yScale(all, logY, 0, h - 1)
    const steps = all.map((p) => p.step)
    const x = scaleLinear().domain([Math.min(...steps, 0), Math.max(...steps, 1)]).range([0, w - 1])
    // Each character holds one run's dots; the run drawn last wins a shared character.
    const grid = Array.from({ length: rows }, () => new Array(cols).fill(0))
    const owner = Array.from({ length: rows }, () => new Array(cols).fill(-1))
    const bit = [[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]]
    perRun.forEach((pts, i) => {
      let prev = null
      for (const p of pts) {
        const px = Math.round(x(p.step))
        const py = Math.round(y(p.mean))
        const from = prev ?? [px, py]
        const n = Math.max(Math.abs(px - from[0]), Math.abs(py - from[1]), 1)
        for (let s = 0; s <= n; s++) {
          const dx = Math.round(from[0] + ((px - from[0]) * s) / n)
          const dy = Math.round(from[1] + ((py - from[1]) * s) / n)
          if (dx < 0 || dx >= w || dy < 0 || dy >= h) continue
          const r = Math.floor(dy / 4)
          const c = Math.floor(dx / 2)
          grid[r][c] |= bit[dy % 4][dx % 2]
          owner[r][c] = i
        }
        prev = [px, py]
      }
    })
    const [lo, hi] = y.domain()
    out.push(`${metric}${logY ? ' (log)' : ''}`)
    grid.forEach((line, r) => {
      const label = r === 0 ? formatNumber(hi) : r === rows - 1 ? formatNumber(lo) : ''
      const chars = line.map((b, c) => {
        const ch = String.fromCharCode(0x2800 + b)
        return color && b && owner[r][c] >= 0 ? `\x1b[${ANSI[owner[r][c] % ANSI.length]}m${ch}\x1b[0m` : ch
      })
      out.push(`${label.padStart(labelW)}┤${chars.join('')}`)
    })
    const [s0, s1] = x.domain()
    out.push(`${' '.repeat(labelW)}└${formatNumber(s0)}${formatNumber(s1).padStart(cols - formatNumber(s0).length)}`)
  }
  out.push(data.runs.map((run, i) => (color ? `\x1b[${ANSI[i % ANSI.length]}m■\x1b[0m ${run.name}` : `${i + 1}: ${run.name}`)).join('   '))
  return out.join('\n') + '\n'
}
