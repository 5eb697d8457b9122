//! Measures the event store (not a test: it reports, it asserts nothing).
//!
//! `store_bench DIR` fills a fresh database under DIR and prints:
//! - commits/s with the WAL synced, from 1 writer and from 8 and 32 concurrent writers (group
//!   commit);
//! - current-state scan rows/s of 100k rows with 1 and with 50 versions per row, through the
//!   latest-state family and, for comparison, by skipping versions;
//! - as-of scan rows/s in the middle of the 50-version history;
//! - bytes on disk per row version.
//!
//! Run it through `make bench-store`.

use driftdb_engine::keys::KeyEncoder;
use driftdb_engine::row::RowEncoder;
use driftdb_engine::{
    ColumnDef, ColumnType, Engine, EngineOptions, Flow, RowWrite, Seq, TableId, WriteExpectation,
};
use std::path::Path;
use std::time::{Duration, Instant};

const ROWS: i64 = 100_000;
const VERSIONS: i64 = 50;

fn write(table: TableId, id: i64, version: i64, expect: WriteExpectation) -> RowWrite {
    let mut key = KeyEncoder::new();
    key.push_i64(id);
    let mut row = RowEncoder::new();
    row.begin_put();
    row.push_i64(id);
    row.push_i64(version);
    row.push_text(&format!("payload of row {id}, version {version}"));
    RowWrite {
        table,
        pk: key.as_bytes().to_vec(),
        event: row.finish().to_vec(),
        expect,
    }
}

fn create(engine: &Engine, name: &str) -> TableId {
    let column = |name: &str, ty| ColumnDef::new(name, ty);
    let columns = vec![
        column("id", ColumnType::Int64),
        column("version", ColumnType::Int64),
        column("data", ColumnType::Text),
    ];
    engine.create_table(name, columns, vec![0]).unwrap().id
}

fn rate(count: u64, elapsed: Duration) -> String {
    format!("{:>12.0}/s", count as f64 / elapsed.as_secs_f64())
}

/// Commits of one row each from `writers` threads; returns commits/s and commits per WAL sync.
fn commit_rate(dir: &Path, sync: bool, writers: i64) -> (f64, f64) {
    let options = EngineOptions {
        sync,
        ..EngineOptions::default()
    };
    let engine = Engine::open(dir, options).unwrap();
    let table = create(&engine, &format!("commits_{writers}_{sync}"));
    let per_writer = 4_000 / writers;
    let start = Instant::now();
    std::thread::scope(|scope| {
        for writer in 0..writers {
            let engine = &engine;
            scope.spawn(move || {
                for n in 0..per_writer {
                    let row = write(table, writer * 1_000_000 + n, 0, WriteExpectation::Absent);
                    engine.commit("bench", &[row]).unwrap();
                }
            });
        }
    });
    let commits = (writers * per_writer) as f64;
    let per_sync = commits / engine.wal_syncs().max(1) as f64;
    (commits / start.elapsed().as_secs_f64(), per_sync)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Synced commit rates from 1, 8 and 32 writers: the median of three rounds, the rounds
/// interleaved so that a slow spell of the disk does not land on one writer count only.
fn commit_rates(dir: &Path) {
    const WRITERS: [i64; 3] = [1, 8, 32];
    let mut rates = vec![Vec::new(); WRITERS.len()];
    let mut per_sync = vec![Vec::new(); WRITERS.len()];
    for round in 0..3 {
        for (i, writers) in WRITERS.into_iter().enumerate() {
            let (rate, batch) = commit_rate(&dir.join(round.to_string()), true, writers);
            rates[i].push(rate);
            per_sync[i].push(batch);
        }
    }
    let one = median(rates[0].clone());
    println!("commits, 1 writer, synced      {one:>12.0}/s  (median of 3 rounds)");
    for (i, writers) in WRITERS.into_iter().enumerate().skip(1) {
        let rate = median(rates[i].clone());
        println!(
            "commits, {writers} writers, synced    {rate:>12.0}/s  ({:.1}x one writer, {:.1} commits per WAL sync)",
            rate / one,
            median(per_sync[i].clone())
        );
    }
    let (unsynced, _) = commit_rate(dir, false, 1);
    println!("commits, 1 writer, not synced  {unsynced:>12.0}/s  (the CPU cost alone, for scale)");
    let (unsynced8, _) = commit_rate(dir, false, 8);
    println!("commits, 8 writers, not synced {unsynced8:>12.0}/s");
}

/// Best of three scans of `table` as of `seq`.
fn scan_rate(engine: &Engine, table: TableId, seq: Seq) -> String {
    let mut best = Duration::MAX;
    let mut rows = 0;
    for _ in 0..3 {
        rows = 0;
        let start = Instant::now();
        engine
            .scan_as_of(table, seq, |_, row| {
                rows += row.column_count() as u64 / 3;
                Ok(Flow::Continue)
            })
            .unwrap();
        best = best.min(start.elapsed());
    }
    assert_eq!(rows, ROWS as u64);
    format!("{}  ({:.1} ms)", rate(rows, best), best.as_secs_f64() * 1e3)
}

fn sst_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sst"))
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum()
}

fn scan_rates(dir: &Path) {
    let setup = EngineOptions {
        sync: false,
        ..EngineOptions::default()
    };
    let (flat, deep, middle);
    {
        let engine = Engine::open(dir, setup).unwrap();
        flat = create(&engine, "flat");
        deep = create(&engine, "deep");
        for table in [flat, deep] {
            for chunk in (0..ROWS).step_by(10_000) {
                let rows: Vec<_> = (chunk..chunk + 10_000)
                    .map(|id| write(table, id, 0, WriteExpectation::Absent))
                    .collect();
                engine.commit("bench", &rows).unwrap();
            }
        }
        let mut mid = Seq::ZERO;
        for version in 1..VERSIONS {
            for chunk in (0..ROWS).step_by(10_000) {
                let rows: Vec<_> = (chunk..chunk + 10_000)
                    .map(|id| write(deep, id, version, WriteExpectation::Any))
                    .collect();
                engine.commit("bench", &rows).unwrap();
            }
            if version == VERSIONS / 2 {
                mid = engine.latest_seq();
            }
        }
        middle = mid;
        engine.compact().unwrap();
    }
    let versions = (ROWS * (VERSIONS + 1)) as f64;
    println!(
        "bytes on disk per row version   {:>12.1}  (SST files after compaction, all families)",
        sst_bytes(dir) as f64 / versions
    );
    {
        let engine = Engine::open(dir, EngineOptions::default()).unwrap();
        let latest = engine.latest_seq();
        println!(
            "current scan, 1 version/row    {}",
            scan_rate(&engine, flat, latest)
        );
        println!(
            "current scan, 50 versions/row  {}",
            scan_rate(&engine, deep, latest)
        );
    }
    let skipping = EngineOptions {
        latest_state_window: 0,
        ..EngineOptions::default()
    };
    let engine = Engine::open(dir, skipping).unwrap();
    let latest = engine.latest_seq();
    println!(
        "  by skipping versions, 1/row  {}",
        scan_rate(&engine, flat, latest)
    );
    println!(
        "  by skipping versions, 50/row {}",
        scan_rate(&engine, deep, latest)
    );
    println!(
        "as-of scan, mid-history, 50/row{}",
        scan_rate(&engine, deep, middle)
    );
}

fn main() {
    let base = std::env::args()
        .nth(1)
        .expect("usage: store_bench DIR (a fresh directory on the disk to measure)");
    let base = Path::new(&base);
    commit_rates(&base.join("commits"));
    scan_rates(&base.join("scans"));
}
