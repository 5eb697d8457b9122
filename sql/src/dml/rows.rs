//! What UPDATE, DELETE and INSERT … ON CONFLICT share: the target table, the query that finds
//! the rows a statement changes, the staging of new row versions, RETURNING, and row counts.

use crate::common::names::SCHEMA_NAME;
use crate::common::names::STATEMENT_TABLES;
use crate::common::names::table_name;
use crate::common::parse::is_default_keyword;
use crate::exec::Executor;
use crate::exec::results::{CommandTag, QueryResult, StatementResult};
use crate::storage::checks;
use crate::storage::defaults::default_sql;
use crate::storage::schema::table_schema;
use crate::storage::write::{RowsEncoder, WriteSet};
use datafusion::arrow::array::BooleanArray;
use datafusion::arrow::array::{ArrayRef, AsArray};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::datatypes::UInt64Type;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::sql::sqlparser::ast::{
    Assignment, AssignmentTarget, Ident, ObjectNamePart, SelectItem, TableFactor, TableWithJoins,
};
use driftdb_engine::TableDef;
use driftdb_pgtypes::error::{Error, ErrorKind, Result};
use driftdb_pgtypes::idents::normalize;
use driftdb_pgtypes::idents::quoted;
use std::collections::HashSet;
use std::sync::Arc;

/// The row count DataFusion's DML plans return.
pub(crate) fn count_of(batches: &[RecordBatch]) -> Result<u64> {
    let mut total = 0;
    for batch in batches {
        let column = batch
            .columns()
            .first()
            .ok_or_else(|| Error::new(ErrorKind::Internal, "DML returned no count"))?;
        let counts = column.as_primitive_opt::<UInt64Type>().ok_or_else(|| {
            Error::new(ErrorKind::Internal, "DML count is not an unsigned integer")
        })?;
        total += counts.iter().flatten().sum::<u64>();
    }
    Ok(total)
}

/// The target table of an UPDATE or DELETE and the name its columns are qualified with.
pub(crate) struct Target {
    pub(crate) def: Arc<TableDef>,
    /// The table reference as written (`t`, `t AS x`), for the generated FROM clause.
    pub(crate) relation: String,
    pub(crate) qualifier: String,
}

pub(crate) fn target(exec: &Executor, table: &TableWithJoins) -> Result<Target> {
    if !table.joins.is_empty() {
        return Err(Error::unsupported(
            "a join in the target of UPDATE or DELETE",
        ));
    }
    let TableFactor::Table {
        name,
        alias,
        args: None,
        ..
    } = &table.relation
    else {
        return Err(Error::new(
            ErrorKind::FeatureNotSupported,
            "only a table can be the target of UPDATE or DELETE (not a table at a past point)",
        ));
    };
    let table_name = table_name(name)?;
    let def = exec.scope().resolve_current(&table_name).ok_or_else(|| {
        Error::new(
            ErrorKind::UndefinedTable,
            format!("relation \"{table_name}\" does not exist"),
        )
    })?;
    if def.view.is_some() {
        return Err(Error::unsupported(format!(
            "writing to view \"{table_name}\""
        )));
    }
    let qualifier = match alias {
        Some(alias) => alias.name.to_string(),
        None => match name.0.last() {
            Some(ObjectNamePart::Identifier(ident)) => ident.to_string(),
            _ => quoted(&table_name),
        },
    };
    Ok(Target {
        def,
        relation: table.relation.to_string(),
        qualifier,
    })
}

impl Target {
    /// The table called `name` (already resolved to `def`), under `alias` if one is given.
    pub(crate) fn named(def: Arc<TableDef>, alias: Option<&Ident>) -> Target {
        let relation = quoted(&def.name);
        let qualifier = alias.map_or_else(|| relation.clone(), ToString::to_string);
        Target {
            relation: format!("{relation} AS {qualifier}"),
            def,
            qualifier,
        }
    }

    pub(crate) fn column(&self, slot: usize) -> String {
        format!(
            "{}.{}",
            self.qualifier,
            quoted(&self.def.columns[slot].name)
        )
    }

    /// The primary-key columns, aliased so that they never clash with the columns after them.
    pub(crate) fn key_columns(&self) -> Vec<String> {
        let keys = self.def.primary_key.iter().enumerate();
        keys.map(|(i, &slot)| format!("{} AS \"__driftdb_key_{i}\"", self.column(slot)))
            .collect()
    }
}

