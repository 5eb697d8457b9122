//! The SQL DBeaver, Metabase and Grafana send on connect and while browsing a database
//! (`clients/introspection/*.sql`, copied from their sources, parameters filled in) runs on
//! DriftDB as on PostgreSQL: every statement succeeds on both, over the simple and the extended
//! protocol, and gives the same rows (in any order), except the statements [`DIFFERENT`] names,
//! whose answers depend on OIDs or on system objects only PostgreSQL has.

use driftdb_integration_tests::TestServer;
use driftdb_integration_tests::postgres::ReferencePostgres;
use std::collections::BTreeMap;
use tokio_postgres::{Client, SimpleQueryMessage};

/// The database both servers are asked about (the statements name it).
const DATABASE: &str = "driftdb";

const FIXTURE: &[&str] = &[
    "CREATE TABLE parent (id SERIAL PRIMARY KEY, name TEXT NOT NULL, price NUMERIC(10,2))",
    "CREATE INDEX parent_name_idx ON parent (name)",
    "CREATE TABLE child (id INT PRIMARY KEY, parent_id INT REFERENCES parent (id), note VARCHAR(20))",
];

/// Statements whose rows differ between DriftDB and PostgreSQL, and why.
const DIFFERENT: &[(&str, &str)] = &[
    (
        "G05",
        "PostgreSQL also lists its template and postgres databases",
    ),
    ("G22", "pg_aggregate lists no built-in aggregates"),
    ("M09", "no table statistics: pg_stat_user_tables is empty"),
    (
        "D06",
        "PostgreSQL also lists pg_toast; schema ACLs and comments",
    ),
    (
        "D07",
        "no aclitem[] type in pg_type (no column is sent as one)",
    ),
    (
        "D08",
        "no aclitem[] type in pg_type (no column is sent as one)",
    ),
    ("D10", "object OIDs"),
    ("D11", "object OIDs"),
    ("D12", "object OIDs"),
    (
        "D15",
        "pg_type lists the types DriftDB has, not all of PostgreSQL's",
    ),
    ("D17", "PostgreSQL also lists its postgres database"),
    ("D19", "object OIDs and storage details"),
    ("D20", "object OIDs"),
    ("D21", "object OIDs and relation sizes"),
    (
        "D22",
        "PostgreSQL also lists system columns (xmin, ctid, …)",
    ),
    (
        "D23",
        "PostgreSQL also lists system columns (xmin, ctid, …)",
    ),
    ("D24", "object OIDs"),
    ("D25", "object OIDs"),
    ("D26", "object OIDs and index storage details"),
    ("D27", "object OIDs and index storage details"),
    ("D28", "object OIDs and index storage details"),
    ("D35", "PostgreSQL has its predefined roles"),
    ("D36", "no extensions (PostgreSQL has plpgsql)"),
    ("D37", "no available extensions"),
    ("D39", "no encoding conversions"),
    ("D41", "heap and btree are the only access methods"),
];

/// The statements of a file: (id, SQL), each ending in `;` at the end of a line and preceded by
/// a comment block whose first `-- D01`-style line gives its id.
fn statements(text: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let (mut id, mut current) = (String::new(), Vec::new());
    for line in text.lines() {
        let comment = line.starts_with("--") && line.trim() != "-- ping";
        if current.is_empty() {
            if let Some(name) = line
                .strip_prefix("-- ")
                .and_then(|l| l.split_whitespace().next())
                && name.len() == 3
                && name[1..].chars().all(|c| c.is_ascii_digit())
            {
                id = name.to_string();
            }
            if line.trim().is_empty() || comment {
                continue;
            }
        }
        current.push(line);
        if line.trim_end().ends_with(';') {
            found.push((id.clone(), current.join("\n")));
            current.clear();
        }
    }
    found
}

