//! The engine: the shared state over one [`Store`], and reads at any seq.
//!
//! Writes (commits, TRUNCATE, DDL) are in [`crate::write`]. Two seqs matter: the last one
//! *written* to RocksDB, and the last one *published* — durable, and so visible to new snapshots.
//! They differ only while a group sync is in flight ([`crate::durability`]).

use crate::catalog::{Catalog, CatalogPoint, CatalogRecord, IndexDef, TableDef};
use crate::commit::CommitRecord;
use crate::durability::GroupSync;
use crate::error::{Error, Result};
use crate::frame;
use crate::identity::IdentityCounters;
use crate::ids::{Seq, TableId};
use crate::index;
use crate::keys::{self, KeyRange};
use crate::latest;
use crate::row::{RowEvent, RowView};
use crate::scan::{self, Flow, VersionRef};
use crate::store::{Cursor, Family, Store};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard};
use std::time::{SystemTime, UNIX_EPOCH};

/// How the engine behaves; the defaults are the safe ones.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// Sync the WAL before a commit is acknowledged.
    pub sync: bool,
    /// Snapshots fewer than this many commits behind the latest read through the latest-state
    /// family (rows changed since cost one extra lookup each); older ones walk the versions.
    /// 0 turns the latest-state family off for reads.
    pub latest_state_window: u64,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            sync: true,
            latest_state_window: 1024,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct State {
    /// Commit times in UTC microseconds of every written commit; index `i` holds seq `i + 1`.
    pub(crate) commit_times: Vec<i64>,
    pub(crate) catalog: Catalog,
}

/// What the commit lock protects: the order of writes into RocksDB.
#[derive(Debug)]
pub(crate) struct Pipeline {
    /// The last seq written to RocksDB (durable or not).
    pub(crate) written: Seq,
    /// The commit time of `written`, so times stay strictly increasing.
    pub(crate) last_time: i64,
    /// The last seq that wrote rows of each table since open (a table missing here has not
    /// changed since any snapshot a running transaction can hold).
    pub(crate) last_writes: HashMap<TableId, Seq>,
    /// The catalog version that last redefined each table since open.
    pub(crate) ddl_versions: HashMap<TableId, u64>,
}

/// DriftDB's event store. Cheap to share behind an `Arc`; all methods take `&self`.
#[derive(Debug)]
pub struct Engine {
    pub(crate) store: Store,
    pub(crate) options: EngineOptions,
    pub(crate) state: RwLock<State>,
    /// Serialises commits and DDL: each takes the next seq and checks keys against the latest
    /// written state.
    pub(crate) pipeline: Mutex<Pipeline>,
    /// The last durable seq that new snapshots may read.
    pub(crate) published: AtomicU64,
    /// The last seq written to RocksDB, for the group-sync leader (updated under the lock).
    pub(crate) written: AtomicU64,
    pub(crate) group: GroupSync,
    /// WAL syncs made for commits since open.
    pub(crate) syncs: AtomicU64,
    /// Grows with every committed definition change ([`Engine::catalog_version`]).
    pub(crate) catalog_version: AtomicU64,
    pub(crate) next_table_id: AtomicU64,
    pub(crate) next_index_id: AtomicU64,
    pub(crate) identities: IdentityCounters,
}

const FORMAT_KEY: &[u8] = b"format";
/// Version 2 added the latest-state and indexes families.
const FORMAT_VERSION: u32 = 2;

pub(crate) fn now_micros() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_micros()).unwrap_or(i64::MAX)
}

/// One commit as the commit log records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitInfo {
    pub seq: Seq,
    /// UTC microseconds.
    pub time_micros: i64,
    pub user: String,
    /// Row events written.
    pub rows: u64,
}

impl Engine {
    /// Opens the data directory at `path`, creating it if needed, and loads the catalog and the
    /// commit log.
    pub fn open(path: impl AsRef<Path>, options: EngineOptions) -> Result<Engine> {
        let store = Store::open(path.as_ref())?;
        Self::check_format(&store)?;
        let catalog = Self::load_catalog(&store)?;
        let commit_times = Self::load_commit_times(&store)?;
        let latest = Seq(commit_times.len() as u64);
        let next_table_id = catalog.max_table_id().map_or(1, |t| t.0 + 1);
        let next_index_id = catalog.max_index_id().map_or(1, |i| i.0 + 1);
        Ok(Engine {
            store,
            options,
            pipeline: Mutex::new(Pipeline {
                written: latest,
                last_time: commit_times.last().copied().unwrap_or(i64::MIN),
                last_writes: HashMap::new(),
                ddl_versions: HashMap::new(),
            }),
            state: RwLock::new(State {
                commit_times,
                catalog,
            }),
            published: AtomicU64::new(latest.0),
            written: AtomicU64::new(latest.0),
            group: GroupSync::new(latest),
            syncs: AtomicU64::new(0),
            catalog_version: AtomicU64::new(0),
            next_table_id: AtomicU64::new(next_table_id),
            next_index_id: AtomicU64::new(next_index_id),
            identities: IdentityCounters::new(next_table_id),
        })
    }

