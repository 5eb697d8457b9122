//! DriftDB's SQL layer.
//!
//! `driftdb-sql` owns everything between SQL text and the event store: parsing (with DriftDB's
//! temporal clauses rewritten into table functions), a DataFusion session whose catalog is the
//! engine's versioned catalog, table providers that read any table at any seq, and transactions
//! (READ COMMITTED, REPEATABLE READ, SERIALIZABLE) whose DDL and writes commit as one seq.
//!
//! The server talks to it through one small API: [`Database`] opens the store and hands out
//! [`Session`]s; a session parses and executes statements into a [`StatementResult`] (rows or a
//! command tag). Errors carry an [`ErrorKind`] that the server maps to a SQLSTATE.
//!
//! This crate never speaks the wire protocol and never touches RocksDB directly; Arrow is used
//! only through `datafusion::arrow`.

mod apply;
mod catalog;
mod checks;
mod colnames;
mod control;
mod copy;
mod ctas;
mod database;
mod ddl;
mod defaults;
mod dialect;
mod dml;
mod engine_error;
mod foreign;
mod functions;
mod info;
mod infoschema;
mod intliterals;
mod nested_values;
mod order_subquery;
pub mod parse;
mod pgcatalog;
mod pgschema;
mod pgsyntax;
mod prepared;
mod pushdown;
mod rekey;
mod scan;
mod schema;
mod session;
mod settings;
mod system;
mod table;
mod temporal;
mod testing;
mod transaction;
mod upsert;
mod values_types;
mod views;
mod write;

pub use database::{Database, DatabaseOptions};
pub use datafusion::arrow;
pub use driftdb_pgtypes::text;
pub use driftdb_pgtypes::types::{
    PG_ATTNUM, PG_TABLE_OID, PG_TYPE, PG_TYPMOD, field as column_field,
};
pub use driftdb_pgtypes::{Error, ErrorKind, Notice, Result};
pub use prepared::Prepared;
pub use session::{
    CommandTag, CopyOut, IdleTimeout, QueryResult, Session, Statement, StatementResult,
    TransactionStatus,
};
pub use transaction::Isolation;
