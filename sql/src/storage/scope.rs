//! A session's scope: what every table provider and function of one session shares — the
//! database, the user, the seq the current statement reads at, the open transaction, the
//! run-time settings and the notices for the client.

use crate::common::settings::Settings;
use crate::storage::database::Database;
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
