//! `INSERT … ON CONFLICT … DO NOTHING | DO UPDATE` and `INSERT … RETURNING`.
//!
//! The rows to insert are planned by DataFusion as for a plain INSERT (defaults filled in),
//! then each is checked against its arbiters — the primary key or unique indexes the ON CONFLICT
//! clause names — in the state the transaction sees now (its own rows over the latest commit).
//! A row that finds its value taken is skipped (DO NOTHING) or turns into an update of the row
//! that holds it (DO UPDATE), computed by a query that joins that row with the proposed one,
//! readable as `excluded`. Each row of the statement may take a value once: a second row
//! proposing the same value is skipped, or (DO UPDATE) an error, as in PostgreSQL.

use crate::common::names::SCHEMA_NAME;
use crate::common::names::STATEMENT_TABLES;
use crate::dml::rows::{self, Changed, Target, stage_updates};
use crate::exec::Executor;
use crate::exec::results::StatementResult;
use crate::storage::checks;
use crate::storage::encode::typed_value;
use crate::storage::held::{key_held, value_held};
use crate::storage::schema::table_schema;
use crate::storage::transaction::PendingRows;
use crate::storage::write::{RowsEncoder, WriteSet, new_row_ids};
use datafusion::arrow::array::{ArrayRef, AsArray, BooleanArray, RecordBatch, UInt64Array};
use datafusion::arrow::compute::{
    concat_batches, filter_record_batch, sort_to_indices, take_record_batch,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, UInt64Type};
use datafusion::sql::sqlparser::ast::{
    ConflictTarget, Insert, ObjectNamePart, OnConflict, OnConflictAction, OnInsert,
};
use driftdb_engine::keys::KeyEncoder;
use driftdb_engine::{IndexDef, TableDef, ValueRef, index};
use driftdb_pgtypes::error::{Error, ErrorKind, Result};
use driftdb_pgtypes::idents::normalize;
use driftdb_pgtypes::idents::quoted;
use std::collections::HashSet;
use std::sync::Arc;

/// A constraint a proposed row may collide with.
#[derive(Clone, Debug)]
enum Arbiter {
    PrimaryKey,
    Unique(IndexDef),
}

impl Arbiter {
    fn columns<'d>(&'d self, def: &'d TableDef) -> &'d [usize] {
        match self {
            Arbiter::PrimaryKey => &def.primary_key,
            Arbiter::Unique(index) => &index.columns,
        }
    }
}

/// The arbiters an ON CONFLICT clause names (every unique constraint when it names none).
fn arbiters(def: &TableDef, on: &OnConflict) -> Result<Vec<Arbiter>> {
    let unique = def.indexes.iter().filter(|i| i.unique).cloned();
    let all = std::iter::once(Arbiter::PrimaryKey).chain(unique.map(Arbiter::Unique));
    match &on.conflict_target {
        None => {
            if matches!(on.action, OnConflictAction::DoUpdate(_)) {
                return Err(Error::new(
                    ErrorKind::SyntaxError,
                    "ON CONFLICT DO UPDATE requires inference specification or constraint name",
                ));
            }
            Ok(all.collect())
        }
        Some(ConflictTarget::Columns(columns)) => {
            let mut wanted: Vec<usize> = Vec::new();
            for column in columns {
                let name = normalize(column);
                match def.slot_of(&name) {
                    Some(slot) => wanted.push(slot),
                    None => {
                        return Err(Error::new(
                            ErrorKind::UndefinedColumn,
                            format!("column \"{name}\" does not exist"),
                        ));
                    }
                }
            }
            wanted.sort_unstable();
            let found = all.into_iter().find(|arbiter| {
                let mut columns = arbiter.columns(def).to_vec();
                columns.sort_unstable();
                columns == wanted
            });
            found.map(|arbiter| vec![arbiter]).ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidColumnReference,
                    "there is no unique or exclusion constraint matching the ON CONFLICT specification",
                )
            })
        }
        Some(ConflictTarget::OnConstraint(name)) => {
            let name = match name.0.last() {
                Some(ObjectNamePart::Identifier(ident)) => normalize(ident),
                _ => name.to_string(),
            };
            let found = all.into_iter().find(|arbiter| match arbiter {
                Arbiter::PrimaryKey => def.primary_key_name() == name,
                Arbiter::Unique(index) => index.name == name,
            });
            found.map(|arbiter| vec![arbiter]).ok_or_else(|| {
                Error::new(
                    ErrorKind::UndefinedObject,
                    format!(
                        "constraint \"{name}\" for table \"{}\" does not exist",
                        def.name
                    ),
                )
            })
        }
    }
}

