//! Primary-key predicates pushed into the storage scan.
//!
//! From the filters DataFusion offers a table scan, this derives the primary-key ranges that hold
//! every row that can match: `pk = c`, `pk IN (c, …)` and comparisons with constants on the
//! leading primary-key column. The filters stay in the plan (pushdown is *inexact*), so a range
//! only has to be a superset of the matching rows; anything not understood means a full scan.

use datafusion::common::ScalarValue;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator};
use driftdb_engine::keys::KeyEncoder;
use driftdb_engine::{ColumnType, KeyRange, TableDef};
use std::ops::Bound;

/// The key ranges to read, in key order, or `None` for the whole table.
pub(crate) fn key_ranges(def: &TableDef, filters: &[Expr]) -> Option<Vec<KeyRange>> {
    let slot = *def.primary_key.first()?;
    let column = &def.columns[slot];
    let mut lower: Bound<Vec<u8>> = Bound::Unbounded;
    let mut upper: Bound<Vec<u8>> = Bound::Unbounded;
    let mut points: Option<Vec<Vec<u8>>> = None;
    for filter in filters {
        match constraint(filter, &column.name, column.ty) {
            Some(Constraint::Points(mut keys)) => {
                keys.sort();
                keys.dedup();
                points = Some(match points {
                    None => keys,
                    Some(existing) => existing.into_iter().filter(|k| keys.contains(k)).collect(),
                });
            }
            Some(Constraint::Lower(bound)) => lower = tighter_lower(lower, bound),
            Some(Constraint::Upper(bound)) => upper = tighter_upper(upper, bound),
            None => {}
        }
    }
    if let Some(points) = points {
        return Some(points.into_iter().map(KeyRange::prefix).collect());
    }
    if matches!((&lower, &upper), (Bound::Unbounded, Bound::Unbounded)) {
        return None;
    }
    Some(vec![KeyRange { lower, upper }])
}

enum Constraint {
    Points(Vec<Vec<u8>>),
    Lower(Bound<Vec<u8>>),
    Upper(Bound<Vec<u8>>),
}

fn constraint(filter: &Expr, column: &str, ty: ColumnType) -> Option<Constraint> {
    let is_column = |e: &Expr| matches!(e, Expr::Column(c) if c.name == column);
    match filter {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            let (op, value) = if is_column(left) {
                (*op, literal(right)?)
            } else if is_column(right) {
                (op.swap()?, literal(left)?)
            } else {
                return None;
            };
            let key = encode(value, ty)?;
            Some(match op {
                Operator::Eq => Constraint::Points(vec![key]),
                Operator::Gt => Constraint::Lower(Bound::Excluded(key)),
                Operator::GtEq => Constraint::Lower(Bound::Included(key)),
                Operator::Lt => Constraint::Upper(Bound::Excluded(key)),
                Operator::LtEq => Constraint::Upper(Bound::Included(key)),
                _ => return None,
            })
        }
        Expr::InList(list) if !list.negated && is_column(&list.expr) => {
            let keys = list
                .list
                .iter()
                .map(|e| literal(e).and_then(|v| encode(v, ty)))
                .collect::<Option<Vec<_>>>()?;
            Some(Constraint::Points(keys))
        }
        _ => None,
    }
}

fn literal(expr: &Expr) -> Option<&ScalarValue> {
    match expr {
        Expr::Literal(value, _) if !value.is_null() => Some(value),
        _ => None,
    }
}

/// Encodes a constant as a key of the column's type; `None` if it is not exactly one (the filter
/// then simply is not pushed).
fn encode(value: &ScalarValue, ty: ColumnType) -> Option<Vec<u8>> {
    let integer = match value {
        ScalarValue::Int8(v) => v.map(i64::from),
        ScalarValue::Int16(v) => v.map(i64::from),
        ScalarValue::Int32(v) => v.map(i64::from),
        ScalarValue::Int64(v) => *v,
        _ => None,
    };
    let mut key = KeyEncoder::new();
    match (ty, value) {
        (ColumnType::Int32, _) => key.push_i32(i32::try_from(integer?).ok()?),
        (ColumnType::Int64, _) => key.push_i64(integer?),
        (ColumnType::Float64, ScalarValue::Float64(Some(v))) if !v.is_nan() => key.push_f64(*v),
        (ColumnType::Bool, ScalarValue::Boolean(Some(v))) => key.push_bool(*v),
        (
            ColumnType::Text,
            ScalarValue::Utf8(Some(v))
            | ScalarValue::Utf8View(Some(v))
            | ScalarValue::LargeUtf8(Some(v)),
        ) => key.push_text(v),
        _ => return None,
    }
    Some(key.as_bytes().to_vec())
}

fn key_of(bound: &Bound<Vec<u8>>) -> Option<&Vec<u8>> {
    match bound {
        Bound::Included(k) | Bound::Excluded(k) => Some(k),
        Bound::Unbounded => None,
    }
}

/// The more restrictive of two lower bounds.
fn tighter_lower(a: Bound<Vec<u8>>, b: Bound<Vec<u8>>) -> Bound<Vec<u8>> {
    match (key_of(&a), key_of(&b)) {
        (None, _) => b,
        (_, None) => a,
        (Some(x), Some(y)) if x != y => {
            if x > y {
                a
            } else {
                b
            }
        }
        _ => match a {
            Bound::Excluded(_) => a,
            _ => b,
        },
    }
}

/// The more restrictive of two upper bounds.
fn tighter_upper(a: Bound<Vec<u8>>, b: Bound<Vec<u8>>) -> Bound<Vec<u8>> {
    match (key_of(&a), key_of(&b)) {
        (None, _) => b,
        (_, None) => a,
        (Some(x), Some(y)) if x != y => {
            if x < y {
                a
            } else {
                b
            }
        }
        _ => match a {
            Bound::Excluded(_) => a,
            _ => b,
        },
    }
}
