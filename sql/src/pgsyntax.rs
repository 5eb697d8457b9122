//! PostgreSQL spellings DataFusion does not plan, rewritten into ones it does, right after
//! parsing: `pg_catalog.f(…)` is `f(…)`, `OPERATOR(pg_catalog.~)` is `~`, `COLLATE` is dropped,
//! `ARRAY(subquery)` aggregates, `::pg_catalog.text` and `::regclass` casts name DriftDB's
//! types, and a scalar subquery of one plain column selects it through
//! [`crate::single::SINGLE`]. psql, drivers and tools send all of these.

use crate::single;
use datafusion::sql::sqlparser::ast::{
    BinaryOperator, DataType as SqlType, Expr, FunctionArguments, GroupByExpr, ObjectName, Query,
    Select, SelectItem, SetExpr, Statement as Ast, visit_expressions, visit_expressions_mut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

/// Rewrites PostgreSQL spellings DataFusion does not plan into ones it does:
/// `pg_catalog.f(…)` becomes `f(…)` (PostgreSQL's built-in functions live in `pg_catalog`,
/// DataFusion's in one namespace); `a OPERATOR(pg_catalog.~) b` becomes `a ~ b`; `COLLATE` is
/// dropped (DriftDB compares text by code point, like the C collation); `ARRAY(subquery)`
/// becomes an `array_agg` over the subquery (NULL rather than `{}` when it has no rows). psql's
/// `\d` queries use all four.
pub(crate) fn rewrite(statement: &mut Ast) {
    let _ = visit_expressions_mut(statement, |expr| {
        match expr {
            Expr::Function(function)
                if function.name.0.len() == 2
                    && function.name.0[0]
                        .as_ident()
                        .is_some_and(|schema| schema.value.eq_ignore_ascii_case("pg_catalog")) =>
            {
                function.name.0.remove(0);
            }
            Expr::BinaryOp { op, .. } => {
                if let BinaryOperator::PGCustomBinaryOperator(parts) = op
                    && let Some(plain) = parts.last().and_then(|name| plain_operator(name))
                {
                    *op = plain;
                }
            }
            Expr::Collate { expr: inner, .. } => *expr = (**inner).clone(),
            Expr::Function(function)
                if function.name.to_string().eq_ignore_ascii_case("array")
                    && matches!(function.args, FunctionArguments::Subquery(_)) =>
            {
                let FunctionArguments::Subquery(query) = &function.args else {
                    unreachable!("matched a subquery");
                };
                if let Some(aggregated) = array_subquery(query) {
                    *expr = aggregated;
                }
            }
            Expr::Subquery(query) => {
                if let Some(single) = single_row_subquery(query) {
                    **query = single;
                }
            }
            Expr::Cast { data_type, .. } => {
                if let SqlType::Custom(name, _) = data_type
                    && let Some(plain) = catalog_type(name)
                {
                    *data_type = plain;
                }
            }
            _ => {}
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

/// `ARRAY(SELECT x FROM … [ORDER BY …])` as `(SELECT array_agg(x [ORDER BY …]) FROM …)`, which
/// keeps the subquery's correlation (a derived table could not see the outer row).
fn array_subquery(query: &Query) -> Option<Expr> {
    let (select, value) = one_column(query)?;
    if select.distinct.is_some() || query.limit_clause.is_some() {
        return None;
    }
    let order = query
        .order_by
        .as_ref()
        .map_or(String::new(), |order| format!(" {order}"));
    let aggregate = Parser::new(&PostgreSqlDialect {})
        .try_with_sql(&format!("array_agg({value}{order})"))
        .and_then(|mut parser| parser.parse_expr())
        .ok()?;
    let mut select = Box::new(select.clone());
    select.projection = vec![SelectItem::UnnamedExpr(aggregate)];
    let mut query = query.clone();
    query.body = Box::new(SetExpr::Select(select));
    query.order_by = None;
    Some(Expr::Subquery(Box::new(query)))
}

/// A plain SELECT of one column: the SELECT and the column's expression.
fn one_column(query: &Query) -> Option<(&Select, &Expr)> {
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    match select.projection.as_slice() {
        [SelectItem::UnnamedExpr(value) | SelectItem::ExprWithAlias { expr: value, .. }] => {
            Some((select, value))
        }
        _ => None,
    }
}

/// Aggregates a scalar subquery may already use (then it needs no [`single::SINGLE`]).
const AGGREGATES: [&str; 12] = [
    "count",
    "sum",
    "min",
    "max",
    "avg",
    "array_agg",
    "string_agg",
    "bool_and",
    "bool_or",
    "every",
    "first_value",
    "last_value",
];

/// A scalar subquery selecting one plain expression (`(SELECT x FROM … WHERE …)`) as one that
/// selects `__driftdb_single(x)`: the same value, and DataFusion plans it correlated or not.
fn single_row_subquery(query: &Query) -> Option<Query> {
    let (select, value) = one_column(query)?;
    let grouped = !matches!(
        &select.group_by,
        GroupByExpr::Expressions(exprs, _) if exprs.is_empty()
    );
    if select.distinct.is_some()
        || grouped
        || select.having.is_some()
        || select.from.is_empty()
        || query.limit_clause.is_some()
        || query.order_by.is_some()
        || query.with.is_some()
    {
        return None;
    }
    let mut aggregated = false;
    let _ = visit_expressions(value, |expr| {
        if let Expr::Function(function) = expr
            && AGGREGATES
                .iter()
                .any(|name| function.name.to_string().eq_ignore_ascii_case(name))
        {
            aggregated = true;
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    if aggregated {
        return None;
    }
    let single = Parser::new(&PostgreSqlDialect {})
        .try_with_sql(&format!("{}({value})", single::SINGLE))
        .and_then(|mut parser| parser.parse_expr())
        .ok()?;
    let mut select = Box::new(select.clone());
    select.projection = vec![SelectItem::UnnamedExpr(single)];
    let mut query = query.clone();
    query.body = Box::new(SetExpr::Select(select));
    Some(query)
}

/// The SQL type a `pg_catalog`-qualified or catalog-only type name casts to: `pg_catalog.text`
/// is `text`; `oid`, `regclass` and their kin are DriftDB's bigint OIDs; `name` and `"char"`
/// are text.
fn catalog_type(name: &ObjectName) -> Option<SqlType> {
    let parts: Vec<&str> = name
        .0
        .iter()
        .filter_map(|part| part.as_ident().map(|ident| ident.value.as_str()))
        .collect();
    let last = match parts.as_slice() {
        [schema, last] if schema.eq_ignore_ascii_case("pg_catalog") => *last,
        [last] => *last,
        _ => return None,
    };
    match last.to_ascii_lowercase().as_str() {
        "oid" | "regclass" | "regtype" | "regproc" | "regprocedure" | "regnamespace" | "xid" => {
            Some(SqlType::BigInt(None))
        }
        "name" | "char" => Some(SqlType::Text),
        other if parts.len() == 2 => Parser::new(&PostgreSqlDialect {})
            .try_with_sql(other)
            .and_then(|mut parser| parser.parse_data_type())
            .ok(),
        _ => None,
    }
}

/// The built-in operator `OPERATOR(pg_catalog.<name>)` names.
fn plain_operator(name: &str) -> Option<BinaryOperator> {
    Some(match name {
        "~" => BinaryOperator::PGRegexMatch,
        "~*" => BinaryOperator::PGRegexIMatch,
        "!~" => BinaryOperator::PGRegexNotMatch,
        "!~*" => BinaryOperator::PGRegexNotIMatch,
        "=" => BinaryOperator::Eq,
        "<>" => BinaryOperator::NotEq,
        "<" => BinaryOperator::Lt,
        "<=" => BinaryOperator::LtEq,
        ">" => BinaryOperator::Gt,
        ">=" => BinaryOperator::GtEq,
        "||" => BinaryOperator::StringConcat,
        "+" => BinaryOperator::Plus,
        "-" => BinaryOperator::Minus,
        "*" => BinaryOperator::Multiply,
        "/" => BinaryOperator::Divide,
        _ => return None,
    })
}
