//! `UPDATE t SET … WHERE pk = constant` and `DELETE FROM t WHERE pk = constant`: the row is read
//! by its key, its new values computed here, and the change goes through the same staging as
//! the full path's (CHECK, NOT NULL, FOREIGN KEY, UNIQUE, moved keys and ON DELETE actions), so
//! only the finding and the arithmetic are the key path's own.
//!
//! A new value may be a constant, NULL, another column, or an integer column plus or minus an
//! integer constant; each becomes the Arrow array the full path's query would have computed (a
//! `bigint` literal, text, the type a cast names, the wider of two integer types), so the
//! assignment casts, checks and errors that follow are the same code on the same input.
//! Arithmetic that overflows is left to the full path to report.
//!
//! The row's lock is taken before the row is read, so a READ COMMITTED statement that waited
//! for another writer reads the version that writer committed and never has to run again.

use crate::common::parse::is_default_keyword;
use crate::dml::rows::stage_updates;
use crate::dml::update_delete::{on_delete, on_key_change};
use crate::exec::Executor;
use crate::exec::results::{CommandTag, StatementResult};
use crate::keypath::shape::{self, Constant, PinnedKey, Table};
use crate::storage::locks::LockMode;
use crate::storage::scan::read_key;
use crate::storage::schema::table_schema;
use crate::storage::write::WriteSet;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int16Array, Int32Array, Int64Array, NullArray, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Int16Type, Int32Type, Int64Type, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use datafusion::sql::sqlparser::ast::{
    AssignmentTarget, BinaryOperator, Delete, Expr, FromTable, Update, Value,
};
use driftdb_engine::ColumnType;
use driftdb_pgtypes::error::Result;
use std::sync::Arc;

/// What one assignment sets its column to.
enum NewValue {
    Constant(Constant),
    Null,
    /// The value of another column (by position among the visible columns).
    Column(usize),
    /// An integer column plus `addend`, computed in `ty` (the wider of the two types).
    Sum {
        column: usize,
        addend: i64,
        ty: ColumnType,
    },
}

/// Runs `update` if it changes one row named by its whole primary key with values the key path
/// computes; `None` leaves it to the full path.
pub(crate) async fn update(exec: &Executor, update: &Update) -> Result<Option<StatementResult>> {
    let plain = update.optimizer_hints.is_empty()
        && update.from.is_none()
        && update.returning.is_none()
        && update.output.is_none()
        && update.or.is_none()
        && update.order_by.is_empty()
        && update.limit.is_none();
    if !plain {
        return Ok(None);
    }
    let Some(table) = shape::table(exec, &update.table) else {
        return Ok(None);
    };
    let Some(key) = update.selection.as_ref().and_then(|s| table.pinned_key(s)) else {
        return Ok(None);
    };
    let Some(assigned) = assignments(&table, update) else {
        return Ok(None);
    };
    let def = &table.def;
    // An UPDATE of a key, or of a unique column, locks the row as a DELETE would.
    let rekeys = assigned
        .iter()
        .zip(def.visible_slots())
        .any(|(value, slot)| {
            value.is_some()
                && (def.primary_key.contains(&slot)
                    || def
                        .indexes
                        .iter()
                        .any(|i| i.unique && i.columns.contains(&slot)))
        });
    let mode = match rekeys {
        true => LockMode::Update,
        false => LockMode::NoKeyUpdate,
    };
    exec.scope().lock_row(def.id, &key.key, mode).await?;
    let old = read_row(exec, &table, &key, None)?;
    let rows = old.num_rows();
    // The full path's query: the old key columns, then every visible column's new value.
    let visible: Vec<usize> = def.visible_slots().collect();
    let mut columns: Vec<ArrayRef> = def
        .primary_key
        .iter()
        .map(|slot| old.column(position(&visible, *slot)).clone())
        .collect();
    for (i, value) in assigned.iter().enumerate() {
        let array = match value {
            None => old.column(i).clone(),
            Some(NewValue::Null) => Arc::new(NullArray::new(rows)) as ArrayRef,
            Some(NewValue::Constant(constant)) => constant_array(constant, rows)?,
            Some(NewValue::Column(column)) => old.column(*column).clone(),
            Some(NewValue::Sum { column, addend, ty }) => {
                match sum(old.column(*column), *addend, *ty) {
                    Some(array) => array,
                    None => return Ok(None),
                }
            }
        };
        columns.push(array);
    }
    let fields: Vec<Field> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| Field::new(format!("c{i}"), c.data_type().clone(), true))
        .collect();
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
    let changed = stage_updates(exec, def, &[batch], false).await?;
    on_key_change(exec, def, &changed.vacated_keys).await?;
    Ok(Some(StatementResult::Command(CommandTag::with_rows(
        "UPDATE",
        changed.count,
    ))))
}

