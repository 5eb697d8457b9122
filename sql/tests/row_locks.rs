//! Row locks between sessions of one database: a writer of a row another open transaction
//! wrote waits for it, then works on what it committed (READ COMMITTED), fails with 40001
//! (REPEATABLE READ), or proceeds on the old row when the other rolls back; waits in a cycle
//! fail one transaction with 40P01; `lock_timeout` bounds a wait. Each scenario runs on the key
//! path (`WHERE id = 1`) and on the planned path (`WHERE id = 1 AND v IS NOT NULL`).
//!
//! A waiting statement runs in a task of its own; the test sees it wait through
//! [`Database::lock_waits`], so nothing here sleeps or depends on timing.

use datafusion::arrow::util::display::array_value_to_string;
use driftdb_sql::{Database, ErrorKind, Session};
use std::sync::Arc;
use tokio::task::JoinHandle;

/// The two ways a statement finds its row.
const PATHS: [&str; 2] = ["id = 1", "id = 1 AND v IS NOT NULL"];

async fn database() -> (tempfile::TempDir, Arc<Database>) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let mut session = db.session("tester");
    run(&mut session, "CREATE TABLE t (id int PRIMARY KEY, v int)")
        .await
        .unwrap();
    run(&mut session, "INSERT INTO t VALUES (1, 1), (2, 2)")
        .await
        .unwrap();
    (dir, db)
}

/// Runs `sql`; the row count of its last statement, or its error.
async fn run(session: &mut Session, sql: &str) -> Result<u64, driftdb_sql::Error> {
    let results = session.execute_sql(sql).await?;
    Ok(results.last().and_then(|(_, _, tag)| tag.rows).unwrap_or(0))
}

/// The one value `sql` returns, as text.
async fn value(session: &mut Session, sql: &str) -> String {
    let results = session.execute_sql(sql).await.expect(sql);
    let (_, batches, _) = results.last().expect("a result");
    array_value_to_string(batches[0].column(0), 0).unwrap()
}

