//! `pg_class`, one row per table, view, index and identity sequence, and the column defaults as
//! `pg_attrdef` shows them.

use crate::pgcompat::catalog_table::{Table, boolean, int2, int4, no_acl, null_text, oid, text};
use crate::pgcompat::objects::{BTREE_AM, HEAP_AM, PUBLIC_OID, ROLE_OID, attributes, relations};
use crate::pgcompat::pg_index::indexes;
use crate::storage::schema::relation_oid;
use crate::storage::schema::sequence_oid;
use crate::storage::scope::SessionScope;
use DataType::{Boolean as Bool, Int16 as I16, Int32 as I32, Int64 as Oid, Utf8 as Text};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::error::Result;
use driftdb_engine::{ColumnDef, ColumnType, TableDef};
use driftdb_pgtypes::oids::{format_type, type_oid};

/// `pg_class`: tables (`r`), views (`v`) and indexes (`i`).
pub(crate) fn pg_class(scope: &SessionScope) -> Result<Table> {
    let mut t = Table::new(&[
        ("oid", Oid),
        ("relname", Text),
        ("relnamespace", Oid),
        ("reltype", Oid),
        ("reloftype", Oid),
        ("relowner", Oid),
        ("relam", Oid),
        ("relfilenode", Oid),
        ("reltablespace", Oid),
        ("relpages", I32),
        ("reltuples", DataType::Float32),
        ("reltoastrelid", Oid),
        ("relhasindex", Bool),
        ("relisshared", Bool),
        ("relpersistence", Text),
        ("relkind", Text),
        ("relnatts", I16),
        ("relchecks", I16),
        ("relhasrules", Bool),
        ("relhastriggers", Bool),
        ("relhassubclass", Bool),
        ("relrowsecurity", Bool),
        ("relforcerowsecurity", Bool),
        ("relispopulated", Bool),
        ("relreplident", Text),
        ("relispartition", Bool),
        // No ACL: the owner has every privilege (an `aclitem[]`, NULL).
        ("relacl", DataType::new_list(Text, true)),
        ("reloptions", DataType::new_list(Text, true)),
        ("relpartbound", Text),
    ]);
    let no_options = ScalarValue::try_from(&DataType::new_list(Text, true))?;
    let row = |oid_value: i64,
               name: &str,
               kind: &str,
               am: i64,
               columns: usize,
               checks: usize,
               indexed: bool,
               triggers: bool| {
        vec![
            oid(oid_value),
            text(name),
            oid(PUBLIC_OID),
            oid(0),
            oid(0),
            oid(ROLE_OID),
            oid(am),
            oid(oid_value),
            oid(0),
            int4(0),
            ScalarValue::Float32(Some(-1.0)),
            oid(0),
            boolean(indexed),
            boolean(false),
            text("p"),
            text(kind),
            int2(columns as i16),
            int2(checks as i16),
            boolean(false),
            // Foreign keys are enforced by triggers in PostgreSQL, and psql lists a table's
            // foreign keys (both ways) only when it has some.
            boolean(triggers),
            boolean(false),
            boolean(false),
            boolean(false),
            boolean(true),
            text("d"),
            boolean(false),
            no_acl(),
            no_options.clone(),
            null_text(),
        ]
    };
    let relations = relations(scope);
    let referenced: std::collections::HashSet<_> = relations
        .iter()
        .flat_map(|def| def.foreign_keys.iter().map(|foreign| foreign.parent))
        .collect();
    let mut rows = Vec::new();
    for def in &relations {
        let kind = if def.view.is_some() { "v" } else { "r" };
        let triggers = !def.foreign_keys.is_empty() || referenced.contains(&def.id);
        let am = if def.view.is_some() { 0 } else { HEAP_AM };
        let indexes = indexes(def);
        rows.push(row(
            relation_oid(def),
            &def.name,
            kind,
            am,
            attributes(def).len(),
            def.checks.len(),
            !indexes.is_empty(),
            triggers,
        ));
        for index in &indexes {
            rows.push(row(
                index.oid,
                &index.name,
                "i",
                BTREE_AM,
                index.slots.len(),
                0,
                false,
                false,
            ));
        }
        for (sequence_oid, name) in sequences(def) {
            rows.push(row(sequence_oid, name, "S", 0, 3, 0, false, false));
        }
    }
    for row in rows {
        t.push(row);
    }
    Ok(t)
}

/// A column default as `pg_get_expr` shows it: PostgreSQL stores the analysed expression, so a
/// text literal carries its cast to the column's type (`'new'::character varying`) and a
/// negative number is a constant of the type (`'-1'::integer`). Other expressions are shown
/// as written.
pub(crate) fn displayed_default(default: &str, ty: ColumnType) -> String {
    use datafusion::sql::sqlparser::ast::{Expr, UnaryOperator, Value};
    let Ok(expr) = crate::common::parse::stored_expression(default) else {
        return default.to_string();
    };
    let type_oid = type_oid(ty);
    let type_name = match ty {
        ColumnType::Char(_) => "bpchar".to_string(),
        _ => format_type(type_oid, None).unwrap_or_default(),
    };
    let numeric = matches!(
        ty,
        ColumnType::Int16
            | ColumnType::Int32
            | ColumnType::Int64
            | ColumnType::Float32
            | ColumnType::Float64
            | ColumnType::Numeric { .. }
            | ColumnType::UnconstrainedNumeric
    );
    match expr {
        Expr::Value(value) => match value.value {
            Value::SingleQuotedString(text) if !numeric && ty != ColumnType::Bool => {
                format!("'{}'::{type_name}", text.replace('\'', "''"))
            }
            _ => default.to_string(),
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } if numeric => match *expr {
            Expr::Value(value) if matches!(value.value, Value::Number(..)) => {
                format!("'-{}'::{type_name}", value.value)
            }
            _ => default.to_string(),
        },
        _ => default.to_string(),
    }
}

/// The default of `column` as `pg_get_expr` shows it (`nextval('t_id_seq'::regclass)` for a
/// serial); `None` without one (an identity column has none).
pub(crate) fn column_default(column: &ColumnDef) -> Option<String> {
    match (&column.default, &column.identity) {
        (_, Some(identity)) if identity.serial => {
            Some(format!("nextval('{}'::regclass)", identity.sequence))
        }
        (Some(default), None) => Some(displayed_default(default, column.ty)),
        _ => None,
    }
}

/// The counters of `def`'s identity and serial columns, as PostgreSQL's sequences: (OID, name).
pub(crate) fn sequences(def: &TableDef) -> Vec<(i64, &str)> {
    def.columns
        .iter()
        .enumerate()
        .filter(|(_, column)| !column.dropped && !column.hidden)
        .filter_map(|(slot, column)| {
            let identity = column.identity.as_ref()?;
            Some((sequence_oid(def, slot), identity.sequence.as_str()))
        })
        .collect()
}
