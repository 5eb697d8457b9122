//! UPDATE and DELETE: the affected rows are found by a query DataFusion plans (so WHERE clauses
//! may use anything a SELECT may), then added to the transaction through the shared write path.
//! Deleting a referenced row, or moving its key, applies the ON DELETE action of every foreign
//! key that references it (RESTRICT, CASCADE, SET NULL) through these same UPDATE and DELETE
//! paths, so cascades cascade. TRUNCATE deletes every row (history keeps them).

use crate::common::names::SCHEMA_NAME;
use crate::common::names::STATEMENT_TABLES;
use crate::dml::rows::Changed;
use crate::dml::rows::finish;
use crate::dml::rows::first_per_key;
use crate::dml::rows::joined_tables;
use crate::dml::rows::new_values;
use crate::dml::rows::stage_updates;
use crate::dml::rows::where_clause;
use crate::dml::rows::{Target, target};
use crate::exec::Executor;
use crate::exec::results::StatementResult;
use crate::storage::foreign_keys::referencing;
use crate::storage::locks::LockMode;
use crate::storage::schema::table_schema;
use crate::storage::scope::concurrent_update;
use crate::storage::transaction::Isolation;
use crate::storage::write::{RowsEncoder, WriteSet};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::sql::sqlparser::ast::CascadeOption;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion::sql::sqlparser::ast::Truncate;
use datafusion::sql::sqlparser::ast::{Delete, FromTable, Update, UpdateTableFromKind};
use driftdb_engine::ForeignKeyDef;
use driftdb_engine::{ForeignKeyAction, TableDef};
use driftdb_pgtypes::error::{Error, ErrorKind, Result};
use driftdb_pgtypes::idents::quoted;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// `UPDATE t SET … [FROM …] [WHERE …] [RETURNING …]`.
pub(crate) async fn update(exec: &Executor, update: &Update) -> Result<StatementResult> {
    if update.limit.is_some() || !update.order_by.is_empty() {
        return Err(Error::unsupported("UPDATE with ORDER BY or LIMIT"));
    }
    let target = target(exec, &update.table)?;
    let from = match &update.from {
        Some(UpdateTableFromKind::AfterSet(tables) | UpdateTableFromKind::BeforeSet(tables)) => {
            Some(tables)
        }
        None => None,
    };
    let query = format!(
        "SELECT {}, {} FROM {}{}{}",
        target.key_columns().join(", "),
        new_values(&target, &update.assignments)?.join(", "),
        target.relation,
        joined_tables(from),
        where_clause(&update.selection)
    );
    let exposed = exec.scope().expose_hidden(target.def.id);
    let batches = exec.collect_sql(&query).await?;
    drop(exposed);
    let changed = stage_updates(exec, &target.def, &batches, update.returning.is_some()).await?;
    on_key_change(exec, &target.def, &changed.vacated_keys).await?;
    finish(exec, &target, "UPDATE", changed, &update.returning).await
}

/// `DELETE FROM t [USING …] [WHERE …] [RETURNING …]`.
pub(crate) async fn delete(exec: &Executor, delete: &Delete) -> Result<StatementResult> {
    if delete.limit.is_some() || !delete.order_by.is_empty() {
        return Err(Error::unsupported("DELETE with ORDER BY or LIMIT"));
    }
    let tables = match &delete.from {
        FromTable::WithFromKeyword(tables) | FromTable::WithoutKeyword(tables) => tables,
    };
    let [table] = tables.as_slice() else {
        return Err(Error::unsupported("DELETE from several tables"));
    };
    let target = target(exec, table)?;
    let selection = format!(
        "{}{}",
        joined_tables(delete.using.as_ref()),
        where_clause(&delete.selection)
    );
    let changed = delete_where(exec, &target, &selection, delete.returning.is_some()).await?;
    finish(exec, &target, "DELETE", changed, &delete.returning).await
}

