'use strict'
// Seeded random JS values of every type for the fuzzer.
//
// A generated value is a tagged record `{ v, d, k, ... }`: `v` the value, `d` a description
// written while generating it (so describing a value never runs its getters or proxy traps), `k`
// its kind as the binding sees it, and what the oracle needs to predict the binding's answer:
// `f` the fields of a plain object, `items` the elements of a dense array, `hostile` when reading
// it runs code of the caller (getters, proxy traps, `toString`), `foreign` when that code may
// throw the engine's own errors (a revoked proxy, a class called as a callback), `coerceFails`
// when `String(v)` throws.

/** sfc32 seeded through splitmix32: fast, and the same stream for a seed on every platform. */
class Rng {
  constructor(seed) {
    let s = seed >>> 0
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0
      let z = s
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
      return (z ^ (z >>> 16)) >>> 0
    }
    this.a = next()
    this.b = next()
    this.c = next()
    this.d = next()
  }

  u32() {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0
    this.d = (this.d + 1) >>> 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) >>> 0
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0
    this.c = (this.c + t) >>> 0
    return t
  }

  float() {
    return this.u32() / 4294967296
  }

  int(n) {
    return Math.floor(this.float() * n)
  }

  chance(p) {
    return this.float() < p
  }

  pick(list) {
    return list[this.int(list.length)]
  }

  /** One of `[weight, value]` pairs, by weight. */
  weighted(pairs) {
    let total = 0
    for (const [w] of pairs) total += w
    let x = this.float() * total
    for (const [w, v] of pairs) {
      x -= w
      if (x < 0) return v
    }
    return pairs[pairs.length - 1][1]
  }
}

/** Values a hostile getter or trap throws; the fuzzer accepts exactly these passing through. */
const SENTINELS = [new Error('fuzz: thrown by a getter'), 'fuzz: a thrown string', Object.freeze({ fuzz: 'a thrown object' })]

const short = (s, n = 60) => (s.length > n ? `${s.slice(0, n)}…(${s.length})` : s)
const quote = (s) => JSON.stringify(short(s)).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)

const tag = (v, d, k, extra) => ({ v, d, k, ...extra })
/** Whether `String(v)` throws: a Symbol, or what its tag says (an array joins its items). */
const failsString = (t) => t.k === 'symbol' || Boolean(t.coerceFails)

const NUMBERS = [0, -0, 1, -1, 0.5, -2.5, NaN, Infinity, -Infinity, 2 ** 53, -(2 ** 53), 2 ** 53 - 1, 2 ** 31, -(2 ** 31), 2 ** 32,
  4294967295, 1e308, -1e308, Number.MAX_VALUE, Number.MIN_VALUE, Number.EPSILON, 1e-300, 123456789.125]
const BIGINTS = [0n, 1n, -1n, 42n, 2n ** 53n - 1n, -(2n ** 53n - 1n), 2n ** 53n, 2n ** 53n + 1n, -(2n ** 53n + 1n), 2n ** 63n, -(2n ** 63n), 2n ** 64n, 2n ** 1000n]
const STRINGS = ['', 'a', ' ', '0', '1', '-1', '1e3', '0x10', 'NaN', 'Infinity', ' 12 ', '\0', 'a\0b', '\uD800', '\uDFFF', 'x\uD83D',
  '\uDE00y', '😀', '👩‍👩‍👧', 'ÿ', '\u2028', 'שלום', '%s%n', "'; DROP TABLE runs; --", '__proto__', 'constructor', 'toString',
  'train', 'val', 'test', 'info', 'PASSIVE', 'FULL', 'RESTART', 'TRUNCATE', 'training', 'agents', 'loss', 'lr', 'step', 'epoch',
  'booting', 'working', 'completed', 'zombie', 'active', 'failed', 'r0', 'r1', 's0', 'agent-0', ':memory:', '.', '..']
/** Keys random objects are built from: the spec's field names, so random objects reach fields. */
const FIELDS = ['run_id', 'step', 'loss', 'val_loss', 'epoch', 'lr', 'text', 'phase', 'level', 'ts', 'session_id', 'ckpt_path',
  'avg_test_loss', 'losses', 'sample_indices', 'samples', 'note', 'at_step', 'stores', 'agents', 'transitions', 'quick', 'archive',
  'onProgress', 'metrics', 'fromStep', 'toStep', 'maxPoints', 'id', 'agentName', 'state', 'status', 'limit', 'all', 'agent',
  'storagePath', 'globalStorageUri', 'fsPath', 'retainFile', 'length', '0', 'x']

