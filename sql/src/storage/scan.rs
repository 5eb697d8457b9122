//! Table scans: rows decoded from the engine straight into Arrow builders, in batches.
//!
//! A scan runs on a blocking thread (RocksDB iterators block) and hands batches to DataFusion
//! through a bounded channel, so a slow consumer applies back-pressure and a dropped one stops
//! the scan. Only projected columns are materialised; a limit stops the iterator early. A scan of
//! the current state merges the transaction's uncommitted rows in, in key order.

use crate::common::engine_error::engine_error;
use crate::storage::transaction::{PendingRow, PendingRows};
use datafusion::arrow::array::{
    ArrayBuilder, ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder,
    Float32Builder, Float64Builder, Int16Builder, Int32Builder, Int64Builder,
    IntervalMonthDayNanoBuilder, StringBuilder, Time64MicrosecondBuilder,
    TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, IntervalMonthDayNano, SchemaRef};
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::stream::RecordBatchReceiverStreamBuilder;
use datafusion::physical_plan::streaming::PartitionStream;
use driftdb_engine::row::{self, RowEvent};
use driftdb_engine::{
    ColumnType, Engine, Flow, IndexDef, KeyRange, RowView, Seq, TableDef, ValueRef, VersionRef,
    frame, keys,
};
use driftdb_pgtypes::error::{Error, ErrorKind};
use driftdb_pgtypes::types::{UTC, arrow_type};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Which rows a scan returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanMode {
    /// The rows that exist as of the seq.
    AsOf,
    /// Every version committed at or before the seq, with the version columns.
    Versions,
}

/// Which versions a version scan returns, by the commits that began and ended them (each
/// condition unset admits everything).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VersionWindow {
    /// Began at or before this commit (`Some(None)`: before any commit, so nothing qualifies).
    pub began_by: Option<Option<Seq>>,
    /// Began after this commit.
    pub began_after: Option<Seq>,
    /// Ended after this commit, or is still current.
    pub ended_after: Option<Seq>,
    /// Has ended, at or before this commit.
    pub ended_by: Option<Seq>,
}

impl VersionWindow {
    /// Whether the version current from commit `from` until `to` (`None`: still current)
    /// belongs in the window.
    pub fn admits(&self, from: Seq, to: Option<Seq>) -> bool {
        let began_by = match self.began_by {
            None => true,
            Some(limit) => limit.is_some_and(|limit| from <= limit),
        };
        began_by
            && self.began_after.is_none_or(|after| from > after)
            && self
                .ended_after
                .is_none_or(|after| to.is_none_or(|to| to > after))
            && self.ended_by.is_none_or(|by| to.is_some_and(|to| to <= by))
    }
}

