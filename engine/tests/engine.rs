//! The engine's contract case by case: DDL visibility, key checks, version scans, TRUNCATE,
//! the commit log, and concurrent commits sharing syncs. (`model.rs` compares random histories
//! with a model at every seq.)

use driftdb_engine::keys::KeyEncoder;
use driftdb_engine::row::{RowEncoder, delete_event};
use driftdb_engine::{
    CatalogPoint, ColumnDef, ColumnType, Engine, EngineOptions, ErrorKind, Flow, RowWrite, Seq,
    TableId, ValueRef, WriteExpectation,
};
use std::collections::BTreeMap;

fn column(name: &str, ty: ColumnType) -> ColumnDef {
    ColumnDef {
        name: name.into(),
        ty,
        nullable: true,
        dropped: false,
    }
}

fn pk(id: i32) -> Vec<u8> {
    let mut enc = KeyEncoder::new();
    enc.push_i32(id);
    enc.as_bytes().to_vec()
}

fn put(table: TableId, id: i32, data: &str, expect: WriteExpectation) -> RowWrite {
    let mut enc = RowEncoder::new();
    enc.begin_put();
    enc.push_i32(id);
    enc.push_text(data);
    RowWrite {
        table,
        pk: pk(id),
        event: enc.finish().to_vec(),
        expect,
    }
}

fn delete(table: TableId, id: i32) -> RowWrite {
    RowWrite {
        table,
        pk: pk(id),
        event: delete_event(),
        expect: WriteExpectation::Any,
    }
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
