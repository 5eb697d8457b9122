//! Crash safety: a writer runs as a child process (this test binary, re-run with one ignored
//! test selected) and is killed with SIGKILL after a random number of acknowledged commits. After
//! each kill the data directory is reopened and checked: every acknowledged commit is there, no
//! commit is there in part, the commit log has no gap, and verify finds nothing wrong.

use driftdb_engine::{
    CatalogPoint, ColumnType, Engine, EngineOptions, Flow, RowWrite, Seq, TableId, ValueRef,
    WriteExpectation,
};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

mod fixture;

const DIR_VAR: &str = "DRIFTDB_CRASH_CHILD_DIR";
const ROUND_VAR: &str = "DRIFTDB_CRASH_CHILD_ROUND";
const WRITERS: i64 = 4;

/// A commit's rows share `(round, writer, n)` and say how many they are.
fn row_id(round: i64, writer: i64, n: i64, part: i64) -> i64 {
    ((round * WRITERS + writer) * 1_000_000 + n) * 10 + part
}

fn log_table(engine: &Engine) -> TableId {
    if let Some(def) = engine.resolve_table("log", CatalogPoint::Latest) {
        return def.id;
    }
    let column = |name: &str| fixture::not_null(name, ColumnType::Int64);
    engine
        .create_table("log", vec![column("id"), column("parts")], vec![0])
        .unwrap()
        .id
}

#[test]
#[ignore = "the writer half of the crash test, run as its child process"]
fn crash_writer_child() {
    let (Ok(dir), Ok(round)) = (std::env::var(DIR_VAR), std::env::var(ROUND_VAR)) else {
        return;
    };
    let round: i64 = round.parse().unwrap();
    let engine = Engine::open(&dir, EngineOptions::default()).unwrap();
    let table = log_table(&engine);
    println!("ready");
    std::io::stdout().flush().unwrap();
    std::thread::scope(|scope| {
        for writer in 0..WRITERS {
            let engine = &engine;
            scope.spawn(move || {
                for n in 0.. {
                    let parts = 1 + n % 4;
                    let writes: Vec<RowWrite> = (0..parts)
                        .map(|part| {
                            let id = row_id(round, writer, n, part);
                            let values = [ValueRef::Int64(id), ValueRef::Int64(parts)];
                            let key = fixture::key_i64(id);
                            fixture::put(table, key, &values, WriteExpectation::Absent)
                        })
                        .collect();
                    let seq = engine.commit("crash", &writes).unwrap().unwrap();
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "ack {writer} {n} {parts} {}", seq.0).unwrap();
                    out.flush().unwrap();
                }
            });
        }
    });
}

/// One acknowledged commit as the child reported it.
struct Ack {
    writer: i64,
    n: i64,
    parts: i64,
    seq: u64,
}

fn run_and_kill(dir: &std::path::Path, round: i64, acks_wanted: usize) -> Vec<Ack> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["crash_writer_child", "--exact", "--ignored", "--nocapture"])
        .env(DIR_VAR, dir)
        .env(ROUND_VAR, round.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acks = Vec::new();
    while acks.len() < acks_wanted {
        let line = lines
            .next()
            .expect("the writer exited before it was killed")
            .unwrap();
        let fields: Vec<&str> = line.split(' ').collect();
        if let ["ack", writer, n, parts, seq] = fields[..] {
            acks.push(Ack {
                writer: writer.parse().unwrap(),
                n: n.parse().unwrap(),
                parts: parts.parse().unwrap(),
                seq: seq.parse().unwrap(),
            });
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    acks
}

#[test]
fn a_killed_writer_loses_no_acknowledged_commit_and_leaves_no_partial_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut seed: u64 = 0x5eed;
    for round in 0..4 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        let acks = run_and_kill(dir.path(), round, 20 + (seed >> 33) as usize % 300);

        let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
        let latest = engine.latest_seq();
        let table = log_table(&engine);
        // Every row present, grouped by the commit that wrote it.
        let mut commits: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
        engine
            .scan_as_of(table, latest, |_, row| {
                let values: Vec<_> = row.values().collect::<Result<_, _>>().unwrap();
                let [ValueRef::Int64(id), ValueRef::Int64(parts)] = values[..] else {
                    panic!("unexpected row {values:?}");
                };
                let entry = commits.entry(id / 10).or_insert((parts, 0));
                entry.1 += 1;
                Ok(Flow::Continue)
            })
            .unwrap();
        for (commit, (parts, found)) in &commits {
            assert_eq!(
                parts, found,
                "round {round}: commit {commit} is there only in part"
            );
        }
        for ack in &acks {
            let commit = row_id(round, ack.writer, ack.n, 0) / 10;
            assert_eq!(
                commits.get(&commit).map(|c| c.1),
                Some(ack.parts),
                "round {round}: acknowledged commit (writer {}, n {}) lost",
                ack.writer,
                ack.n
            );
            assert!(Seq(ack.seq) <= latest);
        }
        let mut logged = 0;
        engine
            .scan_commits(Seq(1)..=latest, |_| {
                logged += 1;
                Flow::Continue
            })
            .unwrap();
        assert_eq!(logged, latest.0, "round {round}: the commit log has a gap");
        drop(engine);
        let report = driftdb_engine::verify::verify(dir.path()).unwrap();
        assert!(report.is_clean(), "round {round}: {:?}", report.problems);
    }
}
