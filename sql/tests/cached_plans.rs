//! Cached plans of prepared queries: a prepared query keeps its plan between executions, binds
//! each execution's values into it, reads only the keys (or index entries) those values pin,
//! sees every execution's own snapshot, and plans afresh when the catalog or the session's
//! settings change; a statement whose plan would freeze something (`now()`, a table function)
//! keeps none.

use datafusion::arrow::util::pretty::pretty_format_batches;
use driftdb_sql::{Database, Prepared, Session, StatementResult};
use futures::TryStreamExt;
use std::sync::Arc;

async fn sql(session: &mut Session, sql: &str) {
    session.execute_sql(sql).await.expect(sql);
}

async fn prepare(session: &mut Session, sql: &str) -> Prepared {
    session
        .prepare(sql, &[])
        .await
        .expect(sql)
        .expect("a statement")
}

/// Runs `prepared` with `values`; its rows as a table, or the error.
async fn run(session: &mut Session, prepared: &Prepared, values: &[Option<&str>]) -> String {
    let values: Vec<Option<String>> = values.iter().map(|v| v.map(str::to_string)).collect();
    let outcome = async {
        let statement = prepared.bind(&values)?;
        match session.execute(statement).await? {
            StatementResult::Query(query) => {
                let batches: Vec<_> = query.stream.try_collect().await?;
                Ok(pretty_format_batches(&batches).unwrap().to_string())
            }
            other => panic!("a query returned {other:?}"),
        }
    }
    .await;
    outcome.unwrap_or_else(|e: driftdb_sql::Error| format!("error {:?}: {}", e.kind, e.message))
}

/// Runs the same query written with its values, planned as a simple query is.
async fn written(session: &mut Session, sql: &str) -> String {
    let results = session.execute_sql(sql).await;
    match results {
        Ok(mut results) => {
            let (_, batches, _) = results.pop().expect("a result");
            pretty_format_batches(&batches).unwrap().to_string()
        }
        Err(e) => format!("error {:?}: {}", e.kind, e.message),
    }
}

async fn database() -> (tempfile::TempDir, Arc<Database>) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let mut session = db.session("tester");
    sql(
        &mut session,
        "CREATE TABLE items (id int PRIMARY KEY, code int, label text, day date);
         CREATE INDEX items_code ON items (code);
         INSERT INTO items SELECT g, g * 10, 'item-' || g, DATE '2026-01-01' + g
             FROM generate_series(1, 200) AS s(g)",
    )
    .await;
    (dir, db)
}

#[tokio::test]
async fn a_bound_plan_reads_only_the_keys_its_values_pin() {
    let (_dir, db) = database().await;
    let mut session = db.session("tester");
    // The key path would take a lookup by the whole primary key or by an index's values alone;
    // these are planned.
    let by_index = prepare(
        &mut session,
        "SELECT id, label FROM items WHERE code = $1 AND label <> ''",
    )
    .await;
    let range = prepare(
        &mut session,
        "SELECT count(*) AS n, min(label) AS first FROM items WHERE id BETWEEN $1 AND $2",
    )
    .await;
    for (code, id) in [("50", 5), ("1990", 199), ("70", 7)] {
        let before = (session.cached_plan_executions(), session.rows_read());
        let rows = run(&mut session, &by_index, &[Some(code)]).await;
        assert!(rows.contains(&format!("item-{id} ")), "{rows}");
        assert_eq!(session.cached_plan_executions(), before.0 + 1);
        assert_eq!(session.rows_read(), before.1 + 1, "one index entry read");
    }
    let before = (session.cached_plan_executions(), session.rows_read());
    let rows = run(&mut session, &range, &[Some("11"), Some("30")]).await;
    assert!(rows.contains("| 20 | item-11 |"), "{rows}");
    assert_eq!(session.cached_plan_executions(), before.0 + 1);
    assert_eq!(session.rows_read(), before.1 + 20, "only the range read");
    // A value nothing matches, and NULL, which matches nothing.
    for values in [[Some("-5")], [None]] {
        let rows = run(&mut session, &by_index, &values).await;
        assert!(
            !rows.contains("item-") && !rows.starts_with("error"),
            "{rows}"
        );
    }
}

