//! Integer literals typed as PostgreSQL types them: a literal that fits in 32 bits is an
//! `integer` (`SELECT 1` describes an `int4` column, `pg_typeof(1)` is `integer`, `id + 1` of
//! an `integer` column stays `integer`); a larger one stays `bigint`. DataFusion reads every
//! integer literal as a 64-bit one, so a query's literals are cast to `INT`. A number that is
//! a position (`ORDER BY 1`, `GROUP BY 2`), a row count (`LIMIT 10`, `OFFSET`, `FETCH`) or a
//! window frame offset (`ROWS 1 PRECEDING`) is left as written: DataFusion reads those as
//! literals. Only queries are rewritten; the literals of INSERT, UPDATE and DELETE take their
//! column's type anyway.

use datafusion::sql::sqlparser::ast::{
    CastKind, DataType as SqlType, Expr, Function, GroupByExpr, LimitClause, OrderByKind, Query,
    Select, Statement as Ast, Value, VisitMut, VisitorMut, WindowFrameBound, WindowType,
};
use std::ops::ControlFlow;

/// Types the integer literals of `statement` if it is a query.
pub(crate) fn type_integer_literals(statement: &mut Ast) {
    if let Ast::Query(query) = statement {
        let _ = query.visit(&mut IntegerLiterals);
    }
}

/// The marker a literal that must stay a number wears while the rewrite runs.
const KEPT: &str = "__driftdb_kept_number:";

/// Hides a number from the rewrite (undone by [`restore`]).
fn keep(expr: &mut Expr) {
    if let Expr::Value(value) = expr
        && let Value::Number(digits, _) = &value.value
    {
        value.value = Value::Placeholder(format!("{KEPT}{digits}"));
    }
}

fn restore(expr: &mut Expr) {
    if let Expr::Value(value) = expr
        && let Value::Placeholder(text) = &value.value
        && let Some(digits) = text.strip_prefix(KEPT)
    {
        value.value = Value::Number(digits.to_string(), false);
    }
}

/// The window frame offsets of a call, for [`keep`] and [`restore`].
fn frame_offsets(function: &mut Function) -> Vec<&mut Expr> {
    let Some(WindowType::WindowSpec(spec)) = &mut function.over else {
        return Vec::new();
    };
    let Some(frame) = &mut spec.window_frame else {
        return Vec::new();
    };
    let mut offsets = Vec::new();
    for bound in std::iter::once(&mut frame.start_bound).chain(frame.end_bound.as_mut()) {
        if let WindowFrameBound::Preceding(Some(offset))
        | WindowFrameBound::Following(Some(offset)) = bound
        {
            offsets.push(offset.as_mut());
        }
    }
    offsets
}

/// The numbers of a query that must stay numbers: its row counts and sort positions.
fn kept_numbers(query: &mut Query) -> Vec<&mut Expr> {
    let mut counts = Vec::new();
    match &mut query.limit_clause {
        Some(LimitClause::LimitOffset {
            limit,
            offset,
            limit_by,
        }) => {
            counts.extend(limit.as_mut());
            counts.extend(offset.as_mut().map(|offset| &mut offset.value));
            counts.extend(limit_by.iter_mut());
        }
        Some(LimitClause::OffsetCommaLimit { offset, limit }) => {
            counts.push(offset);
            counts.push(limit);
        }
        None => {}
    }
    if let Some(fetch) = &mut query.fetch {
        counts.extend(fetch.quantity.as_mut());
    }
    if let Some(order_by) = &mut query.order_by
        && let OrderByKind::Expressions(keys) = &mut order_by.kind
    {
        counts.extend(keys.iter_mut().map(|key| &mut key.expr));
    }
    counts
}

struct IntegerLiterals;

impl VisitorMut for IntegerLiterals {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        kept_numbers(query).into_iter().for_each(keep);
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        kept_numbers(query).into_iter().for_each(restore);
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<()> {
        if let GroupByExpr::Expressions(keys, _) = &mut select.group_by {
            keys.iter_mut().for_each(keep);
        }
        ControlFlow::Continue(())
    }

    fn post_visit_select(&mut self, select: &mut Select) -> ControlFlow<()> {
        if let GroupByExpr::Expressions(keys, _) = &mut select.group_by {
            keys.iter_mut().for_each(restore);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Expr::Function(function) = expr {
            frame_offsets(function).into_iter().for_each(keep);
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        match expr {
            Expr::Function(function) => frame_offsets(function).into_iter().for_each(restore),
            Expr::Value(value) => {
                if let Value::Number(digits, false) = &value.value
                    && digits.parse::<i32>().is_ok()
                {
                    *expr = Expr::Cast {
                        kind: CastKind::Cast,
                        expr: Box::new(expr.clone()),
                        data_type: SqlType::Int(None),
                        array: false,
                        format: None,
                    };
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn typed(sql: &str) -> String {
        let mut statement = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0);
        type_integer_literals(&mut statement);
        statement.to_string()
    }

    #[test]
    fn literals_are_integers_where_they_are_values() {
        assert_eq!(
            typed("SELECT 1, 3000000000, 1.5, a + 2 FROM t WHERE b IN (3, 4)"),
            "SELECT CAST(1 AS INT), 3000000000, 1.5, a + CAST(2 AS INT) FROM t \
             WHERE b IN (CAST(3 AS INT), CAST(4 AS INT))"
        );
    }

    #[test]
    fn positions_counts_and_frames_stay_numbers() {
        let kept = "SELECT a, count(*) FROM t GROUP BY 1 ORDER BY 2 DESC LIMIT 10 OFFSET 5";
        assert_eq!(typed(kept), kept);
        assert_eq!(
            typed(
                "SELECT sum(a) OVER (ORDER BY b ROWS BETWEEN 1 PRECEDING AND 2 FOLLOWING) FROM t"
            ),
            "SELECT sum(a) OVER (ORDER BY b ROWS BETWEEN 1 PRECEDING AND 2 FOLLOWING) FROM t"
        );
        assert_eq!(
            typed("SELECT (SELECT x FROM u ORDER BY 1 LIMIT 1) FROM t"),
            "SELECT (SELECT x FROM u ORDER BY 1 LIMIT 1) FROM t"
        );
        let insert = "INSERT INTO t VALUES (1)";
        assert_eq!(typed(insert), insert);
    }
}
