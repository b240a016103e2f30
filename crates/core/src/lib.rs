//! stowage-core: the engine and stores behind the `stowage` Node addon, in pure Rust.
//!
//! [`Database::open`] opens a SQLite file with stowage's pragmas and migrates the stores it
//! hosts (the [`OpenOptions`] name them; [`stores::find`] looks one up by name);
//! [`Database::training`] gives the training store (OnTheFly's `storage.ts`),
//! [`Database::agents`] the agents store (overstory's `sessions.db`), [`Database::worktrees`]
//! the worktrees store (AIT42 Editor's `ait42-session`), [`Database::chats`] the chats store
//! (etcode's `etcode.db`), [`Database::conversations`] the conversations store (the opencode
//! sidepanel's chats), [`Database::settings`] and [`Database::recovery`] the settings store (the
//! sidepanel's localStorage layer and crash-recovery slot), [`Database::history`] the history store
//! (its snapshots, recordings and analytics).
//!
//! ```
//! use stowage_core::{Database, OpenOptions};
//! use stowage_core::training::MetricInput;
//!
//! let dir = tempfile::tempdir()?;
//! let db = Database::open(&dir.path().join("runs.sqlite"), &OpenOptions::default())?;
//! let training = db.training()?;
//! training.insert_run("run-1", Some("demo"), Some("base"), &[])?;
//! training.insert_metric("run-1", &MetricInput { step: Some(1.0), loss: Some(0.9), ..Default::default() })?;
//! assert_eq!(training.run_rows("run-1")?.len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod agents;
pub mod chats;
pub mod conversations;
pub mod engine;
pub mod history;
pub mod jsnum;
pub mod settings;
pub mod stores;
pub mod training;
pub mod worktrees;

pub use engine::{Database, Error, OpenOptions, Result, Rows, StoreDef};
/// A SQLite value as stored (NULL, INTEGER, REAL, TEXT or BLOB).
pub use rusqlite::types::Value;
