//! `SELECT … FOR UPDATE | FOR NO KEY UPDATE | FOR SHARE | FOR KEY SHARE [OF table, …]
//! [NOWAIT | SKIP LOCKED]`: the rows a query returns, locked for the rest of the transaction.
//!
//! The query runs with the primary key of each locked table added to its columns and without
//! its LIMIT and OFFSET; then, in the query's order, each row's keys are locked (waiting, failing
//! at once with `NOWAIT`, or dropping the row with `SKIP LOCKED`) until the LIMIT has its rows,
//! as PostgreSQL locks below its LIMIT. A row that changed after the statement's snapshot makes a
//! READ COMMITTED statement run again on the newer state, keeping the locks it took (so the
//! rows it returns are the newest versions, their WHERE clause checked again), and fails a
//! REPEATABLE READ or SERIALIZABLE one with 40001 (`crate::storage::scope`).
//!
//! Tables are locked when they are named in the top-level FROM clause of a plain SELECT. A
//! locking clause on a set operation, DISTINCT, GROUP BY or HAVING is refused as PostgreSQL
//! refuses it (`0A000`); one that would have to lock a table without a primary key, a view, a
//! subquery in FROM or a table at a past point is refused as not supported.

use crate::common::names::table_name;
use crate::exec::Executor;
use crate::exec::results::{QueryResult, StatementResult};
use crate::rewrite::colnames;
use crate::rewrite::locking_clauses::MARKERS;
use crate::storage::locks::{LockMode, WaitPolicy};
use crate::storage::write::RowsEncoder;
use datafusion::arrow::array::Array;
use datafusion::arrow::compute::interleave_record_batch;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use datafusion::sql::sqlparser::ast::{
    Expr, GroupByExpr, Ident, LimitClause, LockClause, LockType, NonBlock, ObjectNamePart, Query,
    Select, SelectItem, SetExpr, Statement as Ast, TableFactor, Value, visit_expressions,
};
use driftdb_engine::TableDef;
use driftdb_pgtypes::error::{Error, ErrorKind, Result};
use driftdb_pgtypes::idents::normalize;
use futures::TryStreamExt;
use std::ops::ControlFlow;
use std::sync::Arc;

/// One locking clause: its strength, the table it names after `OF` (`None`: every table) and
/// its policy for a locked row.
struct Clause {
    mode: LockMode,
    /// How PostgreSQL names the clause in its errors (`FOR NO KEY UPDATE`).
    name: &'static str,
    table: Option<String>,
    nonblock: Option<NonBlock>,
}

fn clauses(locks: &[LockClause]) -> Vec<Clause> {
    locks
        .iter()
        .map(|lock| {
            let parts: Vec<String> = lock
                .of
                .iter()
                .flat_map(|of| &of.0)
                .filter_map(|part| match part {
                    ObjectNamePart::Identifier(ident) => Some(normalize(ident)),
                    _ => None,
                })
                .collect();
            let strength = parts
                .first()
                .and_then(|first| MARKERS.iter().position(|m| m == first));
            let (mode, name) = match (strength, lock.lock_type) {
                (Some(1), _) => (LockMode::NoKeyUpdate, "FOR NO KEY UPDATE"),
                (Some(2), _) => (LockMode::Share, "FOR SHARE"),
                (Some(3), _) => (LockMode::KeyShare, "FOR KEY SHARE"),
                (Some(_), _) | (None, LockType::Update) => (LockMode::Update, "FOR UPDATE"),
                (None, LockType::Share) => (LockMode::Share, "FOR SHARE"),
            };
            // The table named after the marker (`OF marker.table`), or after `OF` alone.
            let named = match strength {
                Some(_) => parts.get(1..).unwrap_or_default(),
                None => parts.as_slice(),
            };
            Clause {
                mode,
                name,
                table: named.last().cloned(),
                nonblock: lock.nonblock,
            }
        })
        .collect()
}

fn refused(clause: &str, what: &str) -> Error {
    Error::new(
        ErrorKind::FeatureNotSupported,
        format!("{clause} is not allowed with {what}"),
    )
}

