//! A session's scope: what every table provider and function of one session shares — the
//! database, the user, the seq the current statement reads at, the open transaction, the
//! run-time settings and the notices for the client.

use crate::common::engine_error::engine_error;
use crate::common::settings::Settings;
use crate::storage::database::Database;
use crate::storage::locks::{LockMode, WaitPolicy};
use crate::storage::transaction::Isolation;
use crate::storage::transaction::Transaction;
use driftdb_engine::{CatalogPoint, Seq, TableDef, TableId};
use driftdb_pgtypes::error::{Error, ErrorKind, Notice, Result};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// What every provider and function of one session shares: the database, the user, the seq
/// the session's current statement reads at (fixed when the statement starts) and the open
/// transaction.
#[derive(Debug)]
pub struct SessionScope {
    pub db: Arc<Database>,
    pub user: String,
    snapshot: AtomicU64,
    pub(crate) transaction: Mutex<Option<Transaction>>,
    /// The table (id + 1; 0 for none) whose hidden row id the current UPDATE or DELETE reads.
    exposed: AtomicU64,
    /// Run-time settings (SET, SHOW, `current_setting()`).
    settings: Mutex<Settings>,
    /// What the statement running now has to tell the client besides its result.
    notices: Mutex<Vec<Notice>>,
    /// How many statements the key path ran (`crate::keypath`), for tests to see it work.
    key_path_statements: AtomicU64,
    /// How many prepared queries ran through a cached plan (`crate::exec::cached`).
    cached_plan_executions: AtomicU64,
    /// How many rows the session's table scans read from storage, for tests to see a scan
    /// narrowed to the keys its filters pin.
    rows_read: Arc<AtomicU64>,
}

