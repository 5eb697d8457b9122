//! `CREATE [OR REPLACE] VIEW`: the view's query must plan now, and its definition is staged in
//! the transaction like a table's. (DROP VIEW is `crate::ddl::drop_relations`; reading a view is
//! [`crate::exec::views`].)

use crate::common::names::table_name;
use crate::ddl::relation_exists_error;
use crate::exec::Executor;
use datafusion::sql::sqlparser::ast::{CreateView, Statement};
use driftdb_engine::{ColumnDef, ColumnType, TableDef, ViewDef};
use driftdb_pgtypes::error::{Error, ErrorKind, Result};
use driftdb_pgtypes::idents::normalize;

/// `CREATE [OR REPLACE] VIEW name [(columns)] AS query`: the query must plan now; the view is
/// visible from the commit on.
pub(crate) async fn create_view(exec: &Executor, create: &CreateView) -> Result<()> {
    if create.materialized || create.temporary || create.to.is_some() {
        return Err(Error::unsupported("materialized and temporary views"));
    }
    let scope = exec.scope();
    let name = table_name(&create.name)?;
    let columns: Vec<String> = create.columns.iter().map(|c| normalize(&c.name)).collect();
    let schema = exec
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
            let ty = driftdb_pgtypes::types::column_type_of(field).unwrap_or(ColumnType::Text);
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
