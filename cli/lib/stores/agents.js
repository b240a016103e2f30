// The agents store (overstory's sessions) on the command line: sessions, show, import.

import { CliError } from '../output.js'

const LIST_COLUMNS = ['agentName', 'capability', 'state', 'taskId', 'runId', 'lastActivity', 'escalationLevel']

/** `stowage sessions`: every agent session, optionally only those in `state`. */
export function sessions(store, { state } = {}) {
  const rows = store.agents.getAll().filter((s) => !state || s.state === state)
  return { rows, columns: LIST_COLUMNS }
}

/** `stowage show`: one session by agent name or id. */
export function show(store, key) {
  const found = store.agents.getByName(key) ?? store.agents.getAll().find((s) => s.id === key)
  if (!found) throw new CliError('ERR_NOT_FOUND', `no agent session named or with id '${key}'`)
  return found
}

/** The legacy formats `stowage import` reads into this store. */
export const imports = {
  overstory: {
    what: "overstory's legacy sessions.json",
    run: (store, source, onProgress) => store.agents.importLegacyJsonAsync(source, { onProgress }),
  },
}
