'use strict'
// stowage/etcode: etcode's persistence namespaces (`Database`, `Session`, `Message`, `Part`, plus
// `Todo` and `Permission` on their tables) with etcode's names, arguments and returned shapes,
// as a thin layer over the chats store (`store.chats`): every read and write is one call of a
// ChatStore method. The file is etcode's `etcode.db`, opened lazily on first use.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { openStore } = require('./index.js')

let store = null

/** The listeners of `onChange`, each with its subscription on the open store. */
const subscribers = new Set()

function subscribe(entry) {
  entry.off = store.chats.onChange(entry.listener)
}

/** etcode's `Global.Path.data/etcode.db`: under `$XDG_DATA_HOME/etcode`, else
 * `~/.local/share/etcode`. */
function defaultPath() {
  const data = process.env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share')
  return path.join(data, 'etcode', 'etcode.db')
}

function chats() {
  return Database.open().chats
}

const Database = {
  /** The file `open()` uses when given no path. */
  get Path() {
    return defaultPath()
  },
  /** Opens the file once (creating its folder), with the chats store; later calls return the same
   * store until `close()`. */
  open(file) {
    if (store === null) {
      const target = file === undefined ? defaultPath() : file
      if (typeof target !== 'string') {
        const err = new TypeError(`Database.open: path must be a string; received ${target === null ? 'null' : typeof target}`)
        err.code = 'ERR_INVALID_ARG_TYPE'
        throw err
      }
      fs.mkdirSync(path.dirname(path.resolve(target)), { recursive: true })
      store = openStore(target, { stores: ['chats'] })
      for (const entry of subscribers) subscribe(entry)
    }
    return store
  },
  /** Closes the file; the next call opens it again. */
  close() {
    if (store === null) return
    const open = store
    store = null
    open.close()
  },
  /** Runs `fn(store)` as one synchronous transaction (joining one already open). */
  transaction(fn) {
    return Database.open().transaction(fn)
  },
  /** Runs `fn(store)`, joining the transaction that is open, if any. */
  use(fn) {
    return fn(Database.open())
  },
}

// ---- objects as etcode's fromRow builds them ----------------------------------------------

function message(m) {
  if (m === undefined) return undefined
  const base = { id: m.id, sessionID: m.sessionID }
  if (m.role === 'user') return { ...base, role: 'user', content: m.content, time: m.time }
  return { ...base, role: 'assistant', finish: m.finish, error: m.error, summary: m.summary, agent: m.agent, tokens: m.tokens, time: m.time }
}

/** etcode's `toData`: what it stores of a message. */
function messageData(m) {
  if (m.role === 'user') return { role: 'user', content: m.content, time: m.time }
  return { role: 'assistant', finish: m.finish, error: m.error, summary: m.summary, agent: m.agent, tokens: m.tokens, time: m.time }
}

function part(p) {
  if (p === undefined) return undefined
  const base = { id: p.id, messageID: p.messageID }
  switch (p.type) {
    case 'text':
      return { ...base, type: 'text', text: p.text }
    case 'step-start':
    case 'step-finish':
      return { ...base, type: p.type, snapshot: p.snapshot }
    case 'compaction':
      return { ...base, type: 'compaction', auto: p.auto ?? false }
    default:
      return { ...base, type: 'tool', tool: p.tool, callID: p.callID, state: p.state }
  }
}

/** etcode's `toData`: what it stores of a part. */
function partData(p) {
  switch (p.type) {
    case 'text':
      return { type: 'text', text: p.text }
    case 'step-start':
    case 'step-finish':
      return { type: p.type, snapshot: p.snapshot }
    case 'compaction':
      return { type: 'compaction', auto: p.auto }
    default:
      return { type: 'tool', tool: p.tool, callID: p.callID, state: p.state }
  }
}

/** `update(…, fn)` of etcode: `fn` mutates etcode's object, and what etcode's `toData` keeps of
 * it is stored, in the one transaction of the store's update. */
function updated(update, id, fn, fromStored, toData) {
  let object
  update(id, (draft) => {
    object = fromStored(draft)
    fn(object)
    for (const key of Object.keys(draft)) delete draft[key]
    Object.assign(draft, toData(object))
  })
  return object
}

