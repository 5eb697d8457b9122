//! The byte layout of a row event (the payload inside a [`crate::frame`]).
//!
//! ```text
//! put:    [1u8][column count u16 LE][value]*
//! delete: [2u8]
//! value:  [tag u8][data]   tag 0 NULL, 1 false, 2 true, 3 i32 (4 bytes LE),
//!                           4 i64 (8 bytes LE), 5 f64 (8 bytes LE), 6 text (u32 LE length + UTF-8),
//!                           7 i16 (2 bytes LE), 8 f32 (4 bytes LE), 9 i128 (16 bytes LE),
//!                           10 bytes (u32 LE length + bytes),
//!                           11 interval (months i32 LE, days i32 LE, nanoseconds i64 LE)
//! ```
//!
//! Tags are physical: a column's SQL type ([`ColumnType`]) says how to read them — a date is an
//! i32 of days since 1970-01-01, a time or timestamp an i64 of microseconds (since midnight, or
//! since 1970-01-01 00:00 UTC), a numeric an i128 scaled by the column's scale; uuid, json,
//! jsonb, char and varchar values are text.
//!
//! A value's tag doubles as its null bit, so a row is decodable without its schema (the verify
//! command relies on that) and a reader can tell a stored type from the one it expected. Values
//! are stored by column slot: slots are never reused, so a row written before `ADD COLUMN` simply
//! has fewer values, and a dropped column's slot is skipped on read.

use crate::frame;
pub use driftdb_column_types::{ColumnType, UNCONSTRAINED_NUMERIC_SCALE};
use std::fmt;

const KIND_PUT: u8 = 1;
const KIND_DELETE: u8 = 2;

const TAG_NULL: u8 = 0;
const TAG_FALSE: u8 = 1;
const TAG_TRUE: u8 = 2;
const TAG_I32: u8 = 3;
const TAG_I64: u8 = 4;
const TAG_F64: u8 = 5;
const TAG_TEXT: u8 = 6;
const TAG_I16: u8 = 7;
const TAG_F32: u8 = 8;
const TAG_I128: u8 = 9;
const TAG_BYTES: u8 = 10;
const TAG_INTERVAL: u8 = 11;

/// An interval as PostgreSQL keeps it: months, days and a time part, never normalised into
/// each other (a month is not a fixed number of days).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Interval {
    pub months: i32,
    pub days: i32,
    pub nanoseconds: i64,
}

