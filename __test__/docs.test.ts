// The documentation stays true: every relative link and #anchor in the Markdown files resolves,
// every code block marked `<!-- example -->` runs against the built package, and every export
// is declared and documented in index.d.ts.
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { basename, dirname, join, relative, resolve } from 'node:path'
import { transformSync } from 'esbuild'
import { beforeAll, describe, expect, it } from 'vitest'

import { tempDir } from './helpers/tmp'

const repo = resolve(__dirname, '..')

/** The Markdown files whose links are checked, relative to the repository. */
function markdownFiles(): string[] {
  const files = ['README.md', 'COMPATIBILITY.md', 'RELIABILITY.md', 'BENCHMARKS.md']
  for (const f of readdirSync(join(repo, 'docs')).sort()) if (f.endsWith('.md')) files.push(`docs/${f}`)
  const walk = (dir: string) => {
    for (const e of readdirSync(join(repo, dir), { withFileTypes: true })) {
      if (e.name === 'node_modules' || e.name.startsWith('.')) continue
      const rel = `${dir}/${e.name}`
      if (e.isDirectory()) walk(rel)
      else if (e.name === 'README.md') files.push(rel)
    }
  }
  walk('examples')
  return files
}

interface Line {
  text: string
  /** 1-based line number in the file. */
  n: number
}

/** Splits a Markdown file into prose lines and fenced code blocks (with the line before each). */
function parse(text: string): { prose: Line[]; blocks: { info: string; code: string; n: number; before: string }[] } {
  const lines = text.split('\n')
  const prose: Line[] = []
  const blocks: { info: string; code: string; n: number; before: string }[] = []
  let fence: { marker: string; info: string; n: number; before: string; body: string[] } | null = null
  let lastProse = ''
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    const m = /^\s*(`{3,}|~{3,})\s*([^`\s]*)/.exec(line)
    if (fence) {
      if (m && m[1][0] === fence.marker[0] && m[1].length >= fence.marker.length && m[2] === '') {
        blocks.push({ info: fence.info, code: fence.body.join('\n'), n: fence.n, before: fence.before })
        fence = null
      } else fence.body.push(line)
    } else if (m) {
      fence = { marker: m[1], info: m[2].toLowerCase(), n: i + 1, before: lastProse, body: [] }
    } else {
      prose.push({ text: line, n: i + 1 })
      if (line.trim() !== '') lastProse = line.trim()
    }
  }
  if (fence) throw new Error(`unclosed code block at line ${fence.n}`)
  return { prose, blocks }
}

/** Prose with inline code spans blanked out, so that code such as `a[0](b)` is not read as a link. */
function withoutCode(prose: Line[]): string {
  return prose.map((l) => l.text.replace(/(`+)[^`]*?\1/g, (s) => 'x'.repeat(s.length))).join('\n')
}