    fn check_format(store: &Store) -> Result<()> {
        match store.get(Family::Meta, FORMAT_KEY)? {
            None => {
                let mut batch = store.batch();
                batch.put(
                    Family::Meta,
                    FORMAT_KEY,
                    &frame::encode(&FORMAT_VERSION.to_le_bytes()),
                );
                store.write(batch, true)
            }
            Some(value) => match decode_format(&value)? {
                FORMAT_VERSION => Ok(()),
                1 => Self::upgrade_from_v1(store),
                other => Err(Error::Storage(format!(
                    "data directory has format version {other}; this build reads version {FORMAT_VERSION}"
                ))),
            },
        }
    }

    /// Version 1 had no latest-state family: derive it from the newest version of every row.
    fn upgrade_from_v1(store: &Store) -> Result<()> {
        let mut batch = store.batch();
        let (mut previous, mut key, mut value) = (Vec::new(), Vec::new(), Vec::new());
        let mut cursor = store.cursor(Family::Versions, None, None);
        cursor.seek_to_first();
        while let Some((version_key, event)) = cursor.item() {
            let vk = keys::split_version_key(version_key).ok_or_else(|| {
                Error::corrupt(keys::describe(version_key), "malformed version key")
            })?;
            keys::latest_key_into(&mut key, vk.table, vk.pk);
            if key != previous {
                let payload = frame::decode(event)
                    .map_err(|e| Error::corrupt(keys::describe(version_key), e))?;
                latest::encode_into(&mut value, vk.seq, payload);
                batch.put(Family::Latest, &key, &value);
                std::mem::swap(&mut previous, &mut key);
            }
            cursor.next();
        }
        cursor.status()?;
        batch.put(
            Family::Meta,
            FORMAT_KEY,
            &frame::encode(&FORMAT_VERSION.to_le_bytes()),
        );
        store.write(batch, true)
    }

    fn load_catalog(store: &Store) -> Result<Catalog> {
        let mut catalog = Catalog::default();
        let mut cursor = store.cursor(Family::Catalog, None, None);
        cursor.seek_to_first();
        while let Some((key, value)) = cursor.item() {
            let (table, visible_from, record) = decode_catalog_entry(key, value)?;
            catalog.apply(table, visible_from, record);
            cursor.next();
        }
        cursor.status()?;
        Ok(catalog)
    }

    fn load_commit_times(store: &Store) -> Result<Vec<i64>> {
        let mut times = Vec::new();
        let mut cursor = store.cursor(Family::Commits, None, None);
        cursor.seek_to_first();
        while let Some((key, value)) = cursor.item() {
            let expected = Seq(times.len() as u64 + 1);
            let info = decode_commit_entry(key, value, expected)?;
            times.push(info.time_micros);
            cursor.next();
        }
        cursor.status()?;
        Ok(times)
    }

    pub(crate) fn state(&self) -> RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn lock_pipeline(&self) -> MutexGuard<'_, Pipeline> {
        self.pipeline
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The seq of the latest durable commit (`Seq::ZERO` before any): what a new snapshot reads.
    pub fn latest_seq(&self) -> Seq {
        Seq(self.published.load(Ordering::Acquire))
    }

    /// Fails with [`Error::FutureSeq`] if `seq` has not been committed.
    pub fn check_seq(&self, seq: Seq) -> Result<()> {
        let latest = self.latest_seq();
        if seq > latest {
            return Err(Error::FutureSeq {
                requested: seq.0,
                latest: latest.0,
            });
        }
        Ok(())
    }

    /// The commit time of `seq`, in UTC microseconds.
    pub fn commit_time(&self, seq: Seq) -> Option<i64> {
        let index = usize::try_from(seq.0).ok()?.checked_sub(1)?;
        self.state().commit_times.get(index).copied()
    }

    /// The last seq committed at or before `micros` (UTC microseconds); `Seq::ZERO` before the
    /// first commit. A time in the future is an error: its state is not known yet.
    pub fn seq_at_time(&self, micros: i64) -> Result<Seq> {
        if micros > now_micros() {
            return Err(Error::InvalidInput(
                "the requested time is in the future".into(),
            ));
        }
        let published = self.latest_seq().0 as usize;
        let state = self.state();
        let times = &state.commit_times[..published.min(state.commit_times.len())];
        Ok(Seq(times.partition_point(|&time| time <= micros) as u64))
    }

