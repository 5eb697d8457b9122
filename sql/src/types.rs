//! The mapping between SQL types, DriftDB's storage types and Arrow types.

use crate::error::{Error, Result};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::sql::sqlparser::ast::DataType as SqlType;
use driftdb_engine::{ColumnType, TableDef};
use std::sync::Arc;

/// The Arrow type a storage type is read as.
pub fn arrow_type(ty: ColumnType) -> DataType {
    match ty {
        ColumnType::Bool => DataType::Boolean,
        ColumnType::Int32 => DataType::Int32,
        ColumnType::Int64 => DataType::Int64,
        ColumnType::Float64 => DataType::Float64,
        ColumnType::Text => DataType::Utf8,
    }
}

/// The storage type for a column declared as `sql`.
pub fn column_type(sql: &SqlType) -> Result<ColumnType> {
    Ok(match sql {
        SqlType::Bool | SqlType::Boolean => ColumnType::Bool,
        SqlType::Int(_) | SqlType::Int4(_) | SqlType::Integer(_) => ColumnType::Int32,
        SqlType::BigInt(_) | SqlType::Int8(_) => ColumnType::Int64,
        SqlType::DoublePrecision | SqlType::Float8 => ColumnType::Float64,
        SqlType::Text | SqlType::Varchar(_) | SqlType::CharacterVarying(_) | SqlType::String(_) => {
            ColumnType::Text
        }
        other => return Err(Error::unsupported(format!("type {other}"))),
    })
}

/// The type of the commit-time columns of version queries.
pub fn system_time_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into()))
}

/// The Arrow schema a reader sees for `def`: its visible columns, in order.
pub fn table_schema(def: &TableDef) -> SchemaRef {
    Arc::new(Schema::new(table_fields(def)))
}

/// The fields of `def`'s visible columns.
pub fn table_fields(def: &TableDef) -> Vec<Field> {
    def.visible_slots()
        .map(|slot| {
            let column = &def.columns[slot];
            // Nullability is enforced on write with proper errors; readers treat every column as
            // nullable so that DataFusion's own check never pre-empts them.
            Field::new(&column.name, arrow_type(column.ty), true)
        })
        .collect()
}

/// The extra columns of a version query, after the table's own.
pub const VERSION_COLUMNS: [&str; 4] = ["_seq_from", "_seq_to", "_system_from", "_system_to"];

/// The schema of a version query over `def`.
pub fn versions_schema(def: &TableDef) -> SchemaRef {
    let mut fields = table_fields(def);
    fields.push(Field::new(VERSION_COLUMNS[0], DataType::Int64, false));
    fields.push(Field::new(VERSION_COLUMNS[1], DataType::Int64, true));
    fields.push(Field::new(VERSION_COLUMNS[2], system_time_type(), false));
    fields.push(Field::new(VERSION_COLUMNS[3], system_time_type(), true));
    Arc::new(Schema::new(fields))
}
