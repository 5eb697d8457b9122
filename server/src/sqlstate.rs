//! The one map from error kinds to SQLSTATE codes.

use driftdb_sql::ErrorKind;

/// The SQLSTATE of a notice that reports no condition.
pub const SUCCESSFUL_COMPLETION: &str = "00000";
pub const SYNTAX_ERROR: &str = "42601";
pub const UNDEFINED_TABLE: &str = "42P01";
pub const UNDEFINED_OBJECT: &str = "42704";
pub const UNDEFINED_COLUMN: &str = "42703";
pub const UNDEFINED_FUNCTION: &str = "42883";
pub const AMBIGUOUS_COLUMN: &str = "42702";
pub const GROUPING_ERROR: &str = "42803";
pub const DUPLICATE_TABLE: &str = "42P07";
pub const DUPLICATE_COLUMN: &str = "42701";
pub const INVALID_TABLE_DEFINITION: &str = "42P16";
pub const DATATYPE_MISMATCH: &str = "42804";
pub const UNIQUE_VIOLATION: &str = "23505";
pub const NOT_NULL_VIOLATION: &str = "23502";
pub const FEATURE_NOT_SUPPORTED: &str = "0A000";
pub const INVALID_PARAMETER_VALUE: &str = "22023";
pub const NULL_VALUE_NOT_ALLOWED: &str = "22004";
pub const INVALID_TEXT_REPRESENTATION: &str = "22P02";
pub const INVALID_DATETIME_FORMAT: &str = "22007";
pub const DIVISION_BY_ZERO: &str = "22012";
pub const NUMERIC_VALUE_OUT_OF_RANGE: &str = "22003";
pub const STRING_DATA_RIGHT_TRUNCATION: &str = "22001";
pub const GENERATED_ALWAYS: &str = "428C9";
pub const FOREIGN_KEY_VIOLATION: &str = "23503";
pub const INVALID_FOREIGN_KEY: &str = "42830";
pub const DEPENDENT_OBJECTS_STILL_EXIST: &str = "2BP01";
pub const WRONG_OBJECT_TYPE: &str = "42809";
pub const INVALID_OBJECT_DEFINITION: &str = "42P17";
pub const CHECK_VIOLATION: &str = "23514";
pub const INVALID_COLUMN_REFERENCE: &str = "42P10";
pub const CARDINALITY_VIOLATION: &str = "21000";
pub const DATA_CORRUPTED: &str = "XX001";
pub const SERIALIZATION_FAILURE: &str = "40001";
pub const IN_FAILED_SQL_TRANSACTION: &str = "25P02";
pub const NO_ACTIVE_SQL_TRANSACTION: &str = "25P01";
pub const ACTIVE_SQL_TRANSACTION: &str = "25001";
pub const READ_ONLY_SQL_TRANSACTION: &str = "25006";
pub const INVALID_SAVEPOINT_SPECIFICATION: &str = "3B001";
pub const PROTOCOL_VIOLATION: &str = "08P01";
pub const INVALID_BINARY_REPRESENTATION: &str = "22P03";
pub const CANT_CHANGE_RUNTIME_PARAM: &str = "55P02";
pub const BAD_COPY_FILE_FORMAT: &str = "22P04";
pub const CHARACTER_NOT_IN_REPERTOIRE: &str = "22021";
pub const UNDEFINED_PARAMETER: &str = "42P02";
pub const INVALID_SQL_STATEMENT_NAME: &str = "26000";
pub const QUERY_CANCELED: &str = "57014";
pub const OUT_OF_MEMORY: &str = "53200";
pub const DISK_FULL: &str = "53100";
pub const TOO_MANY_CONNECTIONS: &str = "53300";
pub const STATEMENT_TOO_COMPLEX: &str = "54001";
pub const IDLE_IN_TRANSACTION_SESSION_TIMEOUT: &str = "25P03";
pub const IDLE_SESSION_TIMEOUT: &str = "57P05";
pub const IO_ERROR: &str = "58030";
pub const INTERNAL_ERROR: &str = "XX000";
pub const INVALID_CATALOG_NAME: &str = "3D000";

