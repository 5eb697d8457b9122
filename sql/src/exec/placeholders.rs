//! The `$n` placeholders of prepared statements: which parameter one stands for, and the cast
//! that gives it its parameter's type (how a prepared statement is planned, when described and
//! when its plan is cached).

use datafusion::arrow::datatypes::Field;
use datafusion::sql::sqlparser::ast::{
    CastKind, Expr, Statement as Ast, Value, visit_expressions_mut,
};
use driftdb_engine::ColumnType;
use driftdb_pgtypes::error::{Error, ErrorKind, Result};
use driftdb_pgtypes::types::{column_type_of, sql_type};
use std::ops::ControlFlow;

/// The zero-based parameter index of a `$n` placeholder expression (`None`: not a placeholder).
pub(crate) fn placeholder(expr: &Expr) -> Option<Result<usize>> {
    let Expr::Value(value) = expr else {
        return None;
    };
    let Value::Placeholder(name) = &value.value else {
        return None;
    };
    Some(
        name.strip_prefix('$')
            .and_then(|digits| digits.parse::<usize>().ok())
            .filter(|n| (1..=65_535).contains(n))
            .map(|n| n - 1)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::UndefinedParameter,
                    format!("there is no parameter {name}"),
                )
            }),
    )
}

/// The column type of a parameter (`text` for one of a type DriftDB has no column of).
pub(crate) fn column_type(field: &Field) -> ColumnType {
    column_type_of(field).unwrap_or(ColumnType::Text)
}

/// `expr` cast to `ty`.
pub(crate) fn cast(expr: Expr, ty: ColumnType) -> Expr {
    Expr::Cast {
        kind: CastKind::Cast,
        expr: Box::new(expr),
        data_type: sql_type(ty),
        array: false,
        format: None,
    }
}

/// Casts each placeholder of `statement` whose type `type_of` knows to that type (how a
/// prepared statement is planned).
pub(crate) fn cast_placeholders(
    statement: &mut Ast,
    type_of: impl Fn(usize) -> Option<ColumnType>,
) {
    let _ = visit_expressions_mut(statement, |expr| {
        if let Some(Ok(index)) = placeholder(expr)
            && let Some(ty) = type_of(index)
        {
            *expr = cast(expr.clone(), ty);
        }
        ControlFlow::<()>::Continue(())
    });
}
