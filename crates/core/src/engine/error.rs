//! The error type shared by the engine and every store.
//!
//! Each variant carries a stable string [`Error::code`]: SQLite failures use SQLite's extended
//! result-code names (`SQLITE_BUSY`, `SQLITE_CONSTRAINT_UNIQUE`, ...), file-system failures the
//! POSIX errno names Node uses (`ENOENT`, `EACCES`, ...), and domain errors an `ERR_` prefix.
//! The binding turns the code into the `code` property of the JS error.

use std::io;
use std::path::{Path, PathBuf};

/// Everything that can go wrong in stowage-core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// SQLite refused an operation; `code` is the extended result-code name.
    #[error("{message}")]
    Sqlite { code: &'static str, message: String },
    /// A file-system operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The file was written by a newer stowage; it is left untouched.
    #[error(
        "{} was written by a newer stowage: its '{store}' store is at schema version {found}, \
         this build knows versions up to {known}; it was not modified",
        path.display()
    )]
    SchemaTooNew {
        path: PathBuf,
        store: &'static str,
        found: i64,
        known: i64,
    },
    /// An applied migration no longer matches the one embedded in this build.
    #[error(
        "migration {version} of the '{store}' store applied to this file differs from the one in \
         this build (checksum {found}, expected {expected})"
    )]
    MigrationChanged {
        store: &'static str,
        version: i64,
        found: String,
        expected: String,
    },
    /// A table the store needs exists with a shape that is not the store's; nothing was changed.
    #[error("{0}")]
    SchemaConflict(String),
    /// A bundle could not be exported or loaded; `code` starts with `ERR_BUNDLE_`.
    #[error("{message}")]
    Bundle { code: &'static str, message: String },
    /// An argument had the right type but an unusable value.
    #[error("{0}")]
    InvalidArg(String),
    /// Text meant for a JSON column is not one JSON value.
    #[error("{field} is not valid JSON: {reason}")]
    InvalidJson { field: String, reason: String },
    /// The store was closed; no further calls are possible on it.
    #[error("the store at {} is closed", .0.display())]
    Closed(PathBuf),
    /// A long operation was stopped by its caller (for example a progress callback that threw).
    #[error("the operation was cancelled")]
    Cancelled,
    /// A store was used that the file was not opened with.
    #[error("the '{0}' store was not opened on this file (see the `stores` option)")]
    StoreNotOpen(&'static str),
    /// SQLite rolled back an open transaction after an error inside it (a full disk, say), so
    /// nothing of it was committed and no further call may pretend to be part of it.
    #[error(
        "the transaction was rolled back by SQLite after an error inside it; nothing of it was \
         committed"
    )]
    TransactionAborted,
    /// An operation that cannot run inside an open transaction (closing the store) was called
    /// inside one.
    #[error("{0} cannot run inside transaction(fn); call it after the transaction ends")]
    TransactionOpen(&'static str),
    /// The store was opened with `read_only` and the call needs to write (or the file needs a
    /// migration or adoption that a read-only open cannot make); nothing was changed.
    #[error("{0}")]
    ReadOnly(String),
    /// A row the call names (a session, a message, ...) does not exist; nothing was changed.
    #[error("{0}")]
    NotFound(String),
    /// A search query given as FTS5 syntax (`{ raw: true }`) that is not valid syntax.
    #[error("{0}")]
    SearchSyntax(String),
    /// An archive to restore is not one (not gzip, truncated, too large, not JSON, or not of
    /// the expected shape); nothing was written.
    #[error("{0}")]
    ArchiveInvalid(String),
    /// A backup to restore is not one (not SQLite, damaged gzip, failing its integrity check, or
    /// not holding the stores the file was opened with); the live file was not touched.
    #[error("{0}")]
    BackupInvalid(String),
    /// A write would take a store past the quota it was opened with; nothing was written.
    #[error("{0}")]
    QuotaExceeded(String),
}

