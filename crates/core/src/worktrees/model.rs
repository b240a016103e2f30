//! AIT42's objects (`WorktreeSession`, `WorktreeInstance`, `ChatMessage`) and their JSON, in the
//! shape AIT42's serde models give: camelCase keys in AIT42's order, `type` for the session's
//! kind, every unset optional field written as `null`.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value as Json};

/// One competition, ensemble or debate session with its instances and chat.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WorktreeSession {
    pub id: String,
    /// `competition`, `ensemble` or `debate` (serialised as `type`).
    pub session_type: String,
    pub task: String,
    /// `running`, `completed`, `failed` or `paused`.
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
    pub completed_at: Option<String>,
    pub model: Option<String>,
    pub timeout_seconds: Option<i64>,
    pub preserve_worktrees: Option<bool>,
    pub winner_id: Option<i64>,
    pub runtime_mix: Option<Vec<String>>,
    pub total_duration: Option<i64>,
    pub total_files_changed: Option<i64>,
    pub total_lines_added: Option<i64>,
    pub total_lines_deleted: Option<i64>,
    /// By `instance_id` when read.
    pub instances: Vec<WorktreeInstance>,
    /// Chronological when read.
    pub chat_history: Vec<ChatMessage>,
}

/// One agent of a session, in its own git worktree.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WorktreeInstance {
    pub instance_id: i64,
    /// The session's id when read; ignored when written (the instance belongs to the session
    /// it is written with).
    pub session_id: Option<String>,
    pub worktree_path: String,
    pub branch: String,
    pub agent_name: String,
    /// `idle`, `running`, `completed`, `failed`, `paused` or `archived`.
    pub status: String,
    pub tmux_session_id: String,
    pub output: Option<String>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub files_changed: Option<i64>,
    pub lines_added: Option<i64>,
    pub lines_deleted: Option<i64>,
    pub runtime: Option<String>,
    pub model: Option<String>,
    pub runtime_label: Option<String>,
}

/// One chat message of a session.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatMessage {
    /// Unique across all sessions.
    pub id: String,
    /// The session's id when read; ignored when written.
    pub session_id: Option<String>,
    /// `user`, `assistant` or `system`.
    pub role: String,
    pub content: String,
    pub timestamp: String,
    pub instance_id: Option<i64>,
}

impl WorktreeSession {
    /// A session from its JSON (AIT42's objects, its legacy files): `id`, `type`, `task`,
    /// `status`, `createdAt` and `updatedAt` are required, every other key may be missing or
    /// `null` (`instances` and `chatHistory` then empty). The error names the offending key's
    /// path (`instances[2].status`) and what it must be.
    pub fn from_json(v: &Json) -> Result<Self, FieldError> {
        Self::read(&Fields::new(v, String::new())?)
    }

    /// A session from the keys of `o` (AIT42's camelCase names), as [`Self::from_json`] reads
    /// them.
    pub fn read<S: Source>(o: &S) -> Result<Self, S::Error> {
        Ok(WorktreeSession {
            id: o.text("id")?,
            session_type: o.text("type")?,
            task: o.text("task")?,
            status: o.text("status")?,
            created_at: o.text("createdAt")?,
            updated_at: o.text("updatedAt")?,
            completed_at: o.opt_text("completedAt")?,
            model: o.opt_text("model")?,
            timeout_seconds: o.opt_int("timeoutSeconds")?,
            preserve_worktrees: o.opt_bool("preserveWorktrees")?,
            winner_id: o.opt_int("winnerId")?,
            runtime_mix: o.opt_texts("runtimeMix")?,
            total_duration: o.opt_int("totalDuration")?,
            total_files_changed: o.opt_int("totalFilesChanged")?,
            total_lines_added: o.opt_int("totalLinesAdded")?,
            total_lines_deleted: o.opt_int("totalLinesDeleted")?,
            instances: o.list("instances", |i| WorktreeInstance::read(&i))?,
            chat_history: o.list("chatHistory", |m| ChatMessage::read(&m))?,
        })
    }
}

