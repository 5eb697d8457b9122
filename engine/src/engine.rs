//! The engine: commits, the versioned catalog and reads at any seq, over one [`Store`].

use crate::catalog::{Catalog, CatalogPoint, CatalogRecord, ColumnDef, TableDef};
use crate::commit::CommitRecord;
use crate::error::{Error, Result};
use crate::frame;
use crate::ids::{Seq, TableId};
use crate::keys;
use crate::row::{RowEvent, RowView};
use crate::scan::{self, Flow, VersionRef};
use crate::store::{Cursor, Family, Store};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// How the engine behaves; the defaults are the safe ones.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// Sync the WAL before a commit is acknowledged.
    pub sync: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions { sync: true }
    }
}

/// What a row write requires of the row's current state, checked atomically at commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteExpectation {
    /// The key must not hold a live row (an INSERT).
    Absent,
    /// Anything goes (an UPDATE or DELETE of a row just read).
    Any,
}

/// One row event of a commit.
#[derive(Clone, Debug)]
pub struct RowWrite {
    pub table: TableId,
    /// The encoded primary key ([`keys::KeyEncoder`]).
    pub pk: Vec<u8>,
    /// The framed event: a put from [`crate::row::RowEncoder`] or [`crate::row::delete_event`].
    pub event: Vec<u8>,
    pub expect: WriteExpectation,
}

#[derive(Debug, Default)]
struct State {
    latest: Seq,
    /// Commit times in UTC microseconds; index `i` holds seq `i + 1`.
    commit_times: Vec<i64>,
    catalog: Catalog,
}

/// DriftDB's event store. Cheap to share behind an `Arc`; all methods take `&self`.
#[derive(Debug)]
pub struct Engine {
    store: Store,
    options: EngineOptions,
    state: RwLock<State>,
    /// Serialises commits and DDL: each takes the next seq and checks keys against the latest state.
    commit_lock: Mutex<()>,
}

const FORMAT_KEY: &[u8] = b"format";
const FORMAT_VERSION: u32 = 1;

fn now_micros() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_micros()).unwrap_or(i64::MAX)
}

