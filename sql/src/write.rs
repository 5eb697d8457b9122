//! The write path shared by INSERT, UPDATE and DELETE: Arrow columns encoded into row events and
//! primary keys, constraint checks, and the hand-over to the transaction.

use crate::catalog::SessionScope;
use crate::checks;
use crate::engine_error::engine_error;
use crate::foreign;
use crate::transaction::{Origin, PendingRows, StatementEvent};
use async_trait::async_trait;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BooleanArray, Date32Array, Decimal128Array,
    Float32Array, Float64Array, Int16Array, Int32Array, Int64Array, IntervalMonthDayNanoArray,
    StringArray, Time64MicrosecondArray, TimestampMicrosecondArray,
};
use datafusion::arrow::compute::{CastOptions, cast_with_options};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::datasource::sink::DataSink;
use datafusion::error::Result as DfResult;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::{DisplayAs, DisplayFormatType};
use driftdb_engine::keys::KeyEncoder;
use driftdb_engine::row::RowEncoder;
use driftdb_engine::row::{self, RowEvent};
use driftdb_engine::{
    ColumnType, Flow, IndexDef, Interval, KeyRange, TableDef, TableId, ValueRef, frame, index,
};
use driftdb_pgtypes::error::{Error, ErrorKind, Result};
use driftdb_pgtypes::types::arrow_type;
use driftdb_pgtypes::values;
use futures::StreamExt;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::Arc;

