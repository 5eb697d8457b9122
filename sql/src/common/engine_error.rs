//! The engine's errors in the SQL layer's terms: each engine kind maps to the error kind (and so
//! the SQLSTATE) a PostgreSQL client expects, with the engine's message.

use driftdb_engine::ErrorKind as EngineKind;
use driftdb_pgtypes::error::{Error, ErrorKind};

/// `e` as the SQL layer's error.
pub(crate) fn engine_error(e: driftdb_engine::Error) -> Error {
    let kind = match e.kind() {
        EngineKind::Corrupt => ErrorKind::DataCorrupted,
        EngineKind::Storage => ErrorKind::IoError,
        EngineKind::DiskFull => ErrorKind::DiskFull,
        EngineKind::TableExists => ErrorKind::DuplicateTable,
        EngineKind::NoSuchTable => ErrorKind::UndefinedTable,
        EngineKind::NoSuchIndex => ErrorKind::UndefinedObject,
        EngineKind::DuplicateKey => ErrorKind::UniqueViolation,
        EngineKind::Conflict => ErrorKind::SerializationFailure,
        EngineKind::FutureSeq | EngineKind::InvalidInput => ErrorKind::InvalidParameterValue,
    };
    Error::new(kind, e.to_string())
}
