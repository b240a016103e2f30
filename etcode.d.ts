/* stowage/etcode: etcode's persistence namespaces over the chats store (docs/chats.md). */
import type { ChatChange, ChatAssistantMessage, ChatPart, ChatPermissionRule, ChatSessionSummary, ChatTodo, ChatToolState, ChatUserMessage, StoreWith } from './index'

/** etcode's `Session.Info`. `agent` and `summary` are present and `undefined` when unset. */
export interface SessionInfo {
  id: string
  title: string
  projectID: string
  directory: string
  agent: string | undefined
  summary?: ChatSessionSummary | undefined
  time: { created: number; updated: number }
}

/** etcode's `Message.Info`: a user's message or an assistant's turn. */
export type MessageInfo = ChatUserMessage | ChatAssistantMessage

/** etcode's `Part.Info`. */
export type PartInfo = ChatPart

/** The store every function uses. */
export type EtcodeStore = StoreWith<'chats'>

/** etcode's `Database`: the lazily opened `etcode.db`. */
export declare const Database: {
  /** `$XDG_DATA_HOME/etcode/etcode.db`, else `~/.local/share/etcode/etcode.db`. */
  readonly Path: string
  /** Opens the file once (default {@link Database.Path}, its folder created); later calls return
   * the same store until `close()`. */
  open(path?: string): EtcodeStore
  /** Closes the file; the next call opens it again. */
  close(): void
  /** Runs `fn(store)` as one synchronous transaction, joining `store.transaction` when open. */
  transaction<T>(fn: (store: EtcodeStore) => T): T
  /** Runs `fn(store)`, joining the transaction that is open, if any. */
  use<T>(fn: (store: EtcodeStore) => T): T
}

/** etcode's `Session` namespace. */
export declare const Session: {
  /** A new session (`sess_…`, title `"New Session"` by default). */
  create(input: { projectID: string; directory: string; title?: string; agent?: string }): Promise<SessionInfo>
  /** `undefined` when missing or of another project. */
  get(projectID: string, id: string): SessionInfo | undefined
  /** The project's sessions, most recently updated first. */
  list(projectID: string): SessionInfo[]
  /** Bumps `time.updated`. */
  touch(projectID: string, id: string): Promise<SessionInfo | undefined>
  /** Sets the title and bumps `time.updated`. */
  setTitle(projectID: string, id: string, title: string): Promise<SessionInfo | undefined>
  /** Deletes the session, its messages, parts and todos. */
  remove(projectID: string, id: string): Promise<void>
  /** Sets the summary counters and bumps `time.updated`. */
  setSummary(input: { sessionID: string; summary: ChatSessionSummary }): void
}

/** etcode's `Message` namespace. */
export declare const Message: {
  /** A new user or assistant message (`msg_…`). */
  create(
    projectID: string,
    input: { sessionID: string; role: 'user'; content: string } | { sessionID: string; role: 'assistant'; summary?: boolean; agent?: string },
  ): Promise<MessageInfo>
  /** The message, or `undefined`. */
  get(projectID: string, sessionID: string, id: string): MessageInfo | undefined
  /** The session's messages, oldest first. */
  list(projectID: string, sessionID: string): MessageInfo[]
  /** Read, `fn(message)` and write in one transaction; a throwing `fn` changes nothing. */
  update(projectID: string, sessionID: string, id: string, fn: (draft: MessageInfo) => void): MessageInfo | undefined
  /** Deletes the message and its parts. */
  remove(projectID: string, sessionID: string, id: string): Promise<void>
}

/** What every `Part.create…` takes besides its own fields. */
type PartTarget = { messageID: string; sessionID?: string }

/** etcode's `Part` namespace. */
export declare const Part: {
  /** A text part. */
  createText(projectID: string, input: PartTarget & { text: string }): Promise<PartInfo>
  /** A tool part; `state` defaults to `{ status: 'pending' }`. */
  createTool(projectID: string, input: PartTarget & { tool: string; callID?: string; state?: ChatToolState }): Promise<PartInfo>
  /** A step-start marker. */
  createStepStart(projectID: string, input: PartTarget & { snapshot?: string }): Promise<PartInfo>
  /** A step-finish marker. */
  createStepFinish(projectID: string, input: PartTarget & { snapshot?: string }): Promise<PartInfo>
  /** A compaction marker. */
  createCompaction(projectID: string, input: PartTarget & { auto: boolean }): Promise<PartInfo>
  /** Read, `fn(part)` and write in one transaction; a throwing `fn` changes nothing. */
  update(projectID: string, messageID: string, id: string, fn: (draft: PartInfo) => void): PartInfo | undefined
  /** The part, or `undefined`. */
  get(projectID: string, messageID: string, id: string): PartInfo | undefined
  /** The message's parts, oldest first. */
  list(projectID: string, messageID: string): PartInfo[]
}

/** A session's todo list on the `todo` table. */
export declare const Todo: {
  /** Replaces the list (position = index) in one transaction. */
  update(sessionID: string, todos: ChatTodo[]): void
  /** The list, in order. */
  get(sessionID: string): Required<ChatTodo>[]
}

/** A project's permission rules on the `permission` table. */
export declare const Permission: {
  /** The rules, or `undefined`. */
  get(projectID: string): ChatPermissionRule[] | undefined
  /** Sets the rules. */
  set(projectID: string, rules: ChatPermissionRule[]): void
}

/** etcode's `Bus.subscribeAll` for the storage events: `listener({ type, properties })` after each
 * write commits, never for one rolled back (see `ChatStore.onChange`). Returns the function that
 * unsubscribes. */
export declare function onChange(listener: (event: ChatChange) => void): () => void
