//! ORDER BY keys that hold a subquery (Grafana's table list sorts by `CASE WHEN
//! quote_ident(table_schema) IN (SELECT …) THEN 0 ELSE 1 END`), which DataFusion refuses in a
//! sort: each such key is computed as a hidden result column of the query, and the query is
//! read back through `SELECT * EXCLUDE (hidden…)` sorted by those columns, so it gives the rows
//! and columns PostgreSQL gives.

use crate::rewrite::colnames;
use datafusion::sql::sqlparser::ast::{
    Expr, Ident, OrderBy, OrderByKind, Query, SelectItem, SetExpr, TableFactor, Value, VisitorMut,
    visit_expressions,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use std::ops::ControlFlow;

/// Rewrites every query sorted by a key that holds a subquery.
pub(crate) struct SortedBySubquery;

impl VisitorMut for SortedBySubquery {
    type Break = ();

    fn post_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        if let Some(sorted) = sorted_outside(query) {
            *query = sorted;
        }
        ControlFlow::Continue(())
    }
}

fn holds_subquery(expr: &Expr) -> bool {
    visit_expressions(expr, |e| match e {
        Expr::Subquery(_) | Expr::InSubquery { .. } | Expr::Exists { .. } => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    })
    .is_break()
}

/// `query` with its subquery keys computed inside and its sort outside; `None` when no key
/// holds a subquery, or when one that does not is more than a result column (a position or a
/// result column's name), which the outer query could not see.
fn sorted_outside(query: &Query) -> Option<Query> {
    let order_by = query.order_by.as_ref()?;
    let OrderByKind::Expressions(keys) = &order_by.kind else {
        return None;
    };
    if !keys.iter().any(|key| holds_subquery(&key.expr)) {
        return None;
    }
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    if select.distinct.is_some() {
        return None;
    }
    let names: Vec<&str> = select
        .projection
        .iter()
        .filter_map(|item| match item {
            SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.as_str()),
            SelectItem::UnnamedExpr(Expr::Identifier(ident)) => Some(ident.value.as_str()),
            SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts)) => {
                parts.last().map(|part| part.value.as_str())
            }
            _ => None,
        })
        .collect();
    let names_a_result_column = |expr: &Expr| match expr {
        Expr::Value(value) => matches!(value.value, Value::Number(..)),
        Expr::Identifier(ident) => names.contains(&ident.value.as_str()),
        _ => false,
    };
    if keys
        .iter()
        .any(|key| !holds_subquery(&key.expr) && !names_a_result_column(&key.expr))
    {
        return None;
    }
    let mut inner = query.clone();
    inner.order_by = None;
    inner.limit_clause = None;
    inner.fetch = None;
    let SetExpr::Select(inner_select) = inner.body.as_mut() else {
        return None;
    };
    // The outer `*` shows the inner query's column names: give each its PostgreSQL name.
    for (position, item) in inner_select.projection.iter_mut().enumerate() {
        if let SelectItem::UnnamedExpr(expr) = item
            && !matches!(expr, Expr::Identifier(_) | Expr::CompoundIdentifier(_))
        {
            *item = SelectItem::ExprWithAlias {
                expr: expr.clone(),
                alias: colnames::keep_name(position, expr),
            };
        }
    }
    let mut outer_keys = keys.clone();
    let mut hidden = Vec::new();
    for (position, key) in outer_keys.iter_mut().enumerate() {
        if holds_subquery(&key.expr) {
            let alias = Ident::new(format!("__driftdb_order_{position}"));
            inner_select.projection.push(SelectItem::ExprWithAlias {
                expr: key.expr.clone(),
                alias: alias.clone(),
            });
            key.expr = Expr::Identifier(alias.clone());
            hidden.push(alias.to_string());
        }
    }
    let text = format!(
        "SELECT * EXCLUDE ({}) FROM (SELECT 1) AS __driftdb_sorted",
        hidden.join(", ")
    );
    let mut outer = *Parser::new(&GenericDialect {})
        .try_with_sql(&text)
        .ok()?
        .parse_query()
        .ok()?;
    let SetExpr::Select(outer_select) = outer.body.as_mut() else {
        return None;
    };
    let TableFactor::Derived { subquery, .. } = &mut outer_select.from.first_mut()?.relation else {
        return None;
    };
    **subquery = inner;
    outer.order_by = Some(OrderBy {
        kind: OrderByKind::Expressions(outer_keys),
        interpolate: order_by.interpolate.clone(),
    });
    outer.limit_clause = query.limit_clause.clone();
    outer.fetch = query.fetch.clone();
    Some(outer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::ast::VisitMut;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;

    fn rewritten(sql: &str) -> String {
        let mut statement = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0);
        let _ = statement.visit(&mut SortedBySubquery);
        statement.to_string()
    }

    #[test]
    fn subquery_keys_are_computed_inside_and_sorted_outside() {
        assert_eq!(
            rewritten("SELECT a, b + 1 FROM t ORDER BY a IN (SELECT x FROM u), 1 LIMIT 3"),
            "SELECT * EXCLUDE (__driftdb_order_0) FROM (SELECT a, b + 1 AS \"__driftdb_column_1:?column?\", \
             a IN (SELECT x FROM u) AS __driftdb_order_0 FROM t) AS __driftdb_sorted \
             ORDER BY __driftdb_order_0, 1 LIMIT 3"
        );
    }

    #[test]
    fn other_sorts_are_left_alone() {
        let plain = "SELECT a FROM t ORDER BY a";
        assert_eq!(rewritten(plain), plain);
        // A key the outer query could not see: left for DataFusion to refuse.
        let hidden = "SELECT a FROM t ORDER BY t.b, a IN (SELECT x FROM u)";
        assert_eq!(rewritten(hidden), hidden);
    }
}