#[tokio::test]
async fn a_cached_plan_answers_as_the_written_statement() {
    let (_dir, db) = database().await;
    let mut session = db.session("tester");
    let cases: &[(&str, &[Option<&str>], &str)] = &[
        (
            "SELECT id FROM items WHERE day = $1",
            &[Some("2026-01-05")],
            "SELECT id FROM items WHERE day = CAST('2026-01-05' AS date)",
        ),
        (
            "SELECT id FROM items WHERE day = $1",
            &[Some("2026-01-05 +00")],
            "SELECT id FROM items WHERE day = CAST('2026-01-05 +00' AS date)",
        ),
        (
            "SELECT id, label FROM items WHERE label LIKE $1 ORDER BY id LIMIT 3",
            &[Some("item-19%")],
            "SELECT id, label FROM items WHERE label LIKE 'item-19%' ORDER BY id LIMIT 3",
        ),
        (
            "SELECT code / $1 AS q FROM items WHERE id = 3 OR id = $2",
            &[Some("0"), Some("0")],
            "SELECT code / 0 AS q FROM items WHERE id = 3 OR id = 0",
        ),
        (
            "SELECT id FROM items WHERE code = $1",
            &[Some("ten")],
            "SELECT id FROM items WHERE code = CAST('ten' AS int)",
        ),
        (
            "SELECT id FROM items WHERE code = $1",
            &[Some("99999999999")],
            "SELECT id FROM items WHERE code = CAST('99999999999' AS int)",
        ),
    ];
    for (prepared_sql, values, written_sql) in cases {
        let prepared = prepare(&mut session, prepared_sql).await;
        let bound = run(&mut session, &prepared, values).await;
        let expected = written(&mut session, written_sql).await;
        assert_eq!(bound, expected, "{prepared_sql} with {values:?}");
    }
}

#[tokio::test]
async fn each_execution_reads_its_own_snapshot() {
    let (_dir, db) = database().await;
    let mut session = db.session("tester");
    let mut other = db.session("tester");
    let query = prepare(
        &mut session,
        "SELECT label FROM items WHERE code = $1 AND label <> ''",
    )
    .await;
    assert!(
        run(&mut session, &query, &[Some("30")])
            .await
            .contains("item-3 ")
    );
    sql(
        &mut other,
        "UPDATE items SET label = 'changed' WHERE id = 3",
    )
    .await;
    assert!(
        run(&mut session, &query, &[Some("30")])
            .await
            .contains("changed")
    );
    // Inside a transaction: its own uncommitted rows, and REPEATABLE READ's one snapshot.
    sql(&mut session, "BEGIN ISOLATION LEVEL REPEATABLE READ").await;
    sql(
        &mut session,
        "INSERT INTO items VALUES (500, 5000, 'mine', NULL)",
    )
    .await;
    assert!(
        run(&mut session, &query, &[Some("5000")])
            .await
            .contains("mine")
    );
    sql(&mut other, "UPDATE items SET label = 'later' WHERE id = 3").await;
    assert!(
        run(&mut session, &query, &[Some("30")])
            .await
            .contains("changed")
    );
    sql(&mut session, "COMMIT").await;
    assert!(
        run(&mut session, &query, &[Some("30")])
            .await
            .contains("later")
    );
    assert!(session.cached_plan_executions() >= 5);
}

