//! Transactions: isolation levels, snapshots, what a transaction has written but not committed,
//! savepoints, and the hand-over to the engine at COMMIT.
//!
//! Every statement runs in a transaction: the one BEGIN opened, or an implicit one that commits
//! when the statement ends. A transaction buffers its row events and table definitions here.
//! Its own statements read through the buffer (scans merge pending rows with the engine's in key
//! order, the catalog overlays pending definitions); no other session sees it. COMMIT hands the
//! buffer to the engine as one [`driftdb_engine::Transaction`], which certifies it against the
//! commits since its snapshot (first committer wins) and writes it as one seq. A rollback just
//! drops the buffer, so it leaves no trace in history.
//!
//! Writers of a row take its lock first (`crate::storage::locks`), held until the transaction
//! ends, so a second writer waits for the first instead of failing at COMMIT.
//!
//! - READ COMMITTED: each statement reads the latest commit. A statement whose rows changed
//!   while it waited for their locks runs again on the newer state, keeping the locks it took
//!   (its changes so far are undone first): PostgreSQL re-checks each such row instead, with the
//!   same outcome for the rows it locks, and neither fails.
//! - REPEATABLE READ: every statement reads the snapshot of the first (snapshot isolation); a
//!   statement writing a row that changed since then fails with 40001.
//! - SERIALIZABLE: as REPEATABLE READ, and the key ranges its current-state scans read are
//!   certified at commit too, so write skew cannot commit.

use crate::common::settings::Settings;
use crate::storage::locks::{LockTable, Owner, TransactionLocks};
use datafusion::execution::memory_pool::MemoryReservation;
use driftdb_engine::row::delete_event;
use driftdb_engine::{
    KeyRange, RowWrite, Seq, TableDef, TableId, Transaction as EngineTransaction, WriteExpectation,
};
use driftdb_pgtypes::error::{Error, ErrorKind, Result};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// A transaction isolation level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isolation {
    ReadCommitted,
    RepeatableRead,
    Serializable,
}

impl Isolation {
    /// The level as PostgreSQL spells it (`SHOW transaction_isolation`).
    pub fn name(self) -> &'static str {
        match self {
            Isolation::ReadCommitted => "read committed",
            Isolation::RepeatableRead => "repeatable read",
            Isolation::Serializable => "serializable",
        }
    }

    /// Parses a level name as `SET default_transaction_isolation` takes it.
    pub fn parse(name: &str) -> Option<Isolation> {
        match name.trim().to_ascii_lowercase().as_str() {
            // PostgreSQL runs READ UNCOMMITTED as READ COMMITTED.
            "read committed" | "read uncommitted" => Some(Isolation::ReadCommitted),
            "repeatable read" => Some(Isolation::RepeatableRead),
            "serializable" => Some(Isolation::Serializable),
            _ => None,
        }
    }
}

/// How a statement came to write a row, which decides what the commit expects of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A new row (INSERT): the key must hold no row.
    Inserted,
    /// A new version of, or the deletion of, a row the statement read.
    Read,
}

/// A statement's event for one key: a framed put event, or `None` for a delete.
pub(crate) type StatementEvent = (Option<Vec<u8>>, Origin);

/// A row event the transaction has not committed yet.
#[derive(Clone, Debug)]
pub(crate) struct PendingRow {
    /// The framed put event, or `None` for a delete.
    pub(crate) put: Option<Vec<u8>>,
    pub(crate) expect: WriteExpectation,
}

/// One table's pending rows by encoded primary key. Shared with the scans planned so far, so a
/// statement that writes copies it only while a scan still holds the old one.
pub(crate) type PendingRows = Arc<BTreeMap<Vec<u8>, PendingRow>>;

/// A row a statement staged: its table, key, and what was pending for it before (`None`:
/// nothing).
type UndoEntry = (TableId, Vec<u8>, Option<PendingRow>);

