// The chats store (etcode's and opencode's chat sessions) on the command line: sessions, show,
// and the import of opencode's JSON storage tree.

import { CliError } from '../output.js'

const COLUMNS = ['id', 'projectID', 'title', 'directory', 'messages', 'updated']

/** Every project's sessions, newest update first (`stowage sessions`; chats have no state). */
export function sessions(store, { state } = {}) {
  if (state) throw new CliError('ERR_USAGE', 'chat sessions have no state to filter by (--state)', { usage: true })
  const projects = store.query('SELECT DISTINCT project_id AS p FROM session ORDER BY p').map((r) => r.p)
  const rows = projects
    .flatMap((p) => store.chats.listSessions(p))
    .sort((a, b) => b.time.updated - a.time.updated)
    .map((s) => ({ ...s, messages: store.chats.listMessages(s.id).length, updated: new Date(s.time.updated).toISOString() }))
  return { rows, columns: COLUMNS }
}

/** `stowage show`: one session with its messages and their parts. */
export function show(store, key) {
  const session = store.chats.getSession(key)
  if (!session) throw new CliError('ERR_NOT_FOUND', `no chat session with id '${key}'`)
  return { ...session, messages: store.chats.listMessages(key, { withParts: true }) }
}

/** The legacy formats `stowage import` reads into this store. */
export const imports = {
  opencode: {
    what: "opencode's JSON storage tree (the folder holding project/, session/, message/, part/)",
    run: (store, source, onProgress) => store.chats.importLegacyJsonAsync(source, { layout: 'opencode', onProgress }),
  },
}
