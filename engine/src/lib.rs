//! DriftDB's event store.
//!
//! `driftdb-engine` owns everything DriftDB keeps on disk: every row change as an immutable
//! event under a versioned key `(table id · primary key · seq descending)`, one commit record per
//! seq, and a versioned catalog of table definitions. It answers "what did this table hold right
//! after commit N" and "every version of every row", and it writes each commit as one atomic,
//! synced RocksDB batch.
//!
//! Invariants:
//! - One global, gap-free [`Seq`]: every commit that writes rows takes the next one; DDL alone
//!   does not advance it. `Seq(0)` is the database before any data commit.
//! - Every stored value is framed `[len][crc32][payload]` ([`frame`]) and checked on every read;
//!   a mismatch is [`Error::Corrupt`], never a panic and never wrong rows.
//! - Byte layouts live in one module each: keys in [`keys`], frames in [`frame`], row events in
//!   [`row`], commit records in [`commit`].
//!
//! This crate must never depend on DataFusion, Arrow, SQL text or the wire protocol, and only the
//! `store` module touches the `rocksdb` crate.

pub mod catalog;
pub mod commit;
mod engine;
mod error;
pub mod frame;
mod ids;
pub mod keys;
pub mod row;
mod scan;
mod store;

pub use catalog::{CatalogPoint, ColumnDef, TableDef};
pub use engine::{Engine, EngineOptions, RowWrite, WriteExpectation};
pub use error::{Error, ErrorKind, Result};
pub use ids::{Seq, TableId};
pub use row::{ColumnType, RowView, ValueRef};
pub use scan::{Flow, VersionRef};
