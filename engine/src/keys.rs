//! Every key layout DriftDB writes, in one place.
//!
//! | family   | key                                                      |
//! |----------|----------------------------------------------------------|
//! | versions | table id (u64 BE) · primary key ([`KeyEncoder`]) · !seq (u64 BE) |
//! | catalog  | table id (u64 BE) · !visible-from seq (u64 BE)           |
//! | commits  | seq (u64 BE)                                             |
//!
//! Byte order equals tuple order: keys sort by table, then primary key in SQL order, then newest
//! version first, so "the latest version at or before seq N" is one seek. Primary-key components
//! are self-delimiting, so the key of one row is never a prefix of another row's key.

use crate::ids::{Seq, TableId};

/// Length of the table-id prefix.
pub const TABLE_ID_LEN: usize = 8;
/// Length of the seq suffix.
pub const SEQ_LEN: usize = 8;

/// Encodes primary-key values so that byte order equals value order.
///
/// - integers: big-endian with the sign bit flipped;
/// - floats: IEEE bits, all flipped for negatives, sign flipped for positives;
/// - booleans: one byte, 0 or 1;
/// - text: bytes with 0x00 escaped as 0x00 0xFF, terminated by 0x00 0x01.
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

    pub fn push_text(&mut self, v: &str) {
        for &b in v.as_bytes() {
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
