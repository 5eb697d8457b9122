//! Every key layout DriftDB writes, in one place.
//!
//! | family   | key                                                                  |
//! |----------|----------------------------------------------------------------------|
//! | versions | table id (u64 BE) · primary key ([`KeyEncoder`]) · !seq (u64 BE)     |
//! | latest   | table id (u64 BE) · primary key                                      |
//! | indexes  | index id (u64 BE) · indexed values ([`KeyEncoder`]) · primary key · !seq |
//! | catalog  | table id (u64 BE) · !visible-from seq (u64 BE)                       |
//! | commits  | seq (u64 BE)                                                         |
//!
//! Byte order equals tuple order: keys sort by table, then primary key in SQL order, then newest
//! version first, so "the latest version at or before seq N" is one seek. Primary-key components
//! are self-delimiting, so the key of one row is never a prefix of another row's key. Indexed
//! values carry a presence byte (NULL sorts after every value, as in PostgreSQL's ascending
//! order); an index key is split with the primary-key length its value records
//! ([`crate::index`]).

use crate::ids::{IndexId, Seq, TableId};
use crate::row::{Interval, ValueRef};

/// Length of the table-id prefix.
pub const TABLE_ID_LEN: usize = 8;
/// Length of the seq suffix.
pub const SEQ_LEN: usize = 8;

/// Encodes primary-key values so that byte order equals value order.
///
/// - integers: big-endian with the sign bit flipped;
/// - floats: IEEE bits, all flipped for negatives, sign flipped for positives;
/// - booleans: one byte, 0 or 1;
/// - numerics: the scaled i128 like an integer (a column has one scale);
/// - text and bytea: bytes with 0x00 escaped as 0x00 0xFF, terminated by 0x00 0x01;
/// - intervals: their length with a month as 30 days (as PostgreSQL compares them), so
///   `'1 month'` and `'30 days'` make one key, just as they are equal in SQL.
#[derive(Debug, Default, Clone)]
pub struct KeyEncoder {
    buf: Vec<u8>,
}

impl KeyEncoder {
    /// An empty encoder.
    pub fn new() -> KeyEncoder {
        KeyEncoder::default()
    }

    /// Forgets what was pushed, keeping the allocation.
    pub fn clear(&mut self) {
        self.buf.clear();
    }

    pub fn push_bool(&mut self, v: bool) {
        self.buf.push(u8::from(v));
    }

    pub fn push_i32(&mut self, v: i32) {
        self.buf
            .extend_from_slice(&((v as u32) ^ (1 << 31)).to_be_bytes());
    }

    pub fn push_i16(&mut self, v: i16) {
        self.buf
            .extend_from_slice(&((v as u16) ^ (1 << 15)).to_be_bytes());
    }

    pub fn push_i128(&mut self, v: i128) {
        self.buf
            .extend_from_slice(&((v as u128) ^ (1 << 127)).to_be_bytes());
    }

    pub fn push_f32(&mut self, v: f32) {
        // Widening is exact and keeps the order.
        self.push_f64(f64::from(v));
    }

    pub fn push_interval(&mut self, v: Interval) {
        const NANOS_PER_DAY: i128 = 86_400_000_000_000;
        let length = (i128::from(v.months) * 30 + i128::from(v.days)) * NANOS_PER_DAY
            + i128::from(v.nanoseconds);
        self.push_i128(length);
    }

    /// Appends one value in its order-preserving form (NULL as [`KeyEncoder::push_null`] writes it;
    /// primary keys never hold one).
    pub fn push_value(&mut self, value: ValueRef<'_>) {
        match value {
            ValueRef::Bool(v) => self.push_bool(v),
            ValueRef::Int16(v) => self.push_i16(v),
            ValueRef::Int32(v) => self.push_i32(v),
            ValueRef::Int64(v) => self.push_i64(v),
            ValueRef::Int128(v) => self.push_i128(v),
            ValueRef::Float32(v) => self.push_f32(v),
            ValueRef::Float64(v) => self.push_f64(v),
            ValueRef::Text(v) => self.push_text(v),
            ValueRef::Bytes(v) => self.push_bytes(v),
            ValueRef::Interval(v) => self.push_interval(v),
            ValueRef::Null => self.push_null(),
        }
    }

    pub fn push_i64(&mut self, v: i64) {
        self.buf
            .extend_from_slice(&((v as u64) ^ (1 << 63)).to_be_bytes());
    }

