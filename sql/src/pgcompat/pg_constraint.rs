//! `pg_constraint`: primary keys, unique indexes, foreign keys and CHECK constraints, with
//! their definitions as `pg_get_constraintdef` prints them.

use crate::pgcompat::catalog_table::{Table, boolean, int2_list, int2_vector, int4, oid, text};
use crate::pgcompat::objects::{PUBLIC_OID, attnum, relations};
use crate::pgcompat::pg_index::indexes;
use crate::storage::schema::{PRIMARY_KEY_POSITION, index_oid, relation_oid};
use crate::storage::scope::SessionScope;
use DataType::{Boolean as Bool, Int16 as I16, Int32 as I32, Int64 as Oid, Utf8 as Text};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use driftdb_engine::TableDef;
use std::sync::Arc;

/// A constraint: its type (`p`, `u`, `f`, `c`) and `pg_get_constraintdef` text.
pub struct ConstraintInfo {
    pub oid: i64,
    pub name: String,
    pub kind: &'static str,
    pub slots: Vec<usize>,
    pub index: i64,
    pub parent: Option<(i64, Vec<i16>)>,
    pub on_delete: &'static str,
    pub definition: String,
}

/// `def`'s constraints: primary key, unique indexes, foreign keys, checks. `relations` are
/// every current relation (where foreign keys find their parents).
pub fn constraints(relations: &[Arc<TableDef>], def: &TableDef) -> Vec<ConstraintInfo> {
    let names = |slots: &[usize]| -> String {
        slots
            .iter()
            .map(|&slot| def.columns[slot].name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut constraints = Vec::new();
    for index in indexes(def).into_iter().filter(|index| index.constraint) {
        let kind = if index.primary { "p" } else { "u" };
        let keyword = if index.primary {
            "PRIMARY KEY"
        } else {
            "UNIQUE"
        };
        constraints.push(ConstraintInfo {
            oid: index.oid + 500_000_000,
            name: index.name.clone(),
            kind,
            definition: format!("{keyword} ({})", names(&index.slots)),
            slots: index.slots,
            index: index.oid,
            parent: None,
            on_delete: "a",
        });
    }
    for (position, foreign) in def.foreign_keys.iter().enumerate() {
        let parent = relations
            .iter()
            .find(|candidate| candidate.id == foreign.parent);
        let (parent_oid, parent_keys, parent_name, parent_columns) = match &parent {
            Some(parent) => (
                relation_oid(parent),
                parent
                    .primary_key
                    .iter()
                    .map(|&slot| attnum(parent, slot))
                    .collect(),
                parent.name.clone(),
                parent
                    .primary_key
                    .iter()
                    .map(|&slot| parent.columns[slot].name.clone())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            None => (0, Vec::new(), "?".to_string(), String::new()),
        };
        let (on_delete, action) = match foreign.on_delete {
            driftdb_engine::ForeignKeyAction::Restrict => ("a", ""),
            driftdb_engine::ForeignKeyAction::Cascade => ("c", " ON DELETE CASCADE"),
            driftdb_engine::ForeignKeyAction::SetNull => ("n", " ON DELETE SET NULL"),
        };
        constraints.push(ConstraintInfo {
            oid: 600_000_000 + 1000 * def.id.0 as i64 + position as i64,
            name: foreign.name.clone(),
            kind: "f",
            definition: format!(
                "FOREIGN KEY ({}) REFERENCES {parent_name}({parent_columns}){action}",
                names(&foreign.columns)
            ),
            slots: foreign.columns.clone(),
            // The parent's key the constraint references (always its primary key).
            index: parent.map_or(0, |parent| index_oid(parent, PRIMARY_KEY_POSITION)),
            parent: Some((parent_oid, parent_keys)),
            on_delete,
        });
    }
    for (position, check) in def.checks.iter().enumerate() {
        constraints.push(ConstraintInfo {
            oid: 700_000_000 + 1000 * def.id.0 as i64 + position as i64,
            name: check.name.clone(),
            kind: "c",
            definition: format!("CHECK ({})", check.expr),
            slots: Vec::new(),
            index: 0,
            parent: None,
            on_delete: "a",
        });
    }
    constraints
}

/// `pg_constraint`.
pub(crate) fn pg_constraint(scope: &SessionScope) -> Table {
    let mut t = Table::new(&[
        ("oid", Oid),
        ("conname", Text),
        ("connamespace", Oid),
        ("contype", Text),
        ("condeferrable", Bool),
        ("condeferred", Bool),
        ("convalidated", Bool),
        ("conrelid", Oid),
        ("contypid", Oid),
        ("conindid", Oid),
        ("conparentid", Oid),
        ("confrelid", Oid),
        ("confupdtype", Text),
        ("confdeltype", Text),
        ("confmatchtype", Text),
        ("conislocal", Bool),
        ("coninhcount", I32),
        ("connoinherit", Bool),
        ("conkey", int2_vector()),
        ("confkey", int2_vector()),
    ]);
    let relations = relations(scope);
    for def in &relations {
        for constraint in constraints(&relations, def) {
            let keys: Vec<i16> = constraint
                .slots
                .iter()
                .map(|&slot| attnum(def, slot))
                .collect();
            let (parent, parent_keys) = match constraint.parent {
                Some((parent, keys)) => (parent, int2_list(keys)),
                None => (0, ScalarValue::new_null_list(I16, true, 1)),
            };
            t.push(vec![
                oid(constraint.oid),
                text(&constraint.name),
                oid(PUBLIC_OID),
                text(constraint.kind),
                boolean(false),
                boolean(false),
                boolean(true),
                oid(relation_oid(def)),
                oid(0),
                oid(constraint.index),
                oid(0),
                oid(parent),
                text("a"),
                text(constraint.on_delete),
                text("s"),
                boolean(true),
                int4(0),
                boolean(constraint.kind == "c"),
                int2_list(keys),
                parent_keys,
            ]);
        }
    }
    t
}

/// `pg_get_constraintdef` of the constraint with OID `oid`.
pub fn constraint_definition_by_oid(scope: &SessionScope, oid: i64) -> Option<String> {
    let relations = relations(scope);
    relations.iter().find_map(|def| {
        constraints(&relations, def)
            .into_iter()
            .find(|constraint| constraint.oid == oid)
            .map(|constraint| constraint.definition)
    })
}
