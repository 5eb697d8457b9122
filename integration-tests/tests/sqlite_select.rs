//! SQLite's sqllogictest `select1.test` .. `select5.test`, whole and unchanged, pass over the wire
//! on DriftDB and on the reference PostgreSQL (whose answers are the expected ones), each file on
//! a fresh database.

use driftdb_integration_tests::TestServer;
use driftdb_integration_tests::postgres::ReferencePostgres;
use driftdb_integration_tests::sqlite_corpus::{FileRun, corpus_file, run_file};

/// Runs `name` against a fresh DriftDB and a fresh PostgreSQL database and fails with every
/// failing record of either.
async fn passes_on_driftdb_and_postgresql(name: &str) {
    let file = corpus_file(name);

    let postgres = ReferencePostgres::start().expect("the reference PostgreSQL starts");
    let database = name.replace('.', "_");
    // A smaller genetic search for select5's joins of up to 64 tables: planner effort only, the
    // same answers, and select5 takes ~10 s instead of ~80 s.
    let admin = postgres.connect().await;
    for sql in [
        format!("CREATE DATABASE {database}"),
        format!("ALTER DATABASE {database} SET geqo_pool_size = 10"),
        format!("ALTER DATABASE {database} SET geqo_generations = 10"),
    ] {
        admin.batch_execute(&sql).await.expect(&sql);
    }
    let on_postgres = run_file(&file, postgres.connect_to(&database).await).await;
    drop(postgres);

    let dir = tempfile::tempdir().expect("temp dir");
    let server = TestServer::start(dir.path());
    let on_driftdb = run_file(&file, server.connect().await).await;

    let report = |server: &str, run: &FileRun| {
        let mut lines = vec![format!("{name} on {server}: {}", run.summary())];
        lines.extend(run.failures.iter().cloned());
        lines.join("\n")
    };
    let postgres_report = report("PostgreSQL", &on_postgres);
    let driftdb_report = report("DriftDB", &on_driftdb);
    eprintln!(
        "{}\n{}",
        postgres_report.lines().next().unwrap_or_default(),
        driftdb_report.lines().next().unwrap_or_default()
    );
    assert!(
        on_postgres.failures.is_empty() && on_driftdb.failures.is_empty(),
        "{postgres_report}\n\n{driftdb_report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_select1_passes_on_driftdb_and_postgresql() {
    passes_on_driftdb_and_postgresql("select1.test").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_select2_passes_on_driftdb_and_postgresql() {
    passes_on_driftdb_and_postgresql("select2.test").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_select3_passes_on_driftdb_and_postgresql() {
    passes_on_driftdb_and_postgresql("select3.test").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_select4_passes_on_driftdb_and_postgresql() {
    passes_on_driftdb_and_postgresql("select4.test").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_select5_passes_on_driftdb_and_postgresql() {
    passes_on_driftdb_and_postgresql("select5.test").await;
}
