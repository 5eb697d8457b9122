//! A catalog table under construction: its columns (named and typed as PostgreSQL 15's, from
//! [`crate::pgcompat::catalog_columns`]) and rows of values, ending as an in-memory table.

use crate::pgcompat::catalog_columns;
use DataType::{Boolean as Bool, Int16 as I16, Int32 as I32, Int64 as Oid, Utf8 as Text};
use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::TableProvider;
use datafusion::common::ScalarValue;
use datafusion::datasource::MemTable;
use datafusion::error::Result;
use driftdb_pgtypes::types;
use std::sync::Arc;

/// A catalog table under construction: its columns and rows of values.
pub(crate) struct Table {
    fields: Vec<Field>,
    rows: Vec<Vec<ScalarValue>>,
}

pub(crate) fn text(value: &str) -> ScalarValue {
    ScalarValue::Utf8(Some(value.to_string()))
}

pub(crate) fn null_text() -> ScalarValue {
    ScalarValue::Utf8(None)
}

pub(crate) fn oid(value: i64) -> ScalarValue {
    ScalarValue::Int64(Some(value))
}

pub(crate) fn int2(value: i16) -> ScalarValue {
    ScalarValue::Int16(Some(value))
}

pub(crate) fn int4(value: i32) -> ScalarValue {
    ScalarValue::Int32(Some(value))
}

pub(crate) fn boolean(value: bool) -> ScalarValue {
    ScalarValue::Boolean(Some(value))
}

/// An ACL (`aclitem[]`) that is NULL: the owner holds every privilege.
pub(crate) fn no_acl() -> ScalarValue {
    ScalarValue::new_null_list(Text, true, 1)
}

pub(crate) fn int2_list(values: impl IntoIterator<Item = i16>) -> ScalarValue {
    let values: Vec<ScalarValue> = values.into_iter().map(int2).collect();
    ScalarValue::List(ScalarValue::new_list_nullable(&values, &DataType::Int16))
}

pub(crate) fn oid_list(values: impl IntoIterator<Item = i64>) -> ScalarValue {
    let values: Vec<ScalarValue> = values.into_iter().map(oid).collect();
    ScalarValue::List(ScalarValue::new_list_nullable(&values, &Oid))
}

impl Table {
    pub(crate) fn new(columns: &[(&str, DataType)]) -> Table {
        Table {
            fields: columns
                .iter()
                .map(|(name, ty)| Field::new(*name, ty.clone(), true))
                .collect(),
            rows: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, row: Vec<ScalarValue>) {
        debug_assert_eq!(row.len(), self.fields.len());
        self.rows.push(row);
    }

    /// The table without the columns PostgreSQL's catalog `name` does not have.
    pub(crate) fn only_columns_of(mut self, name: &str) -> Table {
        let wanted: Vec<&str> = catalog_columns::columns(name)
            .into_iter()
            .flatten()
            .map(|(column, _)| column)
            .collect();
        let keep: Vec<bool> = self
            .fields
            .iter()
            .map(|field| wanted.contains(&field.name().as_str()))
            .collect();
        retain_positions(&mut self.fields, &keep);
        for row in &mut self.rows {
            retain_positions(row, &keep);
        }
        self
    }

    /// The table as a provider with every column PostgreSQL's catalog `name` has, in its
    /// order: the ones built here, NULL for the rest (then any of DriftDB's own).
    pub(crate) fn provider(self, name: &str) -> Result<Arc<dyn TableProvider>> {
        self.provider_with(catalog_columns::columns(name).into_iter().flatten())
    }

    /// The table as a provider with `columns` (name, `pg_type` name), in their order: the ones
    /// built here, NULL for the rest (then any of DriftDB's own).
    pub(crate) fn provider_with(
        self,
        columns: impl Iterator<Item = (&'static str, &'static str)>,
    ) -> Result<Arc<dyn TableProvider>> {
        let pg_columns = columns;
        let rows = self.rows.len();
        let mut built: Vec<Option<(Field, ArrayRef)>> = self
            .fields
            .into_iter()
            .enumerate()
            .map(|(i, field)| {
                let values = match rows {
                    0 => Ok(datafusion::arrow::array::new_empty_array(field.data_type())),
                    _ => ScalarValue::iter_to_array(self.rows.iter().map(|row| row[i].clone())),
                };
                values.map(|values| Some((field, values)))
            })
            .collect::<Result<_>>()?;
        let mut columns: Vec<(Field, ArrayRef)> = Vec::with_capacity(built.len());
        for (column, pg_type) in pg_columns {
            let found = built
                .iter_mut()
                .find(|slot| slot.as_ref().is_some_and(|(f, _)| f.name() == column))
                .and_then(Option::take);
            let (field, values) = found.unwrap_or_else(|| {
                let field = Field::new(column, arrow_type(pg_type), true);
                let values = datafusion::arrow::array::new_null_array(field.data_type(), rows);
                (field, values)
            });
            let field = match pg_type {
                "int2vector" | "oidvector" => {
                    field.with_metadata([(types::PG_TYPE.to_string(), pg_type.to_string())].into())
                }
                _ => field,
            };
            columns.push((field, values));
        }
        columns.extend(built.into_iter().flatten());
        let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = columns.into_iter().unzip();
        let schema = Arc::new(Schema::new(fields));
        let batch = RecordBatch::try_new_with_options(
            schema.clone(),
            arrays,
            &datafusion::arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(rows)),
        )?;
        Ok(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))
    }
}

/// Keeps the values of `values` whose position `keep` marks.
pub(crate) fn retain_positions<T>(values: &mut Vec<T>, keep: &[bool]) {
    let mut position = 0;
    values.retain(|_| {
        position += 1;
        keep[position - 1]
    });
}

pub(crate) fn int2_vector() -> DataType {
    DataType::new_list(I16, true)
}

/// The Arrow type a catalog column of PostgreSQL type `pg` (a `pg_type` name) is served as.
pub(crate) fn arrow_type(pg: &str) -> DataType {
    match pg.strip_prefix('_') {
        Some(element) => DataType::new_list(arrow_type(element), true),
        None => match pg {
            "oid" | "regproc" | "regtype" | "regclass" | "xid" | "int8" => Oid,
            "bool" => Bool,
            "int2" => I16,
            "int4" => I32,
            "float4" => DataType::Float32,
            "float8" => DataType::Float64,
            "int2vector" => int2_vector(),
            "oidvector" => DataType::new_list(Oid, true),
            "timestamptz" => types::system_time_type(),
            "interval" => {
                DataType::Interval(datafusion::arrow::datatypes::IntervalUnit::MonthDayNano)
            }
            "bytea" => DataType::Binary,
            _ => Text,
        },
    }
}