/** GitHub's anchor for a heading's text (github-slugger: lower case, punctuation dropped, spaces to `-`). */
function slug(heading: string): string {
  const text = heading
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/[`*]/g, '')
    .trim()
  return text.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '').replace(/ /g, '-')
}

/** The anchors of a Markdown file: its headings' slugs (duplicates numbered) and HTML ids. */
function anchors(file: string): Set<string> {
  const { prose } = parse(readFileSync(file, 'utf8'))
  const out = new Set<string>()
  const seen = new Map<string, number>()
  for (const { text } of prose) {
    const h = /^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(text)
    if (h) {
      const base = slug(h[1])
      const k = seen.get(base) ?? 0
      seen.set(base, k + 1)
      out.add(k === 0 ? base : `${base}-${k}`)
    }
    for (const a of text.matchAll(/<a\s[^>]*(?:id|name)="([^"]+)"/g)) out.add(a[1])
  }
  return out
}

/** Every link target in a file's prose: inline links, images, reference definitions, hrefs. */
function links(text: string): { target: string; n: number }[] {
  const { prose } = parse(text)
  const body = withoutCode(prose)
  const lineOf = (index: number) => prose[body.slice(0, index).split('\n').length - 1].n
  const out: { target: string; n: number }[] = []
  for (const m of body.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push({ target: m[1], n: lineOf(m.index!) })
  for (const m of body.matchAll(/^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm)) out.push({ target: m[1], n: lineOf(m.index!) })
  for (const m of body.matchAll(/\b(?:href|src)="([^"]+)"/g)) out.push({ target: m[1], n: lineOf(m.index!) })
  return out
}

/** What is wrong with a link from `file`, or null when it resolves. */
function brokenLink(file: string, target: string): string | null {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return null // http:, https:, mailto:
  const hash = target.indexOf('#')
  const pathPart = decodeURIComponent(hash < 0 ? target : target.slice(0, hash))
  const anchor = hash < 0 ? null : decodeURIComponent(target.slice(hash + 1))
  const from = join(repo, file)
  const dest = pathPart === '' ? from : pathPart.startsWith('/') ? join(repo, pathPart) : resolve(dirname(from), pathPart)
  if (relative(repo, dest).startsWith('..')) return 'points outside the repository'
  if (!existsSync(dest)) return `${relative(repo, dest)} does not exist`
  if (anchor === null) return null
  const page = statSync(dest).isDirectory() ? join(dest, 'README.md') : dest
  if (!page.endsWith('.md')) return null // #L12 in a source file: GitHub's, not checked
  if (!existsSync(page)) return `${relative(repo, page)} does not exist`
  return anchors(page).has(anchor) ? null : `${relative(repo, page)} has no heading #${anchor}`
}

const files = markdownFiles()

describe('links', () => {
  it.each(files)('every relative link and anchor in %s resolves', (file) => {
    const broken = links(readFileSync(join(repo, file), 'utf8'))
      .map(({ target, n }) => ({ target, n, why: brokenLink(file, target) }))
      .filter((l) => l.why !== null)
      .map((l) => `${file}:${l.n}: (${l.target}) ${l.why}`)
    expect(broken).toEqual([])
  })

  it('the README links every page in docs/', () => {
    const linked = new Set(
      links(readFileSync(join(repo, 'README.md'), 'utf8')).map(({ target }) => resolve(repo, target.split('#')[0])),
    )
    const pages = readdirSync(join(repo, 'docs')).filter((f) => f.endsWith('.md'))
    expect(pages.filter((f) => !linked.has(join(repo, 'docs', f)))).toEqual([])
  })

  it('the slugs follow GitHub’s rules', () => {
    expect(slug('Bundle export vs `cp -r`')).toBe('bundle-export-vs-cp--r')
    expect(slug("The drop-in's workloads against better-sqlite3, node:sqlite and rusqlite")).toBe(
      'the-drop-ins-workloads-against-better-sqlite3-nodesqlite-and-rusqlite',
    )
    expect(slug('Opening a file: `openStore` and `Store`')).toBe('opening-a-file-openstore-and-store')
    expect(slug('What `initStorage` reads from its argument')).toBe('what-initstorage-reads-from-its-argument')
    expect(slug('A — B [link](x.md)')).toBe('a--b-link')
  })
})

// ---- runnable examples ---------------------------------------------------------------------

const MARKER = '<!-- example -->'
const RUNNABLE = new Set(['js', 'javascript', 'mjs', 'cjs', 'ts', 'typescript'])

interface Example {
  file: string
  line: number
  lang: string
  code: string
}

function examples(): { found: Example[]; misplaced: string[] } {
  const found: Example[] = []
  const misplaced: string[] = []
  for (const file of files) {
    const text = readFileSync(join(repo, file), 'utf8')
    const { prose, blocks } = parse(text)
    const marked = new Set<number>()
    for (const b of blocks) {
      if (b.before !== MARKER) continue
      if (!RUNNABLE.has(b.info)) misplaced.push(`${file}:${b.n}: ${MARKER} before a \`\`\`${b.info} block`)
      else found.push({ file, line: b.n, lang: b.info, code: b.code })
      marked.add(b.n)
    }
    // A marker whose next non-blank line is not a code fence marks nothing: report it.
    const lines = text.split('\n')
    for (const { text: t, n } of prose) {
      if (t.trim() !== MARKER) continue
      let k = n
      while (k < lines.length && lines[k].trim() === '') k++
      if (!marked.has(k + 1)) misplaced.push(`${file}:${n}: ${MARKER} not followed by a code block`)
    }
  }
  return { found, misplaced }
}

const { found, misplaced } = examples()

/** A folder with node_modules/stowage holding the built package as it is published. */
let sandbox = ''

beforeAll(() => {
  sandbox = tempDir('stowage-docs-')
  const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'))
  const dest = join(sandbox, 'node_modules', 'stowage')
  mkdirSync(dest, { recursive: true })
  for (const f of [...pkg.files, 'package.json']) copyFileSync(join(repo, f), join(dest, f))
  const local = readdirSync(repo).filter((f) => /^stowage\..+\.node$/.test(f))
  const release = existsSync(join(repo, 'npm'))
    ? readdirSync(join(repo, 'npm')).flatMap((d) =>
        existsSync(join(repo, 'npm', d)) && statSync(join(repo, 'npm', d)).isDirectory()
          ? readdirSync(join(repo, 'npm', d)).filter((f) => f.endsWith('.node')).map((f) => join('npm', d, f))
          : [],
      )
    : []
  const binaries = local.length > 0 ? local : release
  if (binaries.length === 0) throw new Error('no built binary: run `npm run build` first')
  for (const b of binaries) copyFileSync(join(repo, b), join(dest, basename(b)))
})

describe('runnable examples', () => {
  it('every example marker precedes a js or ts code block', () => {
    expect(misplaced).toEqual([])
  })

  it('the docs have examples to run', () => {
    expect(found.length).toBeGreaterThan(10)
  })

  it('the TypeScript examples compile against index.d.ts with tsc --strict', () => {
    // Types are checked against the package as published; Node's own modules are left untyped
    // (the repository has no @types/node), which is enough to catch an API the docs invent.
    const dir = join(sandbox, 'typecheck')
    mkdirSync(dir)
    const ts = found.filter((e) => e.lang === 'ts' || e.lang === 'typescript')
    const names = ts.map((e, i) => {
      const f = `${String(i).padStart(2, '0')}-${e.file.replace(/[^A-Za-z0-9]+/g, '-')}-${e.line}.ts`
      writeFileSync(join(dir, f), e.code.includes('import ') ? e.code : `${e.code}\nexport {}\n`)
      return f
    })
    writeFileSync(
      join(dir, 'node.d.ts'),
      [
        "declare module 'node:*'",
        'declare const console: { log(...args: unknown[]): void; error(...args: unknown[]): void }',
        'declare const Buffer: { alloc(size: number, fill?: number): Uint8Array }',
      ].join('\n'),
    )
    const compilerOptions = { target: 'ES2022', module: 'ESNext', moduleResolution: 'Bundler', strict: true, noEmit: true, types: [], lib: ['ES2022'] }
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['node.d.ts', ...names] }))
    const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc')
    const r = spawnSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { cwd: dir, encoding: 'utf8' })
    const where = names.map((f, i) => `${f} is ${ts[i].file}:${ts[i].line}`).join('\n')
    expect(r.status, `${r.stdout}${r.stderr}\n${where}`).toBe(0)
  })

  it.each(found.map((e) => [`${e.file}:${e.line}`, e] as const))('%s runs', (name, ex) => {
    const dir = join(sandbox, name.replace(/[^A-Za-z0-9]+/g, '-'))
    mkdirSync(dir)
    let code = ex.code
    let ext: string
    if (ex.lang === 'ts' || ex.lang === 'typescript') {
      code = transformSync(code, { loader: 'ts', format: 'esm', target: 'node18', sourcefile: name }).code
      ext = '.mjs'
    } else if (ex.lang === 'mjs' || (ex.lang !== 'cjs' && /^\s*(import|export)\s/m.test(code))) ext = '.mjs'
    else ext = '.cjs'
    const script = join(dir, `example${ext}`)
    writeFileSync(script, code)
    const r = spawnSync(process.execPath, [script], { cwd: dir, encoding: 'utf8', timeout: 60_000 })
    const report = `${name} exited with ${r.status ?? r.signal}\n--- stderr\n${r.stderr}\n--- stdout\n${r.stdout}`
    expect(r.status, report).toBe(0)
  })
})

