//! Transactions under concurrent clients over the wire: money transfers (total conserved, no
//! overdraft, at every seq of history), a counter that loses no update, a uniqueness race,
//! write skew under SERIALIZABLE, and the transaction status every ReadyForQuery reports.

use driftdb_integration_tests::raw::{Answer, RawClient};
use driftdb_integration_tests::transfers::{self, single_value};
use driftdb_integration_tests::{TestServer, rows};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio_postgres::error::SqlState;

const ACCOUNTS: u32 = 10;
const OPENING_BALANCE: i64 = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_transfers_conserve_money_at_every_seq() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let client = server.connect().await;
    transfers::create_accounts(&client, ACCOUNTS, OPENING_BALANCE).await;
    let total = ACCOUNTS as i64 * OPENING_BALANCE;

    // A reader checks the invariant while the writers run: it never sees a transfer in part.
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (done, reader) = (done.clone(), server.connect().await);
        tokio::spawn(async move {
            let mut reads = 0u64;
            while !done.load(Ordering::Acquire) {
                let row = rows(&reader, "SELECT sum(balance), min(balance) FROM accounts").await;
                assert_eq!(
                    row[0][0].as_deref(),
                    Some(total.to_string().as_str()),
                    "{row:?}"
                );
                let min: i64 = row[0][1].as_deref().unwrap().parse().unwrap();
                assert!(min >= 0, "an overdrawn account: {row:?}");
                reads += 1;
            }
            reads
        })
    };
    let mode = transfers::Mode::RepeatableRead;
    let (report, _) = transfers::run(|| server.connect(), mode, 8, ACCOUNTS, 40).await;
    done.store(true, Ordering::Release);
    assert!(reader.await.unwrap() > 0);
    assert_eq!(report.committed + report.refused, 8 * 40);

    let sum = rows(&client, "SELECT sum(balance), min(balance) FROM accounts").await;
    assert_eq!(sum[0][0].as_deref(), Some(total.to_string().as_str()));
    assert!(sum[0][1].as_deref().unwrap().parse::<i64>().unwrap() >= 0);
    // One seq per committed transfer (two rows each), none for refused or aborted ones ...
    let commits = rows(
        &client,
        "SELECT count(*), min(row_count), max(row_count) FROM driftdb_commits WHERE seq > 1",
    )
    .await;
    assert_eq!(
        commits[0],
        [
            Some(report.committed.to_string()),
            Some("2".into()),
            Some("2".into())
        ]
    );
    // ... and the total was right after every one of them.
    let latest: u64 = single_value(&client, "SELECT driftdb_current_seq()")
        .await
        .unwrap()
        .parse()
        .unwrap();
    for seq in 1..=latest {
        let sum = single_value(
            &client,
            &format!("SELECT sum(balance) FROM accounts AS OF @seq:{seq}"),
        )
        .await
        .unwrap();
        assert_eq!(sum, total.to_string(), "total as of seq {seq}");
    }
}

