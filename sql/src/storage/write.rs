//! The write path shared by INSERT, UPDATE and DELETE: Arrow columns encoded into row events and
//! primary keys, constraint checks, and the hand-over to the transaction.

use crate::common::engine_error::engine_error;
use crate::storage::checks;
use crate::storage::encode::{TypedColumn, coerce};
use crate::storage::foreign_keys;
use crate::storage::held::{unique_values, value_held};
use crate::storage::locks::LockMode;
use crate::storage::scope::SessionScope;
use crate::storage::transaction::{Origin, StatementEvent};
use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, Int64Array};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::datasource::sink::DataSink;
use datafusion::error::Result as DfResult;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::{DisplayAs, DisplayFormatType};
use driftdb_engine::keys::KeyEncoder;
use driftdb_engine::row::RowEncoder;
use driftdb_engine::{IndexDef, TableDef, TableId, ValueRef};
use driftdb_pgtypes::error::{Error, ErrorKind, Result};
use futures::StreamExt;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::sync::Arc;

/// Fresh row ids for `rows` new rows of `def` (one array per hidden column; none for a table
/// with a primary key).
pub(crate) fn new_row_ids(
    scope: &SessionScope,
    def: &TableDef,
    rows: usize,
) -> Result<Vec<ArrayRef>> {
    def.hidden_slots()
        .map(|slot| counter_values(scope, def, slot, rows))
        .collect()
}

/// The next `rows` values of the counter of column `slot` of `def` (an identity column or the
/// hidden row id), as `bigint`s.
pub(crate) fn counter_values(
    scope: &SessionScope,
    def: &TableDef,
    slot: usize,
    rows: usize,
) -> Result<ArrayRef> {
    let first = scope
        .db
        .engine
        .next_identity_values(def.id, slot, rows as u64)
        .map_err(engine_error)?;
    Ok(Arc::new(Int64Array::from_iter_values(first..first + rows as i64)) as ArrayRef)
}

/// Encodes rows given as one array per visible column of `def` (in order) into row events.
pub(crate) struct RowsEncoder<'d> {
    def: &'d TableDef,
    row: RowEncoder,
    key: KeyEncoder,
}

