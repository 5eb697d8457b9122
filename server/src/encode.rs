//! Arrow record batches to PostgreSQL rows: type OIDs for the row description, and DataRows
//! holding each value's text form ([`driftdb_sql::text`]).

use bytes::{BufMut, BytesMut};
use driftdb_sql::PG_TYPE;
use driftdb_sql::arrow::datatypes::{DataType, Field, Schema};
use driftdb_sql::arrow::record_batch::RecordBatch;
use driftdb_sql::text::{ColumnText, format_options};
use pgwire::api::Type;
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
        _ => arrow_pg_type(field.data_type()),
    }
}

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
        _ => Type::TEXT,
    }
}

/// The row description for `schema`, all columns in text format.
pub fn row_description(schema: &Schema) -> Vec<FieldInfo> {
    schema
        .fields()
        .iter()
        .map(|field| {
            FieldInfo::new(
                field.name().clone(),
                None,
                None,
                pg_type(field),
                FieldFormat::Text,
            )
        })
        .collect()
}

/// Encodes every row of `batch` as a text-format DataRow.
pub fn encode_batch(batch: &RecordBatch) -> PgWireResult<Vec<DataRow>> {
    let options = format_options();
    let columns: Vec<ColumnText<'_>> = batch
        .columns()
        .iter()
        .map(|array| ColumnText::new(array, &options))
        .collect::<Result<_, _>>()
        .map_err(|e| PgWireError::ApiError(Box::new(e)))?;
    let field_count =
        i16::try_from(columns.len()).map_err(|_| PgWireError::InvalidMessageType(0))?;
    let mut rows = Vec::with_capacity(batch.num_rows());
    let mut text = String::new();
    for row in 0..batch.num_rows() {
        let mut data = BytesMut::with_capacity(columns.len() * 8);
        for column in &columns {
            text.clear();
            if column.write(row, &mut text) {
                data.put_i32(text.len() as i32);
                data.put_slice(text.as_bytes());
            } else {
                data.put_i32(-1);
            }
        }
        rows.push(DataRow::new(data, field_count));
    }
    Ok(rows)
}
