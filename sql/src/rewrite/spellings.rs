//! PostgreSQL spellings DataFusion does not plan, rewritten into ones it does, right after
//! parsing: `pg_catalog.f(…)` is `f(…)`, `OPERATOR(pg_catalog.~)` is `~`, `COLLATE` is dropped,
//! `ARRAY(subquery)` aggregates, `::pg_catalog.text` and `::regclass` casts name DriftDB's
//! types, and a scalar subquery of one plain column selects it through
//! [`driftdb_pgtypes::functions::single::SINGLE`]. psql, drivers and tools send all of these.

use crate::common::parse::call;
use crate::rewrite::decorrelate::{
    OuterColumnDomains, hoist_outer_conditions, one_column, single_row_subquery,
};
use crate::rewrite::from_functions::{CatalogTableFunctions, is_bare_user, set_returning_calls};
use crate::rewrite::result_names::{
    DistinctNames, identifiers_shown_as_names, keep_names, object_identifier_call,
    object_identifier_type, top_select,
};
use datafusion::sql::sqlparser::ast::helpers::attached_token::AttachedToken;
use datafusion::sql::sqlparser::ast::{
    AccessExpr, ArrayElemTypeDef, BinaryOperator, CaseWhen, DataType as SqlType, Expr, Function,
    FunctionArg, FunctionArgExpr, FunctionArguments, Ident, ObjectName, Query, SelectItem, SetExpr,
    Statement as Ast, VisitMut, visit_expressions_mut,
};
use driftdb_pgtypes::functions::arrays;

/// Rewrites PostgreSQL spellings DataFusion does not plan into ones it does:
/// `pg_catalog.f(…)` becomes `f(…)` (PostgreSQL's built-in functions live in `pg_catalog`,
/// DataFusion's in one namespace); `a OPERATOR(pg_catalog.~) b` becomes `a ~ b`; `COLLATE` is
/// dropped (DriftDB compares text by code point, like the C collation); `ARRAY(subquery)`
/// becomes an `array_agg` over the subquery (NULL rather than `{}` when it has no rows). psql's
/// `\d` queries use all four.
pub(crate) fn rewrite(statement: &mut Ast) {
    if !literal_rows_insert(statement) {
        rewrite_all(statement);
    }
}

/// Every rewrite of [`rewrite`], on any statement.
fn rewrite_all(statement: &mut Ast) {
    let original = top_select(statement).map(|select| select.projection.clone());
    rewrite_expressions(statement);
    set_returning_calls(statement);
    crate::rewrite::int_literals::type_integer_literals(statement);
    if let (Some(original), Some(select)) = (original, top_select(statement)) {
        identifiers_shown_as_names(select);
        keep_names(&original, select);
    }
    // INSERT casts its VALUES to the table's column types itself.
    if !matches!(statement, Ast::Insert(_)) {
        let _ = statement.visit(&mut crate::rewrite::values_common_types::ValuesTypes);
    }
    let _ = statement.visit(&mut OuterColumnDomains);
    let _ = statement.visit(&mut DistinctNames);
    let _ = statement.visit(&mut crate::rewrite::order_subquery::SortedBySubquery);
}

