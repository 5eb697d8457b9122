//! The catalog's fixed objects and their OIDs (the namespaces, the one role and database, the
//! access methods, the collations), and the relations and columns every catalog table lists.

use crate::storage::schema::relation_oid;
use crate::storage::scope::SessionScope;
use driftdb_engine::{ColumnDef, ColumnType, TableDef};
use std::sync::Arc;

/// The schema's name.
pub const PG_CATALOG: &str = "pg_catalog";

/// OIDs of the namespaces.
pub const PG_CATALOG_OID: i64 = 11;

pub const PUBLIC_OID: i64 = 2200;

pub(crate) const INFORMATION_SCHEMA_OID: i64 = 13_000;

/// The OID of the one role (the bootstrap superuser's, as in PostgreSQL).
pub const ROLE_OID: i64 = 10;

/// `pg_database_owner`, which owns `public` as in PostgreSQL 15.
pub const DATABASE_OWNER_OID: i64 = 6171;

pub(crate) const DATABASE_OID: i64 = 16_384;

pub(crate) const HEAP_AM: i64 = 2;

pub(crate) const BTREE_AM: i64 = 403;

/// The schemas: (OID, name, owner).
pub(crate) const NAMESPACES: &[(i64, &str, i64)] = &[
    (PG_CATALOG_OID, PG_CATALOG, ROLE_OID),
    (PUBLIC_OID, "public", DATABASE_OWNER_OID),
    (INFORMATION_SCHEMA_OID, "information_schema", ROLE_OID),
];

/// The collation of a column of type `ty`: `default` (100) for text, none (0) otherwise.
pub(crate) fn collation(ty: ColumnType) -> i64 {
    match ty {
        ColumnType::Text | ColumnType::Varchar(_) | ColumnType::Char(_) => 100,
        _ => 0,
    }
}

/// Every current table and view, sorted by name.
pub(crate) fn relations(scope: &SessionScope) -> Vec<Arc<TableDef>> {
    scope
        .current_table_names()
        .iter()
        .filter_map(|name| scope.resolve_current(name))
        .collect()
}

/// The relation with OID `oid` (a table or view), if any.
pub fn relation_by_oid(scope: &SessionScope, oid: i64) -> Option<Arc<TableDef>> {
    relations(scope)
        .into_iter()
        .find(|def| relation_oid(def) == oid)
}

/// The attribute number of column `slot` (1-based among the columns a reader sees).
pub(crate) fn attnum(def: &TableDef, slot: usize) -> i16 {
    def.visible_slots()
        .position(|s| s == slot)
        .map_or(0, |p| p as i16 + 1)
}

/// The columns `pg_attribute` lists for `def`: a table's visible ones, a view's output.
pub(crate) fn attributes(def: &TableDef) -> Vec<&ColumnDef> {
    match &def.view {
        Some(view) => view.output.iter().collect(),
        None => def.visible_slots().map(|slot| &def.columns[slot]).collect(),
    }
}
