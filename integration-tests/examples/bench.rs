//! `make bench`: DriftDB and a reference PostgreSQL side by side, the same workload over the
//! wire, ratios printed. Benchmarks report; tests assert.
//!
//! Workloads so far:
//! - transfers: money moves between 100 accounts in REPEATABLE READ transactions (read,
//!   refuse an overdraft, debit, credit, commit; retry on 40001) with 1, 8 and 32 clients.
//!   Reports committed transfers per second and the abort rate (attempts that failed with a
//!   serialization failure, over all attempts).
//!
//! Both servers sync their log on commit (PostgreSQL's defaults, DriftDB's defaults). DriftDB runs
//! in the test profile, as `make test` builds it.

use driftdb_integration_tests::TestServer;
use driftdb_integration_tests::postgres::ReferencePostgres;
use driftdb_integration_tests::transfers::{self, ClientReport};

const ACCOUNTS: u32 = 100;
/// Transfers per run, split across the clients.
const TRANSFERS: usize = 3200;

struct Run {
    transfers_per_second: f64,
    abort_rate: f64,
}

impl Run {
    fn new(report: ClientReport, seconds: f64) -> Run {
        let attempts = report.committed + report.refused + report.aborted;
        Run {
            transfers_per_second: report.committed as f64 / seconds,
            abort_rate: report.aborted as f64 / attempts.max(1) as f64,
        }
    }
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

    println!("transfers: {ACCOUNTS} accounts, {TRANSFERS} transfers per run, REPEATABLE READ");
    println!(
        "{:>8} | {:>14} {:>8} | {:>14} {:>8} | {:>9}",
        "clients", "DriftDB tx/s", "aborts", "PostgreSQL tx/s", "aborts", "ratio"
    );
    for clients in [1, 8, 32] {
        let per_client = TRANSFERS / clients;
        let mut runs = Vec::new();
        for system in ["driftdb", "postgres"] {
            let setup = match system {
                "driftdb" => driftdb.connect().await,
                _ => reference.connect().await,
            };
            setup
                .batch_execute("DROP TABLE IF EXISTS accounts")
                .await
                .expect("DROP TABLE");
            transfers::create_accounts(&setup, ACCOUNTS, 1000).await;
            let (report, seconds) = match system {
                "driftdb" => {
                    transfers::run(|| driftdb.connect(), clients, ACCOUNTS, per_client).await
                }
                _ => transfers::run(|| reference.connect(), clients, ACCOUNTS, per_client).await,
            };
            runs.push(Run::new(report, seconds));
        }
        let (ours, theirs) = (&runs[0], &runs[1]);
        println!(
            "{clients:>8} | {:>14.0} {:>7.1}% | {:>15.0} {:>7.1}% | {:>8.2}x",
            ours.transfers_per_second,
            ours.abort_rate * 100.0,
            theirs.transfers_per_second,
            theirs.abort_rate * 100.0,
            ours.transfers_per_second / theirs.transfers_per_second,
        );
    }
    println!("ratio: DriftDB transfers/s over PostgreSQL's (higher is better for DriftDB)");
}
