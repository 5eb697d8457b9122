//! The SQL layer's error: a kind the server maps to a SQLSTATE, and a message for the user.
//!
//! Every failure that reaches a client passes through here: DataFusion errors (classified by
//! variant, and for planning errors by their wording, since DataFusion has no error codes), the
//! SQL layer's own checks, and (converted by `driftdb-sql`) the engine's errors.

use datafusion::arrow::error::ArrowError;
use datafusion::common::SchemaError;
use datafusion::error::DataFusionError;
use std::fmt;

/// What kind of failure, one variant per SQLSTATE the server reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    SyntaxError,
    UndefinedTable,
    UndefinedObject,
    UndefinedColumn,
    UndefinedFunction,
    AmbiguousColumn,
    /// A column outside GROUP BY and outside any aggregate (42803).
    GroupingError,
    DuplicateTable,
    DuplicateColumn,
    InvalidTableDefinition,
    DatatypeMismatch,
    UniqueViolation,
    NotNullViolation,
    FeatureNotSupported,
    InvalidParameterValue,
    /// A NULL where a function needs a value (`format('%I', NULL)`).
    NullValueNotAllowed,
    InvalidTextRepresentation,
    InvalidDatetimeFormat,
    DivisionByZero,
    NumericOutOfRange,
    /// A value longer than its column's `varchar(n)` or `char(n)` allows.
    StringDataRightTruncation,
    /// A statement names a relation of another kind (DROP TABLE on a view, say).
    WrongObjectType,
    /// A definition that cannot work (a view that expands into itself).
    InvalidObjectDefinition,
    /// A row references a missing parent row, or a delete would orphan child rows.
    ForeignKeyViolation,
    /// A FOREIGN KEY that references no key of its parent.
    InvalidForeignKey,
    /// DROP of a table other tables depend on.
    DependentObjectsStillExist,
    /// A row for which a CHECK constraint is false.
    CheckViolation,
    /// ON CONFLICT names no unique constraint of the table.
    InvalidColumnReference,
    /// ON CONFLICT DO UPDATE would change one row twice.
    CardinalityViolation,
    /// A value given for a `GENERATED ALWAYS` identity column.
    GeneratedAlways,
    DataCorrupted,
    /// A concurrent transaction changed what this one read or wrote; retry it.
    SerializationFailure,
    /// Transactions waited for each other's row locks in a cycle; this one was chosen to fail.
    DeadlockDetected,
    /// A row lock that `NOWAIT` would not wait for, or a wait longer than `lock_timeout`.
    LockNotAvailable,
    /// A statement inside a transaction that already failed.
    InFailedTransaction,
    /// A transaction-block command outside a transaction block.
    NoActiveTransaction,
    /// A transaction setting changed after the transaction's first query.
    ActiveTransaction,
    /// A write in a READ ONLY transaction.
    ReadOnlyTransaction,
    /// ROLLBACK TO or RELEASE of a savepoint that does not exist.
    InvalidSavepoint,
    /// A message that breaks the wire protocol (a Bind with the wrong number of values).
    ProtocolViolation,
    /// A parameter value in binary format that does not decode as its type.
    InvalidBinaryRepresentation,
    /// COPY data that does not fit the table (a missing or extra column).
    BadCopyFileFormat,
    /// Bytes that are not UTF-8.
    CharacterNotInRepertoire,
    /// SET of a setting that cannot change (`server_version`).
    CantChangeRuntimeParam,
    /// A negative LIMIT or OFFSET.
    InvalidRowCountInLimitClause,
    /// A placeholder that is not `$1`, `$2`, ….
    UndefinedParameter,
    /// A statement nested deeper than DriftDB's limit (PostgreSQL's "stack depth limit
    /// exceeded").
    StatementTooComplex,
    OutOfMemory,
    /// The disk is full: a commit could not be written.
    DiskFull,
    IoError,
    Internal,
}

/// An error with its kind and a message in PostgreSQL's style.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    /// Where in the statement's text the error is (1-based, in characters), for syntax errors.
    pub position: Option<usize>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            position: None,
        }
    }

    /// A syntax error in `sql` from the parser's message, with the position its `Line: L,
    /// Column: C` names.
    pub fn syntax(sql: &str, message: String) -> Error {
        let position = message.rsplit_once(" at Line: ").and_then(|(_, at)| {
            let (line, column) = at.split_once(", Column: ")?;
            let line: usize = line.trim().parse().ok()?;
            let column: usize = column.trim().parse().ok()?;
            let before: usize = sql
                .split('\n')
                .take(line.checked_sub(1)?)
                .map(|l| l.chars().count() + 1)
                .sum();
            (column > 0).then_some(before + column)
        });
        Error {
            kind: ErrorKind::SyntaxError,
            message,
            position,
        }
    }

    /// A second row for a key or unique value (23505).
    pub fn unique_violation(constraint: &str) -> Error {
        Error::new(
            ErrorKind::UniqueViolation,
            format!("duplicate key value violates unique constraint \"{constraint}\""),
        )
    }

    /// PostgreSQL's `division by zero` (22012).
    pub fn division_by_zero() -> Error {
        Error::new(ErrorKind::DivisionByZero, "division by zero")
    }

    /// A statement (or a value, such as a JSON document) nested deeper than DriftDB's limits:
    /// PostgreSQL's "stack depth limit exceeded".
    pub fn too_deep() -> Error {
        Error::new(ErrorKind::StatementTooComplex, "stack depth limit exceeded")
    }

    /// A feature DriftDB does not support (yet).
    pub fn unsupported(what: impl fmt::Display) -> Error {
        Error::new(
            ErrorKind::FeatureNotSupported,
            format!("{what} is not supported"),
        )
    }

    /// Wraps this error for returning through DataFusion; [`From<DataFusionError>`] unwraps it.
    pub fn into_datafusion(self) -> DataFusionError {
        DataFusionError::External(Box::new(self))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// The SQL layer's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<ArrowError> for Error {
    fn from(e: ArrowError) -> Error {
        Error::from(DataFusionError::from(e))
    }
}