#[tokio::test]
async fn a_changed_catalog_or_setting_plans_again() {
    let (_dir, db) = database().await;
    let mut session = db.session("tester");
    let mut other = db.session("tester");
    let query = prepare(
        &mut session,
        "SELECT id, label FROM items WHERE code = $1 AND label <> ''",
    )
    .await;
    run(&mut session, &query, &[Some("40")]).await;
    // Another session drops the index the plan used, then renames the column it read.
    sql(&mut other, "DROP INDEX items_code").await;
    let before = session.rows_read();
    assert!(
        run(&mut session, &query, &[Some("40")])
            .await
            .contains("item-4 ")
    );
    assert_eq!(
        session.rows_read(),
        before + 200,
        "the whole table, as no index is left"
    );
    sql(&mut other, "ALTER TABLE items RENAME COLUMN code TO kode").await;
    let renamed = run(&mut session, &query, &[Some("40")]).await;
    assert!(
        renamed.starts_with("error UndefinedColumn") && renamed.contains("code"),
        "{renamed}"
    );
    sql(&mut other, "ALTER TABLE items RENAME COLUMN kode TO code").await;
    // A transaction's own definitions are not the catalog's: it plans with them.
    sql(&mut session, "BEGIN").await;
    sql(
        &mut session,
        "ALTER TABLE items ADD COLUMN extra int DEFAULT 7",
    )
    .await;
    let before = session.cached_plan_executions();
    assert!(
        run(&mut session, &query, &[Some("40")])
            .await
            .contains("item-4 ")
    );
    assert_eq!(session.cached_plan_executions(), before);
    sql(&mut session, "ROLLBACK").await;
    // Turning fast paths off plans every statement.
    sql(&mut session, "SET driftdb.fast_path = off").await;
    let before = session.cached_plan_executions();
    assert!(
        run(&mut session, &query, &[Some("40")])
            .await
            .contains("item-4 ")
    );
    assert_eq!(session.cached_plan_executions(), before);
    sql(&mut session, "SET driftdb.fast_path = on").await;
    run(&mut session, &query, &[Some("40")]).await;
    assert_eq!(session.cached_plan_executions(), before + 1);
}

#[tokio::test]
async fn plans_that_would_freeze_a_value_are_not_kept() {
    let (_dir, db) = database().await;
    let mut session = db.session("tester");
    for query in [
        "SELECT count(*) FROM items WHERE id < $1 AND now() > TIMESTAMPTZ '2000-01-01 00:00:00+00'",
        "SELECT count(*) FROM generate_series(1, 10) AS s(g) WHERE g < $1",
        "SELECT count(*) FROM items FOR SYSTEM_TIME AS OF '@seq:1' WHERE id < $1",
        "SELECT count(*) FROM items WHERE id IN (SELECT id FROM items WHERE code < $1)",
        "SELECT current_setting('application_name') = $1",
    ] {
        let prepared = prepare(&mut session, query).await;
        let before = session.cached_plan_executions();
        let rows = run(&mut session, &prepared, &[Some("5")]).await;
        assert!(!rows.starts_with("error"), "{query}: {rows}");
        assert_eq!(session.cached_plan_executions(), before, "{query}");
    }
}

#[tokio::test]
async fn the_same_text_prepared_again_is_reused_until_the_catalog_changes() {
    let (_dir, db) = database().await;
    let mut session = db.session("tester");
    let mut other = db.session("tester");
    let text = "SELECT * FROM items WHERE code = $1";
    let first = prepare(&mut session, text).await;
    let again = prepare(&mut session, text).await;
    let columns = |p: &Prepared| p.columns().expect("a query").clone();
    assert!(Arc::ptr_eq(&columns(&first), &columns(&again)));
    // Other declared types describe the statement afresh.
    let declared = [Some(datafusion::arrow::datatypes::Field::new(
        "",
        datafusion::arrow::datatypes::DataType::Int64,
        true,
    ))];
    let typed = session.prepare(text, &declared).await.unwrap().unwrap();
    assert_eq!(
        typed.params()[0].data_type(),
        &datafusion::arrow::datatypes::DataType::Int64
    );
    // A new column shows in the statement prepared after it was added.
    sql(
        &mut other,
        "ALTER TABLE items ADD COLUMN extra int DEFAULT 7",
    )
    .await;
    let after = prepare(&mut session, text).await;
    assert_eq!(columns(&first).fields().len(), 4);
    assert_eq!(columns(&after).fields().len(), 5);
    let rows = run(&mut session, &after, &[Some("30")]).await;
    assert!(rows.contains("| 7     |"), "{rows}");
}