/** Generates tagged values from one Rng. `hooks` lets hostile values act on the fuzzer's state. */
class Values {
  constructor(rng, hooks) {
    this.rng = rng
    this.hooks = hooks
  }

  number() {
    const r = this.rng
    const x = r.weighted([
      [6, () => r.pick(NUMBERS)],
      [3, () => r.int(100)],
      [2, () => (r.float() - 0.5) * 10 ** r.int(20)],
      [1, () => -r.int(1e9)],
    ])()
    return tag(x, Object.is(x, -0) ? '-0' : String(x), 'number')
  }

  bigint() {
    const x = this.rng.chance(0.7) ? this.rng.pick(BIGINTS) : BigInt(this.rng.int(1e6)) - 500000n
    return tag(x, `${x}n`, 'bigint')
  }

  string() {
    const r = this.rng
    const s = r.weighted([
      [6, () => r.pick(STRINGS)],
      [3, () => this.codeUnits(r.int(12))],
      [1, () => r.pick(['x', '\uD800', '😀', 'ab\0']).repeat(r.pick([1000, 100000, 1 << 20]))],
    ])()
    return tag(s, quote(s), 'string')
  }

  /** `n` random UTF-16 code units, surrogates and controls included. */
  codeUnits(n) {
    let s = ''
    for (let i = 0; i < n; i++) {
      const u = this.rng.weighted([[5, 0x20 + this.rng.int(95)], [1, this.rng.int(32)], [1, 0xd800 + this.rng.int(0x800)], [1, this.rng.int(0x10000)]])
      s += String.fromCharCode(u)
    }
    return s
  }

  symbol() {
    return this.rng.pick([tag(Symbol('fuzz'), 'Symbol(fuzz)', 'symbol'), tag(Symbol.iterator, 'Symbol.iterator', 'symbol'), tag(Symbol(), 'Symbol()', 'symbol')])
  }

  func() {
    const r = this.rng
    return r.pick([
      () => tag(() => {}, '() => {}', 'function'),
      () => tag(() => { throw SENTINELS[0] }, '() => { throw }', 'function'),
      // Called as a callback it throws the engine's TypeError, which the promise passes on.
      () => tag(class Fuzz {}, 'class {}', 'function', { foreign: true }),
      () => tag(async () => 1, 'async () => 1', 'function'),
      () => {
        const f = function withFields() {}
        f.run_id = 'r0'
        f.step = 1
        return tag(f, 'function { run_id, step }', 'function')
      },
      () => tag(this.hooks.reenter, 'function re-entering the store', 'function'),
    ])()
  }

  /** Any value at all; `depth` bounds nesting. */
  any(depth = 0) {
    const r = this.rng
    const kinds = [
      [2, 'undefined'], [2, 'null'], [1, 'boolean'], [4, 'number'], [2, 'bigint'], [5, 'string'], [1, 'symbol'], [1, 'function'],
    ]
    if (depth < 3) kinds.push([3, 'array'], [2, 'typed'], [4, 'object'], [2, 'exotic'], [1, 'hostile'])
    switch (r.weighted(kinds)) {
      case 'undefined': return tag(undefined, 'undefined', 'undefined')
      case 'null': return tag(null, 'null', 'null')
      case 'boolean': { const b = r.chance(0.5); return tag(b, String(b), 'boolean') }
      case 'number': return this.number()
      case 'bigint': return this.bigint()
      case 'string': return this.string()
      case 'symbol': return this.symbol()
      case 'function': return this.func()
      case 'array': return this.array(() => this.any(depth + 1))
      case 'typed': return this.typed()
      case 'object': return this.object(depth)
      case 'exotic': return this.exotic(depth)
      default: return this.hostile(() => this.any(depth + 1))
    }
  }

  /** An array of `item()`s: dense, sparse (holes read as undefined), or huge and sparse. */
  array(item, maxLen = 6) {
    const r = this.rng
    const shape = r.weighted([[6, 'dense'], [1, 'holes'], [1, 'huge'], [1, 'extra']])
    if (shape === 'huge') {
      const len = r.pick([2 ** 32 - 1, 2 ** 31, 1e9, 2 ** 27 + 1, 150_000_000])
      const a = []
      a.length = len
      const items = []
      if (r.chance(0.5)) {
        const it = item()
        a[len - 1] = it.v
        items.push(it)
      }
      // String(a) joins len - 1 commas: more than V8's longest string (2^29 - 24) throws.
      const coerceFails = len - 1 > 2 ** 29 - 24 || items.some(failsString)
      return tag(a, `sparse array of length ${len}${items.length ? ` ending ${items[0].d}` : ''}`, 'array', { sparse: len, items, coerceFails })
    }
    const n = r.int(maxLen + 1)
    const items = Array.from({ length: n }, item)
    const a = items.map((t) => t.v)
    if (shape === 'holes' && n > 0) {
      const i = r.int(n)
      delete a[i]
      items[i] = tag(undefined, '<hole>', 'undefined')
    }
    if (shape === 'extra') a.extra = 'x'
    const hostile = items.some((t) => t.hostile)
    const foreign = items.some((t) => t.foreign)
    const coerceFails = items.some(failsString)
    return tag(a, `[${items.map((t) => t.d).join(', ')}]`, 'array', { items, hostile, foreign, coerceFails })
  }

