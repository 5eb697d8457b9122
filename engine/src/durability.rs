//! Group commit: committers that wait for durability at the same time share one WAL sync.
//!
//! A commit is written to RocksDB (WAL and memtable, unsynced) while the commit lock is held, so
//! commits enter the log in seq order; the lock is released before the sync. The first committer
//! to wait becomes the leader: it syncs the log, which makes every commit written before the sync
//! durable, publishes them, and wakes the others. Committers that arrived during that sync are
//! covered by the next leader's. Because the log is sequential, a crash never keeps a commit
//! without every commit before it.
//!
//! Before syncing, the leader waits briefly (at most [`MAX_GATHER`]) for the commits being built
//! right now and for as many commits as the previous sync covered: committers woken by a sync come
//! back with their next commit a few microseconds apart, and one that misses a sync waits for the
//! whole next one. A lone committer never waits (the previous sync covered one commit, its own).
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
    /// The last seq written (durable or not).
    written: Seq,
    /// How many seqs the previous sync made durable (at least 1).
    last_batch: u64,
    /// While a leader gathers: the written seq it waits for.
    gather_target: Seq,
}

impl SyncState {
    /// A leader starts gathering: it waits for as many seqs as the previous sync covered.
    fn start_gathering(&mut self) {
        self.syncing = true;
        self.gather_target = Seq(self.durable.0 + self.last_batch);
    }

    /// Whether a gathering leader has what it waits for.
    fn gathered(&self) -> bool {
        self.in_flight == 0 && self.written >= self.gather_target
    }

    /// A sync made every seq up to `covered` durable.
    fn synced(&mut self, covered: Seq) {
        self.syncing = false;
        self.last_batch = covered.0.saturating_sub(self.durable.0).max(1);
        self.durable = self.durable.max(covered);
    }
}

/// Coordinates waiting committers; see the module docs.
#[derive(Debug)]
pub(crate) struct GroupSync {
    state: Mutex<SyncState>,
    /// Committers waiting for a sync to finish.
    wake: Condvar,
    /// The leader waiting for the commits in flight (its own condvar, so the last commit written
    /// wakes only the leader and not every committer waiting for the sync).
    gathered: Condvar,
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
                written: durable,
                last_batch: 1,
                gather_target: durable,
            }),
            wake: Condvar::new(),
            gathered: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, SyncState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn failed(failure: &str) -> Error {
        Error::Storage(format!(
            "the write-ahead log could not be synced ({failure}): commits since the last sync \
             may or may not be durable, so no further commit is accepted until the server \
             restarts"
        ))
    }

    /// Fails if an earlier sync failed.
    pub(crate) fn check_healthy(&self) -> Result<()> {
        match &self.lock().failure {
            Some(failure) => Err(Self::failed(failure)),
            None => Ok(()),
        }
    }

    /// A commit starts being built; it ends when the returned guard drops, with the seq the
    /// guard's `written` names (`None`: it took no seq, or was abandoned).
    pub(crate) fn begin_commit(&self) -> InFlight<'_> {
        self.lock().in_flight += 1;
        InFlight {
            group: self,
            written: None,
        }
    }

    /// A commit was written as `written`, or took no seq, or was abandoned (`None`).
    fn end_commit(&self, written: Option<Seq>) {
        let mut state = self.lock();
        state.in_flight -= 1;
        if let Some(seq) = written {
            state.written = state.written.max(seq);
        }
        if state.syncing && state.gathered() {
            self.gathered.notify_one();
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
            state.start_gathering();
            let gather_until = Instant::now() + MAX_GATHER;
            while gather && !state.gathered() {
                let left = gather_until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                state = self
                    .gathered
                    .wait_timeout(state, left)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
            drop(state);
            let outcome = sync();
            state = self.lock();
            match outcome {
                Ok(covered) => state.synced(covered),
                Err(e) => {
                    state.syncing = false;
                    state.failure = Some(e.to_string());
                }
            }
            self.wake.notify_all();
        }
    }
}

/// A commit being built and written; see [`GroupSync::begin_commit`].
pub(crate) struct InFlight<'a> {
    group: &'a GroupSync,
    pub(crate) written: Option<Seq>,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.group.end_commit(self.written);
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
    fn a_leader_gathers_as_many_commits_as_the_previous_sync_covered() {
        let group = GroupSync::new(Seq(10));
        let mut state = group.lock();
        state.synced(Seq(13));
        state.start_gathering();
        state.written = Seq(14);
        assert!(!state.gathered(), "one of three commits is back");
        state.written = Seq(16);
        state.in_flight = 1;
        assert!(!state.gathered(), "a commit is still being written");
        state.in_flight = 0;
        assert!(state.gathered());
        // A lone committer: the sync covered its one commit, so its next one is enough.
        state.synced(Seq(16));
        state.synced(Seq(17));
        state.start_gathering();
        state.written = Seq(18);
        assert!(state.gathered());
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
