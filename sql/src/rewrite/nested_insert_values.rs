//! DataFusion 55 plans an INSERT's whole source with the target table's columns as the type of
//! every VALUES list in it, so `INSERT … SELECT … FROM (VALUES …) AS v(…)` (SQLAlchemy's
//! batched insert) fails whenever that list has other columns than the table. Such lists are
//! computed first, as queries of their own, and the INSERT reads their rows from statement
//! tables ([`crate::common::names::STATEMENT_TABLES`]).

use crate::common::names::SCHEMA_NAME;
use crate::common::names::STATEMENT_TABLES;
use datafusion::sql::sqlparser::ast::{
    Insert, ObjectName, Query, SetExpr, TableFactor, VisitMut, VisitorMut,
};
use std::ops::ControlFlow;

/// The prefix of the statement tables that hold an INSERT's nested VALUES lists.
const PREFIX: &str = "insert_values_";

/// Replaces each VALUES list nested in `insert`'s source (not a top-level one, which DataFusion
/// reads right) with a statement table, and returns the tables' names with the queries that
/// fill them.
pub(crate) fn take(insert: &mut Insert) -> Vec<(String, Query)> {
    let Some(source) = insert.source.as_mut() else {
        return Vec::new();
    };
    if matches!(source.body.as_ref(), SetExpr::Values(_)) {
        return Vec::new();
    }
    let mut lists = NestedValues(Vec::new());
    let _ = source.visit(&mut lists);
    lists.0
}

struct NestedValues(Vec<(String, Query)>);

impl VisitorMut for NestedValues {
    type Break = ();

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        let TableFactor::Derived {
            subquery, alias, ..
        } = factor
        else {
            return ControlFlow::Continue(());
        };
        if !matches!(subquery.body.as_ref(), SetExpr::Values(_)) {
            return ControlFlow::Continue(());
        }
        let name = format!("{PREFIX}{}", self.0.len());
        let table = TableFactor::Table {
            name: ObjectName::from(vec![
                STATEMENT_TABLES.into(),
                SCHEMA_NAME.into(),
                name.as_str().into(),
            ]),
            alias: alias.take(),
            args: None,
            with_hints: Vec::new(),
            version: None,
            with_ordinality: false,
            partitions: Vec::new(),
            json_path: None,
            sample: None,
            index_hints: Vec::new(),
        };
        self.0.push((name, (**subquery).clone()));
        *factor = table;
        ControlFlow::Continue(())
    }
}
