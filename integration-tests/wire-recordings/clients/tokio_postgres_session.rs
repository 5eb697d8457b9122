// The session recorded in tokio-postgres.wire. Run once as a temporary example of the
// integration-tests crate (copy it to examples/, `cargo build --locked --workspace
// --all-targets`, run it with the recording proxy's port, delete it again).

use futures::SinkExt;

#[tokio::main]
async fn main() {
    let port: u16 = std::env::args().nth(1).expect("port").parse().expect("a port");
    let (mut client, connection) = tokio_postgres::Config::new()
        .host("127.0.0.1")
        .port(port)
        .user("tester")
        .dbname("driftdb")
        .connect(tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client
        .batch_execute("CREATE TABLE IF NOT EXISTS wf_tokio (id integer PRIMARY KEY, label text, score real)")
        .await
        .unwrap();
    let insert = client
        .prepare("INSERT INTO wf_tokio VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET score = excluded.score")
        .await
        .unwrap();
    for i in 0..3i32 {
        client.execute(&insert, &[&i, &format!("row {i}"), &(i as f32 * 1.5)]).await.unwrap();
    }
    let select = client.prepare("SELECT id, label, score FROM wf_tokio WHERE id >= $1 ORDER BY id").await.unwrap();
    client.query(&select, &[&1i32]).await.unwrap();
    let transaction = client.transaction().await.unwrap();
    transaction.execute("UPDATE wf_tokio SET label = $1 WHERE id = $2", &[&"changed", &1i32]).await.unwrap();
    let _ = transaction.query_one("SELECT 1 / $1::int", &[&0i32]).await;
    drop(transaction);
    let sink = client.copy_in("COPY wf_tokio (id, label) FROM STDIN").await.unwrap();
    futures::pin_mut!(sink);
    sink.send(bytes::Bytes::from_static(b"10\tten\n11\televen\n")).await.unwrap();
    sink.finish().await.unwrap();
}
