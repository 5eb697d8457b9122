//! A short soak and crash loop: a mixed load (inserts, point reads, REPEATABLE READ transfers
//! retried on 40001 and 40P01, aggregates, AS OF reads) loses no acknowledged row and no money
//! and fails with nothing but those two (what PostgreSQL tells clients to retry), and neither
//! does a server killed with SIGKILL under it and restarted.
//! `make soak` runs the long version (`examples/soak.rs`).

use driftdb_integration_tests::soak::{self, CrashConfig, SoakConfig};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_mixed_load_loses_nothing_acknowledged_and_fails_only_with_40001() {
    let report = soak::soak(&SoakConfig {
        clients: 12,
        duration: Duration::from_secs(15),
        seed: 18,
        sample_every: Duration::from_secs(1),
    })
    .await;
    println!("{report}");
    assert!(report.passed(), "{report}");
    assert!(report.tally.acked_commits > 0, "{report}");
    assert!(report.state.acked_items > 0, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_server_killed_under_load_keeps_every_acknowledged_commit() {
    let report = soak::crash_loop(&CrashConfig {
        rounds: 4,
        clients: 8,
        max_round: Duration::from_millis(1500),
        seed: 18,
    })
    .await;
    println!("{report}");
    assert!(report.passed(), "{report}");
    assert_eq!(report.rounds.len(), 4);
    assert!(report.tally.acked_commits > 0, "{report}");
}