/// A column's values, cast to its column type's Arrow type.
enum TypedColumn<'a> {
    Bool(&'a BooleanArray),
    Int16(&'a Int16Array),
    Int32(&'a Int32Array),
    Int64(&'a Int64Array),
    Float32(&'a Float32Array),
    Float64(&'a Float64Array),
    Decimal(&'a Decimal128Array),
    Text(&'a StringArray),
    Date(&'a Date32Array),
    Time(&'a Time64MicrosecondArray),
    Timestamp(&'a TimestampMicrosecondArray),
    Interval(&'a IntervalMonthDayNanoArray),
    Bytes(&'a BinaryArray),
}

impl<'a> TypedColumn<'a> {
    /// `array` must have been through [`coerce`] for its column type.
    fn new(array: &'a ArrayRef) -> TypedColumn<'a> {
        match array.data_type() {
            DataType::Boolean => TypedColumn::Bool(array.as_boolean()),
            DataType::Int16 => TypedColumn::Int16(array.as_primitive()),
            DataType::Int32 => TypedColumn::Int32(array.as_primitive()),
            DataType::Int64 => TypedColumn::Int64(array.as_primitive()),
            DataType::Float32 => TypedColumn::Float32(array.as_primitive()),
            DataType::Float64 => TypedColumn::Float64(array.as_primitive()),
            DataType::Decimal128(..) => TypedColumn::Decimal(array.as_primitive()),
            DataType::Date32 => TypedColumn::Date(array.as_primitive()),
            DataType::Time64(_) => TypedColumn::Time(array.as_primitive()),
            DataType::Timestamp(..) => TypedColumn::Timestamp(array.as_primitive()),
            DataType::Interval(_) => TypedColumn::Interval(array.as_primitive()),
            DataType::Binary => TypedColumn::Bytes(array.as_binary()),
            _ => TypedColumn::Text(array.as_string()),
        }
    }

    fn value(&self, row: usize) -> ValueRef<'a> {
        macro_rules! get {
            ($array:expr, $variant:ident) => {
                if $array.is_null(row) {
                    ValueRef::Null
                } else {
                    ValueRef::$variant($array.value(row).into())
                }
            };
        }
        match self {
            TypedColumn::Bool(a) => get!(a, Bool),
            TypedColumn::Int16(a) => get!(a, Int16),
            TypedColumn::Int32(a) => get!(a, Int32),
            TypedColumn::Int64(a) => get!(a, Int64),
            TypedColumn::Float32(a) => get!(a, Float32),
            TypedColumn::Float64(a) => get!(a, Float64),
            TypedColumn::Decimal(a) => get!(a, Int128),
            TypedColumn::Text(a) => get!(a, Text),
            TypedColumn::Date(a) => get!(a, Int32),
            TypedColumn::Time(a) => get!(a, Int64),
            TypedColumn::Timestamp(a) => get!(a, Int64),
            TypedColumn::Bytes(a) => get!(a, Bytes),
            TypedColumn::Interval(a) => {
                if a.is_null(row) {
                    ValueRef::Null
                } else {
                    let v = a.value(row);
                    ValueRef::Interval(Interval {
                        months: v.months,
                        days: v.days,
                        nanoseconds: v.nanoseconds,
                    })
                }
            }
        }
    }
}

/// Fresh row ids for `rows` new rows of `def` (one array per hidden column; none for a table
/// with a primary key).
pub(crate) fn new_row_ids(
    scope: &SessionScope,
    def: &TableDef,
    rows: usize,
) -> Result<Vec<ArrayRef>> {
    def.hidden_slots()
        .map(|slot| {
            let first = scope
                .db
                .engine
                .next_identity_values(def.id, slot, rows as u64)
                .map_err(engine_error)?;
            Ok(Arc::new(Int64Array::from_iter_values(first..first + rows as i64)) as ArrayRef)
        })
        .collect()
}

/// The value at `row` of an array of a column type's Arrow type, as the engine stores it.
pub(crate) fn typed_value(array: &ArrayRef, row: usize) -> ValueRef<'_> {
    TypedColumn::new(array).value(row)
}

/// Casts `array` to column type `ty`, failing (not nulling) on values that do not fit, and
/// brings text-like values into their type's form (see [`driftdb_pgtypes::values`]).
pub(crate) fn coerce(array: &ArrayRef, ty: ColumnType) -> Result<ArrayRef> {
    if ty == ColumnType::Bytea && array.data_type() == &DataType::Utf8 {
        return values::parse_bytea_column(array.as_string());
    }
    let target = arrow_type(ty);
    let cast = if array.data_type() == &target {
        array.clone()
    } else {
        // A cast to an integer type rounds, as PostgreSQL's assignment does; Arrow truncates.
        let source = match driftdb_pgtypes::numeric::rounds_to_integer(array.data_type(), &target) {
            true => driftdb_pgtypes::numeric::round_for_integer(array.clone()),
            false => array.clone(),
        };
        let options = CastOptions {
            safe: false,
            ..Default::default()
        };
        cast_with_options(&source, &target, &options)
            .map_err(datafusion::error::DataFusionError::from)?
    };
    values::normalize_text_column(cast, ty)
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
    /// COMMIT).
    pub(crate) fn stage(mut self, scope: &SessionScope) -> Result<()> {
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

/// Whether a row the transaction sees holds primary key `pk` of `table`: its own version if
/// it wrote one, else the latest committed one.
pub(crate) fn key_held(
    scope: &SessionScope,
    table: TableId,
    pk: &[u8],
    pending: Option<&PendingRows>,
) -> Result<bool> {
    let engine = &scope.db.engine;
    Ok(match pending.and_then(|rows| rows.get(pk)) {
        Some(own) => own.put.is_some(),
        None => engine
            .get_as_of(table, pk, engine.latest_seq(), |_| ())
            .map_err(engine_error)?
            .is_some(),
    })
}

/// Whether a row the transaction sees, and `counts`, holds `values` (encoded as
/// [`unique_values`] does) in `index`: a committed row its own version does not replace, or one
/// of its own rows.
pub(crate) fn value_held(
    scope: &SessionScope,
    def: &TableDef,
    index: &IndexDef,
    values: &[u8],
    pending: Option<&PendingRows>,
    counts: impl Fn(&[u8]) -> bool,
) -> Result<bool> {
    let engine = &scope.db.engine;
    let own = |pk: &[u8]| pending.is_some_and(|rows| rows.contains_key(pk));
    let mut held = false;
    let range = KeyRange::prefix(values.to_vec());
    engine
        .scan_index(def, index, &range, engine.latest_seq(), |holder, _| {
            held = counts(holder) && !own(holder);
            Ok(if held { Flow::Stop } else { Flow::Continue })
        })
        .map_err(engine_error)?;
    Ok(held
        || pending
            .into_iter()
            .flat_map(|rows| rows.iter())
            .any(|(holder, row)| {
                counts(holder)
                    && row
                        .put
                        .as_deref()
                        .and_then(|e| unique_values(def, index, e))
                        .as_deref()
                        == Some(values)
            }))
}

/// The encoded values a framed put event holds in a unique index (`None` if one is NULL, as
/// NULLs never clash, or if the event does not decode).
pub(crate) fn unique_values(def: &TableDef, index: &IndexDef, event: &[u8]) -> Option<Vec<u8>> {
    let payload = frame::decode(event).ok()?;
    let RowEvent::Put(row) = row::decode_event(payload).ok()? else {
        return None;
    };
    let mut key = KeyEncoder::new();
    for &slot in &index.columns {
        let value = match row.values().nth(slot) {
            Some(value) => value.ok()?,
            None => def.columns.get(slot)?.missing_value(),
        };
        if value == ValueRef::Null {
            return None;
        }
        index::push_value(&mut key, value);
    }
    Some(key.as_bytes().to_vec())
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
        let mut encoder = RowsEncoder::new(&self.def);
        let mut set = WriteSet::new(&self.def);
        let mut rows = Vec::new();
        let mut count = 0u64;
        while let Some(batch) = data.next().await {
            let batch = batch?;
            rows.clear();
            let coerced = encoder
                .coerce(batch.columns())
                .map_err(Error::into_datafusion)?;
            checks::verify(&self.scope, &self.def, &coerced).map_err(Error::into_datafusion)?;
            foreign::check_references(&self.scope, &self.def, &coerced)
                .map_err(Error::into_datafusion)?;
            let row_ids = new_row_ids(&self.scope, &self.def, batch.num_rows())
                .map_err(Error::into_datafusion)?;
            encoder
                .encode_coerced(&coerced, &row_ids, &mut rows)
                .map_err(Error::into_datafusion)?;
            for (pk, event) in rows.drain(..) {
                set.insert(pk, event).map_err(Error::into_datafusion)?;
            }
            set.account(&self.scope).map_err(Error::into_datafusion)?;
            count += batch.num_rows() as u64;
        }
        set.stage(&self.scope).map_err(Error::into_datafusion)?;
        Ok(count)
    }
}
