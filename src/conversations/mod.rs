//! `ConversationStore`: the opencode sidepanel's chat sessions, messages, forks, search and
//! archives (`store.conversations`). Objects are camelCase; `toolCalls` comes back parsed.

mod archive;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use stowage_core::conversations::{
    Branch, Conversations, Fork, ListMessages, ListSessions, Message, NewMessage, NewSession,
    SearchHit, SearchOptions, Session, SessionPatch,
};

use crate::handle::Handle;
use crate::js::{at, opt_options, Js, Raw, Val};
use crate::stores::{member, Binding};

/// The conversations store's binding: `store.conversations`; the store has no options.
pub(crate) const BINDING: Binding = Binding {
    store: "conversations",
    config: None,
    members: |env, handle| {
        Ok(vec![(
            "conversations",
            member(
                env,
                ConversationStore {
                    handle: handle.clone(),
                },
            )?,
        )])
    },
};

/// Chat sessions with messages numbered by `sequence`, forks (branches) taken at a message,
/// full-text search and one-session archives (`.json.gz`). Timestamps are ISO 8601 text
/// (`2026-05-01T12:00:00.000Z`).
#[napi]
pub struct ConversationStore {
    pub(crate) handle: Handle,
}

pub(crate) fn opt_string(js: Js, s: Option<&str>) -> Result<Val> {
    s.map_or_else(|| js.null(), |s| js.string(s))
}

pub(crate) fn opt_number(js: Js, x: Option<f64>) -> Result<Val> {
    x.map_or_else(|| js.null(), |x| js.number(x))
}

fn session_object(js: Js, s: &Session) -> Result<Val> {
    let o = js.object_new()?;
    js.set_named(o, "id", js.string(&s.id)?)?;
    js.set_named(o, "title", js.string(&s.title)?)?;
    js.set_named(o, "createdAt", js.string(&s.created_at)?)?;
    js.set_named(o, "updatedAt", js.string(&s.updated_at)?)?;
    js.set_named(o, "model", js.string(&s.model)?)?;
    js.set_named(o, "provider", js.string(&s.provider)?)?;
    js.set_named(o, "branchName", js.string(&s.branch_name)?)?;
    let parent = opt_string(js, s.parent_session_id.as_deref())?;
    js.set_named(o, "parentSessionId", parent)?;
    let point = opt_number(js, s.branch_point.map(|n| n as f64))?;
    js.set_named(o, "branchPoint", point)?;
    js.set_named(o, "promptTokens", js.number(s.prompt_tokens as f64)?)?;
    js.set_named(
        o,
        "completionTokens",
        js.number(s.completion_tokens as f64)?,
    )?;
    js.set_named(o, "cost", js.number(s.cost)?)?;
    js.set_named(o, "isArchived", js.boolean(s.is_archived)?)?;
    js.set_named(o, "isImported", js.boolean(s.is_imported)?)?;
    Ok(o)
}

/// The builder of a message object: its fields in order, `toolCalls` as JSON text or `null`.
const MESSAGE_SOURCE: &str = "(function (id, sessionId, role, content, createdAt, promptTokens, \
     completionTokens, sequence, cost, toolCalls) { return { id: id, sessionId: sessionId, \
     role: role, content: content, createdAt: createdAt, promptTokens: promptTokens, \
     completionTokens: completionTokens, sequence: sequence, cost: cost, \
     toolCalls: toolCalls === null ? null : JSON.parse(toolCalls) }; })";

/// The message as a JS object, made by one call of a JS function (a fixed-shape literal)
/// rather than one Node-API call per property.
fn message_object(js: Js, m: &Message) -> Result<Val> {
    let make = crate::rows::compiled(js, "conversations:message", || MESSAGE_SOURCE.into())?;
    let args = [
        js.string(&m.id)?,
        js.string(&m.session_id)?,
        js.string(&m.role)?,
        js.string(&m.content)?,
        js.string(&m.created_at)?,
        opt_number(js, m.prompt_tokens.map(|n| n as f64))?,
        opt_number(js, m.completion_tokens.map(|n| n as f64))?,
        js.number(m.sequence as f64)?,
        opt_number(js, m.cost)?,
        opt_string(js, m.tool_calls.as_deref())?,
    ];
    js.call(make, &args)
}

