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
mod arrays;
mod catalog;
mod checked;
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
mod error;
mod foreign;
mod functions;
mod info;
mod infoschema;
mod interval_scale;
mod intliterals;
mod json;
mod jsonbuild;
mod jsonops;
mod jsonsets;
mod nested_values;
mod numeric;
mod order_subquery;
pub mod parse;
mod pgcast;
mod pgcatalog;
mod pgformat;
mod pgmath;
mod pgschema;
mod pgsyntax;
mod prepared;
mod pushdown;
mod rekey;
mod scan;
mod session;
mod settings;
mod single;
mod system;
mod table;
mod temporal;
mod testing;
pub mod text;
mod transaction;
mod types;
mod upsert;
mod values;
mod values_types;
mod views;
mod write;

pub use database::{Database, DatabaseOptions};
pub use datafusion::arrow;
pub use error::{Error, ErrorKind, Notice, Result};
pub use prepared::Prepared;
pub use session::{
    CommandTag, CopyOut, IdleTimeout, QueryResult, Session, Statement, StatementResult,
    TransactionStatus,
};
pub use transaction::Isolation;
pub use types::{PG_ATTNUM, PG_TABLE_OID, PG_TYPE, PG_TYPMOD, field as column_field};
