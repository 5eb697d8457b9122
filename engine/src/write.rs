//! Every write the engine makes: row commits, TRUNCATE, and DDL (tables and indexes).
//!
//! A row commit is built and written while the commit lock is held — seq, commit time, key checks
//! against the latest written state, the versions, latest-state and index entries and the commit
//! record, all in one RocksDB batch — then waits for durability outside the lock, so concurrent
//! commits share a WAL sync ([`crate::durability`]). DDL is rare: it writes and syncs its catalog
//! record under the lock and is visible from the next seq to be assigned (DESIGN.md §2).

use crate::catalog::{CatalogRecord, ColumnDef, IndexDef, TableDef};
use crate::commit::CommitRecord;
use crate::engine::{Engine, Pipeline, now_micros};
use crate::error::{Error, Result};
use crate::frame;
use crate::ids::{IndexId, Seq, TableId};
use crate::index;
use crate::keys::{self, KeyEncoder};
use crate::latest;
use crate::row::{self, RowEvent, RowView};
use crate::store::{Batch, Family};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

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

/// Builds the batch of one commit: checks each row write against the latest written state and
/// adds its version, latest-state entry and index entries.
struct CommitBuilder<'e> {
    engine: &'e Engine,
    seq: Seq,
    batch: Batch<'e>,
    rows: u64,
    seen: HashSet<(TableId, Vec<u8>)>,
    table: Option<Arc<TableDef>>,
    key: Vec<u8>,
    value: Vec<u8>,
    old_values: KeyEncoder,
    new_values: KeyEncoder,
}

impl<'e> CommitBuilder<'e> {
    fn new(engine: &'e Engine, seq: Seq) -> CommitBuilder<'e> {
        CommitBuilder {
            engine,
            seq,
            batch: engine.store.batch(),
            rows: 0,
            seen: HashSet::new(),
            table: None,
            key: Vec::new(),
            value: Vec::new(),
            old_values: KeyEncoder::new(),
            new_values: KeyEncoder::new(),
        }
    }

    fn table(&mut self, id: TableId) -> Result<Arc<TableDef>> {
        if let Some(def) = self.table.as_ref().filter(|d| d.id == id) {
            return Ok(def.clone());
        }
        let def = self.engine.state().catalog.latest_by_id(id);
        let def = def.ok_or_else(|| Error::NoSuchTable(format!("with id {id}")))?;
        self.table = Some(def.clone());
        Ok(def)
    }

    fn add(&mut self, write: &RowWrite) -> Result<()> {
        let def = self.table(write.table)?;
        if !self.seen.insert((write.table, write.pk.clone())) {
            return Err(match write.expect {
                WriteExpectation::Absent => Error::DuplicateKey {
                    constraint: def.primary_key_name(),
                },
                WriteExpectation::Any => Error::InvalidInput(format!(
                    "row {} written twice in one commit",
                    keys::describe(&write.pk)
                )),
            });
        }
        let payload = frame::decode(&write.event)
            .map_err(|e| Error::InvalidInput(format!("malformed row event: {e}")))?;
        let new = row::decode_event(payload)
            .map_err(|e| Error::InvalidInput(format!("malformed row event: {e}")))?;
        if let RowEvent::Put(row) = new {
            row.validate()
                .map_err(|e| Error::InvalidInput(format!("malformed row: {e}")))?;
        }

        keys::latest_key_into(&mut self.key, write.table, &write.pk);
        let old_value = self.engine.store.get(Family::Latest, &self.key)?;
        let old = match &old_value {
            Some(value) => Some(latest::decode(&self.key, value)?.1),
            None => None,
        };
        let old_row = match old {
            Some(RowEvent::Put(row)) => Some(row),
            _ => None,
        };
        if write.expect == WriteExpectation::Absent && old_row.is_some() {
            return Err(Error::DuplicateKey {
                constraint: def.primary_key_name(),
            });
        }

        latest::encode_into(&mut self.value, self.seq, payload);
        self.batch.put(Family::Latest, &self.key, &self.value);
        keys::version_key_into(&mut self.key, write.table, &write.pk, self.seq);
        self.batch.put(Family::Versions, &self.key, &write.event);
        let new_row = match new {
            RowEvent::Put(row) => Some(row),
            RowEvent::Delete => None,
        };
        for index in &def.indexes {
            self.index_change(index, &write.pk, old_row.as_ref(), new_row.as_ref())?;
        }
        self.rows += 1;
        Ok(())
    }

    /// Adds the entries that move a row from its old indexed values to its new ones.
    fn index_change(
        &mut self,
        index: &IndexDef,
        pk: &[u8],
        old: Option<&RowView<'_>>,
        new: Option<&RowView<'_>>,
    ) -> Result<()> {
        let bad_row = |e: row::RowError| Error::InvalidInput(format!("malformed row: {e}"));
        if let Some(old) = old {
            index::encode_row_values(&mut self.old_values, old, &index.columns)
                .map_err(|e| Error::corrupt(format!("row {}", keys::describe(pk)), e))?;
        }
        if let Some(new) = new {
            index::encode_row_values(&mut self.new_values, new, &index.columns).map_err(bad_row)?;
        }
        let unchanged = old.is_some()
            && new.is_some()
            && self.old_values.as_bytes() == self.new_values.as_bytes();
        if unchanged {
            return Ok(());
        }
        if old.is_some() {
            let (values, seq) = (self.old_values.as_bytes(), self.seq);
            keys::index_key_into(&mut self.key, index.id, values, pk, seq);
            self.batch.put(
                Family::Indexes,
                &self.key,
                &index::entry_value(false, pk.len()),
            );
        }
        if new.is_some() {
            let (values, seq) = (self.new_values.as_bytes(), self.seq);
            keys::index_key_into(&mut self.key, index.id, values, pk, seq);
            self.batch.put(
                Family::Indexes,
                &self.key,
                &index::entry_value(true, pk.len()),
            );
        }
        Ok(())
    }
}

impl Engine {
    /// Commits `writes` atomically as the next seq and returns once it is durable. Returns
    /// `None` (and takes no seq) when there is nothing to write.
    pub fn commit(&self, user: &str, writes: &[RowWrite]) -> Result<Option<Seq>> {
        if writes.is_empty() {
            return Ok(None);
        }
        self.commit_with(user, |builder| {
            writes.iter().try_for_each(|write| builder.add(write))
        })
    }