impl<'d> RowsEncoder<'d> {
    pub(crate) fn new(def: &'d TableDef) -> RowsEncoder<'d> {
        RowsEncoder {
            def,
            row: RowEncoder::new(),
            key: KeyEncoder::new(),
        }
    }

    /// The values of each visible column in its column type's form (what is stored and what
    /// RETURNING shows).
    pub(crate) fn coerce(&self, columns: &[ArrayRef]) -> Result<Vec<ArrayRef>> {
        let def = self.def;
        let visible: Vec<usize> = def.visible_slots().collect();
        if columns.len() != visible.len() {
            return Err(Error::new(
                ErrorKind::Internal,
                format!(
                    "{} values for the {} columns of \"{}\"",
                    columns.len(),
                    visible.len(),
                    def.name
                ),
            ));
        }
        columns
            .iter()
            .zip(&visible)
            .map(|(array, &slot)| coerce(array, def.columns[slot].ty))
            .collect()
    }

    /// Appends one `(pk, framed put event)` per row of `cast` (what [`RowsEncoder::coerce`]
    /// returned) to `out`.
    ///
    /// `hidden` holds the values of the hidden columns (the row id of a table without a primary
    /// key), one array per [`TableDef::hidden_slots`].
    pub(crate) fn encode_coerced(
        &mut self,
        cast: &[ArrayRef],
        hidden: &[ArrayRef],
        out: &mut Vec<(Vec<u8>, Vec<u8>)>,
    ) -> Result<()> {
        let def = self.def;
        let visible: Vec<usize> = def.visible_slots().collect();
        // For each storage slot, the typed values feeding it (dropped slots are written NULL).
        let mut by_slot: Vec<Option<TypedColumn<'_>>> =
            (0..def.columns.len()).map(|_| None).collect();
        for (array, &slot) in cast.iter().zip(&visible) {
            by_slot[slot] = Some(TypedColumn::new(array));
        }
        for (array, slot) in hidden.iter().zip(def.hidden_slots()) {
            by_slot[slot] = Some(TypedColumn::new(array));
        }
        let rows = cast.first().map_or(0, |c| c.len());
        for row in 0..rows {
            self.row.begin_put();
            for (slot, column) in by_slot.iter().enumerate() {
                let value = column.as_ref().map_or(ValueRef::Null, |c| c.value(row));
                let column_def = &def.columns[slot];
                let required = !column_def.dropped
                    && (!column_def.nullable || def.primary_key.contains(&slot));
                if value == ValueRef::Null && required {
                    return Err(Error::new(
                        ErrorKind::NotNullViolation,
                        format!(
                            "null value in column \"{}\" of relation \"{}\" violates not-null constraint",
                            column_def.name, def.name
                        ),
                    ));
                }
                self.row.push(value);
            }
            self.key.clear();
            for &slot in &def.primary_key {
                let column = by_slot[slot]
                    .as_ref()
                    .expect("primary-key columns are visible or given as hidden ones");
                self.key.push_value(column.value(row));
            }
            out.push((self.key.as_bytes().to_vec(), self.row.finish().to_vec()));
        }
        Ok(())
    }

    /// Encodes the primary keys given as one array per primary-key column (in key order).
    pub(crate) fn encode_keys(
        &mut self,
        columns: &[ArrayRef],
        out: &mut Vec<Vec<u8>>,
    ) -> Result<()> {
        let def = self.def;
        let cast: Vec<ArrayRef> = columns
            .iter()
            .zip(&def.primary_key)
            .map(|(array, &slot)| coerce(array, def.columns[slot].ty))
            .collect::<Result<_>>()?;
        let typed: Vec<TypedColumn<'_>> = cast.iter().map(TypedColumn::new).collect();
        let rows = columns.first().map_or(0, |c| c.len());
        for row in 0..rows {
            self.key.clear();
            for column in &typed {
                match column.value(row) {
                    ValueRef::Null => {
                        return Err(Error::new(
                            ErrorKind::Internal,
                            "stored primary key is NULL",
                        ));
                    }
                    value => self.key.push_value(value),
                }
            }
            out.push(self.key.as_bytes().to_vec());
        }
        Ok(())
    }
}

/// The row events one statement writes to one table, at most one per key. They join the
/// transaction only if the whole statement succeeds.
#[derive(Debug)]
pub(crate) struct WriteSet<'d> {
    def: &'d TableDef,
    events: BTreeMap<Vec<u8>, StatementEvent>,
    /// The memory the events take, about: a statement's uncommitted rows count against the
    /// server's memory limit like any other buffer (53200 past it).
    bytes: usize,
    reservation: Option<MemoryReservation>,
    /// Whether staging takes the locks of the rows it rewrites (not for a definition change,
    /// which certifies the whole table instead).
    locks_rows: bool,
    /// The parent rows its rows reference through foreign keys (table, encoded key), locked
    /// `FOR KEY SHARE` when it is staged.
    parents: BTreeSet<(TableId, Vec<u8>)>,
}

/// What one pending row costs beyond its key and event bytes (map node, vectors).
const ROW_OVERHEAD: usize = 96;