    /// Calls `f` with every durable commit whose seq is in `seqs`, in seq order.
    pub fn scan_commits(
        &self,
        seqs: std::ops::RangeInclusive<Seq>,
        mut f: impl FnMut(CommitInfo) -> Flow,
    ) -> Result<()> {
        let last = (*seqs.end()).min(self.latest_seq());
        let first = (*seqs.start()).max(Seq(1));
        if first > last {
            return Ok(());
        }
        let upper = keys::commit_key(last.next()).to_vec();
        let mut cursor = self.store.cursor(Family::Commits, None, Some(upper));
        cursor.seek(&keys::commit_key(first));
        let mut expected = first;
        while let Some((key, value)) = cursor.item() {
            let info = decode_commit_entry(key, value, expected)?;
            if f(info) == Flow::Stop {
                return Ok(());
            }
            expected = expected.next();
            cursor.next();
        }
        cursor.status()
    }

    /// The table called `name` at `point` (see [`Catalog::resolve`]).
    pub fn resolve_table(&self, name: &str, point: CatalogPoint) -> Option<Arc<TableDef>> {
        self.state().catalog.resolve(name, point)
    }

    /// The table and index called `index_name` at `point`.
    pub fn resolve_index(
        &self,
        index_name: &str,
        point: CatalogPoint,
    ) -> Option<(Arc<TableDef>, IndexDef)> {
        self.state().catalog.resolve_index(index_name, point)
    }

    /// The names of the tables that exist at `point`.
    pub fn table_names(&self, point: CatalogPoint) -> Vec<String> {
        self.state().catalog.table_names(point)
    }

    pub(crate) fn family_cursor(
        &self,
        family: Family,
        prefix: &[u8],
        range: &KeyRange,
    ) -> (Cursor<'_>, Vec<u8>) {
        let (lower, upper) = range.bounds_under(prefix);
        let cursor = self.store.cursor(family, Some(lower.clone()), upper);
        (cursor, lower)
    }