/// A table the statement locks rows of.
struct Locked {
    def: Arc<TableDef>,
    mode: LockMode,
    policy: WaitPolicy,
    /// Where its key columns start among the key columns added after the query's own (which
    /// may be any number: `*` stands for several).
    first_column: usize,
}

/// Runs a query with locking clauses (see the module docs).
pub(crate) async fn select(exec: &Executor, mut query: Query) -> Result<StatementResult> {
    let scope = exec.scope();
    let clauses = clauses(&query.locks);
    let first = clauses[0].name;
    if scope.with_transaction(|txn| txn.read_only)? {
        return Err(Error::new(
            ErrorKind::ReadOnlyTransaction,
            format!("cannot execute SELECT {first} in a read-only transaction"),
        ));
    }
    query.locks.clear();
    let names = colnames::statement_names(&Ast::Query(Box::new(query.clone())));
    let (offset, limit) = bounds(exec, &mut query).await?;
    let SetExpr::Select(select) = query.body.as_mut() else {
        return Err(match query.body.as_ref() {
            SetExpr::SetOperation { .. } => refused(first, "UNION/INTERSECT/EXCEPT"),
            _ => Error::unsupported(format!("{first} on anything but a SELECT")),
        });
    };
    check_shape(exec, select, first)?;
    let locked = locked_tables(exec, select, &clauses, first)?;
    let stream = exec.stream(Ast::Query(Box::new(query))).await?;
    let schema = stream.schema();
    let batches: Vec<RecordBatch> = stream.try_collect().await?;
    let key_columns: usize = locked.iter().map(|t| t.def.primary_key.len()).sum();
    let wanted = limit.map(|limit| offset + limit);
    let mut kept: Vec<(usize, usize)> = Vec::new();
    let mut seen = 0u64;
    'batches: for (b, batch) in batches.iter().enumerate() {
        let added = schema.fields().len() - key_columns;
        let keys: Vec<Vec<Option<Vec<u8>>>> = locked
            .iter()
            .map(|table| row_keys(table, batch, added))
            .collect::<Result<_>>()?;
        for row in 0..batch.num_rows() {
            if wanted.is_some_and(|wanted| seen >= wanted) {
                break 'batches;
            }
            let mut skipped = false;
            for (table, keys) in locked.iter().zip(&keys) {
                // The NULL side of an outer join holds no row to lock.
                let Some(pk) = &keys[row] else { continue };
                let id = table.def.id;
                let taken = scope.lock_row_with(id, pk, table.mode, table.policy).await;
                let taken = taken.map_err(|e| match (e.kind, table.policy) {
                    (ErrorKind::LockNotAvailable, WaitPolicy::NoWait) => Error::new(
                        e.kind,
                        format!(
                            "could not obtain lock on row in relation \"{}\"",
                            table.def.name
                        ),
                    ),
                    _ => e,
                })?;
                if !taken {
                    skipped = true;
                    break;
                }
                scope.fail_if_changed(id, &[pk.as_slice()])?;
            }
            if skipped {
                continue;
            }
            seen += 1;
            if seen > offset {
                kept.push((b, row));
            }
        }
    }
    let rows = match kept.is_empty() {
        true => RecordBatch::new_empty(schema.clone()),
        false => {
            let refs: Vec<&RecordBatch> = batches.iter().collect();
            interleave_record_batch(&refs, &kept)?
        }
    };
    let shown: Vec<usize> = (0..schema.fields().len() - key_columns).collect();
    let rows = rows.project(&shown)?;
    let schema = colnames::rename(names, rows.schema());
    let rows = RecordBatch::try_new(schema.clone(), rows.columns().to_vec())?;
    Ok(StatementResult::Query(QueryResult::from_batches(
        schema,
        vec![rows],
        "SELECT",
    )))
}

