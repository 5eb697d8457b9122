//! Reading rows out of the versions family: the state as of a seq, and every version.
//!
//! Keys sort by primary key and then newest version first, so the state as of seq N is, per key,
//! the first version whose seq is at most N. Versions newer than N, and versions older than the
//! one returned, are stepped over, or skipped with one seek when there are many. (Current-state
//! reads normally go through the latest-state family instead, see `latest`.)

use crate::error::{Error, Result};
use crate::frame;
use crate::ids::{Seq, TableId};
use crate::keys::{self, VersionKey};
use crate::row::{self, RowEvent, RowView};
use crate::store::Cursor;

/// Whether a scan should go on after the row just handed out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

/// One version of a row, borrowed from the store for the duration of a callback.
#[derive(Clone, Copy, Debug)]
pub struct VersionRef<'a> {
    /// The encoded primary key.
    pub pk: &'a [u8],
    /// The commit that wrote this version.
    pub seq_from: Seq,
    /// The commit that replaced or deleted it; `None` while it is current.
    pub seq_to: Option<Seq>,
    /// The row's values.
    pub row: RowView<'a>,
}

fn split<'k>(table: TableId, key: &'k [u8]) -> Result<VersionKey<'k>> {
    match keys::split_version_key(key) {
        Some(vk) if vk.table == table => Ok(vk),
        _ => Err(Error::corrupt(
            format!("table {table}, key {}", keys::describe(key)),
            "malformed version key",
        )),
    }
}

/// Unframes and decodes a stored event, naming table, key and seq if it is damaged.
pub(crate) fn decode<'v>(vk: &VersionKey<'_>, value: &'v [u8]) -> Result<RowEvent<'v>> {
    let location = || {
        format!(
            "table {}, key {}, seq {}",
            vk.table,
            keys::describe(vk.pk),
            vk.seq
        )
    };
    let payload = frame::decode(value).map_err(|e| Error::corrupt(location(), e))?;
    row::decode_event(payload).map_err(|e| Error::corrupt(location(), e))
}

