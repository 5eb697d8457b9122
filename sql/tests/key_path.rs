//! The key path against the full path: two databases get the same random statements, one with
//! `driftdb.fast_path` on and one with it off, each through two sessions taking turns (so
//! transactions overlap and conflict alike), and every result must be the same — rows, column
//! names, types and wire metadata, command tags, errors (kind and message) and notices.
//!
//! Keys of several types (int, bigint, smallint, text, numeric, date, a composite key) are named
//! by literals and by bound parameters, valid, missing, NULL, out of range and of the wrong
//! type; writes, constraint violations, all three isolation levels and savepoints run between
//! the reads. The seed is fixed; `KEY_PATH_SEED` and `KEY_PATH_STATEMENTS` run others.

use datafusion::arrow::util::pretty::pretty_format_batches;
use driftdb_sql::{Database, Session, StatementResult, TransactionStatus};
use futures::TryStreamExt;
use std::fmt::Write;
use std::sync::Arc;

struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const SCHEMA: &str = "
    CREATE TABLE t_int (id int PRIMARY KEY, v int NOT NULL CHECK (v < 1000), s text);
    CREATE TABLE t_big (k bigint PRIMARY KEY, v int);
    CREATE TABLE t_small (k smallint PRIMARY KEY, v int);
    CREATE TABLE t_text (k text PRIMARY KEY, v int, u int UNIQUE);
    CREATE TABLE t_num (k numeric(8,2) PRIMARY KEY, v int);
    CREATE TABLE t_date (d date PRIMARY KEY, v int DEFAULT 7);
    CREATE TABLE t_comp (a int, b text, v int, PRIMARY KEY (a, b));
    CREATE TABLE t_child (id int PRIMARY KEY, parent int REFERENCES t_int (id));
    INSERT INTO t_int SELECT g, g * 2, 's' || g FROM generate_series(1, 20) AS s(g);
    INSERT INTO t_big VALUES (1, 1), (5000000000, 2), (-3, 3);
    INSERT INTO t_small VALUES (1, 1), (-2, 2), (300, 3);
    INSERT INTO t_text VALUES ('a', 1, 1), ('b', 2, 2), ('A', 3, 3), ('', 4, 4);
    INSERT INTO t_num VALUES (1, 1), (1.5, 2), (2.25, 3);
    INSERT INTO t_date VALUES ('2024-01-01', 1), ('2024-02-29', 2);
    INSERT INTO t_comp VALUES (1, 'x', 1), (1, 'y', 2), (2, 'x', 3);
    INSERT INTO t_child VALUES (1, 1), (2, 2);
";

/// Each table: its name, its key columns, and constants to name keys with (SQL literals).
const KEYS: &[(&str, &[&str], &[&str])] = &[
    (
        "t_int",
        &["id"],
        &[
            "1",
            "5",
            "20",
            "21",
            "-1",
            "0",
            "NULL",
            "'3'",
            "'03'",
            "' 3'",
            "'x'",
            "1.5",
            "2.0",
            "3000000000",
            "CAST('4' AS int)",
            "'6'::bigint",
            "CAST(7 AS smallint)",
            "CAST('8' AS text)",
            "CAST('9' AS numeric)",
            "CAST('x' AS int)",
            "(10)",
            "-(-11)",
        ],
    ),
    (
        "t_big",
        &["k"],
        &[
            "1",
            "5000000000",
            "-3",
            "2",
            "'5000000000'",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "NULL",
            "CAST('1' AS bigint)",
        ],
    ),
    (
        "t_small",
        &["k"],
        &[
            "1",
            "-2",
            "300",
            "70000",
            "'300'",
            "NULL",
            "CAST('1' AS smallint)",
            "CAST(-2 AS int)",
        ],
    ),
    (
        "t_text",
        &["k"],
        &[
            "'a'",
            "'A'",
            "'b'",
            "''",
            "'c'",
            "1",
            "NULL",
            "CAST('a' AS text)",
            "CAST('a' AS varchar)",
            "CAST('ab' AS varchar(1))",
            "'a'::char(3)",
            "E'a'",
        ],
    ),
    (
        "t_num",
        &["k"],
        &[
            "1",
            "1.5",
            "1.50",
            "2.25",
            "2.250",
            "'1.5'",
            "'1.50'",
            "3",
            "NULL",
            "CAST('1.5' AS numeric)",
            "CAST('1.5' AS numeric(8,2))",
            "1.505",
            "123456789",
        ],
    ),
    (
        "t_date",
        &["d"],
        &[
            "'2024-01-01'",
            "'2024-02-29'",
            "'2024-1-1'",
            "'2023-02-29'",
            "'x'",
            "NULL",
            "DATE '2024-01-01'",
            "CAST('2024-02-29' AS date)",
            "20240101",
            "'2024-01-01 00:00'",
        ],
    ),
    (
        "t_comp",
        &["a", "b"],
        &[
            "1",
            "2",
            "3",
            "'x'",
            "'y'",
            "NULL",
            "'1'",
            "CAST('1' AS int)",
        ],
    ),
];

