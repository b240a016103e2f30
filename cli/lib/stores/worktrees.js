// The worktrees store (AIT42's worktree sessions) on the command line: sessions, show, search,
// and the import of AIT42's per-workspace JSON files.

import { CliError } from '../output.js'

const COLUMNS = ['id', 'type', 'status', 'task', 'instances', 'messages', 'updatedAt']

const row = (s) => ({ ...s, instances: s.instances.length, messages: s.chatHistory.length })

/** `stowage sessions`: every session of every workspace, newest update first. */
export function sessions(store, { state } = {}) {
  return { rows: store.worktrees.listSessions(state ? { status: state } : {}).map(row), columns: COLUMNS }
}

/** `stowage show`: one session by id, with its instances and chat history. */
export function show(store, key) {
  const found = store.worktrees.listSessions({ search: key }).find((s) => s.id === key)
  if (!found) throw new CliError('ERR_NOT_FOUND', `no worktree session with id '${key}'`)
  return found
}

/** `stowage search`: sessions whose task or id holds the text. */
export function search(store, query) {
  return { rows: store.worktrees.listSessions({ search: query }).map(row), columns: COLUMNS }
}

/** The legacy formats `stowage import` reads into this store. */
export const imports = {
  ait42: {
    what: "AIT42's per-workspace session JSON files (a folder such as ~/.ait42/sessions)",
    run: async (store, source, onProgress) => store.worktrees.importLegacyJson(source, { onProgress }),
  },
}