const ofProject = (projectID) => (s) => (s !== undefined && s.projectID === projectID ? s : undefined)

const Session = {
  async create(input) {
    const s = chats().createSession(input)
    delete s.summary
    return s
  },
  get(projectID, id) {
    return chats().getSession(id, projectID)
  },
  list(projectID) {
    return chats().listSessions(projectID)
  },
  async touch(projectID, id) {
    return ofProject(projectID)(chats().touchSession(id))
  },
  async setTitle(projectID, id, title) {
    return ofProject(projectID)(chats().setSessionTitle(id, title))
  },
  async remove(_projectID, id) {
    chats().removeSession(id)
  },
  setSummary(input) {
    chats().setSessionSummary(input.sessionID, input.summary)
  },
}

const Message = {
  async create(_projectID, input) {
    const m = chats().createMessage(input)
    const base = { id: m.id, sessionID: m.sessionID, time: m.time }
    return m.role === 'user' ? { ...base, role: 'user', content: m.content } : { ...base, role: 'assistant', summary: input.summary, agent: input.agent }
  },
  get(_projectID, _sessionID, id) {
    return message(chats().getMessage(id))
  },
  list(_projectID, sessionID) {
    return chats().listMessages(sessionID).map(message)
  },
  update(_projectID, _sessionID, id, fn) {
    const c = chats()
    return updated((i, m) => c.updateMessage(i, m), id, fn, message, messageData)
  },
  async remove(_projectID, _sessionID, id) {
    chats().removeMessage(id)
  },
}

/** A `Part.create…` of etcode: the part it returns, as it builds it. */
function created(input, data) {
  const p = chats().createPart({ messageID: input.messageID, sessionID: input.sessionID, ...data })
  return { ...data, id: p.id, messageID: p.messageID }
}

const Part = {
  async createText(_projectID, input) {
    return created(input, { type: 'text', text: input.text })
  },
  async createTool(_projectID, input) {
    return created(input, { type: 'tool', tool: input.tool, callID: input.callID, state: input.state ?? { status: 'pending' } })
  },
  async createStepStart(_projectID, input) {
    return created(input, { type: 'step-start', snapshot: input.snapshot })
  },
  async createStepFinish(_projectID, input) {
    return created(input, { type: 'step-finish', snapshot: input.snapshot })
  },
  async createCompaction(_projectID, input) {
    return created(input, { type: 'compaction', auto: input.auto })
  },
  update(_projectID, _messageID, id, fn) {
    const c = chats()
    return updated((i, m) => c.updatePart(i, m), id, fn, part, partData)
  },
  get(_projectID, _messageID, id) {
    return part(chats().getPart(id))
  },
  list(_projectID, messageID) {
    return chats().listParts(messageID).map(part)
  },
}

const Todo = {
  /** Replaces the session's todo list (position = index) in one transaction. */
  update(sessionID, todos) {
    chats().replaceTodos(sessionID, todos)
  },
  get(sessionID) {
    return chats().getTodos(sessionID)
  },
}

const Permission = {
  get(projectID) {
    return chats().getPermission(projectID)
  },
  set(projectID, rules) {
    chats().setPermission(projectID, rules)
  },
}

/** etcode's `Bus.subscribeAll` for the storage events: `listener({ type, properties })` after
 * each write commits (see `store.chats.onChange`), on this file and on any opened after a
 * `close()`. Returns the function that unsubscribes. */
function onChange(listener) {
  if (typeof listener !== 'function') {
    const err = new TypeError(`onChange: listener must be a function; received ${listener === null ? 'null' : typeof listener}`)
    err.code = 'ERR_INVALID_ARG_TYPE'
    throw err
  }
  const entry = { listener, off: null }
  subscribers.add(entry)
  if (store !== null) subscribe(entry)
  return function unsubscribe() {
    subscribers.delete(entry)
    if (entry.off !== null) entry.off()
  }
}

module.exports = { Database, Session, Message, Part, Todo, Permission, onChange }