/// Runs `delete` if it deletes one row named by its whole primary key; `None` leaves it to the
/// full path.
pub(crate) async fn delete(exec: &Executor, delete: &Delete) -> Result<Option<StatementResult>> {
    let plain = delete.optimizer_hints.is_empty()
        && delete.tables.is_empty()
        && delete.using.is_none()
        && delete.returning.is_none()
        && delete.output.is_none()
        && delete.order_by.is_empty()
        && delete.limit.is_none();
    let (FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from)) = &delete.from;
    let [relation] = from.as_slice() else {
        return Ok(None);
    };
    if !plain {
        return Ok(None);
    }
    let Some(table) = shape::table(exec, relation) else {
        return Ok(None);
    };
    let Some(key) = delete.selection.as_ref().and_then(|s| table.pinned_key(s)) else {
        return Ok(None);
    };
    let def = &table.def;
    let visible: Vec<usize> = def.visible_slots().collect();
    let key_columns: Vec<usize> = def
        .primary_key
        .iter()
        .map(|slot| position(&visible, *slot))
        .collect();
    exec.scope()
        .lock_row(def.id, &key.key, LockMode::Update)
        .await?;
    let keys = read_row(exec, &table, &key, Some(&key_columns))?;
    let count = keys.num_rows() as u64;
    on_delete(exec, def, vec![keys]).await?;
    let mut set = WriteSet::new(def);
    if count > 0 {
        set.delete(key.key);
    }
    set.stage(exec.scope()).await?;
    Ok(Some(StatementResult::Command(CommandTag::with_rows(
        "DELETE", count,
    ))))
}

fn position(visible: &[usize], slot: usize) -> usize {
    visible
        .iter()
        .position(|&v| v == slot)
        .expect("primary-key columns of a keyed table are visible")
}

/// The row the key names as the statement sees it (zero or one row), every visible column or
/// those of `projection`; recorded as read as the full path's scan records it.
fn read_row(
    exec: &Executor,
    table: &Table,
    key: &PinnedKey,
    projection: Option<&[usize]>,
) -> Result<RecordBatch> {
    let def = &table.def;
    let scope = exec.scope();
    let all: Vec<usize> = (0..def.visible_slots().count()).collect();
    let projection = projection.unwrap_or(&all);
    let schema = Arc::new(table_schema(def).project(projection)?);
    let pending = scope.with_transaction(|txn| {
        txn.record_read(def.id, &[key.read_range()]);
        txn.pending_rows(def.id)
    })?;
    read_key(
        &scope.db.engine,
        def,
        &key.key,
        (scope.snapshot(), pending.as_ref()),
        projection,
        schema,
    )
}

/// Each visible column's new value (`None`: unchanged), if every assignment is one the key
/// path computes exactly.
fn assignments(table: &Table, update: &Update) -> Option<Vec<Option<NewValue>>> {
    let def = &table.def;
    let visible: Vec<usize> = def.visible_slots().collect();
    let mut assigned: Vec<Option<NewValue>> = visible.iter().map(|_| None).collect();
    for assignment in &update.assignments {
        let AssignmentTarget::ColumnName(name) = &assignment.target else {
            return None;
        };
        let [part] = name.0.as_slice() else {
            return None;
        };
        let slot = table.slot_named(part.as_ident()?)?;
        let column = &def.columns[slot];
        // DEFAULT, and a column only DEFAULT may set, are the full path's.
        if is_default_keyword(&assignment.value) || column.identity.is_some() {
            return None;
        }
        let target = position(&visible, slot);
        let value = new_value(table, &visible, &assignment.value)?;
        if assigned[target].replace(value).is_some() {
            return None;
        }
    }
    Some(assigned)
}

