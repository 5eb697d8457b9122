//! Secondary indexes: the byte layout of their entries, their upkeep, and lookups as of a seq.
//!
//! ```text
//! key:   index id · indexed values · primary key · !seq     (keys::index_key_into)
//! value: frame([marker u8: 1 put, 2 delete][primary-key length u32 LE])
//! ```
//!
//! Each indexed value is a presence byte followed by its [`KeyEncoder`] encoding, so entries sort
//! by value (NULL last), then row, then newest first. An entry is written in the same batch as the
//! row event that causes it: a put where a row takes a value, a delete where it gives one up (an
//! update that changes the value, a delete of the row). The entry for `(value, row)` that is
//! newest at or before seq N tells whether the row held that value as of N, so an index answers
//! for any point, just as the versions family does.

use crate::catalog::ColumnDef;
use crate::error::{Error, Result};
use crate::frame;
use crate::ids::{IndexId, Seq};
use crate::keys::{self, KeyEncoder};
use crate::row::{RowError, RowView, ValueRef};
use crate::scan::Flow;
use crate::store::Cursor;

const MARK_PUT: u8 = 1;
const MARK_DELETE: u8 = 2;

/// Appends one indexed value: its presence byte, then its order-preserving encoding.
pub fn push_value(enc: &mut KeyEncoder, value: ValueRef<'_>) {
    if value == ValueRef::Null {
        enc.push_null();
        return;
    }
    enc.push_present();
    enc.push_value(value);
}

/// The value a row holds in `slot`: a slot the row predates holds the column's missing value.
fn value_at<'r>(
    row: &RowView<'r>,
    slot: usize,
    columns: &'r [ColumnDef],
) -> std::result::Result<ValueRef<'r>, RowError> {
    match row.values().nth(slot) {
        Some(value) => value,
        None => Ok(columns
            .get(slot)
            .map_or(ValueRef::Null, ColumnDef::missing_value)),
    }
}

/// Whether the row holds NULL in any of `slots` (an undecodable value counts as NULL: such a
/// row never takes part in a uniqueness check).
pub(crate) fn holds_null(row: &RowView<'_>, slots: &[usize], columns: &[ColumnDef]) -> bool {
    slots
        .iter()
        .any(|&slot| !matches!(value_at(row, slot, columns), Ok(v) if v != ValueRef::Null))
}

/// Encodes the values a row holds in the indexed `slots` of a table with `columns`.
pub fn encode_row_values(
    enc: &mut KeyEncoder,
    row: &RowView<'_>,
    slots: &[usize],
    columns: &[ColumnDef],
) -> std::result::Result<(), RowError> {
    enc.clear();
    for &slot in slots {
        push_value(enc, value_at(row, slot, columns)?);
    }
    Ok(())
}

/// The framed value of an entry: whether the row holds the value from this seq on, and how long
/// its primary key is (so the key can be split).
pub(crate) fn entry_value(holds: bool, pk_len: usize) -> Vec<u8> {
    let marker = if holds { MARK_PUT } else { MARK_DELETE };
    let len = u32::try_from(pk_len).expect("a primary key is smaller than 4 GiB");
    let mut payload = [0u8; 5];
    payload[0] = marker;
    payload[1..].copy_from_slice(&len.to_le_bytes());
    frame::encode(&payload)
}

/// Checks and splits an entry: its key parts and whether it is a put.
pub(crate) fn decode_entry<'k>(key: &'k [u8], value: &[u8]) -> Result<(keys::IndexKey<'k>, bool)> {
    let location = || format!("index entry {}", keys::describe(key));
    let payload = frame::decode(value).map_err(|e| Error::corrupt(location(), e))?;
    let (marker, pk_len) = match payload {
        [marker, len @ ..] if len.len() == 4 => (
            *marker,
            u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize,
        ),
        _ => return Err(Error::corrupt(location(), "malformed entry value")),
    };
    let holds = match marker {
        MARK_PUT => true,
        MARK_DELETE => false,
        other => {
            return Err(Error::corrupt(
                location(),
                format!("unknown marker {other}"),
            ));
        }
    };
    let split = keys::split_index_key(key, pk_len)
        .ok_or_else(|| Error::corrupt(location(), "key shorter than its parts"))?;
    Ok((split, holds))
}

/// Calls `f` with the primary key of every row that held an indexed value in the cursor's range
/// as of `seq`, in value order, starting at family key `start`.
pub(crate) fn lookup(
    cursor: &mut Cursor<'_>,
    index: IndexId,
    start: &[u8],
    seq: Seq,
    f: &mut dyn FnMut(&[u8]) -> Result<Flow>,
) -> Result<()> {
    // The (values · pk) part of the entry last decided; older entries for it are skipped.
    let mut decided: Vec<u8> = Vec::new();
    let mut have_decided = false;
    cursor.seek(start);
    while let Some((key, value)) = cursor.item() {
        let (entry, holds) = decode_entry(key, value)?;
        if entry.index != index {
            return Err(Error::corrupt(
                format!("index entry {}", keys::describe(key)),
                format!("found under index {index}"),
            ));
        }
        let pair = &key[8..key.len() - keys::SEQ_LEN];
        let same_pair = have_decided && decided == pair;
        if !same_pair && entry.seq <= seq {
            decided.clear();
            decided.extend_from_slice(pair);
            have_decided = true;
            if holds && f(entry.pk)? == Flow::Stop {
                return Ok(());
            }
        }
        cursor.next();
    }
    cursor.status()
}
