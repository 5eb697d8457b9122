//! Row locks: what makes a second writer of a row wait for the first, as PostgreSQL's do.
//!
//! DriftDB is one process, so locks live in memory, per `(table, encoded primary key)`, and are
//! never written anywhere: history records commits, not who waited for whom. A transaction
//! takes a row's lock before it writes the row (UPDATE, DELETE, `SELECT … FOR UPDATE`) and
//! holds it until it ends; a conflicting request waits for the holder's end. The four modes and
//! their conflicts are PostgreSQL's row-level ones (`FOR KEY SHARE`, `FOR SHARE`, `FOR NO KEY
//! UPDATE`, `FOR UPDATE`).
//!
//! A wait that would close a cycle of transactions waiting for each other fails at once with
//! `40P01` (PostgreSQL checks after `deadlock_timeout`; checking when the wait starts finds the
//! same cycles sooner), and `lock_timeout` bounds a wait with `55P03`.

use driftdb_engine::TableId;
use driftdb_pgtypes::error::{Error, ErrorKind, Result};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;

/// A row-level lock mode, weakest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LockMode {
    /// `FOR KEY SHARE`: the row's key must not change or go (a foreign-key check).
    KeyShare,
    /// `FOR SHARE`: the row must not change.
    Share,
    /// `FOR NO KEY UPDATE`: an UPDATE that leaves the key alone.
    NoKeyUpdate,
    /// `FOR UPDATE`: DELETE, an UPDATE of a key, `SELECT … FOR UPDATE`.
    Update,
}

impl LockMode {
    /// Whether two transactions may hold `self` and `other` on one row at once (PostgreSQL's
    /// table of conflicting row-level locks).
    fn conflicts_with(self, other: LockMode) -> bool {
        use LockMode::*;
        matches!(
            (self, other),
            (Update, _) | (_, Update) | (NoKeyUpdate, Share | NoKeyUpdate) | (Share, NoKeyUpdate)
        )
    }

    /// Whether holding `self` already grants `other`.
    fn covers(self, other: LockMode) -> bool {
        self >= other && !(self == LockMode::NoKeyUpdate && other == LockMode::Share)
    }
}

/// A lockable row: its table and encoded primary key.
pub type RowId = (TableId, Vec<u8>);

/// Who holds or waits for locks: one transaction.
pub type Owner = u64;

/// What a lock request does when the row is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitPolicy {
    /// Wait for the holders to end (bounded by `lock_timeout`, if set).
    Wait(Option<Duration>),
    /// `NOWAIT`: fail at once with 55P03.
    NoWait,
    /// `SKIP LOCKED`: give up on the row.
    Skip,
}

/// One table's locked rows: each encoded key's holders and their strongest mode.
type TableLocks = HashMap<Vec<u8>, Vec<(Owner, LockMode)>>;

#[derive(Debug, Default)]
struct State {
    /// Each table's locked rows.
    rows: HashMap<TableId, TableLocks>,
    /// The rows each owner holds, to release them at its end.
    held: HashMap<Owner, Vec<RowId>>,
    /// Whom each waiting owner waits for.
    waits_for: HashMap<Owner, Vec<Owner>>,
    /// Signalled when an owner ends, for those waiting for it.
    ends: HashMap<Owner, Arc<Notify>>,
}

impl State {
    /// The other owners holding `row` in a mode that conflicts with `mode`.
    fn blockers(&self, owner: Owner, table: TableId, pk: &[u8], mode: LockMode) -> Vec<Owner> {
        let holders = self.rows.get(&table).and_then(|rows| rows.get(pk));
        holders.map_or_else(Vec::new, |holders| {
            holders
                .iter()
                .filter(|(holder, held)| *holder != owner && held.conflicts_with(mode))
                .map(|(holder, _)| *holder)
                .collect()
        })
    }

    /// Records `owner` as holding the row in `mode` (or a stronger mode it holds).
    fn grant(&mut self, owner: Owner, table: TableId, pk: &[u8], mode: LockMode) {
        let rows = self.rows.entry(table).or_default();
        let holders = match rows.get_mut(pk) {
            Some(holders) => holders,
            None => rows.entry(pk.to_vec()).or_default(),
        };
        match holders.iter_mut().find(|(holder, _)| *holder == owner) {
            Some((_, held)) if held.covers(mode) => {}
            Some((_, held)) => *held = (*held).max(mode),
            None => {
                holders.push((owner, mode));
                self.held
                    .entry(owner)
                    .or_default()
                    .push((table, pk.to_vec()));
            }
        }
    }

    /// Whether `owner` waiting for `blockers` closes a cycle of waits.
    fn closes_cycle(&self, owner: Owner, blockers: &[Owner]) -> bool {
        let mut seen = HashSet::new();
        let mut stack: Vec<Owner> = blockers.to_vec();
        while let Some(next) = stack.pop() {
            if next == owner {
                return true;
            }
            if seen.insert(next)
                && let Some(waits) = self.waits_for.get(&next)
            {
                stack.extend(waits);
            }
        }
        false
    }
}