pub(crate) fn where_clause(selection: &Option<datafusion::sql::sqlparser::ast::Expr>) -> String {
    selection
        .as_ref()
        .map(|e| format!(" WHERE {e}"))
        .unwrap_or_default()
}

/// The new value (SQL text) of each visible column of `target` under `assignments`: the
/// assigned expression, the column's default for `DEFAULT`, else the column as it is.
pub(crate) fn new_values(target: &Target, assignments: &[Assignment]) -> Result<Vec<String>> {
    let def = &target.def;
    let visible: Vec<usize> = def.visible_slots().collect();
    let mut new_values: Vec<String> = visible.iter().map(|&slot| target.column(slot)).collect();
    let mut assigned = vec![false; visible.len()];
    for assignment in assignments {
        let AssignmentTarget::ColumnName(column) = &assignment.target else {
            return Err(Error::unsupported("assigning a tuple of columns"));
        };
        let column_name = match column.0.last() {
            Some(ObjectNamePart::Identifier(ident)) => normalize(ident),
            _ => {
                return Err(Error::new(
                    ErrorKind::SyntaxError,
                    format!("invalid column {column}"),
                ));
            }
        };
        let position = visible
            .iter()
            .position(|&slot| def.columns[slot].name == column_name)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::UndefinedColumn,
                    format!(
                        "column \"{column_name}\" of relation \"{}\" does not exist",
                        def.name
                    ),
                )
            })?;
        if std::mem::replace(&mut assigned[position], true) {
            return Err(Error::new(
                ErrorKind::SyntaxError,
                format!("multiple assignments to same column \"{column_name}\""),
            ));
        }
        let column = &def.columns[visible[position]];
        new_values[position] = if is_default_keyword(&assignment.value) {
            format!("({})", default_sql(column).unwrap_or_else(|| "NULL".into()))
        } else if column.identity.as_ref().is_some_and(|i| i.always) {
            return Err(Error::new(
                ErrorKind::GeneratedAlways,
                format!("column \"{column_name}\" can only be updated to DEFAULT"),
            ));
        } else {
            format!("({})", assignment.value)
        };
    }
    Ok(new_values
        .into_iter()
        .enumerate()
        .map(|(i, value)| format!("{value} AS \"__driftdb_new_{i}\""))
        .collect())
}

/// Rows a DML statement changed, as their columns now read (or, for DELETE, last read).
pub(crate) struct Changed {
    pub(crate) count: u64,
    /// In the table's schema; kept only when the statement has RETURNING.
    pub(crate) rows: Vec<RecordBatch>,
    /// The primary keys an UPDATE moved rows away from and no row moved onto (the key
    /// columns alone), which rows of other tables may still reference.
    pub(crate) vacated_keys: Vec<RecordBatch>,
}

/// Stages the updates in `batches` (the old primary key, then each visible column's new value)
/// into the transaction.
pub(crate) async fn stage_updates(
    exec: &Executor,
    def: &TableDef,
    batches: &[RecordBatch],
    keep_rows: bool,
) -> Result<Changed> {
    let key_count = def.primary_key.len();
    let schema = table_schema(def);
    let mut encoder = RowsEncoder::new(def);
    let mut set = WriteSet::new(def);
    let (mut old_keys, mut new_rows, mut rows) = (Vec::new(), Vec::new(), Vec::new());
    let mut key_columns = Vec::new();
    let mut seen = HashSet::new();
    for batch in batches {
        let batch = first_per_key(&mut encoder, batch, key_count, &mut seen, &mut old_keys)?;
        key_columns.push(batch.project(&(0..key_count).collect::<Vec<_>>())?);
        let columns = batch.columns();
        let coerced = encoder.coerce(&columns[key_count..])?;
        checks::verify(exec.scope(), def, &coerced)?;
        set.check_references(exec.scope(), &coerced)?;
        // A table without a primary key is keyed by its hidden row id, which an update keeps.
        let hidden: Vec<ArrayRef> = def
            .primary_key
            .iter()
            .zip(columns)
            .filter(|(slot, _)| def.columns[**slot].hidden)
            .map(|(_, column)| column.clone())
            .collect();
        encoder.encode_coerced(&coerced, &hidden, &mut new_rows)?;
        if keep_rows {
            rows.push(RecordBatch::try_new(schema.clone(), coerced)?);
        }
    }
    let count = old_keys.len() as u64;
    let vacated_keys = vacated(&key_columns, &old_keys, &new_rows)?;
    // Rows that move to a new key leave their old one first, so a statement may shift keys
    // (`SET id = id + 1`) as long as no two rows end on the same key.
    let mut moved = Vec::new();
    for (old_key, (new_key, event)) in old_keys.into_iter().zip(new_rows) {
        if old_key == new_key {
            set.replace(new_key, event)?;
        } else {
            set.delete(old_key);
            moved.push((new_key, event));
        }
    }
    for (new_key, event) in moved {
        set.insert(new_key, event)?;
    }
    set.stage(exec.scope()).await?;
    Ok(Changed {
        count,
        rows,
        vacated_keys,
    })
}

