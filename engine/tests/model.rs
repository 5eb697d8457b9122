//! Property test: random sequences of inserts, updates, deletes, TRUNCATE and DDL (tables,
//! columns, indexes) run against the engine and against a plain in-memory model; every table is
//! compared at every seq — full scans, point gets, key ranges, index lookups, version scans and the
//! catalog — after reopening, through both read paths (latest-state and versions).

use driftdb_engine::keys::KeyEncoder;
use driftdb_engine::row::delete_event;
use driftdb_engine::{
    CatalogPoint, ColumnDef, ColumnType, Engine, EngineOptions, Flow, IndexDef, KeyRange, RowView,
    RowWrite, Seq, TableId, ValueRef, WriteExpectation, index,
};
use std::collections::{BTreeMap, HashSet};
use std::ops::Bound;

/// A row's non-key values: `grp` (indexable, nullable) and `data`.
type Row = (Option<i32>, String);
type Rows = BTreeMap<i32, Row>;

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

#[derive(Clone, Debug, PartialEq)]
struct ModelTable {
    name: String,
    columns: usize,
    index: Option<IndexDef>,
}

/// The model: every table's rows and the catalog, as of every seq.
#[derive(Default)]
struct Model {
    /// Index `s`: every table's rows right after commit `s` (tables created later are absent).
    rows: Vec<BTreeMap<TableId, Rows>>,
    /// Index `s`: the tables that exist as of seq `s`.
    catalog: Vec<BTreeMap<TableId, ModelTable>>,
    /// The catalog now, including DDL not yet covered by a commit.
    live: BTreeMap<TableId, ModelTable>,
    current: BTreeMap<TableId, Rows>,
}

mod fixture;

use fixture::key_i32 as pk;

fn grp_key(grp: Option<i32>) -> Vec<u8> {
    let mut enc = KeyEncoder::new();
    index::push_value(&mut enc, grp.map_or(ValueRef::Null, ValueRef::Int32));
    enc.as_bytes().to_vec()
}

fn put(table: TableId, id: i32, row: &Row, expect: WriteExpectation) -> RowWrite {
    let grp = row.0.map_or(ValueRef::Null, ValueRef::Int32);
    let values = [ValueRef::Int32(id), grp, ValueRef::Text(&row.1)];
    fixture::put(table, pk(id), &values, expect)
}

fn decode(row: RowView<'_>) -> (i32, Row) {
    let values: Vec<_> = row.values().collect::<Result<_, _>>().unwrap();
    match values[..] {
        [ValueRef::Int32(id), grp, ValueRef::Text(data)] => {
            let grp = match grp {
                ValueRef::Int32(g) => Some(g),
                ValueRef::Null => None,
                other => panic!("unexpected grp {other:?}"),
            };
            (id, (grp, data.to_string()))
        }
        _ => panic!("unexpected row {values:?}"),
    }
}

fn column(name: String, ty: ColumnType) -> ColumnDef {
    ColumnDef::new(name, ty)
}

impl Model {
    fn record_commit(&mut self) {
        self.rows.push(self.current.clone());
        self.catalog.push(self.live.clone());
    }

    fn step(&mut self, engine: &Engine, rng: &mut Lcg, step: usize) {
        let live: Vec<TableId> = self.live.keys().copied().collect();
        let roll = rng.below(100);
        if live.is_empty() || (roll >= 95 && live.len() < 4) {
            let name = format!("t{}", rng.below(6));
            if self.live.values().any(|t| t.name == name) {
                return;
            }
            let columns = vec![
                column("id".into(), ColumnType::Int32),
                column("grp".into(), ColumnType::Int32),
                column("data".into(), ColumnType::Text),
            ];
            let def = engine.create_table(&name, columns, vec![0]).unwrap();
            let table = ModelTable {
                name,
                columns: 3,
                index: None,
            };
            self.live.insert(def.id, table);
            self.current.insert(def.id, Rows::new());
            return;
        }
        let table = live[rng.below(live.len() as u64) as usize];
        let name = self.live[&table].name.clone();
        match roll {
            0..5 => {
                let mut def = (*engine.resolve_table(&name, CatalogPoint::Latest).unwrap()).clone();
                def.columns
                    .push(column(format!("extra{step}"), ColumnType::Int64));
                engine.alter_table(def).unwrap();
                self.live.get_mut(&table).unwrap().columns += 1;
            }
            5..10 => {
                let model_table = self.live.get_mut(&table).unwrap();
                match model_table.index.take() {
                    Some(index) => engine.drop_index(&index.name).unwrap(),
                    None => {
                        let index = engine
                            .create_index(&name, &format!("{name}_grp_{step}"), vec![1], false)
                            .unwrap();
                        model_table.index = Some(index);
                    }
                }
            }
            10..13 if live.len() > 1 => {
                engine.drop_table(&name).unwrap();
                self.live.remove(&table);
            }
            13..18 => {
                let seq = engine.truncate("tester", &[&name]).unwrap();
                let rows = self.current.get_mut(&table).unwrap();
                assert_eq!(
                    seq.is_some(),
                    !rows.is_empty(),
                    "truncate takes a seq iff rows"
                );
                rows.clear();
                if seq.is_some() {
                    self.record_commit();
                }
            }
            _ => self.write_rows(engine, rng, step, &live),
        }
    }

