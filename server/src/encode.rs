//! Arrow record batches to PostgreSQL rows: type OIDs for the row description, and DataRows
//! holding each value in the format the client asked for: text ([`driftdb_sql::text`]) or
//! binary ([`crate::binary`]).

use crate::binary::ColumnBinary;
use bytes::{BufMut, BytesMut};
use driftdb_engine::ColumnType;
use driftdb_sql::arrow::datatypes::{DataType, Field, Schema};
use driftdb_sql::arrow::record_batch::RecordBatch;
use driftdb_sql::text::{ColumnText, format_options};
use driftdb_sql::{PG_ATTNUM, PG_TABLE_OID, PG_TYPE, PG_TYPMOD};
use pgwire::api::Type;
use pgwire::api::portal::Format;
use pgwire::api::results::{FieldFormat, FieldInfo};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::data::DataRow;

/// The PostgreSQL type a column is described as: the type its metadata names, else the one
/// its Arrow type implies.
pub fn pg_type(field: &Field) -> Type {
    match field.metadata().get(PG_TYPE).map(String::as_str) {
        Some("varchar") => Type::VARCHAR,
        Some("bpchar") => Type::BPCHAR,
        Some("uuid") => Type::UUID,
        Some("json") => Type::JSON,
        Some("jsonb") => Type::JSONB,
        Some("int2vector") => Type::INT2_VECTOR,
        Some("oidvector") => Type::OID_VECTOR,
        _ => arrow_pg_type(field.data_type()),
    }
}

/// The array type of elements of type `element`.
fn array_of(element: &Type) -> Type {
    ARRAYS
        .iter()
        .find(|(_, e)| e == element)
        .map_or(Type::TEXT_ARRAY, |(array, _)| array.clone())
}

/// The element type of array type `array` (`int2vector` and `oidvector` included).
pub fn array_element(array: &Type) -> Option<Type> {
    match *array {
        Type::INT2_VECTOR => Some(Type::INT2),
        Type::OID_VECTOR => Some(Type::OID),
        _ => ARRAYS
            .iter()
            .find(|(a, _)| a == array)
            .map(|(_, element)| element.clone()),
    }
}

/// Array types and their elements' types.
const ARRAYS: [(Type, Type); 19] = [
    (Type::BOOL_ARRAY, Type::BOOL),
    (Type::INT2_ARRAY, Type::INT2),
    (Type::INT4_ARRAY, Type::INT4),
    (Type::INT8_ARRAY, Type::INT8),
    (Type::FLOAT4_ARRAY, Type::FLOAT4),
    (Type::FLOAT8_ARRAY, Type::FLOAT8),
    (Type::NUMERIC_ARRAY, Type::NUMERIC),
    (Type::TEXT_ARRAY, Type::TEXT),
    (Type::VARCHAR_ARRAY, Type::VARCHAR),
    (Type::DATE_ARRAY, Type::DATE),
    (Type::TIME_ARRAY, Type::TIME),
    (Type::TIMESTAMP_ARRAY, Type::TIMESTAMP),
    (Type::TIMESTAMPTZ_ARRAY, Type::TIMESTAMPTZ),
    (Type::INTERVAL_ARRAY, Type::INTERVAL),
    (Type::BYTEA_ARRAY, Type::BYTEA),
    (Type::UUID_ARRAY, Type::UUID),
    (Type::JSON_ARRAY, Type::JSON),
    (Type::JSONB_ARRAY, Type::JSONB),
    (Type::OID_ARRAY, Type::OID),
];

fn arrow_pg_type(ty: &DataType) -> Type {
    match ty {
        DataType::Boolean => Type::BOOL,
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => Type::INT2,
        DataType::Int32 | DataType::UInt16 => Type::INT4,
        DataType::Int64 | DataType::UInt32 => Type::INT8,
        DataType::UInt64 | DataType::Decimal128(..) | DataType::Decimal256(..) => Type::NUMERIC,
        DataType::Float16 | DataType::Float32 => Type::FLOAT4,
        DataType::Float64 => Type::FLOAT8,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Type::TEXT,
        DataType::Date32 | DataType::Date64 => Type::DATE,
        DataType::Timestamp(_, Some(_)) => Type::TIMESTAMPTZ,
        DataType::Timestamp(_, None) => Type::TIMESTAMP,
        DataType::Time32(_) | DataType::Time64(_) => Type::TIME,
        DataType::Interval(_) | DataType::Duration(_) => Type::INTERVAL,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => Type::BYTEA,
        DataType::List(element) => array_of(&pg_type(element)),
        _ => Type::TEXT,
    }
}

