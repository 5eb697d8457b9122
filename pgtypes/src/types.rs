//! The mapping between SQL types, DriftDB's column types and Arrow types.
//!
//! Each column type reads as one Arrow type. Where the Arrow type alone does not say which
//! PostgreSQL type a value has (uuid, json, jsonb, char and varchar are all Arrow `Utf8`), the
//! field carries it in its metadata under [`PG_TYPE`]; DataFusion keeps field metadata through
//! column references and casts, so the server can describe result columns faithfully.
//! [`PgTypePlanner`] gives casts (`'…'::jsonb`, `CAST(x AS timestamptz)`) the same types that
//! columns have.

use crate::error::{Error, ErrorKind, Result};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, IntervalUnit, TimeUnit};
use datafusion::logical_expr::planner::TypePlanner;
use datafusion::sql::sqlparser::ast::{
    CharacterLength, DataType as SqlType, ExactNumberInfo, TimezoneInfo,
};
use driftdb_column_types::{ColumnType, UNCONSTRAINED_NUMERIC_SCALE};
use std::collections::HashMap;
use std::sync::Arc;

/// Field-metadata key naming a value's PostgreSQL type where Arrow's type does not.
pub const PG_TYPE: &str = "driftdb.pg_type";

/// Field-metadata key holding a column's PostgreSQL type modifier (`varchar(20)` is 24,
/// `numeric(12,3)` is `(12 << 16 | 3) + 4`), for the row description.
pub const PG_TYPMOD: &str = "driftdb.pg_typmod";

/// Field-metadata key holding the OID of the table a result column reads (`table_oid` in the
/// row description, which pgjdbc and psycopg use to find the column in `pg_attribute`).
pub const PG_TABLE_OID: &str = "driftdb.pg_table_oid";

/// Field-metadata key holding that column's attribute number in its table.
pub const PG_ATTNUM: &str = "driftdb.pg_attnum";

/// The largest numeric precision DriftDB stores (Arrow's Decimal128).
pub const MAX_NUMERIC_PRECISION: u8 = 38;

/// The time zone timestamptz values carry: they are instants, shown in UTC.
pub const UTC: &str = "+00:00";

/// The Arrow type a column type is read as.
pub fn arrow_type(ty: ColumnType) -> DataType {
    match ty {
        ColumnType::Bool => DataType::Boolean,
        ColumnType::Int16 => DataType::Int16,
        ColumnType::Int32 => DataType::Int32,
        ColumnType::Int64 => DataType::Int64,
        ColumnType::Float32 => DataType::Float32,
        ColumnType::Float64 => DataType::Float64,
        ColumnType::Numeric { precision, scale } => DataType::Decimal128(precision, scale as i8),
        ColumnType::UnconstrainedNumeric => {
            DataType::Decimal128(MAX_NUMERIC_PRECISION, UNCONSTRAINED_NUMERIC_SCALE as i8)
        }
        ColumnType::Text
        | ColumnType::Varchar(_)
        | ColumnType::Char(_)
        | ColumnType::Uuid
        | ColumnType::Json
        | ColumnType::Jsonb => DataType::Utf8,
        ColumnType::Date => DataType::Date32,
        ColumnType::Time => DataType::Time64(TimeUnit::Microsecond),
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        ColumnType::Timestamptz => system_time_type(),
        ColumnType::Interval => DataType::Interval(IntervalUnit::MonthDayNano),
        ColumnType::Bytea => DataType::Binary,
    }
}

/// The PostgreSQL type name a field of this column type carries in [`PG_TYPE`], if Arrow's
/// type does not imply it.
fn pg_type_name(ty: ColumnType) -> Option<&'static str> {
    match ty {
        ColumnType::Varchar(_) => Some("varchar"),
        ColumnType::Char(_) => Some("bpchar"),
        ColumnType::Uuid => Some("uuid"),
        ColumnType::Json => Some("json"),
        ColumnType::Jsonb => Some("jsonb"),
        _ => None,
    }
}

/// A nullable field of column type `ty`, with its PostgreSQL type and type modifier in the
/// metadata where Arrow's type does not say them.
pub fn field(name: &str, ty: ColumnType) -> Field {
    let field = Field::new(name, arrow_type(ty), true);
    let mut metadata = HashMap::new();
    if let Some(pg) = pg_type_name(ty) {
        metadata.insert(PG_TYPE.to_string(), pg.to_string());
    }
    let modifier = type_modifier(ty);
    if modifier >= 0 {
        metadata.insert(PG_TYPMOD.to_string(), modifier.to_string());
    }
    match metadata.is_empty() {
        true => field,
        false => field.with_metadata(metadata),
    }
}

fn char_length(length: &Option<CharacterLength>) -> Result<Option<u32>> {
    match length {
        None | Some(CharacterLength::Max) => Ok(None),
        Some(CharacterLength::IntegerLength { length, .. }) => match u32::try_from(*length) {
            Ok(n) if (1..=10_485_760).contains(&n) => Ok(Some(n)),
            _ => Err(Error::new(
                ErrorKind::InvalidParameterValue,
                format!("length for type varchar must be between 1 and 10485760, not {length}"),
            )),
        },
    }
}

