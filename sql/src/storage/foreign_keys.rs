//! FOREIGN KEY constraints. A row written to a child table must reference a row of its parent
//! that the transaction sees (checked when the statement writes it); deleting parent rows
//! refuses, cascades to, or nulls the child rows that reference them (ON DELETE RESTRICT /
//! CASCADE / SET NULL), through the ordinary DELETE and UPDATE paths, so cascades cascade.
//!
//! Foreign keys reference the parent's primary key. A statement writing child rows takes a `FOR
//! KEY SHARE` lock of each parent row they reference (`crate::storage::write`), so a concurrent
//! DELETE of the parent waits for it and then sees the new child rows, and a child written
//! while the parent's deleter is open waits for it and then fails if the parent is gone.
//! An UPDATE that moves a referenced row to another key is refused (ON UPDATE NO ACTION; there
//! are no other ON UPDATE actions).

use crate::storage::encode::{coerce, typed_value};
use crate::storage::held::key_held;
use crate::storage::scope::SessionScope;
use datafusion::arrow::array::ArrayRef;
use driftdb_engine::keys::KeyEncoder;
use driftdb_engine::{ForeignKeyDef, TableDef, TableId, ValueRef};
use driftdb_pgtypes::error::{Error, ErrorKind, Result};
use std::collections::BTreeSet;
use std::sync::Arc;

/// The table with id `id` as the transaction sees it now.
pub(crate) fn table_by_id(scope: &SessionScope, id: TableId) -> Option<Arc<TableDef>> {
    scope
        .current_table_names()
        .into_iter()
        .filter_map(|name| scope.resolve_current(&name))
        .find(|def| def.id == id)
}

/// Every (child table, foreign key) that references `parent`.
pub(crate) fn referencing(
    scope: &SessionScope,
    parent: TableId,
) -> Vec<(Arc<TableDef>, ForeignKeyDef)> {
    let mut found = Vec::new();
    for name in scope.current_table_names() {
        let Some(def) = scope.resolve_current(&name) else {
            continue;
        };
        for fk in &def.foreign_keys {
            if fk.parent == parent {
                found.push((def.clone(), fk.clone()));
            }
        }
    }
    found
}

/// Fails unless every row of `columns` (one array per visible column of `def`, coerced) that
/// holds no NULL in a foreign key's columns references an existing parent row; adds each
/// referenced parent row (table, encoded key) to `parents`, for the statement to lock.
pub(crate) fn check_references(
    scope: &SessionScope,
    def: &TableDef,
    columns: &[ArrayRef],
    parents: &mut BTreeSet<(TableId, Vec<u8>)>,
) -> Result<()> {
    if def.foreign_keys.is_empty() || columns.first().is_none_or(|c| c.is_empty()) {
        return Ok(());
    }
    let visible: Vec<usize> = def.visible_slots().collect();
    for fk in &def.foreign_keys {
        let parent = match table_by_id(scope, fk.parent) {
            Some(parent) => parent,
            None if fk.parent == def.id => Arc::new(def.clone()),
            None => {
                return Err(Error::new(
                    ErrorKind::UndefinedTable,
                    format!(
                        "the table foreign key \"{}\" references no longer exists",
                        fk.name
                    ),
                ));
            }
        };
        // The child's values in the parent's key types, so they encode as its keys.
        let mut key_columns = Vec::with_capacity(fk.columns.len());
        for (&slot, &parent_slot) in fk.columns.iter().zip(&parent.primary_key) {
            let position = visible.iter().position(|&s| s == slot).ok_or_else(|| {
                Error::new(ErrorKind::Internal, "a foreign-key column is not visible")
            })?;
            key_columns.push(coerce(&columns[position], parent.columns[parent_slot].ty)?);
        }
        let pending = scope.with_transaction(|txn| txn.pending_rows(parent.id))?;
        let mut key = KeyEncoder::new();
        'rows: for row in 0..columns[0].len() {
            key.clear();
            for column in &key_columns {
                match typed_value(column, row) {
                    ValueRef::Null => continue 'rows,
                    value => key.push_value(value),
                }
            }
            if !key_held(scope, parent.id, key.as_bytes(), pending.as_ref())? {
                return Err(missing_parent(def, fk));
            }
            parents.insert((parent.id, key.as_bytes().to_vec()));
        }
    }
    Ok(())
}

/// The error for a row of `child` whose `fk` references no parent row (23503).
pub(crate) fn missing_parent(child: &TableDef, fk: &ForeignKeyDef) -> Error {
    Error::new(
        ErrorKind::ForeignKeyViolation,
        format!(
            "insert or update on table \"{}\" violates foreign key constraint \"{}\"",
            child.name, fk.name
        ),
    )
}
