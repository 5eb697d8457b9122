//! The Python drivers, each running its scenario (`integration-tests/clients/*_scenario.py`)
//! against DriftDB and against a real PostgreSQL: psycopg2 (client-side parameters), psycopg 3
//! (server-side parameters, binary results, prepared statements, pipelines) and asyncpg
//! (prepared statements with inferred parameter types, binary everywhere). Each scenario prints
//! what it observes; both transcripts must be identical.
//!
//! The drivers live in a virtualenv `make client-deps` creates (`~/.cache/driftdb/venv`, or
//! `DRIFTDB_PYTHON` naming an interpreter that has them).

use driftdb_integration_tests::TestServer;
use driftdb_integration_tests::postgres::ReferencePostgres;
use std::path::PathBuf;
use std::process::Command;

fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("DRIFTDB_PYTHON") {
        return PathBuf::from(python);
    }
    let home = std::env::var_os("HOME").expect("HOME is set");
    let python = PathBuf::from(home).join(".cache/driftdb/venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `make client-deps` (make test does)",
        python.display()
    );
    python
}

/// Runs a scenario against the server at `port` and returns what it printed.
fn transcript(script: &str, port: u16, user: &str, database: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("clients")
        .join(script);
    let output = Command::new(python())
        .arg(&path)
        .env("PGHOST", "127.0.0.1")
        .env("PGPORT", port.to_string())
        .env("PGUSER", user)
        .env("PGDATABASE", database)
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{script} against port {port} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn same_story(script: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let driftdb = transcript(script, server.addr().port(), "tester", "driftdb");
    let reference = ReferencePostgres::start().expect("the reference PostgreSQL starts");
    let postgres = transcript(script, reference.port(), "postgres", "postgres");
    for (ours, theirs) in driftdb.lines().zip(postgres.lines()) {
        assert_eq!(ours, theirs, "{script}: DriftDB's line, then PostgreSQL's");
    }
    assert_eq!(
        driftdb.lines().count(),
        postgres.lines().count(),
        "{script}"
    );
}

#[test]
fn psycopg2_sees_driftdb_as_it_sees_postgresql() {
    same_story("psycopg2_scenario.py");
}

#[test]
fn psycopg3_sees_driftdb_as_it_sees_postgresql() {
    same_story("psycopg3_scenario.py");
}

#[test]
fn asyncpg_sees_driftdb_as_it_sees_postgresql() {
    same_story("asyncpg_scenario.py");
}
