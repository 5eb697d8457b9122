//! `make bench`: DriftDB and a reference PostgreSQL side by side, the same workloads over the
//! wire with the same client, ratios printed as Markdown tables (kept in `bench/RESULTS.md`).
//! Benchmarks report; tests assert.
//!
//! Workloads ([`driftdb_integration_tests::bench`]): COPY of `BENCH_ROWS` rows (200k), 50 ×
//! 1000-row INSERT, prepared point selects by primary key (with p50/p99 latency), prepared
//! secondary-index lookups, prepared autocommit `UPDATE … SET v = v + 1 WHERE id = $1`, GROUP BY,
//! join + aggregate, a primary-key range of 10k rows, a LIKE count, 50 × UPDATE of all 20k rows;
//! then transfers (REPEATABLE READ, retried on 40001 and 40P01) at 1, 8 and 32 clients, and
//! PostgreSQL's own pgbench, unchanged (`pgbench -i` at scale 1 and 10, then its TPC-B-like and
//! select-only scripts in READ COMMITTED with 8 clients, `-M prepared`, `BENCH_PGBENCH_SECONDS`
//! each; failed transactions are counted, as pgbench counts them).
//!
//! Both servers sync their log on commit (PostgreSQL's defaults, DriftDB's defaults). DriftDB
//! runs the binary `make bench` built (the release profile).

use driftdb_integration_tests::TestServer;
use driftdb_integration_tests::bench::{self, Latencies, Sizes};
use driftdb_integration_tests::pgbench::{self, Target};
use driftdb_integration_tests::postgres::ReferencePostgres;
use driftdb_integration_tests::transfers::{self, ClientReport};
use std::time::Duration;
use tokio_postgres::Client;

const ACCOUNTS: u32 = 100;
/// Transfers per run, split across the clients.
const TRANSFERS: usize = 3200;

/// The two servers, connected to alike.
enum Server<'a> {
    DriftDb(&'a TestServer),
    Postgres(&'a ReferencePostgres),
}

impl Server<'_> {
    async fn connect(&self) -> Client {
        match self {
            Server::DriftDb(server) => server.connect().await,
            Server::Postgres(server) => server.connect().await,
        }
    }

    /// How pgbench reaches the server.
    fn pgbench_target(&self) -> Target {
        match self {
            Server::DriftDb(server) => Target {
                port: server.addr().port(),
                user: "tester".into(),
                database: "driftdb".into(),
            },
            Server::Postgres(server) => Target {
                port: server.port(),
                user: "postgres".into(),
                database: "postgres".into(),
            },
        }
    }
}

/// One workload's numbers on both servers: seconds (lower is better) unless `throughput`.
struct Row {
    name: String,
    ours: f64,
    theirs: f64,
    unit: &'static str,
    /// Higher is better (transactions per second).
    throughput: bool,
}

impl Row {
    fn seconds(name: impl Into<String>, ours: Duration, theirs: Duration) -> Row {
        Row {
            name: name.into(),
            ours: ours.as_secs_f64(),
            theirs: theirs.as_secs_f64(),
            unit: "s",
            throughput: false,
        }
    }

    fn micros(name: impl Into<String>, ours: Duration, theirs: Duration) -> Row {
        Row {
            name: name.into(),
            ours: ours.as_secs_f64() * 1e6,
            theirs: theirs.as_secs_f64() * 1e6,
            unit: "µs",
            throughput: false,
        }
    }

    fn print(&self) {
        let ratio = self.ours / self.theirs;
        let (ratio, better) = match self.throughput {
            true => (ratio, "throughput, higher is better"),
            false => (ratio, "time, lower is better"),
        };
        println!(
            "| {} | {:.4} {unit} | {:.4} {unit} | {ratio:.2}× | {better} |",
            self.name,
            self.theirs,
            self.ours,
            unit = self.unit
        );
    }
}

/// Everything single-client, on one server.
struct Single {
    copy: Duration,
    insert: Duration,
    point: Latencies,
    index: Latencies,
    update: Latencies,
    group_by: Duration,
    join: Duration,
    range: Duration,
    like: Duration,
    update_all: Duration,
}

async fn single_client(server: &Server<'_>, sizes: Sizes) -> Single {
    let client = server.connect().await;
    bench::create_items(&client).await;
    let copy = bench::copy_items(&client, sizes.rows).await;
    bench::create_groups(&client).await;
    let insert = bench::insert_batches(&client).await;
    let point = bench::point_selects(&client, sizes).await;
    let index = bench::index_lookups(&client, sizes).await;
    let update = bench::autocommit_updates(&client, sizes).await;
    let group_by = bench::best_of(
        &client,
        "SELECT grp, count(*), sum(v) FROM items GROUP BY grp ORDER BY grp",
        3,
    )
    .await;
    let join = bench::best_of(
        &client,
        "SELECT g.name, count(*), avg(i.v) FROM items i JOIN groups g ON g.grp = i.grp \
         GROUP BY g.name ORDER BY g.name",
        3,
    )
    .await;
    let range = bench::best_of(
        &client,
        "SELECT id, label, v FROM items WHERE id >= 50000 AND id < 60000",
        3,
    )
    .await;
    let like = bench::best_of(
        &client,
        "SELECT count(*) FROM items WHERE label LIKE 'item-1%'",
        3,
    )
    .await;
    let update_all = bench::update_all(&client, sizes.update_all_rows).await;
    Single {
        copy,
        insert,
        point,
        index,
        update,
        group_by,
        join,
        range,
        like,
        update_all,
    }
}

