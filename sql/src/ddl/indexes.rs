//! CREATE INDEX and DROP INDEX: an index is used by reads from its commit on; a unique index
//! also refuses a second row with the same values.

use crate::common::names::table_name;
use crate::ddl::columns::{index_column_names, slots_of};
use crate::ddl::existing;
use crate::ddl::relation_exists_error;
use crate::storage::scope::SessionScope;
use datafusion::sql::sqlparser::ast::{CreateIndex, ObjectName};
use driftdb_engine::{IndexDef, TableDef};
use driftdb_pgtypes::error::{Error, ErrorKind, Notice, Result};

/// `CREATE [UNIQUE] INDEX`: used by reads from its commit on; a unique index also refuses a
/// second row with the same values (and cannot be created over rows that repeat them).
pub(crate) fn create_index(scope: &SessionScope, create: &CreateIndex) -> Result<()> {
    if create.predicate.is_some() || !create.include.is_empty() || !create.with.is_empty() {
        return Err(Error::unsupported(
            "partial indexes and INCLUDE / WITH options",
        ));
    }
    let table = table_name(&create.table_name)?;
    let current = existing(scope, &table)?;
    let column_names = index_column_names(&create.columns)?;
    let columns = slots_of(&current.columns, &column_names, "index")?;
    let name = match &create.name {
        Some(name) => table_name(name)?,
        None => format!("{table}_{}_idx", column_names.join("_")),
    };
    if scope.relation_exists(&name) {
        if create.if_not_exists {
            scope.notice(Notice::note(
                Some(ErrorKind::DuplicateTable),
                format!("relation \"{name}\" already exists, skipping"),
            ));
            return Ok(());
        }
        return Err(relation_exists_error(&name));
    }
    let mut def: TableDef = (*current).clone();
    def.indexes.push(IndexDef {
        id: scope.db.engine.reserve_index_id(),
        name,
        columns,
        unique: create.unique,
        constraint: false,
    });
    scope.with_transaction(|txn| txn.redefine(def.id, Some(def)))
}

/// `DROP INDEX`: reads stop using the index from the commit on; earlier points still may.
pub(crate) fn drop_indexes(
    scope: &SessionScope,
    names: &[ObjectName],
    if_exists: bool,
) -> Result<()> {
    for name in names {
        let name = table_name(name)?;
        let owner = scope.current_table_names().into_iter().find_map(|table| {
            scope
                .resolve_current(&table)
                .filter(|def| def.indexes.iter().any(|i| i.name == name))
        });
        match owner {
            Some(current) => {
                let mut def: TableDef = (*current).clone();
                def.indexes.retain(|i| i.name != name);
                scope.with_transaction(|txn| txn.redefine(def.id, Some(def)))?;
            }
            None if if_exists => scope.notice(Notice::note(
                None,
                format!("index \"{name}\" does not exist, skipping"),
            )),
            None => {
                return Err(Error::new(
                    ErrorKind::UndefinedObject,
                    format!("index \"{name}\" does not exist"),
                ));
            }
        }
    }
    Ok(())
}