    pub fn push_f64(&mut self, v: f64) {
        // -0.0 and 0.0 are equal in SQL, so they must make one key.
        let bits = if v == 0.0 {
            0.0f64.to_bits()
        } else {
            v.to_bits()
        };
        let ordered = if bits >> 63 == 1 {
            !bits
        } else {
            bits ^ (1 << 63)
        };
        self.buf.extend_from_slice(&ordered.to_be_bytes());
    }

    /// Marks the next indexed value as present (it follows) — index keys only.
    pub fn push_present(&mut self) {
        self.buf.push(0x01);
    }

    /// An indexed NULL — index keys only; it sorts after every present value.
    pub fn push_null(&mut self) {
        self.buf.push(0x02);
    }

    pub fn push_text(&mut self, v: &str) {
        self.push_bytes(v.as_bytes());
    }

    pub fn push_bytes(&mut self, v: &[u8]) {
        for &b in v {
            if b == 0 {
                self.buf.extend_from_slice(&[0x00, 0xFF]);
            } else {
                self.buf.push(b);
            }
        }
        self.buf.extend_from_slice(&[0x00, 0x01]);
    }

    /// The encoded key so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }
}

/// The prefix shared by every version of every row of `table`.
pub fn table_prefix(table: TableId) -> [u8; TABLE_ID_LEN] {
    table.0.to_be_bytes()
}

/// The first key after every version of every row of `table`.
pub fn table_upper_bound(table: TableId) -> [u8; TABLE_ID_LEN] {
    (table.0 + 1).to_be_bytes()
}

/// Appends the key of `pk`'s version at `seq` to `out` (which is cleared first).
pub fn version_key_into(out: &mut Vec<u8>, table: TableId, pk: &[u8], seq: Seq) {
    out.clear();
    out.reserve(TABLE_ID_LEN + pk.len() + SEQ_LEN);
    out.extend_from_slice(&table_prefix(table));
    out.extend_from_slice(pk);
    out.extend_from_slice(&(!seq.0).to_be_bytes());
}

/// The key of `pk`'s version at `seq`.
pub fn version_key(table: TableId, pk: &[u8], seq: Seq) -> Vec<u8> {
    let mut out = Vec::new();
    version_key_into(&mut out, table, pk, seq);
    out
}

/// A decoded versions-family key; `pk` borrows from the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VersionKey<'a> {
    pub table: TableId,
    pub pk: &'a [u8],
    pub seq: Seq,
}

/// Splits a versions-family key; `None` if it is too short to be one.
pub fn split_version_key(key: &[u8]) -> Option<VersionKey<'_>> {
    if key.len() < TABLE_ID_LEN + SEQ_LEN {
        return None;
    }
    let (table, rest) = key.split_at(TABLE_ID_LEN);
    let (pk, seq) = rest.split_at(rest.len() - SEQ_LEN);
    Some(VersionKey {
        table: TableId(u64::from_be_bytes(table.try_into().ok()?)),
        pk,
        seq: Seq(!u64::from_be_bytes(seq.try_into().ok()?)),
    })
}

/// Appends the latest-state key of `pk` to `out` (which is cleared first).
pub fn latest_key_into(out: &mut Vec<u8>, table: TableId, pk: &[u8]) {
    out.clear();
    out.reserve(TABLE_ID_LEN + pk.len());
    out.extend_from_slice(&table_prefix(table));
    out.extend_from_slice(pk);
}

/// Splits a latest-state key into table and primary key.
pub fn split_latest_key(key: &[u8]) -> Option<(TableId, &[u8])> {
    if key.len() < TABLE_ID_LEN {
        return None;
    }
    let (table, pk) = key.split_at(TABLE_ID_LEN);
    Some((TableId(u64::from_be_bytes(table.try_into().ok()?)), pk))
}

/// The prefix shared by every entry of `index`.
pub fn index_prefix(index: IndexId) -> [u8; 8] {
    index.0.to_be_bytes()
}

/// Appends the key of an index entry to `out` (which is cleared first). `values` is the
/// [`KeyEncoder`] output of the indexed values, each with its presence byte.
pub fn index_key_into(out: &mut Vec<u8>, index: IndexId, values: &[u8], pk: &[u8], seq: Seq) {
    out.clear();
    out.reserve(8 + values.len() + pk.len() + SEQ_LEN);
    out.extend_from_slice(&index_prefix(index));
    out.extend_from_slice(values);
    out.extend_from_slice(pk);
    out.extend_from_slice(&(!seq.0).to_be_bytes());
}

/// A decoded index key; `values` and `pk` borrow from the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexKey<'a> {
    pub index: IndexId,
    pub values: &'a [u8],
    pub pk: &'a [u8],
    pub seq: Seq,
}

