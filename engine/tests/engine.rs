//! The engine's contract case by case: DDL visibility, key checks, version scans, TRUNCATE,
//! the commit log, transaction certification, and concurrent commits sharing syncs. (`model.rs` compares random histories
//! with a model at every seq.)

use driftdb_engine::keys::KeyEncoder;
use driftdb_engine::row::{RowEncoder, delete_event};
use driftdb_engine::{
    CatalogPoint, ColumnDef, ColumnType, Engine, EngineOptions, ErrorKind, Flow, KeyRange,
    RowWrite, Seq, TableDef, TableId, Transaction, ValueRef, WriteExpectation,
};
use std::collections::BTreeMap;

mod fixture;

use fixture::key_i32 as pk;

fn column(name: &str, ty: ColumnType) -> ColumnDef {
    ColumnDef::new(name, ty)
}

/// A write of the row `(id, data)` of an `events` table.
fn put(table: TableId, id: i32, data: &str, expect: WriteExpectation) -> RowWrite {
    fixture::put(
        table,
        pk(id),
        &[ValueRef::Int32(id), ValueRef::Text(data)],
        expect,
    )
}

fn delete(table: TableId, id: i32) -> RowWrite {
    fixture::delete(table, pk(id))
}

fn rows_as_of(engine: &Engine, table: TableId, seq: Seq) -> BTreeMap<i32, String> {
    let mut rows = BTreeMap::new();
    engine
        .scan_as_of(table, seq, |_, row| {
            let values: Vec<_> = row.values().collect::<Result<_, _>>().unwrap();
            let [ValueRef::Int32(id), ValueRef::Text(data)] = values[..] else {
                panic!("unexpected row {values:?}");
            };
            rows.insert(id, data.to_string());
            Ok(Flow::Continue)
        })
        .unwrap();
    rows
}

fn events_table(engine: &Engine) -> TableId {
    engine
        .create_table(
            "events",
            vec![
                column("id", ColumnType::Int32),
                column("data", ColumnType::Text),
            ],
            vec![0],
        )
        .unwrap()
        .id
}

#[test]
fn ddl_alone_does_not_advance_the_seq_and_is_visible_from_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
    let table = events_table(&engine);
    assert_eq!(engine.latest_seq(), Seq(0));
    assert!(
        engine
            .resolve_table("events", CatalogPoint::At(Seq(1)))
            .is_some()
    );
    engine
        .commit("u", &[put(table, 1, "original", WriteExpectation::Absent)])
        .unwrap();
    engine.drop_table("events").unwrap();
    assert_eq!(engine.latest_seq(), Seq(1));
    assert!(
        engine
            .resolve_table("events", CatalogPoint::Latest)
            .is_none()
    );
    assert!(
        engine
            .resolve_table("events", CatalogPoint::At(Seq(1)))
            .is_some()
    );
}

#[test]
fn inserting_a_live_key_fails_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
    let table = events_table(&engine);
    engine
        .commit("u", &[put(table, 1, "a", WriteExpectation::Absent)])
        .unwrap();
    let err = engine
        .commit(
            "u",
            &[
                put(table, 2, "b", WriteExpectation::Absent),
                put(table, 1, "c", WriteExpectation::Absent),
            ],
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DuplicateKey);
    let err = engine
        .commit(
            "u",
            &[
                put(table, 3, "b", WriteExpectation::Absent),
                put(table, 3, "c", WriteExpectation::Absent),
            ],
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DuplicateKey);
    assert_eq!(engine.latest_seq(), Seq(1));
    assert_eq!(rows_as_of(&engine, table, Seq(1)).len(), 1);
    engine.commit("u", &[delete(table, 1)]).unwrap();
    engine
        .commit("u", &[put(table, 1, "again", WriteExpectation::Absent)])
        .unwrap();
    assert_eq!(rows_as_of(&engine, table, Seq(3))[&1], "again");
}

