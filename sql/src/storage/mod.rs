//! Tables over the event store: a session's scope and transaction, the `TableProvider` and its
//! scans (any table at any seq), key pushdown, the write path with its checks, defaults and
//! foreign-key checks, and the table functions and system tables that read history.

pub(crate) mod checks;
pub(crate) mod database;
pub(crate) mod defaults;
pub(crate) mod encode;
pub(crate) mod foreign_keys;
pub(crate) mod held;
pub(crate) mod locks;
pub(crate) mod pushdown;
pub(crate) mod scan;
pub(crate) mod schema;
pub(crate) mod scope;
pub(crate) mod sequences;
pub(crate) mod system;
pub(crate) mod table;
pub(crate) mod table_functions;
pub(crate) mod transaction;
pub(crate) mod write;