/// Whether `statement` is an `INSERT … VALUES` (no RETURNING, no ON CONFLICT, no WITH) whose
/// values are all literals no rewrite changes: strings, integers (a number with a point or an
/// exponent becomes a `numeric` cast), booleans, NULL and DEFAULT. Bulk loads send thousands of
/// them, and each rewrite is a walk over every value.
fn literal_rows_insert(statement: &Ast) -> bool {
    use datafusion::sql::sqlparser::ast::{UnaryOperator, Value};
    let Ast::Insert(insert) = statement else {
        return false;
    };
    let Some(query) = insert.source.as_deref() else {
        return false;
    };
    let plain = insert.returning.is_none()
        && insert.on.is_none()
        && insert.assignments.is_empty()
        && crate::common::parse::plain_query(query);
    let SetExpr::Values(values) = query.body.as_ref() else {
        return false;
    };
    let integer = |digits: &str| digits.bytes().all(|b| b.is_ascii_digit());
    let literal = |expr: &Expr| match expr {
        Expr::Value(value) => match &value.value {
            Value::Number(digits, _) => integer(digits),
            Value::SingleQuotedString(_)
            | Value::EscapedStringLiteral(_)
            | Value::Boolean(_)
            | Value::Null => true,
            _ => false,
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => {
            matches!(expr.as_ref(), Expr::Value(v) if matches!(&v.value, Value::Number(d, _) if integer(d)))
        }
        expr => crate::common::parse::is_default_keyword(expr),
    };
    plain
        && values
            .rows
            .iter()
            .all(|row| row.content.iter().all(literal))
}

/// The expression-level rewrites of [`rewrite`].
pub(crate) fn rewrite_expressions(statement: &mut Ast) {
    let _ = statement.visit(&mut CatalogTableFunctions);
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
            // PostgreSQL's `user` (a reserved word, so never an unquoted column) is current_user.
            _ if is_bare_user(expr) => {
                if let Ok(call) = crate::common::parse::expression("current_user") {
                    *expr = call;
                }
            }
            // `(record).field`, which DataFusion reads only as a qualified column name.
            Expr::CompoundFieldAccess { root, access_chain }
                if access_chain.len() == 1
                    && matches!(&access_chain[0], AccessExpr::Dot(Expr::Identifier(_))) =>
            {
                let AccessExpr::Dot(Expr::Identifier(field)) = &access_chain[0] else {
                    unreachable!("matched a field name");
                };
                let field = field.value.to_lowercase().replace('\'', "''");
                if let Ok(call) =
                    crate::common::parse::expression(&format!("get_field({root}, '{field}')"))
                {
                    *expr = call;
                }
            }
            // Set-returning `generate_subscripts(a, 1)`: the positions of a's elements.
            Expr::Function(function)
                if function
                    .name
                    .to_string()
                    .eq_ignore_ascii_case("generate_subscripts")
                    && let FunctionArguments::List(list) = &function.args
                    && list.args.len() == 2 =>
            {
                let array = &list.args[0];
                if let Ok(call) = crate::common::parse::expression(&format!(
                    "unnest(generate_series(1, CAST(cardinality({array}) AS BIGINT)))"
                )) {
                    *expr = call;
                }
            }
            // PostgreSQL's set-returning `_pg_expandarray(a)`: rows of `(x, n)` records.
            Expr::Function(function)
                if function
                    .name
                    .to_string()
                    .eq_ignore_ascii_case("information_schema._pg_expandarray")
                    && let FunctionArguments::List(list) = &function.args
                    && list.args.len() == 1 =>
            {
                let argument = &list.args[0];
                if let Ok(call) = crate::common::parse::expression(&format!(
                    "unnest({}({argument}))",
                    arrays::EXPAND_ARRAY
                )) {
                    *expr = call;
                }
            }
            Expr::Function(function) if json_aggregate(function).is_some() => {
                if let Some(rewritten) = json_aggregate(function) {
                    *expr = rewritten;
                }
            }
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
                if let Some((outer, inner)) = hoist_outer_conditions(query) {
                    *expr = Expr::Case {
                        case_token: AttachedToken::empty(),
                        end_token: AttachedToken::empty(),
                        operand: None,
                        conditions: vec![CaseWhen {
                            condition: outer,
                            result: Expr::Subquery(Box::new(inner)),
                        }],
                        else_result: None,
                    };
                }
            }
            Expr::Cast {
                data_type,
                expr: inner,
                ..
            } => {
                if let Some(kind) = object_identifier_type(data_type) {
                    if let Some(call) = call(&format!("__driftdb_{kind}"), inner) {
                        *expr = call;
                    }
                } else if let Some(kind) = object_identifier_call(inner)
                    && is_text_type(data_type)
                {
                    if let Some(call) = call(&format!("__driftdb_{kind}_text"), inner) {
                        *expr = call;
                    }
                } else if let SqlType::Custom(name, _) = data_type
                    && let Some(plain) = catalog_type(name)
                {
                    *data_type = plain;
                } else if let SqlType::Array(ArrayElemTypeDef::SquareBracket(element, _)) =
                    data_type
                    && let SqlType::Custom(name, _) = element.as_ref()
                    && let Some(plain) = catalog_type(name)
                {
                    **element = plain;
                }
            }
            _ => {}
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

/// `ARRAY(SELECT x FROM … [ORDER BY …])` as `(SELECT array_agg(x [ORDER BY …]) FROM …)`, which
/// keeps the subquery's correlation (a derived table could not see the outer row).
pub(crate) fn array_subquery(query: &Query) -> Option<Expr> {
    let (select, value) = one_column(query)?;
    if select.distinct.is_some() || query.limit_clause.is_some() {
        return None;
    }
    let order = query
        .order_by
        .as_ref()
        .map_or(String::new(), |order| format!(" {order}"));
    let aggregate = crate::common::parse::expression(&format!("array_agg({value}{order})")).ok()?;
    let mut select = Box::new(select.clone());
    select.projection = vec![SelectItem::UnnamedExpr(aggregate)];
    let mut query = query.clone();
    query.body = Box::new(SetExpr::Select(select));
    query.order_by = None;
    Some(Expr::Subquery(Box::new(query)))
}

/// The SQL type a `pg_catalog`-qualified or catalog-only type name casts to: `pg_catalog.text`
/// is `text`; `oid` and `xid` are DriftDB's bigint OIDs; `name` and `"char"` are text. (Casts
/// to `regclass` and its kin become lookups: [`object_identifier_type`].)
pub(crate) fn catalog_type(name: &ObjectName) -> Option<SqlType> {
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
        "oid" | "xid" => Some(SqlType::BigInt(None)),
        "name" | "char" => Some(SqlType::Text),
        other if parts.len() == 2 => crate::common::parse::parser()
            .try_with_sql(other)
            .and_then(|mut parser| parser.parse_data_type())
            .ok(),
        _ => None,
    }
}

