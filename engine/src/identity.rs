//! Identity columns (`GENERATED … AS IDENTITY`, `serial`): each hands out increasing values.
//!
//! Like PostgreSQL's sequences, these counters are not transactional: a value taken by a
//! transaction that rolls back is not handed out again while the server runs. A table created
//! since open starts its counters at 1, as PostgreSQL does (explicit values do not move them).
//! Counters are not stored: history makes that unnecessary. After a restart a counter continues
//! after the largest value the column ever held in any committed version (deleted rows
//! included), found by one scan of the table's history on first use.

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::ids::{Seq, TableId};
use crate::keys;
use crate::row::ValueRef;
use crate::scan::Flow;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Mutex;

/// The next value of every identity column used since open, by table and slot.
#[derive(Debug)]
pub(crate) struct IdentityCounters {
    next: Mutex<HashMap<(TableId, usize), i64>>,
    /// Table ids from this one on were created since open.
    first_new_table: u64,
}

impl IdentityCounters {
    pub(crate) fn new(first_new_table: u64) -> IdentityCounters {
        IdentityCounters {
            next: Mutex::new(HashMap::new()),
            first_new_table,
        }
    }
}

impl Engine {
    /// Takes `count` consecutive values of the identity column in `slot` of `table`; returns the
    /// first.
    pub fn next_identity_values(&self, table: TableId, slot: usize, count: u64) -> Result<i64> {
        let mut next = self
            .identities
            .next
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let counter = match next.entry((table, slot)) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                let highest = if table.0 >= self.identities.first_new_table {
                    None
                } else {
                    self.highest_value_ever(table, slot)?
                };
                entry.insert(highest.map_or(1, |h| h.saturating_add(1)))
            }
        };
        let first = *counter;
        *counter = i64::try_from(count)
            .ok()
            .and_then(|count| first.checked_add(count))
            .ok_or_else(|| {
                Error::InvalidInput("identity column reached its maximum value".into())
            })?;
        Ok(first)
    }

    /// The largest integer any committed version of any row ever held in `slot`.
    fn highest_value_ever(&self, table: TableId, slot: usize) -> Result<Option<i64>> {
        let mut highest = None;
        self.scan_versions(table, Seq(0)..=self.latest_seq(), |version| {
            let value = match version.row.values().nth(slot) {
                Some(value) => value.map_err(|e| {
                    let key = keys::version_key(table, version.pk, version.seq_from);
                    Error::corrupt(keys::describe(&key), e)
                })?,
                None => ValueRef::Null,
            };
            let value = match value {
                ValueRef::Int16(v) => Some(i64::from(v)),
                ValueRef::Int32(v) => Some(i64::from(v)),
                ValueRef::Int64(v) => Some(v),
                _ => None,
            };
            highest = highest.max(value);
            Ok(Flow::Continue)
        })?;
        Ok(highest)
    }
}