#[test]
fn version_scans_report_when_each_version_began_and_ended() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
    let table = events_table(&engine);
    engine
        .commit("u", &[put(table, 1, "original", WriteExpectation::Absent)])
        .unwrap();
    engine
        .commit("u", &[put(table, 1, "modified", WriteExpectation::Any)])
        .unwrap();
    engine.commit("u", &[delete(table, 1)]).unwrap();
    let versions_at = |seq| {
        let mut out = Vec::new();
        engine
            .scan_versions(table, Seq::ZERO..=Seq(seq), |v| {
                out.push((v.seq_from.0, v.seq_to.map(|s| s.0)));
                Ok(Flow::Continue)
            })
            .unwrap();
        out
    };
    assert_eq!(versions_at(3), [(2, Some(3)), (1, Some(2))]);
    assert_eq!(
        versions_at(2),
        [(2, None), (1, Some(2))],
        "later commits are invisible"
    );
    assert_eq!(versions_at(0), []);
}

#[test]
fn future_seqs_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
    assert!(engine.check_seq(Seq(0)).is_ok());
    assert_eq!(
        engine.check_seq(Seq(1)).unwrap_err().kind(),
        ErrorKind::FutureSeq
    );
}

#[test]
fn truncate_deletes_every_row_in_one_commit_and_keeps_history() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
    let table = events_table(&engine);
    let rows: Vec<_> = (1..=5)
        .map(|id| put(table, id, "x", WriteExpectation::Absent))
        .collect();
    engine.commit("u", &rows).unwrap();
    assert_eq!(engine.truncate("u", &["events"]).unwrap(), Some(Seq(2)));
    assert!(rows_as_of(&engine, table, Seq(2)).is_empty());
    assert_eq!(rows_as_of(&engine, table, Seq(1)).len(), 5);
    assert_eq!(
        engine.truncate("u", &["events"]).unwrap(),
        None,
        "nothing left to delete"
    );
    assert_eq!(
        engine.truncate("u", &["nope"]).unwrap_err().kind(),
        ErrorKind::NoSuchTable
    );
}

#[test]
fn the_commit_log_records_time_user_and_rows_of_each_seq() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
    let table = events_table(&engine);
    engine
        .commit("alice", &[put(table, 1, "a", WriteExpectation::Absent)])
        .unwrap();
    engine
        .commit(
            "bob",
            &[
                put(table, 2, "b", WriteExpectation::Absent),
                put(table, 3, "c", WriteExpectation::Absent),
            ],
        )
        .unwrap();
    let mut log = Vec::new();
    engine
        .scan_commits(Seq(0)..=Seq(99), |c| {
            log.push((c.seq.0, c.user, c.rows, c.time_micros));
            Flow::Continue
        })
        .unwrap();
    assert_eq!(
        log.iter()
            .map(|c| (c.0, c.1.as_str(), c.2))
            .collect::<Vec<_>>(),
        [(1, "alice", 1), (2, "bob", 2)]
    );
    assert!(log[0].3 < log[1].3);
    assert_eq!(engine.seq_at_time(log[1].3).unwrap(), Seq(2));
    assert_eq!(engine.seq_at_time(log[1].3 - 1).unwrap(), Seq(1));
    assert_eq!(engine.seq_at_time(log[0].3 - 1).unwrap(), Seq(0));
}

#[test]
fn concurrent_committers_get_gap_free_seqs_and_every_commit_is_visible() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
    let table = events_table(&engine);
    let seqs = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for thread in 0..8 {
            let (engine, seqs) = (&engine, &seqs);
            scope.spawn(move || {
                for n in 0..25 {
                    let id = thread * 100 + n;
                    let write = put(table, id, "x", WriteExpectation::Absent);
                    let seq = engine.commit("u", &[write]).unwrap().unwrap();
                    assert!(engine.latest_seq() >= seq, "acknowledged means visible");
                    seqs.lock().unwrap().push(seq.0);
                }
            });
        }
    });
    let mut seqs = seqs.into_inner().unwrap();
    seqs.sort();
    assert_eq!(seqs, (1..=200).collect::<Vec<_>>());
    assert_eq!(rows_as_of(&engine, table, Seq(200)).len(), 200);
}

/// A transaction at `snapshot` writing `writes` (planned against the current catalog).
fn transaction(engine: &Engine, snapshot: Seq, writes: Vec<RowWrite>) -> Transaction {
    Transaction {
        snapshot,
        catalog_version: engine.catalog_version(),
        writes,
        ..Transaction::default()
    }
}

