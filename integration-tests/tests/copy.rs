//! COPY FROM STDIN and COPY TO STDOUT over the extended protocol (tokio-postgres' copy_in and
//! copy_out), text and CSV, against DriftDB and a real PostgreSQL: the same rows go in and come
//! out, a bad row loads nothing, and an error inside a transaction block fails the block.

use driftdb_integration_tests::postgres::ReferencePostgres;
use driftdb_integration_tests::{TestServer, assert_same_transcript, error_code as code};
use futures::{SinkExt, TryStreamExt};
use tokio_postgres::Client;

async fn copy_in(client: &Client, sql: &str, data: &str) -> Result<u64, String> {
    let sink = client.copy_in(sql).await.map_err(|e| code(&e))?;
    futures::pin_mut!(sink);
    sink.send(bytes::Bytes::from(data.to_string()))
        .await
        .map_err(|e| code(&e))?;
    sink.finish().await.map_err(|e| code(&e))
}

async fn copy_out(client: &Client, sql: &str) -> String {
    let stream = client.copy_out(sql).await.unwrap();
    let chunks: Vec<bytes::Bytes> = stream.try_collect().await.unwrap();
    chunks
        .iter()
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect()
}

async fn scenario(client: &Client) -> Vec<String> {
    let mut seen = Vec::new();
    client
        .batch_execute(
            "CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, born DATE,
                                  score NUMERIC(6,2) DEFAULT 0, note TEXT)",
        )
        .await
        .unwrap();
    let text = "1\tada\t1815-12-10\t9.50\ttab\\there\n2\t\\N\t\\N\t\\N\tback\\\\slash\n";
    seen.push(format!(
        "text in {:?}",
        copy_in(client, "COPY people FROM STDIN", text).await
    ));
    let csv = "id,name,note\n3,\"Lovelace, A\",\"say \"\"hi\"\"\"\n4,,\"\"\n";
    seen.push(format!(
        "csv in {:?}",
        copy_in(
            client,
            "COPY people (id, name, note) FROM STDIN WITH (FORMAT csv, HEADER true)",
            csv
        )
        .await
    ));
    seen.push(format!(
        "bad row {:?}",
        copy_in(
            client,
            "COPY people (id, name) FROM STDIN",
            "5\tok\nsix\tbad\n"
        )
        .await
    ));
    seen.push(format!(
        "missing column {:?}",
        copy_in(client, "COPY people (id, name) FROM STDIN", "7\n").await
    ));
    seen.push(format!(
        "duplicate key {:?}",
        copy_in(client, "COPY people (id) FROM STDIN", "8\n1\n").await
    ));
    seen.push(format!(
        "text out {:?}",
        copy_out(client, "COPY people TO STDOUT").await
    ));
    seen.push(format!(
        "csv out {:?}",
        copy_out(
            client,
            "COPY (SELECT id, name, note FROM people ORDER BY id DESC) TO STDOUT WITH (FORMAT csv, HEADER)"
        )
        .await
    ));
    client.batch_execute("BEGIN").await.unwrap();
    seen.push(format!(
        "in a block {:?}",
        copy_in(client, "COPY people (id) FROM STDIN", "9\nten\n").await
    ));
    seen.push(format!(
        "then {}",
        code(&client.simple_query("SELECT 1").await.unwrap_err())
    ));
    client.batch_execute("ROLLBACK").await.unwrap();
    let count: i64 = client
        .query_one("SELECT count(*) FROM people", &[])
        .await
        .unwrap()
        .get(0);
    seen.push(format!("rows {count}"));
    seen
}

#[tokio::test]
async fn copy_moves_the_same_rows_as_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let driftdb = scenario(&server.connect().await).await;
    let reference = ReferencePostgres::start().expect("the reference PostgreSQL starts");
    let postgres = scenario(&reference.connect().await).await;
    assert_same_transcript("COPY", &driftdb, &postgres);
}