// ---- index.d.ts ----------------------------------------------------------------------------

describe('index.d.ts', () => {
  const dts = readFileSync(join(repo, 'index.d.ts'), 'utf8').split('\n')
  const documented = (i: number) => i > 0 && dts[i - 1].trim().endsWith('*/')

  it('every declaration and class member has a doc comment', () => {
    const missing: string[] = []
    let inClass = false
    dts.forEach((line, i) => {
      if (/^export (declare|interface|type) /.test(line) && !documented(i)) missing.push(`${i + 1}: ${line}`)
      if (/^export declare class /.test(line)) inClass = true
      else if (line === '}') inClass = false
      else if (inClass && /^ {2}(get |set |static )?[A-Za-z_$][\w$]*\s*[(<]/.test(line) && !documented(i)) missing.push(`${i + 1}: ${line}`)
    })
    expect(missing).toEqual([])
  })

  it('declares every export of the package', async () => {
    const exported = Object.keys(await import('../index.js'))
      .filter((k) => k !== 'default' && k !== 'module.exports')
      .sort()
    const declared = new Set(
      dts.flatMap((l) => {
        const m = /^export declare (?:function|const|class) ([A-Za-z_$][\w$]*)/.exec(l)
        return m ? [m[1]] : []
      }),
    )
    expect(exported.filter((k) => !declared.has(k))).toEqual([])
  })
})
