//! Result column names as PostgreSQL gives them (its `FigureColname`): a column reference is
//! named after the column, a function call after the function (`count(*)` is `count`), a cast
//! after what it casts or else its type (`'1'::int` is `int4`), `CASE` is `case`, and any other
//! expression is `?column?`. DataFusion names columns after their whole expression
//! (`count(*)`, `Int64(1)`), so the names are worked out from the statement and put on the
//! result's schema; the rows themselves are unchanged.

use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::sql::sqlparser::ast::{
    DataType as SqlType, Expr, Ident, Query, SelectItem, SetExpr, Statement as Ast,
};
use driftdb_pgtypes::idents::normalize;
use std::sync::Arc;

/// PostgreSQL's name for an expression without an alias, if it has one (else `?column?`).
fn expression_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Identifier(ident) => Some(normalize(ident)),
        Expr::CompoundIdentifier(parts) => parts.last().map(normalize),
        Expr::Function(function) => function
            .name
            .0
            .last()
            .and_then(|part| part.as_ident())
            .map(|ident| ident.value.to_ascii_lowercase()),
        // A cast is named after what it casts when that has a name of its own (a column, a
        // function), else after its type (PostgreSQL's weaker names: another cast's, CASE's).
        Expr::Cast {
            expr, data_type, ..
        } => match expr.as_ref() {
            Expr::Cast { .. } | Expr::TypedString(_) | Expr::Case { .. } => {
                type_name(data_type).or_else(|| expression_name(expr))
            }
            _ => expression_name(expr).or_else(|| type_name(data_type)),
        },
        Expr::TypedString(typed) => type_name(&typed.data_type),
        Expr::Nested(inner) | Expr::Collate { expr: inner, .. } => expression_name(inner),
        Expr::Case { .. } => Some("case".into()),
        Expr::Exists { .. } => Some("exists".into()),
        Expr::Array(_) => Some("array".into()),
        Expr::Extract { .. } => Some("extract".into()),
        Expr::Substring { .. } => Some("substring".into()),
        Expr::Position { .. } => Some("position".into()),
        Expr::Trim { .. } => Some("btrim".into()),
        Expr::Ceil { .. } => Some("ceil".into()),
        Expr::Floor { .. } => Some("floor".into()),
        Expr::Overlay { .. } => Some("overlay".into()),
        Expr::AtTimeZone { .. } => Some("timezone".into()),
        Expr::Subquery(query) => output_names(query)
            .and_then(|names| names.into_iter().next())
            .flatten(),
        _ => None,
    }
}

/// The prefix of an alias that [`keep_name`] gives a column: what follows the column's number
/// and a `:` is the name PostgreSQL gives it.
const KEPT_NAME: &str = "__driftdb_column_";

/// An alias that names a result column `name` while unique among its SELECT's columns
/// (`n.oid, n.*` is two columns named `oid`, which DataFusion cannot plan), for a column
/// whose expression a rewrite changes or DataFusion would name alike.
pub fn keep_name(position: usize, expr: &Expr) -> Ident {
    let name = expression_name(expr).unwrap_or_else(|| "?column?".into());
    Ident::with_quote('"', format!("{KEPT_NAME}{position}:{name}"))
}

/// An alias unique among its SELECT's columns that still names the column `alias` (`SELECT 1
/// AS a, 2 AS a` names two columns `a`, which DataFusion cannot plan).
pub fn keep_alias(position: usize, alias: &Ident) -> Ident {
    Ident::with_quote('"', format!("{KEPT_NAME}{position}:{}", alias_name(alias)))
}

/// An alias's name, or the name [`keep_name`] kept in it.
fn alias_name(alias: &Ident) -> String {
    let name = normalize(alias);
    match name
        .strip_prefix(KEPT_NAME)
        .and_then(|kept| kept.split_once(':'))
    {
        Some((_, kept)) => kept.to_string(),
        None => name,
    }
}