impl SessionScope {
    pub fn new(db: Arc<Database>, user: &str) -> SessionScope {
        SessionScope {
            db,
            user: user.to_string(),
            snapshot: AtomicU64::new(0),
            transaction: Mutex::new(None),
            exposed: AtomicU64::new(0),
            settings: Mutex::new(Settings::default()),
            notices: Mutex::new(Vec::new()),
            key_path_statements: AtomicU64::new(0),
            cached_plan_executions: AtomicU64::new(0),
            rows_read: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Counts a statement the key path ran.
    pub(crate) fn count_key_path_statement(&self) {
        self.key_path_statements.fetch_add(1, Ordering::Relaxed);
    }

    /// How many statements the key path ran in this session.
    pub(crate) fn key_path_statements(&self) -> u64 {
        self.key_path_statements.load(Ordering::Relaxed)
    }

    /// Counts a prepared query run through its cached plan.
    pub(crate) fn count_cached_plan_execution(&self) {
        self.cached_plan_executions.fetch_add(1, Ordering::Relaxed);
    }

    /// How many prepared queries ran through a cached plan in this session.
    pub(crate) fn cached_plan_executions(&self) -> u64 {
        self.cached_plan_executions.load(Ordering::Relaxed)
    }

    /// The counter the session's scans add the rows they read to.
    pub(crate) fn rows_read_counter(&self) -> Arc<AtomicU64> {
        self.rows_read.clone()
    }

    /// Tells the client something the statement did not fail over (PostgreSQL's NOTICE or
    /// WARNING), sent before the statement's result.
    pub(crate) fn notice(&self, notice: Notice) {
        self.notices
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(notice);
    }

    /// The notices raised since the last call.
    pub(crate) fn take_notices(&self) -> Vec<Notice> {
        std::mem::take(
            &mut *self
                .notices
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    /// The session's run-time settings.
    pub fn settings(&self) -> MutexGuard<'_, Settings> {
        self.settings
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Shows `table`'s hidden row id to reads while the guard lives (UPDATE and DELETE find
    /// the rows they change by it).
    pub(crate) fn expose_hidden(&self, table: TableId) -> ExposedHidden<'_> {
        let previous = self.exposed.swap(table.0 + 1, Ordering::AcqRel);
        ExposedHidden {
            scope: self,
            previous,
        }
    }

    /// Whether reads of `table` show its hidden row id now.
    pub(crate) fn exposes_hidden(&self, table: TableId) -> bool {
        self.exposed.load(Ordering::Acquire) == table.0 + 1
    }

    /// Pins the seq the next statement reads at.
    pub fn set_snapshot(&self, seq: Seq) {
        self.snapshot.store(seq.0, Ordering::Release);
    }

    /// The seq the current statement reads at.
    pub fn snapshot(&self) -> Seq {
        Seq(self.snapshot.load(Ordering::Acquire))
    }
}

/// Hides the row id again (or shows the one shown before) when dropped.
pub(crate) struct ExposedHidden<'s> {
    scope: &'s SessionScope,
    previous: u64,
}

impl Drop for ExposedHidden<'_> {
    fn drop(&mut self) {
        self.scope.exposed.store(self.previous, Ordering::Release);
    }
}

impl SessionScope {
    /// The session's transaction slot (a statement's own, so never contended for long).
    pub(crate) fn transaction_guard(&self) -> MutexGuard<'_, Option<Transaction>> {
        self.transaction
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` on the session's transaction. Every statement runs inside one, so there is one
    /// whenever a provider or a write asks.
    pub(crate) fn with_transaction<T>(&self, f: impl FnOnce(&mut Transaction) -> T) -> Result<T> {
        let mut guard = self.transaction_guard();
        match guard.as_mut() {
            Some(txn) => Ok(f(txn)),
            None => Err(Error::new(
                ErrorKind::Internal,
                "statement ran outside a transaction",
            )),
        }
    }

    /// The table called `name` as this transaction sees it now: its own definitions first.
    pub(crate) fn resolve_current(&self, name: &str) -> Option<Arc<TableDef>> {
        let engine = &self.db.engine;
        let guard = self.transaction_guard();
        let Some(txn) = guard.as_ref() else {
            return engine.resolve_table(name, CatalogPoint::Latest);
        };
        if let Some(def) = txn.defined_tables().find(|d| d.name == name) {
            return Some(def.clone());
        }
        engine
            .resolve_table(name, CatalogPoint::Latest)
            .filter(|def| txn.definition(def.id).is_none())
    }

    /// The names of the tables this transaction sees now, sorted.
    pub(crate) fn current_table_names(&self) -> Vec<String> {
        let engine = &self.db.engine;
        let names = engine.table_names(CatalogPoint::Latest);
        let mut names: Vec<String> = names
            .into_iter()
            .filter(|name| self.resolve_current(name).is_some_and(|d| d.name == *name))
            .collect();
        let guard = self.transaction_guard();
        if let Some(txn) = guard.as_ref() {
            names.extend(txn.defined_tables().map(|d| d.name.clone()));
        }
        names.sort();
        names.dedup();
        names
    }

    /// Whether a table or an index called `name` exists for this transaction.
    pub(crate) fn relation_exists(&self, name: &str) -> bool {
        if self.resolve_current(name).is_some() {
            return true;
        }
        let guard = self.transaction_guard();
        let own = guard.as_ref();
        let index_of = |def: &TableDef| def.indexes.iter().any(|i| i.name == name);
        if own.is_some_and(|txn| txn.defined_tables().any(|d| index_of(d))) {
            return true;
        }
        self.db
            .engine
            .resolve_index(name, CatalogPoint::Latest)
            .is_some_and(|(def, _)| own.is_none_or(|txn| txn.definition(def.id).is_none()))
    }
}

impl SessionScope {
    /// How a lock request of this session waits: up to `lock_timeout`, if one is set.
    pub(crate) fn waiting(&self) -> WaitPolicy {
        WaitPolicy::Wait(self.lock_timeout())
    }

    fn lock_timeout(&self) -> Option<std::time::Duration> {
        self.settings().timeout("lock_timeout")
    }

    /// Takes the locks of `keys` of `table` in `mode`, waiting for each as long as
    /// `lock_timeout` allows.
    async fn lock_keys(&self, table: TableId, keys: &[&[u8]], mode: LockMode) -> Result<()> {
        let locks = &self.db.locks;
        let owner = self.with_transaction(|txn| txn.lock_owner(locks))?;
        locks
            .lock_all(owner, table, keys, mode, self.lock_timeout())
            .await
    }

    /// Takes the locks of new rows' keys of `table`, so that a second transaction inserting
    /// one of them waits for this one's end (and then fails with 23505 if it committed the
    /// row). A statement outside a transaction block takes them only while someone holds a
    /// lock in the table: it commits at once, so only a wait could change its outcome. A
    /// transaction locks at most [`NEW_KEY_LOCKS`] new keys; past them (a bulk load) a
    /// duplicate is found when the second of two transactions commits.
    pub(crate) async fn lock_new_keys(&self, table: TableId, keys: &[&[u8]]) -> Result<()> {
        let in_block = self.with_transaction(|txn| txn.explicit || txn.block)?;
        if keys.is_empty() || !(in_block || self.db.locks.any_held(table)) {
            return Ok(());
        }
        let room = self.with_transaction(|txn| {
            let room = keys.len().min(NEW_KEY_LOCKS - txn.new_key_locks);
            txn.new_key_locks += room;
            room
        })?;
        self.lock_keys(table, &keys[..room], LockMode::Update).await
    }

    /// Takes the lock of the row `pk` of `table` in `mode` for the transaction, as `policy`
    /// says (`Ok(false)`: skipped, `SKIP LOCKED`).
    pub(crate) async fn lock_row_with(
        &self,
        table: TableId,
        pk: &[u8],
        mode: LockMode,
        policy: WaitPolicy,
    ) -> Result<bool> {
        let locks = &self.db.locks;
        let owner = self.with_transaction(|txn| txn.lock_owner(locks))?;
        locks.lock(owner, &(table, pk.to_vec()), mode, policy).await
    }

    /// Takes the lock of the row `pk` of `table` in `mode` before the statement reads it (the
    /// key path): a READ COMMITTED statement then reads at the latest commit (so, after a wait,
    /// what the writer it waited for committed); at other levels a row changed since the
    /// snapshot fails the statement with 40001, as PostgreSQL's does.
    pub(crate) async fn lock_row(&self, table: TableId, pk: &[u8], mode: LockMode) -> Result<()> {
        self.lock_row_with(table, pk, mode, self.waiting()).await?;
        match self.with_transaction(|txn| txn.isolation)? {
            Isolation::ReadCommitted => self.set_snapshot(self.db.engine.latest_seq()),
            _ if self.changed_since_snapshot(table, [pk])? => return Err(concurrent_update()),
            _ => {}
        }
        Ok(())
    }

    /// Takes the locks of rows of `table` the statement read and is about to write, each in its
    /// mode, then makes sure none changed after the statement read them
    /// ([`SessionScope::fail_if_changed`]). A READ COMMITTED statement then reads at the latest
    /// commit: the rows it holds are the same there, and what it checks next (the rows that
    /// reference a deleted one, unique values) must count what the writers it waited for
    /// committed.
    pub(crate) async fn lock_written_rows(
        &self,
        table: TableId,
        rows: &[(&[u8], LockMode)],
    ) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        // Runs of one mode, each taken together.
        let mut start = 0;
        while let Some(&(_, mode)) = rows.get(start) {
            let end = rows[start..]
                .iter()
                .position(|(_, m)| *m != mode)
                .map_or(rows.len(), |n| start + n);
            let keys: Vec<&[u8]> = rows[start..end].iter().map(|(pk, _)| *pk).collect();
            self.lock_keys(table, &keys, mode).await?;
            start = end;
        }
        let latest = self.db.engine.latest_seq();
        let keys: Vec<&[u8]> = rows.iter().map(|(pk, _)| *pk).collect();
        self.fail_if_changed(table, &keys)?;
        if self.with_transaction(|txn| txn.isolation)? == Isolation::ReadCommitted {
            self.set_snapshot(latest);
        }
        Ok(())
    }

    /// Takes a `FOR KEY SHARE` lock of each parent row the statement's new rows reference, so
    /// that the parent cannot go before this transaction ends; a parent a writer this waited
    /// for deleted fails the statement (23503) through `missing`.
    pub(crate) async fn lock_parents(
        &self,
        parents: &[(TableId, Vec<u8>)],
        missing: impl Fn(TableId) -> Error,
    ) -> Result<()> {
        let policy = self.waiting();
        let engine = &self.db.engine;
        for (table, pk) in parents {
            self.lock_row_with(*table, pk, LockMode::KeyShare, policy)
                .await?;
            if self.changed_since_snapshot(*table, [pk.as_slice()])?
                && engine
                    .get_as_of(*table, pk, engine.latest_seq(), |_| ())
                    .map_err(engine_error)?
                    .is_none()
            {
                return Err(missing(*table));
            }
        }
        Ok(())
    }

    /// Fails if a commit after the statement's snapshot wrote any of `keys` of `table` (whose
    /// locks the statement holds): a READ COMMITTED statement is asked to run again
    /// (`Transaction::request_restart`) and the error is returned either way (40001 where the
    /// statement cannot run again).
    pub(crate) fn fail_if_changed(&self, table: TableId, keys: &[&[u8]]) -> Result<()> {
        if self.changed_since_snapshot(table, keys.iter().copied())? {
            self.with_transaction(|txn| txn.request_restart())?;
            return Err(concurrent_update());
        }
        Ok(())
    }

    /// Whether a commit after the statement's snapshot wrote any of `keys` of `table`.
    fn changed_since_snapshot<'k>(
        &self,
        table: TableId,
        keys: impl IntoIterator<Item = &'k [u8]>,
    ) -> Result<bool> {
        let (engine, read_at) = (&self.db.engine, self.snapshot());
        // No commit since the snapshot: nothing can have changed.
        if engine.latest_seq() <= read_at {
            return Ok(false);
        }
        for pk in keys {
            if engine
                .last_write(table, pk)
                .map_err(engine_error)?
                .is_some_and(|written| written > read_at)
            {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// How many new keys one transaction locks (see [`SessionScope::lock_new_keys`]): a lock costs
/// about 150 bytes of memory until the transaction ends.
pub(crate) const NEW_KEY_LOCKS: usize = 100_000;

/// PostgreSQL's error for a write to a row a concurrent transaction changed after this one's
/// snapshot (REPEATABLE READ and SERIALIZABLE).
pub(crate) fn concurrent_update() -> Error {
    Error::new(
        ErrorKind::SerializationFailure,
        "could not serialize access due to concurrent update",
    )
}
