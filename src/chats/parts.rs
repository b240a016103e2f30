//! `ChatStore`'s parts: a message's text, tool calls, step markers and compactions.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::{at, opt_json, ChatStore};
use crate::js::{Js, Raw};

#[napi]
impl ChatStore {
    /// Creates a part with a new `part_` id from `{ messageID, sessionID?, type, … }`: every
    /// key but the ids is its JSON `data`. `sessionID` defaults to `''`, as etcode writes it.
    /// Returns `{ …data, id, messageID }`. A message that does not exist is
    /// `SQLITE_CONSTRAINT_FOREIGNKEY`.
    #[napi(
        catch_unwind,
        ts_args_type = "part: ChatPartInput",
        ts_return_type = "ChatPart"
    )]
    pub fn create_part(&self, env: Env, part: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let f = "createPart";
        let o = js.object(part.raw(), at(f, "part"))?;
        let message_id = js.str(js.get(o, "messageID")?, at(f, "part.messageID"))?;
        let session_id = js
            .opt_str(js.get(o, "sessionID")?, at(f, "part.sessionID"))?
            .unwrap_or_default();
        js.str(js.get(o, "type")?, at(f, "part.type"))?;
        let data = js.json_text(o, at(f, "part"))?;
        let created = self.run(js, |c| c.create_part(&message_id, &session_id, &data))?;
        js.json(&created.object()).map(Raw)
    }

    /// The part `id`, or `undefined`.
    #[napi(
        catch_unwind,
        ts_args_type = "id: string",
        ts_return_type = "ChatPart | undefined"
    )]
    pub fn get_part(&self, env: Env, id: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let id = Self::id(js, id, "getPart", "id")?;
        opt_json(js, self.run(js, |c| Ok(c.part(&id)?.map(|p| p.object())))?)
    }

    /// The message's parts, oldest first (ties in insertion order).
    #[napi(
        catch_unwind,
        ts_args_type = "messageID: string",
        ts_return_type = "ChatPart[]"
    )]
    pub fn list_parts(&self, env: Env, message_id: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let message = Self::id(js, message_id, "listParts", "messageID")?;
        let text = self.run(js, |c| c.parts_json(&message))?;
        js.json(&text).map(Raw)
    }

    /// Reads part `id`, calls `mutate(part)` (which changes it in place: a tool's `state` as
    /// its output streams in) and stores the result with `time_updated` = now, all in one
    /// transaction; returns the part, `undefined` when there is none. If `mutate` throws,
    /// nothing changes and it is rethrown.
    #[napi(
        catch_unwind,
        ts_args_type = "id: string, mutate: (part: ChatPart) => void",
        ts_return_type = "ChatPart | undefined"
    )]
    pub fn update_part(&self, env: Env, id: Unknown<'_>, mutate: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let id = Self::id(js, id, "updatePart", "id")?;
        self.update_with(js, "updatePart", mutate, |c, m| c.update_part_with(&id, m))
    }
}