fn numeric_type(info: &ExactNumberInfo) -> Result<ColumnType> {
    let (precision, scale) = match *info {
        ExactNumberInfo::None => return Ok(ColumnType::UnconstrainedNumeric),
        ExactNumberInfo::Precision(p) => (p, 0),
        ExactNumberInfo::PrecisionAndScale(p, s) => (p, s),
    };
    if precision == 0 || precision > u64::from(MAX_NUMERIC_PRECISION) {
        return Err(Error::unsupported(format!(
            "numeric precision {precision} (DriftDB stores numerics of up to {MAX_NUMERIC_PRECISION} digits)"
        )));
    }
    let scale = u64::try_from(scale)
        .ok()
        .filter(|s| *s <= precision)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidParameterValue,
                format!("NUMERIC scale {scale} must be between 0 and precision {precision}"),
            )
        })?;
    Ok(ColumnType::Numeric {
        precision: precision as u8,
        scale: scale as u8,
    })
}

/// The column type for a column declared as `sql`.
pub fn column_type(sql: &SqlType) -> Result<ColumnType> {
    Ok(match sql {
        SqlType::Bool | SqlType::Boolean => ColumnType::Bool,
        SqlType::SmallInt(_) | SqlType::Int2(_) => ColumnType::Int16,
        SqlType::Int(_) | SqlType::Int4(_) | SqlType::Integer(_) => ColumnType::Int32,
        SqlType::BigInt(_) | SqlType::Int8(_) => ColumnType::Int64,
        SqlType::Real | SqlType::Float4 => ColumnType::Float32,
        SqlType::Float(ExactNumberInfo::Precision(p)) if *p <= 24 => ColumnType::Float32,
        SqlType::DoublePrecision
        | SqlType::Float8
        | SqlType::Float(_)
        | SqlType::Double(ExactNumberInfo::None) => ColumnType::Float64,
        SqlType::Numeric(info) | SqlType::Decimal(info) | SqlType::Dec(info) => numeric_type(info)?,
        SqlType::Text | SqlType::String(None) => ColumnType::Text,
        SqlType::Varchar(length)
        | SqlType::CharacterVarying(length)
        | SqlType::CharVarying(length) => ColumnType::Varchar(char_length(length)?),
        SqlType::Char(length) | SqlType::Character(length) => {
            ColumnType::Char(char_length(length)?.unwrap_or(1))
        }
        SqlType::Date => ColumnType::Date,
        SqlType::Time(_, TimezoneInfo::None | TimezoneInfo::WithoutTimeZone) => ColumnType::Time,
        SqlType::Timestamp(_, TimezoneInfo::None | TimezoneInfo::WithoutTimeZone) => {
            ColumnType::Timestamp
        }
        SqlType::Timestamp(_, TimezoneInfo::Tz | TimezoneInfo::WithTimeZone) => {
            ColumnType::Timestamptz
        }
        SqlType::Interval { .. } => ColumnType::Interval,
        SqlType::Bytea => ColumnType::Bytea,
        SqlType::Uuid => ColumnType::Uuid,
        SqlType::JSON => ColumnType::Json,
        SqlType::JSONB => ColumnType::Jsonb,
        other => return Err(Error::unsupported(format!("type {other}"))),
    })
}

/// The length a `varchar(n)` or `char(n)` field declares in its [`PG_TYPMOD`].
fn declared_length(field: &Field) -> Option<u32> {
    let modifier: i64 = field.metadata().get(PG_TYPMOD)?.parse().ok()?;
    u32::try_from(modifier - 4).ok()
}

/// The column type that holds values of `field` (for CREATE TABLE … AS, and a view's columns).
pub fn column_type_of(field: &Field) -> Result<ColumnType> {
    let pg = field.metadata().get(PG_TYPE).map(String::as_str);
    Ok(match (field.data_type(), pg) {
        (DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View, Some("uuid")) => {
            ColumnType::Uuid
        }
        (DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View, Some("json")) => {
            ColumnType::Json
        }
        (DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View, Some("jsonb")) => {
            ColumnType::Jsonb
        }
        (DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View, Some("varchar")) => {
            ColumnType::Varchar(declared_length(field))
        }
        (DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View, Some("bpchar")) => {
            ColumnType::Char(declared_length(field).unwrap_or(1))
        }
        (DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View, _) => ColumnType::Text,
        (DataType::Boolean, _) => ColumnType::Bool,
        (DataType::Int8 | DataType::Int16 | DataType::UInt8, _) => ColumnType::Int16,
        (DataType::Int32 | DataType::UInt16, _) => ColumnType::Int32,
        (DataType::Int64 | DataType::UInt32, _) => ColumnType::Int64,
        (DataType::UInt64, _) => ColumnType::Numeric {
            precision: 20,
            scale: 0,
        },
        (DataType::Float16 | DataType::Float32, _) => ColumnType::Float32,
        (DataType::Float64, _) => ColumnType::Float64,
        (DataType::Decimal128(p, s), _) if *s >= 0 && *p <= MAX_NUMERIC_PRECISION => {
            ColumnType::Numeric {
                precision: *p,
                scale: *s as u8,
            }
        }
        (DataType::Date32 | DataType::Date64, _) => ColumnType::Date,
        (DataType::Time32(_) | DataType::Time64(_), _) => ColumnType::Time,
        (DataType::Timestamp(_, None), _) => ColumnType::Timestamp,
        (DataType::Timestamp(_, Some(_)), _) => ColumnType::Timestamptz,
        (DataType::Interval(_), _) => ColumnType::Interval,
        (DataType::Binary | DataType::LargeBinary | DataType::BinaryView, _) => ColumnType::Bytea,
        (DataType::Null, _) => ColumnType::Text,
        (other, _) => {
            return Err(Error::unsupported(format!(
                "a column of type {other} in CREATE TABLE … AS"
            )));
        }
    })
}

