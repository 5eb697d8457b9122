//! `ALTER TABLE … ADD PRIMARY KEY` on a table that has none: its rows move from the hidden row
//! id that keyed them to the declared key, in the ALTER's own commit.
//!
//! Rows are stored under their primary key, so declaring one means writing every row again:
//! a delete under its row id and a put under its new key (one put where the two keys happen
//! to be the same bytes). The old versions stay where they were, so a read as of any earlier
//! point sees the table exactly as it was, with the old definition; a version query sees each
//! row's version before the ALTER end at its commit and the same values begin there again.
//! The row id column is kept as a dropped slot, like any dropped column, so older events still
//! decode.

use crate::exec::Executor;
use crate::storage::write::{RowsEncoder, WriteSet};
use driftdb_engine::TableDef;
use driftdb_pgtypes::error::{Error, ErrorKind, Result};
use driftdb_pgtypes::idents::quoted;
use std::collections::HashSet;

/// Keys `def`'s rows (as this transaction sees them) by the columns in `key_slots`, checking
/// that they hold no NULL and no value twice, and stages the new definition with the rows.
pub(crate) async fn add_primary_key(
    exec: &Executor,
    def: &mut TableDef,
    key_slots: Vec<usize>,
) -> Result<()> {
    let scope = exec.scope();
    let old = def.clone();
    let mut columns: Vec<String> = old
        .primary_key
        .iter()
        .map(|&slot| quoted(&old.columns[slot].name))
        .collect();
    columns.extend(
        old.visible_slots()
            .map(|slot| quoted(&old.columns[slot].name)),
    );
    let query = format!("SELECT {} FROM {}", columns.join(", "), quoted(&old.name));
    let exposed = scope.expose_hidden(old.id);
    let batches = exec.collect_sql(&query).await;
    drop(exposed);
    let batches = batches?;

    let visible: Vec<usize> = old.visible_slots().collect();
    let old_key_count = old.primary_key.len();
    for &slot in &key_slots {
        let position = visible
            .iter()
            .position(|&s| s == slot)
            .expect("key columns are visible");
        if batches
            .iter()
            .any(|batch| batch.column(old_key_count + position).null_count() > 0)
        {
            return Err(Error::new(
                ErrorKind::NotNullViolation,
                format!(
                    "column \"{}\" of relation \"{}\" contains null values",
                    old.columns[slot].name, old.name
                ),
            ));
        }
        def.columns[slot].nullable = false;
    }
    for &slot in &old.primary_key {
        def.columns[slot].dropped = true;
        def.columns[slot].identity = None;
    }
    def.primary_key = key_slots;

    let mut old_encoder = RowsEncoder::new(&old);
    let mut new_encoder = RowsEncoder::new(def);
    let (mut old_keys, mut new_rows) = (Vec::new(), Vec::new());
    for batch in &batches {
        old_encoder.encode_keys(&batch.columns()[..old_key_count], &mut old_keys)?;
        let coerced = new_encoder.coerce(&batch.columns()[old_key_count..])?;
        new_encoder.encode_coerced(&coerced, &[], &mut new_rows)?;
    }
    let vacated = {
        let mut new_keys = HashSet::with_capacity(new_rows.len());
        for (key, _) in &new_rows {
            if !new_keys.insert(key.as_slice()) {
                return Err(Error::new(
                    ErrorKind::UniqueViolation,
                    format!(
                        "could not create unique index \"{}\"",
                        def.primary_key_name()
                    ),
                ));
            }
        }
        old_keys
            .iter()
            .filter(|key| !new_keys.contains(key.as_slice()))
            .cloned()
            .collect::<Vec<_>>()
    };
    let old_keys: HashSet<Vec<u8>> = old_keys.into_iter().collect();

    scope.with_transaction(|txn| {
        txn.redefine(def.id, Some(def.clone()));
        // A row another transaction writes meanwhile would stay under its row id.
        txn.require_unchanged(def.id);
    })?;
    let mut set = WriteSet::without_row_locks(def);
    for key in vacated {
        set.delete(key);
    }
    for (key, event) in new_rows {
        if old_keys.contains(&key) {
            set.replace(key, event)?;
        } else {
            set.insert(key, event)?;
        }
    }
    set.stage(scope).await
}