    fn write_rows(&mut self, engine: &Engine, rng: &mut Lcg, step: usize, live: &[TableId]) {
        let mut writes = Vec::new();
        let mut touched = HashSet::new();
        for _ in 0..=rng.below(5) {
            let table = live[rng.below(live.len() as u64) as usize];
            let id = rng.below(30) as i32 - 10;
            if !touched.insert((table, id)) {
                continue;
            }
            let rows = self.current.get_mut(&table).unwrap();
            if rng.below(3) == 0 && rows.contains_key(&id) {
                rows.remove(&id);
                writes.push(RowWrite {
                    table,
                    pk: pk(id),
                    event: delete_event(),
                    expect: WriteExpectation::Any,
                });
            } else {
                let grp = (rng.below(5) > 0).then(|| rng.below(4) as i32 - 1);
                let row = (grp, format!("s{step}"));
                let expect = match rows.contains_key(&id) {
                    true => WriteExpectation::Any,
                    false => WriteExpectation::Absent,
                };
                writes.push(put(table, id, &row, expect));
                rows.insert(id, row);
            }
        }
        let seq = engine.commit("tester", &writes).unwrap().unwrap();
        assert_eq!(seq, Seq(self.rows.len() as u64));
        self.record_commit();
    }

    /// Every version of every row of `table`: `(id, seq_from, seq_to, row)`.
    fn versions(&self, table: TableId) -> Vec<(i32, u64, Option<u64>, Row)> {
        let mut out = Vec::new();
        let mut open: BTreeMap<i32, (u64, Row)> = BTreeMap::new();
        let empty = Rows::new();
        for (seq, state) in self.rows.iter().enumerate() {
            let rows = state.get(&table).unwrap_or(&empty);
            let ended: Vec<i32> = open
                .iter()
                .filter(|(id, (_, row))| rows.get(id) != Some(row))
                .map(|(id, _)| *id)
                .collect();
            for id in ended {
                let (from, row) = open.remove(&id).unwrap();
                out.push((id, from, Some(seq as u64), row));
            }
            for (id, row) in rows {
                open.entry(*id).or_insert_with(|| (seq as u64, row.clone()));
            }
        }
        out.extend(
            open.into_iter()
                .map(|(id, (from, row))| (id, from, None, row)),
        );
        out.sort_by_key(|v| (v.0, std::cmp::Reverse(v.1)));
        out
    }
}

fn scan(engine: &Engine, table: TableId, range: &KeyRange, seq: Seq) -> Rows {
    let mut rows = Rows::new();
    engine
        .scan_range(table, range, seq, |_, row| {
            let (id, row) = decode(row);
            assert!(rows.insert(id, row).is_none(), "row {id} returned twice");
            Ok(Flow::Continue)
        })
        .unwrap();
    rows
}

