//! The `stowage` Node addon: a thin Node-API binding over `stowage-core`.
//!
//! JS arguments are checked and converted in [`js`], each class method makes one call into the
//! core, and core errors become JS errors carrying the core's stable `code`. The package entry
//! (`index.js`) adds the module-level drop-in functions of OnTheFly's `storage.ts` on top.

mod agents;
mod chats;
mod conversations;
mod handle;
mod history;
mod import;
mod job;
mod js;
mod rows;
mod settings;
mod store;
mod stores;
mod training;
mod worktrees;
