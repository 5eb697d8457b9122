//! Column defaults: `DEFAULT` expressions, identity columns (`GENERATED … AS IDENTITY`) and
//! `serial`, and the `nextval('table_column_seq')` function behind the last two.
//!
//! A default is kept in the catalog as SQL text and planned where it is used: as the value
//! DataFusion fills in for a column an INSERT leaves out ([`column_defaults`]), and in place of
//! the `DEFAULT` keyword in `VALUES` ([`prepare_insert`]). An identity column's default is
//! `nextval` of its counter, which the engine keeps
//! ([`driftdb_engine::Engine::next_identity_values`]).

use crate::storage::scope::SessionScope;
use crate::storage::sequences::NextVal;
use datafusion::common::DFSchema;
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::{Expr, ScalarUDF, lit};
use datafusion::sql::sqlparser::ast::{
    Expr as SqlExpr, Ident, Insert, ObjectName, ObjectNamePart, SetExpr, Value,
};
use driftdb_engine::{ColumnDef, TableDef};
use driftdb_pgtypes::error::{Error, ErrorKind, Result};
use driftdb_pgtypes::idents::normalize;
use std::collections::HashMap;
use std::sync::Arc;

/// The SQL a column's default stands for, if it has one.
pub fn default_sql(column: &ColumnDef) -> Option<String> {
    match &column.identity {
        Some(identity) => Some(format!(
            "nextval('{}')",
            identity.sequence.replace('\'', "''")
        )),
        None => column.default.clone(),
    }
}

/// Plans a `DEFAULT` expression (no column references allowed) with `planner`.
pub fn plan_default(planner: &SessionState, sql: &str) -> Result<Expr> {
    planner
        .create_logical_expr(sql, &DFSchema::empty())
        .map_err(|e| {
            let e = Error::from(e);
            if e.kind == ErrorKind::UndefinedColumn {
                Error::new(
                    ErrorKind::FeatureNotSupported,
                    "cannot use column reference in DEFAULT expression",
                )
            } else {
                e
            }
        })
}

/// The defaults DataFusion fills in for columns an INSERT into `def` leaves out.
pub fn column_defaults(scope: &Arc<SessionScope>, def: &TableDef) -> Result<HashMap<String, Expr>> {
    let mut defaults = HashMap::new();
    for slot in def.visible_slots() {
        let column = &def.columns[slot];
        let expr = match (&column.identity, &column.default) {
            (Some(identity), _) => ScalarUDF::from(NextVal::new(scope.clone()))
                .call(vec![lit(identity.sequence.clone())]),
            (None, Some(sql)) => plan_default(&scope.db.expressions, sql)?,
            (None, None) => continue,
        };
        defaults.insert(column.name.clone(), expr);
    }
    Ok(defaults)
}

fn generated_always(column: &ColumnDef) -> Error {
    Error::new(
        ErrorKind::GeneratedAlways,
        format!(
            "cannot insert a non-DEFAULT value into column \"{}\"",
            column.name
        ),
    )
}

/// Prepares an INSERT into `def` for planning: `DEFAULT` in `VALUES` becomes the column's
/// default, `DEFAULT VALUES` a row of defaults, and a value for a `GENERATED ALWAYS` column is
/// refused.
pub fn prepare_insert(def: &TableDef, insert: &mut Insert) -> Result<()> {
    // `VALUES` rows shorter than the table fill its first columns, the rest take defaults.
    if insert.columns.is_empty()
        && let Some(source) = &insert.source
        && let SetExpr::Values(values) = source.body.as_ref()
        && let Some(first) = values.rows.first()
        && values
            .rows
            .iter()
            .all(|row| row.content.len() == first.content.len())
        && first.content.len() < def.visible_slots().count()
    {
        insert.columns = def
            .visible_slots()
            .take(first.content.len())
            .map(|slot| {
                ObjectName::from(vec![Ident::with_quote('"', def.columns[slot].name.clone())])
            })
            .collect();
    }
    let slots: Vec<usize> = if insert.columns.is_empty() {
        def.visible_slots().collect()
    } else {
        let mut slots = Vec::with_capacity(insert.columns.len());
        for name in &insert.columns {
            let Some(ObjectNamePart::Identifier(ident)) = name.0.last() else {
                return Ok(());
            };
            match def.slot_of(&normalize(ident)) {
                Some(slot) => slots.push(slot),
                // DataFusion reports the unknown column.
                None => return Ok(()),
            }
        }
        slots
    };
    let Some(source) = insert.source.as_mut() else {
        // DEFAULT VALUES: every column takes its default.
        let row: Vec<String> = def
            .visible_slots()
            .map(|slot| default_sql(&def.columns[slot]).unwrap_or_else(|| "NULL".into()))
            .collect();
        let sql = format!("VALUES ({})", row.join(", "));
        let query = crate::common::parse::parser()
            .try_with_sql(&sql)
            .and_then(|mut parser| parser.parse_query())
            .map_err(|e| Error::new(ErrorKind::Internal, format!("{sql}: {e}")))?;
        insert.columns = Vec::new();
        insert.source = Some(query);
        return Ok(());
    };
    let always = |slot: usize| {
        def.columns[slot]
            .identity
            .as_ref()
            .is_some_and(|identity| identity.always)
    };
    match source.body.as_mut() {
        SetExpr::Values(values) => {
            for row in &mut values.rows {
                for (value, &slot) in row.content.iter_mut().zip(&slots) {
                    if crate::common::parse::is_default_keyword(value) {
                        *value = default_expr(&def.columns[slot])?;
                    } else if always(slot) {
                        return Err(generated_always(&def.columns[slot]));
                    }
                }
            }
        }
        _ => {
            if let Some(&slot) = slots.iter().find(|&&slot| always(slot)) {
                return Err(generated_always(&def.columns[slot]));
            }
        }
    }
    Ok(())
}

/// The expression a column's default stands for (NULL without one).
fn default_expr(column: &ColumnDef) -> Result<SqlExpr> {
    match default_sql(column) {
        Some(sql) => crate::common::parse::stored_expression(&sql),
        None => Ok(SqlExpr::value(Value::Null)),
    }
}
