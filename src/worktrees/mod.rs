//! `WorktreeStore`: AIT42's session repository on one open file (`store.worktrees`), and
//! `workspaceHash`. Objects have the JSON shape of AIT42's serde models: camelCase keys in
//! AIT42's order, `type` for the kind, every unset optional field `null`.

use std::collections::BTreeMap;
use std::path::PathBuf;

mod columns;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use stowage_core::worktrees::{
    self, ChatMessage, LegacyWorkspaces, OrderBy, SessionQuery, Source, WorktreeSession, Worktrees,
};

use crate::handle::Handle;
use crate::js::{at, Js, Raw, Val};
use crate::stores::{member, Binding};
use crate::{import, job};

/// The worktrees store's binding: `store.worktrees`.
pub(crate) const BINDING: Binding = Binding {
    store: "worktrees",
    config: None,
    members: |env, handle| {
        Ok(vec![(
            "worktrees",
            member(
                env,
                WorktreeStore {
                    handle: handle.clone(),
                },
            )?,
        )])
    },
};

/// AIT42's workspace hash of `path`: the first 16 hex digits of the SHA-256 of the canonical
/// path (symlinks, `.`, `..` and a trailing `/` resolved), or, when the path does not exist, of
/// the path as given without trailing `/`. It names AIT42's legacy JSON files
/// (`<hash>.json`) and keys the workspace's rows.
/// (Declared in scripts/dts-header.d.ts.)
#[napi(catch_unwind, skip_typescript)]
pub fn workspace_hash(env: Env, path: Unknown<'_>) -> Result<String> {
    let js = Js(env.raw());
    let path = js.str(path.raw(), at("workspaceHash", "path"))?;
    Ok(worktrees::workspace_hash(&path))
}

/// AIT42 Editor's `SessionRepository` (`ait42-session`): sessions of a workspace folder with
/// their worktree instances and chat messages. Every write is one transaction (joining
/// `store.transaction` when one is open).
#[napi]
pub struct WorktreeStore {
    pub(crate) handle: Handle,
}

fn session_object(js: Js, s: &WorktreeSession) -> Result<Val> {
    js.json(&worktrees::session_json(s))
}

/// The fields of one object argument (`session`, `session.instances[2]`, ...), each read with
/// its path for the `TypeError` of a wrong type.
struct Input<'a> {
    js: Js,
    o: Val,
    func: &'a str,
    path: String,
}

impl<'a> Input<'a> {
    fn new(js: Js, v: Val, func: &'a str, path: String) -> Result<Self> {
        let o = js.object(v, at(func, &path))?;
        Ok(Input { js, o, func, path })
    }

    /// The value of `key`, and its path.
    fn field(&self, key: &str) -> Result<(Val, String)> {
        Ok((self.js.get(self.o, key)?, format!("{}.{key}", self.path)))
    }
}

impl Source for Input<'_> {
    type Error = napi::Error;

    fn text(&self, key: &str) -> Result<String> {
        let (v, path) = self.field(key)?;
        self.js.str(v, at(self.func, &path))
    }

    fn opt_text(&self, key: &str) -> Result<Option<String>> {
        let (v, path) = self.field(key)?;
        self.js.opt_str(v, at(self.func, &path))
    }

    fn int(&self, key: &str) -> Result<i64> {
        let (v, path) = self.field(key)?;
        self.js
            .opt_int(v, at(self.func, &path))?
            .ok_or_else(|| self.js.type_error(at(self.func, &path), "an integer", v))
    }

    fn opt_int(&self, key: &str) -> Result<Option<i64>> {
        let (v, path) = self.field(key)?;
        self.js.opt_int(v, at(self.func, &path))
    }

    fn opt_bool(&self, key: &str) -> Result<Option<bool>> {
        let (v, path) = self.field(key)?;
        if self.js.is_nullish(v)? {
            return Ok(None);
        }
        if self.js.type_of(v)? == napi::sys::ValueType::napi_boolean {
            return self.js.truthy(v).map(Some);
        }
        Err(self
            .js
            .type_error(at(self.func, &path), "a boolean or null", v))
    }

    fn opt_texts(&self, key: &str) -> Result<Option<Vec<String>>> {
        let (v, path) = self.field(key)?;
        if self.js.is_nullish(v)? {
            return Ok(None);
        }
        self.js.strings(v, at(self.func, &path)).map(Some)
    }

    fn list<T>(&self, key: &str, item: fn(Self) -> Result<T>) -> Result<Vec<T>> {
        let (v, path) = self.field(key)?;
        if self.js.is_nullish(v)? {
            return Ok(Vec::new());
        }
        if !self.js.is_array(v)? {
            return Err(self.js.type_error(at(self.func, &path), "an array", v));
        }
        self.js.map_items(v, at(self.func, &path), |i, x| {
            item(Input::new(self.js, x, self.func, format!("{path}[{i}]"))?)
        })
    }
}