impl WorktreeInstance {
    /// An instance from its JSON: `instanceId`, `worktreePath`, `branch`, `agentName`,
    /// `status` and `tmuxSessionId` are required.
    pub fn from_json(v: &Json) -> Result<Self, FieldError> {
        Self::read(&Fields::new(v, String::new())?)
    }

    /// An instance from the keys of `o`.
    pub fn read<S: Source>(o: &S) -> Result<Self, S::Error> {
        Ok(WorktreeInstance {
            instance_id: o.int("instanceId")?,
            session_id: o.opt_text("sessionId")?,
            worktree_path: o.text("worktreePath")?,
            branch: o.text("branch")?,
            agent_name: o.text("agentName")?,
            status: o.text("status")?,
            tmux_session_id: o.text("tmuxSessionId")?,
            output: o.opt_text("output")?,
            start_time: o.opt_text("startTime")?,
            end_time: o.opt_text("endTime")?,
            files_changed: o.opt_int("filesChanged")?,
            lines_added: o.opt_int("linesAdded")?,
            lines_deleted: o.opt_int("linesDeleted")?,
            runtime: o.opt_text("runtime")?,
            model: o.opt_text("model")?,
            runtime_label: o.opt_text("runtimeLabel")?,
        })
    }
}

impl ChatMessage {
    /// A message from its JSON: `id`, `role`, `content` and `timestamp` are required.
    pub fn from_json(v: &Json) -> Result<Self, FieldError> {
        Self::read(&Fields::new(v, String::new())?)
    }

    /// A message from the keys of `o`.
    pub fn read<S: Source>(o: &S) -> Result<Self, S::Error> {
        Ok(ChatMessage {
            id: o.text("id")?,
            session_id: o.opt_text("sessionId")?,
            role: o.text("role")?,
            content: o.text("content")?,
            timestamp: o.text("timestamp")?,
            instance_id: o.opt_int("instanceId")?,
        })
    }
}

/// The JSON of AIT42's serde models: the keys in AIT42's order, `None` as `null`.
impl Serialize for WorktreeSession {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(Some(18))?;
        m.serialize_entry("id", &self.id)?;
        m.serialize_entry("type", &self.session_type)?;
        m.serialize_entry("task", &self.task)?;
        m.serialize_entry("status", &self.status)?;
        m.serialize_entry("createdAt", &self.created_at)?;
        m.serialize_entry("updatedAt", &self.updated_at)?;
        m.serialize_entry("completedAt", &self.completed_at)?;
        m.serialize_entry("model", &self.model)?;
        m.serialize_entry("timeoutSeconds", &self.timeout_seconds)?;
        m.serialize_entry("preserveWorktrees", &self.preserve_worktrees)?;
        m.serialize_entry("winnerId", &self.winner_id)?;
        m.serialize_entry("runtimeMix", &self.runtime_mix)?;
        m.serialize_entry("totalDuration", &self.total_duration)?;
        m.serialize_entry("totalFilesChanged", &self.total_files_changed)?;
        m.serialize_entry("totalLinesAdded", &self.total_lines_added)?;
        m.serialize_entry("totalLinesDeleted", &self.total_lines_deleted)?;
        m.serialize_entry("instances", &self.instances)?;
        m.serialize_entry("chatHistory", &self.chat_history)?;
        m.end()
    }
}

impl Serialize for WorktreeInstance {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(Some(16))?;
        m.serialize_entry("instanceId", &self.instance_id)?;
        m.serialize_entry("sessionId", &self.session_id)?;
        m.serialize_entry("worktreePath", &self.worktree_path)?;
        m.serialize_entry("branch", &self.branch)?;
        m.serialize_entry("agentName", &self.agent_name)?;
        m.serialize_entry("status", &self.status)?;
        m.serialize_entry("tmuxSessionId", &self.tmux_session_id)?;
        m.serialize_entry("output", &self.output)?;
        m.serialize_entry("startTime", &self.start_time)?;
        m.serialize_entry("endTime", &self.end_time)?;
        m.serialize_entry("filesChanged", &self.files_changed)?;
        m.serialize_entry("linesAdded", &self.lines_added)?;
        m.serialize_entry("linesDeleted", &self.lines_deleted)?;
        m.serialize_entry("runtime", &self.runtime)?;
        m.serialize_entry("model", &self.model)?;
        m.serialize_entry("runtimeLabel", &self.runtime_label)?;
        m.end()
    }
}