/// The column type of a parameter the client declared as `ty`; `None` for a type the server
/// should infer (unspecified, or one DriftDB has no column type for).
pub fn declared_param(ty: &Type) -> Option<Field> {
    let column_type = match *ty {
        Type::BOOL => ColumnType::Bool,
        Type::INT2 => ColumnType::Int16,
        Type::INT4 => ColumnType::Int32,
        Type::INT8 | Type::OID => ColumnType::Int64,
        Type::FLOAT4 => ColumnType::Float32,
        Type::FLOAT8 => ColumnType::Float64,
        Type::NUMERIC => ColumnType::UnconstrainedNumeric,
        Type::TEXT | Type::NAME | Type::BPCHAR => ColumnType::Text,
        Type::VARCHAR => ColumnType::Varchar(None),
        Type::DATE => ColumnType::Date,
        Type::TIME => ColumnType::Time,
        Type::TIMESTAMP => ColumnType::Timestamp,
        Type::TIMESTAMPTZ => ColumnType::Timestamptz,
        Type::INTERVAL => ColumnType::Interval,
        Type::BYTEA => ColumnType::Bytea,
        Type::UUID => ColumnType::Uuid,
        Type::JSON => ColumnType::Json,
        Type::JSONB => ColumnType::Jsonb,
        _ => return None,
    };
    Some(driftdb_sql::column_field("", column_type))
}

/// The row description for `schema`, each column in the format `formats` gives it (text when
/// `None`, as for the simple query protocol).
pub fn row_description(schema: &Schema, formats: Option<&Format>) -> Vec<FieldInfo> {
    schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let format = formats.map_or(FieldFormat::Text, |f| f.format_for(i));
            let modifier = field
                .metadata()
                .get(PG_TYPMOD)
                .and_then(|m| m.parse().ok())
                .unwrap_or(-1);
            let metadata = |key: &str| field.metadata().get(key);
            FieldInfo::new(
                field.name().clone(),
                metadata(PG_TABLE_OID).and_then(|oid| oid.parse().ok()),
                metadata(PG_ATTNUM).and_then(|number| number.parse().ok()),
                pg_type(field),
                format,
            )
            .with_type_modifier(modifier)
        })
        .collect()
}

/// One column's writer.
enum ColumnWriter<'a> {
    Text(ColumnText<'a>),
    Binary(ColumnBinary<'a>),
}

/// Encodes every row of `batch` as a DataRow, each column as `fields` describes it.
pub fn encode_batch(batch: &RecordBatch, fields: &[FieldInfo]) -> PgWireResult<Vec<DataRow>> {
    if batch.num_columns() != fields.len() {
        return Err(PgWireError::ApiError(
            format!(
                "the statement returned {} columns where {} were described",
                batch.num_columns(),
                fields.len()
            )
            .into(),
        ));
    }
    let options = format_options();
    let columns: Vec<ColumnWriter<'_>> = batch
        .columns()
        .iter()
        .zip(fields)
        .map(|(array, field)| match field.format() {
            FieldFormat::Text => ColumnText::new(array, &options)
                .map(|text| match *field.datatype() {
                    Type::INT2_VECTOR | Type::OID_VECTOR => text.as_vector(),
                    _ => text,
                })
                .map(ColumnWriter::Text)
                .map_err(|e| e.to_string()),
            FieldFormat::Binary => {
                ColumnBinary::new(array, field.datatype(), &options).map(ColumnWriter::Binary)
            }
        })
        .collect::<Result<_, _>>()
        .map_err(|e| PgWireError::ApiError(e.into()))?;
    let field_count =
        i16::try_from(columns.len()).map_err(|_| PgWireError::InvalidMessageType(0))?;
    let mut rows = Vec::with_capacity(batch.num_rows());
    let mut text = String::new();
    for row in 0..batch.num_rows() {
        let mut data = BytesMut::with_capacity(columns.len() * 8);
        for column in &columns {
            match column {
                ColumnWriter::Text(column) => {
                    text.clear();
                    if column.write(row, &mut text) {
                        data.put_i32(text.len() as i32);
                        data.put_slice(text.as_bytes());
                    } else {
                        data.put_i32(-1);
                    }
                }
                ColumnWriter::Binary(column) => column.write(row, &mut data, &mut text),
            }
        }
        rows.push(DataRow::new(data, field_count));
    }
    Ok(rows)
}
