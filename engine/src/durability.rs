//! Group commit: committers that wait for durability at the same time share one WAL sync.
//!
//! A commit is written to RocksDB (WAL and memtable, unsynced) while the commit lock is held, so
//! commits enter the log in seq order; the lock is released before the sync. The first committer
//! to wait becomes the leader: it syncs the log, which makes every commit written before the sync
//! durable, publishes them, and wakes the others. Committers that arrived during that sync are
//! covered by the next leader's. Because the log is sequential, a crash never keeps a commit
//! without every commit before it.
//!
//! Before syncing, the leader waits (briefly, and only while there are any) for commits that are
//! being built right now, so one sync covers them too instead of the next one; without it about
//! half of the committers miss each sync.
//!
//! A failed sync leaves the durability of everything after the last good one unknown, so it is
//! fatal: every later commit fails until the database is reopened (PostgreSQL makes the same
//! choice for a failed fsync).

use crate::error::{Error, Result};
use crate::ids::Seq;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The longest a leader waits for commits in flight before it syncs.
const MAX_GATHER: Duration = Duration::from_micros(200);

#[derive(Debug)]
struct SyncState {
    /// Every seq up to this one is durable.
    durable: Seq,
    /// A leader is syncing right now.
    syncing: bool,
    /// Why a sync failed; once set, nothing more is acknowledged.
    failure: Option<String>,
    /// Commits being built and written right now.
    in_flight: usize,
}

/// Coordinates waiting committers; see the module docs.
#[derive(Debug)]
pub(crate) struct GroupSync {
    state: Mutex<SyncState>,
    wake: Condvar,
}

impl GroupSync {
    /// Every seq up to `durable` is already durable (as at open).
    pub(crate) fn new(durable: Seq) -> GroupSync {
        GroupSync {
            state: Mutex::new(SyncState {
                durable,
                syncing: false,
                failure: None,
                in_flight: 0,
            }),
            wake: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, SyncState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn failed(failure: &str) -> Error {
        Error::Storage(format!(
            "the write-ahead log could not be synced ({failure}); no further commit is accepted \
             until the server restarts"
        ))
    }

    /// Fails if an earlier sync failed.
    pub(crate) fn check_healthy(&self) -> Result<()> {
        match &self.lock().failure {
            Some(failure) => Err(Self::failed(failure)),
            None => Ok(()),
        }
    }

    /// A commit starts being built; pair with [`GroupSync::end_commit`].
    pub(crate) fn begin_commit(&self) {
        self.lock().in_flight += 1;
    }

    /// A commit was written (or abandoned).
    pub(crate) fn end_commit(&self) {
        let mut state = self.lock();
        state.in_flight -= 1;
        if state.in_flight == 0 && state.syncing {
            self.wake.notify_all();
        }
    }

    /// Returns once `seq` is durable. `sync` makes everything written so far durable (and
    /// visible) and returns the last seq it covered; one caller at a time runs it, after waiting
    /// for commits in flight if `gather` (worth it only when a sync is slow).
    pub(crate) fn wait(
        &self,
        seq: Seq,
        gather: bool,
        sync: impl Fn() -> Result<Seq>,
    ) -> Result<()> {
        let mut state = self.lock();
        loop {
            if let Some(failure) = &state.failure {
                return Err(Self::failed(failure));
            }
            if state.durable >= seq {
                return Ok(());
            }
            if state.syncing {
                state = self.wake.wait(state).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            state.syncing = true;
            let gather_until = Instant::now() + MAX_GATHER;
            while gather && state.in_flight > 0 {
                let left = gather_until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                state = self
                    .wake
                    .wait_timeout(state, left)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
            drop(state);
            let outcome = sync();
            state = self.lock();
            state.syncing = false;
            match outcome {
                Ok(covered) => state.durable = state.durable.max(covered),
                Err(e) => state.failure = Some(e.to_string()),
            }
            self.wake.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[test]
    fn one_sync_covers_every_commit_written_before_it() {
        let group = GroupSync::new(Seq(0));
        let syncs = AtomicU64::new(0);
        group
            .wait(Seq(3), true, || {
                syncs.fetch_add(1, Ordering::SeqCst);
                Ok(Seq(5))
            })
            .unwrap();
        group
            .wait(Seq(5), true, || panic!("already durable"))
            .unwrap();
        assert_eq!(syncs.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_failed_sync_fails_every_later_commit() {
        let group = GroupSync::new(Seq(0));
        let err = group
            .wait(Seq(1), true, || Err(Error::Storage("disk gone".into())))
            .unwrap_err();
        assert!(err.to_string().contains("disk gone"), "{err}");
        assert!(group.check_healthy().is_err());
        assert!(group.wait(Seq(1), true, || Ok(Seq(1))).is_err());
    }
}
