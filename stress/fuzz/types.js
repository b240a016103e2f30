'use strict'
// Argument types of the JS surface, as the binding documents them. Each type can make a valid
// value (`gen`) and predict what the binding does with any tagged value (`check`): OK, a
// TypeError (TYPE), a RangeError (RANGE), ERR_INVALID_ARG (INVALID: a path with a NUL), or UNKNOWN
// when reading the value runs the caller's code.

const { tag } = require('./values.js')

const OK = 0
const TYPE = 1
const RANGE = 2
const UNKNOWN = 4
const INVALID = 8
const MAX_SAFE = 2 ** 53 - 1
/** The longest list the binding converts (a longer one is a RangeError): V8's dense array limit. */
const MAX_ITEMS = 2 ** 27

const nullish = (t) => t.k === 'undefined' || t.k === 'null'
const undef = () => tag(undefined, 'undefined', 'undefined')
/** Field `k` of an object's tag as the binding reads it: its own, or a method it inherits (a
 * `new String` has `search`, String.prototype's), else undefined. */
const field = (t, k) => {
  if (t.f && t.f[k]) return t.f[k]
  const inherited = t.v != null && !t.nullProto && !t.hostile ? t.v[k] : undefined
  return typeof inherited === 'function' ? tag(inherited, `inherited ${k}()`, 'function') : undef()
}
/** `!!v` for a tagged value (objects are truthy; primitives are read directly). */
const truthy = (t) => (t.k === 'undefined' || t.k === 'null' ? false : ['object', 'exotic', 'array', 'typed', 'function', 'symbol'].includes(t.k) || !!t.v)
const isObject = (t) => ['object', 'exotic', 'typed'].includes(t.k)
const NUMERIC_TYPED = ['Float64Array', 'Float32Array', 'Int32Array', 'Uint32Array', 'Uint8Array', 'Uint8ClampedArray', 'Int8Array', 'Int16Array', 'Uint16Array']

/** Checks `t` against `type`, UNKNOWN when reading it may run the caller's code. */
function check(type, t) {
  if (t.hostile || t.foreign) return UNKNOWN
  return type.check(t)
}

/** The items an array's conversion reads: the dense items, or the holes of a huge sparse one. */
function arrayItems(t, each) {
  if (t.sparse !== undefined) return t.sparse > MAX_ITEMS ? RANGE : each(undef()) | (t.items.length ? each(t.items[0]) : OK)
  return t.items.reduce((acc, it) => acc | check(each, it), OK)
}

const T = {
  /** A required string. */
  str: (gen) => ({ gen, check: (t) => (t.k === 'string' ? OK : TYPE) }),
  /** A file path: a string without NUL characters. */
  path: (gen) => ({ gen, check: (t) => (t.k !== 'string' ? TYPE : t.v.includes('\0') ? INVALID : OK) }),
  /** A string or null/undefined. */
  optStr: (gen) => ({ gen, check: (t) => (t.k === 'string' || nullish(t) ? OK : TYPE) }),
  /** A number, null/undefined, or a BigInt within ±(2^53−1). */
  num: (gen) => ({
    gen,
    check: (t) => {
      if (t.k === 'number' || nullish(t)) return OK
      if (t.k === 'bigint') return t.v >= -MAX_SAFE && t.v <= MAX_SAFE ? OK : RANGE
      return TYPE
    },
  }),
  /** An integer a JS number holds exactly (or a BigInt within range), or null/undefined. */
  int: (gen, required = false) => ({
    gen,
    check: (t) => {
      if (nullish(t)) return required ? TYPE : OK
      if (t.k === 'number') return Number.isInteger(t.v) && Math.abs(t.v) <= MAX_SAFE ? OK : RANGE
      if (t.k === 'bigint') return t.v >= -MAX_SAFE && t.v <= MAX_SAFE ? OK : RANGE
      return TYPE
    },
  }),
  /** Anything (a context that is ignored, a flag read for its truthiness). */
  any: (gen) => ({ gen, check: () => OK }),
  /** A function or null/undefined. */
  optFn: (gen) => ({ gen, check: (t) => (t.k === 'function' || nullish(t) ? OK : TYPE) }),
  /** An object (not an array, not a function) whose fields have these types. */
  obj: (fields, gen) => ({
    gen,
    fields,
    check: (t) => {
      if (!isObject(t)) return TYPE
      return Object.entries(fields).reduce((acc, [k, type]) => acc | check(type, field(t, k)), OK)
    },
  }),
  /** null/undefined, or an object as `obj`. */
  optObj: (fields, gen) => {
    const o = T.obj(fields, gen)
    return { ...o, check: (t) => (nullish(t) ? OK : o.check(t)) }
  },
  /** Any value whose fields are read if it has them (`integrityCheck(options)`). */
  fieldsOf: (fields, gen) => ({
    gen,
    fields,
    check: (t) => (t.k === 'object' ? Object.entries(fields).reduce((acc, [k, type]) => acc | check(type, field(t, k)), OK) : OK),
  }),
  /** An array of `item`. */
  arrayOf: (item, gen) => ({ gen, item, check: (t) => (t.k === 'array' ? arrayItems(t, item) : TYPE) }),
  /** null/undefined or an array of `item`. */
  optArrayOf: (item, gen) => ({ gen, item, check: (t) => (nullish(t) ? OK : t.k === 'array' ? arrayItems(t, item) : TYPE) }),
  /** A numeric typed array, or an array of numbers (null/undefined allowed). */
  numbers: (gen) => ({
    gen,
    check: (t) => {
      if (t.k === 'typed') return NUMERIC_TYPED.includes(t.ta) ? OK : TYPE
      return t.k === 'array' ? arrayItems(t, T.num()) : TYPE
    },
  }),
  /** `Array.from(v || [])`: falsy is an empty list, else `numbers`. */
  numbersOrEmpty: (gen) => ({ gen, check: (t) => (truthy(t) ? T.numbers().check(t) : OK) }),
  /** `String(v)` of a value: a Symbol or a value without a string form is a TypeError. */
  stringForm: { check: (t) => (t.k === 'symbol' || t.coerceFails ? TYPE : OK) },
  /** A sample index for `Number(v)`: number, BigInt, null, undefined, boolean or string. */
  coercible: { check: (t) => (['number', 'bigint', 'null', 'undefined', 'boolean', 'string'].includes(t.k) ? OK : TYPE) },
}

module.exports = { T, OK, TYPE, RANGE, UNKNOWN, INVALID, check, truthy, nullish, isObject, arrayItems, undef, NUMERIC_TYPED }
