//! Views: CREATE [OR REPLACE] VIEW (DROP VIEW is [`crate::ddl::drop_relations`]), kept in the versioned catalog like tables
//! (a definition with the view's query and no rows), and expanded into derived tables before a
//! statement is planned — so a view always reads its tables as they are now, and a view of
//! views works.

use crate::catalog::SessionScope;
use crate::ddl::{normalize, relation_exists_error, table_name};
use crate::dml::quoted;
use crate::error::{Error, ErrorKind, Result};
use crate::session::Session;
use datafusion::sql::sqlparser::ast::{
    CreateView, SetExpr, Statement, TableFactor, VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use driftdb_engine::{ColumnDef, ColumnType, TableDef, ViewDef};
use std::ops::ControlFlow;

/// How deep views may nest (a view that reaches itself would otherwise never end).
const MAX_DEPTH: usize = 64;

/// The derived table a reference to `view` (called `alias`) stands for.
fn derived_table(view: &ViewDef, alias: &str) -> Result<TableFactor> {
    let columns = if view.columns.is_empty() {
        String::new()
    } else {
        let names: Vec<String> = view.columns.iter().map(|c| quoted(c)).collect();
        format!(" ({})", names.join(", "))
    };
    let sql = format!(
        "SELECT 1 FROM ({}) AS {}{columns}",
        view.query,
        quoted(alias)
    );
    let internal = |e: String| Error::new(ErrorKind::Internal, format!("view query: {e}"));
    let query = Parser::new(&PostgreSqlDialect {})
        .try_with_sql(&sql)
        .and_then(|mut parser| parser.parse_query())
        .map_err(|e| internal(e.to_string()))?;
    match *query.body {
        SetExpr::Select(select) => select
            .from
            .into_iter()
            .next()
            .map(|from| from.relation)
            .ok_or_else(|| internal("no FROM".into())),
        _ => Err(internal("not a SELECT".into())),
    }
}

struct Expander<'s> {
    scope: &'s SessionScope,
    expansions: usize,
    error: Option<Error>,
}

impl VisitorMut for Expander<'_> {
    type Break = ();

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        let TableFactor::Table {
            name,
            alias,
            args: None,
            ..
        } = factor
        else {
            return ControlFlow::Continue(());
        };
        let Ok(relation) = table_name(name) else {
            return ControlFlow::Continue(());
        };
        let Some(def) = self.scope.resolve_current(&relation) else {
            return ControlFlow::Continue(());
        };
        let Some(view) = &def.view else {
            return ControlFlow::Continue(());
        };
        self.expansions += 1;
        if self.expansions > MAX_DEPTH * 16 {
            self.error = Some(Error::new(
                ErrorKind::InvalidObjectDefinition,
                format!("infinite recursion detected in rules for relation \"{relation}\""),
            ));
            return ControlFlow::Break(());
        }
        let alias_name = match alias {
            Some(alias) => normalize(&alias.name),
            None => relation.clone(),
        };
        match derived_table(view, &alias_name) {
            Ok(derived) => {
                *factor = derived;
                ControlFlow::Continue(())
            }
            Err(e) => {
                self.error = Some(e);
                ControlFlow::Break(())
            }
        }
    }
}

/// Replaces every reference to a view in `statement` with the view's query.
pub fn expand(scope: &SessionScope, statement: &mut Statement) -> Result<()> {
    let mut expander = Expander {
        scope,
        expansions: 0,
        error: None,
    };
    let _ = statement.visit(&mut expander);
    expander.error.map_or(Ok(()), Err)
}

/// `CREATE [OR REPLACE] VIEW name [(columns)] AS query`: the query must plan now; the view is
/// visible from the commit on.
pub(crate) async fn create_view(session: &Session, create: &CreateView) -> Result<()> {
    if create.materialized || create.temporary || create.to.is_some() {
        return Err(Error::unsupported("materialized and temporary views"));
    }
    let scope = session.scope();
    let name = table_name(&create.name)?;
    let columns: Vec<String> = create.columns.iter().map(|c| normalize(&c.name)).collect();
    let schema = session
        .query_schema(Statement::Query(create.query.clone()))
        .await?;
    if columns.len() > schema.fields().len() {
        return Err(Error::new(
            ErrorKind::SyntaxError,
            "CREATE VIEW specifies more column names than columns",
        ));
    }
    let output = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(position, field)| {
            let name = columns.get(position).unwrap_or(field.name());
            let ty = crate::types::column_type_of(field).unwrap_or(ColumnType::Text);
            ColumnDef::new(name.clone(), ty)
        })
        .collect();
    let view = ViewDef {
        query: create.query.to_string(),
        columns,
        output,
    };
    let existing = scope.resolve_current(&name);
    let id = match existing {
        Some(def) if def.view.is_some() && create.or_replace => def.id,
        Some(_) if create.if_not_exists => return Ok(()),
        Some(_) => {
            return Err(relation_exists_error(&name));
        }
        None if scope.relation_exists(&name) => {
            return Err(relation_exists_error(&name));
        }
        None => scope.db.engine.reserve_table_id(),
    };
    let def = TableDef {
        id,
        name,
        columns: Vec::new(),
        primary_key: Vec::new(),
        indexes: Vec::new(),
        checks: Vec::new(),
        foreign_keys: Vec::new(),
        view: Some(Box::new(view)),
    };
    scope.with_transaction(|txn| txn.redefine(id, Some(def)))
}

/// The error for naming a relation of the wrong kind (`"v" is not a table`).
pub(crate) fn not_a(name: &str, kind: &str) -> Error {
    Error::new(
        ErrorKind::WrongObjectType,
        format!("\"{name}\" is not a {kind}"),
    )
}