impl WorktreeStore {
    fn run<T>(
        &self,
        js: Js,
        f: impl FnOnce(Worktrees<'_>) -> stowage_core::Result<T>,
    ) -> Result<T> {
        self.handle.with(js, |db| f(db.worktrees()?))
    }

    fn string(js: Js, v: Unknown<'_>, func: &str, arg: &str) -> Result<String> {
        js.str(v.raw(), at(func, arg))
    }

    /// The `(workspacePath, session)` arguments of `createSession` and `updateSession`.
    fn session_args(
        js: Js,
        f: &str,
        workspace_path: Unknown<'_>,
        session: Unknown<'_>,
    ) -> Result<(String, WorktreeSession)> {
        let path = Self::string(js, workspace_path, f, "workspacePath")?;
        let s = WorktreeSession::read(&Input::new(js, session.raw(), f, "session".into())?)?;
        Ok((path, s))
    }
}

#[napi]
impl WorktreeStore {
    /// Throws `ERR_ILLEGAL_CONSTRUCTOR`: a `WorktreeStore` is `openStore(path, { stores:
    /// ['worktrees'] }).worktrees`.
    #[napi(constructor, skip_typescript)]
    pub fn new(env: Env) -> Result<Self> {
        Err(Js(env.raw()).illegal_constructor(
            "WorktreeStore",
            "use openStore(path, { stores: ['worktrees'] }).worktrees",
        ))
    }