/// One output column's builder, by Arrow type; values arrive as stored ([`ValueRef`]).
#[derive(Debug)]
enum ColumnBuilder {
    Bool(BooleanBuilder),
    Int16(Int16Builder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    Decimal(Decimal128Builder),
    Text(StringBuilder),
    Date(Date32Builder),
    Time(Time64MicrosecondBuilder),
    /// Timestamps, with the time zone the column's Arrow type carries (if any).
    Timestamp(TimestampMicrosecondBuilder, Option<&'static str>),
    Interval(IntervalMonthDayNanoBuilder),
    Bytes(BinaryBuilder),
}

impl ColumnBuilder {
    fn for_type(ty: ColumnType, capacity: usize) -> ColumnBuilder {
        match arrow_type(ty) {
            DataType::Boolean => ColumnBuilder::Bool(BooleanBuilder::with_capacity(capacity)),
            DataType::Int16 => ColumnBuilder::Int16(Int16Builder::with_capacity(capacity)),
            DataType::Int32 => ColumnBuilder::Int32(Int32Builder::with_capacity(capacity)),
            DataType::Int64 => ColumnBuilder::Int64(Int64Builder::with_capacity(capacity)),
            DataType::Float32 => ColumnBuilder::Float32(Float32Builder::with_capacity(capacity)),
            DataType::Float64 => ColumnBuilder::Float64(Float64Builder::with_capacity(capacity)),
            DataType::Decimal128(precision, scale) => ColumnBuilder::Decimal(
                Decimal128Builder::with_capacity(capacity)
                    .with_precision_and_scale(precision, scale)
                    .expect("column types hold valid decimal precisions"),
            ),
            DataType::Date32 => ColumnBuilder::Date(Date32Builder::with_capacity(capacity)),
            DataType::Time64(_) => {
                ColumnBuilder::Time(Time64MicrosecondBuilder::with_capacity(capacity))
            }
            DataType::Timestamp(_, zone) => ColumnBuilder::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(capacity),
                zone.map(|_| UTC),
            ),
            DataType::Interval(_) => {
                ColumnBuilder::Interval(IntervalMonthDayNanoBuilder::with_capacity(capacity))
            }
            DataType::Binary => {
                ColumnBuilder::Bytes(BinaryBuilder::with_capacity(capacity, capacity * 16))
            }
            _ => ColumnBuilder::Text(StringBuilder::with_capacity(capacity, capacity * 16)),
        }
    }

    fn system_time(capacity: usize) -> ColumnBuilder {
        ColumnBuilder::for_type(ColumnType::Timestamptz, capacity)
    }

    fn append_null(&mut self) {
        match self {
            ColumnBuilder::Bool(b) => b.append_null(),
            ColumnBuilder::Int16(b) => b.append_null(),
            ColumnBuilder::Int32(b) => b.append_null(),
            ColumnBuilder::Int64(b) => b.append_null(),
            ColumnBuilder::Float32(b) => b.append_null(),
            ColumnBuilder::Float64(b) => b.append_null(),
            ColumnBuilder::Decimal(b) => b.append_null(),
            ColumnBuilder::Text(b) => b.append_null(),
            ColumnBuilder::Date(b) => b.append_null(),
            ColumnBuilder::Time(b) => b.append_null(),
            ColumnBuilder::Timestamp(b, _) => b.append_null(),
            ColumnBuilder::Interval(b) => b.append_null(),
            ColumnBuilder::Bytes(b) => b.append_null(),
        }
    }

    /// Appends a stored value; a value of another type than the column's means damage.
    fn append(&mut self, value: ValueRef<'_>) -> Result<(), String> {
        match (self, value) {
            (builder, ValueRef::Null) => builder.append_null(),
            (ColumnBuilder::Bool(b), ValueRef::Bool(v)) => b.append_value(v),
            (ColumnBuilder::Int16(b), ValueRef::Int16(v)) => b.append_value(v),
            (ColumnBuilder::Int32(b), ValueRef::Int32(v)) => b.append_value(v),
            (ColumnBuilder::Int64(b), ValueRef::Int64(v)) => b.append_value(v),
            (ColumnBuilder::Float32(b), ValueRef::Float32(v)) => b.append_value(v),
            (ColumnBuilder::Float64(b), ValueRef::Float64(v)) => b.append_value(v),
            (ColumnBuilder::Decimal(b), ValueRef::Int128(v)) => b.append_value(v),
            (ColumnBuilder::Text(b), ValueRef::Text(v)) => b.append_value(v),
            (ColumnBuilder::Date(b), ValueRef::Int32(v)) => b.append_value(v),
            (ColumnBuilder::Time(b), ValueRef::Int64(v)) => b.append_value(v),
            (ColumnBuilder::Timestamp(b, _), ValueRef::Int64(v)) => b.append_value(v),
            (ColumnBuilder::Interval(b), ValueRef::Interval(v)) => {
                b.append_value(IntervalMonthDayNano::new(v.months, v.days, v.nanoseconds))
            }
            (ColumnBuilder::Bytes(b), ValueRef::Bytes(v)) => b.append_value(v),
            (builder, value) => {
                return Err(format!(
                    "stored value {value:?} does not fit column {builder:?}"
                ));
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            ColumnBuilder::Bool(b) => Arc::new(b.finish()),
            ColumnBuilder::Int16(b) => Arc::new(b.finish()),
            ColumnBuilder::Int32(b) => Arc::new(b.finish()),
            ColumnBuilder::Int64(b) => Arc::new(b.finish()),
            ColumnBuilder::Float32(b) => Arc::new(b.finish()),
            ColumnBuilder::Float64(b) => Arc::new(b.finish()),
            ColumnBuilder::Decimal(b) => Arc::new(b.finish()),
            ColumnBuilder::Text(b) => Arc::new(b.finish()),
            ColumnBuilder::Date(b) => Arc::new(b.finish()),
            ColumnBuilder::Time(b) => Arc::new(b.finish()),
            ColumnBuilder::Timestamp(b, zone) => Arc::new(b.finish().with_timezone_opt(*zone)),
            ColumnBuilder::Interval(b) => Arc::new(b.finish()),
            ColumnBuilder::Bytes(b) => Arc::new(b.finish()),
        }
    }

    fn len(&self) -> usize {
        match self {
            ColumnBuilder::Bool(b) => b.len(),
            ColumnBuilder::Int16(b) => b.len(),
            ColumnBuilder::Int32(b) => b.len(),
            ColumnBuilder::Int64(b) => b.len(),
            ColumnBuilder::Float32(b) => b.len(),
            ColumnBuilder::Float64(b) => b.len(),
            ColumnBuilder::Decimal(b) => b.len(),
            ColumnBuilder::Text(b) => b.len(),
            ColumnBuilder::Date(b) => b.len(),
            ColumnBuilder::Time(b) => b.len(),
            ColumnBuilder::Timestamp(b, _) => b.len(),
            ColumnBuilder::Interval(b) => b.len(),
            ColumnBuilder::Bytes(b) => b.len(),
        }
    }
}

/// The version columns in [`crate::storage::schema::VERSION_COLUMNS`] order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum VersionColumn {
    SeqFrom,
    SeqTo,
    SystemFrom,
    SystemTo,
}

const VERSION_COLUMNS: [VersionColumn; 4] = [
    VersionColumn::SeqFrom,
    VersionColumn::SeqTo,
    VersionColumn::SystemFrom,
    VersionColumn::SystemTo,
];

/// Accumulates decoded rows into one record batch at a time.
#[derive(Debug)]
struct RowBatcher {
    schema: SchemaRef,
    builders: Vec<ColumnBuilder>,
    /// For each storage slot, the builder it feeds (if projected).
    slot_targets: Vec<Option<usize>>,
    /// Builders fed by version columns.
    version_targets: Vec<(VersionColumn, usize)>,
    /// The table, for the values rows hold in columns added after them.
    def: Arc<TableDef>,
    rows: usize,
}

impl RowBatcher {
    /// `projection` indexes the table's visible columns followed by its hidden ones (if
    /// `with_hidden`) or, in version mode, by the version columns.
    fn new(
        def: &Arc<TableDef>,
        (mode, with_hidden): (ScanMode, bool),
        projection: &[usize],
        schema: SchemaRef,
        capacity: usize,
    ) -> RowBatcher {
        let mut visible: Vec<usize> = def.visible_slots().collect();
        if with_hidden {
            visible.extend(def.hidden_slots());
        }
        let mut slot_targets = vec![None; def.columns.len()];
        let mut version_targets = Vec::new();
        let mut builders = Vec::with_capacity(projection.len());
        for (target, &column) in projection.iter().enumerate() {
            if let Some(&slot) = visible.get(column) {
                slot_targets[slot] = Some(target);
                builders.push(ColumnBuilder::for_type(def.columns[slot].ty, capacity));
            } else {
                debug_assert_eq!(mode, ScanMode::Versions);
                let version_column = VERSION_COLUMNS[column - visible.len()];
                version_targets.push((version_column, target));
                builders.push(match version_column {
                    VersionColumn::SeqFrom | VersionColumn::SeqTo => {
                        ColumnBuilder::for_type(ColumnType::Int64, capacity)
                    }
                    VersionColumn::SystemFrom | VersionColumn::SystemTo => {
                        ColumnBuilder::system_time(capacity)
                    }
                });
            }
        }
        RowBatcher {
            schema,
            builders,
            def: def.clone(),
            slot_targets,
            version_targets,
            rows: 0,
        }
    }

