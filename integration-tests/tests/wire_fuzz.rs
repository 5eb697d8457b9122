//! Thousands of mutated and malformed protocol messages, replayed from recorded client sessions
//! (`wire-recordings/`), never stop the server answering a fresh connection with `SELECT 1`; nor
//! do connections whose length says a gigabyte, nor a thousand that never finish their startup.

use driftdb_integration_tests::wirefuzz::{
    self, FuzzConfig, FuzzServer, HoldReport, Stall, Timeouts,
};
use std::sync::Arc;
use std::time::Duration;

/// The fixed seed of `make test`; `make fuzz` runs other seeds for longer.
const SEED: u64 = 18;
const CASES: u64 = 2000;

fn mib(kib: Option<u64>) -> u64 {
    kib.unwrap_or(0) / 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mutated_client_sessions_never_stop_the_server_answering() {
    let dir = tempfile::tempdir().unwrap();
    let server = Arc::new(FuzzServer::start(dir.path()));
    let recordings = Arc::new(wirefuzz::load_recordings(&wirefuzz::recordings_dir()).unwrap());
    wirefuzz::warm_up(server.addr(), &recordings).await;
    let config = FuzzConfig::new(SEED, CASES);
    let report = wirefuzz::fuzz(server.addr(), recordings, &config, Some(server.clone())).await;
    eprintln!("{}", report.summary());
    for panic in &report.panics {
        eprintln!(
            "server panic (cases in flight {:?}): {}",
            panic.suspects, panic.line
        );
    }
    if let Some(failure) = &report.failure {
        panic!("{failure}");
    }
    assert_eq!(report.cases, CASES);
    assert!(
        report.mutated_messages >= 2000,
        "only {} mutated messages",
        report.mutated_messages
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sessions_the_fuzzer_found_leave_the_server_answering() {
    let dir = tempfile::tempdir().unwrap();
    let server = FuzzServer::start(dir.path());
    for (number, (description, hex)) in wirefuzz::FOUND.iter().enumerate() {
        let case = wirefuzz::found_case(number as u64, description, hex);
        let outcome = wirefuzz::play(server.addr(), &case, Timeouts::default()).await;
        let answered = wirefuzz::answers_select_1(server.addr(), Duration::from_secs(20)).await;
        assert!(
            answered.is_ok(),
            "{description}: {answered:?} after {outcome:?}; server: {:?}\n{}",
            server.exit_status(),
            case.describe()
        );
    }
}

fn assert_survived(report: &HoldReport, memory_growth_mib: u64) {
    eprintln!("{report}");
    assert!(report.after.is_ok(), "{report}");
    let grown = mib(report.rss_during_kib).saturating_sub(mib(report.rss_before_kib));
    assert!(grown <= memory_growth_mib, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connections_whose_length_says_a_gigabyte_neither_block_others_nor_take_its_memory() {
    let dir = tempfile::tempdir().unwrap();
    let server = FuzzServer::start(dir.path());
    for stall in [Stall::HugeStartup, Stall::HugeQuery, Stall::HugeCopyData] {
        let report = wirefuzz::hold_connections(server.addr(), stall, 50, Some(server.pid())).await;
        assert!(report.during.is_ok(), "{report}");
        assert_survived(&report, 256);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_connections_that_never_finish_startup_leave_the_server_answering() {
    let dir = tempfile::tempdir().unwrap();
    let server = FuzzServer::start(dir.path());
    for stall in [Stall::Silent, Stall::HalfStartup, Stall::SslThenSilent] {
        let report =
            wirefuzz::hold_connections(server.addr(), stall, 1000, Some(server.pid())).await;
        // Whether a client is let in while they wait is the server's policy (a connection limit
        // may count them until their startup times out); once they are gone, it must be.
        assert_survived(&report, 512);
    }
    assert!(
        wirefuzz::answers_select_1(server.addr(), Duration::from_secs(20))
            .await
            .is_ok()
    );
}