fn new_value(table: &Table, visible: &[usize], expr: &Expr) -> Option<NewValue> {
    if let Expr::Value(value) = expr
        && value.value == Value::Null
    {
        return Some(NewValue::Null);
    }
    if let Some(slot) = table.column(expr) {
        return Some(NewValue::Column(position(visible, slot)));
    }
    if let Expr::BinaryOp { left, op, right } = expr {
        let negate = match op {
            BinaryOperator::Plus => false,
            BinaryOperator::Minus => true,
            _ => return None,
        };
        // `column ± constant`, or `constant + column`.
        let (column, constant) = match (table.column(left), table.column(right)) {
            (Some(slot), None) => (slot, right.as_ref()),
            (None, Some(slot)) if !negate => (slot, left.as_ref()),
            _ => return None,
        };
        let column_type = table.def.columns[column].ty;
        let (addend, constant_type) = match Constant::of(constant)? {
            Constant::Integer(v) => (v, ColumnType::Int64),
            Constant::Cast(
                value,
                ty @ (ColumnType::Int16 | ColumnType::Int32 | ColumnType::Int64),
            ) => (integer_of(&value)?, ty),
            _ => return None,
        };
        let addend = if negate {
            addend.checked_neg()?
        } else {
            addend
        };
        let ty = wider(column_type, constant_type)?;
        return Some(NewValue::Sum {
            column: position(visible, column),
            addend,
            ty,
        });
    }
    // Values whose Arrow form the key path knows exactly as DataFusion computes it.
    match Constant::of(expr)? {
        Constant::Cast(
            _,
            ColumnType::Date
            | ColumnType::Bool
            | ColumnType::Varchar(Some(_))
            | ColumnType::Char(_),
        ) => None,
        constant => Some(NewValue::Constant(constant)),
    }
}

fn integer_of(value: &ScalarValue) -> Option<i64> {
    match value {
        ScalarValue::Int16(Some(v)) => Some(i64::from(*v)),
        ScalarValue::Int32(Some(v)) => Some(i64::from(*v)),
        ScalarValue::Int64(Some(v)) => Some(*v),
        _ => None,
    }
}

/// The type DataFusion computes the sum of two integer types in; `None` for other types.
fn wider(a: ColumnType, b: ColumnType) -> Option<ColumnType> {
    let rank = |ty| match ty {
        ColumnType::Int16 => Some(0),
        ColumnType::Int32 => Some(1),
        ColumnType::Int64 => Some(2),
        _ => None,
    };
    Some(if rank(a)? >= rank(b)? { a } else { b })
}

fn constant_array(constant: &Constant, rows: usize) -> Result<ArrayRef> {
    Ok(match constant {
        Constant::Integer(v) => Arc::new(Int64Array::from(vec![*v; rows])),
        Constant::Text(text) => Arc::new(StringArray::from(vec![text.as_str(); rows])),
        Constant::Cast(value, _) => value.to_array_of_size(rows)?,
    })
}

/// `column + addend` computed in `ty`, or `None` if a value leaves `ty`'s range (an error the
/// full path reports).
fn sum(column: &ArrayRef, addend: i64, ty: ColumnType) -> Option<ArrayRef> {
    let values: Vec<Option<i64>> = match column.data_type() {
        DataType::Int16 => column
            .as_primitive::<Int16Type>()
            .iter()
            .map(|v| v.map(i64::from))
            .collect(),
        DataType::Int32 => column
            .as_primitive::<Int32Type>()
            .iter()
            .map(|v| v.map(i64::from))
            .collect(),
        DataType::Int64 => column.as_primitive::<Int64Type>().iter().collect(),
        _ => return None,
    };
    let sums: Vec<Option<i64>> = values
        .into_iter()
        .map(|v| match v {
            None => Some(None),
            Some(v) => v.checked_add(addend).map(Some),
        })
        .collect::<Option<_>>()?;
    Some(match ty {
        ColumnType::Int16 => Arc::new(
            sums.into_iter()
                .map(|v| v.map(i16::try_from).transpose().ok())
                .collect::<Option<Int16Array>>()?,
        ),
        ColumnType::Int32 => Arc::new(
            sums.into_iter()
                .map(|v| v.map(i32::try_from).transpose().ok())
                .collect::<Option<Int32Array>>()?,
        ),
        _ => Arc::new(Int64Array::from(sums)),
    })
}
