//! Primary-key predicates pushed into the storage scan.
//!
//! From the filters DataFusion offers a table scan, this derives the primary-key ranges that hold
//! every row that can match: `pk = c`, `pk IN (c, …)`, `pk = c OR pk = d` and comparisons with
//! constants on the leading primary-key column, or failing those on the leading column of a
//! secondary index.
//! Anything not understood means a full scan, and a range only has to be a superset of the
//! matching rows, since the filters stay in the plan — except those [`exact`] vouches for: on a
//! one-column primary key of a type whose keys compare as its values, the ranges hold exactly the
//! matching rows, so DataFusion drops the filter (no FilterExec for a point or a key range).

use crate::storage::encode::typed_value;
use datafusion::arrow::compute::CastOptions;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator};
use driftdb_engine::keys::KeyEncoder;
use driftdb_engine::{ColumnType, IndexDef, KeyRange, TableDef, ValueRef};
use driftdb_pgtypes::types::arrow_type;
use std::ops::Bound;

/// The key ranges to read, in key order, or `None` for the whole table.
pub(crate) fn key_ranges(def: &TableDef, filters: &[Expr]) -> Option<Vec<KeyRange>> {
    let slot = *def.primary_key.first()?;
    column_ranges(def, slot, filters, &[])
}

/// Where a scan's rows come from when no primary-key range narrows it: the first index whose
/// leading column the filters pin to values (else one they bound), with the ranges of indexed
/// values to read.
pub(crate) fn index_ranges(def: &TableDef, filters: &[Expr]) -> Option<(IndexDef, Vec<KeyRange>)> {
    let mut bounded = None;
    for index in &def.indexes {
        // Indexed values carry a presence byte ahead of each value (`index::push_value`).
        let Some(ranges) = column_ranges(def, index.columns[0], filters, &[PRESENT]) else {
            continue;
        };
        let points = ranges.iter().all(|r| r.lower == r.upper);
        if points {
            return Some((index.clone(), ranges));
        }
        bounded.get_or_insert((index.clone(), ranges));
    }
    bounded
}

/// Whether the scan of a table's current or past state answers `filter` exactly: it bounds a
/// one-column primary key by constants that are exactly keys, of a type whose keys order and
/// compare as its values do.
pub(crate) fn exact(def: &TableDef, filter: &Expr) -> bool {
    let [slot] = def.primary_key.as_slice() else {
        return false;
    };
    let column = &def.columns[*slot];
    let orders_as_values = matches!(
        column.ty,
        ColumnType::Int16
            | ColumnType::Int32
            | ColumnType::Int64
            | ColumnType::Text
            | ColumnType::Varchar(_)
            | ColumnType::Date
    );
    !column.hidden && orders_as_values && constraint(filter, &column.name, column.ty).is_some()
}

/// The presence byte of a non-NULL indexed value.
pub(crate) const PRESENT: u8 = 0x01;