    fn push_row(&mut self, row: RowView<'_>) -> Result<(), String> {
        let mut slots_seen = 0;
        for (slot, value) in row.values().enumerate() {
            let value = value.map_err(|e| e.to_string())?;
            if let Some(Some(target)) = self.slot_targets.get(slot) {
                self.builders[*target].append(value)?;
            }
            slots_seen = slot + 1;
        }
        // Columns added after this row was written read as their missing value (NULL unless
        // the column was added with a DEFAULT).
        for (slot, target) in self.slot_targets.iter().enumerate().skip(slots_seen) {
            if let Some(target) = target {
                let missing = self.def.columns[slot].missing_value();
                self.builders[*target].append(missing)?;
            }
        }
        self.rows += 1;
        Ok(())
    }

    fn push_version_columns(&mut self, version: &VersionRef<'_>, engine: &Engine) {
        for &(column, target) in &self.version_targets {
            let value = match column {
                VersionColumn::SeqFrom => Some(version.seq_from.0 as i64),
                VersionColumn::SeqTo => version.seq_to.map(|s| s.0 as i64),
                VersionColumn::SystemFrom => engine.commit_time(version.seq_from),
                VersionColumn::SystemTo => version.seq_to.and_then(|s| engine.commit_time(s)),
            };
            match (&mut self.builders[target], value) {
                (ColumnBuilder::Int64(b), Some(v)) => b.append_value(v),
                (ColumnBuilder::Timestamp(b, _), Some(v)) => b.append_value(v),
                (builder, _) => builder.append_null(),
            }
        }
    }