impl<'d> WriteSet<'d> {
    pub(crate) fn new(def: &'d TableDef) -> WriteSet<'d> {
        WriteSet {
            def,
            events: BTreeMap::new(),
            bytes: 0,
            reservation: None,
            locks_rows: true,
            parents: BTreeSet::new(),
        }
    }

    /// A set that rewrites rows without taking their locks: for a definition change, which
    /// makes the commit fail if any row of the table changed meanwhile
    /// (`Transaction::require_unchanged`).
    pub(crate) fn without_row_locks(def: &'d TableDef) -> WriteSet<'d> {
        WriteSet {
            locks_rows: false,
            ..WriteSet::new(def)
        }
    }

    /// Counts the events' memory against the server's memory pool; fails (53200) past it.
    pub(crate) fn account(&mut self, scope: &SessionScope) -> Result<()> {
        let reservation = self.reservation.get_or_insert_with(|| {
            MemoryConsumer::new("uncommitted rows").register(&scope.db.runtime.memory_pool)
        });
        if let Some(more) = self
            .bytes
            .checked_sub(reservation.size())
            .filter(|n| *n > 0)
        {
            reservation.try_grow(more)?;
        }
        Ok(())
    }

    fn count(&mut self, pk: &[u8], event: Option<&[u8]>) {
        self.bytes += pk.len() + event.map_or(0, <[u8]>::len) + ROW_OVERHEAD;
    }

    fn duplicate(&self) -> Error {
        Error::unique_violation(&self.def.primary_key_name())
    }

    /// A new row under a key that must not hold one (unless this statement deleted it).
    pub(crate) fn insert(&mut self, pk: Vec<u8>, event: Vec<u8>) -> Result<()> {
        self.count(&pk, Some(&event));
        match self.events.get_mut(&pk) {
            None => {
                self.events.insert(pk, (Some(event), Origin::Inserted));
                Ok(())
            }
            Some((put @ None, _)) => {
                *put = Some(event);
                Ok(())
            }
            Some((Some(_), _)) => Err(self.duplicate()),
        }
    }

    /// A new version of a row this statement read.
    pub(crate) fn replace(&mut self, pk: Vec<u8>, event: Vec<u8>) -> Result<()> {
        self.count(&pk, Some(&event));
        if self
            .events
            .insert(pk, (Some(event), Origin::Read))
            .is_some()
        {
            return Err(self.duplicate());
        }
        Ok(())
    }

    /// Deletes a row this statement read.
    pub(crate) fn delete(&mut self, pk: Vec<u8>) {
        self.count(&pk, None);
        self.events.insert(pk, (None, Origin::Read));
    }

    /// Verifies the foreign keys of rows about to be added (one array per visible column,
    /// coerced) and remembers the parent rows they reference, to lock them when the set is
    /// staged.
    pub(crate) fn check_references(
        &mut self,
        scope: &SessionScope,
        columns: &[ArrayRef],
    ) -> Result<()> {
        foreign_keys::check_references(scope, self.def, columns, &mut self.parents)
    }

    /// Refuses (23505) a row of this statement whose values in a unique index another row
    /// holds: a row the transaction sees (committed, or its own) that this statement does not
    /// rewrite, or another row of this statement. The engine checks again at commit, under the
    /// commit lock, against transactions that committed since.
    fn check_unique(&self, scope: &SessionScope) -> Result<()> {
        let def = self.def;
        let unique: Vec<&IndexDef> = def.indexes.iter().filter(|i| i.unique).collect();
        if unique.is_empty() {
            return Ok(());
        }
        let pending = scope.with_transaction(|txn| txn.pending_rows(def.id))?;
        for index in unique {
            let mut claimed: HashSet<Vec<u8>> = HashSet::new();
            for (pk, (put, _)) in &self.events {
                let Some(values) = put.as_deref().and_then(|e| unique_values(def, index, e)) else {
                    continue;
                };
                // Rows this statement writes are judged by their new values, here.
                let other =
                    |holder: &[u8]| holder != pk.as_slice() && !self.events.contains_key(holder);
                if !claimed.insert(values.clone())
                    || value_held(scope, def, index, &values, pending.as_ref(), other)?
                {
                    return Err(Error::unique_violation(&index.name));
                }
            }
        }
        Ok(())
    }

    /// Adds the set to the session's transaction (which commits it, at the statement's end or at
    /// COMMIT), after taking the locks of the rows it rewrites or deletes
    /// ([`SessionScope::lock_written_rows`]: a row another open transaction wrote is waited
    /// for).
    pub(crate) async fn stage(mut self, scope: &SessionScope) -> Result<()> {
        let rewritten: Vec<(&[u8], LockMode)> = self
            .events
            .iter()
            .filter(|(_, (_, origin))| self.locks_rows && *origin == Origin::Read)
            .map(|(pk, (put, _))| {
                let mode = match put {
                    Some(_) => LockMode::NoKeyUpdate,
                    None => LockMode::Update,
                };
                (pk.as_slice(), mode)
            })
            .collect();
        scope.lock_written_rows(self.def.id, &rewritten).await?;
        if self.locks_rows {
            let inserted: Vec<&[u8]> = self
                .events
                .iter()
                .filter(|(_, (put, origin))| *origin == Origin::Inserted && put.is_some())
                .map(|(pk, _)| pk.as_slice())
                .collect();
            scope.lock_new_keys(self.def.id, &inserted).await?;
        }
        let parents: Vec<(TableId, Vec<u8>)> =
            std::mem::take(&mut self.parents).into_iter().collect();
        let def = self.def;
        let missing = |parent: TableId| {
            let fk = def.foreign_keys.iter().find(|fk| fk.parent == parent);
            fk.map_or_else(
                || Error::new(ErrorKind::Internal, "a parent without a foreign key"),
                |fk| foreign_keys::missing_parent(def, fk),
            )
        };
        scope.lock_parents(&parents, missing).await?;
        self.account(scope)?;
        self.check_unique(scope)?;
        let engine = &scope.db.engine;
        let (table, read_at) = (self.def.id, scope.snapshot());
        let is_live = |pk: &[u8]| -> Result<bool> {
            Ok(engine
                .get_as_of(table, pk, engine.latest_seq(), |_| ())
                .map_err(engine_error)?
                .is_some())
        };
        let memory = self.reservation.take();
        scope.with_transaction(|txn| {
            txn.stage(self.def, self.events, read_at, is_live)?;
            txn.memory.extend(memory);
            Ok(())
        })?
    }
}

/// Receives the rows of an INSERT and adds them to the transaction.
#[derive(Debug)]
pub struct InsertSink {
    scope: Arc<SessionScope>,
    def: Arc<TableDef>,
    schema: SchemaRef,
}

impl InsertSink {
    pub fn new(scope: Arc<SessionScope>, def: Arc<TableDef>, schema: SchemaRef) -> InsertSink {
        InsertSink { scope, def, schema }
    }
}

impl DisplayAs for InsertSink {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InsertSink: table={}", self.def.name)
    }
}

#[async_trait]
impl DataSink for InsertSink {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    async fn write_all(
        &self,
        mut data: SendableRecordBatchStream,
        _context: &Arc<TaskContext>,
    ) -> DfResult<u64> {
        let mut inserts = Inserts::new(&self.def);
        let mut count = 0u64;
        while let Some(batch) = data.next().await {
            let batch = batch?;
            let coerced = inserts
                .coerce(batch.columns())
                .map_err(Error::into_datafusion)?;
            inserts
                .add(&self.scope, &coerced)
                .map_err(Error::into_datafusion)?;
            count += batch.num_rows() as u64;
        }
        inserts
            .stage(&self.scope)
            .await
            .map_err(Error::into_datafusion)?;
        Ok(count)
    }
}

/// The new rows of one INSERT, batch by batch: what the planned INSERT's sink and the key
/// path's INSERT share, so that both check and encode rows alike.
pub(crate) struct Inserts<'d> {
    def: &'d TableDef,
    encoder: RowsEncoder<'d>,
    set: WriteSet<'d>,
    rows: Vec<(Vec<u8>, Vec<u8>)>,
}