impl Serialize for ChatMessage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(Some(6))?;
        m.serialize_entry("id", &self.id)?;
        m.serialize_entry("sessionId", &self.session_id)?;
        m.serialize_entry("role", &self.role)?;
        m.serialize_entry("content", &self.content)?;
        m.serialize_entry("timestamp", &self.timestamp)?;
        m.serialize_entry("instanceId", &self.instance_id)?;
        m.end()
    }
}

impl WorktreeSession {
    /// The session as AIT42's serde model serialises it (`get_session`'s JSON).
    pub fn to_json(&self) -> Json {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// The JSON text of one session.
pub fn session_json(session: &WorktreeSession) -> String {
    serde_json::to_string(session).unwrap_or_default()
}

/// [`WorktreeSession::from_json`] of JSON text.
impl std::str::FromStr for WorktreeSession {
    type Err = FieldError;

    fn from_str(text: &str) -> Result<Self, FieldError> {
        WorktreeSession::from_json(&parse_text(text)?)
    }
}

/// [`ChatMessage::from_json`] of JSON text.
impl std::str::FromStr for ChatMessage {
    type Err = FieldError;

    fn from_str(text: &str) -> Result<Self, FieldError> {
        ChatMessage::from_json(&parse_text(text)?)
    }
}

fn parse_text(text: &str) -> Result<Json, FieldError> {
    serde_json::from_str(text).map_err(|_| FieldError {
        path: String::new(),
        expected: "valid JSON",
    })
}

/// Where the objects' fields are read from: a JSON object ([`WorktreeSession::from_json`]), or a
/// JS object in the Node binding. Each getter reads one key (missing and `null` alike for the
/// optional ones) and fails with the source's error for a value of the wrong type.
pub trait Source: Sized {
    type Error;
    fn text(&self, key: &str) -> Result<String, Self::Error>;
    fn opt_text(&self, key: &str) -> Result<Option<String>, Self::Error>;
    fn int(&self, key: &str) -> Result<i64, Self::Error>;
    fn opt_int(&self, key: &str) -> Result<Option<i64>, Self::Error>;
    fn opt_bool(&self, key: &str) -> Result<Option<bool>, Self::Error>;
    fn opt_texts(&self, key: &str) -> Result<Option<Vec<String>>, Self::Error>;
    /// The array `key` (empty when missing or `null`), each item read by `item`.
    fn list<T>(
        &self,
        key: &str,
        item: fn(Self) -> Result<T, Self::Error>,
    ) -> Result<Vec<T>, Self::Error>;
}

/// A JSON value that is not the object expected: where (`instances[2].status`, empty for the
/// value itself) and what it must be (`a string`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub path: String,
    pub expected: &'static str,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            write!(f, "must be {}", self.expected)
        } else {
            write!(f, "'{}' must be {}", self.path, self.expected)
        }
    }
}

/// The keys of one JSON object, with the path to it for errors.
struct Fields<'a> {
    map: &'a Map<String, Json>,
    at: String,
}

impl<'a> Fields<'a> {
    fn new(v: &'a Json, at: String) -> Result<Self, FieldError> {
        match v {
            Json::Object(map) => Ok(Fields { map, at }),
            _ => Err(FieldError {
                path: at,
                expected: "an object",
            }),
        }
    }

    fn path(&self, key: &str) -> String {
        if self.at.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.at)
        }
    }

    fn fail<T>(&self, key: &str, expected: &'static str) -> Result<T, FieldError> {
        Err(FieldError {
            path: self.path(key),
            expected,
        })
    }

    /// The value of `key`, `None` when missing or `null`.
    fn get(&self, key: &str) -> Option<&'a Json> {
        self.map.get(key).filter(|v| !v.is_null())
    }
}

impl<'a> Source for Fields<'a> {
    type Error = FieldError;

