//! The key path: statements that name one row by its whole primary key go straight to the
//! engine, without DataFusion planning (which costs more than PostgreSQL's whole round trip).
//!
//! It takes only what it can do exactly as the full path does — same rows, column names and
//! types, errors, transaction semantics — and hands everything else back (`None`) to be planned.
//! [`shape`] decides what qualifies; [`select`] reads one key; [`write`] updates or deletes one
//! row through the full path's staging and checks; [`insert`] adds rows of constants through
//! the same checks and encoding as a planned INSERT. `SET driftdb.fast_path = off`
//! turns the key path off (the .slt suite runs both ways).

mod insert;
mod select;
mod shape;
mod write;

use crate::exec::Executor;
use crate::exec::results::StatementResult;
use datafusion::sql::sqlparser::ast::Statement as Ast;
use driftdb_pgtypes::error::Result;

/// Runs `statement` on the key path if it qualifies and the session has not turned the key path
/// off; `None` leaves it to the full path.
pub(crate) async fn run(exec: &Executor, statement: &Ast) -> Result<Option<StatementResult>> {
    if !exec.scope().settings().fast_paths_on() {
        return Ok(None);
    }
    let result = match statement {
        Ast::Query(_) => select::point_select(exec, statement),
        Ast::Update(update) => write::update(exec, update).await,
        Ast::Delete(delete) => write::delete(exec, delete).await,
        Ast::Insert(insert) => insert::insert(exec, insert).await,
        _ => Ok(None),
    };
    // A statement the key path took counts whether it succeeded or failed.
    if !matches!(result, Ok(None)) {
        exec.scope().count_key_path_statement();
    }
    result
}
