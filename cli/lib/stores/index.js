// The session stores the CLI knows, by store name. A store adds its `sessions`/`show` commands
// (and `search`, and its legacy `imports`) with a module here and one line below.

import * as agents from './agents.js'
import * as chats from './chats.js'
import * as conversations from './conversations.js'
import * as worktrees from './worktrees.js'

export const SESSION_STORES = { agents, worktrees, chats, conversations }
