//! Subqueries DataFusion cannot decorrelate, rewritten into ones it can: a scalar subquery of
//! one plain column selects it through `__driftdb_single` (one row or an error, as PostgreSQL
//! checks); conditions that read only the outer row move out of the subquery; columns of the
//! outer row read inside it come from a joined copy of the outer table.

use crate::common::parse::call;
use datafusion::sql::sqlparser::ast::{
    BinaryOperator, Expr, GroupByExpr, Ident, Query, Select, SelectItem, SetExpr, TableFactor,
    Value, VisitorMut, visit_expressions, visit_expressions_mut,
};
use driftdb_pgtypes::functions::single;

/// Rewrites scalar subqueries that select columns of the outer row (SQLAlchemy's
/// `(SELECT json_build_object('always', pg_attribute.attidentity = 'a', …) FROM pg_sequence
/// WHERE …)`), which DataFusion cannot decorrelate: such a column is read from a copy of the
/// outer table joined in the subquery (`(SELECT DISTINCT attidentity FROM pg_attribute) AS
/// __driftdb_outer_pg_attribute`) and equated with the outer row's, so the subquery is
/// correlated by equality alone. A NULL in such a column gives the subquery no row (NULL),
/// where PostgreSQL would compute with the NULL. Only scalar columns of plain tables are
/// treated this way.
pub(crate) struct OuterColumnDomains;

impl VisitorMut for OuterColumnDomains {
    type Break = ();

    fn post_visit_select(&mut self, select: &mut Select) -> std::ops::ControlFlow<()> {
        let outer_tables: Vec<(String, TableFactor)> = from_items(select)
            .filter(|factor| matches!(factor, TableFactor::Table { args: None, .. }))
            .filter_map(|factor| Some((relation_name(factor)?, factor.clone())))
            .collect();
        if outer_tables.is_empty() {
            return std::ops::ControlFlow::Continue(());
        }
        for item in &mut select.projection {
            let (SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. }) = item
            else {
                continue;
            };
            let _ = visit_expressions_mut(expr, |expr| {
                if let Expr::Subquery(query) = expr {
                    select_outer_columns_from_domains(query, &outer_tables);
                }
                std::ops::ControlFlow::<()>::Continue(())
            });
        }
        std::ops::ControlFlow::Continue(())
    }
}

/// [`OuterColumnDomains`] for one subquery, whose outer query reads `outer_tables`.
pub(crate) fn select_outer_columns_from_domains(
    query: &mut Query,
    outer_tables: &[(String, TableFactor)],
) {
    let SetExpr::Select(select) = query.body.as_mut() else {
        return;
    };
    let Some(inner_names) = from_names(select) else {
        return;
    };
    // (outer table, column) pairs the subquery's columns read.
    let mut read: Vec<(String, Ident)> = Vec::new();
    for item in &select.projection {
        let (SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. }) = item else {
            return;
        };
        let _ = visit_expressions(expr, |expr| {
            if let (Some(table), Expr::CompoundIdentifier(parts)) = (qualifier(expr), expr) {
                let column = parts[parts.len() - 1].clone();
                if !inner_names.contains(&table)
                    && outer_tables.iter().any(|(name, _)| *name == table)
                    && !read
                        .iter()
                        .any(|(t, c)| *t == table && c.value == column.value)
                {
                    read.push((table, column));
                }
            }
            std::ops::ControlFlow::<()>::Continue(())
        });
    }
    if read.is_empty() {
        return;
    }
    let mut conditions: Vec<Expr> = select.selection.iter().cloned().collect();
    for (table, factor) in outer_tables {
        let columns: Vec<&Ident> = read
            .iter()
            .filter(|(t, _)| t == table)
            .map(|(_, column)| column)
            .collect();
        if columns.is_empty() {
            continue;
        }
        let alias = format!("__driftdb_outer_{table}");
        // Each domain column gets a name of its own: DataFusion 55 mixes up a decorrelated
        // subquery's grouping columns that share a name (`p.id`, `d.id`).
        let domain_column =
            |column: &Ident| Ident::with_quote('"', format!("__driftdb_{table}_{}", column.value));
        let list = columns
            .iter()
            .map(|column| format!("{table}.{column} AS {}", domain_column(column)))
            .collect::<Vec<_>>()
            .join(", ");
        let Ok(domain) = crate::common::parse::parser()
            .try_with_sql(&format!(
                "SELECT 1 FROM (SELECT DISTINCT {list} FROM {factor}) AS {alias}"
            ))
            .and_then(|mut parser| parser.parse_query())
        else {
            return;
        };
        let SetExpr::Select(parsed) = *domain.body else {
            return;
        };
        select.from.extend(parsed.from);
        for column in columns {
            let inner =
                Expr::CompoundIdentifier(vec![Ident::new(alias.clone()), domain_column(column)]);
            for item in &mut select.projection {
                let (SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. }) = item
                else {
                    continue;
                };
                let _ = visit_expressions_mut(expr, |expr| {
                    if qualifier(expr).as_ref() == Some(table)
                        && let Expr::CompoundIdentifier(parts) = expr
                        && parts[parts.len() - 1].value == column.value
                    {
                        *expr = inner.clone();
                    }
                    std::ops::ControlFlow::<()>::Continue(())
                });
            }
            let outer = Expr::CompoundIdentifier(vec![Ident::new(table.clone()), column.clone()]);
            conditions.push(Expr::BinaryOp {
                left: Box::new(inner),
                op: BinaryOperator::Eq,
                right: Box::new(outer),
            });
        }
    }
    select.selection = conjunction(conditions);
}

