//! Which statements the key path takes: one plain table (no view, no past point, no catalog
//! table, a real primary key), columns named plainly, and a WHERE that is an AND of equalities
//! pinning every primary-key column once to a constant that is exactly a value of the column's
//! type. Anything else — and any constant whose meaning depends on more than its text — is left
//! to the full path, which then gives the answer or the error.

use crate::common::names::table_name;
use crate::exec::Executor;
use crate::storage::pushdown;
use datafusion::arrow::compute::CastOptions;
use datafusion::common::ScalarValue;
use datafusion::sql::sqlparser::ast::{
    BinaryOperator, CastKind, Expr, Ident, TableFactor, TableWithJoins, UnaryOperator, Value,
};
use driftdb_engine::{ColumnType, IndexDef, KeyRange, TableDef};
use driftdb_pgtypes::idents::normalize;
use driftdb_pgtypes::types::{arrow_type, column_type};
use std::sync::Arc;

/// The table a statement reads or writes, and the name its columns may be qualified with.
pub(crate) struct Table {
    pub(crate) def: Arc<TableDef>,
    qualifier: String,
    /// Whether `qualifier.*` works: the full path refuses it after a schema-qualified name
    /// without an alias (`SELECT t.* FROM public.t`, which PostgreSQL takes).
    wildcard_qualifies: bool,
}

/// The plain table `relation` names, if the key path can read it.
pub(crate) fn table(exec: &Executor, relation: &TableWithJoins) -> Option<Table> {
    if !relation.joins.is_empty() {
        return None;
    }
    let TableFactor::Table {
        name,
        alias,
        args: None,
        with_hints,
        version: None,
        with_ordinality: false,
        partitions,
        json_path: None,
        sample: None,
        index_hints,
    } = &relation.relation
    else {
        return None;
    };
    if !with_hints.is_empty() || !partitions.is_empty() || !index_hints.is_empty() {
        return None;
    }
    let scope = exec.scope();
    let def = scope.resolve_current(&table_name(name).ok()?)?;
    let keyed = !def.primary_key.is_empty()
        && def
            .primary_key
            .iter()
            .all(|&slot| !def.columns[slot].hidden);
    if def.view.is_some() || !keyed || scope.exposes_hidden(def.id) {
        return None;
    }
    let qualifier = match alias {
        Some(alias) if !alias.columns.is_empty() => return None,
        Some(alias) => normalize(&alias.name),
        None => normalize(name.0.last()?.as_ident()?),
    };
    Some(Table {
        def,
        qualifier,
        wildcard_qualifies: alias.is_some() || name.0.len() == 1,
    })
}

impl Table {
    /// The storage slot of the visible column `expr` names (`c` or `qualifier.c`).
    pub(crate) fn column(&self, expr: &Expr) -> Option<usize> {
        let ident = match expr {
            Expr::Identifier(ident) => ident,
            Expr::CompoundIdentifier(parts) => match parts.as_slice() {
                [qualifier, ident] if normalize(qualifier) == self.qualifier => ident,
                _ => return None,
            },
            Expr::Nested(inner) => return self.column(inner),
            _ => return None,
        };
        self.slot_named(ident)
    }

    /// The storage slot of the visible column called `ident`.
    pub(crate) fn slot_named(&self, ident: &Ident) -> Option<usize> {
        let name = normalize(ident);
        self.def
            .visible_slots()
            .find(|&slot| self.def.columns[slot].name == name)
    }

    /// Whether `name.*` stands for this table's columns.
    pub(crate) fn is_wildcard_qualifier(&self, name: &[Ident]) -> bool {
        self.wildcard_qualifies && matches!(name, [single] if normalize(single) == self.qualifier)
    }