/// Splits an index key whose primary key is `pk_len` bytes long; `None` if it cannot be one.
pub fn split_index_key(key: &[u8], pk_len: usize) -> Option<IndexKey<'_>> {
    let fixed = 8 + pk_len + SEQ_LEN;
    if key.len() < fixed {
        return None;
    }
    let (index, rest) = key.split_at(8);
    let (rest, seq) = rest.split_at(rest.len() - SEQ_LEN);
    let (values, pk) = rest.split_at(rest.len() - pk_len);
    Some(IndexKey {
        index: IndexId(u64::from_be_bytes(index.try_into().ok()?)),
        values,
        pk,
        seq: Seq(!u64::from_be_bytes(seq.try_into().ok()?)),
    })
}

/// The smallest byte string greater than every string that starts with `prefix`, or `None` if
/// there is none (the prefix is all 0xFF).
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut out = prefix.to_vec();
    while let Some(last) = out.pop() {
        if last != 0xFF {
            out.push(last + 1);
            return Some(out);
        }
    }
    None
}

/// A range of one key component (a primary key, or an index's leading values) in encoded form.
/// A bound on a prefix of a composite component covers every key that starts with it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeyRange {
    pub lower: std::ops::Bound<Vec<u8>>,
    pub upper: std::ops::Bound<Vec<u8>>,
}

impl KeyRange {
    /// Every key.
    pub fn all() -> KeyRange {
        KeyRange {
            lower: std::ops::Bound::Unbounded,
            upper: std::ops::Bound::Unbounded,
        }
    }

    /// Exactly the keys that start with `component`.
    pub fn prefix(component: Vec<u8>) -> KeyRange {
        KeyRange {
            lower: std::ops::Bound::Included(component.clone()),
            upper: std::ops::Bound::Included(component),
        }
    }

    /// Whether this range holds every key.
    pub fn is_all(&self) -> bool {
        use std::ops::Bound;
        matches!(
            (&self.lower, &self.upper),
            (Bound::Unbounded, Bound::Unbounded)
        )
    }

    /// Whether the whole key component `key` (an encoded primary key) lies in this range.
    pub fn contains(&self, key: &[u8]) -> bool {
        use std::ops::Bound;
        let above_lower = match &self.lower {
            Bound::Unbounded => true,
            Bound::Included(c) => key >= c.as_slice(),
            Bound::Excluded(c) => key > c.as_slice() && !key.starts_with(c),
        };
        above_lower && !self.is_past(key)
    }

    /// Whether `key` sorts after every key of this range (so no later key is in it either).
    pub fn is_past(&self, key: &[u8]) -> bool {
        use std::ops::Bound;
        match &self.upper {
            Bound::Unbounded => false,
            Bound::Included(c) => key > c.as_slice() && !key.starts_with(c),
            Bound::Excluded(c) => key >= c.as_slice(),
        }
    }

    /// The family-key bounds `[lower, upper)` of the entries `prefix · component · suffix` whose
    /// component lies in this range. Components must be self-delimiting (none is a proper prefix
    /// of another whole component).
    pub fn bounds_under(&self, prefix: &[u8]) -> (Vec<u8>, Option<Vec<u8>>) {
        use std::ops::Bound;
        let joined = |c: &[u8]| [prefix, c].concat();
        let lower = match &self.lower {
            Bound::Unbounded => prefix.to_vec(),
            Bound::Included(c) => joined(c),
            Bound::Excluded(c) => prefix_successor(&joined(c)).unwrap_or_else(|| joined(c)),
        };
        let upper = match &self.upper {
            Bound::Unbounded => prefix_successor(prefix),
            Bound::Included(c) => prefix_successor(&joined(c)),
            Bound::Excluded(c) => Some(joined(c)),
        };
        (lower, upper)
    }
}

/// The catalog key of a table definition that becomes visible at `visible_from`.
pub fn catalog_key(table: TableId, visible_from: Seq) -> [u8; 16] {
    let mut key = [0; 16];
    key[..8].copy_from_slice(&table.0.to_be_bytes());
    key[8..].copy_from_slice(&(!visible_from.0).to_be_bytes());
    key
}

/// Splits a catalog key into table and visible-from seq.
pub fn split_catalog_key(key: &[u8]) -> Option<(TableId, Seq)> {
    let key: &[u8; 16] = key.try_into().ok()?;
    let table = u64::from_be_bytes(key[..8].try_into().ok()?);
    let seq = !u64::from_be_bytes(key[8..].try_into().ok()?);
    Some((TableId(table), Seq(seq)))
}