    pub(crate) fn versions_cursor(&self, table: TableId) -> Cursor<'_> {
        self.family_cursor(
            Family::Versions,
            &keys::table_prefix(table),
            &KeyRange::all(),
        )
        .0
    }

    /// Whether a read at `seq` should go through the latest-state family.
    fn reads_latest_state(&self, seq: Seq) -> bool {
        self.latest_seq().0.saturating_sub(seq.0) < self.options.latest_state_window
    }

    /// Calls `f` with every row of `table` as of `seq`, in primary-key order, until it says stop.
    pub fn scan_as_of(
        &self,
        table: TableId,
        seq: Seq,
        f: impl FnMut(&[u8], RowView<'_>) -> Result<Flow>,
    ) -> Result<()> {
        self.scan_range(table, &KeyRange::all(), seq, f)
    }

    /// Calls `f` with every row of `table` whose encoded primary key is in `range`, as of `seq`,
    /// in primary-key order, until it says stop.
    pub fn scan_range(
        &self,
        table: TableId,
        range: &KeyRange,
        seq: Seq,
        mut f: impl FnMut(&[u8], RowView<'_>) -> Result<Flow>,
    ) -> Result<()> {
        let prefix = keys::table_prefix(table);
        if self.reads_latest_state(seq) {
            let (mut cursor, start) = self.family_cursor(Family::Latest, &prefix, range);
            let versions = || self.versions_cursor(table);
            latest::as_of(&mut cursor, versions, table, &start, seq, &mut f)
        } else {
            let (mut cursor, start) = self.family_cursor(Family::Versions, &prefix, range);
            scan::as_of(&mut cursor, table, &start, seq, &mut f)
        }
    }

    /// The row of `table` with primary key `pk` as of `seq`, handed to `f`.
    pub fn get_as_of<T>(
        &self,
        table: TableId,
        pk: &[u8],
        seq: Seq,
        f: impl FnOnce(RowView<'_>) -> T,
    ) -> Result<Option<T>> {
        let mut key = Vec::new();
        keys::latest_key_into(&mut key, table, pk);
        let Some(value) = self.store.get(Family::Latest, &key)? else {
            return Ok(None);
        };
        let (written, event) = latest::decode(&key, &value)?;
        if written <= seq {
            return Ok(match event {
                RowEvent::Put(row) => Some(f(row)),
                RowEvent::Delete => None,
            });
        }
        let mut versions = self.versions_cursor(table);
        let found = scan::get_as_of(&mut versions, table, pk, seq, |event| match event {
            RowEvent::Put(row) => Some(f(row)),
            RowEvent::Delete => None,
        })?;
        Ok(found.flatten())
    }

    /// The seq of the last committed write (put or delete) of the row of `table` with primary
    /// key `pk`; `None` if no commit ever wrote it. A writer that waited for a row's lock asks
    /// whether the row changed after it read it.
    pub fn last_write(&self, table: TableId, pk: &[u8]) -> Result<Option<Seq>> {
        let mut key = Vec::new();
        keys::latest_key_into(&mut key, table, pk);
        let Some(value) = self.store.get(Family::Latest, &key)? else {
            return Ok(None);
        };
        let (written, _) = latest::decode(&key, &value)?;
        Ok(Some(written))
    }

    /// Calls `f` with every version of every row of `table` that was current at some seq in
    /// `seqs` (see [`VersionRef`]), in primary-key order, newest first.
    pub fn scan_versions(
        &self,
        table: TableId,
        seqs: std::ops::RangeInclusive<Seq>,
        mut f: impl FnMut(VersionRef<'_>) -> Result<Flow>,
    ) -> Result<()> {
        let prefix = keys::table_prefix(table);
        let (mut cursor, start) = self.family_cursor(Family::Versions, &prefix, &KeyRange::all());
        scan::versions(&mut cursor, table, &start, seqs, &mut f)
    }

    /// Calls `f` with every row of `table` whose values in `index` lie in `range` (encoded with
    /// [`index::push_value`]; a bound on leading columns covers the rest) as of `seq`, in index
    /// order, until it says stop.
    pub fn scan_index(
        &self,
        table: &TableDef,
        index: &IndexDef,
        range: &KeyRange,
        seq: Seq,
        mut f: impl FnMut(&[u8], RowView<'_>) -> Result<Flow>,
    ) -> Result<()> {
        let (mut cursor, start) =
            self.family_cursor(Family::Indexes, &keys::index_prefix(index.id), range);
        index::lookup(&mut cursor, index.id, &start, seq, &mut |pk| {
            let flow = self.get_as_of(table.id, pk, seq, |row| f(pk, row))?;
            match flow {
                Some(flow) => flow,
                None => Err(Error::corrupt(
                    format!("index {} of table {}", index.name, table.name),
                    format!(
                        "entry for key {} without a row at seq {seq}",
                        keys::describe(pk)
                    ),
                )),
            }
        })
    }

    /// Writes every memtable to SST files (tests use it to put data where a byte can be flipped).
    pub fn flush(&self) -> Result<()> {
        self.store.flush()
    }

    /// Compacts all data now instead of in the background (benchmarks use it to measure the
    /// steady state).
    pub fn compact(&self) -> Result<()> {
        self.store.flush()?;
        self.store.compact();
        Ok(())
    }

    /// How many WAL syncs commits have waited for since open (with group commit, fewer than
    /// the commits).
    pub fn wal_syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }

    /// The SST files of each family: `(family name, file name)`.
    pub fn storage_files(&self) -> Result<Vec<(String, String)>> {
        self.store.files()
    }
}

pub(crate) fn decode_format(value: &[u8]) -> Result<u32> {
    let payload = frame::decode(value).map_err(|e| Error::corrupt("meta format record", e))?;
    <[u8; 4]>::try_from(payload)
        .map(u32::from_le_bytes)
        .map_err(|_| Error::corrupt("meta format record", "wrong length"))
}

pub(crate) fn decode_catalog_entry(
    key: &[u8],
    value: &[u8],
) -> Result<(TableId, Seq, CatalogRecord)> {
    let location = || format!("catalog key {}", keys::describe(key));
    let (table, visible_from) =
        keys::split_catalog_key(key).ok_or_else(|| Error::corrupt(location(), "malformed key"))?;
    let payload = frame::decode(value).map_err(|e| Error::corrupt(location(), e))?;
    let record = serde_json::from_slice(payload).map_err(|e| Error::corrupt(location(), e))?;
    Ok((table, visible_from, record))
}

/// Decodes a commit record that must be the one for `expected` (the log has no gaps).
pub(crate) fn decode_commit_entry(key: &[u8], value: &[u8], expected: Seq) -> Result<CommitInfo> {
    let location = || format!("commit record {}", keys::describe(key));
    if keys::split_commit_key(key) != Some(expected) {
        return Err(Error::corrupt(
            location(),
            format!("expected seq {expected}"),
        ));
    }
    let payload = frame::decode(value).map_err(|e| Error::corrupt(location(), e))?;
    let record = CommitRecord::decode(payload).map_err(|e| Error::corrupt(location(), e))?;
    Ok(CommitInfo {
        seq: expected,
        time_micros: record.time_micros,
        user: record.user,
        rows: record.rows,
    })
}
