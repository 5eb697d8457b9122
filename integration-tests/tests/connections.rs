//! Hundreds of concurrent connections, each with its own session state.

use driftdb_integration_tests::TestServer;

#[tokio::test]
async fn three_hundred_connections_keep_their_own_settings() {
    let dir = tempfile::tempdir().unwrap();
    // More than the default limit of 100 connections.
    let server = TestServer::start_with(dir.path(), &["--max-connections", "300"], &[]);
    let mut clients = Vec::new();
    for i in 0..300 {
        let client = server.connect().await;
        client
            .batch_execute(&format!("SET application_name = 'client {i}'"))
            .await
            .unwrap();
        clients.push(client);
    }
    let answers = futures::future::join_all(clients.iter().map(|client| async move {
        let row = client
            .query_one("SELECT current_setting('application_name')", &[])
            .await
            .unwrap();
        row.get::<_, String>(0)
    }))
    .await;
    for (i, answer) in answers.iter().enumerate() {
        assert_eq!(answer, &format!("client {i}"));
    }
}