/// Every row lock of a database.
#[derive(Debug, Default)]
pub struct LockTable {
    state: Mutex<State>,
    next_owner: AtomicU64,
}

/// Removes a waiter's wait-for edges however its wait ends (granted, timed out, cancelled).
struct Waiting<'t> {
    table: &'t LockTable,
    owner: Owner,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.table.state().waits_for.remove(&self.owner);
    }
}

impl LockTable {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A new owner, for a transaction about to take its first lock.
    pub fn new_owner(&self) -> Owner {
        self.next_owner.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Takes every row of `keys` (of `table`) in `mode` for `owner`, in order, waiting for each
    /// while other owners hold it in a conflicting mode (see [`LockTable::lock`]). Rows no one
    /// else holds are taken together, under one acquisition of the table's mutex.
    pub async fn lock_all(
        &self,
        owner: Owner,
        table: TableId,
        keys: &[&[u8]],
        mode: LockMode,
        wait: Option<Duration>,
    ) -> Result<()> {
        let mut next = 0;
        while next < keys.len() {
            {
                let mut state = self.state();
                while let Some(pk) = keys.get(next) {
                    if !state.blockers(owner, table, pk, mode).is_empty() {
                        break;
                    }
                    state.grant(owner, table, pk, mode);
                    next += 1;
                }
            }
            if let Some(pk) = keys.get(next) {
                self.lock(owner, &(table, pk.to_vec()), mode, WaitPolicy::Wait(wait))
                    .await?;
                next += 1;
            }
        }
        Ok(())
    }

    /// Whether anyone holds a lock of a row of `table` now.
    pub fn any_held(&self, table: TableId) -> bool {
        self.state()
            .rows
            .get(&table)
            .is_some_and(|rows| !rows.is_empty())
    }

    /// Takes `row` in `mode` for `owner`, waiting as `policy` says while other owners hold it
    /// in a conflicting mode. `Ok(false)`: skipped (`SKIP LOCKED`).
    pub async fn lock(
        &self,
        owner: Owner,
        row: &RowId,
        mode: LockMode,
        policy: WaitPolicy,
    ) -> Result<bool> {
        let (table, pk) = (row.0, row.1.as_slice());
        let mut waiting = None;
        loop {
            let ended = {
                let mut state = self.state();
                let blockers = state.blockers(owner, table, pk, mode);
                let Some(&first) = blockers.first() else {
                    state.grant(owner, table, pk, mode);
                    return Ok(true);
                };
                let timeout = match policy {
                    WaitPolicy::Skip => return Ok(false),
                    WaitPolicy::NoWait => {
                        return Err(Error::new(
                            ErrorKind::LockNotAvailable,
                            "could not obtain lock on row",
                        ));
                    }
                    WaitPolicy::Wait(timeout) => timeout,
                };
                if state.closes_cycle(owner, &blockers) {
                    return Err(Error::new(ErrorKind::DeadlockDetected, "deadlock detected"));
                }
                state.waits_for.insert(owner, blockers);
                // Made once: a second one dropped here would take the mutex held now.
                waiting.get_or_insert_with(|| Waiting { table: self, owner });
                // Created under the mutex, so the holder's end cannot slip in unnoticed.
                let notify = state.ends.entry(first).or_default().clone();
                (notify.notified_owned(), timeout)
            };
            let (ended, timeout) = ended;
            match timeout {
                None => ended.await,
                Some(limit) => {
                    if tokio::time::timeout(limit, ended).await.is_err() {
                        return Err(Error::new(
                            ErrorKind::LockNotAvailable,
                            "canceling statement due to lock timeout",
                        ));
                    }
                }
            }
        }
    }

    /// Releases every lock `owner` holds and wakes whoever waited for it.
    pub fn release_all(&self, owner: Owner) {
        let mut state = self.state();
        for (table, pk) in state.held.remove(&owner).unwrap_or_default() {
            let Some(rows) = state.rows.get_mut(&table) else {
                continue;
            };
            if let Some(holders) = rows.get_mut(&pk) {
                holders.retain(|(holder, _)| *holder != owner);
                if holders.is_empty() {
                    rows.remove(&pk);
                }
            }
            if rows.is_empty() {
                state.rows.remove(&table);
            }
        }
        state.waits_for.remove(&owner);
        if let Some(ended) = state.ends.remove(&owner) {
            ended.notify_waiters();
        }
    }

    /// The owners holding row locks, and each waiting owner with an owner it waits for (what
    /// `pg_locks` shows), each sorted.
    pub fn holders_and_waits(&self) -> (Vec<Owner>, Vec<(Owner, Owner)>) {
        let state = self.state();
        let mut holders: Vec<Owner> = state.held.keys().copied().collect();
        let mut waits: Vec<(Owner, Owner)> = state
            .waits_for
            .iter()
            .flat_map(|(waiter, blockers)| blockers.iter().map(|b| (*waiter, *b)))
            .collect();
        holders.sort_unstable();
        waits.sort_unstable();
        (holders, waits)
    }

    /// How many transactions wait for a row lock now.
    pub fn waiting(&self) -> usize {
        self.state().waits_for.len()
    }
}

/// The locks one transaction holds, released when it ends (this is dropped) — after its commit
/// is written, so that a waiter then reads the new version.
#[derive(Debug)]
pub struct TransactionLocks {
    table: Arc<LockTable>,
    owner: Owner,
}

impl TransactionLocks {
    pub fn new(table: Arc<LockTable>) -> TransactionLocks {
        let owner = table.new_owner();
        TransactionLocks { table, owner }
    }