    fn finish(&mut self) -> Result<RecordBatch> {
        debug_assert!(self.builders.iter().all(|b| b.len() == self.rows));
        let columns = self
            .builders
            .iter_mut()
            .map(ColumnBuilder::finish)
            .collect();
        let options = RecordBatchOptions::new().with_row_count(Some(self.rows));
        self.rows = 0;
        Ok(RecordBatch::try_new_with_options(
            self.schema.clone(),
            columns,
            &options,
        )?)
    }
}

/// A scan of one table at one seq, as a DataFusion partition stream.
#[derive(Debug)]
pub struct TableScan {
    pub engine: Arc<Engine>,
    pub def: Arc<TableDef>,
    pub seq: Seq,
    /// Where the scan adds the rows it read from storage (its session's counter).
    pub rows_read: Arc<AtomicU64>,
    pub mode: ScanMode,
    /// The primary-key ranges that hold every row the query can want, in key order (as-of scans
    /// only); `None` reads the whole table.
    pub ranges: Option<Vec<KeyRange>>,
    /// Set when `ranges` are ranges of this index's values rather than of primary keys.
    pub index: Option<IndexDef>,
    /// The versions a version scan returns.
    pub window: VersionWindow,
    /// Whether the schema ends with the hidden columns (the row id), for UPDATE and DELETE.
    pub with_hidden: bool,
    /// The transaction's own uncommitted rows of the table, merged over the stored ones (scans
    /// of the current state only).
    pub pending: Option<PendingRows>,
    /// Column indexes into the full (table + version columns) schema.
    pub projection: Vec<usize>,
    /// The projected schema.
    pub schema: SchemaRef,
    pub limit: Option<usize>,
}

impl PartitionStream for TableScan {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let batch_size = ctx.session_config().batch_size().max(1);
        let mut builder = RecordBatchReceiverStreamBuilder::new(self.schema.clone(), 2);
        let tx = builder.tx();
        let (engine, def, seq, mode, limit) = (
            self.engine.clone(),
            self.def.clone(),
            self.seq,
            self.mode,
            self.limit,
        );
        let ranges = self.ranges.clone().unwrap_or_else(|| vec![KeyRange::all()]);
        let index = self.index.clone();
        let window = self.window;
        let pending = self.pending.clone();
        let rows_read = self.rows_read.clone();
        // Builders sized to what can come: a limit, or as many rows as points to read.
        let points = ranges
            .iter()
            .all(|range| matches!(range.lower, Bound::Included(_)) && range.lower == range.upper);
        let most = match (points && index.is_none() && self.pending.is_none(), limit) {
            (true, limit) => ranges.len().min(limit.unwrap_or(usize::MAX)),
            (false, limit) => limit.unwrap_or(usize::MAX),
        };
        let mut batcher = RowBatcher::new(
            &def,
            (mode, self.with_hidden),
            &self.projection,
            self.schema.clone(),
            batch_size.min(most).max(1),
        );
        builder.spawn_blocking(move || {
            let limit = limit.unwrap_or(usize::MAX);
            let mut produced = 0usize;
            let mut failure: Option<DataFusionError> = None;
            // Hands a full batch downstream; false once the consumer has gone away.
            let flush =
                |batcher: &mut RowBatcher, failure: &mut Option<DataFusionError>| match batcher
                    .finish()
                {
                    Ok(batch) => tx.blocking_send(Ok(batch)).is_ok(),
                    Err(e) => {
                        *failure = Some(e);
                        false
                    }
                };
            // Set once a row callback says stop, so later key ranges are not read either.
            let halted = std::cell::Cell::new(false);
            let mut on_row = |row: RowView<'_>, version: Option<&VersionRef<'_>>| -> Flow {
                if produced >= limit {
                    halted.set(true);
                    return Flow::Stop;
                }
                if let Err(detail) = batcher.push_row(row) {
                    failure = Some(corrupt_row(&def, seq, &detail));
                    halted.set(true);
                    return Flow::Stop;
                }
                if let Some(version) = version {
                    batcher.push_version_columns(version, &engine);
                }
                produced += 1;
                if (batcher.rows >= batch_size && !flush(&mut batcher, &mut failure))
                    || produced >= limit
                {
                    halted.set(true);
                    return Flow::Stop;
                }
                Flow::Continue
            };
            let scanned =
                match (mode, &index) {
                    (ScanMode::AsOf, Some(index)) => scan_index(
                        &engine,
                        &def,
                        index,
                        &ranges,
                        seq,
                        pending.as_deref(),
                        |row| {
                            if halted.get() {
                                return Flow::Stop;
                            }
                            on_row(row, None)
                        },
                    ),
                    (ScanMode::AsOf, None) => ranges
                        .iter()
                        .take_while(|_| !halted.get())
                        .try_for_each(|range| match &pending {
                            None => engine
                                .scan_range(def.id, range, seq, |_, row| Ok(on_row(row, None))),
                            Some(pending) => {
                                scan_merged(&engine, &def, range, seq, pending, |row| {
                                    on_row(row, None)
                                })
                            }
                        }),
                    (ScanMode::Versions, _) => {
                        engine.scan_versions(def.id, Seq::ZERO..=seq, |version| {
                            if !window.admits(version.seq_from, version.seq_to) {
                                return Ok(Flow::Continue);
                            }
                            Ok(on_row(version.row, Some(&version)))
                        })
                    }
                };
            rows_read.fetch_add(produced as u64, Ordering::Relaxed);
            scanned.map_err(|e| engine_error(e).into_datafusion())?;
            if let Some(e) = failure {
                return Err(e);
            }
            if batcher.rows > 0 {
                flush(&mut batcher, &mut failure);
            }
            failure.map_or(Ok(()), Err)
        });
        builder.build()
    }
}

