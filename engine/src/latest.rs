//! The latest-state family: for every row ever written, its newest event and that event's seq.
//!
//! ```text
//! key:   table id · primary key                 (keys::latest_key_into)
//! value: frame([seq u64 BE][event payload])
//! ```
//!
//! It is written in the same batch as the version it mirrors, so it always agrees with the
//! versions family up to the latest written seq. A delete leaves a tombstone (the delete event and
//! its seq) instead of removing the entry, because a reader whose snapshot predates the delete must
//! still find the row. A reader at seq S takes every entry whose seq is at most S as it is, and for
//! the rows changed after S asks the versions family for the version at S: a current-state scan
//! costs one step per row however long the history, and stays exact for any snapshot.

use crate::error::{Error, Result};
use crate::frame;
use crate::ids::{Seq, TableId};
use crate::keys;
use crate::row::{self, RowEvent, RowView};
use crate::scan::{self, Flow};
use crate::store::Cursor;

/// Frames the latest-state value of an event (its unframed payload) written at `seq`.
pub(crate) fn encode_into(out: &mut Vec<u8>, seq: Seq, event_payload: &[u8]) {
    frame::start(out);
    out.extend_from_slice(&seq.0.to_be_bytes());
    out.extend_from_slice(event_payload);
    frame::seal(out);
}

/// Checks and decodes a latest-state value; errors name the table and key.
pub(crate) fn decode<'v>(key: &[u8], value: &'v [u8]) -> Result<(Seq, RowEvent<'v>)> {
    let location = || match keys::split_latest_key(key) {
        Some((table, pk)) => format!("latest state of table {table}, key {}", keys::describe(pk)),
        None => format!("latest state key {}", keys::describe(key)),
    };
    let payload = frame::decode(value).map_err(|e| Error::corrupt(location(), e))?;
    if payload.len() < 8 {
        return Err(Error::corrupt(location(), "value shorter than its seq"));
    }
    let (seq, event) = payload.split_at(8);
    let seq = Seq(u64::from_be_bytes(seq.try_into().expect("8 bytes")));
    let event = row::decode_event(event).map_err(|e| Error::corrupt(location(), e))?;
    Ok((seq, event))
}

fn split(table: TableId, key: &[u8]) -> Result<&[u8]> {
    match keys::split_latest_key(key) {
        Some((t, pk)) if t == table => Ok(pk),
        _ => Err(Error::corrupt(
            format!("latest state of table {table}, key {}", keys::describe(key)),
            "malformed latest-state key",
        )),
    }
}

/// Calls `f` with every row of `table` that exists as of `seq`, in primary-key order, starting at
/// family key `start`; `latest` is bounded to the wanted range. `open_versions` opens a cursor on
/// the table's versions, called only when a row changed after `seq` (a read of the current state
/// opens one iterator, not two).
pub(crate) fn as_of<'a>(
    latest: &mut Cursor<'_>,
    open_versions: impl Fn() -> Cursor<'a>,
    table: TableId,
    start: &[u8],
    seq: Seq,
    f: &mut dyn FnMut(&[u8], RowView<'_>) -> Result<Flow>,
) -> Result<()> {
    let mut versions: Option<Cursor<'a>> = None;
    latest.seek(start);
    while let Some((key, value)) = latest.item() {
        let pk = split(table, key)?;
        let (written, event) = decode(key, value)?;
        let flow = if written <= seq {
            match event {
                RowEvent::Put(row) => f(pk, row)?,
                RowEvent::Delete => Flow::Continue,
            }
        } else {
            // Changed after the snapshot: the version at `seq` is in the versions family.
            let versions = versions.get_or_insert_with(&open_versions);
            scan::get_as_of(versions, table, pk, seq, |event| match event {
                RowEvent::Put(row) => f(pk, row),
                RowEvent::Delete => Ok(Flow::Continue),
            })?
            .transpose()?
            .unwrap_or(Flow::Continue)
        };
        if flow == Flow::Stop {
            return Ok(());
        }
        latest.next();
    }
    latest.status()
}
