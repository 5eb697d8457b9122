//! Every `.slt` file of the SQL layer passes, unchanged, both in-process and over the wire; the
//! standard-SQL ones pass against a real PostgreSQL too.

use driftdb_integration_tests::slt::{run_against_postgres, run_in_process, run_over_the_wire};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_slt_file_passes_in_process() {
    let failures = run_in_process().await;
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_slt_file_passes_over_the_wire() {
    let failures = run_over_the_wire().await;
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_standard_slt_file_passes_against_postgresql() {
    let failures = run_against_postgres().await;
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
