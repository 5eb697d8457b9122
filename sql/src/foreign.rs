//! FOREIGN KEY constraints. A row written to a child table must reference a row of its parent
//! that the transaction sees (checked when the statement writes it); deleting parent rows
//! refuses, cascades to, or nulls the child rows that reference them (ON DELETE RESTRICT /
//! CASCADE / SET NULL), through the ordinary DELETE and UPDATE paths, so cascades cascade.
//!
//! Foreign keys reference the parent's primary key. There are no locks: a transaction that
//! deletes a parent row and one that concurrently inserts a child row for it can both commit.
//! An UPDATE that moves a referenced row to another key is refused (ON UPDATE NO ACTION; there
//! are no other ON UPDATE actions).

use crate::catalog::{SCHEMA_NAME, SessionScope};
use crate::dml;
use crate::session::{STATEMENT_TABLES, Session};
use crate::write::{coerce, key_held, typed_value};
use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::sql::sqlparser::ast::Statement;
use driftdb_engine::keys::KeyEncoder;
use driftdb_engine::{ForeignKeyAction, ForeignKeyDef, TableDef, TableId, ValueRef};
use driftdb_pgtypes::error::{Error, ErrorKind, Result};
use driftdb_pgtypes::idents::quoted;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

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
/// holds no NULL in a foreign key's columns references an existing parent row.
pub(crate) fn check_references(
    scope: &SessionScope,
    def: &TableDef,
    columns: &[ArrayRef],
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

/// Names the tables of deleted keys apart, since cascades nest.
static GONE: AtomicU64 = AtomicU64::new(0);

/// Applies the ON DELETE action of every foreign key that references `parent` to the rows
/// that reference the deleted keys (`keys`: the primary-key columns of the deleted rows).
pub(crate) async fn on_delete(
    session: &Session,
    parent: &TableDef,
    keys: Vec<RecordBatch>,
) -> Result<()> {
    on_gone_keys(session, parent, keys, false).await
}

/// Refuses an UPDATE that moved rows of `parent` off keys (`keys`) other rows reference:
/// every foreign key acts as PostgreSQL's default `ON UPDATE NO ACTION`.
pub(crate) async fn on_key_change(
    session: &Session,
    parent: &TableDef,
    keys: &[RecordBatch],
) -> Result<()> {
    on_gone_keys(session, parent, keys.to_vec(), true).await
}

/// The rows referencing keys of `parent` that are gone: refused if `restrict`, else each
/// foreign key's ON DELETE action.
async fn on_gone_keys(
    session: &Session,
    parent: &TableDef,
    keys: Vec<RecordBatch>,
    restrict: bool,
) -> Result<()> {
    if keys.iter().all(|b| b.num_rows() == 0) {
        return Ok(());
    }
    let children = referencing(session.scope(), parent.id);
    if children.is_empty() {
        return Ok(());
    }
    let name = format!("__driftdb_gone_{}", GONE.fetch_add(1, Ordering::Relaxed));
    let fields: Vec<Field> = (0..parent.primary_key.len())
        .map(|i| {
            let column = keys[0].schema().field(i).clone();
            column.with_name(format!("k{i}"))
        })
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let batches = keys
        .iter()
        .map(|b| {
            RecordBatch::try_new(
                schema.clone(),
                b.columns()[..schema.fields().len()].to_vec(),
            )
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    session.register_statement_table(&name, schema, batches)?;
    let result = apply_actions(session, parent, &children, &name, restrict).await;
    session.deregister_statement_table(&name)?;
    result
}

async fn apply_actions(
    session: &Session,
    parent: &TableDef,
    children: &[(Arc<TableDef>, ForeignKeyDef)],
    gone: &str,
    restrict: bool,
) -> Result<()> {
    let gone = format!("{STATEMENT_TABLES}.{SCHEMA_NAME}.{gone}");
    for (child, fk) in children {
        let table = quoted(&child.name);
        let matches: Vec<String> = fk
            .columns
            .iter()
            .enumerate()
            .map(|(i, &slot)| format!("{table}.{} = g.k{i}", quoted(&child.columns[slot].name)))
            .collect();
        let matches = matches.join(" AND ");
        let action = match restrict {
            true => ForeignKeyAction::Restrict,
            false => fk.on_delete,
        };
        let sql = match action {
            ForeignKeyAction::Restrict => {
                let query = format!("SELECT count(*) FROM {table} JOIN {gone} AS g ON {matches}");
                if session.count_sql(&query).await? > 0 {
                    return Err(Error::new(
                        ErrorKind::ForeignKeyViolation,
                        format!(
                            "update or delete on table \"{}\" violates foreign key constraint \"{}\" on table \"{}\"",
                            parent.name, fk.name, child.name
                        ),
                    ));
                }
                continue;
            }
            ForeignKeyAction::Cascade => {
                format!("DELETE FROM {table} USING {gone} AS g WHERE {matches}")
            }
            ForeignKeyAction::SetNull => {
                let nulls: Vec<String> = fk
                    .columns
                    .iter()
                    .map(|&slot| format!("{} = NULL", quoted(&child.columns[slot].name)))
                    .collect();
                format!(
                    "UPDATE {table} SET {} FROM {gone} AS g WHERE {matches}",
                    nulls.join(", ")
                )
            }
        };
        let statement = session.parse_one(&sql)?;
        match statement {
            Statement::Delete(delete) => {
                Box::pin(dml::delete(session, &delete)).await?;
            }
            Statement::Update(update) => {
                Box::pin(dml::update(session, &update)).await?;
            }
            _ => unreachable!("the SQL above is a DELETE or an UPDATE"),
        }
    }
    Ok(())
}
