//! DriftDB's column types, in a crate of their own so both sides can share them without
//! sharing anything else: the engine (`driftdb-engine`) stores a value by its column's type,
//! and PostgreSQL's types and functions (`driftdb-pgtypes`) map each type to its PostgreSQL name,
//! OID and Arrow type. No dependency besides serde (the catalog stores these).

use serde::{Deserialize, Serialize};
use std::fmt;

/// A column's declared SQL type, as the catalog records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ColumnType {
    Bool,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    /// `numeric(precision, scale)`; stored as an i128 of units of 10^-scale.
    Numeric {
        precision: u8,
        scale: u8,
    },
    /// `numeric` without a precision: stored like `numeric(38, UNCONSTRAINED_NUMERIC_SCALE)`.
    UnconstrainedNumeric,
    Text,
    /// `varchar(n)`; `None` when unbounded.
    Varchar(Option<u32>),
    /// `char(n)`: values are padded with spaces to n characters.
    Char(u32),
    Date,
    Time,
    Timestamp,
    Timestamptz,
    Interval,
    Bytea,
    Uuid,
    Json,
    Jsonb,
}

/// The scale an unconstrained `numeric` column keeps.
pub const UNCONSTRAINED_NUMERIC_SCALE: u8 = 10;

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnType::Numeric { precision, scale } => write!(f, "numeric({precision},{scale})"),
            ColumnType::Varchar(Some(n)) => write!(f, "character varying({n})"),
            ColumnType::Char(n) => write!(f, "character({n})"),
            other => f.write_str(match other {
                ColumnType::Bool => "boolean",
                ColumnType::Int16 => "smallint",
                ColumnType::Int32 => "integer",
                ColumnType::Int64 => "bigint",
                ColumnType::Float32 => "real",
                ColumnType::Float64 => "double precision",
                ColumnType::UnconstrainedNumeric => "numeric",
                ColumnType::Text => "text",
                ColumnType::Varchar(None) => "character varying",
                ColumnType::Date => "date",
                ColumnType::Time => "time without time zone",
                ColumnType::Timestamp => "timestamp without time zone",
                ColumnType::Timestamptz => "timestamp with time zone",
                ColumnType::Interval => "interval",
                ColumnType::Bytea => "bytea",
                ColumnType::Uuid => "uuid",
                ColumnType::Json => "json",
                ColumnType::Jsonb => "jsonb",
                ColumnType::Numeric { .. } | ColumnType::Varchar(Some(_)) | ColumnType::Char(_) => {
                    unreachable!("written above")
                }
            }),
        }
    }
}
