//! A `VALUES` list whose rows give a column different PostgreSQL types, such as
//! `VALUES ('a'::varchar(3)), ('b')` or `VALUES (1.5::numeric(3,1)), (2)`. DataFusion refuses
//! rows whose values carry different field metadata (where DriftDB keeps a type's name and
//! modifier), while PostgreSQL takes the rows' common type. Every row of such a column is cast
//! to the type of its first cast, without the modifier: PostgreSQL also drops a modifier the
//! rows do not share, and keeps each value as it is. (`char(n)` values become `varchar`, so
//! they lose the padding PostgreSQL keeps.)

use datafusion::sql::sqlparser::ast::{Expr, Query, SetExpr, Values, VisitorMut};
use std::ops::ControlFlow;

/// Gives every column of every `VALUES` list one type; see the module docs.
pub(crate) struct ValuesTypes;

impl VisitorMut for ValuesTypes {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        if let SetExpr::Values(values) = query.body.as_mut() {
            unify(values);
        }
        ControlFlow::Continue(())
    }
}

fn unify(values: &mut Values) {
    let width = values.rows.first().map_or(0, |row| row.len());
    if values.rows.len() < 2 {
        return;
    }
    for column in 0..width {
        let casts: Vec<Option<String>> = values
            .rows
            .iter()
            .map(|row| match row.get(column) {
                Some(Expr::Cast { data_type, .. }) => Some(data_type.to_string()),
                _ => None,
            })
            .collect();
        let Some(first) = casts.iter().flatten().next() else {
            continue;
        };
        let common = without_modifier(first);
        // Casts to different types (`1e15` and `2.5e-300` are cast to numeric and to double)
        // are DataFusion's to reconcile.
        let one_type = casts
            .iter()
            .flatten()
            .all(|cast| without_modifier(cast) == common);
        if !one_type || casts.iter().all(|cast| cast.as_ref() == Some(first)) {
            continue;
        }
        for expr in values.rows.iter_mut().filter_map(|row| row.get_mut(column)) {
            let already = matches!(expr, Expr::Cast { data_type, .. }
                if data_type.to_string() == common);
            if !already
                && let Some(cast) =
                    crate::common::parse::expression(&format!("CAST(({expr}) AS {common})")).ok()
            {
                *expr = cast;
            }
        }
    }
}

/// A type's name without its modifiers (`varchar(3)` is `varchar`, `numeric(5,2)` is
/// `numeric`); a blank-padded `char(n)` becomes `varchar`, as `char` alone is `char(1)`.
fn without_modifier(ty: &str) -> String {
    let mut depth = 0;
    let mut name = String::with_capacity(ty.len());
    for c in ty.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ if depth == 0 => name.push(c),
            _ => {}
        }
    }
    let name = name.trim();
    match name.to_ascii_uppercase().as_str() {
        "CHAR" | "CHARACTER" | "BPCHAR" => "VARCHAR".to_string(),
        _ => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::ast::VisitMut;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn unified(sql: &str) -> String {
        let mut statement = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0);
        let _ = statement.visit(&mut ValuesTypes);
        statement.to_string()
    }

    #[test]
    fn rows_of_one_column_share_the_first_cast_type_without_its_modifier() {
        assert_eq!(
            unified("SELECT * FROM (VALUES ('a'::VARCHAR(3), 1), ('b', 2)) AS v"),
            "SELECT * FROM (VALUES (CAST(('a'::VARCHAR(3)) AS VARCHAR), 1), (CAST(('b') AS VARCHAR), 2)) AS v"
        );
        let same = "SELECT * FROM (VALUES ('{}'::JSONB), ('[]'::JSONB)) AS v";
        assert_eq!(unified(same), same);
        let different = "SELECT * FROM (VALUES (CAST('1e15' AS NUMERIC(16,0))), (CAST('2e-300' AS DOUBLE PRECISION))) AS v";
        assert_eq!(unified(different), different);
        assert_eq!(without_modifier("NUMERIC(5,2)"), "NUMERIC");
        assert_eq!(without_modifier("CHAR(2)"), "VARCHAR");
        assert_eq!(
            without_modifier("TIMESTAMP(3) WITH TIME ZONE"),
            "TIMESTAMP WITH TIME ZONE"
        );
    }
}