/// The name of the fields casts are planned with (DataFusion keeps the name of what is cast).
const CAST_FIELD: &str = "cast";

/// Plans the types of casts and typed literals as PostgreSQL has them: timestamps and times in
/// microseconds, timestamptz as a UTC instant, uuid/json/jsonb/char/varchar as text that
/// remembers its PostgreSQL type.
#[derive(Debug, Default)]
pub struct PgTypePlanner;

impl TypePlanner for PgTypePlanner {
    fn plan_type_field(&self, sql: &SqlType) -> datafusion::error::Result<Option<FieldRef>> {
        // A named field: DataFusion copies the metadata of what is cast onto a cast to an
        // unnamed field without metadata, so `'{}'::jsonb::text` would still be jsonb.
        let named = |field: Field| Arc::new(field.with_name(CAST_FIELD)) as FieldRef;
        let planned = match sql {
            SqlType::Bool | SqlType::Boolean => {
                return Ok(Some(named(Field::new("", DataType::Boolean, true))));
            }
            // DataFusion's own mapping is right for these.
            SqlType::Array(_) | SqlType::Struct(..) => return Ok(None),
            other => column_type(other),
        };
        Ok(planned.ok().map(|ty| named(field("", ty))))
    }
}

/// The type of the commit-time columns of version queries (and of timestamptz columns).
pub fn system_time_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into()))
}

/// A column type's type modifier (`atttypmod`): lengths and numeric precision, else -1.
pub fn type_modifier(ty: ColumnType) -> i32 {
    match ty {
        ColumnType::Varchar(Some(n)) | ColumnType::Char(n) => n as i32 + 4,
        ColumnType::Numeric { precision, scale } => {
            ((i32::from(precision) << 16) | i32::from(scale)) + 4
        }
        _ => -1,
    }
}

/// The SQL type that casts a value to `ty` (a bound parameter's type). `char(n)` and
/// `varchar(n)` parameters are unbounded, as PostgreSQL's `bpchar` and `varchar` parameters are:
/// the column they are stored into checks the length.
pub fn sql_type(ty: ColumnType) -> SqlType {
    match ty {
        ColumnType::Bool => SqlType::Boolean,
        ColumnType::Int16 => SqlType::SmallInt(None),
        ColumnType::Int32 => SqlType::Integer(None),
        ColumnType::Int64 => SqlType::BigInt(None),
        ColumnType::Float32 => SqlType::Real,
        ColumnType::Float64 => SqlType::DoublePrecision,
        ColumnType::Numeric { precision, scale } => SqlType::Numeric(
            ExactNumberInfo::PrecisionAndScale(u64::from(precision), i64::from(scale)),
        ),
        ColumnType::UnconstrainedNumeric => SqlType::Numeric(ExactNumberInfo::None),
        ColumnType::Text | ColumnType::Char(_) => SqlType::Text,
        ColumnType::Varchar(_) => SqlType::Varchar(None),
        ColumnType::Date => SqlType::Date,
        ColumnType::Time => SqlType::Time(None, TimezoneInfo::None),
        ColumnType::Timestamp => SqlType::Timestamp(None, TimezoneInfo::None),
        ColumnType::Timestamptz => SqlType::Timestamp(None, TimezoneInfo::WithTimeZone),
        ColumnType::Interval => SqlType::Interval {
            fields: None,
            precision: None,
        },
        ColumnType::Bytea => SqlType::Bytea,
        ColumnType::Uuid => SqlType::Uuid,
        ColumnType::Json => SqlType::JSON,
        ColumnType::Jsonb => SqlType::JSONB,
    }
}

/// The name of a field's type, as its `regtype` prints (`integer`, `character varying`,
/// `text[]`, `unknown` for a bare NULL).
pub fn type_name_of(field: &datafusion::arrow::datatypes::Field) -> String {
    if let DataType::List(element) | DataType::LargeList(element) = field.data_type() {
        return format!("{}[]", type_name_of(element));
    }
    if field.data_type() == &DataType::Null {
        return "unknown".to_string();
    }
    column_type_of(field)
        .ok()
        .and_then(|ty| crate::oids::format_type(crate::oids::type_oid(ty), None))
        .unwrap_or_else(|| "unknown".to_string())
}
