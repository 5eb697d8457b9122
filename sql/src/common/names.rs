//! The names every layer agrees on: the database, its one schema, where a statement's own rows
//! are registered, and how a written table name resolves.

use datafusion::sql::sqlparser::ast::{ObjectName, ObjectNamePart};
use driftdb_pgtypes::error::{Error, ErrorKind, Result};
use driftdb_pgtypes::idents::normalize;

/// The one database, and DataFusion's catalog that holds it (`current_database()`).
pub const DATABASE_NAME: &str = "driftdb";
/// The one schema.
pub const SCHEMA_NAME: &str = "public";

/// Whether the qualifiers of a table name (none, a schema, or a catalog and a schema) name
/// DriftDB's own schema.
pub fn in_own_schema(qualifiers: &[&str]) -> bool {
    match qualifiers {
        [] => true,
        [schema] => *schema == SCHEMA_NAME,
        [catalog, schema] => *catalog == DATABASE_NAME && *schema == SCHEMA_NAME,
        _ => false,
    }
}

/// The catalog where a statement's own rows (RETURNING, ON CONFLICT, cascades) are registered
/// for the SQL it generates to read.
pub(crate) const STATEMENT_TABLES: &str = "driftdb_statement";

/// The table name in `name`, which may be qualified by `public` or `driftdb.public`.
pub(crate) fn table_name(name: &ObjectName) -> Result<String> {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|part| match part {
            ObjectNamePart::Identifier(ident) => Ok(normalize(ident)),
            other => Err(Error::unsupported(format!("object name {other}"))),
        })
        .collect::<Result<_>>()?;
    match parts.as_slice() {
        [table] => Ok(table.clone()),
        [schema, table] if schema == SCHEMA_NAME => Ok(table.clone()),
        [catalog, schema, table] if catalog == DATABASE_NAME && schema == SCHEMA_NAME => {
            Ok(table.clone())
        }
        _ => Err(Error::new(
            ErrorKind::UndefinedTable,
            format!("relation \"{name}\" does not exist"),
        )),
    }
}
