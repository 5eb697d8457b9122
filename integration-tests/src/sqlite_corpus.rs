//! SQLite's sqllogictest corpus (`integration-tests/sqllogictest/*.test`, see its README) over
//! the wire, the way SQLite's own runner validates it: each value is rendered by the type its
//! query declares (`I` as an integer, `R` with three decimals, `T` as text with `(empty)` and
//! `@` for unprintable bytes, `NULL` for any NULL), results are compared one value per line,
//! results of more than 8 values (SQLite's default `hash-threshold`) by their MD5, and
//! `skipif`/`onlyif` apply to the engine `postgresql`. Every failing record is collected instead
//! of stopping at the first.

use crate::slt::{WireError, simple_query_output};
use async_trait::async_trait;
use sqllogictest::{
    AsyncDB, DBOutput, DefaultColumnType, Normalizer, QueryExpect, Record, RecordOutput, Runner,
    TestError, TestErrorKind,
};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The engine name the corpus's `skipif`/`onlyif` records see: both DriftDB and the reference
/// take PostgreSQL's branches.
pub const ENGINE: &str = "postgresql";

/// A file of the corpus, by name (`select1.test`).
pub fn corpus_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sqllogictest")
        .join(name)
}

/// A value as SQLite's runner renders a column declared `declared`.
pub fn sqlite_value(declared: &DefaultColumnType, text: Option<&str>) -> String {
    let Some(text) = text else {
        return "NULL".to_string();
    };
    match declared {
        // As `printf("%d")` of the value fetched as an integer: a fraction is truncated.
        DefaultColumnType::Integer => match (text.parse::<i64>(), text.parse::<f64>()) {
            (Ok(i), _) => i.to_string(),
            (_, Ok(f)) => (f.trunc() as i64).to_string(),
            _ => printable(text),
        },
        // As `printf("%.3f")` of the value fetched as a double.
        DefaultColumnType::FloatingPoint => match text.parse::<f64>() {
            Ok(f) => format!("{f:.3}"),
            Err(_) => printable(text),
        },
        DefaultColumnType::Text | DefaultColumnType::Any => printable(text),
    }
}

/// Text as SQLite's runner prints it: `(empty)` for the empty string, `@` for every byte
/// outside printable ASCII.
fn printable(text: &str) -> String {
    if text.is_empty() {
        return "(empty)".to_string();
    }
    text.bytes()
        .map(|b| {
            if (b' '..=b'~').contains(&b) {
                b as char
            } else {
                '@'
            }
        })
        .collect()
}

/// Results are listed one value per line, whatever the number of columns.
fn values_match(_: Normalizer, actual: &[Vec<String>], expected: &[String]) -> bool {
    actual.iter().flatten().eq(expected.iter())
}

/// As many columns as the query declares (the types themselves drive the rendering).
#[allow(clippy::ptr_arg)] // the runner's validator type takes `&Vec`
fn same_column_count(actual: &Vec<DefaultColumnType>, expected: &Vec<DefaultColumnType>) -> bool {
    actual.len() == expected.len()
}

/// A tokio-postgres connection that renders each value by the current query's declared type.
pub struct SqliteWire {
    client: tokio_postgres::Client,
    declared: Arc<Mutex<Vec<DefaultColumnType>>>,
}

#[async_trait]
impl AsyncDB for SqliteWire {
    type Error = WireError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, WireError> {
        let declared = self.declared.lock().expect("not poisoned").clone();
        let type_of = |i: usize| declared.get(i).unwrap_or(&DefaultColumnType::Any);
        let messages = self.client.simple_query(sql).await?;
        Ok(simple_query_output(messages, |i, value| {
            sqlite_value(type_of(i), value)
        }))
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        ENGINE
    }
}

/// The outcome of one file against one server.
#[derive(Debug, Default)]
pub struct FileRun {
    /// Statements and queries before any `halt`.
    pub records: usize,
    pub passed: usize,
    /// Records a `skipif`/`onlyif` left out.
    pub skipped: usize,
    /// One line (or a few) per failing record: `file:line`, the SQL, expected and actual.
    pub failures: Vec<String>,
    pub elapsed: Duration,
}

impl FileRun {
    /// `records, passed, failed, skipped, seconds` on one line.
    pub fn summary(&self) -> String {
        format!(
            "{} records: {} passed, {} failed, {} skipped in {:.1} s",
            self.records,
            self.passed,
            self.failures.len(),
            self.skipped,
            self.elapsed.as_secs_f64()
        )
    }
}

/// Runs every record of `file` on `client` (a fresh, empty database), collecting failures.
pub async fn run_file(file: &Path, client: tokio_postgres::Client) -> FileRun {
    let started = Instant::now();
    let mut run = FileRun::default();
    let records = match sqllogictest::parse_file::<DefaultColumnType>(file) {
        Ok(records) => records,
        Err(e) => {
            run.failures.push(format!("{}: {e}", file.display()));
            return run;
        }
    };
    let declared = Arc::new(Mutex::new(Vec::new()));
    let mut client = Some(SqliteWire {
        client,
        declared: Arc::clone(&declared),
    });
    let mut runner = Runner::new(move || {
        let connection = client.take().expect("the corpus uses a single connection");
        async move { Ok::<_, WireError>(connection) }
    });
    // SQLite's runner hashes any result of more than 8 values unless a file says otherwise.
    runner.with_hash_threshold(8);
    runner.with_validator(values_match);
    runner.with_column_validator(same_column_count);
    for record in records {
        match &record {
            Record::Halt { .. } => break,
            Record::Statement { .. } => {}
            Record::Query { expected, .. } => {
                *declared.lock().expect("not poisoned") = match expected {
                    QueryExpect::Results { types, .. } => types.clone(),
                    QueryExpect::Error(_) => Vec::new(),
                };
            }
            _ => {
                // Control records (hash-threshold, conditions, comments) only set state.
                if let Err(e) = runner.run_async(record).await {
                    run.failures.push(describe(&e));
                }
                continue;
            }
        }
        run.records += 1;
        match runner.run_async(record).await {
            Ok(RecordOutput::Nothing) => run.skipped += 1,
            Ok(_) => run.passed += 1,
            Err(e) => run.failures.push(describe(&e)),
        }
    }
    run.elapsed = started.elapsed();
    run
}

/// SQL on one line.
fn one_line(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A failing record: where, the SQL, and what differed.
fn describe(e: &TestError) -> String {
    let at = e.location();
    let at = format!("{}:{}", at.file(), at.line());
    match e.kind() {
        TestErrorKind::QueryResultMismatch {
            sql,
            expected,
            actual,
        } => format!(
            "{at}: {}\n  expected: {}\n  actual:   {}",
            one_line(&sql),
            expected.replace('\n', " "),
            actual.replace('\n', " ")
        ),
        TestErrorKind::Fail { sql, err, .. } => {
            format!("{at}: {}\n  error: {err}", one_line(&sql))
        }
        kind => format!("{at}: {}", kind.display(false)),
    }
}
