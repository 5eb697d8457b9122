//! The engine keeps every version: reads at every seq match a simple in-memory model, before and
//! after reopening the data directory.

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

/// A tiny deterministic generator, so a failure replays exactly.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[test]
fn every_seq_reads_exactly_the_state_after_that_commit_even_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut model: Vec<BTreeMap<i32, String>> = vec![BTreeMap::new()];
    let table;
    {
        let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
        table = events_table(&engine);
        let mut rng = Lcg(7);
        for step in 0..200 {
            let mut state = model.last().unwrap().clone();
            let mut writes = Vec::new();
            let mut touched = std::collections::HashSet::new();
            for _ in 0..=rng.below(4) {
                let id = rng.below(30) as i32 - 10;
                if !touched.insert(id) {
                    continue;
                }
                if rng.below(3) == 0 && state.contains_key(&id) {
                    state.remove(&id);
                    writes.push(delete(table, id));
                } else {
                    let data = format!("v{step}-{id}");
                    let expect = if state.contains_key(&id) {
                        WriteExpectation::Any
                    } else {
                        WriteExpectation::Absent
                    };
                    state.insert(id, data.clone());
                    writes.push(put(table, id, &data, expect));
                }
            }
            let seq = engine.commit("tester", &writes).unwrap().unwrap();
            assert_eq!(seq, Seq(model.len() as u64));
            model.push(state);
        }
    }
    let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
    assert_eq!(engine.latest_seq(), Seq(200));
    for (seq, expected) in model.iter().enumerate() {
        assert_eq!(
            &rows_as_of(&engine, table, Seq(seq as u64)),
            expected,
            "as of seq {seq}"
        );
    }
    let times: Vec<i64> = (1..=200)
        .map(|s| engine.commit_time(Seq(s)).unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] < w[1]),
        "commit times strictly increase"
    );
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
