//! PostgreSQL spellings DataFusion does not plan, rewritten into ones it does, right after
//! parsing: `pg_catalog.f(…)` is `f(…)`, `OPERATOR(pg_catalog.~)` is `~`, `COLLATE` is dropped,
//! `ARRAY(subquery)` aggregates, `::pg_catalog.text` and `::regclass` casts name DriftDB's
//! types, and a scalar subquery of one plain column selects it through
//! [`driftdb_pgtypes::functions::single::SINGLE`]. psql, drivers and tools send all of these.

use crate::colnames;
use datafusion::sql::sqlparser::ast::helpers::attached_token::AttachedToken;
use datafusion::sql::sqlparser::ast::{
    AccessExpr, ArrayElemTypeDef, BinaryOperator, CaseWhen, DataType as SqlType, Expr, Function,
    FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr, Ident, ObjectName, Query, Select,
    SelectItem, SetExpr, Statement as Ast, TableAlias, TableAliasColumnDef, TableFactor, Value,
    VisitMut, VisitorMut, visit_expressions, visit_expressions_mut,
};
use driftdb_pgtypes::functions::arrays;
use driftdb_pgtypes::functions::single;
use std::collections::HashMap;

/// Rewrites PostgreSQL spellings DataFusion does not plan into ones it does:
/// `pg_catalog.f(…)` becomes `f(…)` (PostgreSQL's built-in functions live in `pg_catalog`,
/// DataFusion's in one namespace); `a OPERATOR(pg_catalog.~) b` becomes `a ~ b`; `COLLATE` is
/// dropped (DriftDB compares text by code point, like the C collation); `ARRAY(subquery)`
/// becomes an `array_agg` over the subquery (NULL rather than `{}` when it has no rows). psql's
/// `\d` queries use all four.
pub(crate) fn rewrite(statement: &mut Ast) {
    let original = top_select(statement).map(|select| select.projection.clone());
    rewrite_expressions(statement);
    set_returning_calls(statement);
    crate::intliterals::type_integer_literals(statement);
    if let (Some(original), Some(select)) = (original, top_select(statement)) {
        identifiers_shown_as_names(select);
        keep_names(&original, select);
    }
    // INSERT casts its VALUES to the table's column types itself.
    if !matches!(statement, Ast::Insert(_)) {
        let _ = statement.visit(&mut crate::values_types::ValuesTypes);
    }
    let _ = statement.visit(&mut OuterColumnDomains);
    let _ = statement.visit(&mut DistinctNames);
    let _ = statement.visit(&mut crate::order_subquery::SortedBySubquery);
}