/// The encoded value a row gives an arbiter (`None` if it holds a NULL there: NULLs never
/// collide).
fn arbiter_value(
    def: &TableDef,
    arbiter: &Arbiter,
    columns: &[ArrayRef],
    row: usize,
) -> Option<Vec<u8>> {
    let visible: Vec<usize> = def.visible_slots().collect();
    let mut key = KeyEncoder::new();
    for &slot in arbiter.columns(def) {
        let position = visible.iter().position(|&s| s == slot)?;
        let value = typed_value(&columns[position], row);
        if value == ValueRef::Null {
            return None;
        }
        if matches!(arbiter, Arbiter::Unique(_)) {
            index::push_value(&mut key, value);
        } else {
            key.push_value(value);
        }
    }
    Some(key.as_bytes().to_vec())
}

/// Whether some row the transaction sees now holds `value` for `arbiter`.
fn taken(
    exec: &Executor,
    def: &TableDef,
    arbiter: &Arbiter,
    value: &[u8],
    pending: Option<&PendingRows>,
) -> Result<bool> {
    match arbiter {
        Arbiter::PrimaryKey => key_held(exec.scope(), def.id, value, pending),
        Arbiter::Unique(unique) => value_held(exec.scope(), def, unique, value, pending, |_| true),
    }
}

fn duplicate_error(def: &TableDef, arbiter: &Arbiter) -> Error {
    Error::unique_violation(&match arbiter {
        Arbiter::PrimaryKey => def.primary_key_name(),
        Arbiter::Unique(index) => index.name.clone(),
    })
}

