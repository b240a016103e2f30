//! `ChatStore`: etcode's sessions, messages, parts, todos and permissions on one open file
//! (`store.chats`); `etcode.js` (the `stowage/etcode` drop-in) is a thin layer over it. Objects
//! have etcode's shapes and key names (`projectID`, `sessionID`, `messageID`); a message or
//! part is its stored JSON object with its ids, parsed once from text built in the core.

mod import;
mod parts;

use std::cell::Cell;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use stowage_core::chats::{Chats, NewMessage, NewSession, Session, Summary, Todo};

use crate::handle::Handle;
use crate::js::{at, Js, Raw, Val};
use crate::stores::{member, Binding};

/// The chats store's binding: `store.chats`.
pub(crate) const BINDING: Binding = Binding {
    store: "chats",
    config: None,
    members: |env, handle| {
        Ok(vec![(
            "chats",
            member(
                env,
                ChatStore {
                    handle: handle.clone(),
                },
            )?,
        )])
    },
};

/// etcode's chat sessions, messages, parts, todos and permissions (`store.chats`).
#[napi]
pub struct ChatStore {
    pub(crate) handle: Handle,
}

/// `undefined` or the string.
fn opt_string(js: Js, s: Option<&str>) -> Result<Val> {
    s.map_or_else(|| js.undefined(), |s| js.string(s))
}

/// etcode's `Session.Info`: `{ id, title, projectID, directory, agent, summary, time }`, with
/// `agent` and `summary` present and `undefined` when unset.
fn session_object(js: Js, s: &Session) -> Result<Val> {
    let o = js.object_new()?;
    js.set_named(o, "id", js.string(&s.id)?)?;
    js.set_named(o, "title", js.string(&s.title)?)?;
    js.set_named(o, "projectID", js.string(&s.project_id)?)?;
    js.set_named(o, "directory", js.string(&s.directory)?)?;
    js.set_named(o, "agent", opt_string(js, s.agent.as_deref())?)?;
    let summary = match s.summary {
        Some(sum) => {
            let m = js.object_new()?;
            js.set_named(m, "additions", js.number(sum.additions as f64)?)?;
            js.set_named(m, "deletions", js.number(sum.deletions as f64)?)?;
            js.set_named(m, "files", js.number(sum.files as f64)?)?;
            m
        }
        None => js.undefined()?,
    };
    js.set_named(o, "summary", summary)?;
    let time = js.object_new()?;
    js.set_named(time, "created", js.number(s.time_created as f64)?)?;
    js.set_named(time, "updated", js.number(s.time_updated as f64)?)?;
    js.set_named(o, "time", time)?;
    Ok(o)
}

fn opt_session(js: Js, s: Option<Session>) -> Result<Raw> {
    s.map_or_else(|| js.undefined(), |s| session_object(js, &s))
        .map(Raw)
}

/// The JS value of JSON text built in the core, or `undefined`.
fn opt_json(js: Js, text: Option<String>) -> Result<Raw> {
    text.map_or_else(|| js.undefined(), |t| js.json(&t))
        .map(Raw)
}

impl ChatStore {
    fn run<T>(&self, js: Js, f: impl FnOnce(Chats<'_>) -> stowage_core::Result<T>) -> Result<T> {
        self.handle.with(js, |db| f(db.chats()?))
    }

    /// A required string argument.
    fn id(js: Js, v: Unknown<'_>, func: &str, arg: &str) -> Result<String> {
        js.str(v.raw(), at(func, arg))
    }

    /// Runs `update(id, mutate)` in the core with `mutate(object)` a call of the JS function
    /// `cb`: the object it changed is stored and returned, `undefined` when there is no such row;
    /// what `cb` throws is rethrown after the update is rolled back.
    fn update_with(
        &self,
        js: Js,
        func: &str,
        cb: Unknown<'_>,
        update: impl FnOnce(
            Chats<'_>,
            &mut dyn FnMut(&str) -> stowage_core::Result<String>,
        ) -> stowage_core::Result<bool>,
    ) -> Result<Raw> {
        let cb = cb.raw();
        if js.type_of(cb)? != napi::sys::ValueType::napi_function {
            return Err(js.type_error(at(func, "mutate"), "a function", cb));
        }
        let thrown = Cell::new(None);
        let changed = Cell::new(None);
        let mut mutate = |text: &str| -> stowage_core::Result<String> {
            let fail = |thrown: &Cell<Option<Val>>| {
                thrown.set(js.take_exception());
                stowage_core::Error::Cancelled
            };
            let obj = js.json(text).map_err(|_| fail(&thrown))?;
            js.call(cb, &[obj]).map_err(|_| fail(&thrown))?;
            let text = js
                .json_text(obj, at(func, "the mutated object"))
                .map_err(|_| fail(&thrown))?;
            changed.set(Some(obj));
            Ok(text)
        };
        let result = self.run(js, |c| update(c, &mut mutate));
        match (result, thrown.take()) {
            (Ok(true), _) => Ok(Raw(changed.take().map_or_else(|| js.undefined(), Ok)?)),
            (Ok(false), _) => js.undefined().map(Raw),
            (Err(_), Some(exception)) => {
                js.take_exception();
                Err(js.rethrow(exception))
            }
            (Err(e), None) => Err(e),
        }
    }
}

#[napi]
impl ChatStore {
    /// Throws `ERR_ILLEGAL_CONSTRUCTOR`: a `ChatStore` is `openStore(path, { stores: ['chats']
    /// }).chats`.
    #[napi(constructor, skip_typescript)]
    pub fn new(env: Env) -> Result<Self> {
        Err(Js(env.raw()).illegal_constructor(
            "ChatStore",
            "use openStore(path, { stores: ['chats'] }).chats",
        ))
    }