/// The name PostgreSQL gives a cast to `ty` when the value cast has none.
fn type_name(ty: &SqlType) -> Option<String> {
    let name = match ty {
        SqlType::Bool | SqlType::Boolean => "bool",
        SqlType::SmallInt(_) | SqlType::Int2(_) => "int2",
        SqlType::Int(_) | SqlType::Int4(_) | SqlType::Integer(_) => "int4",
        SqlType::BigInt(_) | SqlType::Int8(_) => "int8",
        SqlType::Real | SqlType::Float4 => "float4",
        SqlType::DoublePrecision | SqlType::Float8 | SqlType::Float(_) => "float8",
        SqlType::Numeric(_) | SqlType::Decimal(_) | SqlType::Dec(_) => "numeric",
        SqlType::Text => "text",
        SqlType::Varchar(_) | SqlType::CharacterVarying(_) | SqlType::CharVarying(_) => "varchar",
        SqlType::Char(_) | SqlType::Character(_) => "bpchar",
        SqlType::Date => "date",
        SqlType::Time(..) => "time",
        SqlType::Timestamp(_, tz) => match tz {
            datafusion::sql::sqlparser::ast::TimezoneInfo::Tz
            | datafusion::sql::sqlparser::ast::TimezoneInfo::WithTimeZone => "timestamptz",
            _ => "timestamp",
        },
        SqlType::Interval { .. } => "interval",
        SqlType::Bytea => "bytea",
        SqlType::Uuid => "uuid",
        SqlType::JSON => "json",
        SqlType::JSONB => "jsonb",
        SqlType::Regclass => "regclass",
        SqlType::Custom(name, _) => {
            return name
                .0
                .last()
                .and_then(|part| part.as_ident())
                .map(|ident| ident.value.to_ascii_lowercase());
        }
        _ => return None,
    };
    Some(name.into())
}

/// The name of each output column of `query`, where the statement decides it (`None` for a
/// column a wildcard expands to: DataFusion already names it after its column). `None` when
/// the columns cannot be told apart (two wildcards, VALUES).
fn output_names(query: &Query) -> Option<Vec<Option<String>>> {
    let mut body = query.body.as_ref();
    loop {
        match body {
            SetExpr::Query(inner) => body = inner.body.as_ref(),
            SetExpr::SetOperation { left, .. } => body = left.as_ref(),
            SetExpr::Select(select) => {
                return Some(
                    select
                        .projection
                        .iter()
                        .map(|item| match item {
                            SelectItem::UnnamedExpr(expr) => {
                                Some(expression_name(expr).unwrap_or_else(|| "?column?".into()))
                            }
                            SelectItem::ExprWithAlias { alias, .. } => Some(alias_name(alias)),
                            _ => None,
                        })
                        .collect(),
                );
            }
            _ => return None,
        }
    }
}

/// The column names PostgreSQL gives a query statement's result (see [`rename`]).
pub fn statement_names(statement: &Ast) -> Option<Vec<Option<String>>> {
    match statement {
        Ast::Query(query) => output_names(query),
        _ => None,
    }
}

/// `schema` (the result of the statement `names` came from) with PostgreSQL's column names.
pub fn rename(names: Option<Vec<Option<String>>>, schema: SchemaRef) -> SchemaRef {
    let Some(names) = names else {
        return schema;
    };
    let wildcards = names.iter().filter(|name| name.is_none()).count();
    let fields = schema.fields();
    let named = names.len() - wildcards;
    // A single wildcard stands for however many columns are left over; with more, which
    // column is which cannot be told.
    if wildcards > 1 || fields.len() < named || (wildcards == 0 && fields.len() != named) {
        return schema;
    }
    let expanded = fields.len() - named;
    let mut renamed = Vec::with_capacity(fields.len());
    let mut index = 0;
    for name in names {
        match name {
            Some(name) => {
                renamed.push(Arc::new(fields[index].as_ref().clone().with_name(name)));
                index += 1;
            }
            None => {
                renamed.extend(fields[index..index + expanded].iter().cloned());
                index += expanded;
            }
        }
    }
    Arc::new(Schema::new_with_metadata(
        renamed,
        schema.metadata().clone(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::{DataType, Field};
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn names(sql: &str, columns: usize) -> Vec<String> {
        let statement = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0);
        let fields: Vec<Field> = (0..columns)
            .map(|i| Field::new(format!("df{i}"), DataType::Int64, true))
            .collect();
        let schema = rename(statement_names(&statement), Arc::new(Schema::new(fields)));
        schema.fields().iter().map(|f| f.name().clone()).collect()
    }

    #[test]
    fn columns_are_named_as_postgresql_names_them() {
        assert_eq!(
            names(
                "SELECT count(*), t.id, 1, a + b, '1'::int, x::text, CASE WHEN true THEN 1 END, \
                 COALESCE(a, b), v AS \"Named\", (SELECT max(y) FROM u) FROM t",
                10
            ),
            [
                "count", "id", "?column?", "?column?", "int4", "x", "case", "coalesce", "Named",
                "max"
            ]
        );
    }

    #[test]
    fn a_wildcard_keeps_its_columns() {
        assert_eq!(
            names("SELECT *, count(*) OVER () FROM t", 3),
            ["df0", "df1", "count"]
        );
        assert_eq!(names("SELECT *, * FROM t", 4), ["df0", "df1", "df2", "df3"]);
        assert_eq!(names("SELECT 1 UNION SELECT 2", 1), ["?column?"]);
    }
}
