//! Nothing one client sends takes the server down: statements nested too deep fail with 54001
//! (as in PostgreSQL) while deep ones PostgreSQL answers are answered, long flat lists work, a
//! panic fails one statement with XX000, statements needing more memory than the server may use
//! spill or fail with 53200, and connections past the limit, clients that never
//! finish their startup and idle sessions are turned away or ended as PostgreSQL does. After
//! each, the server still answers a fresh connection.

use driftdb_integration_tests::{TestServer, error_code, rows};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

/// The SQLSTATE of a simple query that must fail.
async fn fails_with(client: &Client, sql: &str) -> String {
    match client.simple_query(sql).await {
        Ok(_) => panic!(
            "{} succeeded but was expected to fail",
            &sql[..sql.len().min(200)]
        ),
        Err(e) => error_code(&e),
    }
}

/// The one value of a one-row, one-column simple query.
async fn value(client: &Client, sql: &str) -> String {
    let rows = rows(client, sql).await;
    assert_eq!(rows.len(), 1, "{}", &sql[..sql.len().min(200)]);
    rows[0][0].clone().expect("not NULL")
}

/// The server answers a new connection.
async fn still_answers(server: &TestServer) {
    let client = server.connect().await;
    assert_eq!(value(&client, "SELECT 1").await, "1");
}

fn chain(terms: usize, op: &str) -> String {
    format!("SELECT 1{}", format!(" {op} 1").repeat(terms - 1))
}

