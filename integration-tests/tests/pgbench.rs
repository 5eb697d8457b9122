//! pgbench, PostgreSQL's own benchmark tool, unchanged against DriftDB: `pgbench -i` creates
//! and loads its tables (client-side COPY … WITH (FREEZE on), VACUUM, ALTER TABLE … ADD PRIMARY
//! KEY), and its TPC-B-like script runs with 4 clients in READ COMMITTED over each protocol
//! with no failed transaction and its invariant kept: every transaction moves the same amount
//! in an account, its teller and its branch, and logs it in the history.

use driftdb_integration_tests::pgbench::{self, Target};
use driftdb_integration_tests::{TestServer, rows};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgbench_initialises_and_runs_without_failures() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let target = Target {
        port: server.addr().port(),
        user: "tester".into(),
        database: "driftdb".into(),
    };
    let init = pgbench::initialize(&target, 1, &[]).unwrap();
    assert!(init.contains("done in"), "{init}");
    let client = server.connect().await;
    let counts = rows(
        &client,
        "SELECT (SELECT count(*) FROM pgbench_accounts), (SELECT count(*) FROM pgbench_tellers), \
         (SELECT count(*) FROM pgbench_branches), (SELECT count(*) FROM pgbench_history)",
    )
    .await;
    let expected = ["100000", "10", "1", "0"].map(|n| Some(n.to_string()));
    assert_eq!(counts[0], expected);

    for protocol in ["simple", "extended", "prepared"] {
        let outcome =
            pgbench::run(&target, &["-c", "2", "-t", "50", "-S", "-M", protocol]).unwrap();
        assert_eq!((outcome.processed, outcome.failed), (100, 0), "{protocol}");
    }
    let mut transactions = 0;
    for protocol in ["simple", "extended", "prepared"] {
        let outcome =
            pgbench::run(&target, &["-c", "4", "-j", "2", "-t", "40", "-M", protocol]).unwrap();
        assert_eq!((outcome.processed, outcome.failed), (160, 0), "{protocol}");
        transactions += outcome.processed;
    }
    // pgbench empties its history before each run: the last run's 160 are there.
    let sums = rows(
        &client,
        "SELECT (SELECT sum(abalance) FROM pgbench_accounts), \
                (SELECT sum(tbalance) FROM pgbench_tellers), \
                (SELECT sum(bbalance) FROM pgbench_branches), \
                (SELECT count(*) FROM pgbench_history)",
    )
    .await;
    let [accounts, tellers, branches, history] = &sums[0][..] else {
        panic!("{sums:?}")
    };
    assert_eq!(accounts, tellers);
    assert_eq!(tellers, branches);
    assert_eq!(history.as_deref(), Some("160"));
    assert_eq!(transactions, 480);
}
