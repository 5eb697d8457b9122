//! The engine's error type and the small set of kinds callers branch on.

/// What went wrong, for callers that must react differently (and for the SQLSTATE map upstream).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A stored frame failed its length or checksum test, or did not decode.
    Corrupt,
    /// RocksDB or the file system failed.
    Storage,
    /// The disk is full: nothing was written.
    DiskFull,
    /// A table with this name already exists.
    TableExists,
    /// No table with this name exists at the requested point.
    NoSuchTable,
    /// No index with this name exists.
    NoSuchIndex,
    /// A write would create a second row with the same primary key.
    DuplicateKey,
    /// A concurrent commit changed what this one read or wrote; retrying may succeed.
    Conflict,
    /// A read asked for a seq that has not been committed yet.
    FutureSeq,
    /// The caller passed something the engine cannot store.
    InvalidInput,
}

/// An engine error. Messages name what they can: table, key and seq for corruption.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("data corrupted in {location}: {detail}")]
    Corrupt { location: String, detail: String },
    #[error("storage error: {0}")]
    Storage(String),
    #[error("could not write to disk: {0}; free some disk space, and writes resume")]
    DiskFull(String),
    #[error("relation \"{0}\" already exists")]
    TableExists(String),
    #[error("relation \"{0}\" does not exist")]
    NoSuchTable(String),
    #[error("index \"{0}\" does not exist")]
    NoSuchIndex(String),
    #[error("duplicate key value violates unique constraint \"{constraint}\"")]
    DuplicateKey { constraint: String },
    #[error("{0}")]
    Conflict(String),
    #[error("seq {requested} has not been committed yet (the latest commit is seq {latest})")]
    FutureSeq { requested: u64, latest: u64 },
    #[error("{0}")]
    InvalidInput(String),
}

impl Error {
    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Corrupt { .. } => ErrorKind::Corrupt,
            Error::Storage(_) => ErrorKind::Storage,
            Error::DiskFull(_) => ErrorKind::DiskFull,
            Error::TableExists(_) => ErrorKind::TableExists,
            Error::NoSuchTable(_) => ErrorKind::NoSuchTable,
            Error::NoSuchIndex(_) => ErrorKind::NoSuchIndex,
            Error::DuplicateKey { .. } => ErrorKind::DuplicateKey,
            Error::Conflict(_) => ErrorKind::Conflict,
            Error::FutureSeq { .. } => ErrorKind::FutureSeq,
            Error::InvalidInput(_) => ErrorKind::InvalidInput,
        }
    }

    pub(crate) fn corrupt(location: impl Into<String>, detail: impl std::fmt::Display) -> Error {
        Error::Corrupt {
            location: location.into(),
            detail: detail.to_string(),
        }
    }
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
