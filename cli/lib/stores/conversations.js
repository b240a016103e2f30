// The conversations store (the sidepanel's chat sessions) on the command line: sessions, show
// and full-text search.

import { CliError } from '../output.js'

const COLUMNS = ['id', 'title', 'model', 'branchName', 'parentSessionId', 'cost', 'isArchived', 'updatedAt']

/** `stowage sessions`: newest update first; `--state archived` or `active`. */
export function sessions(store, { state } = {}) {
  if (state && state !== 'archived' && state !== 'active') {
    throw new CliError('ERR_USAGE', `conversation sessions are 'archived' or 'active' (--state), not '${state}'`, { usage: true })
  }
  const rows = store.conversations.listSessions(state ? { archived: state === 'archived' } : {})
  return { rows, columns: COLUMNS }
}

/** `stowage show`: one session with its messages in sequence. */
export function show(store, key) {
  const session = store.conversations.getSession(key)
  if (!session) throw new CliError('ERR_NOT_FOUND', `no conversation with id '${key}'`)
  return { ...session, messages: store.conversations.listMessages(key) }
}

/** `stowage search`: FTS5 over the messages, best first, with highlighted snippets. */
export function search(store, query) {
  const rows = store.conversations.searchMessages(query, { highlight: ['[', ']'] }).map((h) => ({
    sessionId: h.message.sessionId,
    sequence: h.message.sequence,
    role: h.message.role,
    snippet: h.snippet,
  }))
  return { rows, columns: ['sessionId', 'sequence', 'role', 'snippet'] }
}