impl<'d> Inserts<'d> {
    pub(crate) fn new(def: &'d TableDef) -> Inserts<'d> {
        Inserts {
            def,
            encoder: RowsEncoder::new(def),
            set: WriteSet::new(def),
            rows: Vec::new(),
        }
    }

    /// The values of each visible column in its column type's form
    /// ([`RowsEncoder::coerce`]).
    pub(crate) fn coerce(&self, columns: &[ArrayRef]) -> Result<Vec<ArrayRef>> {
        self.encoder.coerce(columns)
    }

    /// Adds the rows to the session's transaction ([`WriteSet::stage`]).
    pub(crate) async fn stage(self, scope: &SessionScope) -> Result<()> {
        self.set.stage(scope).await
    }

    /// Adds a batch of rows (one array per visible column, through [`Inserts::coerce`]):
    /// CHECK and FOREIGN KEY constraints verified, row ids given, NOT NULL checked as the rows
    /// are encoded, and a key this statement already wrote refused.
    pub(crate) fn add(&mut self, scope: &SessionScope, coerced: &[ArrayRef]) -> Result<()> {
        let def = self.def;
        checks::verify(scope, def, coerced)?;
        self.set.check_references(scope, coerced)?;
        let rows = coerced.first().map_or(0, |c| c.len());
        let row_ids = new_row_ids(scope, def, rows)?;
        self.rows.clear();
        self.encoder
            .encode_coerced(coerced, &row_ids, &mut self.rows)?;
        for (pk, event) in self.rows.drain(..) {
            self.set.insert(pk, event)?;
        }
        self.set.account(scope)
    }
}
