//! `INSERT INTO t [(columns)] VALUES (…), …` of constants and bound parameters: the rows become
//! Arrow columns here and go through the full path's own checks, encoding and staging
//! ([`Inserts`]), so only the reading of the constants is the key path's.
//!
//! Each column's constants must be of one kind (integers, strings, booleans, or casts to one
//! type) and become the array DataFusion's VALUES would hand the sink; a value that does not
//! convert to its column's type is left to the full path to report. A column left out (or
//! `DEFAULT`) takes NULL, a constant default, or its identity counter's next values; any other
//! default (`now()`, an expression) is the full path's.

use crate::common::parse::stored_expression;
use crate::common::parse::{is_default_keyword, plain_query};
use crate::exec::Executor;
use crate::exec::results::{CommandTag, StatementResult};
use crate::keypath::shape::{Constant, integer, is_numeric};
use crate::storage::encode::coerce;
use crate::storage::write::{Inserts, counter_values};
use datafusion::arrow::array::{ArrayRef, NullArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::error::Result as DfResult;
use datafusion::sql::sqlparser::ast::{
    CastKind, Expr, Insert, ObjectNamePart, SetExpr, TableObject, Value,
};
use driftdb_engine::{ColumnDef, ColumnType, TableDef};
use driftdb_pgtypes::error::Result;
use driftdb_pgtypes::idents::normalize;
use driftdb_pgtypes::types::arrow_type;
use std::sync::Arc;

/// One value of a VALUES row as the key path reads it.
enum Cell {
    Null,
    /// NULL cast to a type (the form a NULL parameter takes).
    TypedNull(ColumnType),
    Integer(i64),
    Text(String),
    Bool(bool),
    /// A cast constant, already cast to its type.
    Cast(ScalarValue, ColumnType),
}

/// What fills one visible column.
enum Source {
    /// One cell per row.
    Given(Vec<Cell>),
    /// The column's default in every row: a constant (or NULL) repeated.
    Default(Cell),
    /// The column's identity counter, one new value per row.
    Identity,
}

/// Runs `insert` if it adds rows of constants the key path reads exactly; `None` leaves it to
/// the full path.
pub(crate) async fn insert(exec: &Executor, insert: &Insert) -> Result<Option<StatementResult>> {
    let Some(def) = target(exec, insert) else {
        return Ok(None);
    };
    let Some(rows) = values_rows(insert) else {
        return Ok(None);
    };
    let Some(sources) = sources(&def, insert, rows) else {
        return Ok(None);
    };
    let count = rows.len();
    // Every given column is converted before any identity counter moves: a value the key path
    // cannot convert goes to the full path, which must find the counters untouched.
    let visible: Vec<usize> = def.visible_slots().collect();
    let mut columns: Vec<Option<ArrayRef>> = Vec::with_capacity(visible.len());
    for (source, &slot) in sources.iter().zip(&visible) {
        let column = &def.columns[slot];
        columns.push(match source {
            Source::Given(cells) => match array_of(cells, column)? {
                Some(array) => Some(array),
                None => return Ok(None),
            },
            Source::Default(cell) => match array_of(std::slice::from_ref(cell), column)? {
                Some(one) => Some(repeat(&one, count)?),
                None => return Ok(None),
            },
            Source::Identity => None,
        });
    }
    let scope = exec.scope();
    let mut coerced = Vec::with_capacity(columns.len());
    for (array, &slot) in columns.into_iter().zip(&visible) {
        let array = match array {
            Some(array) => array,
            None => coerce(
                &counter_values(scope, &def, slot, count)?,
                def.columns[slot].ty,
            )?,
        };
        coerced.push(array);
    }
    let mut inserts = Inserts::new(&def);
    inserts.add(scope, &coerced)?;
    inserts.stage(scope).await?;
    Ok(Some(StatementResult::Command(CommandTag::with_rows(
        "INSERT",
        count as u64,
    ))))
}

/// The plain table `insert` writes to, if the statement has no clause beyond a column list and
/// its VALUES.
fn target(exec: &Executor, insert: &Insert) -> Option<Arc<TableDef>> {
    let plain = insert.optimizer_hints.is_empty()
        && insert.or.is_none()
        && !insert.ignore
        && insert.table_alias.is_none()
        && !insert.overwrite
        && insert.assignments.is_empty()
        && insert.partitioned.is_none()
        && insert.after_columns.is_empty()
        && !insert.has_table_keyword
        && insert.on.is_none()
        && insert.returning.is_none()
        && insert.output.is_none()
        && !insert.replace_into
        && insert.priority.is_none()
        && insert.insert_alias.is_none()
        && insert.settings.is_none()
        && insert.format_clause.is_none()
        && insert.multi_table_insert_type.is_none()
        && insert.multi_table_into_clauses.is_empty()
        && insert.multi_table_when_clauses.is_empty()
        && insert.multi_table_else_clause.is_none();
    if !plain {
        return None;
    }
    let TableObject::TableName(name) = &insert.table else {
        return None;
    };
    let scope = exec.scope();
    let def = scope.resolve_current(&crate::common::names::table_name(name).ok()?)?;
    if def.view.is_some() || scope.exposes_hidden(def.id) {
        return None;
    }
    Some(def)
}

/// The rows of a plain top-level `VALUES` source, all of one length.
fn values_rows(insert: &Insert) -> Option<&[datafusion::sql::sqlparser::ast::Parens<Vec<Expr>>]> {
    let query = insert.source.as_deref()?;
    let plain = plain_query(query);
    let SetExpr::Values(values) = query.body.as_ref() else {
        return None;
    };
    if !plain || values.explicit_row || values.value_keyword {
        return None;
    }
    let first = values.rows.first()?;
    let width = first.content.len();
    (width > 0 && values.rows.iter().all(|row| row.content.len() == width))
        .then_some(values.rows.as_slice())
}

/// What fills each visible column of `def`, if the key path reads every value exactly.
fn sources(
    def: &TableDef,
    insert: &Insert,
    rows: &[datafusion::sql::sqlparser::ast::Parens<Vec<Expr>>],
) -> Option<Vec<Source>> {
    let visible: Vec<usize> = def.visible_slots().collect();
    let width = rows[0].content.len();
    // The position among the visible columns that each VALUES column fills.
    let targets: Vec<usize> = if insert.columns.is_empty() {
        // Rows shorter than the table fill its first columns.
        if width > visible.len() {
            return None;
        }
        (0..width).collect()
    } else {
        let mut targets = Vec::with_capacity(insert.columns.len());
        for name in &insert.columns {
            let [ObjectNamePart::Identifier(ident)] = name.0.as_slice() else {
                return None;
            };
            let name = normalize(ident);
            let position = visible
                .iter()
                .position(|&slot| def.columns[slot].name == name)?;
            if targets.contains(&position) {
                return None;
            }
            targets.push(position);
        }
        if targets.len() != width {
            return None;
        }
        targets
    };
    let mut sources: Vec<Option<Source>> = visible.iter().map(|_| None).collect();
    for (i, &position) in targets.iter().enumerate() {
        let column = &def.columns[visible[position]];
        let mut cells = Vec::with_capacity(rows.len());
        let mut defaults = 0;
        for row in rows {
            let expr = &row.content[i];
            if is_default_keyword(expr) {
                defaults += 1;
                // An identity column's DEFAULT is its counter's ([`Source::Identity`]).
                cells.push(match column.identity {
                    Some(_) => Cell::Null,
                    None => default_cell(column)?,
                });
            } else if column.identity.as_ref().is_some_and(|i| i.always) {
                // Refused by the full path (428C9).
                return None;
            } else {
                cells.push(cell(expr)?);
            }
        }
        sources[position] = Some(match (column.identity.is_some(), defaults) {
            (true, 0) => Source::Given(cells),
            // Every row takes the counter's next value, as when the column is left out.
            (true, n) if n == rows.len() => Source::Identity,
            (true, _) => return None,
            (false, _) => Source::Given(cells),
        });
    }
    sources
        .into_iter()
        .zip(&visible)
        .map(|(source, &slot)| match source {
            Some(source) => Some(source),
            None => {
                let column = &def.columns[slot];
                if column.identity.is_some() {
                    Some(Source::Identity)
                } else {
                    default_cell(column).map(Source::Default)
                }
            }
        })
        .collect()
}

/// The cell the default of a column without identity stands for, if it is NULL or a constant.
fn default_cell(column: &ColumnDef) -> Option<Cell> {
    match &column.default {
        None => Some(Cell::Null),
        Some(sql) => cell(&stored_expression(sql).ok()?),
    }
}

/// Reads `expr` as a cell; `None` for anything but a constant.
fn cell(expr: &Expr) -> Option<Cell> {
    match expr {
        Expr::Nested(inner) => cell(inner),
        Expr::Value(value) => match &value.value {
            Value::Null => Some(Cell::Null),
            Value::Boolean(b) => Some(Cell::Bool(*b)),
            _ => constant_cell(expr),
        },
        Expr::Cast {
            kind: CastKind::Cast | CastKind::DoubleColon,
            expr: inner,
            data_type,
            array: false,
            format: None,
        } if matches!(inner.as_ref(), Expr::Value(v) if v.value == Value::Null) => {
            driftdb_pgtypes::types::column_type(data_type)
                .ok()
                .map(Cell::TypedNull)
        }
        _ => constant_cell(expr),
    }
}

fn constant_cell(expr: &Expr) -> Option<Cell> {
    Some(match Constant::of(expr)? {
        Constant::Integer(v) => Cell::Integer(v),
        Constant::Text(text) => Cell::Text(text),
        Constant::Cast(value, ty) => Cell::Cast(value, ty),
    })
}

/// Whether values of type `from` enter a column of type `to` as DataFusion's VALUES and the
/// sink's cast take them (one Arrow cast, no rounding, no reading of text beyond Arrow's).
fn enters(from: Kind, to: ColumnType) -> bool {
    let text = |ty| {
        matches!(
            ty,
            ColumnType::Text | ColumnType::Varchar(_) | ColumnType::Char(_)
        )
    };
    match from {
        Kind::Integer => {
            integer(to) || is_numeric(to) || matches!(to, ColumnType::Float32 | ColumnType::Float64)
        }
        Kind::Text => text(to) || integer(to) || is_numeric(to) || to == ColumnType::Date,
        Kind::Bool => to == ColumnType::Bool,
        Kind::Cast(ty) => ty == to || (integer(ty) && integer(to)) || (text(ty) && text(to)),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Integer,
    Text,
    Bool,
    Cast(ColumnType),
}

/// The cells of one column as an array of `column`'s type, or `None` if they are not all of
/// one kind that enters the column exactly or a value does not convert.
fn array_of(cells: &[Cell], column: &ColumnDef) -> Result<Option<ArrayRef>> {
    let mut kind = None;
    for cell in cells {
        let this = match cell {
            Cell::Null => continue,
            Cell::TypedNull(ty) => Kind::Cast(*ty),
            Cell::Integer(_) => Kind::Integer,
            Cell::Text(_) => Kind::Text,
            Cell::Bool(_) => Kind::Bool,
            Cell::Cast(_, ty) => Kind::Cast(*ty),
        };
        if kind.replace(this).is_some_and(|k| k != this) {
            return Ok(None);
        }
    }
    let ty = column.ty;
    if kind.is_some_and(|kind| !enters(kind, ty)) {
        return Ok(None);
    }
    // The type DataFusion's VALUES gives the column: the constants' own.
    let data_type = match kind {
        None => {
            let nulls: ArrayRef = Arc::new(NullArray::new(cells.len()));
            return Ok(coerce(&nulls, ty).ok());
        }
        Some(Kind::Integer) => DataType::Int64,
        Some(Kind::Text) => DataType::Utf8,
        Some(Kind::Bool) => DataType::Boolean,
        Some(Kind::Cast(cast_to)) => arrow_type(cast_to),
    };
    let values = cells.iter().map(|c| match c {
        Cell::Integer(v) => Ok(ScalarValue::Int64(Some(*v))),
        Cell::Text(text) => Ok(ScalarValue::Utf8(Some(text.clone()))),
        Cell::Bool(b) => Ok(ScalarValue::Boolean(Some(*b))),
        Cell::Cast(value, _) => Ok(value.clone()),
        Cell::Null | Cell::TypedNull(_) => ScalarValue::try_from(&data_type),
    });
    let array = match ScalarValue::iter_to_array(values.collect::<DfResult<Vec<_>>>()?) {
        Ok(array) if array.data_type() == &data_type => array,
        _ => return Ok(None),
    };
    // A value the column's type does not take is the full path's error to report.
    Ok(coerce(&array, ty).ok())
}

/// `one` (a single value) repeated `rows` times.
fn repeat(one: &ArrayRef, rows: usize) -> Result<ArrayRef> {
    Ok(ScalarValue::try_from_array(one, 0)?.to_array_of_size(rows)?)
}
