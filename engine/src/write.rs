//! Every write the engine makes goes through one path: a commit of row events and table
//! definitions ([`crate::transaction::Transaction`]), built and written while the commit lock is
//! held — seq, commit time, certification against the latest written state, the versions,
//! latest-state, index and catalog entries and the commit record, all in one RocksDB batch — then
//! made durable outside the lock, so concurrent commits share a WAL sync ([`crate::durability`]).
//!
//! Definitions are visible from the commit's own seq when it writes rows, else from the next seq
//! to be assigned: both are `written + 1` (DESIGN.md §2). A commit that changes definitions is
//! synced before the lock is released, because the in-memory catalog that every session plans
//! against is updated under the lock; definitions are rare, rows are not.

use crate::catalog::{CatalogRecord, ColumnDef, IndexDef, TableDef};
use crate::commit::CommitRecord;
use crate::engine::{Engine, Pipeline, now_micros};
use crate::error::{Error, Result};
use crate::frame;
use crate::ids::{IndexId, Seq, TableId};
use crate::index;
use crate::keys::{self, KeyEncoder, KeyRange};
use crate::latest;
use crate::row::{self, RowEvent, RowView};
use crate::scan::Flow;
use crate::store::{Batch, Family};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// What a row write requires of the row's current state, checked atomically at commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteExpectation {
    /// The key must not hold a live row (an INSERT).
    Absent,
    /// No commit after this seq may have written the key (an UPDATE or DELETE of a row read at
    /// that seq): a later write is a lost update, [`Error::Conflict`].
    Unchanged(Seq),
    /// Anything goes (a write that read nothing, or the caller holds off every other writer).
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
pub(crate) struct CommitBuilder<'e> {
    pub(crate) engine: &'e Engine,
    seq: Seq,
    batch: Batch<'e>,
    rows: u64,
    seen: HashSet<(TableId, Vec<u8>)>,
    /// Definitions this commit changes (`None`: dropped), ahead of the catalog.
    staged: BTreeMap<TableId, Option<Arc<TableDef>>>,
    tables_written: HashSet<TableId>,
    table: Option<Arc<TableDef>>,
    key: Vec<u8>,
    value: Vec<u8>,
    old_values: KeyEncoder,
    new_values: KeyEncoder,
    /// For each unique index and values this commit gives to some row: the rows of this commit
    /// (or of a new index's backfill) that hold them afterwards.
    unique_claims: HashMap<(IndexId, Vec<u8>), HashSet<Vec<u8>>>,
    /// The (index, values, row) holdings this commit ends.
    unique_releases: HashSet<(IndexId, Vec<u8>, Vec<u8>)>,
    /// Unique indexes created by this commit (their entries are all in the batch).
    new_unique_indexes: HashSet<IndexId>,
    /// Tables whose primary key this commit changes: it must write every row they hold.
    rekeyed: Vec<TableId>,
}