/// Takes the query's OFFSET and LIMIT (or FETCH FIRST) off it, evaluated: the rows are counted
/// as they are locked instead.
async fn bounds(exec: &Executor, query: &mut Query) -> Result<(u64, Option<u64>)> {
    let (mut offset, mut limit) = (None, None);
    match query.limit_clause.take() {
        Some(LimitClause::LimitOffset {
            limit: l,
            offset: o,
            limit_by,
        }) if limit_by.is_empty() => {
            limit = l;
            offset = o.map(|o| o.value);
        }
        Some(LimitClause::OffsetCommaLimit {
            offset: o,
            limit: l,
        }) => {
            limit = Some(l);
            offset = Some(o);
        }
        Some(other) => return Err(Error::unsupported(format!("{other} with a locking clause"))),
        None => {}
    }
    if let Some(fetch) = query.fetch.take() {
        if fetch.with_ties || fetch.percent {
            return Err(Error::unsupported(
                "FETCH … WITH TIES or PERCENT with a locking clause",
            ));
        }
        limit = fetch
            .quantity
            .or(Some(Expr::value(Value::Number("1".into(), false))));
    }
    let offset = match offset {
        Some(expr) => count(exec, &expr, "OFFSET").await?.unwrap_or(0),
        None => 0,
    };
    let limit = match limit {
        Some(expr) => count(exec, &expr, "LIMIT").await?,
        None => None,
    };
    Ok((offset, limit))
}

/// The value of a LIMIT or OFFSET expression (`None`: NULL or ALL, no limit).
async fn count(exec: &Executor, expr: &Expr, what: &str) -> Result<Option<u64>> {
    if let Expr::Value(value) = expr
        && let Value::Number(n, _) = &value.value
        && let Ok(n) = n.parse::<u64>()
    {
        return Ok(Some(n));
    }
    let batches = exec
        .collect(exec.parse_one(&format!("SELECT CAST(({expr}) AS bigint)"))?)
        .await?;
    let value = match batches.iter().find(|b| b.num_rows() > 0) {
        Some(batch) => ScalarValue::try_from_array(batch.column(0), 0)?,
        None => ScalarValue::Null,
    };
    match value {
        ScalarValue::Int64(None) => Ok(None),
        ScalarValue::Int64(Some(n)) if n >= 0 => Ok(Some(n as u64)),
        _ => Err(Error::new(
            ErrorKind::InvalidRowCountInLimitClause,
            format!("{what} must not be negative"),
        )),
    }
}

/// Refuses what PostgreSQL refuses a locking clause on.
fn check_shape(exec: &Executor, select: &Select, clause: &str) -> Result<()> {
    let aggregates = exec.planner().aggregate_functions();
    let mut aggregate = false;
    for item in &select.projection {
        let _ = visit_expressions(item, |expr| {
            if let Expr::Function(function) = expr
                && let Some(ObjectNamePart::Identifier(name)) = function.name.0.last()
                && aggregates.contains_key(&normalize(name))
            {
                aggregate = true;
            }
            ControlFlow::<()>::Continue(())
        });
    }
    if aggregate {
        return Err(refused(clause, "aggregate functions"));
    }
    if select.distinct.is_some() {
        return Err(refused(clause, "DISTINCT clause"));
    }
    let grouped = match &select.group_by {
        GroupByExpr::All(_) => true,
        GroupByExpr::Expressions(exprs, _) => !exprs.is_empty(),
    };
    if grouped {
        return Err(refused(clause, "GROUP BY clause"));
    }
    if select.having.is_some() {
        return Err(refused(clause, "HAVING clause"));
    }
    Ok(())
}