/// The bound parameter values (text form, `None` for NULL) a key may be named with.
const PARAMETERS: &[Option<&str>] = &[
    Some("1"),
    Some("5"),
    Some("21"),
    Some("-3"),
    Some("300"),
    Some("a"),
    Some("A"),
    Some(""),
    Some("1.5"),
    Some("2024-01-01"),
    Some("x"),
    Some("70000"),
    Some("5000000000"),
    None,
];

fn key_condition(random: &mut Random, qualifier: &str, keys: &[&str], values: &[&str]) -> String {
    let mut parts: Vec<String> = keys
        .iter()
        .map(|key| {
            let value = random.pick(values);
            let column = match random.below(3) {
                0 if !qualifier.is_empty() => format!("{qualifier}.{key}"),
                _ => key.to_string(),
            };
            match random.below(4) {
                0 => format!("{value} = {column}"),
                1 => format!("({column} = {value})"),
                _ => format!("{column} = {value}"),
            }
        })
        .collect();
    if random.below(10) == 0 {
        // Not a key path: a key pinned twice, or a further condition.
        parts.push(match random.below(2) {
            0 => format!("{} = {}", keys[0], random.pick(values)),
            _ => "v > 0".to_string(),
        });
    }
    if random.below(2) == 0 {
        parts.reverse();
    }
    parts.join(" AND ")
}

/// A random SELECT naming a row by its key.
fn point_select(random: &mut Random) -> String {
    let (table, keys, values) = *random.pick(KEYS);
    let (from, qualifier) = match random.below(4) {
        0 => (format!("{table} AS q"), "q"),
        1 => (format!("public.{table}"), table),
        _ => (table.to_string(), table),
    };
    let columns = match random.below(7) {
        0 => "*".to_string(),
        1 => format!("{qualifier}.*"),
        2 => format!("v, {}", keys.join(", ")),
        3 => format!("{qualifier}.v AS value"),
        4 => "v AS \"Value\", v".to_string(),
        5 => "*, v".to_string(),
        _ => format!("{} AS key, v", keys[0]),
    };
    let condition = key_condition(random, qualifier, keys, values);
    let tail = match random.below(12) {
        0 => " LIMIT 1",
        1 => " ORDER BY v",
        2 => " FOR UPDATE",
        _ => "",
    };
    format!("SELECT {columns} FROM {from} WHERE {condition}{tail}")
}

/// A random UPDATE or DELETE naming a row by its key (on the key path when the values allow).
fn key_write(random: &mut Random) -> String {
    let (table, keys, values) = *random.pick(KEYS);
    let (target, qualifier) = match random.below(3) {
        0 => (format!("{table} AS q"), "q"),
        _ => (table.to_string(), table),
    };
    let condition = key_condition(random, qualifier, keys, values);
    if random.below(4) == 0 {
        return format!("DELETE FROM {target} WHERE {condition}");
    }
    let value = match random.below(16) {
        0 => "v + 1",
        1 => "v - 1",
        2 => "1 + v",
        3 => "v + 2147483647",
        4 => "NULL",
        5 => "999",
        6 => "1000",
        7 => "'7'",
        8 => "'x'",
        9 => "CAST('5' AS int)",
        10 => "CAST(6 AS bigint)",
        11 => "2.5",
        12 => "v * 2",
        13 => "-v",
        14 => "CAST('9' AS smallint)",
        _ => "2147483647",
    };
    let more = match (table, random.below(6)) {
        ("t_int", 0) => ", s = 'changed'",
        ("t_int", 1) => ", id = id + 100",
        ("t_int", 2) => ", s = NULL, v = 1",
        ("t_text", 0) => ", u = 1",
        ("t_text", 1) => ", k = 'moved'",
        ("t_comp", 0) => ", b = 'w'",
        ("t_date", 0) => ", d = '2030-01-01'",
        _ => "",
    };
    format!("UPDATE {target} SET v = {value}{more} WHERE {condition}")
}