    /// Deletes every row of the named tables in one commit (history is kept). Returns `None` if
    /// they were already empty.
    pub fn truncate(&self, user: &str, tables: &[impl AsRef<str>]) -> Result<Option<Seq>> {
        let defs = tables
            .iter()
            .map(|name| self.existing_table(name.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        self.commit_with(user, |builder| {
            let engine = builder.engine;
            let written = Seq(engine.written.load(Ordering::Acquire));
            let delete = row::delete_event();
            for def in &defs {
                let mut live = Vec::new();
                engine.scan_range(def.id, &keys::KeyRange::all(), written, |pk, _| {
                    live.push(pk.to_vec());
                    Ok(crate::Flow::Continue)
                })?;
                for pk in live {
                    builder.add(&RowWrite {
                        table: def.id,
                        pk,
                        event: delete.clone(),
                        expect: WriteExpectation::Any,
                    })?;
                }
            }
            Ok(())
        })
    }

    /// Runs `build` under the commit lock to fill the next commit's batch, writes it, and waits
    /// for durability. A commit that ends up with no rows takes no seq.
    fn commit_with(
        &self,
        user: &str,
        build: impl FnOnce(&mut CommitBuilder<'_>) -> Result<()>,
    ) -> Result<Option<Seq>> {
        self.group.begin_commit();
        let written = self.write_commit(user, build);
        self.group.end_commit();
        match written? {
            Some(seq) => {
                self.wait_durable(seq)?;
                Ok(Some(seq))
            }
            None => Ok(None),
        }
    }

    /// Builds and writes (unsynced) the next commit under the commit lock.
    fn write_commit(
        &self,
        user: &str,
        build: impl FnOnce(&mut CommitBuilder<'_>) -> Result<()>,
    ) -> Result<Option<Seq>> {
        {
            let mut pipeline = self.lock_pipeline();
            self.group.check_healthy()?;
            let seq = pipeline.written.next();
            let mut builder = CommitBuilder::new(self, seq);
            build(&mut builder)?;
            if builder.rows == 0 {
                return Ok(None);
            }
            let time_micros = now_micros().max(pipeline.last_time.saturating_add(1));
            let record = CommitRecord {
                time_micros,
                rows: builder.rows,
                user: user.to_string(),
            };
            let mut batch = builder.batch;
            batch.put(
                Family::Commits,
                &keys::commit_key(seq),
                &frame::encode(&record.encode()),
            );
            self.store.write(batch, false)?;
            self.state
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .commit_times
                .push(time_micros);
            *pipeline = Pipeline {
                written: seq,
                last_time: time_micros,
            };
            self.written.store(seq.0, Ordering::Release);
            Ok(Some(seq))
        }
    }

    /// Returns once `seq` is durable and published.
    fn wait_durable(&self, seq: Seq) -> Result<()> {
        self.group.wait(seq, self.options.sync, || {
            let covered = self.written.load(Ordering::Acquire);
            if self.options.sync {
                self.store.sync_wal()?;
                self.syncs.fetch_add(1, Ordering::Relaxed);
            }
            self.published.fetch_max(covered, Ordering::AcqRel);
            Ok(Seq(covered))
        })
    }

    /// Records a catalog change (plus any entries it brings) visible from the next seq, durably,
    /// then applies it in memory. Runs under the commit lock.
    fn record_ddl(
        &self,
        pipeline: &Pipeline,
        table: TableId,
        record: CatalogRecord,
        mut batch: Batch<'_>,
    ) -> Result<()> {
        self.group.check_healthy()?;
        let visible_from = pipeline.written.next();
        let payload =
            serde_json::to_vec(&record).map_err(|e| Error::InvalidInput(e.to_string()))?;
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

    /// The table called `name` now, or [`Error::NoSuchTable`].
    fn existing_table(&self, name: &str) -> Result<Arc<TableDef>> {
        self.resolve_table(name, crate::CatalogPoint::Latest)
            .ok_or_else(|| Error::NoSuchTable(name.to_string()))
    }

    fn name_taken(&self, name: &str) -> bool {
        let latest = crate::CatalogPoint::Latest;
        self.resolve_table(name, latest).is_some() || self.resolve_index(name, latest).is_some()
    }

    /// Creates a table; it is visible from the next seq on.
    pub fn create_table(
        &self,
        name: &str,
        columns: Vec<ColumnDef>,
        primary_key: Vec<usize>,
    ) -> Result<Arc<TableDef>> {
        let pipeline = self.lock_pipeline();
        if self.name_taken(name) {
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
            indexes: Vec::new(),
        };
        self.record_ddl(&pipeline, id, CatalogRecord::Table(def), self.store.batch())?;
        Ok(self.state().catalog.latest_by_id(id).expect("just created"))
    }

    /// Replaces a table's definition (same id, same indexes) from the next seq on.
    pub fn alter_table(&self, def: TableDef) -> Result<()> {
        let pipeline = self.lock_pipeline();
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
        if !slots_kept || def.primary_key != current.primary_key || def.indexes != current.indexes {
            return Err(Error::InvalidInput(
                "a table change must keep every column slot, its type, the primary key and the \
                 indexes"
                    .into(),
            ));
        }
        if def.name != current.name && self.name_taken(&def.name) {
            return Err(Error::TableExists(def.name));
        }
        self.record_ddl(
            &pipeline,
            def.id,
            CatalogRecord::Table(def),
            self.store.batch(),
        )
    }

    /// Drops the table called `name` from the next seq on; its past stays readable.
    pub fn drop_table(&self, name: &str) -> Result<()> {
        let pipeline = self.lock_pipeline();
        let def = self.existing_table(name)?;
        self.record_ddl(
            &pipeline,
            def.id,
            CatalogRecord::Dropped,
            self.store.batch(),
        )
    }

    /// Creates an index over `columns` (slots) of `table`, filled from the rows it holds now; it
    /// is visible from the next seq on.
    pub fn create_index(&self, table: &str, name: &str, columns: Vec<usize>) -> Result<IndexDef> {
        let pipeline = self.lock_pipeline();
        let def = self.existing_table(table)?;
        if self.name_taken(name) {
            return Err(Error::TableExists(name.to_string()));
        }
        if columns.is_empty() || columns.iter().any(|&slot| slot >= def.columns.len()) {
            return Err(Error::InvalidInput(format!(
                "index \"{name}\" needs columns of table \"{table}\""
            )));
        }
        let id = IndexId(self.state().catalog.max_index_id().map_or(1, |i| i.0 + 1));
        let index = IndexDef {
            id,
            name: name.to_string(),
            columns,
        };
        let mut batch = self.store.batch();
        self.backfill(&def, &index, &mut batch)?;
        let mut new_def = (*def).clone();
        new_def.indexes.push(index.clone());
        self.record_ddl(&pipeline, def.id, CatalogRecord::Table(new_def), batch)?;
        Ok(index)
    }

    /// Adds an index entry for every live row, at the seq of the row's current version.
    fn backfill(&self, def: &TableDef, index: &IndexDef, batch: &mut Batch<'_>) -> Result<()> {
        let prefix = keys::table_prefix(def.id);
        let (mut cursor, start) =
            self.family_cursor(Family::Latest, &prefix, &keys::KeyRange::all());
        let (mut values, mut key) = (KeyEncoder::new(), Vec::new());
        cursor.seek(&start);
        while let Some((entry_key, value)) = cursor.item() {
            let (seq, event) = latest::decode(entry_key, value)?;
            if let RowEvent::Put(row) = event {
                let pk = &entry_key[keys::TABLE_ID_LEN..];
                index::encode_row_values(&mut values, &row, &index.columns)
                    .map_err(|e| Error::corrupt(format!("row {}", keys::describe(pk)), e))?;
                keys::index_key_into(&mut key, index.id, values.as_bytes(), pk, seq);
                batch.put(Family::Indexes, &key, &index::entry_value(true, pk.len()));
            }
            cursor.next();
        }
        cursor.status()
    }

    /// Drops the index called `name` from the next seq on; reads before that still use it.
    pub fn drop_index(&self, name: &str) -> Result<()> {
        let pipeline = self.lock_pipeline();
        let Some((def, index)) = self.resolve_index(name, crate::CatalogPoint::Latest) else {
            return Err(Error::NoSuchIndex(name.to_string()));
        };
        let mut new_def = (*def).clone();
        new_def.indexes.retain(|i| i.id != index.id);
        self.record_ddl(
            &pipeline,
            def.id,
            CatalogRecord::Table(new_def),
            self.store.batch(),
        )
    }
}