    /// Creates `session` with its instances and chat messages in the workspace at
    /// `workspacePath`, in one transaction; the workspace's row gets the (canonical) path. The
    /// timestamps are stored as given; the children's `sessionId` is ignored. An existing id
    /// is `SQLITE_CONSTRAINT_PRIMARYKEY`, an unknown type or status `SQLITE_CONSTRAINT_CHECK`,
    /// two instances of one `instanceId` `SQLITE_CONSTRAINT_UNIQUE`; nothing is written then.
    #[napi(
        catch_unwind,
        ts_args_type = "workspacePath: string, session: WorktreeSessionInput"
    )]
    pub fn create_session(
        &self,
        env: Env,
        workspace_path: Unknown<'_>,
        session: Unknown<'_>,
    ) -> Result<()> {
        let js = Js(env.raw());
        let (path, s) = Self::session_args(js, "createSession", workspace_path, session)?;
        self.run(js, |w| w.create_session(&path, &s))
    }

    /// Replaces the session of `session.id` in the workspace: its fields are set and its
    /// instances and messages replaced by `session`'s, in one transaction. Returns the session
    /// as stored. `ERR_NOT_FOUND` when the workspace has no session of that id; on any error
    /// nothing is changed.
    #[napi(
        catch_unwind,
        ts_args_type = "workspacePath: string, session: WorktreeSessionInput",
        ts_return_type = "WorktreeSession"
    )]
    pub fn update_session(
        &self,
        env: Env,
        workspace_path: Unknown<'_>,
        session: Unknown<'_>,
    ) -> Result<Raw> {
        let js = Js(env.raw());
        let (path, s) = Self::session_args(js, "updateSession", workspace_path, session)?;
        let stored = self.run(js, |w| w.update_session(&path, &s))?;
        session_object(js, &stored).map(Raw)
    }

    /// The session `id` of the workspace with its instances (by `instanceId`) and messages
    /// (chronological), or `null` (also for another workspace's session).
    #[napi(
        catch_unwind,
        ts_args_type = "workspacePath: string, id: string",
        ts_return_type = "WorktreeSession | null"
    )]
    pub fn get_session(
        &self,
        env: Env,
        workspace_path: Unknown<'_>,
        id: Unknown<'_>,
    ) -> Result<Raw> {
        let js = Js(env.raw());
        let f = "getSession";
        let path = Self::string(js, workspace_path, f, "workspacePath")?;
        let id = Self::string(js, id, f, "id")?;
        let found = self.run(js, |w| w.session_columns(&path, &id))?;
        columns::first_session(js, &found).map(Raw)
    }

    /// Every session of the workspace, most recently updated first (by the instant the
    /// timestamps denote), with their children, loaded in three queries. `[]` for an unknown
    /// workspace.
    #[napi(
        catch_unwind,
        ts_args_type = "workspacePath: string",
        ts_return_type = "WorktreeSession[]"
    )]
    pub fn get_all_sessions(&self, env: Env, workspace_path: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let path = Self::string(js, workspace_path, "getAllSessions", "workspacePath")?;
        let found = self.run(js, |w| w.all_sessions_columns(&path))?;
        columns::sessions_array(js, &found).map(Raw)
    }

    /// Deletes the session `id` of the workspace with its instances and messages.
    /// `ERR_NOT_FOUND` when the workspace has no such session.
    #[napi(catch_unwind, ts_args_type = "workspacePath: string, id: string")]
    pub fn delete_session(
        &self,
        env: Env,
        workspace_path: Unknown<'_>,
        id: Unknown<'_>,
    ) -> Result<()> {
        let js = Js(env.raw());
        let f = "deleteSession";
        let path = Self::string(js, workspace_path, f, "workspacePath")?;
        let id = Self::string(js, id, f, "id")?;
        self.run(js, |w| w.delete_session(&path, &id))
    }

    /// Adds `message` to the session `sessionId` and sets the session's `updatedAt` to now
    /// (RFC 3339, UTC, milliseconds), in one transaction. A missing session is
    /// `SQLITE_CONSTRAINT_FOREIGNKEY`, an id any session already has
    /// `SQLITE_CONSTRAINT_PRIMARYKEY`.
    #[napi(
        catch_unwind,
        ts_args_type = "sessionId: string, message: WorktreeChatMessageInput"
    )]
    pub fn add_chat_message(
        &self,
        env: Env,
        session_id: Unknown<'_>,
        message: Unknown<'_>,
    ) -> Result<()> {
        let js = Js(env.raw());
        let f = "addChatMessage";
        let id = Self::string(js, session_id, f, "sessionId")?;
        let m = ChatMessage::read(&Input::new(js, message.raw(), f, "message".into())?)?;
        self.run(js, |w| w.add_chat_message(&id, &m))
    }

    /// Sets the status of instance `instanceId` of the session `sessionId`, and the session's
    /// `updatedAt` to now (RFC 3339, UTC, milliseconds), in one transaction. `ERR_NOT_FOUND`
    /// when there is no such instance.
    #[napi(
        catch_unwind,
        ts_args_type = "sessionId: string, instanceId: number, status: InstanceStatus"
    )]
    pub fn update_instance_status(
        &self,
        env: Env,
        session_id: Unknown<'_>,
        instance_id: Unknown<'_>,
        status: Unknown<'_>,
    ) -> Result<()> {
        let js = Js(env.raw());
        let f = "updateInstanceStatus";
        let id = Self::string(js, session_id, f, "sessionId")?;
        let n_v = instance_id.raw();
        let n = js
            .opt_int(n_v, at(f, "instanceId"))?
            .ok_or_else(|| js.type_error(at(f, "instanceId"), "an integer", n_v))?;
        let status = Self::string(js, status, f, "status")?;
        self.run(js, |w| w.update_instance_status(&id, n, &status))
    }

    /// `{ workspaces, sessions, instances, messages, fileSize, path }`: row counts, the
    /// database's size in bytes (pages × page size, the WAL not counted) and its path
    /// (AIT42's `get_database_stats`).
    #[napi(catch_unwind, ts_return_type = "WorktreeStats")]
    pub fn stats(&self, env: Env) -> Result<Raw> {
        let js = Js(env.raw());
        let s = self.run(js, |w| w.stats())?;
        let o = js.object_new()?;
        for (key, n) in [
            ("workspaces", s.workspaces),
            ("sessions", s.sessions),
            ("instances", s.instances),
            ("messages", s.messages),
            ("fileSize", s.file_size),
        ] {
            js.set_named(o, key, js.number(n as f64)?)?;
        }
        js.set_named(o, "path", js.string(&s.path)?)?;
        Ok(Raw(o))
    }

    /// Sessions matching every criterion given, with their children, newest first by
    /// `orderBy` (`'updated'` by default, or `'created'`): `workspacePath` (one workspace;
    /// all by default), `type`, `status` (one or several), `search` (text in the task or the
    /// id, `%` and `_` literal), `limit` and `offset`.
    #[napi(
        catch_unwind,
        ts_args_type = "query?: SessionListQuery",
        ts_return_type = "WorktreeSession[]"
    )]
    pub fn list_sessions(&self, env: Env, query: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let q = list_query(js, query.raw())?;
        let found = self.run(js, |w| w.list_sessions_columns(&q))?;
        columns::sessions_array(js, &found).map(Raw)
    }

    /// The number of sessions of each type, `{ competition, ensemble, debate }`, of every
    /// workspace or of the one at `workspacePath`.
    #[napi(
        catch_unwind,
        ts_args_type = "workspacePath?: string",
        ts_return_type = "Record<SessionType, number>"
    )]
    pub fn count_by_type(&self, env: Env, workspace_path: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let v = workspace_path.raw();
        let path = js.opt_str(v, at("countByType", "workspacePath"))?;
        let counts = self.run(js, |w| w.count_by_type(path.as_deref()))?;
        let o = js.object_new()?;
        for (t, n) in counts {
            js.set_named(o, &t, js.number(n as f64)?)?;
        }
        Ok(Raw(o))
    }

    /// Imports AIT42's legacy JSON files, every `<hash>.json` of `dir` (default
    /// `~/.ait42/sessions`), in one transaction (joining `store.transaction` when one is
    /// open); the files are only read. A session the store already has is skipped, so a second
    /// run imports nothing twice. `options.workspaces` maps a hash to its workspace folder, for
    /// the workspace's row (else the hash stands in, as in AIT42). Returns `{ migrated, counts,
    /// orphans, errors }`: rows written by table, and an entry per unusable file (`entry:
    /// null`) or session (`entry`: its position); the other sessions are imported.
    /// `options.onProgress(progress)` is called as the import goes; if it throws, nothing is
    /// imported and what it threw is rethrown.
    #[napi(
        catch_unwind,
        ts_args_type = "dir?: string | null, options?: LegacyWorktreesImportOptions",
        ts_return_type = "ImportReport"
    )]
    pub fn import_legacy_json(
        &self,
        env: Env,
        dir: Unknown<'_>,
        options: Unknown<'_>,
    ) -> Result<Raw> {
        let js = Js(env.raw());
        let f = "importLegacyJson";
        let (dir, importer) = import_args(js, f, dir.raw(), options.raw())?;
        let on_progress = job::progress_option(js, f, options.raw())?;
        import::run_here(
            js,
            &self.handle,
            on_progress,
            |db, sink| {
                db.worktrees()?
                    .import_legacy_json(&dir, importer.workspaces, sink)
            },
            import::report_object,
        )
    }

    /// `importLegacyJson` off the JS thread, on a connection of its own, in one transaction:
    /// writes made meanwhile through this store wait for it. `options.onProgress` is called on
    /// the JS thread; if it throws, nothing is imported and the promise rejects with what it
    /// threw. A store in memory is refused (`ERR_INVALID_ARG`).
    #[napi(
        catch_unwind,
        ts_args_type = "dir?: string | null, options?: LegacyWorktreesImportOptions",
        ts_return_type = "Promise<ImportReport>"
    )]
    pub fn import_legacy_json_async(
        &self,
        env: Env,
        dir: Unknown<'_>,
        options: Unknown<'_>,
    ) -> Result<Raw> {
        let js = Js(env.raw());
        let f = "importLegacyJsonAsync";
        let args = import_args(js, f, dir.raw(), options.raw()).and_then(|(dir, importer)| {
            let on_progress = job::progress_option(js, f, options.raw())?;
            let db = self.handle.with(js, |db| {
                db.worktrees()?;
                Ok(db.path().to_path_buf())
            })?;
            Ok((dir, importer, on_progress, db))
        });
        let (dir, importer, on_progress, db) = match args {
            Ok(a) => a,
            Err(e) => return job::rejected(js, e),
        };
        import::run_async(js, db, dir, importer, on_progress, import::report_object)
    }
}