    pub fn owner(&self) -> Owner {
        self.owner
    }
}

impl Drop for TransactionLocks {
    fn drop(&mut self) {
        self.table.release_all(self.owner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pk: u8) -> RowId {
        (TableId(1), vec![pk])
    }

    const WAIT: WaitPolicy = WaitPolicy::Wait(None);

    #[test]
    fn conflicts_follow_postgresql() {
        use LockMode::*;
        let modes = [KeyShare, Share, NoKeyUpdate, Update];
        // PostgreSQL's table: rows are the requested mode, columns the held one.
        let expected = [
            [false, false, false, true],
            [false, false, true, true],
            [false, true, true, true],
            [true, true, true, true],
        ];
        for (i, a) in modes.iter().enumerate() {
            for (j, b) in modes.iter().enumerate() {
                assert_eq!(a.conflicts_with(*b), expected[i][j], "{a:?} vs {b:?}");
            }
        }
        assert!(Update.covers(Share) && NoKeyUpdate.covers(KeyShare));
        assert!(!NoKeyUpdate.covers(Share) && !Share.covers(NoKeyUpdate));
    }

    #[tokio::test]
    async fn a_conflicting_request_waits_for_the_holders_end() {
        let table = Arc::new(LockTable::default());
        let first = TransactionLocks::new(table.clone());
        let second = TransactionLocks::new(table.clone());
        assert!(
            table
                .lock(first.owner(), &row(1), LockMode::Update, WAIT)
                .await
                .unwrap()
        );
        // Shared modes that do not conflict are granted together.
        assert!(
            table
                .lock(second.owner(), &row(2), LockMode::KeyShare, WAIT)
                .await
                .unwrap()
        );
        let waiter = {
            let table = table.clone();
            let owner = second.owner();
            tokio::spawn(async move {
                table
                    .lock(owner, &row(1), LockMode::NoKeyUpdate, WAIT)
                    .await
            })
        };
        while table.waiting() == 0 {
            tokio::task::yield_now().await;
        }
        assert!(!waiter.is_finished());
        drop(first);
        assert!(waiter.await.unwrap().unwrap());
        assert_eq!(table.waiting(), 0);
    }

    #[tokio::test]
    async fn nowait_skip_and_timeout() {
        let table = LockTable::default();
        let (a, b) = (table.new_owner(), table.new_owner());
        table.lock(a, &row(1), LockMode::Share, WAIT).await.unwrap();
        assert!(
            table
                .lock(b, &row(1), LockMode::Share, WaitPolicy::NoWait)
                .await
                .unwrap()
        );
        let no_wait = table
            .lock(b, &row(1), LockMode::Update, WaitPolicy::NoWait)
            .await;
        assert_eq!(no_wait.unwrap_err().kind, ErrorKind::LockNotAvailable);
        assert!(
            !table
                .lock(b, &row(1), LockMode::Update, WaitPolicy::Skip)
                .await
                .unwrap()
        );
        let limit = WaitPolicy::Wait(Some(Duration::from_millis(1)));
        let timed_out = table.lock(b, &row(1), LockMode::Update, limit).await;
        assert_eq!(timed_out.unwrap_err().kind, ErrorKind::LockNotAvailable);
        assert_eq!(table.waiting(), 0);
        table.release_all(a);
        assert!(
            table
                .lock(b, &row(1), LockMode::Update, WaitPolicy::NoWait)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_wait_closing_a_cycle_is_a_deadlock() {
        let table = Arc::new(LockTable::default());
        let (a, b) = (table.new_owner(), table.new_owner());
        table
            .lock(a, &row(1), LockMode::Update, WAIT)
            .await
            .unwrap();
        table
            .lock(b, &row(2), LockMode::Update, WAIT)
            .await
            .unwrap();
        let a_waits = {
            let table = table.clone();
            tokio::spawn(async move { table.lock(a, &row(2), LockMode::Update, WAIT).await })
        };
        while table.waiting() == 0 {
            tokio::task::yield_now().await;
        }
        let deadlock = table.lock(b, &row(1), LockMode::Update, WAIT).await;
        assert_eq!(deadlock.unwrap_err().kind, ErrorKind::DeadlockDetected);
        // The victim rolls back; the other goes on.
        table.release_all(b);
        assert!(a_waits.await.unwrap().unwrap());
    }
}