async fn transfers_run(server: &Server<'_>, clients: usize) -> (ClientReport, f64) {
    let setup = server.connect().await;
    setup
        .batch_execute("DROP TABLE IF EXISTS accounts")
        .await
        .expect("DROP TABLE");
    transfers::create_accounts(&setup, ACCOUNTS, 1000).await;
    let mode = transfers::Mode::RepeatableRead;
    transfers::run(
        || server.connect(),
        mode,
        clients,
        ACCOUNTS,
        TRANSFERS / clients,
    )
    .await
}

/// `pgbench -i -s scale` on the server, then its TPC-B-like and select-only scripts with 8
/// clients for `seconds` each: (init seconds, TPC-B, select-only).
fn pgbench_runs(
    server: &Server<'_>,
    scale: u32,
    seconds: u32,
) -> (Duration, pgbench::Outcome, pgbench::Outcome) {
    let target = server.pgbench_target();
    let start = std::time::Instant::now();
    pgbench::initialize(&target, scale, &["-q"]).unwrap_or_else(|e| panic!("{e}"));
    let init = start.elapsed();
    let seconds = seconds.to_string();
    let run = |script: &[&str]| {
        let mut args = vec![
            "-c",
            "8",
            "-j",
            "2",
            "-T",
            seconds.as_str(),
            "-M",
            "prepared",
        ];
        args.extend_from_slice(script);
        pgbench::run(&target, &args).unwrap_or_else(|e| panic!("{e}"))
    };
    (init, run(&[]), run(&["-S"]))
}

fn env_number(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let reference = match ReferencePostgres::start() {
        Ok(pg) => pg,
        Err(e) => {
            eprintln!("cannot start the reference PostgreSQL: {e}");
            std::process::exit(2);
        }
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let driftdb = TestServer::start(dir.path());
    let (ours, theirs) = (Server::DriftDb(&driftdb), Server::Postgres(&reference));
    let sizes = Sizes {
        rows: env_number("BENCH_ROWS", 200_000),
        update_all_rows: 20_000,
        point_statements: env_number("BENCH_POINT_STATEMENTS", 3000),
    };

    println!(
        "rows: {}, point statements: {}, server: {}",
        sizes.rows,
        sizes.point_statements,
        driftdb_integration_tests::server_binary().display()
    );
    println!();
    println!("| workload | PostgreSQL | DriftDB | ratio | |");
    println!("| --- | --- | --- | --- | --- |");
    let (a, b) = (
        single_client(&ours, sizes).await,
        single_client(&theirs, sizes).await,
    );
    let n = sizes.point_statements;
    let k = sizes.rows / 1000;
    let rows = [
        Row::seconds(format!("COPY {k}k rows"), a.copy, b.copy),
        Row::seconds("50 × 1000-row INSERT", a.insert, b.insert),
        Row::seconds(
            format!("{n} prepared point selects by primary key"),
            a.point.total(),
            b.point.total(),
        ),
        Row::micros(
            "point select p50",
            a.point.percentile(50.0),
            b.point.percentile(50.0),
        ),
        Row::micros(
            "point select p99",
            a.point.percentile(99.0),
            b.point.percentile(99.0),
        ),
        Row::seconds(
            format!("{n} prepared secondary-index lookups"),
            a.index.total(),
            b.index.total(),
        ),
        Row::seconds(
            format!("{n} autocommit UPDATE … SET v = v + 1 WHERE id = $1"),
            a.update.total(),
            b.update.total(),
        ),
        Row::seconds(format!("GROUP BY over {k}k rows"), a.group_by, b.group_by),
        Row::seconds("join + aggregate", a.join, b.join),
        Row::seconds("primary-key range of 10k rows", a.range, b.range),
        Row::seconds("count(*) … WHERE label LIKE 'item-1%'", a.like, b.like),
        Row::seconds("50 × UPDATE of all 20k rows", a.update_all, b.update_all),
    ];
    for row in &rows {
        row.print();
    }
    for clients in [1, 8, 32] {
        let mine = transfers_run(&ours, clients).await;
        let other = transfers_run(&theirs, clients).await;
        let rate = |(report, seconds): &(ClientReport, f64)| report.committed as f64 / seconds;
        let aborts = |(report, _): &(ClientReport, f64)| {
            let attempts = report.committed + report.refused + report.aborted;
            100.0 * report.aborted as f64 / attempts.max(1) as f64
        };
        Row {
            name: format!(
                "transfers, {clients} clients, tx/s (aborts: DriftDB {:.1}%, PostgreSQL {:.1}%)",
                aborts(&mine),
                aborts(&other)
            ),
            ours: rate(&mine),
            theirs: rate(&other),
            unit: "tx/s",
            throughput: true,
        }
        .print();
    }
    let seconds = env_number("BENCH_PGBENCH_SECONDS", 10);
    for scale in [1, 10] {
        let mine = pgbench_runs(&ours, scale, seconds);
        let other = pgbench_runs(&theirs, scale, seconds);
        Row::seconds(format!("pgbench -i -s {scale}"), mine.0, other.0).print();
        for (script, ours, theirs) in [
            ("TPC-B-like", mine.1, other.1),
            ("select-only", mine.2, other.2),
        ] {
            Row {
                name: format!(
                    "pgbench {script}, scale {scale}, 8 clients, tx/s (failed: DriftDB {:.1}%, PostgreSQL {:.1}%)",
                    100.0 * ours.failure_rate(),
                    100.0 * theirs.failure_rate()
                ),
                ours: ours.tps,
                theirs: theirs.tps,
                unit: "tx/s",
                throughput: true,
            }
            .print();
        }
    }
}