/// The rows of `key_columns` (the old keys, in the order of `old_keys`) whose key the update
/// left and no row took. Most updates keep every key, and pay only the comparison.
pub(crate) fn vacated(
    key_columns: &[RecordBatch],
    old_keys: &[Vec<u8>],
    new_rows: &[(Vec<u8>, Vec<u8>)],
) -> Result<Vec<RecordBatch>> {
    let keys_kept = old_keys
        .iter()
        .zip(new_rows)
        .all(|(old, (new, _))| old == new);
    if keys_kept {
        return Ok(Vec::new());
    }
    let new_keys: HashSet<&[u8]> = new_rows.iter().map(|(key, _)| key.as_slice()).collect();
    let mut old = old_keys.iter();
    let mut vacated = Vec::new();
    for batch in key_columns {
        let keep: BooleanArray = old
            .by_ref()
            .take(batch.num_rows())
            .map(|key| Some(!new_keys.contains(key.as_slice())))
            .collect();
        if keep.true_count() > 0 {
            vacated.push(filter_record_batch(batch, &keep)?);
        }
    }
    Ok(vacated)
}

/// The rows of `batch` (led by `key_count` primary-key columns) whose key is not in `seen` yet,
/// each key once; their keys are added to `seen` and appended to `keys`. A join in UPDATE …
/// FROM or DELETE … USING may find a row several times; it changes once, as in PostgreSQL.
pub(crate) fn first_per_key(
    encoder: &mut RowsEncoder<'_>,
    batch: &RecordBatch,
    key_count: usize,
    seen: &mut HashSet<Vec<u8>>,
    keys: &mut Vec<Vec<u8>>,
) -> Result<RecordBatch> {
    let mut batch_keys = Vec::with_capacity(batch.num_rows());
    encoder.encode_keys(&batch.columns()[..key_count], &mut batch_keys)?;
    let mut keep = Vec::with_capacity(batch_keys.len());
    for key in batch_keys {
        let first = seen.insert(key.clone());
        if first {
            keys.push(key);
        }
        keep.push(first);
    }
    if keep.iter().all(|&k| k) {
        return Ok(batch.clone());
    }
    Ok(filter_record_batch(batch, &BooleanArray::from(keep))?)
}

/// The tables of `UPDATE … FROM` or `DELETE … USING`, to join after the target.
pub(crate) fn joined_tables(tables: Option<&Vec<TableWithJoins>>) -> String {
    tables
        .into_iter()
        .flatten()
        .map(|table| format!(", {table}"))
        .collect()
}

/// The result of a DML statement: its rows under RETURNING, else its tag with the count.
pub(crate) async fn finish(
    exec: &Executor,
    target: &Target,
    command: &'static str,
    changed: Changed,
    returning: &Option<Vec<SelectItem>>,
) -> Result<StatementResult> {
    let Some(items) = returning else {
        return Ok(StatementResult::Command(CommandTag::with_rows(
            command,
            changed.count,
        )));
    };
    let items: Vec<String> = items.iter().map(ToString::to_string).collect();
    let query = format!(
        "SELECT {} FROM {STATEMENT_TABLES}.{SCHEMA_NAME}.changed AS {}",
        items.join(", "),
        target.qualifier
    );
    let schema = table_schema(&target.def);
    let (schema, batches) = exec
        .collect_sql_with(vec![("changed", schema, changed.rows)], &query)
        .await?;
    let tag = match command {
        "INSERT" => "INSERT 0",
        other => other,
    };
    Ok(StatementResult::Query(QueryResult::from_batches(
        schema, batches, tag,
    )))
}