/// Rewrites scalar subqueries that select columns of the outer row (SQLAlchemy's
/// `(SELECT json_build_object('always', pg_attribute.attidentity = 'a', …) FROM pg_sequence
/// WHERE …)`), which DataFusion cannot decorrelate: such a column is read from a copy of the
/// outer table joined in the subquery (`(SELECT DISTINCT attidentity FROM pg_attribute) AS
/// __driftdb_outer_pg_attribute`) and equated with the outer row's, so the subquery is
/// correlated by equality alone. A NULL in such a column gives the subquery no row (NULL),
/// where PostgreSQL would compute with the NULL. Only scalar columns of plain tables are
/// treated this way.
struct OuterColumnDomains;

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
fn select_outer_columns_from_domains(query: &mut Query, outer_tables: &[(String, TableFactor)]) {
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
        let Ok(domain) = crate::parse::parser()
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

/// Aliases the columns of a SELECT that DataFusion would name alike (`SELECT NULL, NULL`,
/// `SELECT 1, 1`, `SELECT id, id`, `SELECT 1 AS a, 2 AS a`, `SELECT a, b AS a`), which it
/// cannot plan and PostgreSQL can; each keeps its PostgreSQL name.
struct DistinctNames;

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
fn column_name(ident: &Ident) -> String {
    format!("column {}", driftdb_pgtypes::idents::normalize(ident))
}

/// What DataFusion names a result column by, near enough to tell which two it names alike.
fn datafusion_name(expr: &Expr) -> Option<String> {
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
fn top_select(statement: &mut Ast) -> Option<&mut Select> {
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
fn identifiers_shown_as_names(select: &mut Select) {
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
fn keep_names(original: &[SelectItem], select: &mut Select) {
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

/// Table functions called as `pg_catalog.f(…)` in FROM, as plain `f(…)`.
struct CatalogTableFunctions;

impl VisitorMut for CatalogTableFunctions {
    type Break = ();

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> std::ops::ControlFlow<()> {
        if let TableFactor::Table {
            name,
            args: Some(_),
            ..
        } = factor
            && name.0.len() == 2
            && name.0[0]
                .as_ident()
                .is_some_and(|schema| schema.value.eq_ignore_ascii_case("pg_catalog"))
        {
            name.0.remove(0);
        }
        if let Some(rewritten) = function_in_from(factor) {
            *factor = rewritten;
            return std::ops::ControlFlow::Continue(());
        }
        // `generate_series(…) AS s` names its one column `s`, and without an alias the column
        // is `generate_series`, as PostgreSQL's functions in FROM do (DataFusion's is `value`).
        if let TableFactor::Table {
            name,
            args: Some(_),
            alias,
            ..
        } = factor
            && name.to_string().eq_ignore_ascii_case("generate_series")
        {
            let alias = alias.get_or_insert_with(|| TableAlias {
                explicit: false,
                name: Ident::new("generate_series"),
                columns: Vec::new(),
                at: None,
            });
            if alias.columns.is_empty() {
                alias.columns = vec![TableAliasColumnDef::from_name(alias.name.value.clone())];
            }
        }
        std::ops::ControlFlow::Continue(())
    }
}

/// Functions in FROM that DataFusion's table functions do not cover, in forms it plans:
/// - `unnest(a) x` becomes `(SELECT UNNEST(a) AS x) AS x` (DataFusion's `UNNEST` relation
///   does not take column aliases);
/// - `generate_series(…)` with arguments that are not literals (an outer row's column, an
///   expression) becomes the same over `generate_series(…)`'s array: DataFusion's table
///   function takes literals only;
/// - an array-returning scalar function, `string_to_array(…) s`, becomes the one-row
///   `(SELECT string_to_array(…) AS s) AS s`, as PostgreSQL reads a scalar function in FROM;
/// - `pg_partition_ancestors(t)` is the one row `relid = t` (at depth 1).
///
/// Without an alias the relation and its column are named after the function, as in
/// PostgreSQL.
fn function_in_from(factor: &TableFactor) -> Option<TableFactor> {
    if let TableFactor::UNNEST {
        alias,
        array_exprs,
        with_offset: false,
        with_ordinality: false,
        ..
    } = factor
    {
        // sqlparser reads `unnest(…)` in FROM as its own relation.
        let alias = alias.as_ref()?;
        if !alias.columns.is_empty() || array_exprs.len() != 1 {
            return None;
        }
        let name = alias.name.to_string();
        return derived_table(&unnested(&array_exprs[0].to_string(), &name, &name));
    }
    let TableFactor::Table {
        name,
        args: Some(args),
        alias,
        ..
    } = factor
    else {
        return None;
    };
    let function = name.to_string().to_lowercase();
    if function == "pg_partition_ancestors" {
        // Tables are never partitions here: a table's only ancestor is itself, at depth 1
        // (`WITH ORDINALITY AS a(relid, depth)`).
        let relation = alias
            .as_ref()
            .map_or(function.clone(), |a| a.name.to_string());
        let columns = alias.as_ref().map_or(Vec::new(), |a| a.columns.clone());
        let relid = columns
            .first()
            .map_or("relid".to_string(), |c| c.name.to_string());
        let depth = columns
            .get(1)
            .map(|c| format!(", 1 AS {}", c.name))
            .unwrap_or_default();
        let argument = args.args.first()?;
        return derived_table(&format!(
            "(SELECT CAST({argument} AS pg_catalog.regclass) AS {relid}{depth}) AS {relation}"
        ));
    }
    if let Some((list, value_column)) =
        driftdb_pgtypes::functions::json_sets::set_returning(&function)
    {
        let relation = alias
            .as_ref()
            .map_or(function.clone(), |a| a.name.to_string());
        let column = match alias.as_ref().and_then(|a| a.columns.first()) {
            Some(column) => column.name.to_string(),
            None => value_column.map_or_else(|| relation.clone(), str::to_string),
        };
        let arguments = args
            .args
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>();
        return derived_table(&unnested(
            &format!("{list}({})", arguments.join(", ")),
            &column,
            &relation,
        ));
    }
    let (relation, column) = match alias {
        Some(alias) if alias.columns.len() > 1 => return None,
        Some(alias) => (
            alias.name.to_string(),
            alias
                .columns
                .first()
                .map_or_else(|| alias.name.to_string(), |c| c.name.to_string()),
        ),
        None => (function.clone(), function.clone()),
    };
    let arguments = args
        .args
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let text = match function.as_str() {
        "unnest" => unnested(&arguments, &column, &relation),
        "generate_series" if !args.args.iter().all(literal_argument) => {
            unnested(&format!("generate_series({arguments})"), &column, &relation)
        }
        "string_to_array" | "regexp_split_to_array" => {
            format!("(SELECT {function}({arguments}) AS {column}) AS {relation}")
        }
        _ => return None,
    };
    derived_table(&text)
}

/// The FROM item with one row per element of `array`, in column `column` of `relation`.
fn unnested(array: &str, column: &str, relation: &str) -> String {
    format!("(SELECT UNNEST({array}) AS {column}) AS {relation}")
}

/// The FROM item `text` as parsed.
fn derived_table(text: &str) -> Option<TableFactor> {
    let query = crate::parse::parser()
        .try_with_sql(&format!("SELECT * FROM {text}"))
        .and_then(|mut parser| parser.parse_query())
        .ok()?;
    let SetExpr::Select(select) = *query.body else {
        return None;
    };
    select.from.into_iter().next().map(|from| from.relation)
}

/// Whether `expr` is a bare `user`, which sqlparser reads as a name or as a call without
/// parentheses.
fn is_bare_user(expr: &Expr) -> bool {
    match expr {
        Expr::Identifier(ident) => {
            ident.quote_style.is_none() && ident.value.eq_ignore_ascii_case("user")
        }
        Expr::Function(function) => {
            matches!(function.args, FunctionArguments::None)
                && function.name.to_string().eq_ignore_ascii_case("user")
        }
        _ => false,
    }
}

/// Whether a function argument is a literal (possibly negated or cast), which DataFusion's table
/// functions accept.
fn literal_argument(argument: &FunctionArg) -> bool {
    fn literal(expr: &Expr) -> bool {
        match expr {
            Expr::Value(_) | Expr::Interval(_) | Expr::TypedString { .. } => true,
            Expr::UnaryOp { expr, .. } | Expr::Nested(expr) | Expr::Cast { expr, .. } => {
                literal(expr)
            }
            _ => false,
        }
    }
    match argument {
        FunctionArg::Unnamed(FunctionArgExpr::Expr(expr))
        | FunctionArg::Named {
            arg: FunctionArgExpr::Expr(expr),
            ..
        } => literal(expr),
        _ => false,
    }
}

/// `generate_series(…)` called as an expression (`SELECT generate_series(1, 3)`) returns rows
/// in PostgreSQL, as a set-returning function does; DataFusion's returns one array. Such a call
/// is unnested into rows (several in one select list run in lockstep, as in PostgreSQL 10 and
/// later); one the query already unnests is left alone.
fn set_returning_calls(statement: &mut Ast) {
    const MARK: &str = "__driftdb_set_returning";
    let named = |expr: &Expr, name: &str| {
        matches!(expr, Expr::Function(function)
            if function.name.0.len() == 1
                && function.name.0[0]
                    .as_ident()
                    .is_some_and(|ident| ident.value.eq_ignore_ascii_case(name)))
    };
    let only_argument = |expr: &Expr| match expr {
        Expr::Function(function) => match &function.args {
            FunctionArguments::List(list) => match list.args.as_slice() {
                [FunctionArg::Unnamed(FunctionArgExpr::Expr(inner))] => Some(inner.clone()),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    };
    let json_set = |expr: &Expr| match expr {
        Expr::Function(function) if function.name.0.len() == 1 => {
            let name = function.name.to_string().to_ascii_lowercase();
            driftdb_pgtypes::functions::json_sets::set_returning(&name).map(|(list, _)| list)
        }
        _ => None,
    };
    let _ = visit_expressions_mut(statement, |expr| {
        if let Some(list) = json_set(expr)
            && let Expr::Function(function) = expr
            && let FunctionArguments::List(arguments) = &function.args
            && let Some(listed) = call_text(&format!("{MARK}({list}({arguments}))"))
        {
            *expr = listed;
        } else if named(expr, "generate_series")
            && let Some(marked) = call(MARK, expr)
        {
            *expr = marked;
        } else if named(expr, "unnest")
            && let Some(inner) = only_argument(expr)
            && named(&inner, MARK)
            && let Some(series) = only_argument(&inner)
            && let Some(unnested) = call("unnest", &series)
        {
            *expr = unnested;
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    let _ = visit_expressions_mut(statement, |expr| {
        if named(expr, MARK)
            && let Some(series) = only_argument(expr)
            && let Some(unnested) = call("unnest", &series)
        {
            *expr = unnested;
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

/// The expression-level rewrites of [`rewrite`].
fn rewrite_expressions(statement: &mut Ast) {
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
                if let Some(call) = call_text("current_user") {
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
                if let Some(call) = call_text(&format!("get_field({root}, '{field}')")) {
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
                if let Some(call) = call_text(&format!(
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
                if let Some(call) =
                    call_text(&format!("unnest({}({argument}))", arrays::EXPAND_ARRAY))
                {
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
fn array_subquery(query: &Query) -> Option<Expr> {
    let (select, value) = one_column(query)?;
    if select.distinct.is_some() || query.limit_clause.is_some() {
        return None;
    }
    let order = query
        .order_by
        .as_ref()
        .map_or(String::new(), |order| format!(" {order}"));
    let aggregate = call_text(&format!("array_agg({value}{order})"))?;
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
fn hoist_outer_conditions(query: &Query) -> Option<(Expr, Query)> {
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
fn outer_bindings(conditions: &[Expr], inner_names: &[String]) -> Vec<(Expr, Expr, Expr)> {
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
fn from_items(select: &Select) -> impl Iterator<Item = &TableFactor> {
    select.from.iter().flat_map(|table| {
        std::iter::once(&table.relation).chain(table.joins.iter().map(|join| &join.relation))
    })
}

/// The names a SELECT's columns can be qualified with; `None` if a FROM item has none.
fn from_names(select: &Select) -> Option<Vec<String>> {
    from_items(select).map(relation_name).collect()
}

/// The table (or alias) a qualified column reference names: `b` of `a.b.c`, lower case.
fn qualifier(expr: &Expr) -> Option<String> {
    match expr {
        Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
            Some(parts[parts.len() - 2].value.to_lowercase())
        }
        _ => None,
    }
}

/// `[a, b, c]` as `a AND b AND c` (`None` for no conditions).
fn conjunction(conditions: Vec<Expr>) -> Option<Expr> {
    conditions.into_iter().reduce(|left, right| Expr::BinaryOp {
        left: Box::new(left),
        op: BinaryOperator::And,
        right: Box::new(right),
    })
}

/// The name a FROM item's columns are qualified with: its alias, else a table's own name.
fn relation_name(factor: &TableFactor) -> Option<String> {
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
fn conjuncts(condition: &Expr) -> Vec<Expr> {
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
fn reads_only_outer(condition: &Expr, inner_names: &[String]) -> bool {
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

/// The SQL type a `pg_catalog`-qualified or catalog-only type name casts to: `pg_catalog.text`
/// is `text`; `oid` and `xid` are DriftDB's bigint OIDs; `name` and `"char"` are text. (Casts
/// to `regclass` and its kin become lookups: [`object_identifier_type`].)
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
        "oid" | "xid" => Some(SqlType::BigInt(None)),
        "name" | "char" => Some(SqlType::Text),
        other if parts.len() == 2 => crate::parse::parser()
            .try_with_sql(other)
            .and_then(|mut parser| parser.parse_data_type())
            .ok(),
        _ => None,
    }
}

/// The object identifier type (`regclass`, `regtype`, `regnamespace`, `regproc`) a cast is to.
/// DriftDB reads such a cast as a call: text is looked up by name, a number is the OID.
fn object_identifier_type(data_type: &SqlType) -> Option<&'static str> {
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
fn object_identifier_call(expr: &Expr) -> Option<&'static str> {
    let Expr::Function(function) = expr else {
        return None;
    };
    let name = function.name.to_string();
    ["regclass", "regtype", "regnamespace", "regproc"]
        .into_iter()
        .find(|kind| name == format!("__driftdb_{kind}"))
}

/// Whether a cast to `data_type` gives text (`::text`, `::pg_catalog.text`, `::varchar`, `::name`).
fn is_text_type(data_type: &SqlType) -> bool {
    match data_type {
        SqlType::Text | SqlType::Varchar(_) | SqlType::CharacterVarying(_) => true,
        SqlType::Custom(name, _) => matches!(catalog_type(name), Some(SqlType::Text)),
        _ => false,
    }
}

/// `function(argument)`.
/// `json_agg(x …)` as `array_agg` of `to_json(x)` finished into a JSON array (see
/// [`driftdb_pgtypes::functions::json_build::JSON_ARRAY`]); `jsonb_agg` likewise. `None` for any other call.
fn json_aggregate(function: &Function) -> Option<Expr> {
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

fn call(function: &str, argument: &Expr) -> Option<Expr> {
    call_text(&format!("{function}({argument})"))
}

/// The expression `text` spells.
pub(crate) fn call_text(text: &str) -> Option<Expr> {
    crate::parse::parser()
        .try_with_sql(text)
        .and_then(|mut parser| parser.parse_expr())
        .ok()
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
