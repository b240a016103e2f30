'use strict'
// The crash-recovery autosave: `store.recovery.autosave(getState, options)` saves `getState()`
// through the native `save` (which writes only when the state changed) every `intervalMs`,
// `debounceMs` after the last `touch()`, on `stop()` and when the process exits: the sidepanel
// spec's 30 s autosave, 5 s debounced save and save on unload. Its timers are unref'd, so an
// autosave never keeps the process alive; `stop()` removes the exit hook.

/** Where the first instance of this file in a process marks RecoveryStore as done. */
const INSTALLED = Symbol.for('stowage.recoveryAutosave')

function describe(v) {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  return typeof v === 'object' || typeof v === 'function' ? `a ${typeof v}` : `${typeof v} ${String(v)}`
}

/** `options[name]`: a finite number of milliseconds ≥ `min`, or `fallback` when absent. */
function milliseconds(coded, options, name, fallback, min) {
  const v = options[name]
  if (v === undefined || v === null) return fallback
  if (typeof v !== 'number') throw coded(TypeError, 'ERR_INVALID_ARG_TYPE', `autosave: options.${name} must be a number; received ${describe(v)}`)
  if (!Number.isFinite(v) || v < min || v > 2 ** 31 - 1) {
    throw coded(RangeError, 'ERR_OUT_OF_RANGE', `autosave: options.${name} must be a number of milliseconds from ${min} to 2^31-1; received ${v}`)
  }
  return v
}

/** Installs `autosave` on RecoveryStore; `coded(Ctor, code, message)` makes index.js's errors. */
module.exports = function installAutosave(RecoveryStore, coded) {
  if (Object.hasOwn(RecoveryStore.prototype, INSTALLED)) return
  Object.defineProperty(RecoveryStore.prototype, INSTALLED, { value: true })
  Object.defineProperty(RecoveryStore.prototype, 'autosave', {
    configurable: true,
    writable: true,
    value: function autosave(getState, options) {
      if (!(this instanceof RecoveryStore)) {
        const received = this === null ? 'null' : typeof this
        throw coded(TypeError, 'ERR_INVALID_THIS', `RecoveryStore.autosave: \`this\` must be a RecoveryStore made by stowage; received ${received}`)
      }
      if (typeof getState !== 'function') {
        throw coded(TypeError, 'ERR_INVALID_ARG_TYPE', `autosave: getState must be a function; received ${describe(getState)}`)
      }
      const o = options === undefined || options === null ? {} : options
      if (typeof o !== 'object' || Array.isArray(o)) {
        throw coded(TypeError, 'ERR_INVALID_ARG_TYPE', `autosave: options must be an object; received ${describe(o)}`)
      }
      const intervalMs = milliseconds(coded, o, 'intervalMs', 30_000, 1)
      const debounceMs = milliseconds(coded, o, 'debounceMs', 5_000, 0)
      const onError = o.onError
      if (onError !== undefined && onError !== null && typeof onError !== 'function') {
        throw coded(TypeError, 'ERR_INVALID_ARG_TYPE', `autosave: options.onError must be a function; received ${describe(onError)}`)
      }
      return start(this, getState, intervalMs, debounceMs, onError || null)
    },
  })
}

/** The running autosave of `recovery`. */
function start(recovery, getState, intervalMs, debounceMs, onError) {
  let stopped = false
  let debounce = null

  const saveNow = () => {
    const state = getState()
    return state === undefined ? false : recovery.save(state)
  }
  /** A save of a timer or of the exit hook: its failure goes to `onError` (or a warning); a
   * closed store ends the autosave. */
  const attempt = () => {
    try {
      saveNow()
    } catch (err) {
      if (err instanceof Error && err.code === 'ERR_CLOSED') halt()
      else if (onError !== null) onError(err)
      else process.emitWarning(err instanceof Error ? err : new Error(`autosave: a save failed: ${String(err)}`))
    }
  }
  const onExit = () => {
    if (halt()) attempt()
  }
  const interval = setInterval(attempt, intervalMs)
  interval.unref()
  process.on('exit', onExit)

  /** Ends the timers and the exit hook; false when they had ended already. */
  function halt() {
    if (stopped) return false
    stopped = true
    clearInterval(interval)
    if (debounce !== null) clearTimeout(debounce)
    debounce = null
    process.removeListener('exit', onExit)
    return true
  }

  return {
    touch() {
      if (stopped) return
      if (debounce !== null) clearTimeout(debounce)
      debounce = setTimeout(() => {
        debounce = null
        attempt()
      }, debounceMs)
      debounce.unref()
    },
    stop() {
      return halt() ? saveNow() : false
    },
  }
}
