//! Result column names as PostgreSQL gives them where a rewrite or DataFusion would change them:
//! columns DataFusion would name alike are aliased apart, rewritten expressions keep their
//! original names, and an object identifier column shows its name (`regclass`).

use crate::common::parse::call;
use crate::rewrite::colnames;
use datafusion::sql::sqlparser::ast::{
    DataType as SqlType, Expr, Ident, Select, SelectItem, SetExpr, Statement as Ast, VisitorMut,
};
use std::collections::HashMap;

/// Aliases the columns of a SELECT that DataFusion would name alike (`SELECT NULL, NULL`,
/// `SELECT 1, 1`, `SELECT id, id`, `SELECT 1 AS a, 2 AS a`, `SELECT a, b AS a`), which it
/// cannot plan and PostgreSQL can; each keeps its PostgreSQL name.
pub(crate) struct DistinctNames;

impl VisitorMut for DistinctNames {
    type Break = ();

    fn post_visit_select(&mut self, select: &mut Select) -> std::ops::ControlFlow<()> {
        let spelled: Vec<Option<String>> = select
            .projection
            .iter()
            .map(|item| match item {
                SelectItem::UnnamedExpr(expr) => datafusion_name(expr),
                SelectItem::ExprWithAlias { alias, .. } => Some(column_name(alias)),
                _ => None,
            })
            .collect();
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for text in spelled.iter().flatten() {
            *counts.entry(text).or_default() += 1;
        }
        for (position, item) in select.projection.iter_mut().enumerate() {
            let repeated = spelled[position]
                .as_deref()
                .is_some_and(|text| counts[text] > 1);
            if !repeated {
                continue;
            }
            *item = match std::mem::replace(item, SelectItem::Wildcard(Default::default())) {
                SelectItem::UnnamedExpr(expr) => SelectItem::ExprWithAlias {
                    alias: colnames::keep_name(position, &expr),
                    expr,
                },
                SelectItem::ExprWithAlias { expr, alias } => SelectItem::ExprWithAlias {
                    alias: colnames::keep_alias(position, &alias),
                    expr,
                },
                other => other,
            };
        }
        std::ops::ControlFlow::Continue(())
    }
}

/// The name DataFusion gives a result column that is a column or carries an alias: unquoted
/// names fold to lower case (`SELECT A, a` names two columns `a`).
pub(crate) fn column_name(ident: &Ident) -> String {
    format!("column {}", driftdb_pgtypes::idents::normalize(ident))
}

/// What DataFusion names a result column by, near enough to tell which two it names alike.
pub(crate) fn datafusion_name(expr: &Expr) -> Option<String> {
    match expr {
        // A column named twice (`SELECT id, id`, `o.id, id`) is one name to DataFusion.
        Expr::Identifier(ident) => Some(column_name(ident)),
        Expr::CompoundIdentifier(parts) => parts.last().map(column_name),
        // A cast is named by what it casts (`avg(n)::int, avg(n)::float8`).
        Expr::Cast { expr, .. } => datafusion_name(expr),
        // DataFusion names every scalar subquery it turns into a join `(<subquery>)`.
        Expr::Subquery(_) => Some("(<subquery>)".into()),
        expr => Some(expr.to_string()),
    }
}

/// The statement's SELECT whose columns are its result's.
pub(crate) fn top_select(statement: &mut Ast) -> Option<&mut Select> {
    let Ast::Query(query) = statement else {
        return None;
    };
    match query.body.as_mut() {
        SetExpr::Select(select) => Some(select),
        _ => None,
    }
}

/// A result column that is an object identifier (`conrelid::regclass`) shows the name, as
/// PostgreSQL prints a `regclass`; everywhere else the cast stays the OID it compares as.
pub(crate) fn identifiers_shown_as_names(select: &mut Select) {
    for item in &mut select.projection {
        let expr = match item {
            SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. } => expr,
            _ => continue,
        };
        if let Some(kind) = object_identifier_call(expr)
            && let Some(named) = call(&format!("__driftdb_{kind}_text"), expr)
        {
            *expr = named;
        }
    }
}

/// Aliases the result columns whose expressions the rewrite changed with the names their
/// original expressions give them, and, next to a wildcard, plain column references (which
/// the wildcard may repeat).
pub(crate) fn keep_names(original: &[SelectItem], select: &mut Select) {
    let wildcard = select.projection.iter().any(|item| {
        matches!(
            item,
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
        )
    });
    for (position, (item, before)) in select.projection.iter_mut().zip(original).enumerate() {
        let (SelectItem::UnnamedExpr(expr), SelectItem::UnnamedExpr(before)) = (&*item, before)
        else {
            continue;
        };
        let repeatable = matches!(expr, Expr::Identifier(_) | Expr::CompoundIdentifier(_));
        if expr != before || (wildcard && repeatable) {
            *item = SelectItem::ExprWithAlias {
                expr: expr.clone(),
                alias: colnames::keep_name(position, before),
            };
        }
    }
}

/// The object identifier type (`regclass`, `regtype`, `regnamespace`, `regproc`) a cast is to.
/// DriftDB reads such a cast as a call: text is looked up by name, a number is the OID.
pub(crate) fn object_identifier_type(data_type: &SqlType) -> Option<&'static str> {
    let name = match data_type {
        SqlType::Regclass => return Some("regclass"),
        SqlType::Custom(name, _) => name.0.last()?.as_ident()?.value.to_ascii_lowercase(),
        _ => return None,
    };
    match name.as_str() {
        "regclass" => Some("regclass"),
        "regtype" => Some("regtype"),
        "regnamespace" => Some("regnamespace"),
        "regproc" | "regprocedure" => Some("regproc"),
        _ => None,
    }
}

/// The object identifier type whose cast `expr` was rewritten into (by [`rewrite`]).
pub(crate) fn object_identifier_call(expr: &Expr) -> Option<&'static str> {
    let Expr::Function(function) = expr else {
        return None;
    };
    let name = function.name.to_string();
    ["regclass", "regtype", "regnamespace", "regproc"]
        .into_iter()
        .find(|kind| name == format!("__driftdb_{kind}"))
}
