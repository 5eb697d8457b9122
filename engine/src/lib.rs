//! DriftDB's event store.
//!
//! `driftdb-engine` owns everything DriftDB keeps on disk: every row change as an immutable
//! event under a versioned key `(table id · primary key · seq descending)`, each row's newest
//! event in a latest-state family (so current state does not pay for history), secondary-index
//! entries, one commit record per seq, and a versioned catalog of table and index definitions. It
//! answers "what did this table hold right after commit N" (scans, ranges, point gets, index
//! lookups) and "every version of every row", and it writes each commit as one atomic RocksDB
//! batch, durable before it is acknowledged, with concurrent commits sharing one WAL sync.
//!
//! Invariants:
//! - One global, gap-free [`Seq`]: every commit that writes rows takes the next one; DDL alone
//!   does not advance it. `Seq(0)` is the database before any data commit.
//! - Every stored value is framed `[len][crc32][payload]` ([`frame`]) and checked on every read;
//!   a mismatch is [`Error::Corrupt`], never a panic and never wrong rows.
//! - Byte layouts live in one module each: keys in [`keys`], frames in [`frame`], row events in
//!   [`row`], commit records in [`commit`], latest-state values in `latest`, index entries in
//!   [`index`].
//! - [`verify::verify`] walks every stored byte and reports every damaged location.
//!
//! This crate must never depend on DataFusion, Arrow, SQL text or the wire protocol, and only the
//! `store` module touches the `rocksdb` crate.

pub mod catalog;
pub mod commit;
mod ddl;
mod durability;
mod engine;
mod error;
pub mod frame;
mod identity;
mod ids;
pub mod index;
pub mod keys;
mod latest;
pub mod row;
mod scan;
mod store;
mod transaction;
pub mod verify;
mod write;

pub use catalog::{
    CatalogPoint, CheckDef, ColumnDef, ForeignKeyAction, ForeignKeyDef, Identity, IndexDef,
    TableDef, ViewDef,
};
pub use engine::{CommitInfo, Engine, EngineOptions};
pub use error::{Error, ErrorKind, Result};
pub use ids::{IndexId, Seq, TableId};
pub use keys::KeyRange;
pub use row::{ColumnType, Interval, RowView, UNCONSTRAINED_NUMERIC_SCALE, ValueRef};
pub use scan::{Flow, VersionRef};
pub use transaction::Transaction;
pub use write::{RowWrite, WriteExpectation};