/// Calls `f` with every row of `table` that exists as of `seq`, in primary-key order, starting at
/// family key `start` (the cursor's upper bound ends the range).
pub(crate) fn as_of(
    cursor: &mut Cursor<'_>,
    table: TableId,
    start: &[u8],
    seq: Seq,
    f: &mut dyn FnMut(&[u8], RowView<'_>) -> Result<Flow>,
) -> Result<()> {
    let mut current_pk = Vec::new();
    let mut seek_key = Vec::new();
    cursor.seek(start);
    while let Some((key, value)) = cursor.item() {
        let vk = split(table, key)?;
        if vk.seq > seq {
            // Newer than the snapshot: step to this key's first version at or before `seq`,
            // or to the next key, whichever comes first.
            current_pk.clear();
            current_pk.extend_from_slice(vk.pk);
            if !step_while(cursor, table, &current_pk, |v| v.seq > seq)? {
                keys::version_key_into(&mut seek_key, table, &current_pk, seq);
                cursor.seek(&seek_key);
            }
            continue;
        }
        if let RowEvent::Put(row) = decode(&vk, value)?
            && f(vk.pk, row)? == Flow::Stop
        {
            return Ok(());
        }
        current_pk.clear();
        current_pk.extend_from_slice(vk.pk);
        if !step_while(cursor, table, &current_pk, |_| true)? {
            // Seq 0 is never written, so its key sorts after every version of this row.
            keys::version_key_into(&mut seek_key, table, &current_pk, Seq::ZERO);
            cursor.seek(&seek_key);
        }
    }
    cursor.status()
}

/// Versions a scan steps over one by one before it seeks instead: a step is much cheaper than a
/// seek, a seek much cheaper than many steps (RocksDB's own iterator makes the same trade).
const STEPS_BEFORE_SEEK: usize = 8;

/// Moves past the versions of `pk` that match `skip`; returns false if it gave up after
/// [`STEPS_BEFORE_SEEK`] steps (the caller seeks), true once the cursor is past them.
fn step_while(
    cursor: &mut Cursor<'_>,
    table: TableId,
    pk: &[u8],
    skip: impl Fn(&VersionKey<'_>) -> bool,
) -> Result<bool> {
    for _ in 0..STEPS_BEFORE_SEEK {
        cursor.next();
        match cursor.item() {
            Some((key, _)) => {
                let vk = split(table, key)?;
                if vk.pk != pk || !skip(&vk) {
                    return Ok(true);
                }
            }
            None => return Ok(true),
        }
    }
    Ok(false)
}

/// The latest event for `pk` at or before `seq`, decoded by `f`.
pub(crate) fn get_as_of<T>(
    cursor: &mut Cursor<'_>,
    table: TableId,
    pk: &[u8],
    seq: Seq,
    f: impl FnOnce(RowEvent<'_>) -> T,
) -> Result<Option<T>> {
    cursor.seek(&keys::version_key(table, pk, seq));
    match cursor.item() {
        Some((key, value)) => {
            let vk = split(table, key)?;
            if vk.pk != pk {
                return Ok(None);
            }
            Ok(Some(f(decode(&vk, value)?)))
        }
        None => cursor.status().map(|()| None),
    }
}

/// Calls `f` with every version of every row of `table` that was current at some seq in
/// `seqs`, in primary-key order and newest version first, starting at family key `start`.
/// Versions written after the range's end are invisible, so a version they replaced is reported as
/// current.
pub(crate) fn versions(
    cursor: &mut Cursor<'_>,
    table: TableId,
    start: &[u8],
    seqs: std::ops::RangeInclusive<Seq>,
    f: &mut dyn FnMut(VersionRef<'_>) -> Result<Flow>,
) -> Result<()> {
    let (first, seq) = (*seqs.start(), *seqs.end());
    let mut current_pk = Vec::new();
    let mut newer: Option<Seq> = None;
    cursor.seek(start);
    while let Some((key, value)) = cursor.item() {
        let vk = split(table, key)?;
        if vk.pk != current_pk.as_slice() {
            current_pk.clear();
            current_pk.extend_from_slice(vk.pk);
            newer = None;
        }
        // A version is current from its own seq until the next one's (exclusive).
        let ended_before_range = newer.is_some_and(|to| to <= first);
        if vk.seq <= seq && !ended_before_range {
            if let RowEvent::Put(row) = decode(&vk, value)? {
                let version = VersionRef {
                    pk: vk.pk,
                    seq_from: vk.seq,
                    seq_to: newer,
                    row,
                };
                if f(version)? == Flow::Stop {
                    return Ok(());
                }
            }
            newer = Some(vk.seq);
        }
        cursor.next();
    }
    cursor.status()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::keys::KeyEncoder;
    use crate::row::RowEncoder;
    use crate::store::{Family, Store};

    fn pk(id: i32) -> Vec<u8> {
        let mut key = KeyEncoder::new();
        key.push_i32(id);
        key.as_bytes().to_vec()
    }

    fn put_event(text: &str) -> Vec<u8> {
        let mut row = RowEncoder::new();
        row.begin_put();
        row.push_text(text);
        row.finish().to_vec()
    }

    /// Writes versions straight into the store, bypassing every check of the engine.
    fn store_with(versions: &[(i32, u64, Vec<u8>)]) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut batch = store.batch();
        for (id, seq, value) in versions {
            batch.put(
                Family::Versions,
                &keys::version_key(TableId(1), &pk(*id), Seq(*seq)),
                value,
            );
        }
        store.write(batch, false).unwrap();
        (dir, store)
    }

    fn read_all(store: &Store, seq: u64) -> Result<Vec<String>> {
        let mut cursor = store.cursor(Family::Versions, None, None);
        let mut out = Vec::new();
        let start = keys::table_prefix(TableId(1));
        as_of(&mut cursor, TableId(1), &start, Seq(seq), &mut |_, row| {
            out.push(format!("{:?}", row.values().next()));
            Ok(Flow::Continue)
        })?;
        Ok(out)
    }

    #[test]
    fn a_damaged_version_is_an_error_naming_table_key_and_seq() {
        let mut damaged = put_event("hello");
        let last = damaged.len() - 1;
        damaged[last] ^= 0x20;
        let (_dir, store) = store_with(&[(1, 1, put_event("fine")), (2, 3, damaged)]);
        let err = read_all(&store, 3).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Corrupt);
        let message = err.to_string();
        assert!(
            message.contains("table 1") && message.contains("seq 3"),
            "{message}"
        );
    }

    #[test]
    fn a_damaged_version_newer_than_the_snapshot_is_never_read() {
        let mut damaged = put_event("later");
        damaged[0] ^= 1;
        let (_dir, store) = store_with(&[(1, 1, put_event("fine")), (1, 5, damaged)]);
        assert_eq!(read_all(&store, 4).unwrap().len(), 1);
        assert_eq!(read_all(&store, 5).unwrap_err().kind(), ErrorKind::Corrupt);
    }

    #[test]
    fn a_truncated_value_is_an_error_not_a_panic() {
        let (_dir, store) = store_with(&[(1, 1, vec![3, 0])]);
        assert_eq!(read_all(&store, 1).unwrap_err().kind(), ErrorKind::Corrupt);
    }
}