/// Deletes the rows of `target` that `selection` (further tables, then a WHERE clause) picks.
async fn delete_where(
    exec: &Executor,
    target: &Target,
    selection: &str,
    keep_rows: bool,
) -> Result<Changed> {
    let def = &target.def;
    let mut columns = target.key_columns();
    if keep_rows {
        columns.extend(def.visible_slots().map(|slot| target.column(slot)));
    }
    let query = format!(
        "SELECT {} FROM {}{selection}",
        columns.join(", "),
        target.relation,
    );
    let exposed = exec.scope().expose_hidden(def.id);
    let batches = exec.collect_sql(&query).await?;
    drop(exposed);
    let key_count = def.primary_key.len();
    let schema = table_schema(def);
    let mut encoder = RowsEncoder::new(def);
    let (mut keys, mut rows, mut seen) = (Vec::new(), Vec::new(), HashSet::new());
    let mut key_batches = Vec::with_capacity(batches.len());
    for batch in &batches {
        let batch = first_per_key(&mut encoder, batch, key_count, &mut seen, &mut keys)?;
        key_batches.push(batch.project(&(0..key_count).collect::<Vec<_>>())?);
        if keep_rows {
            let values = batch.columns()[key_count..].to_vec();
            rows.push(RecordBatch::try_new(schema.clone(), values)?);
        }
    }
    // The rows' locks first: what references them is looked for once no one else can change
    // them, at the state the writers waited for left (READ COMMITTED).
    let locking: Vec<(&[u8], LockMode)> = keys
        .iter()
        .map(|key| (key.as_slice(), LockMode::Update))
        .collect();
    exec.scope().lock_written_rows(def.id, &locking).await?;
    on_delete(exec, def, key_batches).await?;
    let count = keys.len() as u64;
    let mut set = WriteSet::new(def);
    for key in keys {
        set.delete(key);
    }
    set.stage(exec.scope()).await?;
    Ok(Changed {
        count,
        rows,
        vacated_keys: Vec::new(),
    })
}

/// Deletes every row of the table called `name` (TRUNCATE).
pub(crate) async fn delete_all(exec: &Executor, name: &str) -> Result<u64> {
    let def = exec.scope().resolve_current(name).ok_or_else(|| {
        Error::new(
            ErrorKind::UndefinedTable,
            format!("relation \"{name}\" does not exist"),
        )
    })?;
    let relation = quoted(name);
    let target = Target {
        def,
        qualifier: relation.clone(),
        relation,
    };
    Ok(delete_where(exec, &target, "", false).await?.count)
}

/// TRUNCATE: delete events for every row of every named table, in the transaction (history
/// is kept, so the rows stay readable AS OF any earlier point).
pub(crate) async fn truncate(exec: &Executor, truncate: &Truncate) -> Result<()> {
    if truncate.identity.is_some() || truncate.partitions.is_some() {
        return Err(Error::unsupported(
            "TRUNCATE with RESTART/CONTINUE IDENTITY or partitions",
        ));
    }
    if truncate.cascade == Some(CascadeOption::Cascade) {
        return Err(Error::unsupported("TRUNCATE … CASCADE"));
    }
    for target in &truncate.table_names {
        let name = crate::common::names::table_name(&target.name)?;
        delete_all(exec, &name).await?;
    }
    Ok(())
}

/// Names the tables of deleted keys apart, since cascades nest.
static GONE: AtomicU64 = AtomicU64::new(0);

/// Applies the ON DELETE action of every foreign key that references `parent` to the rows
/// that reference the deleted keys (`keys`: the primary-key columns of the deleted rows).
pub(crate) async fn on_delete(
    exec: &Executor,
    parent: &TableDef,
    keys: Vec<RecordBatch>,
) -> Result<()> {
    on_gone_keys(exec, parent, keys, false).await
}

/// Refuses an UPDATE that moved rows of `parent` off keys (`keys`) other rows reference:
/// every foreign key acts as PostgreSQL's default `ON UPDATE NO ACTION`.
pub(crate) async fn on_key_change(
    exec: &Executor,
    parent: &TableDef,
    keys: &[RecordBatch],
) -> Result<()> {
    on_gone_keys(exec, parent, keys.to_vec(), true).await
}

