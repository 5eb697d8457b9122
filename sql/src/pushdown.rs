//! Primary-key predicates pushed into the storage scan.
//!
//! From the filters DataFusion offers a table scan, this derives the primary-key ranges that hold
//! every row that can match: `pk = c`, `pk IN (c, …)` and comparisons with constants on the
//! leading primary-key column. The filters stay in the plan (pushdown is *inexact*), so a range
//! only has to be a superset of the matching rows; anything not understood means a full scan.

use crate::types::arrow_type;
use crate::write::typed_value;
use datafusion::arrow::compute::CastOptions;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator};
use driftdb_engine::keys::KeyEncoder;
use driftdb_engine::{ColumnType, KeyRange, TableDef, ValueRef};
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
/// then simply is not pushed). Exactly: the constant survives a round trip through the column's
/// type unchanged.
fn encode(value: &ScalarValue, ty: ColumnType) -> Option<Vec<u8>> {
    let target = arrow_type(ty);
    let cast = if value.data_type() == target {
        value.clone()
    } else {
        let options = CastOptions {
            safe: false,
            ..Default::default()
        };
        let cast = value.cast_to_with_options(&target, &options).ok()?;
        if cast.cast_to(&value.data_type()).ok()? != *value {
            return None;
        }
        cast
    };
    let array = cast.to_array().ok()?;
    let mut key = KeyEncoder::new();
    match typed_value(&array, 0) {
        ValueRef::Null => return None,
        ValueRef::Float64(v) if v.is_nan() => return None,
        ValueRef::Float32(v) if v.is_nan() => return None,
        value => key.push_value(value),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn key(push: impl FnOnce(&mut KeyEncoder)) -> Option<Vec<u8>> {
        let mut key = KeyEncoder::new();
        push(&mut key);
        Some(key.as_bytes().to_vec())
    }

    #[test]
    fn constants_become_keys_only_when_exact_in_the_column_type() {
        let numeric = ColumnType::Numeric {
            precision: 6,
            scale: 3,
        };
        assert_eq!(
            encode(&ScalarValue::Int64(Some(1)), numeric),
            key(|k| k.push_i128(1000))
        );
        assert_eq!(
            encode(&ScalarValue::Decimal128(Some(2345), 4, 3), numeric),
            key(|k| k.push_i128(2345))
        );
        assert_eq!(
            encode(&ScalarValue::Decimal128(Some(23456), 5, 4), numeric),
            None
        );
        assert_eq!(
            encode(&ScalarValue::Float64(Some(1.5)), ColumnType::Int32),
            None
        );
        assert_eq!(
            encode(&ScalarValue::Int64(Some(70_000)), ColumnType::Int16),
            None
        );
        assert_eq!(
            encode(&ScalarValue::Int64(Some(-2)), ColumnType::Int16),
            key(|k| k.push_i16(-2))
        );
        assert_eq!(
            encode(&ScalarValue::Date32(Some(19_782)), ColumnType::Date),
            key(|k| k.push_i32(19_782))
        );
        assert_eq!(
            encode(&ScalarValue::Float64(Some(f64::NAN)), ColumnType::Float64),
            None
        );
    }
}