  typed() {
    const r = this.rng
    const n = r.pick([0, 1, 3, 8, 1000])
    const fill = (ta) => {
      for (let i = 0; i < ta.length; i++) ta[i] = typeof ta[0] === 'bigint' ? BigInt(r.int(1000)) : r.pick([0, 1, -1, 0.5, NaN, Infinity, 1e20, r.int(100)])
      return ta
    }
    const name = r.pick(['Float64Array', 'Float32Array', 'Int32Array', 'Uint32Array', 'Uint8Array', 'Uint8ClampedArray', 'Int8Array',
      'Int16Array', 'Uint16Array', 'BigInt64Array', 'BigUint64Array', 'DataView', 'ArrayBuffer', 'Buffer', 'detached', 'shared', 'offset'])
    switch (name) {
      case 'DataView': return tag(new DataView(new ArrayBuffer(n * 8)), `DataView(${n * 8})`, 'exotic')
      case 'ArrayBuffer': return tag(new ArrayBuffer(n * 8), `ArrayBuffer(${n * 8})`, 'exotic')
      case 'Buffer': return tag(this.hooks.track(fill(Buffer.alloc(n))), `Buffer(${n})`, 'typed', { ta: 'Uint8Array', len: n })
      case 'detached': {
        const ta = new Float64Array(n)
        structuredClone(ta.buffer, { transfer: [ta.buffer] })
        return tag(ta, 'detached Float64Array', 'typed', { ta: 'Float64Array', len: 0, coerceFails: true })
      }
      case 'shared': return tag(fill(new Float64Array(new SharedArrayBuffer(n * 8))), `Float64Array(${n}) on a SharedArrayBuffer`, 'typed', { ta: 'Float64Array', len: n })
      case 'offset': {
        const ta = this.hooks.track(fill(new Float64Array(n + 2)).subarray(1, n + 1))
        return tag(ta, `Float64Array(${n}) at offset 8`, 'typed', { ta: 'Float64Array', len: n })
      }
      default: return tag(this.hooks.track(fill(new globalThis[name](n))), `${name}(${n})`, 'typed', { ta: name, len: n })
    }
  }

  /** A plain object with random fields (named like the spec's, so they reach deeper code). */
  object(depth = 0, fields = {}) {
    const r = this.rng
    const f = { ...fields }
    const n = r.int(5)
    for (let i = 0; i < n; i++) f[r.pick(FIELDS)] = this.any(depth + 1)
    return this.fromFields(f, r.chance(0.1))
  }

  /** A plain object (or a null-prototype one) with these tagged fields. */
  fromFields(f, nullProto = false) {
    const o = nullProto ? Object.create(null) : {}
    for (const [k, t] of Object.entries(f)) o[k] = t.v
    const ts = Object.values(f)
    const d = `${nullProto ? 'Object.create(null) ' : ''}{ ${Object.entries(f).map(([k, t]) => `${k}: ${t.d}`).join(', ')} }`
    return tag(o, d, 'object', {
      f,
      nullProto,
      coerceFails: nullProto,
      hostile: ts.some((t) => t.hostile),
      foreign: ts.some((t) => t.foreign),
    })
  }

