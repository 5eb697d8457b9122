//! Random tables, rows and queries (a short fixed-seed session of the query fuzzer) get the
//! same answers from DriftDB as from PostgreSQL, and DriftDB's answers pass ternary logic
//! partitioning.

use driftdb_integration_tests::queryfuzz::{Config, Session};

/// The fixed seed of `make test`; `make fuzz` runs other seeds for longer.
const SEED: u64 = 18;
const ROUNDS: u64 = 12;

#[tokio::test(flavor = "multi_thread")]
async fn random_queries_answer_as_on_postgresql_and_partition_consistently() {
    let mut session = Session::start().await.expect("both servers start");
    let config = Config {
        seed: SEED,
        rounds: Some(ROUNDS),
        cases_per_round: 20,
        ..Config::default()
    };
    let report = session.run(&config).await;
    eprintln!("{report}");
    let findings: Vec<String> = report.findings.iter().map(ToString::to_string).collect();
    assert!(
        findings.is_empty(),
        "{} differences:\n{}",
        findings.len(),
        findings.join("\n")
    );
}