/// The tables of the top-level FROM clause the clauses lock, each with its key columns added
/// to the query's columns (after the query's own).
fn locked_tables(
    exec: &Executor,
    select: &mut Select,
    clauses: &[Clause],
    first: &str,
) -> Result<Vec<Locked>> {
    let scope = exec.scope();
    let mut named: Vec<&str> = clauses.iter().filter_map(|c| c.table.as_deref()).collect();
    let factors: Vec<&TableFactor> = select
        .from
        .iter()
        .flat_map(|from| {
            std::iter::once(&from.relation).chain(from.joins.iter().map(|j| &j.relation))
        })
        .collect();
    let mut locked = Vec::new();
    let mut keys = Vec::new();
    let mut column = 0;
    for (position, factor) in factors.into_iter().enumerate() {
        let (qualifier, name) = match factor {
            TableFactor::Table { name, alias, .. } => {
                let written = match name.0.last() {
                    Some(ObjectNamePart::Identifier(ident)) => ident.clone(),
                    _ => return Err(Error::unsupported(format!("{first} of {name}"))),
                };
                (
                    alias.as_ref().map_or(written, |a| a.name.clone()),
                    Some(name),
                )
            }
            TableFactor::Derived {
                alias: Some(alias), ..
            } => (alias.name.clone(), None),
            _ => (Ident::new(""), None),
        };
        let shown = normalize(&qualifier);
        let applying: Vec<&Clause> = clauses
            .iter()
            .filter(|c| c.table.as_ref().is_none_or(|t| *t == shown))
            .collect();
        if applying.is_empty() {
            continue;
        }
        named.retain(|n| *n != shown);
        let what = format!(
            "{first} of {}",
            if shown.is_empty() {
                "this FROM item"
            } else {
                shown.as_str()
            }
        );
        let Some(name) = name else {
            return Err(Error::unsupported(format!(
                "{what}: only tables can be locked"
            )));
        };
        let def = match factor {
            TableFactor::Table { args: None, .. } => scope.resolve_current(&table_name(name)?),
            _ => None,
        };
        let Some(def) = def.filter(|d| d.view.is_none()) else {
            return Err(Error::unsupported(format!(
                "{what}: only tables as they are now can be locked, not views or tables at a past point"
            )));
        };
        if def.primary_key.iter().any(|&slot| def.columns[slot].hidden) {
            return Err(Error::unsupported(format!(
                "{what}: a table without a primary key"
            )));
        }
        let mode = applying.iter().map(|c| c.mode).max().expect("one applies");
        let policy = if applying
            .iter()
            .any(|c| c.nonblock == Some(NonBlock::Nowait))
        {
            WaitPolicy::NoWait
        } else if applying
            .iter()
            .any(|c| c.nonblock == Some(NonBlock::SkipLocked))
        {
            WaitPolicy::Skip
        } else {
            scope.waiting()
        };
        for (k, &slot) in def.primary_key.iter().enumerate() {
            let column_name = Ident::with_quote('"', def.columns[slot].name.clone());
            keys.push(SelectItem::ExprWithAlias {
                expr: Expr::CompoundIdentifier(vec![qualifier.clone(), column_name]),
                alias: Ident::new(format!("__driftdb_lock_{position}_{k}")),
            });
        }
        locked.push(Locked {
            first_column: column,
            mode,
            policy,
            def: def.clone(),
        });
        column += def.primary_key.len();
    }
    if let Some(missing) = named.first() {
        return Err(Error::new(
            ErrorKind::UndefinedTable,
            format!("relation \"{missing}\" in {first} clause not found in FROM clause"),
        ));
    }
    select.projection.extend(keys);
    Ok(locked)
}

/// Each row's encoded primary key of `table` (`None` where the key is NULL: no row); the added
/// key columns start at column `added`.
fn row_keys(table: &Locked, batch: &RecordBatch, added: usize) -> Result<Vec<Option<Vec<u8>>>> {
    let (width, first) = (table.def.primary_key.len(), added + table.first_column);
    let columns = &batch.columns()[first..first + width];
    let mut encoder = RowsEncoder::new(&table.def);
    if columns.iter().all(|c| c.null_count() == 0) {
        let mut keys = Vec::with_capacity(batch.num_rows());
        encoder.encode_keys(columns, &mut keys)?;
        return Ok(keys.into_iter().map(Some).collect());
    }
    (0..batch.num_rows())
        .map(|row| {
            if columns.iter().any(|c| c.is_null(row)) {
                return Ok(None);
            }
            let one: Vec<_> = columns.iter().map(|c| c.slice(row, 1)).collect();
            let mut keys = Vec::with_capacity(1);
            encoder.encode_keys(&one, &mut keys)?;
            Ok(keys.pop())
        })
        .collect()
}