/// Result alias used throughout stowage-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The stable code of this error, as exposed to JS in `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Sqlite { code, .. } => code,
            Error::Io { source, .. } => errno_name(source),
            Error::SchemaTooNew { .. } => "ERR_SCHEMA_TOO_NEW",
            Error::MigrationChanged { .. } => "ERR_MIGRATION_CHANGED",
            Error::SchemaConflict(_) => "ERR_SCHEMA_CONFLICT",
            Error::Bundle { code, .. } => code,
            Error::InvalidArg(_) => "ERR_INVALID_ARG",
            Error::InvalidJson { .. } => "ERR_INVALID_JSON",
            Error::Closed(_) => "ERR_CLOSED",
            Error::StoreNotOpen(_) => "ERR_STORE_NOT_OPEN",
            Error::TransactionAborted => "ERR_TRANSACTION_ABORTED",
            Error::TransactionOpen(_) => "ERR_TRANSACTION_OPEN",
            Error::Cancelled => "ERR_CANCELLED",
            Error::NotFound(_) => "ERR_NOT_FOUND",
            Error::ReadOnly(_) => "ERR_READ_ONLY",
            Error::SearchSyntax(_) => "ERR_SEARCH_SYNTAX",
            Error::ArchiveInvalid(_) => "ERR_ARCHIVE_INVALID",
            Error::BackupInvalid(_) => "ERR_BACKUP_INVALID",
            Error::QuotaExceeded(_) => "ERR_QUOTA_EXCEEDED",
        }
    }

    /// Wraps an I/O error with the operation and path it concerns.
    pub fn io(op: &'static str, path: &Path, source: io::Error) -> Self {
        Error::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }

    /// A bundle error with its `ERR_BUNDLE_*` code.
    pub fn bundle(code: &'static str, message: impl Into<String>) -> Self {
        debug_assert!(code.starts_with("ERR_BUNDLE_"));
        Error::Bundle {
            code,
            message: message.into(),
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        match err {
            rusqlite::Error::SqliteFailure(failure, message) => Error::Sqlite {
                code: sqlite_code_name(failure.extended_code),
                message: message.unwrap_or_else(|| failure.to_string()),
            },
            rusqlite::Error::SqlInputError {
                error, msg, offset, ..
            } => Error::Sqlite {
                code: sqlite_code_name(error.extended_code),
                message: format!("{msg} (at byte {offset} of the statement)"),
            },
            other => Error::Sqlite {
                code: "SQLITE_MISUSE",
                message: other.to_string(),
            },
        }
    }
}

/// The errno-style name Node would put in `code` for this I/O error.
fn errno_name(err: &io::Error) -> &'static str {
    use io::ErrorKind::*;
    match err.kind() {
        NotFound => "ENOENT",
        PermissionDenied => "EACCES",
        AlreadyExists => "EEXIST",
        NotADirectory => "ENOTDIR",
        IsADirectory => "EISDIR",
        DirectoryNotEmpty => "ENOTEMPTY",
        StorageFull => "ENOSPC",
        QuotaExceeded => "EDQUOT",
        FileTooLarge => "EFBIG",
        ReadOnlyFilesystem => "EROFS",
        CrossesDevices => "EXDEV",
        ResourceBusy => "EBUSY",
        InvalidInput | InvalidFilename => "EINVAL",
        _ => "ERR_IO",
    }
}

/// The name of a SQLite (extended) result code, e.g. `SQLITE_CONSTRAINT_UNIQUE`.
///
/// Unknown extended codes fall back to the name of their primary code.
pub fn sqlite_code_name(code: i32) -> &'static str {
    if let Ok(i) = NAMES.binary_search_by_key(&code, |(c, _)| *c) {
        return NAMES[i].1;
    }
    match NAMES.binary_search_by_key(&(code & 0xff), |(c, _)| *c) {
        Ok(i) => NAMES[i].1,
        Err(_) => "SQLITE_ERROR",
    }
}

