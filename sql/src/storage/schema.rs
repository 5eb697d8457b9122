//! The Arrow schemas of a DriftDB table: what a reader sees (the visible columns, each field
//! tagged with its table's OID and column number for the wire protocol's row description), what
//! UPDATE and DELETE read (plus the hidden row id), and what a version query adds.

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use driftdb_engine::TableDef;
use driftdb_pgtypes::types::{PG_ATTNUM, PG_TABLE_OID, field, system_time_type};
use std::sync::Arc;

/// The Arrow schema a reader sees for `def`: its visible columns, in order.
pub fn table_schema(def: &TableDef) -> SchemaRef {
    Arc::new(Schema::new(table_fields(def)))
}

/// The schema UPDATE and DELETE read their target with: the visible columns, then the hidden
/// row id (of a table without a primary key).
pub fn table_schema_with_hidden(def: &TableDef) -> SchemaRef {
    let mut fields = table_fields(def);
    fields.extend(
        def.hidden_slots()
            .map(|slot| field(&def.columns[slot].name, def.columns[slot].ty)),
    );
    Arc::new(Schema::new(fields))
}

/// The fields of `def`'s visible columns.
pub fn table_fields(def: &TableDef) -> Vec<Field> {
    let table = relation_oid(def).to_string();
    def.visible_slots()
        .enumerate()
        .map(|(position, slot)| {
            let column = &def.columns[slot];
            // Nullability is enforced on write with proper errors; readers treat every column as
            // nullable so that DataFusion's own check never pre-empts them.
            let field = field(&column.name, column.ty);
            let mut metadata = field.metadata().clone();
            metadata.insert(PG_TABLE_OID.to_string(), table.clone());
            metadata.insert(PG_ATTNUM.to_string(), (position + 1).to_string());
            field.with_metadata(metadata)
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

/// A table's (or view's) OID.
pub(crate) fn relation_oid(def: &TableDef) -> i64 {
    100_000 + def.id.0 as i64
}

/// The OID of the index at `position` of `def`'s indexes (999: its primary key).
pub(crate) fn index_oid(def: &TableDef, position: usize) -> i64 {
    1_000_000 + 1000 * def.id.0 as i64 + position as i64
}

pub(crate) const PRIMARY_KEY_POSITION: usize = 999;

/// The OID of the sequence behind the identity column in `slot` of `def` (`t_id_seq`).
pub(crate) fn sequence_oid(def: &TableDef, slot: usize) -> i64 {
    3_000_000 + 1000 * def.id.0 as i64 + slot as i64
}