    /// The primary key `selection` pins, if it is an AND of `column = constant` that names each
    /// primary-key column exactly once and nothing else.
    pub(crate) fn pinned_key(&self, selection: &Expr) -> Option<PinnedKey> {
        let def = &self.def;
        let mut pinned: Vec<Option<Vec<u8>>> = vec![None; def.primary_key.len()];
        for (slot, value) in self.equalities(selection)? {
            let position = def.primary_key.iter().position(|&key| key == slot)?;
            pinned[position] = Some(key_value(value, def.columns[slot].ty)?);
        }
        let parts: Vec<Vec<u8>> = pinned.into_iter().collect::<Option<_>>()?;
        let leading = parts[0].len();
        Some(PinnedKey {
            key: parts.concat(),
            leading,
        })
    }

    /// The index entries `selection` pins, if it is an AND of `column = constant` that names
    /// each of the leading columns of an index exactly once and nothing else, and the full
    /// path's scan would read through that index too: no condition on the primary key's
    /// leading column (the scan would read that key range instead), and no earlier index whose
    /// leading column is pinned (the scan takes the first). Rows then come in the same order.
    pub(crate) fn pinned_index(&self, selection: &Expr) -> Option<PinnedIndex> {
        let def = &self.def;
        let equalities = self.equalities(selection)?;
        let pinned = |slot: usize| equalities.iter().any(|&(pinned, _)| pinned == slot);
        if pinned(def.primary_key[0]) {
            return None;
        }
        let index = def.indexes.iter().find(|index| pinned(index.columns[0]))?;
        let leading = index.columns.get(..equalities.len())?;
        let mut prefix = Vec::new();
        let mut columns = Vec::with_capacity(leading.len());
        for &slot in leading {
            let (_, value) = equalities.iter().find(|&&(pinned, _)| pinned == slot)?;
            let value = key_value(value, def.columns[slot].ty)?;
            prefix.push(pushdown::PRESENT);
            prefix.extend_from_slice(&value);
            columns.push(slot);
        }
        Some(PinnedIndex {
            index: index.clone(),
            columns,
            prefix,
        })
    }

    /// The `(column slot, value)` of each `column = value` in `selection`, if it is an AND of
    /// such equalities naming each column once.
    fn equalities<'e>(&self, selection: &'e Expr) -> Option<Vec<(usize, &'e Expr)>> {
        let mut equalities: Vec<(usize, &Expr)> = Vec::new();
        let mut conjuncts = vec![selection];
        while let Some(conjunct) = conjuncts.pop() {
            let (left, right) = match conjunct {
                Expr::Nested(inner) => {
                    conjuncts.push(inner);
                    continue;
                }
                Expr::BinaryOp {
                    left,
                    op: BinaryOperator::And,
                    right,
                } => {
                    conjuncts.push(left);
                    conjuncts.push(right);
                    continue;
                }
                Expr::BinaryOp {
                    left,
                    op: BinaryOperator::Eq,
                    right,
                } => (left.as_ref(), right.as_ref()),
                _ => return None,
            };
            let (slot, value) = match (self.column(left), self.column(right)) {
                (Some(slot), None) => (slot, right),
                (None, Some(slot)) => (slot, left),
                _ => return None,
            };
            if equalities.iter().any(|&(pinned, _)| pinned == slot) {
                return None;
            }
            equalities.push((slot, value));
        }
        Some(equalities)
    }
}

/// The entries of a secondary index whose leading values a statement pins.
pub(crate) struct PinnedIndex {
    pub(crate) index: IndexDef,
    /// The slots of the pinned columns, in the index's order.
    pub(crate) columns: Vec<usize>,
    /// Their values as the index encodes them (a presence byte ahead of each).
    pub(crate) prefix: Vec<u8>,
}

/// An encoded primary key a statement pins.
pub(crate) struct PinnedKey {
    pub(crate) key: Vec<u8>,
    /// The length of the leading column's encoding.
    leading: usize,
}

impl PinnedKey {
    /// The key range the full path's scan reads for the same condition (its pushdown narrows by
    /// the leading key column only), which SERIALIZABLE records as read: the key path certifies
    /// exactly what the full path would.
    pub(crate) fn read_range(&self) -> KeyRange {
        KeyRange::prefix(self.key[..self.leading].to_vec())
    }
}