/// A random write or transaction-control statement.
fn other_statement(random: &mut Random) -> String {
    let (table, keys, values) = *random.pick(KEYS);
    let condition = key_condition(random, table, keys, values);
    let id = 1 + random.below(25);
    match random.below(16) {
        0 => "BEGIN".into(),
        1 => "BEGIN ISOLATION LEVEL REPEATABLE READ".into(),
        2 => "BEGIN ISOLATION LEVEL SERIALIZABLE".into(),
        3 | 4 => "COMMIT".into(),
        5 => "ROLLBACK".into(),
        6 => "SAVEPOINT sp".into(),
        7 => "ROLLBACK TO SAVEPOINT sp".into(),
        8 => format!("UPDATE {table} SET v = v + 1 WHERE {condition} OR v = 3"),
        9 => format!("DELETE FROM {table} WHERE v = {}", random.below(40)),
        10 => format!(
            "UPDATE t_int SET v = {} WHERE id = {id}",
            random.below(1200)
        ),
        11 => format!("INSERT INTO t_int VALUES ({id}, {id}, 'n{id}')"),
        12 => format!(
            "INSERT INTO t_text VALUES ('k{id}', {id}, {})",
            random.below(6)
        ),
        13 => format!(
            "INSERT INTO t_child VALUES ({}, {id})",
            100 + random.below(50)
        ),
        14 => format!(
            "INSERT INTO t_date (d) VALUES ('2025-01-{:02}')",
            1 + random.below(28)
        ),
        _ => format!("INSERT INTO t_comp VALUES ({id}, 'z', 1)"),
    }
}

/// Prepared statements with their parameters' values.
fn prepared(random: &mut Random) -> (String, Vec<Option<String>>) {
    let value = |random: &mut Random| random.pick(PARAMETERS).map(str::to_string);
    match random.below(4) {
        0 => (
            "UPDATE t_int SET v = v + $1 WHERE id = $2".into(),
            vec![value(random), value(random)],
        ),
        1 => (
            "UPDATE t_int SET v = $1, s = $2 WHERE id = $3".into(),
            vec![value(random), value(random), value(random)],
        ),
        2 => (
            "DELETE FROM t_text WHERE k = $1".into(),
            vec![value(random)],
        ),
        _ => {
            let (table, keys, _) = *random.pick(KEYS);
            let condition: Vec<String> = keys
                .iter()
                .enumerate()
                .map(|(i, key)| format!("{key} = ${}", i + 1))
                .collect();
            let values = keys.iter().map(|_| value(random)).collect();
            (
                format!("SELECT * FROM {table} WHERE {}", condition.join(" AND ")),
                values,
            )
        }
    }
}

/// A result as text: every column's name, type and metadata, the rows, the tag, or the error.
fn render(outcome: driftdb_sql::Result<Vec<Rendered>>) -> String {
    match outcome {
        Ok(results) => results
            .into_iter()
            .map(|r| r.0)
            .collect::<Vec<_>>()
            .join("\n"),
        Err(e) => format!("error {:?}: {}", e.kind, e.message),
    }
}

struct Rendered(String);

async fn rendered(result: StatementResult) -> driftdb_sql::Result<Rendered> {
    let mut out = String::new();
    match result {
        StatementResult::Query(query) => {
            for field in query.schema.fields() {
                let mut metadata: Vec<_> = field.metadata().iter().collect();
                metadata.sort();
                writeln!(out, "{} {} {metadata:?}", field.name(), field.data_type()).unwrap();
            }
            let batches: Vec<_> = query.stream.try_collect().await?;
            let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
            if rows > 0 {
                writeln!(out, "{}", pretty_format_batches(&batches).unwrap()).unwrap();
            }
            write!(out, "{} {rows}", query.tag).unwrap();
        }
        StatementResult::Command(tag) => write!(out, "{tag:?}").unwrap(),
        StatementResult::CopyOut(_) => out.push_str("copy out"),
    }
    Ok(Rendered(out))
}

