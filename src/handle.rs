//! The open database shared by a `Store` and its store members.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;

use napi::Result;
use stowage_core::{Database, Error};

use crate::js::Js;

/// A database that is open until `close()`; shared by a `Store` and its `training` member,
/// which both live on the JS thread that opened it.
#[derive(Clone)]
pub struct Handle {
    db: Rc<RefCell<Option<Database>>>,
    path: PathBuf,
}

impl Handle {
    pub fn new(db: Database) -> Self {
        let path = db.path().to_path_buf();
        Handle {
            db: Rc::new(RefCell::new(Some(db))),
            path,
        }
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    pub fn is_open(&self) -> bool {
        self.db.try_borrow().is_ok_and(|db| db.is_some())
    }

    /// Runs `f` on the open database; `ERR_CLOSED` after `close()`, `ERR_TRANSACTION_ABORTED`
    /// inside a transaction that SQLite has rolled back.
    pub fn with<T>(
        &self,
        js: Js,
        f: impl FnOnce(&Database) -> stowage_core::Result<T>,
    ) -> Result<T> {
        self.with_levels(js, |db| db.ensure_transaction_alive().and_then(|()| f(db)))
    }

    /// Runs `f` on the open database, even inside a transaction that SQLite has rolled back:
    /// for the calls that close transaction levels.
    pub fn with_levels<T>(
        &self,
        js: Js,
        f: impl FnOnce(&Database) -> stowage_core::Result<T>,
    ) -> Result<T> {
        let guard = self.db.try_borrow().map_err(|_| busy(js))?;
        let db = guard
            .as_ref()
            .ok_or_else(|| js.core(Error::Closed(self.path.clone())))?;
        f(db).map_err(|e| js.core(e))
    }

    /// Runs `f` on the open database with exclusive access (a restore replacing its content);
    /// `ERR_CLOSED` after `close()`.
    pub fn with_mut<T>(
        &self,
        js: Js,
        f: impl FnOnce(&mut Database) -> stowage_core::Result<T>,
    ) -> Result<T> {
        let mut guard = self.db.try_borrow_mut().map_err(|_| busy(js))?;
        let db = guard
            .as_mut()
            .ok_or_else(|| js.core(Error::Closed(self.path.clone())))?;
        db.ensure_transaction_alive()
            .and_then(|()| f(db))
            .map_err(|e| js.core(e))
    }

    /// Closes the database; closing twice is a no-op. Inside `transaction(fn)` it is
    /// `ERR_TRANSACTION_OPEN` and the store stays open.
    pub fn close(&self, js: Js) -> Result<()> {
        let mut slot = self.db.try_borrow_mut().map_err(|_| busy(js))?;
        if slot.as_ref().is_some_and(|db| db.transaction_depth() > 0) {
            return Err(js.core(Error::TransactionOpen("close()")));
        }
        let taken = slot.take();
        drop(slot);
        match taken {
            Some(db) => db.close().map_err(|e| js.core(e)),
            None => Ok(()),
        }
    }
}

/// The error of a call made while another call on the same store is running (a callback of
/// the first calling back into the store).
fn busy(js: Js) -> napi::Error {
    js.core(Error::InvalidArg(
        "the store is busy with another call".into(),
    ))
}
