//! psql's meta-commands that list relations (`\dt`, `\dv`, `\di`, `\dn`) and describe them
//! (`\d`, `\d NAME`, `\d+ NAME` of tables and indexes, `\df`, `\dp`) print the same on DriftDB as on
//! PostgreSQL for the same schema; `\l` and `\du` work (their listings differ: DriftDB has one
//! database and one role), and so do `\d` of a table with a CHECK constraint and `\d+` of a view,
//! whose expressions PostgreSQL prints deparsed (`amount > 0::numeric`) and DriftDB as written.

use driftdb_integration_tests::TestServer;
use driftdb_integration_tests::postgres::ReferencePostgres;
use std::process::Command;

const SCHEMA: &str = "
    CREATE TABLE parent (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL UNIQUE);
    CREATE TABLE child (id BIGINT PRIMARY KEY, parent_id INT REFERENCES parent (id),
                        amount NUMERIC(10,2) CHECK (amount > 0));
    CREATE INDEX child_parent ON child (parent_id);
    CREATE VIEW big AS SELECT * FROM child WHERE amount > 100;";

/// What psql prints for `command` (no psqlrc, errors fatal) as user `postgres`.
fn psql(port: u16, database: &str, command: &str) -> String {
    let output = Command::new("psql")
        .args([
            "-X",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
        ])
        .args(["-p", &port.to_string(), "-d", database, "-c", command])
        .output()
        .expect("psql runs (Debian's postgresql-client)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stderr.is_empty(),
        "psql {command} on port {port} failed: {stderr}"
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn psql_lists_and_describes_relations_as_postgresql_does() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let ours = server.addr().port();
    let reference = ReferencePostgres::start().expect("the reference PostgreSQL starts");
    let theirs = reference.port();
    psql(ours, "driftdb", SCHEMA);
    psql(theirs, "postgres", SCHEMA);
    for command in [
        "\\dt",
        "\\dv",
        "\\di",
        "\\dn",
        "\\dt child*",
        "\\d parent",
        "\\d+ parent",
        "\\d child_parent",
        "\\d+ child_parent",
        "\\d parent_name_key",
        "\\df",
        "\\d",
        "\\dp",
        "\\z parent",
    ] {
        assert_eq!(
            psql(ours, "driftdb", command),
            psql(theirs, "postgres", command),
            "{command}"
        );
    }
    let child = psql(ours, "driftdb", "\\d child");
    for section in [
        "Indexes:",
        "\"child_parent\" btree (parent_id)",
        "Check constraints:",
        "Foreign-key constraints:",
        "FOREIGN KEY (parent_id) REFERENCES parent(id)",
    ] {
        assert!(child.contains(section), "{section} in {child}");
    }
    assert!(psql(ours, "driftdb", "\\d+ big").contains("View definition:"));
    assert!(psql(ours, "driftdb", "\\l").contains(" driftdb "));
    assert!(psql(ours, "driftdb", "\\du").contains(" postgres "));
}

/// The statements of a script that make PostgreSQL send a NOTICE or WARNING with its result.
const NOTICES: &str = "\
DROP TABLE IF EXISTS nope;
DROP VIEW IF EXISTS nope;
DROP INDEX IF EXISTS nope;
CREATE TABLE n1 (id INT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS n1 (id INT PRIMARY KEY);
CREATE INDEX IF NOT EXISTS n1_id ON n1 (id);
CREATE INDEX IF NOT EXISTS n1_id ON n1 (id);
ALTER TABLE IF EXISTS nope ADD COLUMN x INT;
ALTER TABLE n1 ADD COLUMN IF NOT EXISTS id INT;
ALTER TABLE n1 DROP COLUMN IF EXISTS zz;
COMMIT;
ROLLBACK;
BEGIN;
BEGIN;
COMMIT;
SET TRANSACTION ISOLATION LEVEL SERIALIZABLE;
SET client_min_messages = warning;
DROP TABLE IF EXISTS nope;
COMMIT;
SET client_min_messages = error;
COMMIT;
RESET client_min_messages;
DROP TABLE n1;
";

/// What psql prints, output and messages interleaved, running `script` from standard input.
fn psql_script(port: u16, database: &str, script: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("psql")
        .args(["-X", "-h", "127.0.0.1", "-U", "postgres"])
        .args(["-p", &port.to_string(), "-d", database])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("psql runs (Debian's postgresql-client)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "psql on port {port} failed");
    // psql writes results to stdout and messages to stderr; each stream is compared whole.
    format!(
        "{}\n---\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn psql_shows_notices_and_warnings_as_postgresql_does() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let reference = ReferencePostgres::start().expect("the reference PostgreSQL starts");
    let ours = psql_script(server.addr().port(), "driftdb", NOTICES);
    let theirs = psql_script(reference.port(), "postgres", NOTICES);
    assert_eq!(ours, theirs);
    assert!(ours.contains("NOTICE:  table \"nope\" does not exist, skipping"));
    assert!(ours.contains("WARNING:  there is already a transaction in progress"));
}