impl Engine {
    /// Opens the data directory at `path`, creating it if needed, and loads the catalog and the
    /// commit log.
    pub fn open(path: impl AsRef<Path>, options: EngineOptions) -> Result<Engine> {
        let store = Store::open(path.as_ref())?;
        Self::check_format(&store)?;
        let state = State {
            catalog: Self::load_catalog(&store)?,
            ..Self::load_commits(&store)?
        };
        Ok(Engine {
            store,
            options,
            state: RwLock::new(state),
            commit_lock: Mutex::new(()),
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
            Some(value) => {
                let payload =
                    frame::decode(&value).map_err(|e| Error::corrupt("meta format record", e))?;
                let version = <[u8; 4]>::try_from(payload).map(u32::from_le_bytes);
                match version {
                    Ok(FORMAT_VERSION) => Ok(()),
                    Ok(other) => Err(Error::Storage(format!(
                        "data directory has format version {other}; this build reads version {FORMAT_VERSION}"
                    ))),
                    Err(_) => Err(Error::corrupt("meta format record", "wrong length")),
                }
            }
        }
    }

    fn load_catalog(store: &Store) -> Result<Catalog> {
        let mut catalog = Catalog::default();
        let mut cursor = store.cursor(Family::Catalog, None, None);
        cursor.seek_to_first();
        while let Some((key, value)) = cursor.item() {
            let location = || format!("catalog key {}", keys::describe(key));
            let (table, visible_from) = keys::split_catalog_key(key)
                .ok_or_else(|| Error::corrupt(location(), "malformed key"))?;
            let payload = frame::decode(value).map_err(|e| Error::corrupt(location(), e))?;
            let record: CatalogRecord =
                serde_json::from_slice(payload).map_err(|e| Error::corrupt(location(), e))?;
            catalog.apply(table, visible_from, record);
            cursor.next();
        }
        cursor.status()?;
        Ok(catalog)
    }

    fn load_commits(store: &Store) -> Result<State> {
        let mut state = State::default();
        let mut cursor = store.cursor(Family::Commits, None, None);
        cursor.seek_to_first();
        while let Some((key, value)) = cursor.item() {
            let seq = keys::split_commit_key(key);
            let location = || format!("commit record {}", keys::describe(key));
            if seq != Some(state.latest.next()) {
                return Err(Error::corrupt(
                    location(),
                    format!("expected seq {}", state.latest.next()),
                ));
            }
            let payload = frame::decode(value).map_err(|e| Error::corrupt(location(), e))?;
            let record =
                CommitRecord::decode(payload).map_err(|e| Error::corrupt(location(), e))?;
            state.latest = state.latest.next();
            state.commit_times.push(record.time_micros);
            cursor.next();
        }
        cursor.status()?;
        Ok(state)
    }

    fn state(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock_commits(&self) -> std::sync::MutexGuard<'_, ()> {
        self.commit_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The seq of the latest commit (`Seq::ZERO` before any).
    pub fn latest_seq(&self) -> Seq {
        self.state().latest
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
        let committed = self
            .state()
            .commit_times
            .partition_point(|&time| time <= micros);
        Ok(Seq(committed as u64))
    }

    /// The table called `name` at `point` (see [`Catalog::resolve`]).
    pub fn resolve_table(&self, name: &str, point: CatalogPoint) -> Option<Arc<TableDef>> {
        self.state().catalog.resolve(name, point)
    }

    /// The names of the tables that exist at `point`.
    pub fn table_names(&self, point: CatalogPoint) -> Vec<String> {
        self.state().catalog.table_names(point)
    }

    /// Records a catalog change visible from the next seq, durably, then applies it in memory.
    fn record_ddl(&self, table: TableId, record: CatalogRecord) -> Result<()> {
        let visible_from = self.latest_seq().next();
        let payload =
            serde_json::to_vec(&record).map_err(|e| Error::InvalidInput(e.to_string()))?;
        let mut batch = self.store.batch();
        batch.put(
            Family::Catalog,
            &keys::catalog_key(table, visible_from),
            &frame::encode(&payload),
        );
        self.store.write(batch, self.options.sync)?;
        self.state
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .catalog
            .apply(table, visible_from, record);
        Ok(())
    }

    /// Creates a table; it is visible from the next seq on.
    pub fn create_table(
        &self,
        name: &str,
        columns: Vec<ColumnDef>,
        primary_key: Vec<usize>,
    ) -> Result<Arc<TableDef>> {
        let _guard = self.lock_commits();
        if self.resolve_table(name, CatalogPoint::Latest).is_some() {
            return Err(Error::TableExists(name.to_string()));
        }
        if primary_key.is_empty() || primary_key.iter().any(|&slot| slot >= columns.len()) {
            return Err(Error::InvalidInput(format!(
                "table \"{name}\" needs a primary key"
            )));
        }
        let id = TableId(self.state().catalog.max_table_id().map_or(1, |t| t.0 + 1));
        let def = TableDef {
            id,
            name: name.to_string(),
            columns,
            primary_key,
        };
        self.record_ddl(id, CatalogRecord::Table(def))?;
        Ok(self.state().catalog.latest_by_id(id).expect("just created"))
    }

    /// Replaces a table's definition (same id) from the next seq on.
    pub fn alter_table(&self, def: TableDef) -> Result<()> {
        let _guard = self.lock_commits();
        let current = self.state().catalog.latest_by_id(def.id);
        let Some(current) = current else {
            return Err(Error::NoSuchTable(def.name));
        };
        let slots_kept = def.columns.len() >= current.columns.len()
            && current
                .columns
                .iter()
                .zip(&def.columns)
                .all(|(old, new)| old.ty == new.ty);
        if !slots_kept || def.primary_key != current.primary_key {
            return Err(Error::InvalidInput(
                "a table change must keep every column slot, its type and the primary key".into(),
            ));
        }
        self.record_ddl(def.id, CatalogRecord::Table(def))
    }

    /// Drops the table called `name` from the next seq on; its past stays readable.
    pub fn drop_table(&self, name: &str) -> Result<()> {
        let _guard = self.lock_commits();
        let def = self
            .resolve_table(name, CatalogPoint::Latest)
            .ok_or_else(|| Error::NoSuchTable(name.to_string()))?;
        self.record_ddl(def.id, CatalogRecord::Dropped)
    }

    /// Commits `writes` atomically as the next seq, synced before returning. Returns `None`
    /// (and takes no seq) when there is nothing to write.
    pub fn commit(&self, user: &str, writes: &[RowWrite]) -> Result<Option<Seq>> {
        if writes.is_empty() {
            return Ok(None);
        }
        let _guard = self.lock_commits();
        let (seq, time_micros) = {
            let state = self.state();
            let last_time = state.commit_times.last().copied().unwrap_or(i64::MIN);
            (
                state.latest.next(),
                now_micros().max(last_time.saturating_add(1)),
            )
        };
        let mut batch = self.store.batch();
        let mut key = Vec::new();
        let mut written = std::collections::HashSet::with_capacity(writes.len());
        // One cursor per table serves every existence check of the commit.
        let mut cursor: Option<(TableId, Cursor<'_>)> = None;
        let latest = self.latest_seq();
        for write in writes {
            if !written.insert((write.table, write.pk.as_slice())) {
                return Err(self.repeated_key_error(write));
            }
            let table_cursor = match &mut cursor {
                Some((table, c)) if *table == write.table => c,
                slot => {
                    &mut slot
                        .insert((write.table, self.versions_cursor(write.table)))
                        .1
                }
            };
            self.check_expectation(write, table_cursor, latest)?;
            keys::version_key_into(&mut key, write.table, &write.pk, seq);
            batch.put(Family::Versions, &key, &write.event);
        }
        let record = CommitRecord {
            time_micros,
            rows: writes.len() as u64,
            user: user.to_string(),
        };
        batch.put(
            Family::Commits,
            &keys::commit_key(seq),
            &frame::encode(&record.encode()),
        );
        self.store.write(batch, self.options.sync)?;
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        state.latest = seq;
        state.commit_times.push(time_micros);
        Ok(Some(seq))
    }

    /// A commit holds at most one event per row; a repeated insert is a duplicate key.
    fn repeated_key_error(&self, write: &RowWrite) -> Error {
        match (write.expect, self.state().catalog.latest_by_id(write.table)) {
            (WriteExpectation::Absent, Some(def)) => Error::DuplicateKey {
                constraint: def.primary_key_name(),
            },
            _ => Error::InvalidInput(format!(
                "row {} written twice in one commit",
                keys::describe(&write.pk)
            )),
        }
    }

    fn check_expectation(
        &self,
        write: &RowWrite,
        cursor: &mut Cursor<'_>,
        latest: Seq,
    ) -> Result<()> {
        let def = self.state().catalog.latest_by_id(write.table);
        let Some(def) = def else {
            return Err(Error::NoSuchTable(format!("with id {}", write.table)));
        };
        if write.expect == WriteExpectation::Absent
            && Self::live(cursor, write.table, &write.pk, latest)?
        {
            return Err(Error::DuplicateKey {
                constraint: def.primary_key_name(),
            });
        }
        Ok(())
    }

    /// Whether `pk` holds a live row as of `seq`.
    fn live(cursor: &mut Cursor<'_>, table: TableId, pk: &[u8], seq: Seq) -> Result<bool> {
        let event = scan::get_as_of(cursor, table, pk, seq, |event| {
            matches!(event, RowEvent::Put(_))
        })?;
        Ok(event.unwrap_or(false))
    }

    fn versions_cursor(&self, table: TableId) -> Cursor<'_> {
        let lower = keys::table_prefix(table).to_vec();
        let upper = keys::table_upper_bound(table).to_vec();
        self.store
            .cursor(Family::Versions, Some(lower), Some(upper))
    }

    /// Calls `f` with every row of `table` as of `seq`, in primary-key order, until it says stop.
    pub fn scan_as_of(
        &self,
        table: TableId,
        seq: Seq,
        mut f: impl FnMut(&[u8], RowView<'_>) -> Result<Flow>,
    ) -> Result<()> {
        scan::as_of(&mut self.versions_cursor(table), table, seq, &mut f)
    }

    /// Calls `f` with every version of every row of `table` committed at or before `seq`.
    pub fn scan_versions(
        &self,
        table: TableId,
        seq: Seq,
        mut f: impl FnMut(VersionRef<'_>) -> Result<Flow>,
    ) -> Result<()> {
        scan::versions(&mut self.versions_cursor(table), table, seq, &mut f)
    }
}
