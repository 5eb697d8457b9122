//! Transactions as the engine commits them: everything one SQL transaction wrote — row events and
//! table definitions — plus what it must not have missed, checked and written as one batch.
//!
//! The engine runs no transactions itself; the SQL layer buffers a transaction's writes and
//! hands them over at COMMIT. Under the commit lock the engine then certifies it against every
//! commit written since the transaction's snapshot (optimistic concurrency, first committer wins):
//!
//! - **Rows written**: each write says what it expects of the row ([`WriteExpectation`]); a row
//!   changed by a later commit fails the transaction with [`Error::Conflict`], a key taken by a
//!   concurrent insert with [`Error::DuplicateKey`].
//! - **Definitions**: every table the transaction wrote or redefined must not have been redefined
//!   since the catalog version it planned against ([`Engine::catalog_version`]).
//! - **Reads** (SERIALIZABLE only): no key range the transaction read at its snapshot may hold a
//!   change committed after it. With writes applied in commit order and every writer's reads
//!   certified against that order, the committed history is serializable; read-only
//!   transactions need no certificate, they read a prefix of that order.
//!
//! [`WriteExpectation`]: crate::WriteExpectation

use crate::Engine;
use crate::catalog::TableDef;
use crate::engine::Pipeline;
use crate::error::{Error, Result};
use crate::ids::{Seq, TableId};
use crate::keys::{self, KeyRange};
use crate::latest;
use crate::store::Family;
use crate::write::RowWrite;
use std::collections::BTreeMap;

/// What one transaction commits; see the module docs.
#[derive(Clone, Debug, Default)]
pub struct Transaction {
    /// The seq the transaction's reads saw (the first statement's, under REPEATABLE READ and
    /// SERIALIZABLE).
    pub snapshot: Seq,
    /// [`Engine::catalog_version`] when the transaction first planned against the catalog.
    pub catalog_version: u64,
    /// New definitions by table id (`None` drops the table). An id from
    /// [`Engine::reserve_table_id`] that the catalog does not know yet creates the table.
    pub tables: BTreeMap<TableId, Option<TableDef>>,
    /// Row events, at most one per key. Writes to a table this transaction drops are left out.
    pub writes: Vec<RowWrite>,
    /// Key ranges read at `snapshot` that must still hold the same rows (SERIALIZABLE).
    pub reads: Vec<(TableId, KeyRange)>,
}

impl Engine {
    /// The catalog's version: it grows with every committed definition change, so a transaction
    /// can tell whether a table it planned against was redefined before it committed.
    pub fn catalog_version(&self) -> u64 {
        self.catalog_version
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// Fails with [`Error::Conflict`] if a table `txn` touches was redefined after it planned.
    pub(crate) fn certify_definitions(&self, pipeline: &Pipeline, txn: &Transaction) -> Result<()> {
        let touched = txn
            .tables
            .keys()
            .chain(txn.writes.iter().map(|write| &write.table));
        for table in touched {
            let changed = pipeline.ddl_versions.get(table);
            if changed.is_some_and(|&version| version > txn.catalog_version) {
                let name = self
                    .state()
                    .catalog
                    .last_definition(*table)
                    .map_or_else(|| format!("with id {table}"), |def| def.name.clone());
                return Err(Error::Conflict(format!(
                    "could not serialize access due to concurrent change of table \"{name}\""
                )));
            }
        }
        Ok(())
    }

    /// Fails with [`Error::Conflict`] if a commit after `txn.snapshot` wrote into a key range
    /// `txn` read. A whole-table read conflicts with any later write to the table, without a scan
    /// under the commit lock (PostgreSQL's serializable isolation takes a relation-level lock for
    /// a sequential scan too).
    pub(crate) fn certify_reads(&self, pipeline: &Pipeline, txn: &Transaction) -> Result<()> {
        let conflict = || {
            Error::Conflict(
                "could not serialize access due to read/write dependencies among transactions"
                    .into(),
            )
        };
        for (table, range) in &txn.reads {
            let last_write = pipeline.last_writes.get(table).copied();
            if last_write.is_none_or(|seq| seq <= txn.snapshot) {
                continue;
            }
            if range.is_all() {
                return Err(conflict());
            }
            let prefix = keys::table_prefix(*table);
            let (mut cursor, start) = self.family_cursor(Family::Latest, &prefix, range);
            cursor.seek(&start);
            while let Some((key, value)) = cursor.item() {
                if latest::decode(key, value)?.0 > txn.snapshot {
                    return Err(conflict());
                }
                cursor.next();
            }
            cursor.status()?;
        }
        Ok(())
    }

    /// Commits `txn` as the next seq (or, with definitions only, visible from the next seq) and
    /// returns once it is durable; `None` when it wrote no rows.
    pub fn commit_transaction(&self, user: &str, txn: &Transaction) -> Result<Option<Seq>> {
        self.commit_with(user, &txn.tables, |builder, pipeline| {
            self.certify_definitions(pipeline, txn)?;
            self.certify_reads(pipeline, txn)?;
            for write in &txn.writes {
                if matches!(txn.tables.get(&write.table), Some(None)) {
                    continue;
                }
                builder.add(write)?;
            }
            Ok(())
        })
    }
}
