//! Reading rows out of the versions family: the state as of a seq, and every version.
//!
//! Keys sort by primary key and then newest version first, so the state as of seq N is, per key,
//! the first version whose seq is at most N. Versions newer than N are skipped with one seek;
//! versions older than the one returned are skipped with one step, or one seek when there are
//! several. A current-state scan therefore costs about one step per row however long the history.

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
    let location = || format!("table {}, key {}, seq {}", vk.table, keys::describe(vk.pk), vk.seq);
    let payload = frame::decode(value).map_err(|e| Error::corrupt(location(), e))?;
    row::decode_event(payload).map_err(|e| Error::corrupt(location(), e))
}

/// Calls `f` with every row of `table` that exists as of `seq`, in primary-key order.
pub(crate) fn as_of(
    cursor: &mut Cursor<'_>,
    table: TableId,
    seq: Seq,
    f: &mut dyn FnMut(&[u8], RowView<'_>) -> Result<Flow>,
) -> Result<()> {
    let mut current_pk = Vec::new();
    let mut seek_key = Vec::new();
    cursor.seek(&keys::table_prefix(table));
    while let Some((key, value)) = cursor.item() {
        let vk = split(table, key)?;
        if vk.seq > seq {
            // Newer than the snapshot: jump to this key's first version at or before `seq`.
            keys::version_key_into(&mut seek_key, table, vk.pk, seq);
            cursor.seek(&seek_key);
            continue;
        }
        if let RowEvent::Put(row) = decode(&vk, value)?
            && f(vk.pk, row)? == Flow::Stop
        {
            return Ok(());
        }
        current_pk.clear();
        current_pk.extend_from_slice(vk.pk);
        cursor.next();
        let older_version_follows = match cursor.item() {
            Some((key, _)) => split(table, key)?.pk == current_pk.as_slice(),
            None => false,
        };
        if older_version_follows {
            // Seq 0 is never written, so its key sorts after every version of this row.
            keys::version_key_into(&mut seek_key, table, &current_pk, Seq::ZERO);
            cursor.seek(&seek_key);
        }
    }
    cursor.status()
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

/// Calls `f` with every version of every row of `table` committed at or before `seq`, in
/// primary-key order and newest version first. Versions written after `seq` are invisible, so a
/// version they replaced is reported as current.
pub(crate) fn versions(
    cursor: &mut Cursor<'_>,
    table: TableId,
    seq: Seq,
    f: &mut dyn FnMut(VersionRef<'_>) -> Result<Flow>,
) -> Result<()> {
    let mut current_pk = Vec::new();
    let mut newer: Option<Seq> = None;
    cursor.seek(&keys::table_prefix(table));
    while let Some((key, value)) = cursor.item() {
        let vk = split(table, key)?;
        if vk.pk != current_pk.as_slice() {
            current_pk.clear();
            current_pk.extend_from_slice(vk.pk);
            newer = None;
        }
        if vk.seq <= seq {
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