/// Everything a savepoint restores.
#[derive(Clone, Debug, Default)]
struct Changes {
    rows: BTreeMap<TableId, PendingRows>,
    /// New definitions by table id; `None`: dropped.
    tables: BTreeMap<TableId, Option<Arc<TableDef>>>,
}

/// One transaction's state; see the module docs.
#[derive(Debug)]
pub(crate) struct Transaction {
    pub(crate) isolation: Isolation,
    pub(crate) read_only: bool,
    /// Opened by BEGIN (else the implicit transaction of one statement).
    pub(crate) explicit: bool,
    /// An implicit transaction spanning several statements: the extended protocol's messages
    /// up to Sync, committed at Sync.
    pub(crate) block: bool,
    /// A statement failed: everything but ROLLBACK fails until the transaction ends.
    pub(crate) failed: bool,
    /// The snapshot and catalog version of the first statement.
    first_statement: Option<(Seq, u64)>,
    changes: Changes,
    /// Current-state key ranges read (SERIALIZABLE only, and whole tables a definition change
    /// read at any level). Kept by ROLLBACK TO, like
    /// PostgreSQL's predicate locks: what was read still shaped what the transaction did.
    reads: HashMap<TableId, HashSet<KeyRange>>,
    /// Each savepoint: its name, the changes and the run-time settings at that point.
    savepoints: Vec<(String, Changes, Settings)>,
    /// The run-time settings when BEGIN opened the block, which ROLLBACK restores (settings are
    /// transactional in PostgreSQL); `None` for an implicit transaction.
    pub(crate) settings_at_begin: Option<Settings>,
    /// The settings `SET LOCAL` changed, which end with the transaction.
    pub(crate) local_settings: Vec<String>,
    /// The memory its pending rows hold in the server's pool, given back when it ends.
    pub(crate) memory: Vec<MemoryReservation>,
    /// The row locks it holds, released when it ends.
    locks: Option<TransactionLocks>,
    /// While a statement that may run again runs: each row it staged, as it was pending before
    /// (`None`: not pending), to undo the statement.
    statement_undo: Option<Vec<UndoEntry>>,
    /// A row the running statement locked changed after the statement read it: under READ
    /// COMMITTED the statement runs again instead of failing.
    restart: bool,
    /// How many new rows' keys it has locked (`crate::storage::scope::NEW_KEY_LOCKS`).
    pub(crate) new_key_locks: usize,
}

impl Transaction {
    pub(crate) fn new(isolation: Isolation, read_only: bool, explicit: bool) -> Transaction {
        Transaction {
            isolation,
            read_only,
            explicit,
            block: false,
            failed: false,
            first_statement: None,
            changes: Changes::default(),
            reads: HashMap::new(),
            savepoints: Vec::new(),
            settings_at_begin: None,
            local_settings: Vec::new(),
            memory: Vec::new(),
            locks: None,
            statement_undo: None,
            restart: false,
            new_key_locks: 0,
        }
    }

    /// Who this transaction is in the database's lock table (made on its first lock).
    pub(crate) fn lock_owner(&mut self, locks: &Arc<LockTable>) -> Owner {
        self.locks
            .get_or_insert_with(|| TransactionLocks::new(locks.clone()))
            .owner()
    }

    /// The row locks, to release after the commit is written (dropping them releases them).
    pub(crate) fn take_locks(&mut self) -> Option<TransactionLocks> {
        self.locks.take()
    }

    /// Starts recording what the statement about to run stages, so that
    /// [`Transaction::undo_statement`] can take it back (READ COMMITTED only: other levels fail
    /// instead of running a statement again). Returns whether it records.
    pub(crate) fn begin_statement_undo(&mut self) -> bool {
        self.restart = false;
        let records = self.isolation == Isolation::ReadCommitted;
        self.statement_undo = records.then(Vec::new);
        records
    }

    /// Stops recording what statements stage.
    pub(crate) fn end_statement_undo(&mut self) {
        self.statement_undo = None;
        self.restart = false;
    }