/// The rows referencing keys of `parent` that are gone: refused if `restrict`, else each
/// foreign key's ON DELETE action.
async fn on_gone_keys(
    exec: &Executor,
    parent: &TableDef,
    keys: Vec<RecordBatch>,
    restrict: bool,
) -> Result<()> {
    if keys.iter().all(|b| b.num_rows() == 0) {
        return Ok(());
    }
    let children = referencing(exec.scope(), parent.id);
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
    exec.register_statement_table(&name, schema, batches)?;
    let mut result = apply_actions(exec, parent, &children, &name, restrict).await;
    if result.is_ok() {
        result = no_new_references(exec, &children, &name).await;
    }
    exec.deregister_statement_table(&name)?;
    result
}

/// Under REPEATABLE READ and SERIALIZABLE, fails (40001) if a transaction that committed after
/// the snapshot left rows referencing the gone keys (`gone`): the actions above, done at the
/// snapshot, could not see them, and going on would orphan them. (READ COMMITTED reads at the
/// latest commit once it holds the deleted rows' locks, so the actions saw them.)
async fn no_new_references(
    exec: &Executor,
    children: &[(Arc<TableDef>, ForeignKeyDef)],
    gone: &str,
) -> Result<()> {
    let scope = exec.scope();
    let snapshot = scope.snapshot();
    let latest = scope.db.engine.latest_seq();
    if latest <= snapshot
        || scope.with_transaction(|txn| txn.isolation)? == Isolation::ReadCommitted
    {
        return Ok(());
    }
    let gone = format!("{STATEMENT_TABLES}.{SCHEMA_NAME}.{gone}");
    scope.set_snapshot(latest);
    let mut found = Ok(0);
    for (child, fk) in children {
        let query = format!(
            "SELECT count(*) FROM {} JOIN {gone} AS g ON {}",
            quoted(&child.name),
            references_gone(child, fk)
        );
        found = exec.count_sql(&query).await;
        if !matches!(found, Ok(0)) {
            break;
        }
    }
    scope.set_snapshot(snapshot);
    match found? {
        0 => Ok(()),
        _ => Err(concurrent_update()),
    }
}

/// The join condition of `child`'s rows that reference, through `fk`, a gone key (`g`).
fn references_gone(child: &TableDef, fk: &ForeignKeyDef) -> String {
    let table = quoted(&child.name);
    let matches: Vec<String> = fk
        .columns
        .iter()
        .enumerate()
        .map(|(i, &slot)| format!("{table}.{} = g.k{i}", quoted(&child.columns[slot].name)))
        .collect();
    matches.join(" AND ")
}

async fn apply_actions(
    exec: &Executor,
    parent: &TableDef,
    children: &[(Arc<TableDef>, ForeignKeyDef)],
    gone: &str,
    restrict: bool,
) -> Result<()> {
    let gone = format!("{STATEMENT_TABLES}.{SCHEMA_NAME}.{gone}");
    for (child, fk) in children {
        let table = quoted(&child.name);
        let matches = references_gone(child, fk);
        let action = match restrict {
            true => ForeignKeyAction::Restrict,
            false => fk.on_delete,
        };
        let sql = match action {
            ForeignKeyAction::Restrict => {
                let query = format!("SELECT count(*) FROM {table} JOIN {gone} AS g ON {matches}");
                if exec.count_sql(&query).await? > 0 {
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
        let statement = exec.parse_one(&sql)?;
        match statement {
            Statement::Delete(delete) => {
                Box::pin(crate::dml::update_delete::delete(exec, &delete)).await?;
            }
            Statement::Update(update) => {
                Box::pin(crate::dml::update_delete::update(exec, &update)).await?;
            }
            _ => unreachable!("the SQL above is a DELETE or an UPDATE"),
        }
    }
    Ok(())
}