/// A plain SELECT of one column: the SELECT and the column's expression.
pub(crate) fn one_column(query: &Query) -> Option<(&Select, &Expr)> {
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
pub(crate) const AGGREGATES: [&str; 12] = [
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
pub(crate) fn single_row_subquery(query: &Query) -> Option<Query> {
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
    let single = call(single::SINGLE, value)?;
    let mut select = Box::new(select.clone());
    select.projection = vec![SelectItem::UnnamedExpr(single)];
    let mut query = query.clone();
    query.body = Box::new(SetExpr::Select(select));
    Some(query)
}

/// A subquery's WHERE conditions that read only the outer row (psql's `… AND a.atthasdef`),
/// split off: `(SELECT x FROM t WHERE t.k = a.k AND a.flag)` is
/// `CASE WHEN a.flag THEN (SELECT x FROM t WHERE t.k = a.k) END` (no row, hence NULL, when the
/// condition does not hold). DataFusion cannot decorrelate a condition with no inner column.
/// Only qualified columns are judged, so `None` unless every FROM item is named.
pub(crate) fn hoist_outer_conditions(query: &Query) -> Option<(Expr, Query)> {
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    let selection = select.selection.as_ref()?;
    let inner_names = from_names(select)?;
    let conditions = conjuncts(selection);
    let bindings = outer_bindings(&conditions, &inner_names);
    let mut substituted = false;
    let conditions: Vec<Expr> = conditions
        .into_iter()
        .map(|condition| {
            if bindings
                .iter()
                .any(|(equality, _, _)| *equality == condition)
            {
                return condition;
            }
            let mut condition = condition;
            let _ = visit_expressions_mut(&mut condition, |expr| {
                if let Some((_, _, inner)) = bindings.iter().find(|(_, outer, _)| outer == expr) {
                    *expr = inner.clone();
                    substituted = true;
                }
                std::ops::ControlFlow::<()>::Continue(())
            });
            condition
        })
        .collect();
    let (outer, inner): (Vec<Expr>, Vec<Expr>) = conditions
        .into_iter()
        .partition(|condition| reads_only_outer(condition, &inner_names));
    if outer.is_empty() && !substituted {
        return None;
    }
    let mut select = select.clone();
    select.selection = conjunction(inner);
    let mut query = query.clone();
    query.body = Box::new(SetExpr::Select(select));
    let always = Expr::Value(Value::Boolean(true).into());
    Some((conjunction(outer).unwrap_or(always), query))
}

/// The subquery's `inner.col = outer.col` conditions: (the condition, the outer column, the
/// inner one). Elsewhere in the subquery the outer column can be read as the inner one, which
/// turns psql's `a.attcollation <> t.typcollation` (next to `c.oid = a.attcollation`) into a
/// condition on the subquery's own rows; DataFusion cannot decorrelate an inequality.
pub(crate) fn outer_bindings(
    conditions: &[Expr],
    inner_names: &[String],
) -> Vec<(Expr, Expr, Expr)> {
    let is_inner = |expr: &Expr| qualifier(expr).map(|table| inner_names.contains(&table));
    conditions
        .iter()
        .filter_map(|condition| {
            let Expr::BinaryOp {
                left,
                op: BinaryOperator::Eq,
                right,
            } = condition
            else {
                return None;
            };
            match (is_inner(left)?, is_inner(right)?) {
                (true, false) => Some((condition.clone(), (**right).clone(), (**left).clone())),
                (false, true) => Some((condition.clone(), (**left).clone(), (**right).clone())),
                _ => None,
            }
        })
        .collect()
}

/// A SELECT's FROM items, joined ones included.
pub(crate) fn from_items(select: &Select) -> impl Iterator<Item = &TableFactor> {
    select.from.iter().flat_map(|table| {
        std::iter::once(&table.relation).chain(table.joins.iter().map(|join| &join.relation))
    })
}

/// The names a SELECT's columns can be qualified with; `None` if a FROM item has none.
pub(crate) fn from_names(select: &Select) -> Option<Vec<String>> {
    from_items(select).map(relation_name).collect()
}

/// The table (or alias) a qualified column reference names: `b` of `a.b.c`, lower case.
pub(crate) fn qualifier(expr: &Expr) -> Option<String> {
    match expr {
        Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
            Some(parts[parts.len() - 2].value.to_lowercase())
        }
        _ => None,
    }
}

/// `[a, b, c]` as `a AND b AND c` (`None` for no conditions).
pub(crate) fn conjunction(conditions: Vec<Expr>) -> Option<Expr> {
    conditions.into_iter().reduce(|left, right| Expr::BinaryOp {
        left: Box::new(left),
        op: BinaryOperator::And,
        right: Box::new(right),
    })
}

/// The name a FROM item's columns are qualified with: its alias, else a table's own name.
pub(crate) fn relation_name(factor: &TableFactor) -> Option<String> {
    match factor {
        TableFactor::Table {
            alias: Some(alias), ..
        }
        | TableFactor::Derived {
            alias: Some(alias), ..
        }
        | TableFactor::Function {
            alias: Some(alias), ..
        }
        | TableFactor::UNNEST {
            alias: Some(alias), ..
        } => Some(alias.name.value.to_lowercase()),
        TableFactor::Table { name, .. } => name
            .0
            .last()
            .and_then(|part| part.as_ident())
            .map(|ident| ident.value.to_lowercase()),
        _ => None,
    }
}

/// `a AND b AND c` as `[a, b, c]`.
pub(crate) fn conjuncts(condition: &Expr) -> Vec<Expr> {
    match condition {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            let mut all = conjuncts(left);
            all.extend(conjuncts(right));
            all
        }
        Expr::Nested(inner) => conjuncts(inner),
        other => vec![other.clone()],
    }
}

/// Whether `condition` names columns, all of them qualified by something other than the
/// subquery's own FROM items, and contains no subquery.
pub(crate) fn reads_only_outer(condition: &Expr, inner_names: &[String]) -> bool {
    let mut outer_columns = 0;
    let verdict = visit_expressions(condition, |expr| {
        if let Some(table) = qualifier(expr) {
            if inner_names.contains(&table) {
                return std::ops::ControlFlow::Break(());
            }
            outer_columns += 1;
            return std::ops::ControlFlow::Continue(());
        }
        match expr {
            Expr::Identifier(_)
            | Expr::CompoundIdentifier(_)
            | Expr::Subquery(_)
            | Expr::Exists { .. }
            | Expr::InSubquery { .. } => return std::ops::ControlFlow::Break(()),
            _ => {}
        }
        std::ops::ControlFlow::Continue(())
    });
    verdict.is_continue() && outer_columns > 0
}