    /// Asks for the running statement to run again (see [`Transaction::restart`]); `false` if
    /// it cannot, since nothing records how to undo it.
    pub(crate) fn request_restart(&mut self) -> bool {
        self.restart = self.statement_undo.is_some();
        self.restart
    }

    /// If the statement that just failed asked to run again: undoes what it staged and returns
    /// `true`, recording afresh for the next run.
    pub(crate) fn undo_statement(&mut self) -> bool {
        if !std::mem::take(&mut self.restart) {
            return false;
        }
        let Some(undo) = self.statement_undo.replace(Vec::new()) else {
            return false;
        };
        for (table, pk, before) in undo.into_iter().rev() {
            let rows = Arc::make_mut(self.changes.rows.entry(table).or_default());
            match before {
                Some(before) => rows.insert(pk, before),
                None => rows.remove(&pk),
            };
        }
        true
    }

    /// Whether a statement has run in this transaction (after which its level is fixed).
    pub(crate) fn has_started(&self) -> bool {
        self.first_statement.is_some()
    }

    /// The snapshot the next statement reads at, given the latest commit and catalog version.
    pub(crate) fn statement_snapshot(&mut self, latest: Seq, catalog_version: u64) -> Seq {
        let (first, _) = *self
            .first_statement
            .get_or_insert((latest, catalog_version));
        match self.isolation {
            Isolation::ReadCommitted => latest,
            Isolation::RepeatableRead | Isolation::Serializable => first,
        }
    }

    pub(crate) fn savepoint(&mut self, name: String, settings: Settings) {
        self.savepoints.push((name, self.changes.clone(), settings));
    }