/// The ranges of `slot`'s encoded values (after `prefix`) that the filters allow, or `None` if
/// they do not constrain it.
fn column_ranges(
    def: &TableDef,
    slot: usize,
    filters: &[Expr],
    prefix: &[u8],
) -> Option<Vec<KeyRange>> {
    let column = &def.columns[slot];
    let prefixed = |key: Vec<u8>| [prefix, &key].concat();
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
        // Bounds beside points (`id = 5 AND id > 7`) leave only the points within them.
        let within = |key: &Vec<u8>| {
            let above = match &lower {
                Bound::Included(bound) => key >= bound,
                Bound::Excluded(bound) => key > bound,
                Bound::Unbounded => true,
            };
            let below = match &upper {
                Bound::Included(bound) => key <= bound,
                Bound::Excluded(bound) => key < bound,
                Bound::Unbounded => true,
            };
            above && below
        };
        return Some(
            points
                .into_iter()
                .filter(within)
                .map(|key| KeyRange::prefix(prefixed(key)))
                .collect(),
        );
    }
    if matches!((&lower, &upper), (Bound::Unbounded, Bound::Unbounded)) {
        return None;
    }
    let (lower, upper) = (lower.map(prefixed), upper.map(prefixed));
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
        // `c = 1 OR c = 2` (what a short IN list becomes) is the points of both sides.
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Or,
            right,
        }) => match (
            constraint(left, column, ty)?,
            constraint(right, column, ty)?,
        ) {
            (Constraint::Points(mut a), Constraint::Points(b)) => {
                a.extend(b);
                Some(Constraint::Points(a))
            }
            _ => None,
        },
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
pub(crate) fn encode(value: &ScalarValue, ty: ColumnType) -> Option<Vec<u8>> {
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
    fn an_index_serves_when_no_primary_key_range_does_and_points_win_over_ranges() {
        use datafusion::logical_expr::{col, lit};
        use driftdb_engine::{ColumnDef, IndexId, TableId};
        let index = |id: u64, slot: usize| IndexDef {
            id: IndexId(id),
            name: format!("i{id}"),
            columns: vec![slot],
            unique: false,
            constraint: false,
        };
        let def = TableDef {
            id: TableId(1),
            name: "t".into(),
            columns: vec![
                ColumnDef::new("id", ColumnType::Int32),
                ColumnDef::new("a", ColumnType::Int32),
                ColumnDef::new("b", ColumnType::Text),
            ],
            primary_key: vec![0],
            indexes: vec![index(7, 1), index(8, 2)],
            checks: Vec::new(),
            foreign_keys: Vec::new(),
            view: None,
        };
        let present = |push: &dyn Fn(&mut KeyEncoder)| {
            let mut key = KeyEncoder::new();
            key.push_present();
            push(&mut key);
            key.as_bytes().to_vec()
        };
        let filters = [col("a").gt(lit(3)), col("b").eq(lit("x"))];
        assert_eq!(key_ranges(&def, &filters), None);
        let (chosen, ranges) = index_ranges(&def, &filters).unwrap();
        assert_eq!(chosen.id, IndexId(8));
        assert_eq!(ranges, [KeyRange::prefix(present(&|k| k.push_text("x")))]);
        let (chosen, ranges) = index_ranges(&def, &filters[..1]).unwrap();
        assert_eq!(chosen.id, IndexId(7));
        assert_eq!(
            ranges,
            [KeyRange {
                lower: Bound::Excluded(present(&|k| k.push_i32(3))),
                upper: Bound::Unbounded,
            }]
        );
        assert!(index_ranges(&def, &[col("id").eq(lit(1))]).is_none());
    }

    #[test]
    fn a_one_column_key_answers_its_bounds_exactly_and_points_keep_within_bounds() {
        use datafusion::logical_expr::{col, lit};
        use driftdb_engine::{ColumnDef, TableId};
        let table = |columns: Vec<ColumnDef>, primary_key: Vec<usize>| TableDef {
            id: TableId(1),
            name: "t".into(),
            columns,
            primary_key,
            indexes: Vec::new(),
            checks: Vec::new(),
            foreign_keys: Vec::new(),
            view: None,
        };
        let def = table(
            vec![
                ColumnDef::new("id", ColumnType::Int32),
                ColumnDef::new("v", ColumnType::Int32),
            ],
            vec![0],
        );
        assert!(exact(&def, &col("id").eq(lit(5))));
        assert!(exact(&def, &col("id").gt_eq(lit(5))));
        assert!(exact(&def, &col("id").in_list(vec![lit(1), lit(2)], false)));
        assert!(!exact(&def, &col("id").eq(lit(1.5))));
        assert!(exact(&def, &col("id").eq(lit(1)).or(col("id").eq(lit(2)))));
        assert!(!exact(&def, &col("id").eq(lit(1)).or(col("v").eq(lit(2)))));
        assert!(!exact(&def, &col("id").eq(lit(1)).or(col("id").gt(lit(2)))));
        assert!(!exact(&def, &col("id").not_eq(lit(5))));
        assert!(!exact(&def, &col("v").eq(lit(5))));
        let composite = table(
            vec![
                ColumnDef::new("a", ColumnType::Int32),
                ColumnDef::new("b", ColumnType::Int32),
            ],
            vec![0, 1],
        );
        assert!(!exact(&composite, &col("a").eq(lit(5))));
        let float = table(vec![ColumnDef::new("f", ColumnType::Float64)], vec![0]);
        assert!(!exact(&float, &col("f").eq(lit(1.0))));
        let filters = [
            col("id").in_list(vec![lit(3), lit(5), lit(9)], false),
            col("id").gt(lit(3)),
            col("id").lt_eq(lit(9)),
        ];
        let five_and_nine = vec![
            KeyRange::prefix(key(|k| k.push_i32(5)).unwrap()),
            KeyRange::prefix(key(|k| k.push_i32(9)).unwrap()),
        ];
        assert_eq!(key_ranges(&def, &filters), Some(five_and_nine));
        let none: Vec<KeyRange> = Vec::new();
        assert_eq!(
            key_ranges(&def, &[col("id").eq(lit(5)), col("id").gt(lit(7))]),
            Some(none)
        );
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