#[test]
fn the_first_of_two_concurrent_updates_wins_and_the_second_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
    let table = events_table(&engine);
    engine
        .commit("u", &[put(table, 1, "original", WriteExpectation::Absent)])
        .unwrap();
    let read_at = Seq(1);
    let first = transaction(
        &engine,
        read_at,
        vec![put(table, 1, "first", WriteExpectation::Unchanged(read_at))],
    );
    let second = transaction(
        &engine,
        read_at,
        vec![put(
            table,
            1,
            "second",
            WriteExpectation::Unchanged(read_at),
        )],
    );
    assert_eq!(
        engine.commit_transaction("a", &first).unwrap(),
        Some(Seq(2))
    );
    let lost = engine.commit_transaction("b", &second).unwrap_err();
    assert_eq!(lost.kind(), ErrorKind::Conflict, "{lost}");
    assert_eq!(engine.latest_seq(), Seq(2));
    assert_eq!(rows_as_of(&engine, table, Seq(2))[&1], "first");
    // Read again after the winner, the update goes through.
    let retried = transaction(
        &engine,
        Seq(2),
        vec![put(table, 1, "second", WriteExpectation::Unchanged(Seq(2)))],
    );
    assert_eq!(
        engine.commit_transaction("b", &retried).unwrap(),
        Some(Seq(3))
    );
}

#[test]
fn of_two_racing_inserts_of_one_key_only_the_first_commits() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
    let table = events_table(&engine);
    let first = transaction(
        &engine,
        Seq(0),
        vec![put(table, 7, "a", WriteExpectation::Absent)],
    );
    let second = transaction(
        &engine,
        Seq(0),
        vec![put(table, 7, "b", WriteExpectation::Absent)],
    );
    engine.commit_transaction("a", &first).unwrap();
    let duplicate = engine.commit_transaction("b", &second).unwrap_err();
    assert_eq!(duplicate.kind(), ErrorKind::DuplicateKey, "{duplicate}");
    assert_eq!(rows_as_of(&engine, table, engine.latest_seq())[&7], "a");
}

#[test]
fn a_transaction_whose_reads_changed_since_its_snapshot_does_not_commit() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
    let table = events_table(&engine);
    engine
        .commit(
            "u",
            &[
                put(table, 1, "on call", WriteExpectation::Absent),
                put(table, 2, "on call", WriteExpectation::Absent),
            ],
        )
        .unwrap();
    // Write skew: each reads both rows and takes one of them off call.
    let snapshot = Seq(1);
    let mut first = transaction(
        &engine,
        snapshot,
        vec![put(table, 1, "off", WriteExpectation::Unchanged(snapshot))],
    );
    first.reads.push((table, KeyRange::all()));
    let mut second = transaction(
        &engine,
        snapshot,
        vec![put(table, 2, "off", WriteExpectation::Unchanged(snapshot))],
    );
    second.reads.push((table, KeyRange::all()));
    engine.commit_transaction("a", &first).unwrap();
    let skew = engine.commit_transaction("b", &second).unwrap_err();
    assert_eq!(skew.kind(), ErrorKind::Conflict, "{skew}");
    assert_eq!(
        rows_as_of(&engine, table, engine.latest_seq())[&2],
        "on call"
    );

    // A read of a range nobody wrote since certifies.
    let mut key = KeyEncoder::new();
    key.push_i32(2);
    let untouched = KeyRange::prefix(key.as_bytes().to_vec());
    let mut third = transaction(
        &engine,
        snapshot,
        vec![put(table, 3, "new", WriteExpectation::Absent)],
    );
    third.reads.push((table, untouched));
    assert_eq!(
        engine.commit_transaction("c", &third).unwrap(),
        Some(Seq(3))
    );
}