    fn savepoint_position(&self, name: &str) -> Result<usize> {
        self.savepoints
            .iter()
            .rposition(|(n, ..)| n == name)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidSavepoint,
                    format!("savepoint \"{name}\" does not exist"),
                )
            })
    }

    /// `ROLLBACK TO name`: undoes everything since the savepoint, which stays; the settings to
    /// go back to are returned.
    pub(crate) fn rollback_to(&mut self, name: &str) -> Result<Settings> {
        let position = self.savepoint_position(name)?;
        self.savepoints.truncate(position + 1);
        self.changes = self.savepoints[position].1.clone();
        self.failed = false;
        Ok(self.savepoints[position].2.clone())
    }

    /// `RELEASE name`: forgets the savepoint and every later one, keeping their changes.
    pub(crate) fn release(&mut self, name: &str) -> Result<()> {
        let position = self.savepoint_position(name)?;
        self.savepoints.truncate(position);
        Ok(())
    }

    /// The pending rows of `table`, if this transaction wrote any.
    pub(crate) fn pending_rows(&self, table: TableId) -> Option<PendingRows> {
        self.changes
            .rows
            .get(&table)
            .filter(|rows| !rows.is_empty())
            .cloned()
    }

    /// Records key ranges of `table` read at the snapshot (SERIALIZABLE only), each once; a
    /// whole-table read makes the table's narrower ones redundant.
    pub(crate) fn record_read(&mut self, table: TableId, ranges: &[KeyRange]) {
        if self.isolation != Isolation::Serializable {
            return;
        }
        let read = self.reads.entry(table).or_default();
        if read.contains(&KeyRange::all()) {
            return;
        }
        if ranges.iter().any(KeyRange::is_all) {
            read.clear();
        }
        read.extend(ranges.iter().cloned());
    }

    /// Makes the commit fail (40001) if another transaction wrote any row of `table` after
    /// this one's snapshot, whatever the isolation level: a definition change that read every
    /// row (to check or rewrite them) must not miss one committed meanwhile.
    pub(crate) fn require_unchanged(&mut self, table: TableId) {
        let read = self.reads.entry(table).or_default();
        read.clear();
        read.insert(KeyRange::all());
    }

    /// Adds one statement's events for `def` (read at `read_at`), all or nothing. `is_live`
    /// says whether a committed row holds a key, for inserts the transaction knows nothing
    /// about (an explicit transaction reports a duplicate key at the INSERT, not at COMMIT).
    pub(crate) fn stage(
        &mut self,
        def: &TableDef,
        events: BTreeMap<Vec<u8>, StatementEvent>,
        read_at: Seq,
        mut is_live: impl FnMut(&[u8]) -> Result<bool>,
    ) -> Result<()> {
        let rows = self.changes.rows.entry(def.id).or_default();
        for (pk, (put, origin)) in &events {
            if put.is_none() || *origin != Origin::Inserted {
                continue;
            }
            let taken = match rows.get(pk) {
                Some(pending) => pending.put.is_some(),
                None => (self.explicit || self.block) && is_live(pk)?,
            };
            if taken {
                return Err(Error::unique_violation(&def.primary_key_name()));
            }
        }
        let rows = Arc::make_mut(rows);
        for (pk, (put, origin)) in events {
            if let Some(undo) = &mut self.statement_undo {
                undo.push((def.id, pk.clone(), rows.get(&pk).cloned()));
            }
            match rows.get_mut(&pk) {
                // An insert of a key this transaction created and deleted again, or a row it
                // wrote before: it keeps what the first write expected of the committed row.
                Some(pending) if put.is_none() && pending.expect == WriteExpectation::Absent => {
                    rows.remove(&pk);
                }
                Some(pending) => pending.put = put,
                None => {
                    let expect = match origin {
                        Origin::Inserted => WriteExpectation::Absent,
                        Origin::Read => WriteExpectation::Unchanged(read_at),
                    };
                    rows.insert(pk, PendingRow { put, expect });
                }
            }
        }
        Ok(())
    }

    /// Records a new definition of a table (`None` drops it) for the rest of the transaction.
    pub(crate) fn redefine(&mut self, table: TableId, def: Option<TableDef>) {
        if def.is_none() {
            self.changes.rows.remove(&table);
        }
        self.changes.tables.insert(table, def.map(Arc::new));
    }

    /// The definition of `id` this transaction made, if any (`Some(None)`: dropped).
    pub(crate) fn definition(&self, id: TableId) -> Option<Option<Arc<TableDef>>> {
        self.changes.tables.get(&id).cloned()
    }

    /// The tables this transaction defined (and did not drop).
    pub(crate) fn defined_tables(&self) -> impl Iterator<Item = &Arc<TableDef>> {
        self.changes.tables.values().flatten()
    }

    /// Whether the transaction has defined, changed or dropped a table.
    pub(crate) fn redefines_tables(&self) -> bool {
        !self.changes.tables.is_empty()
    }

    /// Whether committing would change anything.
    pub(crate) fn is_empty(&self) -> bool {
        self.changes.tables.is_empty() && self.changes.rows.values().all(|r| r.is_empty())
    }

    /// What the engine commits.
    pub(crate) fn into_engine(self, catalog_version_now: u64) -> EngineTransaction {
        let (snapshot, catalog_version) = self
            .first_statement
            .unwrap_or((Seq::ZERO, catalog_version_now));
        let tables = self
            .changes
            .tables
            .into_iter()
            .map(|(id, def)| (id, def.map(Arc::unwrap_or_clone)))
            .collect();
        let mut writes = Vec::new();
        for (table, rows) in self.changes.rows {
            let rows = Arc::unwrap_or_clone(rows);
            writes.extend(rows.into_iter().map(|(pk, row)| RowWrite {
                table,
                pk,
                event: row.put.unwrap_or_else(delete_event),
                expect: row.expect,
            }));
        }
        EngineTransaction {
            snapshot,
            catalog_version,
            tables,
            writes,
            reads: self
                .reads
                .into_iter()
                .flat_map(|(table, ranges)| ranges.into_iter().map(move |range| (table, range)))
                .collect(),
        }
    }
}