/// Every row a statement returns, as text (NULL as `None`), sorted.
async fn answer(client: &Client, sql: &str) -> Result<Vec<Vec<Option<String>>>, String> {
    let messages = client
        .simple_query(sql)
        .await
        .map_err(|e| format!("{e:?}"))?;
    let mut rows: Vec<Vec<Option<String>>> = messages
        .iter()
        .filter_map(|message| match message {
            SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).map(str::to_string))
                    .collect(),
            ),
            _ => None,
        })
        .collect();
    rows.sort();
    Ok(rows)
}

async fn prepare_both(driftdb: &Client, postgres: &Client, sql: &str) -> Result<(), String> {
    // Parse/Describe as pgjdbc sends them; the column types must agree in number.
    let ours = driftdb.prepare(sql).await.map_err(|e| format!("{e:?}"))?;
    let theirs = postgres.prepare(sql).await.map_err(|e| format!("{e:?}"))?;
    match ours.columns().len() == theirs.columns().len() {
        true => Ok(()),
        false => Err(format!(
            "{} columns described, PostgreSQL {}",
            ours.columns().len(),
            theirs.columns().len()
        )),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bi_tools_introspect_driftdb_as_they_do_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    // As user `postgres`, whom the statements name (`SET ROLE postgres`).
    let (driftdb, connection) = tokio_postgres::Config::new()
        .host("127.0.0.1")
        .port(server.addr().port())
        .user("postgres")
        .dbname(DATABASE)
        .connect(tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let reference = ReferencePostgres::start().expect("the reference PostgreSQL starts");
    reference
        .connect()
        .await
        .batch_execute(&format!("CREATE DATABASE {DATABASE}"))
        .await
        .unwrap();
    let postgres = reference.connect_to(DATABASE).await;
    for statement in FIXTURE {
        driftdb.batch_execute(statement).await.unwrap();
        postgres.batch_execute(statement).await.unwrap();
    }
    let different: BTreeMap<&str, &str> = DIFFERENT.iter().copied().collect();
    let directory = concat!(env!("CARGO_MANIFEST_DIR"), "/clients/introspection");
    let mut failures = Vec::new();
    let mut seen = 0;
    for tool in ["dbeaver", "metabase", "grafana"] {
        let text = std::fs::read_to_string(format!("{directory}/{tool}.sql")).unwrap();
        for (id, sql) in statements(&text) {
            seen += 1;
            let ours = answer(&driftdb, &sql).await;
            let theirs = answer(&postgres, &sql).await;
            match (&ours, &theirs) {
                (Ok(ours), Ok(theirs))
                    if ours != theirs && !different.contains_key(id.as_str()) =>
                {
                    failures.push(format!(
                        "{id}: rows differ\n  DriftDB:    {ours:?}\n  PostgreSQL: {theirs:?}"
                    ))
                }
                (Ok(ours), Ok(theirs)) if ours == theirs && different.contains_key(id.as_str()) => {
                    failures.push(format!("{id}: listed as different, but the rows agree"))
                }
                (Ok(_), Ok(_)) => {}
                _ => failures.push(format!(
                    "{id}: DriftDB {:?}, PostgreSQL {:?}\n{sql}",
                    ours.err(),
                    theirs.err()
                )),
            }
            // `;` and `-- ping` are empty queries, which only the simple protocol sends.
            let empty = sql.trim_start_matches("-- ping").trim() == ";";
            if !empty && let Err(e) = prepare_both(&driftdb, &postgres, &sql).await {
                failures.push(format!("{id} (extended protocol): {e}"));
            }
        }
    }
    assert!(seen >= 80, "only {seen} statements found");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn statements_are_split_at_their_ids() {
    let text = "-- ===\n-- G01  health check\n-- Source: x\n;\n\n-- G02 ping\n-- ping\n;\n\n\
                -- M03  two lines\nSELECT 1\nFROM t;\n";
    let found = statements(text);
    let ids: Vec<&str> = found.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["G01", "G02", "M03"]);
    assert_eq!(found[1].1, "-- ping\n;");
    assert_eq!(found[2].1, "SELECT 1\nFROM t;");
}