/// The folder (default `~/.ait42/sessions`) and `options.workspaces` of an import.
fn import_args(js: Js, f: &str, dir: Val, options: Val) -> Result<(PathBuf, LegacyWorkspaces)> {
    let dir = if js.is_nullish(dir)? {
        worktrees::default_legacy_dir()
    } else {
        PathBuf::from(js.path(dir, at(f, "dir"))?)
    };
    let mut workspaces = BTreeMap::new();
    if !js.is_nullish(options)? {
        let o = js.object(options, at(f, "options"))?;
        let map = js.get(o, "workspaces")?;
        if !js.is_nullish(map)? {
            let m = js.object(map, at(f, "options.workspaces"))?;
            for hash in js.keys(m, at(f, "options.workspaces"))? {
                let arg = format!("options.workspaces.{hash}");
                let path = js.str(js.get(m, &hash)?, at(f, &arg))?;
                workspaces.insert(hash, path);
            }
        }
    }
    Ok((dir, LegacyWorkspaces { workspaces }))
}

fn list_query(js: Js, v: Val) -> Result<SessionQuery> {
    let f = "listSessions";
    let mut q = SessionQuery::default();
    if js.is_nullish(v)? {
        return Ok(q);
    }
    let o = js.object(v, at(f, "query"))?;
    q.workspace_path = js.opt_str(js.get(o, "workspacePath")?, at(f, "query.workspacePath"))?;
    q.session_type = js.opt_str(js.get(o, "type")?, at(f, "query.type"))?;
    let status = js.get(o, "status")?;
    if !js.is_nullish(status)? {
        q.statuses = if js.is_array(status)? {
            js.strings(status, at(f, "query.status"))?
        } else {
            vec![js.str(status, at(f, "query.status"))?]
        };
    }
    q.search = js.opt_str(js.get(o, "search")?, at(f, "query.search"))?;
    q.limit = js.opt_int(js.get(o, "limit")?, at(f, "query.limit"))?;
    q.offset = js.opt_int(js.get(o, "offset")?, at(f, "query.offset"))?;
    let order = js.get(o, "orderBy")?;
    q.order_by = match js.opt_str(order, at(f, "query.orderBy"))?.as_deref() {
        None | Some("updated") => OrderBy::Updated,
        Some("created") => OrderBy::Created,
        Some(_) => {
            return Err(js.type_error(at(f, "query.orderBy"), "'created' or 'updated'", order))
        }
    };
    Ok(q)
}
