//! `pg_index`: the primary key and the indexes of every table, with their definitions as
//! `pg_get_indexdef` prints them.

use crate::pgcompat::catalog_table::{
    Table, boolean, int2, int2_list, int2_vector, null_text, oid, oid_list,
};
use crate::pgcompat::objects::{attnum, collation, relations};
use crate::storage::schema::{PRIMARY_KEY_POSITION, index_oid, relation_oid};
use crate::storage::scope::SessionScope;
use DataType::{Boolean as Bool, Int16 as I16, Int64 as Oid, Utf8 as Text};
use datafusion::arrow::datatypes::DataType;
use driftdb_engine::{ColumnType, TableDef};

/// The default B-tree operator class of type `ty`, as PostgreSQL 15 numbers them.
pub(crate) fn operator_class(ty: ColumnType) -> i64 {
    match ty {
        ColumnType::Bool => 10003,
        ColumnType::Int16 => 1979,
        ColumnType::Int32 => 1978,
        ColumnType::Int64 => 3124,
        ColumnType::Float32 => 10012,
        ColumnType::Float64 => 3123,
        ColumnType::Numeric { .. } | ColumnType::UnconstrainedNumeric => 3125,
        ColumnType::Text | ColumnType::Varchar(_) => 3126,
        ColumnType::Char(_) => 10004,
        ColumnType::Date => 3122,
        ColumnType::Time => 10038,
        ColumnType::Timestamp => 3128,
        ColumnType::Timestamptz => 3127,
        ColumnType::Interval => 10022,
        ColumnType::Bytea => 10006,
        ColumnType::Uuid => 10065,
        ColumnType::Json | ColumnType::Jsonb => 10088,
    }
}

/// An index of `def`: its OID, name, column slots, uniqueness and whether it is the primary key.
pub struct IndexInfo {
    pub oid: i64,
    pub name: String,
    pub slots: Vec<usize>,
    pub unique: bool,
    pub primary: bool,
    /// A primary key or UNIQUE constraint (not a CREATE UNIQUE INDEX).
    pub constraint: bool,
}

/// `def`'s indexes, its primary key's first (tables without a primary key have none).
pub fn indexes(def: &TableDef) -> Vec<IndexInfo> {
    let mut indexes = Vec::new();
    let hidden_key = def.primary_key.iter().any(|&slot| def.columns[slot].hidden);
    if !def.primary_key.is_empty() && !hidden_key {
        indexes.push(IndexInfo {
            oid: index_oid(def, PRIMARY_KEY_POSITION),
            name: def.primary_key_name(),
            slots: def.primary_key.clone(),
            unique: true,
            primary: true,
            constraint: true,
        });
    }
    for (position, index) in def.indexes.iter().enumerate() {
        indexes.push(IndexInfo {
            oid: index_oid(def, position),
            name: index.name.clone(),
            slots: index.columns.clone(),
            unique: index.unique,
            primary: false,
            constraint: index.constraint,
        });
    }
    indexes
}

/// `CREATE [UNIQUE] INDEX …` for an index, as `pg_get_indexdef` and `pg_indexes` show it.
pub fn index_definition(def: &TableDef, index: &IndexInfo) -> String {
    let columns: Vec<&str> = index
        .slots
        .iter()
        .map(|&slot| def.columns[slot].name.as_str())
        .collect();
    format!(
        "CREATE {}INDEX {} ON public.{} USING btree ({})",
        if index.unique { "UNIQUE " } else { "" },
        index.name,
        def.name,
        columns.join(", ")
    )
}

/// `pg_index`: the primary key and secondary indexes of each table.
pub(crate) fn pg_index(scope: &SessionScope) -> Table {
    let mut t = Table::new(&[
        ("indexrelid", Oid),
        ("indrelid", Oid),
        ("indnatts", I16),
        ("indnkeyatts", I16),
        ("indisunique", Bool),
        ("indisprimary", Bool),
        ("indisexclusion", Bool),
        ("indimmediate", Bool),
        ("indisclustered", Bool),
        ("indisvalid", Bool),
        ("indcheckxmin", Bool),
        ("indisready", Bool),
        ("indislive", Bool),
        ("indisreplident", Bool),
        ("indkey", int2_vector()),
        ("indcollation", DataType::new_list(Oid, true)),
        ("indclass", DataType::new_list(Oid, true)),
        ("indoption", int2_vector()),
        ("indexprs", Text),
        ("indpred", Text),
        ("indnullsnotdistinct", Bool),
    ]);
    for def in relations(scope) {
        for index in indexes(&def) {
            let keys: Vec<i16> = index.slots.iter().map(|&slot| attnum(&def, slot)).collect();
            t.push(vec![
                oid(index.oid),
                oid(relation_oid(&def)),
                int2(keys.len() as i16),
                int2(keys.len() as i16),
                boolean(index.unique),
                boolean(index.primary),
                boolean(false),
                boolean(true),
                boolean(false),
                boolean(true),
                boolean(false),
                boolean(true),
                boolean(true),
                boolean(false),
                int2_list(keys.iter().copied()),
                oid_list(
                    index
                        .slots
                        .iter()
                        .map(|&slot| collation(def.columns[slot].ty)),
                ),
                oid_list(
                    index
                        .slots
                        .iter()
                        .map(|&slot| operator_class(def.columns[slot].ty)),
                ),
                // Every key ascending, NULLs last: no option bits.
                int2_list(keys.iter().map(|_| 0)),
                null_text(),
                null_text(),
                boolean(false),
            ]);
        }
    }
    t
}

/// `pg_get_indexdef(oid, column)` of the index with OID `oid`: its definition for column 0,
/// else the name of its `column`th column (1-based; empty past the last, as in PostgreSQL).
pub fn index_definition_by_oid(scope: &SessionScope, oid: i64, column: i64) -> Option<String> {
    relations(scope).into_iter().find_map(|def| {
        let index = indexes(&def).into_iter().find(|index| index.oid == oid)?;
        match column {
            0 => Some(index_definition(&def, &index)),
            n => Some(
                usize::try_from(n - 1)
                    .ok()
                    .and_then(|position| index.slots.get(position))
                    .map_or_else(String::new, |&slot| def.columns[slot].name.clone()),
            ),
        }
    })
}