    /// Creates a session with a new `sess_` id (title `"New Session"` when not given),
    /// created = updated = now.
    #[napi(
        catch_unwind,
        ts_args_type = "input: ChatSessionInput",
        ts_return_type = "ChatSession"
    )]
    pub fn create_session(&self, env: Env, input: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let f = "createSession";
        let o = js.object(input.raw(), at(f, "input"))?;
        let project_id = js.str(js.get(o, "projectID")?, at(f, "input.projectID"))?;
        let directory = js.str(js.get(o, "directory")?, at(f, "input.directory"))?;
        let title = js.opt_str(js.get(o, "title")?, at(f, "input.title"))?;
        let agent = js.opt_str(js.get(o, "agent")?, at(f, "input.agent"))?;
        let s = self.run(js, |c| {
            c.create_session(&NewSession {
                project_id: &project_id,
                directory: &directory,
                title: title.as_deref(),
                agent: agent.as_deref(),
            })
        })?;
        session_object(js, &s).map(Raw)
    }

    /// The session `id`; `undefined` when there is none, or when `projectID` is given and the
    /// session belongs to another project.
    #[napi(
        catch_unwind,
        ts_args_type = "id: string, projectID?: string",
        ts_return_type = "ChatSession | undefined"
    )]
    pub fn get_session(&self, env: Env, id: Unknown<'_>, project_id: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let id = Self::id(js, id, "getSession", "id")?;
        let project = js.opt_str(project_id.raw(), at("getSession", "projectID"))?;
        opt_session(js, self.run(js, |c| c.session(&id, project.as_deref()))?)
    }

    /// The project's sessions, most recently updated first.
    #[napi(
        catch_unwind,
        ts_args_type = "projectID: string",
        ts_return_type = "ChatSession[]"
    )]
    pub fn list_sessions(&self, env: Env, project_id: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let project = Self::id(js, project_id, "listSessions", "projectID")?;
        let list = self.run(js, |c| c.list_sessions(&project))?;
        js.array(list.iter().map(|s| session_object(js, s)))
            .map(Raw)
    }

    /// Sets the session's `time.updated` to now; returns the session, `undefined` when there is
    /// none.
    #[napi(
        catch_unwind,
        ts_args_type = "id: string",
        ts_return_type = "ChatSession | undefined"
    )]
    pub fn touch_session(&self, env: Env, id: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let id = Self::id(js, id, "touchSession", "id")?;
        opt_session(
            js,
            self.run(js, |c| {
                c.touch_session(&id)?;
                c.session(&id, None)
            })?,
        )
    }

    /// Sets the session's title (and `time.updated`); returns the session, `undefined` when
    /// there is none.
    #[napi(
        catch_unwind,
        ts_args_type = "id: string, title: string",
        ts_return_type = "ChatSession | undefined"
    )]
    pub fn set_session_title(&self, env: Env, id: Unknown<'_>, title: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let f = "setSessionTitle";
        let id = Self::id(js, id, f, "id")?;
        let title = Self::id(js, title, f, "title")?;
        opt_session(
            js,
            self.run(js, |c| {
                c.set_title(&id, &title)?;
                c.session(&id, None)
            })?,
        )
    }

    /// Sets the session's summary counters (and `time.updated`); returns the session,
    /// `undefined` when there is none. All-zero counters read back as no summary, as in etcode.
    #[napi(
        catch_unwind,
        ts_args_type = "id: string, summary: ChatSessionSummary",
        ts_return_type = "ChatSession | undefined"
    )]
    pub fn set_session_summary(
        &self,
        env: Env,
        id: Unknown<'_>,
        summary: Unknown<'_>,
    ) -> Result<Raw> {
        let js = Js(env.raw());
        let f = "setSessionSummary";
        let id = Self::id(js, id, f, "id")?;
        let o = js.object(summary.raw(), at(f, "summary"))?;
        let count = |key: &str| -> Result<i64> {
            let arg = format!("summary.{key}");
            let v = js.get(o, key)?;
            js.opt_int(v, at(f, &arg))?
                .ok_or_else(|| js.type_error(at(f, &arg), "an integer", v))
        };
        let summary = Summary {
            additions: count("additions")?,
            deletions: count("deletions")?,
            files: count("files")?,
        };
        opt_session(
            js,
            self.run(js, |c| {
                c.set_summary(&id, summary)?;
                c.session(&id, None)
            })?,
        )
    }

    /// Deletes the session with its messages, their parts and its todos; false when there was
    /// no such session.
    #[napi(catch_unwind, ts_args_type = "id: string")]
    pub fn remove_session(&self, env: Env, id: Unknown<'_>) -> Result<bool> {
        let js = Js(env.raw());
        let id = Self::id(js, id, "removeSession", "id")?;
        self.run(js, |c| c.remove_session(&id))
    }

    /// Creates a message with a new `msg_` id: `{ sessionID, role: 'user', content }` or `{
    /// sessionID, role: 'assistant', summary?, agent? }`. Returns `{ id, sessionID, role, …,
    /// time: { created } }`. A session that does not exist is `SQLITE_CONSTRAINT_FOREIGNKEY`.
    #[napi(
        catch_unwind,
        ts_args_type = "input: ChatMessageInput",
        ts_return_type = "ChatMessage"
    )]
    pub fn create_message(&self, env: Env, input: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let f = "createMessage";
        let o = js.object(input.raw(), at(f, "input"))?;
        let session_id = js.str(js.get(o, "sessionID")?, at(f, "input.sessionID"))?;
        let role = js.str(js.get(o, "role")?, at(f, "input.role"))?;
        let content;
        let agent;
        let m = match role.as_str() {
            "user" => {
                content = js.str(js.get(o, "content")?, at(f, "input.content"))?;
                NewMessage::User { content: &content }
            }
            "assistant" => {
                let summary = js.get(o, "summary")?;
                agent = js.opt_str(js.get(o, "agent")?, at(f, "input.agent"))?;
                NewMessage::Assistant {
                    summary: if js.is_nullish(summary)? {
                        None
                    } else {
                        Some(js.truthy(summary)?)
                    },
                    agent: agent.as_deref(),
                }
            }
            _ => {
                return Err(js.core(stowage_core::Error::InvalidArg(format!(
                    "{f}: input.role must be 'user' or 'assistant', not '{role}'"
                ))))
            }
        };
        let message = self.run(js, |c| c.create_message(&session_id, m))?;
        js.json(&message.object()).map(Raw)
    }

    /// The message `id`, or `undefined`.
    #[napi(
        catch_unwind,
        ts_args_type = "id: string",
        ts_return_type = "ChatMessage | undefined"
    )]
    pub fn get_message(&self, env: Env, id: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let id = Self::id(js, id, "getMessage", "id")?;
        opt_json(
            js,
            self.run(js, |c| Ok(c.message(&id)?.map(|m| m.object())))?,
        )
    }

    /// The session's messages, oldest first (ties in insertion order); with `{ withParts: true
    /// }` each is `{ info, parts }` with its parts in order (two queries in all).
    #[napi(
        catch_unwind,
        ts_generic_types = "W extends boolean = false",
        ts_args_type = "sessionID: string, options?: { withParts?: W }",
        ts_return_type = "W extends true ? ChatMessageWithParts[] : ChatMessage[]"
    )]
    pub fn list_messages(
        &self,
        env: Env,
        session_id: Unknown<'_>,
        options: Unknown<'_>,
    ) -> Result<Raw> {
        let js = Js(env.raw());
        let f = "listMessages";
        let session = Self::id(js, session_id, f, "sessionID")?;
        let with_parts = if js.is_nullish(options.raw())? {
            false
        } else {
            let o = js.object(options.raw(), at(f, "options"))?;
            js.truthy(js.get(o, "withParts")?)?
        };
        let text = self.run(js, |c| c.messages_json(&session, with_parts))?;
        js.json(&text).map(Raw)
    }

    /// Reads message `id`, calls `mutate(message)` (which changes it in place) and stores the
    /// result with `time_updated` = now, all in one transaction; returns the message,
    /// `undefined` when there is none. If `mutate` throws, nothing changes and it is rethrown.
    #[napi(
        catch_unwind,
        ts_args_type = "id: string, mutate: (message: ChatMessage) => void",
        ts_return_type = "ChatMessage | undefined"
    )]
    pub fn update_message(&self, env: Env, id: Unknown<'_>, mutate: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let id = Self::id(js, id, "updateMessage", "id")?;
        self.update_with(js, "updateMessage", mutate, |c, m| {
            c.update_message_with(&id, m)
        })
    }

    /// Deletes the message and its parts; false when there was no such message.
    #[napi(catch_unwind, ts_args_type = "id: string")]
    pub fn remove_message(&self, env: Env, id: Unknown<'_>) -> Result<bool> {
        let js = Js(env.raw());
        let id = Self::id(js, id, "removeMessage", "id")?;
        self.run(js, |c| c.remove_message(&id))
    }

    /// Replaces the session's todo list (position = index) in one transaction. Items without
    /// a `priority` get `'medium'` (the table requires one).
    #[napi(catch_unwind, ts_args_type = "sessionID: string, todos: ChatTodo[]")]
    pub fn replace_todos(
        &self,
        env: Env,
        session_id: Unknown<'_>,
        todos: Unknown<'_>,
    ) -> Result<()> {
        let js = Js(env.raw());
        let f = "replaceTodos";
        let session = Self::id(js, session_id, f, "sessionID")?;
        let list = todos.raw();
        if !js.is_array(list)? {
            return Err(js.type_error(at(f, "todos"), "an array", list));
        }
        let items = js.map_items(list, at(f, "todos"), |i, item| {
            let arg = format!("todos[{i}]");
            let o = js.object(item, at(f, &arg))?;
            let field = |key: &str| format!("{arg}.{key}");
            Ok(Todo {
                content: js.str(js.get(o, "content")?, at(f, &field("content")))?,
                status: js.str(js.get(o, "status")?, at(f, &field("status")))?,
                priority: js
                    .opt_str(js.get(o, "priority")?, at(f, &field("priority")))?
                    .unwrap_or_else(|| stowage_core::chats::DEFAULT_PRIORITY.into()),
            })
        })?;
        self.run(js, |c| c.replace_todos(&session, &items))
    }

    /// The session's todo list in order: `[{ content, status, priority }]`.
    #[napi(
        catch_unwind,
        ts_args_type = "sessionID: string",
        ts_return_type = "Required<ChatTodo>[]"
    )]
    pub fn get_todos(&self, env: Env, session_id: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let session = Self::id(js, session_id, "getTodos", "sessionID")?;
        let todos = self.run(js, |c| c.todos(&session))?;
        js.array(todos.iter().map(|t| {
            let o = js.object_new()?;
            js.set_named(o, "content", js.string(&t.content)?)?;
            js.set_named(o, "status", js.string(&t.status)?)?;
            js.set_named(o, "priority", js.string(&t.priority)?)?;
            Ok(o)
        }))
        .map(Raw)
    }

    /// Sets the project's permission rules (any JSON value; etcode keeps an array of `{
    /// permission, pattern, action }`).
    #[napi(
        catch_unwind,
        ts_args_type = "projectID: string, rules: ChatPermissionRule[]"
    )]
    pub fn set_permission(
        &self,
        env: Env,
        project_id: Unknown<'_>,
        rules: Unknown<'_>,
    ) -> Result<()> {
        let js = Js(env.raw());
        let f = "setPermission";
        let project = Self::id(js, project_id, f, "projectID")?;
        let text = js.json_text(rules.raw(), at(f, "rules"))?;
        self.run(js, |c| c.set_permission(&project, &text))
    }

    /// The project's permission rules, or `undefined` when none were set.
    #[napi(
        catch_unwind,
        ts_args_type = "projectID: string",
        ts_return_type = "ChatPermissionRule[] | undefined"
    )]
    pub fn get_permission(&self, env: Env, project_id: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let project = Self::id(js, project_id, "getPermission", "projectID")?;
        opt_json(js, self.run(js, |c| c.permission(&project))?)
    }
}