impl<'e> CommitBuilder<'e> {
    fn new(engine: &'e Engine, seq: Seq) -> CommitBuilder<'e> {
        CommitBuilder {
            engine,
            seq,
            batch: engine.store.batch(),
            rows: 0,
            seen: HashSet::new(),
            staged: BTreeMap::new(),
            tables_written: HashSet::new(),
            table: None,
            key: Vec::new(),
            value: Vec::new(),
            old_values: KeyEncoder::new(),
            new_values: KeyEncoder::new(),
            unique_claims: HashMap::new(),
            unique_releases: HashSet::new(),
            new_unique_indexes: HashSet::new(),
            rekeyed: Vec::new(),
        }
    }

    /// The definition of `id` this commit writes against: its own, else the catalog's.
    fn table(&mut self, id: TableId) -> Result<Arc<TableDef>> {
        if let Some(def) = self.table.as_ref().filter(|d| d.id == id) {
            return Ok(def.clone());
        }
        let def = match self.staged.get(&id) {
            Some(staged) => staged.clone(),
            None => self.engine.state().catalog.latest_by_id(id),
        };
        let def = def.ok_or_else(|| Error::NoSuchTable(format!("with id {id}")))?;
        self.table = Some(def.clone());
        Ok(def)
    }

    pub(crate) fn add(&mut self, write: &RowWrite) -> Result<()> {
        let def = self.table(write.table)?;
        if !self.seen.insert((write.table, write.pk.clone())) {
            return Err(match write.expect {
                WriteExpectation::Absent => Error::DuplicateKey {
                    constraint: def.primary_key_name(),
                },
                _ => Error::InvalidInput(format!(
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
            Some(value) => Some(latest::decode(&self.key, value)?),
            None => None,
        };
        let old_row = match old {
            Some((_, RowEvent::Put(row))) => Some(row),
            _ => None,
        };
        match write.expect {
            WriteExpectation::Absent if old_row.is_some() => {
                return Err(Error::DuplicateKey {
                    constraint: def.primary_key_name(),
                });
            }
            WriteExpectation::Unchanged(read_at) if old.is_none_or(|(seq, _)| seq > read_at) => {
                return Err(Error::Conflict(
                    "could not serialize access due to concurrent update".into(),
                ));
            }
            _ => {}
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
            let rows = (old_row.as_ref(), new_row.as_ref());
            self.index_change(&def.columns, index, &write.pk, rows)?;
        }
        self.tables_written.insert(write.table);
        self.rows += 1;
        Ok(())
    }

    /// Adds the entries that move a row from its old indexed values to its new ones.
    fn index_change(
        &mut self,
        columns: &[ColumnDef],
        index: &IndexDef,
        pk: &[u8],
        (old, new): (Option<&RowView<'_>>, Option<&RowView<'_>>),
    ) -> Result<()> {
        let bad_row = |e: row::RowError| Error::InvalidInput(format!("malformed row: {e}"));
        if let Some(old) = old {
            index::encode_row_values(&mut self.old_values, old, &index.columns, columns)
                .map_err(|e| Error::corrupt(format!("row {}", keys::describe(pk)), e))?;
        }
        if let Some(new) = new {
            index::encode_row_values(&mut self.new_values, new, &index.columns, columns)
                .map_err(bad_row)?;
        }
        let unchanged = old.is_some()
            && new.is_some()
            && self.old_values.as_bytes() == self.new_values.as_bytes();
        if unchanged {
            return Ok(());
        }
        if let Some(old) = old {
            let (values, seq) = (self.old_values.as_bytes(), self.seq);
            keys::index_key_into(&mut self.key, index.id, values, pk, seq);
            self.batch.put(
                Family::Indexes,
                &self.key,
                &index::entry_value(false, pk.len()),
            );
            if index.unique && !index::holds_null(old, &index.columns, columns) {
                let values = self.old_values.as_bytes().to_vec();
                if let Some(holders) = self.unique_claims.get_mut(&(index.id, values.clone())) {
                    holders.remove(pk);
                }
                self.unique_releases.insert((index.id, values, pk.to_vec()));
            }
        }
        if let Some(new) = new {
            let (values, seq) = (self.new_values.as_bytes(), self.seq);
            keys::index_key_into(&mut self.key, index.id, values, pk, seq);
            self.batch.put(
                Family::Indexes,
                &self.key,
                &index::entry_value(true, pk.len()),
            );
            if index.unique && !index::holds_null(new, &index.columns, columns) {
                let values = self.new_values.as_bytes().to_vec();
                self.unique_claims
                    .entry((index.id, values))
                    .or_default()
                    .insert(pk.to_vec());
            }
        }
        Ok(())
    }

    /// Checks every unique index this commit touched: after it, each value claimed by one of its
    /// rows is held by that row alone (counting the rows that held it before and still do).
    pub(crate) fn check_unique(&self) -> Result<()> {
        for ((index, values), claimants) in &self.unique_claims {
            if claimants.is_empty() {
                continue;
            }
            let mut holders = claimants.len();
            if !self.new_unique_indexes.contains(index) {
                let range = KeyRange {
                    lower: Bound::Included(values.clone()),
                    upper: Bound::Included(values.clone()),
                };
                let (mut cursor, start) =
                    self.engine
                        .family_cursor(Family::Indexes, &keys::index_prefix(*index), &range);
                index::lookup(&mut cursor, *index, &start, Seq(u64::MAX), &mut |pk| {
                    let released =
                        self.unique_releases
                            .contains(&(*index, values.clone(), pk.to_vec()));
                    if !released && !claimants.contains(pk) {
                        holders += 1;
                    }
                    Ok(Flow::Continue)
                })?;
            }
            if holders > 1 {
                return Err(Error::DuplicateKey {
                    constraint: self.index_name(*index),
                });
            }
        }
        Ok(())
    }

    /// Checks that every row of a table whose primary key this commit changes is written by
    /// it (moved under its new key): a row left under its old key would not be found by it.
    pub(crate) fn check_rekeyed(&self) -> Result<()> {
        for &table in &self.rekeyed {
            let prefix = keys::table_prefix(table);
            let (mut cursor, start) =
                self.engine
                    .family_cursor(Family::Latest, &prefix, &KeyRange::all());
            cursor.seek(&start);
            while let Some((key, value)) = cursor.item() {
                let (_, event) = latest::decode(key, value)?;
                let Some((_, pk)) = keys::split_latest_key(key) else {
                    return Err(Error::corrupt(
                        keys::describe(key),
                        "malformed latest-state key",
                    ));
                };
                if matches!(event, RowEvent::Put(_)) && !self.seen.contains(&(table, pk.to_vec())) {
                    return Err(Error::InvalidInput(format!(
                        "the primary key of table {table} changed, but its row {} was not moved",
                        keys::describe(pk)
                    )));
                }
                cursor.next();
            }
            cursor.status()?;
        }
        Ok(())
    }

    fn index_name(&self, index: IndexId) -> String {
        let find = |def: &TableDef| {
            def.indexes
                .iter()
                .find(|i| i.id == index)
                .map(|i| i.name.clone())
        };
        self.staged
            .values()
            .flatten()
            .find_map(|def| find(def))
            .or_else(|| {
                let state = self.engine.state();
                state.catalog.latest_tables().find_map(|def| find(def))
            })
            .unwrap_or_else(|| format!("index {index}"))
    }

    /// Checks the definition changes of this commit, adds their catalog records (and the
    /// entries of new indexes on existing rows) to the batch, and makes the rows of this commit
    /// use them.
    fn stage_definitions(&mut self, tables: &BTreeMap<TableId, Option<TableDef>>) -> Result<()> {
        for (&id, change) in tables {
            let current = self.engine.state().catalog.latest_by_id(id);
            let record = match (current, change) {
                (None, None) => continue,
                (Some(_), None) => CatalogRecord::Dropped,
                (None, Some(def)) => {
                    if self.engine.state().catalog.knows(id) {
                        return Err(Error::NoSuchTable(def.name.clone()));
                    }
                    check_new_table(def)?;
                    CatalogRecord::Table(def.clone())
                }
                (Some(current), Some(def)) => {
                    check_table_change(&current, def)?;
                    if def.primary_key != current.primary_key {
                        self.rekeyed.push(id);
                    }
                    for index in &def.indexes {
                        if !current.indexes.iter().any(|i| i.id == index.id) {
                            let mut holdings = Vec::new();
                            self.engine.backfill(
                                &current,
                                index,
                                &mut self.batch,
                                |values, pk| holdings.push((values.to_vec(), pk.to_vec())),
                            )?;
                            if index.unique {
                                self.new_unique_indexes.insert(index.id);
                                for (values, pk) in holdings {
                                    self.unique_claims
                                        .entry((index.id, values))
                                        .or_default()
                                        .insert(pk);
                                }
                            }
                        }
                    }
                    CatalogRecord::Table(def.clone())
                }
            };
            let payload =
                serde_json::to_vec(&record).map_err(|e| Error::InvalidInput(e.to_string()))?;
            self.batch.put(
                Family::Catalog,
                &keys::catalog_key(id, self.seq),
                &frame::encode(&payload),
            );
            let staged = match record {
                CatalogRecord::Table(def) => Some(Arc::new(def)),
                CatalogRecord::Dropped => None,
            };
            self.staged.insert(id, staged);
        }
        self.check_names()
    }

    /// Every table and index name is unique among the tables that exist after this commit
    /// (they share PostgreSQL's relation namespace).
    fn check_names(&self) -> Result<()> {
        let state = self.engine.state();
        let unchanged = state
            .catalog
            .latest_tables()
            .filter(|def| !self.staged.contains_key(&def.id));
        let mut uses: HashMap<&str, usize> = HashMap::new();
        for def in unchanged.chain(self.staged.values().flatten()) {
            for name in relation_names(def) {
                *uses.entry(name).or_default() += 1;
            }
        }
        for def in self.staged.values().flatten() {
            if let Some(name) = relation_names(def).find(|name| uses[name] > 1) {
                return Err(Error::TableExists(name.to_string()));
            }
        }
        Ok(())
    }
}

/// The names a table takes in the relation namespace: its own and its indexes'.
fn relation_names(def: &TableDef) -> impl Iterator<Item = &str> {
    std::iter::once(def.name.as_str()).chain(def.indexes.iter().map(|i| i.name.as_str()))
}

/// A new table needs a primary key over its own columns (a view has neither).
fn check_new_table(def: &TableDef) -> Result<()> {
    if def.view.is_some() {
        return check_view(def);
    }
    if def.primary_key.is_empty()
        || def
            .primary_key
            .iter()
            .any(|&slot| slot >= def.columns.len())
    {
        return Err(Error::InvalidInput(format!(
            "table \"{}\" needs a primary key",
            def.name
        )));
    }
    check_indexes(def)
}

/// Every index covers at least one column of its table.
fn check_indexes(def: &TableDef) -> Result<()> {
    let columns_exist = def
        .indexes
        .iter()
        .all(|i| !i.columns.is_empty() && i.columns.iter().all(|&s| s < def.columns.len()));
    if !columns_exist {
        return Err(Error::InvalidInput(format!(
            "an index of table \"{}\" needs columns of the table",
            def.name
        )));
    }
    Ok(())
}

/// A view holds no rows, so it has no columns, key, indexes or checks of its own.
fn check_view(def: &TableDef) -> Result<()> {
    if def.columns.is_empty()
        && def.primary_key.is_empty()
        && def.indexes.is_empty()
        && def.checks.is_empty()
        && def.foreign_keys.is_empty()
    {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "view \"{}\" cannot have columns, keys, indexes or checks of its own",
            def.name
        )))
    }
}

/// A table keeps every column slot with its type and its primary key: stored rows are decoded
/// by slot, and keys are encoded from the primary-key columns (a table keyed by a row id may
/// take a key of its own once, [`rekeys`]). A view stays a view.
fn check_table_change(current: &TableDef, def: &TableDef) -> Result<()> {
    match (current.view.is_some(), def.view.is_some()) {
        (true, true) => return check_view(def),
        (false, false) => {}
        _ => {
            return Err(Error::InvalidInput(format!(
                "\"{}\" cannot change between table and view",
                def.name
            )));
        }
    }
    let slots_kept = def.columns.len() >= current.columns.len()
        && current
            .columns
            .iter()
            .zip(&def.columns)
            .all(|(old, new)| old.ty == new.ty);
    if !slots_kept || (def.primary_key != current.primary_key && !rekeys(current, def)) {
        return Err(Error::InvalidInput(
            "a table change must keep every column slot, its type and the primary key".into(),
        ));
    }
    check_indexes(def)
}

/// Whether `def` keys by visible columns a table `current` keyed by hidden ones (a row id),
/// which it drops: the only primary-key change there is (`ADD PRIMARY KEY`). Its commit must
/// move every row ([`CommitBuilder::check_rekeyed`]).
fn rekeys(current: &TableDef, def: &TableDef) -> bool {
    let column = |slot: usize| def.columns.get(slot);
    let by_hidden_key = !current.primary_key.is_empty()
        && current
            .primary_key
            .iter()
            .all(|&slot| current.columns[slot].hidden && column(slot).is_some_and(|c| c.dropped));
    let distinct: HashSet<usize> = def.primary_key.iter().copied().collect();
    by_hidden_key
        && !def.primary_key.is_empty()
        && distinct.len() == def.primary_key.len()
        && def
            .primary_key
            .iter()
            .all(|&slot| column(slot).is_some_and(|c| !c.hidden && !c.dropped))
}

impl Engine {
    /// Commits `writes` atomically as the next seq and returns once it is durable. Returns
    /// `None` (and takes no seq) when there is nothing to write.
    pub fn commit(&self, user: &str, writes: &[RowWrite]) -> Result<Option<Seq>> {
        if writes.is_empty() {
            return Ok(None);
        }
        self.commit_with(user, &BTreeMap::new(), |builder, _| {
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
        self.commit_with(user, &BTreeMap::new(), |builder, pipeline| {
            let engine = builder.engine;
            let delete = row::delete_event();
            for def in &defs {
                let mut live = Vec::new();
                engine.scan_range(def.id, &keys::KeyRange::all(), pipeline.written, |pk, _| {
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

    /// Runs `build` under the commit lock to fill the next commit's batch after staging the
    /// definition changes in `tables`, writes it, and waits for durability. A commit that ends
    /// up with no rows takes no seq.
    pub(crate) fn commit_with(
        &self,
        user: &str,
        tables: &BTreeMap<TableId, Option<TableDef>>,
        build: impl FnOnce(&mut CommitBuilder<'_>, &Pipeline) -> Result<()>,
    ) -> Result<Option<Seq>> {
        let written = {
            // Ends the commit's time in flight even if building it panics, so later group
            // syncs do not wait for a commit that will never be written.
            let mut in_flight = self.group.begin_commit();
            let written = self.write_commit(user, tables, build);
            in_flight.written = written.as_ref().ok().copied().flatten();
            written
        };
        match written? {
            Some(seq) => {
                self.wait_durable(seq)?;
                Ok(Some(seq))
            }
            None => Ok(None),
        }
    }

    /// Builds and writes the next commit under the commit lock (unsynced unless it changes
    /// definitions).
    fn write_commit(
        &self,
        user: &str,
        tables: &BTreeMap<TableId, Option<TableDef>>,
        build: impl FnOnce(&mut CommitBuilder<'_>, &Pipeline) -> Result<()>,
    ) -> Result<Option<Seq>> {
        let mut pipeline = self.lock_pipeline();
        self.group.check_healthy()?;
        let seq = pipeline.written.next();
        let mut builder = CommitBuilder::new(self, seq);
        builder.stage_definitions(tables)?;
        build(&mut builder, &pipeline)?;
        builder.check_rekeyed()?;
        builder.check_unique()?;
        let changes_definitions = !builder.staged.is_empty();
        if builder.rows == 0 && !changes_definitions {
            return Ok(None);
        }
        let mut batch = builder.batch;
        let time_micros = now_micros().max(pipeline.last_time.saturating_add(1));
        if builder.rows > 0 {
            let record = CommitRecord {
                time_micros,
                rows: builder.rows,
                user: user.to_string(),
            };
            batch.put(
                Family::Commits,
                &keys::commit_key(seq),
                &frame::encode(&record.encode()),
            );
        }
        self.store
            .write(batch, changes_definitions && self.options.sync)?;
        {
            let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
            if builder.rows > 0 {
                state.commit_times.push(time_micros);
            }
            for (&id, def) in &builder.staged {
                let record = match def {
                    Some(def) => CatalogRecord::Table((**def).clone()),
                    None => CatalogRecord::Dropped,
                };
                state.catalog.apply(id, seq, record);
            }
        }
        if changes_definitions {
            let version = self.catalog_version.fetch_add(1, Ordering::AcqRel) + 1;
            for &id in builder.staged.keys() {
                pipeline.ddl_versions.insert(id, version);
            }
        }
        if builder.rows == 0 {
            return Ok(None);
        }
        for &table in &builder.tables_written {
            pipeline.last_writes.insert(table, seq);
        }
        pipeline.written = seq;
        pipeline.last_time = time_micros;
        self.written.store(seq.0, Ordering::Release);
        Ok(Some(seq))
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

    /// The table called `name` now, or [`Error::NoSuchTable`].
    pub(crate) fn existing_table(&self, name: &str) -> Result<Arc<TableDef>> {
        self.resolve_table(name, crate::CatalogPoint::Latest)
            .ok_or_else(|| Error::NoSuchTable(name.to_string()))
    }

    /// Adds an index entry for every live row, at the seq of the row's current version, and
    /// tells `holding` the values and key of each row without a NULL among them.
    fn backfill(
        &self,
        def: &TableDef,
        index: &IndexDef,
        batch: &mut Batch<'_>,
        mut holding: impl FnMut(&[u8], &[u8]),
    ) -> Result<()> {
        let prefix = keys::table_prefix(def.id);
        let (mut cursor, start) =
            self.family_cursor(Family::Latest, &prefix, &keys::KeyRange::all());
        let (mut values, mut key) = (KeyEncoder::new(), Vec::new());
        cursor.seek(&start);
        while let Some((entry_key, value)) = cursor.item() {
            let (seq, event) = latest::decode(entry_key, value)?;
            if let RowEvent::Put(row) = event {
                let pk = &entry_key[keys::TABLE_ID_LEN..];
                index::encode_row_values(&mut values, &row, &index.columns, &def.columns)
                    .map_err(|e| Error::corrupt(format!("row {}", keys::describe(pk)), e))?;
                keys::index_key_into(&mut key, index.id, values.as_bytes(), pk, seq);
                batch.put(Family::Indexes, &key, &index::entry_value(true, pk.len()));
                if !index::holds_null(&row, &index.columns, &def.columns) {
                    holding(values.as_bytes(), pk);
                }
            }
            cursor.next();
        }
        cursor.status()
    }
}