  /** Objects that are not plain: builtins, boxed primitives, odd prototypes, deep chains. */
  exotic(depth) {
    const r = this.rng
    return r.pick([
      () => tag(new Date(r.int(2e12)), 'new Date(…)', 'exotic'),
      () => tag(new Date(NaN), 'new Date(NaN)', 'exotic'),
      () => tag(new Map([['run_id', 'r0']]), 'new Map(…)', 'exotic'),
      () => tag(new Set([1]), 'new Set([1])', 'exotic'),
      () => tag(new WeakMap(), 'new WeakMap()', 'exotic'),
      () => tag(/x/g, '/x/g', 'exotic'),
      () => tag(new Error('an argument'), "new Error('an argument')", 'exotic'),
      () => tag(Promise.resolve(1), 'Promise.resolve(1)', 'exotic'),
      () => tag(new String('r0'), "new String('r0')", 'exotic'),
      () => tag(new Number(1), 'new Number(1)', 'exotic'),
      () => tag(new Boolean(false), 'new Boolean(false)', 'exotic'),
      () => tag(Object(1n), 'Object(1n)', 'exotic'),
      () => tag(globalThis, 'globalThis', 'exotic', { hostile: true }),
      () => tag(Object.create(null), 'Object.create(null)', 'object', { f: {}, nullProto: true, coerceFails: true }),
      () => tag({ toString: () => ({}) }, '{ toString: () => ({}) }', 'object', { f: {}, coerceFails: true, hostile: true }),
      () => tag({ [Symbol.toPrimitive]: () => 'r0' }, "{ [Symbol.toPrimitive]: () => 'r0' }", 'object', { f: {}, hostile: true }),
      () => {
        let deep = {}
        const top = deep
        for (let i = 0; i < 10000; i++) deep = deep.next = {}
        return tag(top, '{ next: { next: … 10000 deep } }', 'object', { f: { next: tag(top.next, '{…}', 'object', { f: {}, deep: true }) }, deep: true })
      },
      () => this.array(() => this.any(depth + 1), 3),
    ])()
  }

  /**
   * A value that runs the caller's code when read: getters and proxies that throw a sentinel,
   * return a different value on each read, re-enter the store, close it, or detach buffers.
   */
  hostile(inner) {
    const r = this.rng
    const h = this.hooks
    const once = inner()
    const later = inner()
    const which = r.pick(['throwGetter', 'flipGetter', 'closeGetter', 'detachGetter', 'reenterGetter', 'throwProxy', 'proxy', 'revoked', 'toStringThrows', 'indexGetter'])
    const key = r.pick(FIELDS)
    const sentinel = r.pick(SENTINELS)
    const hostile = { hostile: true }
    switch (which) {
      case 'throwGetter':
        return tag(Object.defineProperty({}, key, { get() { throw sentinel }, enumerable: true }), `{ get ${key}() { throw } }`, 'object', { f: {}, ...hostile })
      case 'flipGetter': {
        let n = 0
        return tag(Object.defineProperty({}, key, { get: () => (n++ % 2 ? later.v : once.v), enumerable: true }), `{ get ${key}() { ${once.d} / ${later.d} } }`, 'object', { f: {}, ...hostile })
      }
      case 'closeGetter':
        return tag(Object.defineProperty({}, key, { get: () => (h.closeCurrent(), once.v), enumerable: true }), `{ get ${key}() { store.close(); return ${once.d} } }`, 'object', { f: {}, ...hostile })
      case 'detachGetter':
        return tag(Object.defineProperty({}, key, { get: () => (h.detachAll(), once.v), enumerable: true }), `{ get ${key}() { detach buffers; return ${once.d} } }`, 'object', { f: {}, ...hostile })
      case 'reenterGetter':
        return tag(Object.defineProperty({}, key, { get: () => (h.reenter(), once.v), enumerable: true }), `{ get ${key}() { re-enter; return ${once.d} } }`, 'object', { f: {}, ...hostile })
      case 'throwProxy':
        return tag(new Proxy({}, { get() { throw sentinel }, has() { throw sentinel }, ownKeys() { throw sentinel }, getOwnPropertyDescriptor() { throw sentinel }, getPrototypeOf() { throw sentinel } }),
          'Proxy(all traps throw)', 'object', { f: {}, ...hostile })
      case 'proxy':
        return tag(new Proxy(r.chance(0.5) ? [once.v] : { [key]: once.v }, {}), `Proxy(${once.d})`, 'object', { f: {}, ...hostile })
      case 'revoked': {
        const { proxy, revoke } = Proxy.revocable({}, {})
        revoke()
        return tag(proxy, 'revoked Proxy', 'object', { f: {}, ...hostile, foreign: true })
      }
      case 'toStringThrows':
        return tag({ toString() { throw sentinel }, valueOf() { throw sentinel } }, '{ toString() { throw } }', 'object', { f: {}, coerceFails: true, ...hostile })
      default: {
        const a = [once.v]
        Object.defineProperty(a, 0, { get() { throw sentinel } })
        return tag(a, '[get 0() { throw }]', 'array', { items: [once], ...hostile })
      }
    }
  }
}

module.exports = { Rng, Values, SENTINELS, tag, failsString }
