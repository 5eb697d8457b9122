//! Whether a primary key or a unique value is taken, as a writing transaction sees it: its own
//! rows first, then the latest committed ones.

use crate::common::engine_error::engine_error;
use crate::storage::scope::SessionScope;
use crate::storage::transaction::PendingRows;
use driftdb_engine::keys::KeyEncoder;
use driftdb_engine::row::{self, RowEvent};
use driftdb_engine::{Flow, IndexDef, KeyRange, TableDef, TableId, ValueRef, frame, index};
use driftdb_pgtypes::error::Result;

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