fn check_seq(engine: &Engine, model: &Model, seq: usize, rng: &mut Lcg) {
    let at = Seq(seq as u64);
    let catalog = &model.catalog[seq];
    let mut names: Vec<String> = catalog.values().map(|t| t.name.clone()).collect();
    names.sort();
    assert_eq!(
        engine.table_names(CatalogPoint::At(at)),
        names,
        "tables at {seq}"
    );
    for (table, expected) in &model.rows[seq] {
        let context = format!("table {table} as of seq {seq}");
        assert_eq!(
            &scan(engine, *table, &KeyRange::all(), at),
            expected,
            "{context}"
        );
        for id in -11..21 {
            let got = engine
                .get_as_of(*table, &pk(id), at, |row| decode(row).1)
                .unwrap();
            assert_eq!(got.as_ref(), expected.get(&id), "{context}, get {id}");
        }
        let (a, b) = (rng.below(32) as i32 - 11, rng.below(32) as i32 - 11);
        let range = KeyRange {
            lower: Bound::Excluded(pk(a)),
            upper: Bound::Included(pk(b)),
        };
        let in_range: Rows = expected
            .range(a..)
            .filter(|(id, _)| **id > a && **id <= b)
            .map(|(id, row)| (*id, row.clone()))
            .collect();
        assert_eq!(
            scan(engine, *table, &range, at),
            in_range,
            "{context}, ({a}, {b}]"
        );

        let Some(model_table) = catalog.get(table) else {
            continue;
        };
        assert_eq!(
            engine
                .resolve_table(&model_table.name, CatalogPoint::At(at))
                .unwrap()
                .columns
                .len(),
            model_table.columns,
            "{context}: columns"
        );
        let Some(index) = &model_table.index else {
            continue;
        };
        let def = engine
            .resolve_table(&model_table.name, CatalogPoint::At(at))
            .unwrap();
        let lookups = [
            (KeyRange::all(), None),
            (KeyRange::prefix(grp_key(Some(1))), Some((Some(1), Some(1)))),
            (KeyRange::prefix(grp_key(None)), Some((None, None))),
            (
                KeyRange {
                    lower: Bound::Excluded(grp_key(Some(-1))),
                    upper: Bound::Excluded(grp_key(Some(2))),
                },
                Some((Some(0), Some(1))),
            ),
        ];
        for (range, wanted) in lookups {
            let mut got = Vec::new();
            engine
                .scan_index(&def, index, &range, at, |_, row| {
                    got.push(decode(row));
                    Ok(Flow::Continue)
                })
                .unwrap();
            // PostgreSQL's ascending order: NULL last, then the primary key.
            let order = |(id, (grp, _)): &(i32, Row)| (grp.is_none(), *grp, *id);
            let mut expected: Vec<(i32, Row)> = expected
                .iter()
                .filter(|(_, (grp, _))| match wanted {
                    None => true,
                    Some((None, _)) => grp.is_none(),
                    Some((lo, hi)) => grp.is_some() && *grp >= lo && *grp <= hi,
                })
                .map(|(id, row)| (*id, row.clone()))
                .collect();
            expected.sort_by_key(order);
            assert_eq!(got, expected, "{context}, index lookup {range:?}");
        }
    }
}

fn check_versions(engine: &Engine, model: &Model, rng: &mut Lcg) {
    let latest = model.rows.len() as u64 - 1;
    for table in model.rows.last().unwrap().keys() {
        let all = model.versions(*table);
        for _ in 0..8 {
            let lo = rng.below(latest + 1);
            let hi = lo + rng.below(latest + 1 - lo);
            let mut got = Vec::new();
            engine
                .scan_versions(*table, Seq(lo)..=Seq(hi), |v| {
                    let (id, row) = decode(v.row);
                    got.push((id, v.seq_from.0, v.seq_to.map(|s| s.0), row));
                    Ok(Flow::Continue)
                })
                .unwrap();
            // As of `hi`, a version ended by a later commit is still current.
            let expected: Vec<_> = all
                .iter()
                .filter(|(_, from, to, _)| *from <= hi && to.is_none_or(|to| to > lo))
                .map(|(id, from, to, row)| (*id, *from, to.filter(|to| *to <= hi), row.clone()))
                .collect();
            assert_eq!(got, expected, "versions of table {table} in [{lo}, {hi}]");
        }
    }
}

#[test]
fn every_seq_of_random_histories_reads_like_the_model_through_both_read_paths() {
    for seed in [7, 1234, 99_999] {
        let dir = tempfile::tempdir().unwrap();
        let mut model = Model::default();
        model.record_commit();
        {
            let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
            let mut rng = Lcg(seed);
            for step in 0..300 {
                model.step(&engine, &mut rng, step);
            }
        }
        let latest = model.rows.len() - 1;
        for window in [0, 16, u64::MAX] {
            let options = EngineOptions {
                latest_state_window: window,
                ..EngineOptions::default()
            };
            let engine = Engine::open(dir.path(), options).unwrap();
            assert_eq!(engine.latest_seq(), Seq(latest as u64), "seed {seed}");
            let mut rng = Lcg(seed ^ window);
            for seq in 0..=latest {
                check_seq(&engine, &model, seq, &mut rng);
            }
            check_versions(&engine, &model, &mut rng);
        }
        let report = driftdb_engine::verify::verify(dir.path()).unwrap();
        assert!(report.is_clean(), "{:?}", report.problems);
    }
}