#[test]
fn a_table_created_with_its_rows_is_visible_from_that_commit_on() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
    let other = events_table(&engine);
    engine
        .commit("u", &[put(other, 1, "x", WriteExpectation::Absent)])
        .unwrap();
    let id = engine.reserve_table_id();
    let def = TableDef {
        id,
        name: "fresh".into(),
        columns: vec![
            column("id", ColumnType::Int32),
            column("data", ColumnType::Text),
        ],
        primary_key: vec![0],
        indexes: Vec::new(),
        checks: Vec::new(),
        foreign_keys: Vec::new(),
        view: None,
    };
    let mut txn = transaction(
        &engine,
        Seq(1),
        vec![put(id, 1, "born with the table", WriteExpectation::Absent)],
    );
    txn.tables.insert(id, Some(def.clone()));
    assert_eq!(engine.commit_transaction("u", &txn).unwrap(), Some(Seq(2)));
    assert_eq!(
        engine
            .resolve_table("fresh", CatalogPoint::At(Seq(2)))
            .unwrap()
            .id,
        id
    );
    assert_eq!(rows_as_of(&engine, id, Seq(2))[&1], "born with the table");
    assert!(rows_as_of(&engine, id, Seq(1)).is_empty());

    // A second table of that name, planned before the first committed, does not commit.
    let mut clash = transaction(&engine, Seq(1), Vec::new());
    let clash_id = engine.reserve_table_id();
    clash.tables.insert(
        clash_id,
        Some(TableDef {
            id: clash_id,
            ..def.clone()
        }),
    );
    let exists = engine.commit_transaction("u", &clash).unwrap_err();
    assert_eq!(exists.kind(), ErrorKind::TableExists, "{exists}");
}

#[test]
fn a_transaction_planned_before_its_table_was_redefined_does_not_commit() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
    let table = events_table(&engine);
    let planned = transaction(
        &engine,
        Seq(0),
        vec![put(table, 1, "a", WriteExpectation::Absent)],
    );
    let mut renamed = (*engine
        .resolve_table("events", CatalogPoint::Latest)
        .unwrap())
    .clone();
    renamed.name = "renamed".into();
    engine.alter_table(renamed).unwrap();
    let stale = engine.commit_transaction("u", &planned).unwrap_err();
    assert_eq!(stale.kind(), ErrorKind::Conflict, "{stale}");
    assert_eq!(engine.latest_seq(), Seq(0));
    let replanned = transaction(&engine, Seq(0), planned.writes.clone());
    assert_eq!(
        engine.commit_transaction("u", &replanned).unwrap(),
        Some(Seq(1))
    );
}

#[test]
fn identity_counters_start_at_one_and_continue_after_the_largest_value_ever_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let table = {
        let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
        let table = events_table(&engine);
        // A table created since open counts from 1, whatever rows hold.
        engine
            .commit("u", &[put(table, 40, "explicit", WriteExpectation::Absent)])
            .unwrap();
        assert_eq!(engine.next_identity_values(table, 0, 3).unwrap(), 1);
        assert_eq!(engine.next_identity_values(table, 0, 1).unwrap(), 4);
        engine
            .commit(
                "u",
                &[put(table, 41, "later deleted", WriteExpectation::Absent)],
            )
            .unwrap();
        engine.commit("u", &[delete(table, 41)]).unwrap();
        table
    };
    // After a restart: past the largest id any version ever held, the deleted row's included.
    let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
    assert_eq!(engine.next_identity_values(table, 0, 2).unwrap(), 42);
    assert_eq!(engine.next_identity_values(table, 0, 1).unwrap(), 44);
}

#[test]
fn unique_indexes_refuse_a_second_live_holder_of_a_value_even_within_one_commit() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
    let table = events_table(&engine);
    engine
        .create_index("events", "events_data_key", vec![1], true)
        .unwrap();
    let any = WriteExpectation::Any;
    engine
        .commit("u", &[put(table, 1, "a", any), put(table, 2, "b", any)])
        .unwrap();
    let duplicate = |result: driftdb_engine::Result<Option<Seq>>| {
        assert_eq!(result.unwrap_err().kind(), ErrorKind::DuplicateKey);
    };
    duplicate(engine.commit("u", &[put(table, 3, "a", any)]));
    duplicate(engine.commit("u", &[put(table, 3, "c", any), put(table, 4, "c", any)]));
    // Swapping values, or freeing one and taking it, in one commit is fine.
    engine
        .commit("u", &[put(table, 1, "b", any), put(table, 2, "a", any)])
        .unwrap();
    engine
        .commit("u", &[delete(table, 1), put(table, 5, "b", any)])
        .unwrap();
    // A row keeps its own value when it changes nothing else.
    engine.commit("u", &[put(table, 5, "b", any)]).unwrap();
    let latest = engine.latest_seq();
    let rows = rows_as_of(&engine, table, latest);
    assert_eq!(
        rows.into_iter().collect::<Vec<_>>(),
        [(2, "a".to_string()), (5, "b".to_string())]
    );
    // A unique index over values that repeat cannot be created.
    engine.commit("u", &[put(table, 6, "a ", any)]).unwrap();
    engine
        .create_index("events", "events_data_idx", vec![1], false)
        .unwrap();
    engine.commit("u", &[put(table, 7, "b", any)]).unwrap_err();
    let before = engine.latest_seq();
    engine.drop_index("events_data_key").unwrap();
    engine.commit("u", &[put(table, 7, "b", any)]).unwrap();
    let err = engine
        .create_index("events", "events_data_key2", vec![1], true)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DuplicateKey);
    assert!(engine.latest_seq() > before);
}

