//! Cancel requests and `statement_timeout` stop a running statement with SQLSTATE 57014 and
//! leave the connection usable, in the simple and the extended protocol, inside and outside a
//! transaction block. Each scenario runs against DriftDB and against a real PostgreSQL.

use driftdb_integration_tests::postgres::ReferencePostgres;
use driftdb_integration_tests::{TestServer, error_code};
use std::time::Duration;
use tokio_postgres::{Client, NoTls};

/// Counts ten billion rows: minutes of work, so it only ends early by being interrupted.
const ENDLESS: &str = "SELECT count(*) FROM generate_series(1, 10000000000)";

fn sqlstate(result: Result<impl std::fmt::Debug, tokio_postgres::Error>) -> String {
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(e) => error_code(&e),
    }
}

/// Runs `ENDLESS` (simple protocol when `simple`) and cancels it from another connection. A
/// cancel request that arrives before the statement starts does nothing, so it is repeated
/// until the statement ends.
async fn cancelled(client: &Client, simple: bool) -> String {
    let token = client.cancel_token();
    let query = async {
        match simple {
            true => client.simple_query(ENDLESS).await.map(|_| ()),
            false => client.query(ENDLESS, &[]).await.map(|_| ()),
        }
    };
    tokio::pin!(query);
    for _ in 0..600 {
        token.cancel_query(NoTls).await.unwrap();
        if let Ok(result) = tokio::time::timeout(Duration::from_millis(50), &mut query).await {
            return sqlstate(result);
        }
    }
    panic!("the statement was not cancelled within 30 s");
}

async fn scenario(client: &Client) -> Vec<String> {
    let mut seen = Vec::new();
    seen.push(format!("simple {}", cancelled(client, true).await));
    seen.push(format!("extended {}", cancelled(client, false).await));
    let one: i32 = client
        .query_one("SELECT 1::int4", &[])
        .await
        .unwrap()
        .get(0);
    seen.push(format!("usable {one}"));

    client
        .batch_execute("SET statement_timeout = 200")
        .await
        .unwrap();
    seen.push(format!(
        "timeout {}",
        sqlstate(client.simple_query(ENDLESS).await)
    ));
    seen.push(format!(
        "timeout extended {}",
        sqlstate(client.query(ENDLESS, &[]).await)
    ));
    client.batch_execute("BEGIN").await.unwrap();
    seen.push(format!(
        "in a block {}",
        sqlstate(client.simple_query(ENDLESS).await)
    ));
    seen.push(format!(
        "then {}",
        sqlstate(client.simple_query("SELECT 1").await)
    ));
    client.batch_execute("ROLLBACK").await.unwrap();
    client
        .batch_execute("RESET statement_timeout")
        .await
        .unwrap();
    let one: i32 = client
        .query_one("SELECT 1::int4", &[])
        .await
        .unwrap()
        .get(0);
    seen.push(format!("usable {one}"));
    seen
}

#[tokio::test]
async fn cancel_and_statement_timeout_interrupt_as_in_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let driftdb = scenario(&server.connect().await).await;
    assert_eq!(
        driftdb,
        [
            "simple 57014",
            "extended 57014",
            "usable 1",
            "timeout 57014",
            "timeout extended 57014",
            "in a block 57014",
            "then 25P02",
            "usable 1"
        ]
    );
    let reference = ReferencePostgres::start().expect("the reference PostgreSQL starts");
    let postgres = scenario(&reference.connect().await).await;
    assert_eq!(driftdb, postgres);
}