/// Runs `sql` on `session` in a task of its own and returns once the statement waits for a
/// row lock (it must not finish first).
async fn waiting(
    db: &Arc<Database>,
    mut session: Session,
    sql: &str,
) -> JoinHandle<(Session, Result<u64, driftdb_sql::Error>)> {
    let waits_before = db.lock_waits();
    let sql = sql.to_string();
    let task = tokio::spawn(async move {
        let result = run(&mut session, &sql).await;
        (session, result)
    });
    while db.lock_waits() == waits_before {
        assert!(!task.is_finished(), "the statement did not wait");
        tokio::task::yield_now().await;
    }
    task
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_committed_writer_waits_and_updates_the_committed_row() {
    for path in PATHS {
        let (_dir, db) = database().await;
        let mut first = db.session("tester");
        run(&mut first, "BEGIN").await.unwrap();
        let sql = format!("UPDATE t SET v = v + 10 WHERE {path}");
        assert_eq!(run(&mut first, &sql).await.unwrap(), 1);
        let second = db.session("tester");
        let sql = format!("UPDATE t SET v = v * 10 WHERE {path}");
        let task = waiting(&db, second, &sql).await;
        run(&mut first, "COMMIT").await.unwrap();
        let (mut second, result) = task.await.unwrap();
        assert_eq!(result.unwrap(), 1, "{path}");
        // (1 + 10) * 10: the waiter worked on the committed row, no update was lost.
        assert_eq!(
            value(&mut second, "SELECT v FROM t WHERE id = 1").await,
            "110"
        );
        // Each commit has a seq of its own, the waiter's after the one it waited for.
        let versions = value(
            &mut second,
            "SELECT string_agg(v::text, ',' ORDER BY _seq_from) FROM t FOR SYSTEM_TIME ALL \
             WHERE id = 1",
        )
        .await;
        assert_eq!(versions, "1,11,110", "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_that_no_longer_matches_is_skipped_and_a_deleted_one_is_gone() {
    for path in PATHS {
        let (_dir, db) = database().await;
        let mut first = db.session("tester");
        run(&mut first, "BEGIN").await.unwrap();
        run(&mut first, "UPDATE t SET v = 5 WHERE id = 1")
            .await
            .unwrap();
        run(&mut first, "DELETE FROM t WHERE id = 2").await.unwrap();
        // The WHERE clause is checked again on the committed row: v is 5 now, not 1.
        let sql = format!("UPDATE t SET v = 0 WHERE {path} AND v = 1");
        let on_one = waiting(&db, db.session("tester"), &sql).await;
        let sql = format!("DELETE FROM t WHERE {}", path.replace("id = 1", "id = 2"));
        let on_two = waiting(&db, db.session("tester"), &sql).await;
        run(&mut first, "COMMIT").await.unwrap();
        assert_eq!(on_one.await.unwrap().1.unwrap(), 0, "{path}");
        assert_eq!(on_two.await.unwrap().1.unwrap(), 0, "{path}");
        assert_eq!(value(&mut first, "SELECT v FROM t WHERE id = 1").await, "5");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_lets_the_waiter_go_on_with_the_old_row() {
    for path in PATHS {
        let (_dir, db) = database().await;
        let mut first = db.session("tester");
        run(&mut first, "BEGIN").await.unwrap();
        run(&mut first, "UPDATE t SET v = 100 WHERE id = 1")
            .await
            .unwrap();
        let sql = format!("UPDATE t SET v = v + 1 WHERE {path}");
        let task = waiting(&db, db.session("tester"), &sql).await;
        run(&mut first, "ROLLBACK").await.unwrap();
        assert_eq!(task.await.unwrap().1.unwrap(), 1);
        assert_eq!(value(&mut first, "SELECT v FROM t WHERE id = 1").await, "2");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeatable_read_fails_at_the_statement_that_waited() {
    for path in PATHS {
        let (_dir, db) = database().await;
        let mut second = db.session("tester");
        run(&mut second, "BEGIN ISOLATION LEVEL REPEATABLE READ")
            .await
            .unwrap();
        assert_eq!(
            value(&mut second, "SELECT v FROM t WHERE id = 1").await,
            "1"
        );
        let mut first = db.session("tester");
        run(&mut first, "BEGIN").await.unwrap();
        run(&mut first, "UPDATE t SET v = 7 WHERE id = 1")
            .await
            .unwrap();
        let sql = format!("UPDATE t SET v = v + 1 WHERE {path}");
        let task = waiting(&db, second, &sql).await;
        run(&mut first, "COMMIT").await.unwrap();
        let (mut second, result) = task.await.unwrap();
        let error = result.unwrap_err();
        assert_eq!(error.kind, ErrorKind::SerializationFailure, "{path}");
        assert_eq!(
            error.message,
            "could not serialize access due to concurrent update"
        );
        run(&mut second, "ROLLBACK").await.unwrap();
        // A row nobody else changed is written without a wait or an error.
        run(&mut second, "BEGIN ISOLATION LEVEL REPEATABLE READ")
            .await
            .unwrap();
        let sql = format!("UPDATE t SET v = v + 1 WHERE {path}");
        assert_eq!(run(&mut second, &sql).await.unwrap(), 1);
        run(&mut second, "COMMIT").await.unwrap();
        assert_eq!(value(&mut first, "SELECT v FROM t WHERE id = 1").await, "8");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_in_a_cycle_fail_one_transaction_with_a_deadlock() {
    let (_dir, db) = database().await;
    let (mut first, mut second) = (db.session("tester"), db.session("tester"));
    run(&mut first, "BEGIN; UPDATE t SET v = 10 WHERE id = 1")
        .await
        .unwrap();
    run(&mut second, "BEGIN; UPDATE t SET v = 20 WHERE id = 2")
        .await
        .unwrap();
    let task = waiting(&db, first, "UPDATE t SET v = 11 WHERE id = 2").await;
    let error = run(&mut second, "UPDATE t SET v = 21 WHERE id = 1 AND v > 0")
        .await
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::DeadlockDetected);
    run(&mut second, "ROLLBACK").await.unwrap();
    let (mut first, result) = task.await.unwrap();
    assert_eq!(result.unwrap(), 1);
    run(&mut first, "COMMIT").await.unwrap();
    assert_eq!(
        value(
            &mut first,
            "SELECT string_agg(v::text, ',' ORDER BY id) FROM t"
        )
        .await,
        "10,11"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_timeout_ends_a_wait_with_55p03() {
    let (_dir, db) = database().await;
    let (mut first, mut second) = (db.session("tester"), db.session("tester"));
    run(&mut first, "BEGIN; DELETE FROM t WHERE id = 1")
        .await
        .unwrap();
    run(&mut second, "SET lock_timeout = '20ms'").await.unwrap();
    let error = run(&mut second, "UPDATE t SET v = 0 WHERE id = 1")
        .await
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::LockNotAvailable);
    assert_eq!(error.message, "canceling statement due to lock timeout");
    assert_eq!(db.lock_waits(), 0);
    run(&mut first, "ROLLBACK").await.unwrap();
    assert_eq!(
        run(&mut second, "UPDATE t SET v = 0 WHERE id = 1")
            .await
            .unwrap(),
        1
    );
}

/// Many clients incrementing one counter in READ COMMITTED transactions, without retries:
/// every increment counts and none fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_increments_are_never_lost() {
    for path in PATHS {
        let (_dir, db) = database().await;
        let clients: Vec<_> = (0..8)
            .map(|_| {
                let mut session = db.session("tester");
                let sql = format!("BEGIN; UPDATE t SET v = v + 1 WHERE {path}; COMMIT");
                tokio::spawn(async move {
                    for _ in 0..25 {
                        run(&mut session, &sql).await.unwrap();
                    }
                })
            })
            .collect();
        for client in clients {
            client.await.unwrap();
        }
        let mut session = db.session("tester");
        assert_eq!(
            value(&mut session, "SELECT v FROM t WHERE id = 1").await,
            "201"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_for_update_waits_returns_the_new_row_and_holds_it() {
    let (_dir, db) = database().await;
    let mut first = db.session("tester");
    run(&mut first, "BEGIN; UPDATE t SET v = 50 WHERE id = 1")
        .await
        .unwrap();
    let mut second = db.session("tester");
    run(&mut second, "BEGIN").await.unwrap();
    let task = waiting(&db, second, "SELECT v FROM t WHERE id = 1 FOR UPDATE").await;
    run(&mut first, "COMMIT").await.unwrap();
    let (mut second, result) = task.await.unwrap();
    result.unwrap();
    let mut third = db.session("tester");
    let error = run(&mut third, "SELECT * FROM t WHERE id = 1 FOR SHARE NOWAIT")
        .await
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::LockNotAvailable);
    assert_eq!(
        error.message,
        "could not obtain lock on row in relation \"t\""
    );
    // Other rows are free; SKIP LOCKED passes over the held one.
    assert_eq!(
        value(
            &mut third,
            "SELECT id FROM t ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"
        )
        .await,
        "2"
    );
    run(&mut second, "COMMIT").await.unwrap();
    assert_eq!(
        value(&mut third, "SELECT v FROM t WHERE id = 1 FOR SHARE NOWAIT").await,
        "50"
    );
}
