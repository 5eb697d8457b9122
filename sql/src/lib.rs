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

mod catalog;
mod common;
mod ddl;
mod dml;
mod exec;
mod keypath;
mod pgcompat;
mod rewrite;
mod session;
mod storage;

pub use common::names::DATABASE_NAME;
pub use common::parse;
pub use datafusion::arrow;
pub use driftdb_pgtypes::text;
pub use driftdb_pgtypes::types::{
    PG_ATTNUM, PG_TABLE_OID, PG_TYPE, PG_TYPMOD, field as column_field,
};
pub use driftdb_pgtypes::{Error, ErrorKind, Notice, Result};
pub use exec::results::{CommandTag, CopyOut, QueryResult, StatementResult};
pub use session::prepared::Prepared;
pub use session::{IdleTimeout, Session, Statement, TransactionStatus};
pub use storage::database::{Database, DatabaseOptions};
pub use storage::transaction::Isolation;