/// The SQLSTATE a client sees for an error of `kind`.
pub fn sqlstate(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::SyntaxError => SYNTAX_ERROR,
        ErrorKind::UndefinedTable => UNDEFINED_TABLE,
        ErrorKind::UndefinedObject => UNDEFINED_OBJECT,
        ErrorKind::UndefinedColumn => UNDEFINED_COLUMN,
        ErrorKind::UndefinedFunction => UNDEFINED_FUNCTION,
        ErrorKind::AmbiguousColumn => AMBIGUOUS_COLUMN,
        ErrorKind::GroupingError => GROUPING_ERROR,
        ErrorKind::DuplicateTable => DUPLICATE_TABLE,
        ErrorKind::DuplicateColumn => DUPLICATE_COLUMN,
        ErrorKind::InvalidTableDefinition => INVALID_TABLE_DEFINITION,
        ErrorKind::DatatypeMismatch => DATATYPE_MISMATCH,
        ErrorKind::UniqueViolation => UNIQUE_VIOLATION,
        ErrorKind::NotNullViolation => NOT_NULL_VIOLATION,
        ErrorKind::FeatureNotSupported => FEATURE_NOT_SUPPORTED,
        ErrorKind::InvalidParameterValue => INVALID_PARAMETER_VALUE,
        ErrorKind::NullValueNotAllowed => NULL_VALUE_NOT_ALLOWED,
        ErrorKind::InvalidTextRepresentation => INVALID_TEXT_REPRESENTATION,
        ErrorKind::InvalidDatetimeFormat => INVALID_DATETIME_FORMAT,
        ErrorKind::DivisionByZero => DIVISION_BY_ZERO,
        ErrorKind::NumericOutOfRange => NUMERIC_VALUE_OUT_OF_RANGE,
        ErrorKind::StringDataRightTruncation => STRING_DATA_RIGHT_TRUNCATION,
        ErrorKind::GeneratedAlways => GENERATED_ALWAYS,
        ErrorKind::ForeignKeyViolation => FOREIGN_KEY_VIOLATION,
        ErrorKind::InvalidForeignKey => INVALID_FOREIGN_KEY,
        ErrorKind::DependentObjectsStillExist => DEPENDENT_OBJECTS_STILL_EXIST,
        ErrorKind::WrongObjectType => WRONG_OBJECT_TYPE,
        ErrorKind::InvalidObjectDefinition => INVALID_OBJECT_DEFINITION,
        ErrorKind::CheckViolation => CHECK_VIOLATION,
        ErrorKind::InvalidColumnReference => INVALID_COLUMN_REFERENCE,
        ErrorKind::CardinalityViolation => CARDINALITY_VIOLATION,
        ErrorKind::DataCorrupted => DATA_CORRUPTED,
        ErrorKind::SerializationFailure => SERIALIZATION_FAILURE,
        ErrorKind::InFailedTransaction => IN_FAILED_SQL_TRANSACTION,
        ErrorKind::NoActiveTransaction => NO_ACTIVE_SQL_TRANSACTION,
        ErrorKind::ActiveTransaction => ACTIVE_SQL_TRANSACTION,
        ErrorKind::ReadOnlyTransaction => READ_ONLY_SQL_TRANSACTION,
        ErrorKind::InvalidSavepoint => INVALID_SAVEPOINT_SPECIFICATION,
        ErrorKind::ProtocolViolation => PROTOCOL_VIOLATION,
        ErrorKind::InvalidBinaryRepresentation => INVALID_BINARY_REPRESENTATION,
        ErrorKind::CantChangeRuntimeParam => CANT_CHANGE_RUNTIME_PARAM,
        ErrorKind::BadCopyFileFormat => BAD_COPY_FILE_FORMAT,
        ErrorKind::CharacterNotInRepertoire => CHARACTER_NOT_IN_REPERTOIRE,
        ErrorKind::UndefinedParameter => UNDEFINED_PARAMETER,
        ErrorKind::StatementTooComplex => STATEMENT_TOO_COMPLEX,
        ErrorKind::OutOfMemory => OUT_OF_MEMORY,
        ErrorKind::DiskFull => DISK_FULL,
        ErrorKind::IoError => IO_ERROR,
        ErrorKind::Internal => INTERNAL_ERROR,
    }
}
