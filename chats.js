'use strict'
// The chats store's change events: `store.chats.onChange(listener)` delivers `{ type, properties }`
// with etcode's bus event names after each write commits. A write outside `store.transaction` is
// delivered when its call returns; inside one, the events wait for the outermost commit and are
// dropped with a level that rolls back (as are those of an `update…` whose callback throws, and
// of a call that fails). Events are delivered in commit order, each listener called in the order
// it subscribed; one that throws does not stop the others, and what it threw is rethrown from a
// microtask (an uncaught exception, never mistaken for a failed write, which it is not).

/** Where the first instance of this file in a process keeps what it installed on ChatStore. */
const INSTALLED = Symbol.for('stowage.chatEvents')

module.exports = function chatEvents(ChatStore) {
  if (Object.hasOwn(ChatStore.prototype, INSTALLED)) return ChatStore.prototype[INSTALLED]
  /** Per ChatStore: its listeners, the events not yet delivered, and the open levels. */
  const feeds = new WeakMap()

  function feedOf(chats) {
    let feed = feeds.get(chats)
    if (feed === undefined) {
      feed = { listeners: [], queue: [], depth: 0, delivering: false }
      feeds.set(chats, feed)
    }
    return feed
  }

  /** Opens a level on `feed`; returns where its events start. */
  function open(feed) {
    feed.depth++
    return feed.queue.length
  }

  /** Closes the level opened at `mark`: one that failed drops its events, the outermost one that
   * succeeded delivers them. */
  function close(feed, mark, ok) {
    feed.depth--
    if (!ok) feed.queue.length = mark
    else if (feed.depth === 0) deliver(feed)
  }

  /** Opens a level on each feed of `store`'s members (for `store.transaction`); `leave(ok)`
   * closes them. */
  function enter(store) {
    const held = Object.values(store)
      .filter((member) => member instanceof ChatStore)
      .map((member) => {
        const feed = feedOf(member)
        return { feed, mark: open(feed) }
      })
    return {
      leave(ok) {
        for (const { feed, mark } of held) close(feed, mark, ok)
      },
    }
  }

  function deliver(feed) {
    if (feed.delivering) return
    feed.delivering = true
    try {
      // A listener's own writes are queued behind the events already committed.
      for (let i = 0; i < feed.queue.length; i++) {
        const event = feed.queue[i]
        for (const listener of feed.listeners.slice()) {
          try {
            listener(event)
          } catch (err) {
            queueMicrotask(() => {
              throw err
            })
          }
        }
      }
    } finally {
      feed.queue.length = 0
      feed.delivering = false
    }
  }

  /** Runs one write of `chats` as a level whose events are `events(result)`. */
  function level(chats, run, events) {
    const feed = feedOf(chats)
    const mark = open(feed)
    let ok = false
    try {
      const result = run()
      for (const e of events(result)) feed.queue.push(e)
      ok = true
      return result
    } finally {
      close(feed, mark, ok)
    }
  }

  const event = (type, properties) => ({ type, properties })
  const when = (type) => (result) => (result === undefined ? [] : [event(type, result)])

  // Each write and the events it publishes, from its result, its arguments and what `before`
  // read first (etcode's names: `Message.update` publishes `message.created`, as etcode's does).
  const writes = {
    createSession: when('session.created'),
    touchSession: when('session.updated'),
    setSessionTitle: when('session.updated'),
    setSessionSummary: when('session.updated'),
    removeSession: (gone, [id]) => (gone ? [event('session.deleted', { id })] : []),
    createMessage: when('message.created'),
    updateMessage: when('message.created'),
    removeMessage: (gone, [id], sessionID) => (gone ? [event('message.deleted', { id, sessionID })] : []),
    createPart: when('part.updated'),
    updatePart: when('part.updated'),
    replaceTodos: (_, [sessionID], __, chats) => [event('todo.updated', { sessionID, todos: chats.getTodos(sessionID) })],
  }
  const before = {
    removeMessage: (chats, [id]) => (typeof id === 'string' ? chats.getMessage(id)?.sessionID : undefined),
  }
  const proto = ChatStore.prototype
  for (const [name, events] of Object.entries(writes)) {
    const native = proto[name]
    const read = before[name]
    proto[name] = {
      [name](...args) {
        if (!(this instanceof ChatStore)) return native.apply(this, args)
        const first = read === undefined ? undefined : read(this, args)
        return level(this, () => native.apply(this, args), (result) => events(result, args, first, this))
      },
    }[name]
  }

  /** True for a ChatStore made by stowage (not merely an object with its prototype): the
   * native methods check their receiver. */
  const getTodos = proto.getTodos
  const isChatStore = (x) => {
    if (!(x instanceof ChatStore)) return false
    try {
      getTodos.call(x, '')
    } catch (err) {
      return err.code !== 'ERR_INVALID_THIS'
    }
    return true
  }

  Object.defineProperty(proto, 'onChange', {
    configurable: true,
    writable: true,
    value: function onChange(listener) {
      if (!isChatStore(this)) {
        const err = new TypeError(`ChatStore.onChange: \`this\` must be a ChatStore made by stowage; received ${this === null ? 'null' : typeof this}`)
        err.code = 'ERR_INVALID_THIS'
        throw err
      }
      if (typeof listener !== 'function') {
        const err = new TypeError(`onChange: listener must be a function; received ${listener === null ? 'null' : typeof listener}`)
        err.code = 'ERR_INVALID_ARG_TYPE'
        throw err
      }
      const { listeners } = feedOf(this)
      const entry = (e) => listener(e)
      listeners.push(entry)
      return function unsubscribe() {
        const i = listeners.indexOf(entry)
        if (i >= 0) listeners.splice(i, 1)
      }
    },
  })

  const installed = { enter }
  Object.defineProperty(proto, INSTALLED, { value: installed })
  return installed
}