async fn run_sql(session: &mut Session, sql: &str) -> String {
    let outcome = async {
        let mut results = Vec::new();
        for statement in session.parse(sql)? {
            results.push(rendered(session.execute(statement).await?).await?);
        }
        Ok(results)
    }
    .await;
    let mut text = render(outcome);
    for notice in session.take_notices() {
        write!(text, "\nnotice: {notice:?}").unwrap();
    }
    text
}

async fn run_prepared(session: &mut Session, sql: &str, values: &[Option<String>]) -> String {
    let outcome = async {
        let Some(prepared) = session.prepare(sql, &[]).await? else {
            return Ok(Vec::new());
        };
        let statement = prepared.bind(values)?;
        Ok(vec![rendered(session.execute(statement).await?).await?])
    }
    .await;
    render(outcome)
}

/// One database with two sessions, the key path on or off in both.
struct Side {
    _dir: tempfile::TempDir,
    sessions: [Session; 2],
}

impl Side {
    async fn open(fast_path: bool) -> Side {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(Database::open(dir.path()).unwrap());
        let mut sessions = [db.session("tester"), db.session("tester")];
        for session in &mut sessions {
            let setting = if fast_path { "on" } else { "off" };
            session
                .execute_sql(&format!("SET driftdb.fast_path = {setting}"))
                .await
                .unwrap();
        }
        sessions[0].execute_sql(SCHEMA).await.unwrap();
        Side {
            _dir: dir,
            sessions,
        }
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_path_answers_exactly_as_the_full_path() {
    let seed = env_number("KEY_PATH_SEED", 20_261_207);
    let statements = env_number("KEY_PATH_STATEMENTS", 1500);
    let mut random = Random(seed);
    let mut fast = Side::open(true).await;
    let mut full = Side::open(false).await;
    let mut differences = Vec::new();
    let mut key_path_rows = 0;
    for step in 0..statements {
        let turn = random.below(2);
        let (sql, a, b) = match random.below(10) {
            0..=3 => {
                let sql = point_select(&mut random);
                let a = run_sql(&mut fast.sessions[turn], &sql).await;
                let b = run_sql(&mut full.sessions[turn], &sql).await;
                (sql, a, b)
            }
            4..=5 => {
                let (sql, values) = prepared(&mut random);
                let a = run_prepared(&mut fast.sessions[turn], &sql, &values).await;
                let b = run_prepared(&mut full.sessions[turn], &sql, &values).await;
                (format!("{sql} with {values:?}"), a, b)
            }
            6..=7 => {
                let sql = key_write(&mut random);
                let a = run_sql(&mut fast.sessions[turn], &sql).await;
                let b = run_sql(&mut full.sessions[turn], &sql).await;
                (sql, a, b)
            }
            _ => {
                let sql = other_statement(&mut random);
                let a = run_sql(&mut fast.sessions[turn], &sql).await;
                let b = run_sql(&mut full.sessions[turn], &sql).await;
                (sql, a, b)
            }
        };
        // A failed transaction block refuses everything until it is rolled back: roll it back
        // (to the savepoint or all of it) on both sides, as a step of its own.
        let (status_a, status_b) = (
            fast.sessions[turn].transaction_status(),
            full.sessions[turn].transaction_status(),
        );
        let (a, b) = match status_a {
            _ if status_a != status_b => (
                format!("{a}\nstatus {status_a:?}"),
                format!("{b}\nstatus {status_b:?}"),
            ),
            TransactionStatus::Failed => {
                let undo = match random.below(2) {
                    0 => "ROLLBACK TO SAVEPOINT sp",
                    _ => "ROLLBACK",
                };
                let undone_a = run_sql(&mut fast.sessions[turn], undo).await;
                let undone_b = run_sql(&mut full.sessions[turn], undo).await;
                (
                    format!("{a}\n{undo}: {undone_a}"),
                    format!("{b}\n{undo}: {undone_b}"),
                )
            }
            _ => (a, b),
        };
        if a.contains("SELECT 1") {
            key_path_rows += 1;
        }
        if a != b {
            differences.push(format!(
                "step {step} (session {turn}): {sql}\nkey path:\n{a}\nfull path:\n{b}\n"
            ));
            if differences.len() >= 5 {
                break;
            }
        }
    }
    // Every version of every row, as each side's history holds it.
    for session in fast.sessions.iter_mut().chain(full.sessions.iter_mut()) {
        run_sql(session, "ROLLBACK").await;
    }
    let columns = [
        ("t_int", "id, v, s"),
        ("t_big", "k, v"),
        ("t_small", "k, v"),
        ("t_text", "k, v, u"),
        ("t_num", "k, v"),
        ("t_date", "d, v"),
        ("t_comp", "a, b, v"),
        ("t_child", "id, parent"),
    ];
    for (table, columns) in columns {
        let sql = format!(
            "SELECT {columns}, _seq_from, _seq_to FROM {table} FOR SYSTEM_TIME ALL \
             ORDER BY {columns}, _seq_from"
        );
        let a = run_sql(&mut fast.sessions[0], &sql).await;
        let b = run_sql(&mut full.sessions[0], &sql).await;
        if a != b {
            differences.push(format!(
                "history of {table}:\nkey path:\n{a}\nfull path:\n{b}\n"
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "seed {seed}: the paths differ:\n{}",
        differences.join("\n")
    );
    // The statements must have found rows often enough to compare something, and the key path
    // must have run (and only where it is on).
    assert!(
        key_path_rows > statements / 20,
        "only {key_path_rows} rows found"
    );
    let ran = |side: &Side| -> u64 { side.sessions.iter().map(Session::key_path_statements).sum() };
    assert!(
        ran(&fast) > statements / 10,
        "the key path ran {} times",
        ran(&fast)
    );
    assert_eq!(ran(&full), 0);
}

/// What the key path takes and what it leaves to the full path (through both protocols).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_path_takes_one_row_by_key_and_leaves_the_rest() {
    let mut side = Side::open(true).await;
    let session = &mut side.sessions[0];
    let taken = [
        "SELECT * FROM t_int WHERE id = 1",
        "SELECT v, s AS label FROM t_int AS x WHERE x.id = 2",
        "SELECT * FROM t_comp WHERE b = 'x' AND a = 1",
        "SELECT k FROM t_text WHERE k = 'a'",
        "SELECT * FROM t_date WHERE d = '2024-01-01'",
        "UPDATE t_int SET v = v + 1 WHERE id = 3",
        "UPDATE t_int SET v = 5, s = 'five' WHERE id = 4",
        "UPDATE t_comp SET v = NULL WHERE a = 2 AND b = 'x'",
        "DELETE FROM t_text WHERE k = 'b'",
        "DELETE FROM t_int WHERE id = 999",
    ];
    for sql in taken {
        let before = session.key_path_statements();
        run_sql(session, sql).await;
        assert_eq!(session.key_path_statements(), before + 1, "{sql}");
    }
    let before = session.key_path_statements();
    run_prepared(
        session,
        "UPDATE t_int SET v = v + $1 WHERE id = $2",
        &[Some("1".into()), Some("5".into())],
    )
    .await;
    run_prepared(
        session,
        "SELECT * FROM t_int WHERE id = $1",
        &[Some("5".into())],
    )
    .await;
    assert_eq!(session.key_path_statements(), before + 2);
    let left = [
        "SELECT * FROM t_int WHERE id = 1 OR id = 2",
        "SELECT * FROM t_int WHERE id = 1 FOR UPDATE",
        "SELECT * FROM t_int WHERE id = 1 AND v = 2",
        "SELECT v + 1 FROM t_int WHERE id = 1",
        "SELECT * FROM t_comp WHERE a = 1",
        "SELECT * FROM t_int WHERE id = NULL",
        "SELECT * FROM t_int WHERE id = 1.5",
        "UPDATE t_int SET v = v * 2 WHERE id = 1",
        "UPDATE t_int SET v = DEFAULT WHERE id = 1",
        "UPDATE t_int SET v = 1 WHERE id = 1 RETURNING v",
        "DELETE FROM t_int WHERE id = 1 RETURNING *",
    ];
    for sql in left {
        let before = session.key_path_statements();
        run_sql(session, sql).await;
        assert_eq!(session.key_path_statements(), before, "{sql}");
    }
}
