//! `pg_attribute`: one row per column of every relation.

use crate::pgcompat::catalog_table::{Table, boolean, int2, int4, no_acl, null_text, oid, text};
use crate::pgcompat::objects::{attributes, relations};
use crate::pgcompat::pg_index::indexes;
use crate::storage::schema::relation_oid;
use crate::storage::scope::SessionScope;
use DataType::{Boolean as Bool, Int16 as I16, Int32 as I32, Int64 as Oid, Utf8 as Text};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use driftdb_engine::{ColumnDef, ColumnType};
use driftdb_pgtypes::oids::{NUMERIC_OID, TYPES, type_oid};
use driftdb_pgtypes::types;

/// `pg_attribute`: the visible columns of tables and views.
pub(crate) fn pg_attribute(scope: &SessionScope) -> Table {
    let mut t = Table::new(&[
        ("attrelid", Oid),
        ("attname", Text),
        ("atttypid", Oid),
        ("attstattarget", I32),
        ("attlen", I16),
        ("attnum", I16),
        ("attndims", I32),
        ("atttypmod", I32),
        ("attbyval", Bool),
        ("attstorage", Text),
        ("attnotnull", Bool),
        ("atthasdef", Bool),
        ("atthasmissing", Bool),
        ("attidentity", Text),
        ("attgenerated", Text),
        ("attisdropped", Bool),
        ("attislocal", Bool),
        ("attinhcount", I32),
        ("attcollation", Oid),
        ("attacl", DataType::new_list(Text, true)),
        ("attoptions", Text),
    ]);
    for def in relations(scope) {
        for (number, column) in attributes(&def).into_iter().enumerate() {
            t.push(attribute_row(relation_oid(&def), number, column, true));
        }
        // An index lists its key columns as its own attributes (what `\d index` shows).
        for index in indexes(&def) {
            for (number, &slot) in index.slots.iter().enumerate() {
                t.push(attribute_row(index.oid, number, &def.columns[slot], false));
            }
        }
    }
    t
}

/// The `pg_attribute` row of `column`, attribute `number` (0-based) of relation `relation`;
/// `of_table` is false for an index's attribute, which has no constraint or default of its own.
pub(crate) fn attribute_row(
    relation: i64,
    number: usize,
    column: &ColumnDef,
    of_table: bool,
) -> Vec<ScalarValue> {
    let type_oid = type_oid(column.ty);
    let length = TYPES
        .iter()
        .find(|(oid, ..)| *oid == type_oid)
        .map_or(-1, |(_, _, length, ..)| *length);
    let identity = match &column.identity {
        Some(identity) if identity.serial || !of_table => "",
        Some(identity) if identity.always => "a",
        Some(_) => "d",
        None => "",
    };
    let serial = column.identity.as_ref().is_some_and(|i| i.serial);
    let has_default = (column.default.is_some() && column.identity.is_none()) || serial;
    let collation = matches!(
        column.ty,
        ColumnType::Text | ColumnType::Varchar(_) | ColumnType::Char(_)
    );
    vec![
        oid(relation),
        text(&column.name),
        oid(type_oid),
        int4(-1),
        int2(length),
        int2(number as i16 + 1),
        int4(0),
        int4(types::type_modifier(column.ty)),
        boolean((1..=8).contains(&length)),
        // PostgreSQL's storage strategies: fixed-length plain, numeric main, the rest extended.
        text(match (length, type_oid) {
            (1.., _) => "p",
            (_, NUMERIC_OID) => "m",
            _ => "x",
        }),
        boolean(of_table && !column.nullable),
        boolean(of_table && has_default),
        boolean(false),
        text(identity),
        text(""),
        boolean(false),
        boolean(true),
        int4(0),
        oid(if collation { 100 } else { 0 }),
        no_acl(),
        null_text(),
    ]
}