/// The commits-family key of `seq`.
pub fn commit_key(seq: Seq) -> [u8; 8] {
    seq.0.to_be_bytes()
}

/// Decodes a commits-family key.
pub fn split_commit_key(key: &[u8]) -> Option<Seq> {
    Some(Seq(u64::from_be_bytes(key.try_into().ok()?)))
}

/// A primary key for error messages: printable bytes as text, the rest as hex.
pub fn describe(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                (b as char).to_string()
            } else {
                format!("\\x{b:02x}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(f: impl FnOnce(&mut KeyEncoder)) -> Vec<u8> {
        let mut enc = KeyEncoder::new();
        f(&mut enc);
        enc.as_bytes().to_vec()
    }

    fn assert_order_preserved<T: PartialOrd + Copy + std::fmt::Debug>(
        values: &[T],
        enc: impl Fn(&mut KeyEncoder, T),
    ) {
        for &a in values {
            for &b in values {
                let (ka, kb) = (key_of(|e| enc(e, a)), key_of(|e| enc(e, b)));
                assert_eq!(a.partial_cmp(&b), Some(ka.cmp(&kb)), "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn integer_keys_sort_like_integers() {
        assert_order_preserved(&[i32::MIN, -70000, -1, 0, 1, 255, 256, i32::MAX], |e, v| {
            e.push_i32(v)
        });
        assert_order_preserved(
            &[i64::MIN, -1 << 40, -1, 0, 1, 1 << 40, i64::MAX],
            |e, v| e.push_i64(v),
        );
    }

    #[test]
    fn small_and_wide_integer_keys_sort_like_integers() {
        assert_order_preserved(&[i16::MIN, -300, -1, 0, 1, 255, 256, i16::MAX], |e, v| {
            e.push_i16(v)
        });
        assert_order_preserved(
            &[i128::MIN, -(1 << 80), -1, 0, 1, 1 << 64, i128::MAX],
            |e, v| e.push_i128(v),
        );
    }

    #[test]
    fn interval_keys_sort_by_length_with_thirty_day_months() {
        let interval = |months, days, nanoseconds| Interval {
            months,
            days,
            nanoseconds,
        };
        let key = |v| key_of(|e| e.push_interval(v));
        let hour = 3_600_000_000_000;
        let ordered = [
            interval(-1, 0, 0),
            interval(0, -1, hour),
            interval(0, 0, 0),
            interval(0, 0, 25 * hour),
            interval(0, 29, 0),
            interval(1, 0, 1),
            interval(0, 31, 0),
        ];
        for pair in ordered.windows(2) {
            assert!(key(pair[0]) < key(pair[1]), "{pair:?}");
        }
        assert_eq!(key(interval(1, 0, 0)), key(interval(0, 30, 0)));
    }

    #[test]
    fn float_keys_sort_like_floats() {
        let values = [
            f64::NEG_INFINITY,
            -1e300,
            -2.5,
            -1e-300,
            0.0,
            1e-300,
            2.5,
            1e300,
            f64::INFINITY,
        ];
        assert_order_preserved(&values, |e, v| e.push_f64(v));
        assert_eq!(key_of(|e| e.push_f64(-0.0)), key_of(|e| e.push_f64(0.0)));
    }

    #[test]
    fn text_keys_sort_like_text_and_never_prefix_each_other() {
        let values = ["", "\0", "\0\0", "a", "a\0", "a\0b", "ab", "b", "\u{e9}"];
        assert_order_preserved(&values, |e, v| e.push_text(v));
        for a in values {
            for b in values {
                if a != b {
                    assert!(!key_of(|e| e.push_text(b)).starts_with(&key_of(|e| e.push_text(a))));
                }
            }
        }
    }

    #[test]
    fn ranges_on_a_leading_component_contain_every_key_that_starts_with_it() {
        let key = |a: i32, b: i32| {
            key_of(|e| {
                e.push_i32(a);
                e.push_i32(b)
            })
        };
        let first = |a: i32| key_of(|e| e.push_i32(a));
        use std::ops::Bound::{Excluded, Included, Unbounded};
        let between = KeyRange {
            lower: Included(first(2)),
            upper: Included(first(3)),
        };
        assert!(!between.contains(&key(1, 9)));
        assert!(between.contains(&key(2, -5)) && between.contains(&key(3, 9)));
        assert!(!between.contains(&key(4, -9)) && between.is_past(&key(4, -9)));
        let open = KeyRange {
            lower: Excluded(first(2)),
            upper: Excluded(first(3)),
        };
        assert!(!open.contains(&key(2, 9)) && !open.contains(&key(3, -9)));
        assert!(open.is_past(&key(3, -9)));
        let above = KeyRange {
            lower: Excluded(first(2)),
            upper: Unbounded,
        };
        assert!(above.contains(&key(3, 0)) && !above.is_past(&key(i32::MAX, 0)));
    }

    #[test]
    fn composite_keys_sort_by_first_component_then_second() {
        let tuples = [("a", 2), ("a", 10), ("ab", 1), ("b", -5)];
        assert_order_preserved(&tuples, |e, (s, n)| {
            e.push_text(s);
            e.push_i64(n);
        });
    }

    #[test]
    fn newer_versions_of_a_row_sort_first_and_rows_sort_by_key() {
        let pk = |n| key_of(|e| e.push_i32(n));
        let t = TableId(7);
        let keys = [
            version_key(t, &pk(1), Seq(9)),
            version_key(t, &pk(1), Seq(2)),
            version_key(t, &pk(2), Seq(5)),
            version_key(TableId(8), &pk(0), Seq(1)),
        ];
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        let split = split_version_key(&keys[1]).unwrap();
        assert_eq!((split.table, split.pk, split.seq), (t, &pk(1)[..], Seq(2)));
        assert!(
            keys[..3]
                .iter()
                .all(|k| k.as_slice() < &table_upper_bound(t)[..])
        );
    }

    #[test]
    fn index_keys_split_back_and_sort_by_value_then_row_then_newest() {
        let value = |v: Option<i32>| {
            key_of(|e| match v {
                Some(v) => {
                    e.push_present();
                    e.push_i32(v)
                }
                None => e.push_null(),
            })
        };
        let pk = |s: &str| key_of(|e| e.push_text(s));
        let i = IndexId(4);
        let mut keys = Vec::new();
        for (v, p, seq) in [
            (Some(-3), "b", 1),
            (Some(7), "a", 9),
            (Some(7), "a", 2),
            (Some(7), "b", 5),
            (None, "a", 3),
        ] {
            let mut key = Vec::new();
            index_key_into(&mut key, i, &value(v), &pk(p), Seq(seq));
            let split = split_index_key(&key, pk(p).len()).unwrap();
            assert_eq!(
                (split.index, split.values, split.pk, split.seq),
                (i, &value(v)[..], &pk(p)[..], Seq(seq))
            );
            keys.push(key);
        }
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
    }

    #[test]
    fn a_prefix_successor_bounds_every_extension() {
        assert_eq!(prefix_successor(&[1, 2]), Some(vec![1, 3]));
        assert_eq!(prefix_successor(&[1, 0xFF]), Some(vec![2]));
        assert_eq!(prefix_successor(&[0xFF, 0xFF]), None);
        let succ = prefix_successor(&[5, 0xFF, 0xFF]).unwrap();
        assert!(succ.as_slice() > &[5, 0xFF, 0xFF, 0xFF, 0xFF][..]);
    }

    #[test]
    fn key_range_bounds_select_exactly_the_components_in_range() {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        let pk = |n| key_of(|e| e.push_i32(n));
        let t = TableId(3);
        let all: Vec<(i32, Vec<u8>)> = (1..=5)
            .flat_map(|n| [9, 1].map(|seq| (n, version_key(t, &pk(n), Seq(seq)))))
            .collect();
        let cases = [
            (Included(pk(2)), Excluded(pk(4)), vec![2, 3]),
            (Excluded(pk(2)), Included(pk(4)), vec![3, 4]),
            (Unbounded, Included(pk(1)), vec![1]),
            (Excluded(pk(5)), Unbounded, vec![]),
        ];
        for (lower, upper, expected) in cases {
            let range = KeyRange { lower, upper };
            let (lo, hi) = range.bounds_under(&table_prefix(t));
            let mut selected: Vec<i32> = all
                .iter()
                .filter(|(_, k)| *k >= lo && hi.as_ref().is_none_or(|hi| k < hi))
                .map(|(n, _)| *n)
                .collect();
            selected.dedup();
            assert_eq!(selected, expected, "{range:?}");
        }
    }

    #[test]
    fn catalog_and_commit_keys_round_trip() {
        let key = catalog_key(TableId(3), Seq(11));
        assert_eq!(split_catalog_key(&key), Some((TableId(3), Seq(11))));
        assert!(
            catalog_key(TableId(3), Seq(12)) < key,
            "newer definitions sort first"
        );
        assert_eq!(split_commit_key(&commit_key(Seq(42))), Some(Seq(42)));
    }
}