/// A stored value, borrowed from the event bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ValueRef<'a> {
    Null,
    Bool(bool),
    Int32(i32),
    Int64(i64),
    Float64(f64),
    Text(&'a str),
    Int16(i16),
    Float32(f32),
    Int128(i128),
    Bytes(&'a [u8]),
    Interval(Interval),
}

/// Builds framed row events into a reusable buffer.
#[derive(Debug, Default)]
pub struct RowEncoder {
    buf: Vec<u8>,
    columns: u16,
}

impl RowEncoder {
    /// A new encoder; call [`RowEncoder::begin_put`] before pushing values.
    pub fn new() -> RowEncoder {
        RowEncoder::default()
    }

    /// Starts a put event.
    pub fn begin_put(&mut self) {
        frame::start(&mut self.buf);
        self.buf.extend_from_slice(&[KIND_PUT, 0, 0]);
        self.columns = 0;
    }

    fn push_tag(&mut self, tag: u8) {
        self.buf.push(tag);
        self.columns = self
            .columns
            .checked_add(1)
            .expect("a row has fewer than 65536 columns");
    }

    pub fn push_null(&mut self) {
        self.push_tag(TAG_NULL);
    }

    pub fn push_bool(&mut self, v: bool) {
        self.push_tag(if v { TAG_TRUE } else { TAG_FALSE });
    }

    pub fn push_i32(&mut self, v: i32) {
        self.push_tag(TAG_I32);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn push_i64(&mut self, v: i64) {
        self.push_tag(TAG_I64);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn push_f64(&mut self, v: f64) {
        self.push_tag(TAG_F64);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn push_text(&mut self, v: &str) {
        self.push_tag(TAG_TEXT);
        let len = u32::try_from(v.len()).expect("a text value is smaller than 4 GiB");
        self.buf.extend_from_slice(&len.to_le_bytes());
        self.buf.extend_from_slice(v.as_bytes());
    }

    pub fn push_i16(&mut self, v: i16) {
        self.push_tag(TAG_I16);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn push_f32(&mut self, v: f32) {
        self.push_tag(TAG_F32);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn push_i128(&mut self, v: i128) {
        self.push_tag(TAG_I128);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn push_bytes(&mut self, v: &[u8]) {
        self.push_tag(TAG_BYTES);
        let len = u32::try_from(v.len()).expect("a bytea value is smaller than 4 GiB");
        self.buf.extend_from_slice(&len.to_le_bytes());
        self.buf.extend_from_slice(v);
    }

    pub fn push_interval(&mut self, v: Interval) {
        self.push_tag(TAG_INTERVAL);
        self.buf.extend_from_slice(&v.months.to_le_bytes());
        self.buf.extend_from_slice(&v.days.to_le_bytes());
        self.buf.extend_from_slice(&v.nanoseconds.to_le_bytes());
    }

    pub fn push(&mut self, v: ValueRef<'_>) {
        match v {
            ValueRef::Null => self.push_null(),
            ValueRef::Bool(b) => self.push_bool(b),
            ValueRef::Int32(n) => self.push_i32(n),
            ValueRef::Int64(n) => self.push_i64(n),
            ValueRef::Float64(n) => self.push_f64(n),
            ValueRef::Text(s) => self.push_text(s),
            ValueRef::Int16(n) => self.push_i16(n),
            ValueRef::Float32(n) => self.push_f32(n),
            ValueRef::Int128(n) => self.push_i128(n),
            ValueRef::Bytes(b) => self.push_bytes(b),
            ValueRef::Interval(i) => self.push_interval(i),
        }
    }

    /// Seals the event and returns the framed bytes.
    pub fn finish(&mut self) -> &[u8] {
        let count = frame::HEADER_LEN + 1;
        self.buf[count..count + 2].copy_from_slice(&self.columns.to_le_bytes());
        frame::seal(&mut self.buf);
        &self.buf
    }
}

/// The framed event that marks a row deleted.
pub fn delete_event() -> Vec<u8> {
    frame::encode(&[KIND_DELETE])
}

/// A decoded event payload.
#[derive(Clone, Copy, Debug)]
pub enum RowEvent<'a> {
    Put(RowView<'a>),
    Delete,
}

/// Why an event payload did not decode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError(pub String);

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Decodes an (already unframed) event payload.
pub fn decode_event(payload: &[u8]) -> Result<RowEvent<'_>, RowError> {
    match payload.first() {
        Some(&KIND_PUT) if payload.len() >= 3 => Ok(RowEvent::Put(RowView {
            columns: u16::from_le_bytes([payload[1], payload[2]]),
            values: &payload[3..],
        })),
        Some(&KIND_DELETE) if payload.len() == 1 => Ok(RowEvent::Delete),
        Some(kind) => Err(RowError(format!("malformed event of kind {kind}"))),
        None => Err(RowError("empty event".into())),
    }
}

/// The values of a put event, in column-slot order.
#[derive(Clone, Copy, Debug)]
pub struct RowView<'a> {
    columns: u16,
    values: &'a [u8],
}

impl<'a> RowView<'a> {
    /// How many column slots the row was written with.
    pub fn column_count(&self) -> usize {
        self.columns as usize
    }

    /// The values, slot by slot.
    pub fn values(&self) -> RowValues<'a> {
        RowValues {
            remaining: self.columns,
            bytes: self.values,
        }
    }

    /// Checks that every value decodes and nothing trails them.
    pub fn validate(&self) -> Result<(), RowError> {
        let mut values = self.values();
        for value in values.by_ref() {
            value?;
        }
        if values.bytes.is_empty() {
            Ok(())
        } else {
            Err(RowError(format!(
                "{} bytes after the last value",
                values.bytes.len()
            )))
        }
    }
}

/// Iterator over a row's values.
#[derive(Debug)]
pub struct RowValues<'a> {
    remaining: u16,
    bytes: &'a [u8],
}

impl<'a> RowValues<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], RowError> {
        if self.bytes.len() < n {
            return Err(RowError(format!(
                "value needs {n} bytes, {} left",
                self.bytes.len()
            )));
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], RowError> {
        Ok(self
            .take(N)?
            .try_into()
            .expect("take returns exactly N bytes"))
    }

    fn decode_one(&mut self) -> Result<ValueRef<'a>, RowError> {
        let tag = self.take_array::<1>()?[0];
        Ok(match tag {
            TAG_NULL => ValueRef::Null,
            TAG_FALSE => ValueRef::Bool(false),
            TAG_TRUE => ValueRef::Bool(true),
            TAG_I32 => ValueRef::Int32(i32::from_le_bytes(self.take_array()?)),
            TAG_I64 => ValueRef::Int64(i64::from_le_bytes(self.take_array()?)),
            TAG_F64 => ValueRef::Float64(f64::from_le_bytes(self.take_array()?)),
            TAG_TEXT => {
                let len = u32::from_le_bytes(self.take_array()?) as usize;
                let bytes = self.take(len)?;
                ValueRef::Text(
                    std::str::from_utf8(bytes)
                        .map_err(|e| RowError(format!("text is not UTF-8: {e}")))?,
                )
            }
            TAG_I16 => ValueRef::Int16(i16::from_le_bytes(self.take_array()?)),
            TAG_F32 => ValueRef::Float32(f32::from_le_bytes(self.take_array()?)),
            TAG_I128 => ValueRef::Int128(i128::from_le_bytes(self.take_array()?)),
            TAG_BYTES => {
                let len = u32::from_le_bytes(self.take_array()?) as usize;
                ValueRef::Bytes(self.take(len)?)
            }
            TAG_INTERVAL => ValueRef::Interval(Interval {
                months: i32::from_le_bytes(self.take_array()?),
                days: i32::from_le_bytes(self.take_array()?),
                nanoseconds: i64::from_le_bytes(self.take_array()?),
            }),
            other => return Err(RowError(format!("unknown value tag {other}"))),
        })
    }
}

impl<'a> Iterator for RowValues<'a> {
    type Item = Result<ValueRef<'a>, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let value = self.decode_one();
        if value.is_err() {
            self.remaining = 0;
        }
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_put_event_round_trips_every_type() {
        let values = [
            ValueRef::Int32(-7),
            ValueRef::Null,
            ValueRef::Text("h\u{e9}llo\0"),
            ValueRef::Int64(i64::MIN),
            ValueRef::Bool(true),
            ValueRef::Bool(false),
            ValueRef::Float64(-0.5),
            ValueRef::Text(""),
            ValueRef::Int16(-300),
            ValueRef::Float32(2.5),
            ValueRef::Int128(-12345678901234567890123456789),
            ValueRef::Bytes(&[0, 255, 7]),
            ValueRef::Interval(Interval {
                months: 14,
                days: -3,
                nanoseconds: 3_600_000_000_123,
            }),
        ];
        let mut enc = RowEncoder::new();
        enc.begin_put();
        values.iter().for_each(|&v| enc.push(v));
        let framed = enc.finish().to_vec();
        let RowEvent::Put(row) = decode_event(frame::decode(&framed).unwrap()).unwrap() else {
            panic!("expected a put");
        };
        assert_eq!(row.column_count(), values.len());
        let decoded: Vec<_> = row.values().collect::<Result<_, _>>().unwrap();
        assert_eq!(decoded, values);
        row.validate().unwrap();
    }

    #[test]
    fn the_encoder_is_reusable() {
        let mut enc = RowEncoder::new();
        enc.begin_put();
        enc.push_text("a long first row");
        enc.finish();
        enc.begin_put();
        enc.push_i32(1);
        let framed = enc.finish().to_vec();
        let RowEvent::Put(row) = decode_event(frame::decode(&framed).unwrap()).unwrap() else {
            panic!("expected a put");
        };
        assert_eq!(
            row.values().collect::<Result<Vec<_>, _>>().unwrap(),
            [ValueRef::Int32(1)]
        );
    }

    #[test]
    fn a_delete_event_decodes_as_delete() {
        let framed = delete_event();
        assert!(matches!(
            decode_event(frame::decode(&framed).unwrap()),
            Ok(RowEvent::Delete)
        ));
    }

    #[test]
    fn malformed_payloads_are_errors_not_panics() {
        for payload in [
            &[][..],
            &[9],
            &[1],
            &[1, 1, 0],
            &[1, 1, 0, 6, 5, 0, 0, 0, b'a'],
            &[1, 1, 0, 99],
            &[1, 1, 0, 9, 1, 2, 3],
            &[1, 1, 0, 10, 9, 0, 0, 0, 1],
            &[1, 1, 0, 11, 0, 0, 0, 0, 0, 0, 0, 0],
        ] {
            let decoded = decode_event(payload).map(|e| match e {
                RowEvent::Put(row) => row.validate(),
                RowEvent::Delete => Ok(()),
            });
            assert!(!matches!(decoded, Ok(Ok(()))), "{payload:?} decoded");
        }
    }
}