/// The key types whose constants compare by their value alone: no padding (`char(n)`), no
/// canonical forms (`uuid`, `json`), no time zones.
fn keyable(ty: ColumnType) -> bool {
    matches!(
        ty,
        ColumnType::Int16
            | ColumnType::Int32
            | ColumnType::Int64
            | ColumnType::Numeric { .. }
            | ColumnType::UnconstrainedNumeric
            | ColumnType::Text
            | ColumnType::Varchar(_)
            | ColumnType::Date
            | ColumnType::Bool
    )
}

/// Whether `ty` is one of the integer types.
pub(crate) fn integer(ty: ColumnType) -> bool {
    matches!(
        ty,
        ColumnType::Int16 | ColumnType::Int32 | ColumnType::Int64
    )
}

/// A constant as the planner types it: a literal, a negated number, or a cast of one (the form a
/// bound parameter takes), with the type it was cast to.
pub(crate) enum Constant {
    /// An integer literal (`bigint`).
    Integer(i64),
    /// A string literal (of unknown type until compared).
    Text(String),
    /// `CAST(constant AS type)`, already cast.
    Cast(ScalarValue, ColumnType),
}

impl Constant {
    /// Reads `expr` as a constant; `None` for anything else (NULL included).
    pub(crate) fn of(expr: &Expr) -> Option<Constant> {
        match expr {
            Expr::Nested(inner) => Constant::of(inner),
            Expr::Value(value) => match &value.value {
                Value::Number(digits, false) => digits.parse().ok().map(Constant::Integer),
                Value::SingleQuotedString(text) => Some(Constant::Text(text.clone())),
                _ => None,
            },
            Expr::UnaryOp {
                op: UnaryOperator::Minus,
                expr,
            } => match expr.as_ref() {
                Expr::Value(value) => match &value.value {
                    Value::Number(digits, false) => {
                        format!("-{digits}").parse().ok().map(Constant::Integer)
                    }
                    _ => None,
                },
                _ => None,
            },
            Expr::Cast {
                kind: CastKind::Cast | CastKind::DoubleColon,
                expr,
                data_type,
                array: false,
                format: None,
            } => {
                // A cast to `varchar(n)` cuts its text, which the key would not.
                let ty = column_type(data_type)
                    .ok()
                    .filter(|ty| keyable(*ty) && !matches!(ty, ColumnType::Varchar(Some(_))))?;
                let value = match Constant::of(expr)? {
                    Constant::Integer(v) => ScalarValue::Int64(Some(v)),
                    Constant::Text(text) => ScalarValue::Utf8(Some(text)),
                    Constant::Cast(..) => return None,
                };
                let options = CastOptions {
                    safe: false,
                    ..Default::default()
                };
                // A cast that fails is an error the full path reports in its own words.
                let cast = value.cast_to_with_options(&arrow_type(ty), &options).ok()?;
                Some(Constant::Cast(cast, ty))
            }
            _ => None,
        }
    }

    /// The constant as a value of a column of type `ty`, if it is exactly one and compares as
    /// one (`NULL` never does).
    pub(crate) fn as_value_of(&self, ty: ColumnType) -> Option<ScalarValue> {
        if !keyable(ty) {
            return None;
        }
        let value = match self {
            Constant::Integer(v) if integer(ty) || is_numeric(ty) => ScalarValue::Int64(Some(*v)),
            Constant::Text(text) => ScalarValue::Utf8(Some(text.clone())),
            Constant::Cast(value, cast_to)
                if *cast_to == ty || (integer(*cast_to) && integer(ty)) =>
            {
                value.clone()
            }
            _ => return None,
        };
        Some(value)
    }
}

/// Whether `ty` is `numeric`, with or without a precision.
pub(crate) fn is_numeric(ty: ColumnType) -> bool {
    matches!(
        ty,
        ColumnType::Numeric { .. } | ColumnType::UnconstrainedNumeric
    )
}

/// `expr` encoded as a key of a column of type `ty`, if it is a constant that is exactly a
/// value of that type.
fn key_value(expr: &Expr, ty: ColumnType) -> Option<Vec<u8>> {
    let value = Constant::of(expr)?.as_value_of(ty)?;
    pushdown::encode(&value, ty)
}