/// The same transfers as an application written for READ COMMITTED makes them, with no
/// retries: writers of one account wait for each other, none fails, the total holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn read_committed_transfers_without_retries_conserve_money() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let client = server.connect().await;
    transfers::create_accounts(&client, ACCOUNTS, OPENING_BALANCE).await;
    let mode = transfers::Mode::ReadCommitted;
    let (report, _) = transfers::run(|| server.connect(), mode, 8, ACCOUNTS, 40).await;
    assert_eq!(report.committed + report.refused, 8 * 40);
    assert_eq!(report.aborted, 0);
    let sum = rows(&client, "SELECT sum(balance), min(balance) FROM accounts").await;
    let total = ACCOUNTS as i64 * OPENING_BALANCE;
    assert_eq!(sum[0][0].as_deref(), Some(total.to_string().as_str()));
    assert!(sum[0][1].as_deref().unwrap().parse::<i64>().unwrap() >= 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_contended_counter_loses_no_update() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let client = server.connect().await;
    client
        .batch_execute("CREATE TABLE counter (id INT PRIMARY KEY, n BIGINT); INSERT INTO counter VALUES (1, 0)")
        .await
        .unwrap();
    let aborts = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (client, aborts) = (server.connect().await, aborts.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..20 {
                // Autocommit: the server re-runs an increment that lost a conflict.
                client
                    .batch_execute("UPDATE counter SET n = n + 1 WHERE id = 1")
                    .await
                    .unwrap();
                // Read, then write what was read plus one: REPEATABLE READ refuses the lost update.
                loop {
                    let attempt = async {
                        client
                            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
                            .await?;
                        let n: i64 = single_value(&client, "SELECT n FROM counter WHERE id = 1")
                            .await?
                            .parse()
                            .unwrap();
                        client
                            .batch_execute(&format!(
                                "UPDATE counter SET n = {} WHERE id = 1; COMMIT",
                                n + 1
                            ))
                            .await
                    };
                    match attempt.await {
                        Ok(()) => break,
                        Err(e) if e.code() == Some(&SqlState::T_R_SERIALIZATION_FAILURE) => {
                            aborts.fetch_add(1, Ordering::Relaxed);
                            client.batch_execute("ROLLBACK").await.unwrap();
                        }
                        Err(e) => panic!("{e:?}"),
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(
        single_value(&client, "SELECT n FROM counter")
            .await
            .unwrap(),
        (8 * 20 * 2).to_string()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_racing_inserts_of_one_key_exactly_one_commits() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let client = server.connect().await;
    client
        .batch_execute("CREATE TABLE claims (item INT PRIMARY KEY, owner INT)")
        .await
        .unwrap();
    const ITEMS: usize = 30;
    let mut tasks = Vec::new();
    for owner in 0..8 {
        let client = server.connect().await;
        tasks.push(tokio::spawn(async move {
            let mut won = Vec::new();
            for item in 0..ITEMS {
                let claim = format!("BEGIN; INSERT INTO claims VALUES ({item}, {owner}); COMMIT");
                match client.batch_execute(&claim).await {
                    Ok(()) => won.push(item),
                    Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                        client.batch_execute("ROLLBACK").await.unwrap();
                    }
                    Err(e) => panic!("{e:?}"),
                }
            }
            (owner, won)
        }));
    }
    let mut winners = vec![Vec::new(); ITEMS];
    for task in tasks {
        let (owner, won) = task.await.unwrap();
        for item in won {
            winners[item].push(owner);
        }
    }
    for (item, owners) in winners.iter().enumerate() {
        assert_eq!(owners.len(), 1, "item {item} was claimed by {owners:?}");
        let stored = single_value(
            &client,
            &format!("SELECT owner FROM claims WHERE item = {item}"),
        )
        .await
        .unwrap();
        assert_eq!(stored, owners[0].to_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn write_skew_never_commits_under_serializable() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let client = server.connect().await;
    client
        .batch_execute("CREATE TABLE doctors (id INT PRIMARY KEY, on_call BOOLEAN)")
        .await
        .unwrap();
    let (a, b) = (server.connect().await, server.connect().await);
    for round in 0..25 {
        client
            .batch_execute("DELETE FROM doctors; INSERT INTO doctors VALUES (1, true), (2, true)")
            .await
            .unwrap();
        let (ra, rb) = tokio::join!(go_off_call(&a, 1), go_off_call(&b, 2));
        for result in [&ra, &rb] {
            if let Err(e) = result {
                assert_eq!(
                    e.code(),
                    Some(&SqlState::T_R_SERIALIZATION_FAILURE),
                    "{e:?}"
                );
            }
        }
        let on_call = single_value(&client, "SELECT count(*) FROM doctors WHERE on_call")
            .await
            .unwrap();
        assert_eq!(
            on_call, "1",
            "round {round}: write skew committed ({ra:?}, {rb:?})"
        );
    }
}

/// Goes off call in a SERIALIZABLE transaction if someone else still is; rolls back on failure.
async fn go_off_call(
    client: &tokio_postgres::Client,
    me: i32,
) -> Result<(), tokio_postgres::Error> {
    let sql = format!(
        "BEGIN ISOLATION LEVEL SERIALIZABLE; \
         UPDATE doctors SET on_call = false WHERE id = {me} \
           AND (SELECT count(*) FROM doctors WHERE on_call) >= 2; \
         COMMIT"
    );
    let result = client.batch_execute(&sql).await;
    if result.is_err() {
        client.batch_execute("ROLLBACK").await.unwrap();
    }
    result
}

fn answer(results: &[&str], status: char) -> Answer {
    Answer {
        results: results.iter().map(|r| r.to_string()).collect(),
        status,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_for_query_reports_idle_in_transaction_and_failed() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let other = server.connect().await;
    other
        .batch_execute("CREATE TABLE t (id INT PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 0)")
        .await
        .unwrap();
    let mut raw = RawClient::connect(server.addr()).await;
    assert_eq!(raw.query("SELECT 1").await, answer(&["SELECT 1"], 'I'));
    assert_eq!(raw.query("BEGIN").await, answer(&["BEGIN"], 'T'));
    assert_eq!(
        raw.query("INSERT INTO t VALUES (2, 0)").await,
        answer(&["INSERT 0 1"], 'T')
    );
    assert_eq!(raw.query("SELECT 1/0").await, answer(&["ERROR 22012"], 'E'));
    assert_eq!(raw.query("SELECT 1").await, answer(&["ERROR 25P02"], 'E'));
    assert_eq!(raw.query("COMMIT").await, answer(&["ROLLBACK"], 'I'));
    assert_eq!(
        single_value(&other, "SELECT count(*) FROM t")
            .await
            .unwrap(),
        "1"
    );

    assert_eq!(
        raw.query("BEGIN ISOLATION LEVEL SERIALIZABLE; SAVEPOINT s; SELECT 1/0")
            .await,
        answer(&["BEGIN", "SAVEPOINT", "ERROR 22012"], 'E')
    );
    assert_eq!(
        raw.query("ROLLBACK TO SAVEPOINT s").await,
        answer(&["ROLLBACK"], 'T')
    );
    assert_eq!(
        raw.query("SELECT count(*) FROM t WHERE v = 0").await,
        answer(&["SELECT 1"], 'T')
    );
    assert_eq!(
        raw.query("UPDATE t SET v = 1 WHERE id = 1").await,
        answer(&["UPDATE 1"], 'T')
    );
    // Another session adds a row the transaction's read would have seen: this COMMIT fails
    // and ends the transaction.
    other
        .batch_execute("INSERT INTO t VALUES (3, 0)")
        .await
        .unwrap();
    assert_eq!(raw.query("COMMIT").await, answer(&["ERROR 40001"], 'I'));
    assert_eq!(
        single_value(&other, "SELECT v FROM t WHERE id = 1")
            .await
            .unwrap(),
        "0"
    );
    assert_eq!(raw.query("ROLLBACK").await, answer(&["ROLLBACK"], 'I'));
}