/// Reads the rows whose values in `index` lie in `ranges` as of `seq`, then the transaction's
/// pending rows (which replace stored ones with the same key; DataFusion applies the filters to
/// them). Rows come in index order, not key order.
fn scan_index(
    engine: &Engine,
    def: &TableDef,
    index: &IndexDef,
    ranges: &[KeyRange],
    seq: Seq,
    pending: Option<&BTreeMap<Vec<u8>, PendingRow>>,
    mut emit: impl FnMut(RowView<'_>) -> Flow,
) -> driftdb_engine::Result<()> {
    let mut stopped = false;
    for range in ranges {
        engine.scan_index(def, index, range, seq, |pk, row| {
            if pending.is_some_and(|own| own.contains_key(pk)) {
                return Ok(Flow::Continue);
            }
            let flow = emit(row);
            stopped = flow == Flow::Stop;
            Ok(flow)
        })?;
        if stopped {
            return Ok(());
        }
    }
    for (pk, own) in pending.into_iter().flatten() {
        if emit_pending(def, pk, own, &mut emit)? == Flow::Stop {
            break;
        }
    }
    Ok(())
}

/// Scans `range` of the table as of `seq` with the transaction's pending rows merged in by key:
/// a pending put adds or replaces a row, a pending delete hides one.
fn scan_merged(
    engine: &Engine,
    def: &TableDef,
    range: &KeyRange,
    seq: Seq,
    pending: &BTreeMap<Vec<u8>, PendingRow>,
    mut emit: impl FnMut(RowView<'_>) -> Flow,
) -> driftdb_engine::Result<()> {
    let lower = match &range.lower {
        Bound::Unbounded => Bound::Unbounded,
        Bound::Included(c) => Bound::Included(c.as_slice()),
        Bound::Excluded(c) => Bound::Excluded(c.as_slice()),
    };
    let mut own = pending
        .range::<[u8], _>((lower, Bound::Unbounded))
        .take_while(|(pk, _)| !range.is_past(pk))
        .filter(|(pk, _)| range.contains(pk))
        .peekable();
    let mut stopped = false;
    engine.scan_range(def.id, range, seq, |pk, stored| {
        while let Some((own_pk, own_row)) = own.next_if(|(own_pk, _)| own_pk.as_slice() < pk) {
            if emit_pending(def, own_pk, own_row, &mut emit)? == Flow::Stop {
                stopped = true;
                return Ok(Flow::Stop);
            }
        }
        let flow = match own.next_if(|(own_pk, _)| own_pk.as_slice() == pk) {
            Some((own_pk, own_row)) => emit_pending(def, own_pk, own_row, &mut emit)?,
            None => emit(stored),
        };
        stopped = flow == Flow::Stop;
        Ok(flow)
    })?;
    if !stopped {
        for (own_pk, own_row) in own {
            if emit_pending(def, own_pk, own_row, &mut emit)? == Flow::Stop {
                break;
            }
        }
    }
    Ok(())
}

/// Hands a pending put to `emit`; a pending delete emits nothing.
fn emit_pending(
    def: &TableDef,
    pk: &[u8],
    pending: &PendingRow,
    emit: &mut impl FnMut(RowView<'_>) -> Flow,
) -> driftdb_engine::Result<Flow> {
    let Some(event) = &pending.put else {
        return Ok(Flow::Continue);
    };
    let decoded = frame::decode(event)
        .map_err(|e| e.to_string())
        .and_then(|payload| row::decode_event(payload).map_err(|e| e.to_string()));
    match decoded {
        Ok(RowEvent::Put(row)) => Ok(emit(row)),
        Ok(RowEvent::Delete) => Ok(Flow::Continue),
        Err(detail) => Err(driftdb_engine::Error::Corrupt {
            location: format!(
                "uncommitted row {} of table \"{}\"",
                keys::describe(pk),
                def.name
            ),
            detail,
        }),
    }
}

fn corrupt_row(def: &TableDef, seq: Seq, detail: &str) -> DataFusionError {
    Error::new(
        ErrorKind::DataCorrupted,
        format!(
            "row of table \"{}\" read as of seq {seq} is damaged: {detail}",
            def.name
        ),
    )
    .into_datafusion()
}

/// The row of `def` with primary key `pk` as the transaction sees it at `seq` (its own pending
/// row, else the stored one), as a batch of `projection` (indexes of the visible columns, each
/// once) with `schema`: one row, or none. Read on the caller's thread: one key is one RocksDB
/// lookup, cheaper than a hop to a blocking thread.
pub(crate) fn read_key(
    engine: &Engine,
    def: &Arc<TableDef>,
    pk: &[u8],
    (seq, pending): (Seq, Option<&PendingRows>),
    projection: &[usize],
    schema: SchemaRef,
) -> driftdb_pgtypes::error::Result<RecordBatch> {
    let mut batcher = RowBatcher::new(def, (ScanMode::AsOf, false), projection, schema, 1);
    let mut decoded = Ok(());
    match pending.and_then(|own| own.get(pk)) {
        Some(own) => {
            emit_pending(def, pk, own, &mut |row| {
                decoded = batcher.push_row(row);
                Flow::Stop
            })
            .map_err(engine_error)?;
        }
        None => {
            engine
                .get_as_of(def.id, pk, seq, |row| decoded = batcher.push_row(row))
                .map_err(engine_error)?;
        }
    }
    if let Err(detail) = decoded {
        return Err(Error::from(corrupt_row(def, seq, &detail)));
    }
    Ok(batcher.finish()?)
}

/// The rows of `def` that an index lookup finds (the transaction's own pending rows included),
/// read as [`read_key`] reads one: the rows whose `columns` (slots, in the index's order) hold
/// the values `prefix` encodes, as index entries encode them, as one batch of `projection` with
/// `schema`, in the order an index scan gives them. `None` when more than `most` rows match: so
/// many rows belong to a scan on a blocking thread, not the caller's.
pub(crate) fn read_index(
    engine: &Engine,
    def: &Arc<TableDef>,
    (index, columns, prefix): (&IndexDef, &[usize], &[u8]),
    (seq, pending): (Seq, Option<&PendingRows>),
    most: usize,
    (projection, schema): (&[usize], SchemaRef),
) -> driftdb_pgtypes::error::Result<Option<RecordBatch>> {
    let mut batcher = RowBatcher::new(def, (ScanMode::AsOf, false), projection, schema, 1);
    let mut values = keys::KeyEncoder::new();
    let mut found = 0usize;
    let mut failure: Option<String> = None;
    let range = KeyRange::prefix(prefix.to_vec());
    let pending = pending.map(|own| own.as_ref());
    scan_index(engine, def, index, &[range], seq, pending, |row| {
        // Pending rows come unfiltered: keep those holding the values.
        let encoded =
            driftdb_engine::index::encode_row_values(&mut values, &row, columns, &def.columns);
        if let Err(e) = encoded {
            failure = Some(e.to_string());
            return Flow::Stop;
        }
        if values.as_bytes() != prefix {
            return Flow::Continue;
        }
        found += 1;
        if found > most {
            return Flow::Stop;
        }
        match batcher.push_row(row) {
            Ok(()) => Flow::Continue,
            Err(detail) => {
                failure = Some(detail);
                Flow::Stop
            }
        }
    })
    .map_err(engine_error)?;
    if let Some(detail) = failure {
        return Err(Error::from(corrupt_row(def, seq, &detail)));
    }
    if found > most {
        return Ok(None);
    }
    Ok(Some(batcher.finish()?))
}