fn branch_object(js: Js, b: &Branch) -> Result<Val> {
    let o = js.object_new()?;
    js.set_named(o, "session", session_object(js, &b.session)?)?;
    let below = js.array(b.branches.iter().map(|x| branch_object(js, x)))?;
    js.set_named(o, "branches", below)?;
    Ok(o)
}

fn hit_object(js: Js, h: &SearchHit) -> Result<Val> {
    let o = js.object_new()?;
    js.set_named(o, "message", message_object(js, &h.message)?)?;
    js.set_named(o, "snippet", js.string(&h.snippet)?)?;
    js.set_named(o, "rank", js.number(h.rank)?)?;
    Ok(o)
}

/// A count argument (limit, offset): an integer ≥ `min`, or `None` when absent.
pub(crate) fn count(js: Js, o: Val, key: &str, f: &str, min: i64) -> Result<Option<i64>> {
    let arg = format!("options.{key}");
    let n = js.opt_int(js.get(o, key)?, at(f, &arg))?;
    if n.is_some_and(|n| n < min) {
        return Err(js.range_error(at(f, &arg), &format!("must be at least {min}")));
    }
    Ok(n)
}

/// The most tool calls one message may have (a sparse array can claim billions, which
/// `JSON.stringify` would spend minutes writing as `null`s).
const MAX_TOOL_CALLS: u32 = 1 << 16;

/// `message` of `appendMessage`.
fn message_input(js: Js, v: Val) -> Result<NewMessage> {
    let f = "appendMessage";
    let o = js.object(v, at(f, "message"))?;
    let arg = |key: &str| format!("message.{key}");
    let int = |key: &str| js.opt_int(js.get(o, key)?, at(f, &arg(key)));
    let calls = js.get(o, "toolCalls")?;
    let tool_calls = if js.is_nullish(calls)? {
        None
    } else if js.is_array(calls)? {
        let len = js.array_len(calls)?;
        if len > MAX_TOOL_CALLS {
            return Err(js.range_error(
                at(f, "message.toolCalls"),
                &format!("has {len} items; a message may have at most {MAX_TOOL_CALLS}"),
            ));
        }
        Some(js.json_text(calls, at(f, "message.toolCalls"))?)
    } else {
        return Err(js.type_error(at(f, "message.toolCalls"), "an array or null", calls));
    };
    Ok(NewMessage {
        role: js.str(js.get(o, "role")?, at(f, "message.role"))?,
        content: js.str(js.get(o, "content")?, at(f, "message.content"))?,
        tool_calls,
        prompt_tokens: int("promptTokens")?,
        completion_tokens: int("completionTokens")?,
        cost: js.opt_num(js.get(o, "cost")?, at(f, "message.cost"))?,
    })
}

/// `patch` of `updateSession`: its known fields; another key is `ERR_INVALID_ARG`.
fn patch_input(js: Js, v: Val) -> Result<SessionPatch> {
    let f = "updateSession";
    let o = js.object(v, at(f, "patch"))?;
    const KEYS: [&str; 4] = ["title", "model", "provider", "branchName"];
    if let Some(k) = js
        .keys(o, at(f, "patch"))?
        .into_iter()
        .find(|k| !KEYS.contains(&k.as_str()))
    {
        return Err(js.core(stowage_core::Error::InvalidArg(format!(
            "{f}: patch.{k} cannot be changed (a patch may set {})",
            KEYS.join(", ")
        ))));
    }
    let opt = |key: &str| js.opt_str(js.get(o, key)?, at(f, &format!("patch.{key}")));
    Ok(SessionPatch {
        title: opt("title")?,
        model: opt("model")?,
        provider: opt("provider")?,
        branch_name: opt("branchName")?,
    })
}