    fn text(&self, key: &str) -> Result<String, FieldError> {
        match self.get(key) {
            Some(Json::String(s)) => Ok(s.clone()),
            _ => self.fail(key, "a string"),
        }
    }

    fn opt_text(&self, key: &str) -> Result<Option<String>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(Json::String(s)) => Ok(Some(s.clone())),
            Some(_) => self.fail(key, "a string or null"),
        }
    }

    fn int(&self, key: &str) -> Result<i64, FieldError> {
        match self.get(key).and_then(integer) {
            Some(n) => Ok(n),
            None => self.fail(key, "an integer"),
        }
    }

    fn opt_int(&self, key: &str) -> Result<Option<i64>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => match integer(v) {
                Some(n) => Ok(Some(n)),
                None => self.fail(key, "an integer or null"),
            },
        }
    }

    fn opt_bool(&self, key: &str) -> Result<Option<bool>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(Json::Bool(b)) => Ok(Some(*b)),
            Some(_) => self.fail(key, "a boolean or null"),
        }
    }

    fn opt_texts(&self, key: &str) -> Result<Option<Vec<String>>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(Json::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Json::String(s) => Ok(s.clone()),
                    _ => Err(FieldError {
                        path: format!("{}[{i}]", self.path(key)),
                        expected: "a string",
                    }),
                })
                .collect::<Result<_, _>>()
                .map(Some),
            Some(_) => self.fail(key, "an array of strings or null"),
        }
    }

    fn list<T>(
        &self,
        key: &str,
        item: fn(Self) -> Result<T, FieldError>,
    ) -> Result<Vec<T>, FieldError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Json::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| item(Fields::new(v, format!("{}[{i}]", self.path(key)))?))
                .collect(),
            Some(_) => self.fail(key, "an array"),
        }
    }
}

/// An integral JSON number (`3` or `3.0`) as an `i64`.
fn integer(v: &Json) -> Option<i64> {
    match v {
        Json::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15)
                .map(|f| f as i64)
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trips_in_ait42s_key_order_with_nulls() {
        let text = r#"{"id":"s","type":"ensemble","task":"t","status":"running",
            "createdAt":"a","updatedAt":"b","instances":[{"instanceId":0,"worktreePath":"/w",
            "branch":"b","agentName":"x","status":"idle","tmuxSessionId":"m"}],
            "chatHistory":[{"id":"m1","role":"user","content":"hi","timestamp":"c"}]}"#;
        let s = WorktreeSession::from_json(&serde_json::from_str(text).unwrap()).unwrap();
        let out = serde_json::to_string(&s.to_json()).unwrap();
        assert!(out.starts_with(
            r#"{"id":"s","type":"ensemble","task":"t","status":"running","createdAt":"a","updatedAt":"b","completedAt":null,"model":null"#
        ), "{out}");
        assert!(out.contains(r#""totalLinesDeleted":null,"instances":[{"instanceId":0,"sessionId":null,"worktreePath":"/w""#), "{out}");
        assert!(out.ends_with(r#""chatHistory":[{"id":"m1","sessionId":null,"role":"user","content":"hi","timestamp":"c","instanceId":null}]}"#), "{out}");
        let again = WorktreeSession::from_json(&s.to_json()).unwrap();
        assert_eq!(again, s);
    }

    #[test]
    fn a_bad_field_is_named_by_its_path() {
        let v: Json = serde_json::from_str(
            r#"{"id":"s","type":"debate","task":"t","status":"running","createdAt":"a",
            "updatedAt":"b","instances":[{"instanceId":1.5}],"runtimeMix":["a",2]}"#,
        )
        .unwrap();
        let err = WorktreeSession::from_json(&v).unwrap_err();
        assert_eq!(err.to_string(), "'runtimeMix[1]' must be a string");
        let mut o = v.as_object().unwrap().clone();
        o.remove("runtimeMix");
        let err = WorktreeSession::from_json(&Json::Object(o)).unwrap_err();
        assert_eq!(err.path, "instances[0].instanceId");
        assert_eq!(
            WorktreeSession::from_json(&Json::Null)
                .unwrap_err()
                .to_string(),
            "must be an object"
        );
    }
}