/// Whether a cast to `data_type` gives text (`::text`, `::pg_catalog.text`, `::varchar`, `::name`).
pub(crate) fn is_text_type(data_type: &SqlType) -> bool {
    match data_type {
        SqlType::Text | SqlType::Varchar(_) | SqlType::CharacterVarying(_) => true,
        SqlType::Custom(name, _) => matches!(catalog_type(name), Some(SqlType::Text)),
        _ => false,
    }
}

/// `json_agg(x …)` as `array_agg` of `to_json(x)` finished into a JSON array (see
/// [`driftdb_pgtypes::functions::json_build::JSON_ARRAY`]); `jsonb_agg` likewise. `None` for any other call.
pub(crate) fn json_aggregate(function: &Function) -> Option<Expr> {
    let name = function.name.to_string().to_ascii_lowercase();
    let (convert, finish) = match name.as_str() {
        "json_agg" => (
            "to_json",
            driftdb_pgtypes::functions::json_build::JSON_ARRAY,
        ),
        "jsonb_agg" => (
            "to_jsonb",
            driftdb_pgtypes::functions::json_build::JSONB_ARRAY,
        ),
        _ => return None,
    };
    let mut aggregate = function.clone();
    aggregate.name = ObjectName::from(vec![Ident::new("array_agg")]);
    if let FunctionArguments::List(list) = &mut aggregate.args {
        for arg in &mut list.args {
            if let FunctionArg::Unnamed(FunctionArgExpr::Expr(value)) = arg {
                *value = call(convert, value)?;
            }
        }
    }
    call(finish, &Expr::Function(aggregate))
}

/// The built-in operator `OPERATOR(pg_catalog.<name>)` names.
pub(crate) fn plain_operator(name: &str) -> Option<BinaryOperator> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(sql: &str) -> Ast {
        crate::common::parse::parser()
            .try_with_sql(sql)
            .and_then(|mut parser| parser.parse_statement())
            .expect("parses")
    }

    /// The statements [`literal_rows_insert`] lets skip the rewrites are exactly those the
    /// rewrites leave as they are: every rewrite runs on a copy, and changes nothing.
    #[test]
    fn literal_rows_skip_only_what_the_rewrites_leave_alone() {
        let skipped = [
            "INSERT INTO t VALUES (1, 'a', NULL, true), (-2, 'b''c', DEFAULT, false)",
            "INSERT INTO s.t (a, b) VALUES (9223372036854775807, E'x\\ny')",
        ];
        for sql in skipped {
            let statement = parsed(sql);
            assert!(literal_rows_insert(&statement), "{sql}");
            let mut rewritten = statement.clone();
            rewrite_all(&mut rewritten);
            assert_eq!(rewritten.to_string(), statement.to_string(), "{sql}");
        }
        let rewritten = [
            "INSERT INTO t VALUES (1.5)",
            "INSERT INTO t VALUES (1e3)",
            "INSERT INTO t VALUES ('1'::int)",
            "INSERT INTO t VALUES (pg_catalog.now())",
            "INSERT INTO t VALUES (1) RETURNING pg_catalog.upper('a')",
            "INSERT INTO t SELECT 1",
            "INSERT INTO t VALUES (\"default\")",
        ];
        for sql in rewritten {
            assert!(!literal_rows_insert(&parsed(sql)), "{sql}");
        }
    }
}