impl From<DataFusionError> for Error {
    fn from(e: DataFusionError) -> Error {
        classify(e.find_root())
    }
}

fn classify(e: &DataFusionError) -> Error {
    match e {
        DataFusionError::External(inner) => {
            if let Some(ours) = inner.downcast_ref::<Error>() {
                ours.clone()
            } else {
                Error::new(ErrorKind::Internal, inner.to_string())
            }
        }
        DataFusionError::Context(_, inner) | DataFusionError::Diagnostic(_, inner) => {
            classify(inner)
        }
        DataFusionError::Shared(inner) => classify(inner),
        DataFusionError::SQL(parser_error, _) => {
            Error::new(ErrorKind::SyntaxError, parser_error.to_string())
        }
        DataFusionError::SchemaError(schema_error, _) => {
            let kind = match schema_error.as_ref() {
                SchemaError::FieldNotFound { .. } => ErrorKind::UndefinedColumn,
                SchemaError::AmbiguousReference { .. } => ErrorKind::AmbiguousColumn,
                _ => ErrorKind::DuplicateColumn,
            };
            Error::new(kind, e.message())
        }
        DataFusionError::ArrowError(arrow_error, _) => {
            let kind = match arrow_error.as_ref() {
                ArrowError::DivideByZero => ErrorKind::DivisionByZero,
                // Arrow says "Can't cast value …" when a number does not fit the target type.
                ArrowError::CastError(message) if message.starts_with("Can't cast value") => {
                    ErrorKind::NumericOutOfRange
                }
                ArrowError::CastError(_) | ArrowError::ParseError(_) => {
                    ErrorKind::InvalidTextRepresentation
                }
                ArrowError::ArithmeticOverflow(_) => ErrorKind::NumericOutOfRange,
                // A decimal that does not fit its precision.
                ArrowError::InvalidArgumentError(message)
                    if message.contains("too large to store") =>
                {
                    ErrorKind::NumericOutOfRange
                }
                ArrowError::ExternalError(inner) => {
                    if let Some(ours) = inner.downcast_ref::<Error>() {
                        return ours.clone();
                    }
                    ErrorKind::Internal
                }
                _ => ErrorKind::Internal,
            };
            match kind {
                // PostgreSQL's wording (Arrow says "Divide by zero error").
                ErrorKind::DivisionByZero => Error::division_by_zero(),
                _ => Error::new(kind, e.message()),
            }
        }
        DataFusionError::Plan(message) => match grouping_error(message) {
            Some(error) => error,
            None => Error::new(classify_plan_message(message), message.clone()),
        },
        DataFusionError::NotImplemented(message) => {
            Error::new(ErrorKind::FeatureNotSupported, message.clone())
        }
        // The memory pool ran out (`--memory-limit`) and the operator could not spill.
        DataFusionError::ResourcesExhausted(message) => {
            Error::new(ErrorKind::OutOfMemory, format!("out of memory: {message}"))
        }
        DataFusionError::Execution(message) if message.contains("by zero") => {
            Error::division_by_zero()
        }
        other => Error::new(ErrorKind::Internal, other.message()),
    }
}

/// DataFusion's "column … must appear in the GROUP BY clause" in PostgreSQL's words.
fn grouping_error(message: &str) -> Option<Error> {
    let (_, rest) = message.split_once("column \"")?;
    let (column, rest) = rest.split_once('"')?;
    rest.trim_start()
        .starts_with("must appear in the GROUP BY clause")
        .then(|| {
            Error::new(
                ErrorKind::GroupingError,
                format!(
                    "column \"{column}\" must appear in the GROUP BY clause or be used in an \
                     aggregate function"
                ),
            )
        })
}

/// DataFusion's planning errors carry no code; their wording is all there is.
fn classify_plan_message(message: &str) -> ErrorKind {
    let lower = message.to_ascii_lowercase();
    if lower.starts_with("table '") && lower.contains("not found") {
        ErrorKind::UndefinedTable
    } else if lower.contains("invalid function") || lower.contains("no function matches") {
        ErrorKind::UndefinedFunction
    } else if lower.contains("cannot infer common")
        || lower.contains("cannot coerce")
        || lower.contains("coercion")
    {
        ErrorKind::DatatypeMismatch
    } else if lower.contains("not supported") || lower.contains("unsupported") {
        ErrorKind::FeatureNotSupported
    } else {
        ErrorKind::SyntaxError
    }
}

/// A message a statement sends the client without failing: PostgreSQL's NOTICE (`table "t"
/// does not exist, skipping`) or WARNING (`there is already a transaction in progress`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// WARNING rather than NOTICE.
    pub warning: bool,
    /// The condition (its SQLSTATE); `None` for `00000`.
    pub kind: Option<ErrorKind>,
    pub message: String,
}

impl Notice {
    pub fn note(kind: Option<ErrorKind>, message: impl Into<String>) -> Notice {
        Notice {
            warning: false,
            kind,
            message: message.into(),
        }
    }

    pub fn warning(kind: ErrorKind, message: impl Into<String>) -> Notice {
        Notice {
            warning: true,
            kind: Some(kind),
            message: message.into(),
        }
    }

    /// `NOTICE` or `WARNING`.
    pub fn severity(&self) -> &'static str {
        if self.warning { "WARNING" } else { "NOTICE" }
    }
}
