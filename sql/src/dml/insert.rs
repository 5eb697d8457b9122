//! INSERT: DataFusion plans the rows (nested VALUES computed, defaults filled in) and the write
//! path adds them; RETURNING and ON CONFLICT go through [`crate::dml::upsert`].

use crate::dml::rows::count_of;
use crate::exec::Executor;
use crate::exec::results::{CommandTag, StatementResult};
use datafusion::sql::sqlparser::ast::Insert;
use datafusion::sql::sqlparser::ast::Statement as Ast;
use datafusion::sql::sqlparser::ast::TableObject;
use driftdb_pgtypes::error::{Error, Result};

/// Runs an INSERT (its nested VALUES lists already computed).
pub(crate) async fn insert(exec: &Executor, mut insert: Insert) -> Result<StatementResult> {
    if let TableObject::TableName(name) = &insert.table
        && let Some(def) = exec
            .scope()
            .resolve_current(&crate::common::names::table_name(name)?)
    {
        if def.view.is_some() {
            return Err(Error::unsupported(format!("writing to view \"{name}\"")));
        }
        crate::storage::defaults::prepare_insert(&def, &mut insert)?;
        if insert.returning.is_some() || insert.on.is_some() {
            return crate::dml::upsert::insert(exec, def, insert).await;
        }
    }
    let batches = exec.collect(Ast::Insert(insert)).await?;
    let rows = count_of(&batches)?;
    Ok(StatementResult::Command(CommandTag::with_rows(
        "INSERT", rows,
    )))
}
