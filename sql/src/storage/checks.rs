//! CHECK constraints: kept in the catalog as SQL text, planned against the table's columns, and
//! evaluated over every row a statement writes, after defaults and type coercion. A row fails
//! only when its check is false (NULL passes, as in PostgreSQL).

use crate::storage::schema::table_schema;
use crate::storage::scope::SessionScope;
use datafusion::arrow::array::{ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::DFSchema;
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::{Expr, ExprSchemable};
use datafusion::sql::sqlparser::ast::{
    Expr as SqlExpr, Ident, Visit, Visitor, visit_expressions_mut,
};
use driftdb_engine::TableDef;
use driftdb_pgtypes::error::{Error, ErrorKind, Result};
use driftdb_pgtypes::idents::normalize;
use std::collections::BTreeSet;
use std::ops::ControlFlow;

/// The column names an expression reads.
fn columns_in(expr: &SqlExpr) -> BTreeSet<String> {
    struct Columns(BTreeSet<String>);
    impl Visitor for Columns {
        type Break = ();
        fn pre_visit_expr(&mut self, expr: &SqlExpr) -> ControlFlow<()> {
            if let SqlExpr::Identifier(ident) = expr {
                self.0.insert(normalize(ident));
            }
            ControlFlow::Continue(())
        }
    }
    let mut columns = Columns(BTreeSet::new());
    let _ = expr.visit(&mut columns);
    columns.0
}

/// PostgreSQL's name for an unnamed check: `table_column_check` when it reads one column,
/// else `table_check`.
pub fn default_name(table: &str, expr: &SqlExpr) -> String {
    let columns = columns_in(expr);
    match columns.len() {
        1 => format!("{table}_{}_check", columns.first().expect("one column")),
        _ => format!("{table}_check"),
    }
}

/// The columns a stored check reads (none if it no longer parses).
pub fn columns_of(sql: &str) -> BTreeSet<String> {
    crate::common::parse::stored_expression(sql)
        .map(|expr| columns_in(&expr))
        .unwrap_or_default()
}

/// A stored check with column `old` renamed to `new`.
pub fn rename_column(sql: &str, old: &str, new: &str) -> Result<String> {
    let mut expr = crate::common::parse::stored_expression(sql)?;
    let _ = visit_expressions_mut(&mut expr, |expr| {
        if let SqlExpr::Identifier(ident) = expr
            && normalize(ident) == old
        {
            *ident = Ident::with_quote('"', new);
        }
        ControlFlow::<()>::Continue(())
    });
    Ok(expr.to_string())
}

/// Plans a check of `def`, which must be a boolean expression over its columns.
pub fn plan(planner: &SessionState, def: &TableDef, sql: &str) -> Result<Expr> {
    let schema = DFSchema::try_from(table_schema(def).as_ref().clone())?;
    let expr = planner.create_logical_expr(sql, &schema)?;
    let ty = expr.get_type(&schema)?;
    if ty != DataType::Boolean && ty != DataType::Null {
        return Err(Error::new(
            ErrorKind::DatatypeMismatch,
            format!("argument of CHECK must be type boolean, not type {ty}"),
        ));
    }
    Ok(expr)
}

/// Fails if a row of `columns` (one array per visible column of `def`, coerced to their types)
/// makes one of `def`'s checks false.
pub fn verify(scope: &SessionScope, def: &TableDef, columns: &[ArrayRef]) -> Result<()> {
    if def.checks.is_empty() || columns.first().is_none_or(|c| c.is_empty()) {
        return Ok(());
    }
    let planner = &scope.db.expressions;
    let schema = table_schema(def);
    let df_schema = DFSchema::try_from(schema.as_ref().clone())?;
    let batch = RecordBatch::try_new(schema, columns.to_vec())?;
    for check in &def.checks {
        let expr = plan(planner, def, &check.expr)?;
        let physical = planner.create_physical_expr(expr, &df_schema)?;
        let result = physical.evaluate(&batch)?.into_array(batch.num_rows())?;
        let Some(passed) = result.as_boolean_opt() else {
            continue;
        };
        if passed.iter().any(|v| v == Some(false)) {
            return Err(Error::new(
                ErrorKind::CheckViolation,
                format!(
                    "new row for relation \"{}\" violates check constraint \"{}\"",
                    def.name, check.name
                ),
            ));
        }
    }
    Ok(())
}
