//! The README's quick start works over the wire against the real server, and current data and
//! history both survive a crash-restart.

use driftdb_integration_tests::{TestServer, rows, sqlstate_of, text};

/// A server holding the quick start's history: seq 1 wrote 'original', seq 2 'modified'.
async fn quick_start() -> (tempfile::TempDir, TestServer, tokio_postgres::Client) {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE events (id INT PRIMARY KEY, data VARCHAR);
             INSERT INTO events (id, data) VALUES (1, 'original');
             UPDATE events SET data = 'modified' WHERE id = 1;",
        )
        .await
        .unwrap();
    (dir, server, client)
}

#[tokio::test]
async fn the_quick_start_shows_the_past_and_the_present_and_survives_a_restart() {
    let (_dir, server, client) = quick_start().await;
    assert_eq!(
        rows(&client, "SELECT * FROM events AS OF @seq:1").await,
        [text(&["1", "original"])]
    );
    assert_eq!(
        rows(&client, "SELECT * FROM events").await,
        [text(&["1", "modified"])]
    );

    drop(client);
    let server = server.restart();
    let client = server.connect().await;
    assert_eq!(
        rows(&client, "SELECT * FROM events AS OF @seq:1").await,
        [text(&["1", "original"])]
    );
    assert_eq!(
        rows(&client, "SELECT * FROM events").await,
        [text(&["1", "modified"])]
    );
    assert_eq!(
        rows(&client, "SELECT driftdb_current_seq()").await,
        [text(&["2"])]
    );
    client
        .batch_execute("INSERT INTO events VALUES (2, 'after restart')")
        .await
        .unwrap();
    assert_eq!(
        rows(&client, "SELECT driftdb_current_seq()").await,
        [text(&["3"])],
        "the seq counter survived"
    );
}

#[tokio::test]
async fn errors_carry_sqlstates_and_leave_the_connection_usable() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let client = server.connect().await;
    client
        .batch_execute("CREATE TABLE t (id INT PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a')")
        .await
        .unwrap();
    for (sql, sqlstate) in [
        ("SELECT * FROM missing", "42P01"),
        ("SELEKT 1", "42601"),
        ("INSERT INTO t VALUES (1, 'again')", "23505"),
        ("INSERT INTO t VALUES (NULL, 'x')", "23502"),
        ("CREATE TABLE t (id INT PRIMARY KEY)", "42P07"),
        ("SELECT * FROM t AS OF @seq:99", "22023"),
        ("SELECT nope FROM t", "42703"),
        ("INSERT INTO t VALUES ('abc', 'x')", "22P02"),
        ("INSERT INTO t VALUES (3000000000, 'x')", "22003"),
        ("SELECT 1/0", "22012"),
        ("SAVEPOINT outside_a_block", "25P01"),
    ] {
        assert_eq!(sqlstate_of(&client, sql).await, sqlstate, "{sql}");
    }
    assert_eq!(
        rows(&client, "SELECT v FROM t").await,
        [text(&["a"])],
        "failed statements changed nothing"
    );
}

#[tokio::test]
async fn a_failing_statement_stops_the_rest_of_its_query_string() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let client = server.connect().await;
    client
        .batch_execute("CREATE TABLE t (id INT PRIMARY KEY)")
        .await
        .unwrap();
    assert_eq!(
        sqlstate_of(
            &client,
            "INSERT INTO t VALUES (1); INSERT INTO t VALUES (1); INSERT INTO t VALUES (2)"
        )
        .await,
        "23505"
    );
    assert_eq!(rows(&client, "SELECT id FROM t").await, [text(&["1"])]);
    // A syntax error anywhere means nothing runs.
    assert_eq!(
        sqlstate_of(&client, "INSERT INTO t VALUES (3); SELEKT").await,
        "42601"
    );
    assert_eq!(
        rows(&client, "SELECT count(*) FROM t").await,
        [text(&["1"])]
    );
}

#[tokio::test]
async fn only_the_driftdb_database_accepts_connections() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let Err(error) = server.connect_to("postgres").await else {
        panic!("an unknown database was accepted");
    };
    assert_eq!(error.code().map(|c| c.code()), Some("3D000"));
    server.connect().await;
}

#[tokio::test]
async fn sigterm_stops_the_server_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = TestServer::start(dir.path());
    server
        .connect()
        .await
        .batch_execute("CREATE TABLE t (id INT PRIMARY KEY)")
        .await
        .unwrap();
    assert!(server.terminate().success());
}

#[tokio::test]
async fn as_of_a_commit_time_reads_the_state_that_commit_left() {
    let (_dir, _server, client) = quick_start().await;
    let versions = rows(
        &client,
        "SELECT _system_from FROM events FOR SYSTEM_TIME ALL ORDER BY _seq_from",
    )
    .await;
    let first_commit = versions[0][0].clone().expect("a commit time");
    for sql in [
        format!("SELECT data FROM events AS OF TIMESTAMP '{first_commit}'"),
        format!("SELECT data FROM events FOR SYSTEM_TIME AS OF '{first_commit}'"),
    ] {
        assert_eq!(rows(&client, &sql).await, [text(&["original"])], "{sql}");
    }
    assert!(
        rows(
            &client,
            "SELECT data FROM events AS OF '2000-01-01 00:00:00+00'"
        )
        .await
        .is_empty()
    );
    assert_eq!(
        sqlstate_of(
            &client,
            "SELECT data FROM events AS OF '2200-01-01 00:00:00+00'"
        )
        .await,
        "22023"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_get_one_gap_free_seq_per_statement() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    server
        .connect()
        .await
        .batch_execute("CREATE TABLE t (id INT PRIMARY KEY, writer INT)")
        .await
        .unwrap();
    let (writers, inserts) = (4, 25);
    let mut tasks = Vec::new();
    for writer in 0..writers {
        let client = server.connect().await;
        tasks.push(tokio::spawn(async move {
            for i in 0..inserts {
                let id = writer * inserts + i;
                client
                    .batch_execute(&format!("INSERT INTO t VALUES ({id}, {writer})"))
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let client = server.connect().await;
    let total = (writers * inserts).to_string();
    assert_eq!(
        rows(&client, "SELECT driftdb_current_seq()").await,
        [text(&[&total])]
    );
    assert_eq!(
        rows(
            &client,
            "SELECT count(*), count(DISTINCT _seq_from), min(_seq_from), max(_seq_from) FROM t FOR SYSTEM_TIME ALL"
        )
        .await,
        [text(&[&total, &total, "1", &total])],
        "every insert has a seq of its own, with no gaps"
    );
}
