//! The statements that change definitions: CREATE and DROP of tables ([`tables`]) and indexes
//! ([`indexes`]), ALTER TABLE ([`alter`]), with the declarations they share ([`columns`]);
//! column names for CREATE TABLE AS ([`ctas`]), ADD PRIMARY KEY to a table without one
//! ([`rekey`]) and CREATE VIEW ([`views`]). New definitions are staged in the session's
//! transaction and become visible, versioned, at its commit. This module holds the lookup and the
//! errors they share.

pub(crate) mod alter;
pub(crate) mod columns;
pub(crate) mod ctas;
pub(crate) mod indexes;
pub(crate) mod rekey;
pub(crate) mod tables;
pub(crate) mod views;

use crate::storage::scope::SessionScope;
use driftdb_engine::TableDef;
use driftdb_pgtypes::error::{Error, ErrorKind, Result};
use std::sync::Arc;

/// The error for a relation name already taken (42P07).
pub(crate) fn relation_exists_error(name: &str) -> Error {
    Error::new(
        ErrorKind::DuplicateTable,
        format!("relation \"{name}\" already exists"),
    )
}

/// The error for naming a relation of the wrong kind (`"v" is not a table`).
pub(crate) fn not_a(name: &str, kind: &str) -> Error {
    Error::new(
        ErrorKind::WrongObjectType,
        format!("\"{name}\" is not a {kind}"),
    )
}

/// The table called `name` as the session's transaction sees it (a view is not one).
pub(crate) fn existing(scope: &SessionScope, name: &str) -> Result<Arc<TableDef>> {
    match scope.resolve_current(name) {
        Some(def) if def.view.is_some() => Err(not_a(name, "table")),
        Some(def) => Ok(def),
        None => Err(Error::new(
            ErrorKind::UndefinedTable,
            format!("relation \"{name}\" does not exist"),
        )),
    }
}