/// Runs an INSERT that has ON CONFLICT or RETURNING.
pub(crate) async fn insert(
    exec: &Executor,
    def: Arc<TableDef>,
    mut insert: Insert,
) -> Result<StatementResult> {
    let returning = insert.returning.take();
    let on = match insert.on.take() {
        None => None,
        Some(OnInsert::OnConflict(on)) => Some(on),
        Some(other) => return Err(Error::unsupported(format!("INSERT … {other}"))),
    };
    let alias = insert.table_alias.take().map(|a| a.alias);
    let target = Target::named(def.clone(), alias.as_ref());
    let schema = table_schema(&def);
    let batches = exec.insert_rows(insert).await?;
    let proposed = concat_batches(&schema, &batches)?;
    let mut encoder = RowsEncoder::new(&def);
    let coerced = encoder.coerce(proposed.columns())?;
    let mut encoded = Vec::new();
    let row_ids = new_row_ids(exec.scope(), &def, proposed.num_rows())?;
    encoder.encode_coerced(&coerced, &row_ids, &mut encoded)?;
    let proposed = RecordBatch::try_new(schema.clone(), coerced)?;

    let arbiters = match &on {
        Some(on) => arbiters(&def, on)?,
        None => Vec::new(),
    };
    let do_update = match on.as_ref().map(|on| &on.action) {
        Some(OnConflictAction::DoUpdate(update)) => Some(update),
        _ => None,
    };
    let pending = exec
        .scope()
        .with_transaction(|txn| txn.pending_rows(def.id))?;
    // Per arbiter, the values rows of this statement have taken.
    let mut claimed: Vec<HashSet<Vec<u8>>> = vec![HashSet::new(); arbiters.len()];
    let (mut inserts, mut updates) = (Vec::new(), Vec::new());
    let mut set = WriteSet::new(&def);
    for (row, (pk, event)) in encoded.into_iter().enumerate() {
        let mut conflict = None;
        for (i, arbiter) in arbiters.iter().enumerate() {
            let Some(value) = arbiter_value(&def, arbiter, proposed.columns(), row) else {
                continue;
            };
            if claimed[i].contains(&value) {
                if do_update.is_some() {
                    return Err(Error::new(
                        ErrorKind::CardinalityViolation,
                        "ON CONFLICT DO UPDATE command cannot affect row a second time",
                    ));
                }
                conflict = Some(i);
                break;
            }
            if taken(exec, &def, arbiter, &value, pending.as_ref())? {
                conflict = Some(i);
                claimed[i].insert(value);
                break;
            }
        }
        match conflict {
            None => {
                for (i, arbiter) in arbiters.iter().enumerate() {
                    if let Some(value) = arbiter_value(&def, arbiter, proposed.columns(), row) {
                        claimed[i].insert(value);
                    }
                }
                set.insert(pk, event)
                    .map_err(|_| duplicate_error(&def, &Arbiter::PrimaryKey))?;
                inserts.push(row);
            }
            Some(i) if do_update.is_some() => updates.push((row, i)),
            Some(_) => {}
        }
    }
    let mask = |rows: &[usize]| {
        let mut keep = vec![false; proposed.num_rows()];
        rows.iter().for_each(|&row| keep[row] = true);
        BooleanArray::from(keep)
    };
    let inserted = filter_record_batch(&proposed, &mask(&inserts))?;
    checks::verify(exec.scope(), &def, inserted.columns())?;
    set.check_references(exec.scope(), inserted.columns())?;
    set.stage(exec.scope()).await?;
    let mut changed = Changed {
        count: inserts.len() as u64,
        rows: vec![inserted],
        vacated_keys: Vec::new(),
    };
    // Which proposed row each changed row came from: RETURNING lists them in that order.
    let mut ordinals: Vec<u64> = inserts.iter().map(|&row| row as u64).collect();
    if let (Some(update), false) = (do_update, updates.is_empty()) {
        // One arbiter decided each conflict; rows are grouped by it for the join.
        for (i, arbiter) in arbiters.iter().enumerate() {
            let rows: Vec<usize> = updates
                .iter()
                .filter(|(_, a)| *a == i)
                .map(|(r, _)| *r)
                .collect();
            if rows.is_empty() {
                continue;
            }
            let excluded = with_ordinals(&filter_record_batch(&proposed, &mask(&rows))?, &rows)?;
            let join: Vec<String> = arbiter
                .columns(&def)
                .iter()
                .map(|&slot| {
                    let name = quoted(&def.columns[slot].name);
                    format!("{} = excluded.{name}", target.column(slot))
                })
                .collect();
            let mut query = format!(
                "SELECT {}, {}, excluded.{ORDINAL} FROM {} \
                 JOIN {STATEMENT_TABLES}.{SCHEMA_NAME}.excluded AS excluded ON {}",
                target.key_columns().join(", "),
                rows::new_values(&target, &update.assignments)?.join(", "),
                target.relation,
                join.join(" AND ")
            );
            if let Some(condition) = &update.selection {
                query.push_str(&format!(" WHERE {condition}"));
            }
            let (_, batches) = exec
                .collect_sql_with(
                    vec![("excluded", excluded.schema(), vec![excluded])],
                    &query,
                )
                .await?;
            let mut rows_only = Vec::with_capacity(batches.len());
            for batch in &batches {
                let last = batch.num_columns() - 1;
                let column = batch.column(last).as_primitive::<UInt64Type>();
                ordinals.extend(column.values().iter().copied());
                rows_only.push(batch.project(&(0..last).collect::<Vec<_>>())?);
            }
            let updated = stage_updates(exec, &def, &rows_only, returning.is_some()).await?;
            crate::dml::update_delete::on_key_change(exec, &def, &updated.vacated_keys).await?;
            changed.count += updated.count;
            changed.rows.extend(updated.rows);
        }
    }
    if returning.is_none() {
        changed.rows.clear();
    } else {
        changed.rows = vec![in_order(&schema, &changed.rows, ordinals)?];
    }
    rows::finish(exec, &target, "INSERT", changed, &returning).await
}

/// The column that carries each proposed row's position through the DO UPDATE join.
const ORDINAL: &str = "__driftdb_ordinal";

/// `batch` with an [`ORDINAL`] column holding `rows`.
fn with_ordinals(batch: &RecordBatch, rows: &[usize]) -> Result<RecordBatch> {
    let mut fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new(ORDINAL, DataType::UInt64, false));
    let mut columns = batch.columns().to_vec();
    columns.push(Arc::new(UInt64Array::from_iter_values(
        rows.iter().map(|&row| row as u64),
    )));
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}

/// The rows of `batches` sorted by `ordinals` (one per row, in batch order).
fn in_order(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    ordinals: Vec<u64>,
) -> Result<RecordBatch> {
    let all = concat_batches(schema, batches)?;
    let order = sort_to_indices(&UInt64Array::from(ordinals), None, None)?;
    Ok(take_record_batch(&all, &order)?)
}
