//! Progress of long bundle operations.

use std::path::{Path, PathBuf};

use crate::engine::Result;

/// A step of an export or a load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Export: the consistent copy of the database.
    Snapshot,
    /// Export: copying checkpoint files.
    Checkpoints,
    /// Export: copying final-model files.
    FinalModels,
    /// Export: writing the `.tar` form.
    Archive,
    /// Load: unpacking a `.tar` bundle.
    Extract,
    /// Load: copying the bundle's database aside.
    Copy,
    /// Load: checking the copy (`quick_check`, training tables).
    Validate,
    /// Load: bringing the copy to the current schema and pointing its paths into the bundle.
    Migrate,
    /// Load: replacing the store's training tables in one transaction.
    Replace,
    /// Finished.
    Done,
}

impl Phase {
    /// The name used in progress events.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Snapshot => "snapshot",
            Phase::Checkpoints => "checkpoints",
            Phase::FinalModels => "final_models",
            Phase::Archive => "archive",
            Phase::Extract => "extract",
            Phase::Copy => "copy",
            Phase::Validate => "validate",
            Phase::Migrate => "migrate",
            Phase::Replace => "replace",
            Phase::Done => "done",
        }
    }
}

/// One progress event. `bytes_done`/`bytes_total` count every byte the operation copies
/// (`bytes_total` may grow once the file list is known).
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub phase: Phase,
    pub bytes_done: u64,
    pub bytes_total: u64,
    /// The file being copied, when there is one.
    pub file: Option<PathBuf>,
}

/// Receives progress events; returning an error cancels the operation with that error.
pub type Sink<'a> = &'a mut dyn FnMut(&Progress) -> Result<()>;

/// Bytes between two events while copying (the API promises at least one per 64 MiB).
pub const REPORT_EVERY: u64 = 16 << 20;

/// Counts bytes and emits events at phase changes and every [`REPORT_EVERY`] bytes.
pub(crate) struct Meter<'a> {
    sink: Sink<'a>,
    phase: Phase,
    done: u64,
    total: u64,
    reported: u64,
}

impl<'a> Meter<'a> {
    pub fn new(sink: Sink<'a>) -> Self {
        Meter {
            sink,
            phase: Phase::Done,
            done: 0,
            total: 0,
            reported: 0,
        }
    }

    /// Starts `phase` (always reported).
    pub fn phase(&mut self, phase: Phase) -> Result<()> {
        self.phase = phase;
        self.emit(None)
    }

    pub fn add_total(&mut self, bytes: u64) {
        self.total += bytes;
    }

    /// Records `bytes` copied of `file`; reports when enough accumulated.
    pub fn advance(&mut self, bytes: u64, file: &Path) -> Result<()> {
        self.done += bytes;
        self.total = self.total.max(self.done);
        if self.done - self.reported >= REPORT_EVERY {
            self.emit(Some(file))?;
        }
        Ok(())
    }

    fn emit(&mut self, file: Option<&Path>) -> Result<()> {
        self.reported = self.done;
        (self.sink)(&Progress {
            phase: self.phase,
            bytes_done: self.done,
            bytes_total: self.total,
            file: file.map(Path::to_path_buf),
        })
    }
}