/// A row of a table keyed by a hidden row id (slot 0) with columns `id` and `data`, keyed by
/// the row id (`by_id` false) or by `id`.
fn keyless_put(row_id: i64, id: i32, data: &str, by_id: bool, table: TableId) -> RowWrite {
    let mut enc = RowEncoder::new();
    enc.begin_put();
    enc.push_i64(row_id);
    enc.push_i32(id);
    enc.push_text(data);
    let mut key = KeyEncoder::new();
    match by_id {
        true => key.push_i32(id),
        false => key.push_i64(row_id),
    }
    RowWrite {
        table,
        pk: key.as_bytes().to_vec(),
        event: enc.finish().to_vec(),
        expect: WriteExpectation::Any,
    }
}

fn keys_as_of(engine: &Engine, table: TableId, seq: Seq) -> Vec<Vec<u8>> {
    let mut keys = Vec::new();
    engine
        .scan_as_of(table, seq, |pk, _| {
            keys.push(pk.to_vec());
            Ok(Flow::Continue)
        })
        .unwrap();
    keys
}

#[test]
fn a_table_keyed_by_a_hidden_row_id_takes_a_primary_key_only_with_every_row_moved() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
    let row_id = ColumnDef {
        hidden: true,
        nullable: false,
        ..column("ctid", ColumnType::Int64)
    };
    let columns = vec![
        row_id,
        column("id", ColumnType::Int32),
        column("data", ColumnType::Text),
    ];
    let old = engine.create_table("keyless", columns, vec![0]).unwrap();
    let table = old.id;
    let rows = [(1, 20, "b"), (2, 10, "a")];
    let writes: Vec<RowWrite> = rows
        .iter()
        .map(|&(r, id, data)| keyless_put(r, id, data, false, table))
        .collect();
    engine.commit("u", &writes).unwrap();

    let mut keyed = (*old).clone();
    keyed.columns[0].dropped = true;
    keyed.primary_key = vec![1];
    let rekey = |writes: Vec<RowWrite>| {
        let mut txn = transaction(&engine, Seq(1), writes);
        txn.tables.insert(table, Some(keyed.clone()));
        engine.commit_transaction("u", &txn)
    };
    // One row left under its row id: refused.
    let partial = rekey(vec![
        keyless_put(1, 20, "b", true, table),
        RowWrite {
            event: delete_event(),
            ..keyless_put(1, 20, "b", false, table)
        },
    ])
    .unwrap_err();
    assert_eq!(partial.kind(), ErrorKind::InvalidInput, "{partial}");

    let mut moved = Vec::new();
    for &(r, id, data) in &rows {
        moved.push(keyless_put(r, id, data, true, table));
        moved.push(RowWrite {
            event: delete_event(),
            ..keyless_put(r, id, data, false, table)
        });
    }
    assert_eq!(rekey(moved).unwrap(), Some(Seq(2)));
    let by_row_id: Vec<Vec<u8>> = rows
        .iter()
        .map(|&(r, id, data)| keyless_put(r, id, data, false, table).pk)
        .collect();
    assert_eq!(keys_as_of(&engine, table, Seq(1)), by_row_id);
    assert_eq!(keys_as_of(&engine, table, Seq(2)), vec![pk(10), pk(20)]);

    // A key of visible columns stays what it is.
    let mut rekeyed_again = keyed.clone();
    rekeyed_again.primary_key = vec![2];
    let mut txn = transaction(&engine, Seq(2), Vec::new());
    txn.tables.insert(table, Some(rekeyed_again));
    let refused = engine.commit_transaction("u", &txn).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::InvalidInput, "{refused}");
}
