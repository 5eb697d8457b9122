//! Functions in FROM that DataFusion's table functions do not plan — `pg_catalog.f(…)`,
//! `unnest(a) x`, `generate_series` over non-literal arguments, a scalar function read as a
//! relation — and set-returning calls in a select list, rewritten into forms it plans.

use crate::common::parse::call;
use datafusion::sql::sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, SetExpr, Statement as Ast,
    TableAlias, TableAliasColumnDef, TableFactor, VisitorMut, visit_expressions_mut,
};

/// Table functions called as `pg_catalog.f(…)` in FROM, as plain `f(…)`.
pub(crate) struct CatalogTableFunctions;

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
pub(crate) fn function_in_from(factor: &TableFactor) -> Option<TableFactor> {
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
pub(crate) fn unnested(array: &str, column: &str, relation: &str) -> String {
    format!("(SELECT UNNEST({array}) AS {column}) AS {relation}")
}

/// The FROM item `text` as parsed.
pub(crate) fn derived_table(text: &str) -> Option<TableFactor> {
    let query = crate::common::parse::parser()
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
pub(crate) fn is_bare_user(expr: &Expr) -> bool {
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
pub(crate) fn literal_argument(argument: &FunctionArg) -> bool {
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
pub(crate) fn set_returning_calls(statement: &mut Ast) {
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
            && let Some(listed) =
                crate::common::parse::expression(&format!("{MARK}({list}({arguments}))")).ok()
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