fn nested(depth: usize, inner: &str) -> String {
    format!("SELECT {}{inner}{}", "(".repeat(depth), ")".repeat(depth))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_nested_too_deep_fail_with_54001_and_deep_ones_postgresql_answers_work() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let client = server.connect().await;

    // What PostgreSQL answers, and DriftDB within its limits.
    assert_eq!(value(&client, &nested(5000, "1")).await, "1");
    assert_eq!(value(&client, &chain(200, "+")).await, "200");
    let condition = format!("{}1 = 1{}", "(1 = 1 AND ".repeat(60), ")".repeat(60));
    assert_eq!(
        value(
            &client,
            &format!("SELECT count(*) FROM (VALUES (1)) v(x) WHERE {condition}")
        )
        .await,
        "1"
    );
    let subqueries = format!("{}1{}", "(SELECT ".repeat(10), ")".repeat(10));
    assert_eq!(value(&client, &format!("SELECT {subqueries}")).await, "1");
    let functions = format!("{}-1{}", "abs(".repeat(100), ")".repeat(100));
    assert_eq!(value(&client, &format!("SELECT {functions}")).await, "1");
    // Chains of OR and AND as tools generate them are rebalanced, so their length is no limit.
    assert_eq!(
        value(
            &client,
            &format!("SELECT true{}", " AND true".repeat(20_000))
        )
        .await,
        "t"
    );
    let terms: Vec<String> = (0..20_000).map(|i| format!("x = {i}")).collect();
    assert_eq!(
        value(
            &client,
            &format!(
                "SELECT count(*) FROM generate_series(1, 100) x WHERE {}",
                terms.join(" OR ")
            )
        )
        .await,
        "100"
    );

    // What PostgreSQL refuses: each fails alone, the connection goes on.
    for sql in [
        chain(20_000, "+"),
        chain(20_000, "*"),
        chain(20_000, "||"),
        nested(20_000, "1"),
        format!("SELECT {}1", "NOT ".repeat(20_000)),
        format!("SELECT {}1", "- ".repeat(20_000)),
        format!("SELECT 1{}", "::int".repeat(20_000)),
        format!("SELECT 1{}", " UNION ALL SELECT 1".repeat(20_000)),
        format!(
            "SELECT {}1{}",
            "(SELECT ".repeat(20_000),
            ")".repeat(20_000)
        ),
        format!("SELECT {}1{}", "(SELECT ".repeat(30), ")".repeat(30)),
        format!("SELECT {}1{}", "abs(".repeat(20_000), ")".repeat(20_000)),
        format!(
            "SELECT '{}1{}'::jsonb",
            "[".repeat(20_000),
            "]".repeat(20_000)
        ),
    ] {
        assert_eq!(fails_with(&client, &sql).await, "54001", "{}", &sql[..60]);
        assert_eq!(value(&client, "SELECT 2").await, "2");
    }
    // The extended protocol parses the same way.
    let prepared = client.prepare(&chain(20_000, "+")).await.unwrap_err();
    assert_eq!(error_code(&prepared), "54001");
    // Inside a transaction block, the error fails the block as any error does.
    client.batch_execute("BEGIN").await.unwrap();
    assert_eq!(fails_with(&client, &chain(20_000, "+")).await, "54001");
    assert_eq!(fails_with(&client, "SELECT 1").await, "25P02");
    client.batch_execute("ROLLBACK").await.unwrap();
    still_answers(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_flat_lists_are_answered() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let client = server.connect().await;
    let numbers =
        |n: usize, f: &dyn Fn(usize) -> String| (1..=n).map(f).collect::<Vec<_>>().join(", ");
    let values = numbers(50_000, &|i| format!("({i})"));
    assert_eq!(
        value(
            &client,
            &format!("SELECT sum(x) FROM (VALUES {values}) v(x)")
        )
        .await,
        (50_000u64 * 50_001 / 2).to_string()
    );
    let items = numbers(5_000, &|i| i.to_string());
    let row = rows(&client, &format!("SELECT {items}")).await;
    assert_eq!(row[0].len(), 5_000);
    let constants = numbers(100_000, &|i| i.to_string());
    assert_eq!(
        value(
            &client,
            &format!("SELECT count(*) FROM generate_series(1, 10) x WHERE x IN ({constants})")
        )
        .await,
        "10"
    );
    let long = "x".repeat(10 << 20);
    assert_eq!(
        value(&client, &format!("SELECT length('{long}')")).await,
        (10 << 20).to_string()
    );
    client
        .batch_execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
        .await
        .unwrap();
    let inserted = numbers(50_000, &|i| format!("({i}, 'v{i}')"));
    client
        .batch_execute(&format!("INSERT INTO t VALUES {inserted}"))
        .await
        .unwrap();
    assert_eq!(value(&client, "SELECT count(*) FROM t").await, "50000");
    still_answers(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_fails_one_statement_with_xx000_and_every_other_session_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(dir.path(), &[], &[("DRIFTDB_TEST_FUNCTIONS", "1")]);
    let client = server.connect().await;
    let other = server.connect().await;
    client
        .batch_execute("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)")
        .await
        .unwrap();
    other
        .batch_execute("BEGIN; INSERT INTO t VALUES (2)")
        .await
        .unwrap();

    for phase in ["plan", "execute"] {
        let sql = format!("SELECT driftdb_test_panic('{phase}')");
        assert_eq!(fails_with(&client, &sql).await, "XX000", "{phase}");
        assert_eq!(value(&client, "SELECT count(*) FROM t").await, "1");
        let extended = client.query(&sql, &[]).await.unwrap_err();
        assert_eq!(error_code(&extended), "XX000", "{phase}, extended");
    }
    // In a transaction block the panic fails the block, and its writes go with it.
    client
        .batch_execute("BEGIN; INSERT INTO t VALUES (3)")
        .await
        .unwrap();
    let sql = "SELECT driftdb_test_panic('execute') FROM t";
    assert_eq!(fails_with(&client, sql).await, "XX000");
    assert_eq!(fails_with(&client, "SELECT 1").await, "25P02");
    client.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(value(&client, "SELECT count(*) FROM t").await, "1");

    // The other session's transaction was never touched.
    other.batch_execute("COMMIT").await.unwrap();
    assert_eq!(
        value(
            &client,
            "SELECT string_agg(id::text, ',' ORDER BY id) FROM t"
        )
        .await,
        "1,2"
    );
    still_answers(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_test_panic_function_does_not_exist_without_its_environment_variable() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let client = server.connect().await;
    assert_eq!(
        fails_with(&client, "SELECT driftdb_test_panic('execute')").await,
        "42883"
    );
}

/// Connects, returning the connection's own error (the FATAL the server ended it with).
async fn connect_raw(
    server: &TestServer,
) -> Result<
    (
        Client,
        tokio::task::JoinHandle<Result<(), tokio_postgres::Error>>,
    ),
    String,
> {
    let (client, connection) = tokio_postgres::Config::new()
        .host(server.addr().ip().to_string())
        .port(server.addr().port())
        .user("tester")
        .dbname("driftdb")
        .connect(NoTls)
        .await
        .map_err(|e| error_code(&e))?;
    Ok((client, tokio::spawn(connection)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_limit_are_told_53300_and_a_freed_slot_is_reused() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(dir.path(), &["--max-connections", "3"], &[]);
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(connect_raw(&server).await.unwrap());
    }
    assert_eq!(connect_raw(&server).await.err().as_deref(), Some("53300"));
    // A closed connection frees its slot once the server has seen it go.
    let (client, connection) = open.pop().unwrap();
    drop(client);
    connection.await.unwrap().unwrap();
    let mut retries = 0;
    let (client, _connection) = loop {
        match connect_raw(&server).await {
            Ok(connected) => break connected,
            // The server notices the closed socket on its own schedule.
            Err(code) if code == "53300" && retries < 1000 => {
                retries += 1;
                tokio::task::yield_now().await;
            }
            Err(code) => panic!("connecting failed with {code}"),
        }
    };
    assert_eq!(value(&client, "SELECT 1").await, "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_startup_is_disconnected() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(dir.path(), &["--authentication-timeout", "300ms"], &[]);
    let mut silent = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    // Half a startup packet, then nothing.
    use tokio::io::AsyncWriteExt;
    silent.write_all(&[0, 0, 0, 40, 0, 3]).await.unwrap();
    let mut buffer = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(30), silent.read(&mut buffer))
        .await
        .expect("the server closes the connection well within 30 s");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    still_answers(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sessions_end_with_postgresql_timeouts() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let (client, connection) = connect_raw(&server).await.unwrap();
    client
        .batch_execute("SET idle_session_timeout = '100ms'")
        .await
        .unwrap();
    let ended = connection.await.unwrap().unwrap_err();
    assert_eq!(error_code(&ended), "57P05");

    let (client, connection) = connect_raw(&server).await.unwrap();
    client
        .batch_execute("SET idle_in_transaction_session_timeout = '100ms'; BEGIN; SELECT 1")
        .await
        .unwrap();
    let ended = connection.await.unwrap().unwrap_err();
    assert_eq!(error_code(&ended), "25P03");

    // Outside a block, idle_in_transaction_session_timeout does not apply.
    let (client, connection) = connect_raw(&server).await.unwrap();
    client
        .batch_execute("SET idle_in_transaction_session_timeout = '50ms'")
        .await
        .unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(300), connection)
            .await
            .is_err(),
        "the session stays open"
    );
    still_answers(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_needing_more_memory_than_the_limit_spill_or_fail_with_53200() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(dir.path(), &["--memory-limit", "64MB"], &[]);
    let client = server.connect().await;
    for (sql, answer) in [
        // Ten million groups: far more than 64 MB of hash table.
        (
            "SELECT count(*) FROM (SELECT x, count(*) AS n FROM generate_series(1, 10000000) x \
             GROUP BY x) g WHERE n = 1",
            "10000000",
        ),
        // A cross join of two tables, sorted.
        (
            "SELECT count(*) FROM (SELECT a.x AS a, b.x AS b FROM generate_series(1, 3000) a(x), \
             generate_series(1, 1000) b(x) ORDER BY 2 DESC, 1) s",
            "3000000",
        ),
        // 100 values of 100 MB in one batch: more than a batch of text can hold.
        (
            "SELECT max(length(repeat('x', 100000000) || x)) FROM generate_series(1, 100) x",
            "100000003",
        ),
    ] {
        match client.simple_query(sql).await {
            Ok(messages) => {
                let first = messages.iter().find_map(|message| match message {
                    SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
                    _ => None,
                });
                assert_eq!(first.as_deref(), Some(answer), "{sql}");
            }
            Err(e) => assert_eq!(error_code(&e), "53200", "{sql}: {e}"),
        }
        still_answers(&server).await;
    }
}