impl ConversationStore {
    fn run<T>(
        &self,
        js: Js,
        f: impl FnOnce(Conversations<'_>) -> stowage_core::Result<T>,
    ) -> Result<T> {
        self.handle.with(js, |db| f(db.conversations()?))
    }

    fn session_or_null(js: Js, s: Option<Session>) -> Result<Raw> {
        match s {
            Some(s) => session_object(js, &s).map(Raw),
            None => js.null().map(Raw),
        }
    }
}

#[napi]
impl ConversationStore {
    /// Throws `ERR_ILLEGAL_CONSTRUCTOR`: a `ConversationStore` is `openStore(path, { stores:
    /// ['conversations'] }).conversations`.
    #[napi(constructor, skip_typescript)]
    pub fn new(env: Env) -> Result<Self> {
        Err(Js(env.raw()).illegal_constructor(
            "ConversationStore",
            "use openStore(path, { stores: ['conversations'] }).conversations",
        ))
    }

    /// Creates a session without messages (`provider` defaults to `'venice'`, `branchName` is
    /// `'main'`, `id` a new random one) and returns it. A taken `id` is
    /// `SQLITE_CONSTRAINT_PRIMARYKEY`; an empty title or model `ERR_INVALID_ARG`.
    #[napi(
        catch_unwind,
        ts_args_type = "session: NewConversationSession",
        ts_return_type = "ConversationSession"
    )]
    pub fn create_session(&self, env: Env, session: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let f = "createSession";
        let o = js.object(session.raw(), at(f, "session"))?;
        let input = NewSession {
            title: js.str(js.get(o, "title")?, at(f, "session.title"))?,
            model: js.str(js.get(o, "model")?, at(f, "session.model"))?,
            provider: js.opt_str(js.get(o, "provider")?, at(f, "session.provider"))?,
            id: js.opt_str(js.get(o, "id")?, at(f, "session.id"))?,
        };
        let s = self.run(js, |c| c.create_session(&input))?;
        session_object(js, &s).map(Raw)
    }

    /// The session `id`, or `null`.
    #[napi(
        catch_unwind,
        ts_args_type = "id: string",
        ts_return_type = "ConversationSession | null"
    )]
    pub fn get_session(&self, env: Env, id: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let id = js.str(id.raw(), at("getSession", "id"))?;
        Self::session_or_null(js, self.run(js, |c| c.get_session(&id))?)
    }

    /// Sessions, most recently updated first. `archived: true`/`false` keeps only archived or
    /// unarchived ones (both by default); `search` keeps those whose title contains it (ASCII
    /// letters case-insensitive); `limit` and `offset` page the list.
    #[napi(
        catch_unwind,
        ts_args_type = "options?: { archived?: boolean; search?: string; limit?: number; offset?: number }",
        ts_return_type = "ConversationSession[]"
    )]
    pub fn list_sessions(&self, env: Env, options: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let f = "listSessions";
        let mut q = ListSessions::default();
        if let Some(o) = opt_options(js, options.raw(), f)? {
            q.archived = js.opt_bool(js.get(o, "archived")?, at(f, "options.archived"))?;
            q.search = js.opt_str(js.get(o, "search")?, at(f, "options.search"))?;
            q.limit = count(js, o, "limit", f, 0)?;
            q.offset = count(js, o, "offset", f, 0)?.unwrap_or(0);
        }
        let list = self.run(js, |c| c.list_sessions(&q))?;
        js.array(list.iter().map(|s| session_object(js, s)))
            .map(Raw)
    }

    /// Sets the patch's fields (`title`, `model`, `provider`, `branchName`; another key is
    /// `ERR_INVALID_ARG`), bumps `updatedAt` and returns the session. `ERR_NOT_FOUND` when
    /// there is no session `id`.
    #[napi(
        catch_unwind,
        ts_args_type = "id: string, patch: ConversationSessionPatch",
        ts_return_type = "ConversationSession"
    )]
    pub fn update_session(&self, env: Env, id: Unknown<'_>, patch: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let id = js.str(id.raw(), at("updateSession", "id"))?;
        let patch = patch_input(js, patch.raw())?;
        let s = self.run(js, |c| c.update_session(&id, &patch))?;
        session_object(js, &s).map(Raw)
    }

    /// Archives (`true`) or unarchives (`false`) the session; its `updatedAt` stays.
    /// `ERR_NOT_FOUND` when there is no session `id`.
    #[napi(catch_unwind, ts_args_type = "id: string, archived: boolean")]
    pub fn archive_session(&self, env: Env, id: Unknown<'_>, archived: Unknown<'_>) -> Result<()> {
        let js = Js(env.raw());
        let f = "archiveSession";
        let id = js.str(id.raw(), at(f, "id"))?;
        let v = archived.raw();
        let archived = js
            .opt_bool(v, at(f, "archived"))?
            .ok_or_else(|| js.type_error(at(f, "archived"), "a boolean", v))?;
        self.run(js, |c| c.archive_session(&id, archived))
    }

    /// Deletes the session and its messages. Its forks stay, without a parent
    /// (`parentSessionId: null`). `ERR_NOT_FOUND` when there is no session `id`.
    #[napi(catch_unwind, ts_args_type = "id: string")]
    pub fn delete_session(&self, env: Env, id: Unknown<'_>) -> Result<()> {
        let js = Js(env.raw());
        let id = js.str(id.raw(), at("deleteSession", "id"))?;
        self.run(js, |c| c.delete_session(&id))
    }

    /// Appends a message with the session's next `sequence` (1, 2, 3, …: no gap and no
    /// duplicate, even with several processes appending), adds its tokens and cost to the
    /// session and bumps its `updatedAt`, in one transaction; returns the message.
    /// `toolCalls` is an array (stored as JSON). `ERR_NOT_FOUND` when there is no session.
    #[napi(
        catch_unwind,
        ts_args_type = "sessionId: string, message: NewConversationMessage",
        ts_return_type = "ConversationMessage"
    )]
    pub fn append_message(
        &self,
        env: Env,
        session_id: Unknown<'_>,
        message: Unknown<'_>,
    ) -> Result<Raw> {
        let js = Js(env.raw());
        let id = js.str(session_id.raw(), at("appendMessage", "sessionId"))?;
        let m = message_input(js, message.raw())?;
        let m = self.run(js, |c| c.append_message(&id, &m))?;
        message_object(js, &m).map(Raw)
    }

    /// The session's messages by sequence: those after `afterSequence`, at most `limit`.
    #[napi(
        catch_unwind,
        ts_args_type = "sessionId: string, options?: { afterSequence?: number; limit?: number }",
        ts_return_type = "ConversationMessage[]"
    )]
    pub fn list_messages(
        &self,
        env: Env,
        session_id: Unknown<'_>,
        options: Unknown<'_>,
    ) -> Result<Raw> {
        let js = Js(env.raw());
        let f = "listMessages";
        let id = js.str(session_id.raw(), at(f, "sessionId"))?;
        let mut q = ListMessages::default();
        if let Some(o) = opt_options(js, options.raw(), f)? {
            q.after_sequence =
                js.opt_int(js.get(o, "afterSequence")?, at(f, "options.afterSequence"))?;
            q.limit = count(js, o, "limit", f, 0)?;
        }
        let rows = self.run(js, |c| c.list_messages_rows(&id, &q))?;
        crate::rows::objects_json(js, &rows, &["toolCalls"]).map(Raw)
    }

    /// Forks session `id` at message `atSequence`: a new session (`parentSessionId` = `id`,
    /// `branchPoint` = `atSequence`, `branchName` default `branch-<n>`, `title` default the
    /// parent's) holding copies of messages 1..`atSequence` with new ids, its totals those of
    /// the copies. `ERR_NOT_FOUND` when there is no such session or message.
    #[napi(
        catch_unwind,
        ts_args_type = "id: string, options: { atSequence: number; branchName?: string; title?: string }",
        ts_return_type = "ConversationSession"
    )]
    pub fn fork_session(&self, env: Env, id: Unknown<'_>, options: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let f = "forkSession";
        let id = js.str(id.raw(), at(f, "id"))?;
        let o = js.object(options.raw(), at(f, "options"))?;
        let seq = js.get(o, "atSequence")?;
        let fork = Fork {
            at_sequence: js
                .opt_int(seq, at(f, "options.atSequence"))?
                .ok_or_else(|| js.type_error(at(f, "options.atSequence"), "an integer", seq))?,
            branch_name: js.opt_str(js.get(o, "branchName")?, at(f, "options.branchName"))?,
            title: js.opt_str(js.get(o, "title")?, at(f, "options.title"))?,
        };
        let s = self.run(js, |c| c.fork_session(&id, &fork))?;
        session_object(js, &s).map(Raw)
    }

    /// The forks below session `id`, each `{ session, branches }` with its own forks, oldest
    /// first. `ERR_NOT_FOUND` when there is no session `id`.
    #[napi(
        catch_unwind,
        ts_args_type = "id: string",
        ts_return_type = "ConversationBranch[]"
    )]
    pub fn get_branches(&self, env: Env, id: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let id = js.str(id.raw(), at("getBranches", "id"))?;
        let tree = self.run(js, |c| c.get_branches(&id))?;
        js.array(tree.iter().map(|b| branch_object(js, b))).map(Raw)
    }

    /// Full-text search over the messages' content, best bm25 match first, each hit
    /// `{ message, snippet, rank }` with up to 16 words around the matches, each match wrapped
    /// in `highlight` (default `['<mark>', '</mark>']`; the snippet is not HTML-escaped).
    /// The query's words are matched as written (any characters; all of them required), unless
    /// `raw: true`, which takes FTS5 syntax (`OR`, `NOT`, `"phrases"`, `prefix*`) and throws
    /// `ERR_SEARCH_SYNTAX` for a syntax error. `limit` defaults to 20.
    #[napi(
        catch_unwind,
        ts_args_type = "query: string, options?: { sessionId?: string; limit?: number; raw?: boolean; highlight?: [string, string] }",
        ts_return_type = "ConversationSearchHit[]"
    )]
    pub fn search_messages(
        &self,
        env: Env,
        query: Unknown<'_>,
        options: Unknown<'_>,
    ) -> Result<Raw> {
        let js = Js(env.raw());
        let f = "searchMessages";
        let query = js.str(query.raw(), at(f, "query"))?;
        let mut o = SearchOptions::default();
        if let Some(opts) = opt_options(js, options.raw(), f)? {
            o.session_id = js.opt_str(js.get(opts, "sessionId")?, at(f, "options.sessionId"))?;
            o.limit = count(js, opts, "limit", f, 1)?.unwrap_or(o.limit);
            o.raw = js
                .opt_bool(js.get(opts, "raw")?, at(f, "options.raw"))?
                .unwrap_or(false);
            let h = js.get(opts, "highlight")?;
            if !js.is_nullish(h)? {
                let pair = js.strings(h, at(f, "options.highlight"))?;
                let [open, close] = <[String; 2]>::try_from(pair)
                    .map_err(|_| js.type_error(at(f, "options.highlight"), "two strings", h))?;
                o.highlight = (open, close);
            }
        }
        let hits = self.run(js, |c| c.search_messages(&query, &o))?;
        js.array(hits.iter().map(|h| hit_object(js, h))).map(Raw)
    }
}