/// Every result code of SQLite 3.54, sorted by value (generated from `sqlite3.h`).
const NAMES: &[(i32, &str)] = &[
    (0, "SQLITE_OK"),
    (1, "SQLITE_ERROR"),
    (2, "SQLITE_INTERNAL"),
    (3, "SQLITE_PERM"),
    (4, "SQLITE_ABORT"),
    (5, "SQLITE_BUSY"),
    (6, "SQLITE_LOCKED"),
    (7, "SQLITE_NOMEM"),
    (8, "SQLITE_READONLY"),
    (9, "SQLITE_INTERRUPT"),
    (10, "SQLITE_IOERR"),
    (11, "SQLITE_CORRUPT"),
    (12, "SQLITE_NOTFOUND"),
    (13, "SQLITE_FULL"),
    (14, "SQLITE_CANTOPEN"),
    (15, "SQLITE_PROTOCOL"),
    (16, "SQLITE_EMPTY"),
    (17, "SQLITE_SCHEMA"),
    (18, "SQLITE_TOOBIG"),
    (19, "SQLITE_CONSTRAINT"),
    (20, "SQLITE_MISMATCH"),
    (21, "SQLITE_MISUSE"),
    (22, "SQLITE_NOLFS"),
    (23, "SQLITE_AUTH"),
    (24, "SQLITE_FORMAT"),
    (25, "SQLITE_RANGE"),
    (26, "SQLITE_NOTADB"),
    (27, "SQLITE_NOTICE"),
    (28, "SQLITE_WARNING"),
    (100, "SQLITE_ROW"),
    (101, "SQLITE_DONE"),
    (256, "SQLITE_OK_LOAD_PERMANENTLY"),
    (257, "SQLITE_ERROR_MISSING_COLLSEQ"),
    (261, "SQLITE_BUSY_RECOVERY"),
    (262, "SQLITE_LOCKED_SHAREDCACHE"),
    (264, "SQLITE_READONLY_RECOVERY"),
    (266, "SQLITE_IOERR_READ"),
    (267, "SQLITE_CORRUPT_VTAB"),
    (270, "SQLITE_CANTOPEN_NOTEMPDIR"),
    (275, "SQLITE_CONSTRAINT_CHECK"),
    (279, "SQLITE_AUTH_USER"),
    (283, "SQLITE_NOTICE_RECOVER_WAL"),
    (284, "SQLITE_WARNING_AUTOINDEX"),
    (512, "SQLITE_OK_SYMLINK"),
    (513, "SQLITE_ERROR_RETRY"),
    (516, "SQLITE_ABORT_ROLLBACK"),
    (517, "SQLITE_BUSY_SNAPSHOT"),
    (518, "SQLITE_LOCKED_VTAB"),
    (520, "SQLITE_READONLY_CANTLOCK"),
    (522, "SQLITE_IOERR_SHORT_READ"),
    (523, "SQLITE_CORRUPT_SEQUENCE"),
    (526, "SQLITE_CANTOPEN_ISDIR"),
    (531, "SQLITE_CONSTRAINT_COMMITHOOK"),
    (539, "SQLITE_NOTICE_RECOVER_ROLLBACK"),
    (769, "SQLITE_ERROR_SNAPSHOT"),
    (773, "SQLITE_BUSY_TIMEOUT"),
    (776, "SQLITE_READONLY_ROLLBACK"),
    (778, "SQLITE_IOERR_WRITE"),
    (779, "SQLITE_CORRUPT_INDEX"),
    (782, "SQLITE_CANTOPEN_FULLPATH"),
    (787, "SQLITE_CONSTRAINT_FOREIGNKEY"),
    (795, "SQLITE_NOTICE_RBU"),
    (1025, "SQLITE_ERROR_RESERVESIZE"),
    (1032, "SQLITE_READONLY_DBMOVED"),
    (1034, "SQLITE_IOERR_FSYNC"),
    (1038, "SQLITE_CANTOPEN_CONVPATH"),
    (1043, "SQLITE_CONSTRAINT_FUNCTION"),
    (1281, "SQLITE_ERROR_KEY"),
    (1288, "SQLITE_READONLY_CANTINIT"),
    (1290, "SQLITE_IOERR_DIR_FSYNC"),
    (1294, "SQLITE_CANTOPEN_DIRTYWAL"),
    (1299, "SQLITE_CONSTRAINT_NOTNULL"),
    (1537, "SQLITE_ERROR_UNABLE"),
    (1544, "SQLITE_READONLY_DIRECTORY"),
    (1546, "SQLITE_IOERR_TRUNCATE"),
    (1550, "SQLITE_CANTOPEN_SYMLINK"),
    (1555, "SQLITE_CONSTRAINT_PRIMARYKEY"),
    (1802, "SQLITE_IOERR_FSTAT"),
    (1811, "SQLITE_CONSTRAINT_TRIGGER"),
    (2058, "SQLITE_IOERR_UNLOCK"),
    (2067, "SQLITE_CONSTRAINT_UNIQUE"),
    (2314, "SQLITE_IOERR_RDLOCK"),
    (2323, "SQLITE_CONSTRAINT_VTAB"),
    (2570, "SQLITE_IOERR_DELETE"),
    (2579, "SQLITE_CONSTRAINT_ROWID"),
    (2826, "SQLITE_IOERR_BLOCKED"),
    (2835, "SQLITE_CONSTRAINT_PINNED"),
    (3082, "SQLITE_IOERR_NOMEM"),
    (3091, "SQLITE_CONSTRAINT_DATATYPE"),
    (3338, "SQLITE_IOERR_ACCESS"),
    (3594, "SQLITE_IOERR_CHECKRESERVEDLOCK"),
    (3850, "SQLITE_IOERR_LOCK"),
    (4106, "SQLITE_IOERR_CLOSE"),
    (4362, "SQLITE_IOERR_DIR_CLOSE"),
    (4618, "SQLITE_IOERR_SHMOPEN"),
    (4874, "SQLITE_IOERR_SHMSIZE"),
    (5130, "SQLITE_IOERR_SHMLOCK"),
    (5386, "SQLITE_IOERR_SHMMAP"),
    (5642, "SQLITE_IOERR_SEEK"),
    (5898, "SQLITE_IOERR_DELETE_NOENT"),
    (6154, "SQLITE_IOERR_MMAP"),
    (6410, "SQLITE_IOERR_GETTEMPPATH"),
    (6666, "SQLITE_IOERR_CONVPATH"),
    (6922, "SQLITE_IOERR_VNODE"),
    (7178, "SQLITE_IOERR_AUTH"),
    (7434, "SQLITE_IOERR_BEGIN_ATOMIC"),
    (7690, "SQLITE_IOERR_COMMIT_ATOMIC"),
    (7946, "SQLITE_IOERR_ROLLBACK_ATOMIC"),
    (8202, "SQLITE_IOERR_DATA"),
    (8458, "SQLITE_IOERR_CORRUPTFS"),
    (8714, "SQLITE_IOERR_IN_PAGE"),
    (8970, "SQLITE_IOERR_BADKEY"),
    (9226, "SQLITE_IOERR_CODEC"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_names_resolve_extended_and_primary_codes() {
        assert_eq!(sqlite_code_name(2067), "SQLITE_CONSTRAINT_UNIQUE");
        assert_eq!(sqlite_code_name(5), "SQLITE_BUSY");
        assert_eq!(sqlite_code_name(26), "SQLITE_NOTADB");
        assert_eq!(sqlite_code_name(5 | (99 << 8)), "SQLITE_BUSY");
        assert!(NAMES.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn rusqlite_failures_keep_their_extended_name() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t(x PRIMARY KEY); INSERT INTO t VALUES (1);")
            .unwrap();
        let err: Error = conn
            .execute("INSERT INTO t VALUES (1)", [])
            .unwrap_err()
            .into();
        assert_eq!(err.code(), "SQLITE_CONSTRAINT_PRIMARYKEY");
        assert!(err.to_string().contains("UNIQUE constraint failed"));
    }

    #[test]
    fn io_errors_use_errno_names() {
        let err = Error::io(
            "open",
            Path::new("/x"),
            io::Error::from(io::ErrorKind::NotFound),
        );
        assert_eq!(err.code(), "ENOENT");
        assert!(err.to_string().starts_with("open /x:"));
    }
}
