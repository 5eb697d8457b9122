//! Client drivers, each running its scenario (`integration-tests/clients/*_scenario.*`) against
//! DriftDB and against a real PostgreSQL: psycopg2 (client-side parameters), psycopg 3
//! (server-side parameters, binary results, prepared statements, pipelines, COPY), SQLAlchemy
//! (create_all, the inspector's reflection, an ORM session round trip), asyncpg
//! (prepared statements with inferred parameter types, binary everywhere), node-postgres and
//! pgjdbc (server-prepared statements past its threshold, batches, update counts, and
//! DatabaseMetaData: tables, columns, keys, indexes, result-set metadata).
//! Each scenario prints what it observes; both transcripts must be identical.
//!
//! `make client-deps` installs the drivers outside the clone: the Python ones in a virtualenv
//! (`~/.cache/driftdb/venv`, or `DRIFTDB_PYTHON` naming an interpreter that has them), `pg` for
//! Node.js under `~/.cache/driftdb/node` (or `DRIFTDB_NODE_MODULES`); pgjdbc is Debian's
//! `libpostgresql-jdbc-java` (`/usr/share/java/postgresql.jar`, or `DRIFTDB_JDBC_JAR`), run by
//! `java` in source-file mode.

use driftdb_integration_tests::postgres::ReferencePostgres;
use driftdb_integration_tests::{TestServer, assert_same_transcript};
use std::path::PathBuf;
use std::process::Command;

/// `~/.cache/driftdb/<path>`, which `make client-deps` fills, or what `variable` names.
fn installed(variable: &str, path: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(variable) {
        return PathBuf::from(path);
    }
    let home = std::env::var_os("HOME").expect("HOME is set");
    let path = PathBuf::from(home).join(".cache/driftdb").join(path);
    assert!(
        path.exists(),
        "{} is missing: run `make client-deps` (make test does)",
        path.display()
    );
    path
}

/// The command that runs `script`: Python for `.py`, Node.js for `.js`, Java for `.java`.
fn interpreter(script: &str) -> Command {
    match script.rsplit('.').next() {
        Some("js") => {
            let mut node = Command::new("node");
            node.env(
                "NODE_PATH",
                installed("DRIFTDB_NODE_MODULES", "node/node_modules"),
            );
            node
        }
        Some("java") => {
            let jar = std::env::var_os("DRIFTDB_JDBC_JAR").map_or_else(
                || PathBuf::from("/usr/share/java/postgresql.jar"),
                PathBuf::from,
            );
            assert!(
                jar.exists(),
                "{} is missing: run `make client-deps` (make test does)",
                jar.display()
            );
            let mut java = Command::new("java");
            java.arg("-cp").arg(jar);
            java
        }
        _ => Command::new(installed("DRIFTDB_PYTHON", "venv/bin/python")),
    }
}

/// Runs a scenario against the server at `port` and returns what it printed.
fn transcript(script: &str, port: u16, user: &str, database: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("clients")
        .join(script);
    let output = interpreter(script)
        .arg(&path)
        .env("PGHOST", "127.0.0.1")
        .env("PGPORT", port.to_string())
        .env("PGUSER", user)
        .env("PGDATABASE", database)
        .output()
        .expect("the interpreter runs");
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
    let lines = |transcript: &str| transcript.lines().map(str::to_string).collect::<Vec<_>>();
    assert_same_transcript(script, &lines(&driftdb), &lines(&postgres));
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

#[test]
fn node_postgres_sees_driftdb_as_it_sees_postgresql() {
    same_story("node_pg_scenario.js");
}

#[test]
fn pgjdbc_sees_driftdb_as_it_sees_postgresql() {
    same_story("JdbcScenario.java");
}

#[test]
fn sqlalchemy_orm_and_inspector_see_driftdb_as_postgresql() {
    same_story("sqlalchemy_scenario.py");
}

#[test]
fn pgjdbc_database_metadata_describes_driftdb_as_postgresql() {
    same_story("JdbcMetadataScenario.java");
}
