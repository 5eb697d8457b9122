//! The sqllogictest conformance suite: every `.slt` file in `sql/tests/slt/`, run in-process
//! against a [`Session`] and over the wire against the real server, each file on a fresh
//! database. Both runs see values in PostgreSQL's text format, so the files are shared unchanged.
//!
//! The files in `sql/tests/slt/standard/` hold standard SQL only, and also run against a real
//! PostgreSQL ([`run_file_against_postgres`]), so their expected results are PostgreSQL's.
//! `integration-tests/tests/slt.rs` makes each file its own tests, so one runs by name.
//!
//! Sessions that wait for each other's row locks are written with two comment lines the
//! runner's connections understand (they are comments to a server, so the files stay valid
//! SQL):
//!
//! - a statement whose SQL begins with [`WAITS`] runs in the background, and its record
//!   passes (`statement ok`) once the statement is seen waiting for a lock (in `pg_locks` over
//!   the wire, [`Database::lock_waits`] in-process); a statement that finishes instead fails it;
//! - a later record on the same connection whose SQL is [`FINISHES`] waits for that statement
//!   to finish and checks its result (a row count, rows or an error), whenever the statements
//!   of other connections in between let it.

use crate::TestServer;
use crate::postgres::ReferencePostgres;
use async_trait::async_trait;
use driftdb_sql::arrow::datatypes::DataType;
use driftdb_sql::arrow::datatypes::SchemaRef;
use driftdb_sql::arrow::record_batch::RecordBatch;
use driftdb_sql::text::{ColumnText, format_options};
use driftdb_sql::{Database, Session, StatementResult};
use futures::TryStreamExt;
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType, Runner};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_postgres::SimpleQueryMessage;

/// The first line of a statement that must wait for a row lock (see the module docs).
pub const WAITS: &str = "-- waits for a lock";

/// The SQL of a record that checks the result of the connection's waiting statement.
pub const FINISHES: &str = "-- finishes the waiting statement";

fn waits(sql: &str) -> bool {
    sql.trim_start().starts_with(WAITS)
}

fn finishes(sql: &str) -> bool {
    sql.trim() == FINISHES
}

fn slt_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../sql/tests/slt")
}

/// The `.slt` files directly in `dir`, sorted.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .slt files in {}", dir.display());
    files
}

/// The standard-SQL `.slt` files, which PostgreSQL must pass too.
pub fn standard_slt_files() -> Vec<PathBuf> {
    files_in(&slt_dir().join("standard"))
}

/// Every `.slt` file: DriftDB's own, then the standard ones.
pub fn slt_files() -> Vec<PathBuf> {
    let mut files = files_in(&slt_dir());
    files.extend(standard_slt_files());
    files
}

/// A value as sqllogictest spells it: `NULL`, `(empty)` or the text itself.
fn slt_value(text: Option<&str>) -> String {
    match text {
        None => "NULL".to_string(),
        Some("") => "(empty)".to_string(),
        Some(text) => text.to_string(),
    }
}

/// Column types must match where both sides name one; `Any` matches everything.
/// (The runner's validator type takes `&Vec`.)
#[allow(clippy::ptr_arg)]
fn types_match(actual: &Vec<DefaultColumnType>, expected: &Vec<DefaultColumnType>) -> bool {
    actual.len() == expected.len()
        && actual
            .iter()
            .zip(expected)
            .all(|(a, e)| a == e || *a == DefaultColumnType::Any || *e == DefaultColumnType::Any)
}

/// An in-process session; a file's named connections are sessions on one database.
pub struct InProcess {
    db: Arc<Database>,
    /// The session, unless its waiting statement has it.
    session: Option<Session>,
    /// Whether a query runs as a prepared statement (Parse, Bind, Execute), so its plan is
    /// cached, as drivers run it; else as a simple query.
    prepared_queries: bool,
    /// The statement waiting for a lock ([`WAITS`]), which gives the session back.
    waiting: Option<JoinHandle<(Session, driftdb_sql::Result<Option<Output>>)>>,
}

/// What a statement returned, as the runner compares it: the columns and rows of a query, or
/// the row count of a command.
type Output = (Option<SchemaRef>, Vec<RecordBatch>, Option<u64>);

/// What a statement returned as the runner compares it.
fn db_output(output: Option<Output>) -> DBOutput<DefaultColumnType> {
    let Some((schema, batches, rows)) = output else {
        return DBOutput::StatementComplete(0);
    };
    let Some(schema) = schema else {
        return DBOutput::StatementComplete(rows.unwrap_or(0));
    };
    let options = format_options();
    let mut rows = Vec::new();
    let mut text = String::new();
    for batch in &batches {
        let columns: Vec<ColumnText<'_>> = batch
            .columns()
            .iter()
            .map(|a| ColumnText::new(a, &options).expect("formattable"))
            .collect();
        for row in 0..batch.num_rows() {
            let values = columns.iter().map(|column| {
                text.clear();
                let present = column.write(row, &mut text);
                slt_value(present.then_some(text.as_str()))
            });
            rows.push(values.collect());
        }
    }
    let types = schema
        .fields()
        .iter()
        .map(|f| column_type(f.data_type()))
        .collect();
    DBOutput::Rows { types, rows }
}

/// A runner's complaint about the file itself, worded as an error of the statement.
fn misuse(message: &str) -> driftdb_sql::Error {
    driftdb_sql::Error::new(driftdb_sql::ErrorKind::Internal, message)
}

impl InProcess {
    fn session(&mut self) -> driftdb_sql::Result<&mut Session> {
        self.session
            .as_mut()
            .ok_or_else(|| misuse("the connection's statement is waiting: finish it first"))
    }

    async fn run_sql(&mut self, sql: &str) -> driftdb_sql::Result<Option<Output>> {
        if finishes(sql) {
            let waiting = self
                .waiting
                .take()
                .ok_or_else(|| misuse("no statement of this connection waits"))?;
            let (session, result) = waiting.await.expect("the waiting statement panicked");
            self.session = Some(session);
            return result;
        }
        if !waits(sql) {
            let prepared = self.prepared_queries;
            return execute(self.session()?, prepared, sql).await;
        }
        let mut session = self
            .session
            .take()
            .ok_or_else(|| misuse("already waiting"))?;
        let (prepared, sql) = (self.prepared_queries, sql.to_string());
        let waits_before = self.db.lock_waits();
        let task = tokio::spawn(async move {
            let result = execute(&mut session, prepared, &sql).await;
            (session, result)
        });
        while self.db.lock_waits() == waits_before {
            if task.is_finished() {
                let (session, result) = task.await.expect("the statement panicked");
                self.session = Some(session);
                result?;
                return Err(misuse("the statement finished without waiting for a lock"));
            }
            tokio::task::yield_now().await;
        }
        self.waiting = Some(task);
        Ok(None)
    }
}

async fn execute(
    session: &mut Session,
    prepared_queries: bool,
    sql: &str,
) -> driftdb_sql::Result<Option<Output>> {
    if prepared_queries {
        let statements = session.parse(sql)?;
        if let [statement] = statements.as_slice()
            && statement.is_query()
        {
            let Some(prepared) = session.prepare(sql, &[]).await? else {
                return Ok(None);
            };
            let statement = prepared.bind(&[])?;
            return match session.execute(statement).await? {
                StatementResult::Query(query) => {
                    let batches: Vec<RecordBatch> = query.stream.try_collect().await?;
                    Ok(Some((Some(query.schema), batches, None)))
                }
                StatementResult::Command(tag) => Ok(Some((None, Vec::new(), tag.rows))),
                StatementResult::CopyOut(_) => Ok(None),
            };
        }
    }
    let results = session.execute_sql(sql).await?;
    Ok(results
        .into_iter()
        .last()
        .map(|(schema, batches, tag)| (schema, batches, tag.rows)))
}

/// A SQL-layer error as the runner reports it: worded like [`WireError`], so `.slt` files can
/// match a SQLSTATE in both runs.
#[derive(Debug)]
pub struct SqlError(driftdb_sql::Error);

impl std::fmt::Display for SqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let code = driftdb_server::sqlstate::sqlstate(self.0.kind);
        write!(f, "{} (SQLSTATE {code})", self.0.message)
    }
}

impl std::error::Error for SqlError {}

fn column_type(ty: &DataType) -> DefaultColumnType {
    match ty {
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
            DefaultColumnType::Integer
        }
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
            DefaultColumnType::Integer
        }
        DataType::Float32 | DataType::Float64 | DataType::Decimal128(..) => {
            DefaultColumnType::FloatingPoint
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => DefaultColumnType::Text,
        _ => DefaultColumnType::Any,
    }
}

#[async_trait]
impl AsyncDB for InProcess {
    type Error = SqlError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SqlError> {
        self.run_sql(sql).await.map(db_output).map_err(SqlError)
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "driftdb-in-process"
    }
}

/// A tokio-postgres connection to a running server, using the simple query protocol.
pub struct Wire {
    client: Arc<tokio_postgres::Client>,
    /// A second connection that watches `pg_locks` for the first's statement to wait.
    monitor: tokio_postgres::Client,
    /// The statement waiting for a lock ([`WAITS`]).
    waiting: Option<JoinHandle<Result<Vec<SimpleQueryMessage>, tokio_postgres::Error>>>,
}

impl Wire {
    pub fn new(client: tokio_postgres::Client, monitor: tokio_postgres::Client) -> Wire {
        Wire {
            client: Arc::new(client),
            monitor,
            waiting: None,
        }
    }

    /// How many lock requests wait now, as `pg_locks` shows them.
    async fn lock_waits(&self) -> Result<i64, tokio_postgres::Error> {
        // A simple query: planned afresh each time, never through a cached plan.
        let messages = self
            .monitor
            .simple_query("SELECT count(*) FROM pg_locks WHERE NOT granted")
            .await?;
        Ok(messages
            .iter()
            .find_map(|message| match message {
                SimpleQueryMessage::Row(row) => row.get(0).and_then(|n| n.parse().ok()),
                _ => None,
            })
            .expect("count(*) returns a row"))
    }

    async fn messages(&mut self, sql: &str) -> Result<Vec<SimpleQueryMessage>, WireError> {
        if finishes(sql) {
            let waiting = self
                .waiting
                .take()
                .ok_or_else(|| WireError("no statement of this connection waits".into()))?;
            return Ok(waiting.await.expect("the waiting statement panicked")?);
        }
        if self.waiting.is_some() {
            return Err(WireError(
                "the connection's statement is waiting: finish it first".into(),
            ));
        }
        if !waits(sql) {
            return Ok(self.client.simple_query(sql).await?);
        }
        let waits_before = self.lock_waits().await?;
        let (client, sql) = (self.client.clone(), sql.to_string());
        let task = tokio::spawn(async move { client.simple_query(&sql).await });
        while self.lock_waits().await? == waits_before {
            if task.is_finished() {
                task.await.expect("the statement panicked")?;
                return Err(WireError(
                    "the statement finished without waiting for a lock".into(),
                ));
            }
        }
        self.waiting = Some(task);
        Ok(Vec::new())
    }
}

/// A wire error as the runner matches it: the server's message (tokio-postgres's own display is
/// just "db error").
#[derive(Debug)]
pub struct WireError(String);

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WireError {}

impl From<tokio_postgres::Error> for WireError {
    fn from(e: tokio_postgres::Error) -> WireError {
        WireError(match e.as_db_error() {
            Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
            None => e.to_string(),
        })
    }
}

#[async_trait]
impl AsyncDB for Wire {
    type Error = WireError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, WireError> {
        let messages = self.messages(sql).await?;
        Ok(simple_query_output(messages, |_, value| slt_value(value)))
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "driftdb-wire"
    }
}

/// The `.slt` file at `relative` (to `sql/tests/slt/`).
pub fn slt_file(relative: &str) -> PathBuf {
    slt_dir().join(relative)
}

/// Every `.slt` file as a path relative to `sql/tests/slt/` (`history.slt`,
/// `standard/alter.slt`), for checking that each has its tests.
pub fn slt_file_names() -> Vec<String> {
    let dir = slt_dir();
    slt_files()
        .iter()
        .map(|file| {
            let relative = file
                .strip_prefix(&dir)
                .expect("a file under the slt directory");
            relative.to_string_lossy().into_owned()
        })
        .collect()
}

/// Runs `file` in-process on a fresh database, each query as a prepared statement (the key
/// path and cached plans serve what they can).
pub async fn run_file_in_process(file: &Path) -> Result<(), String> {
    run_in_process(file, true).await
}

/// Runs `file` in-process on a fresh database with every session's key path off
/// (`SET driftdb.fast_path = off`): every statement planned, as the key path's answers must
/// match.
pub async fn run_file_in_process_without_key_path(file: &Path) -> Result<(), String> {
    run_in_process(file, false).await
}

async fn run_in_process(file: &Path, key_path: bool) -> Result<(), String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Database::open(dir.path())
        .map_err(|e| format!("{}: cannot open a database: {e:?}", file.display()))?;
    let mut runner = Runner::new(|| {
        let mut session = db.session("tester");
        let db = db.clone();
        async move {
            if !key_path {
                session
                    .execute_sql("SET driftdb.fast_path = off")
                    .await
                    .map_err(SqlError)?;
            }
            Ok(InProcess {
                db,
                session: Some(session),
                prepared_queries: key_path,
                waiting: None,
            })
        }
    });
    runner.with_column_validator(types_match);
    runner
        .run_file_async(file)
        .await
        .map_err(|e| format!("{}: {e}", file.display()))
}

/// Runs `file` over the wire against a fresh server.
pub async fn run_file_over_the_wire(file: &Path) -> Result<(), String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = TestServer::start(dir.path());
    let server = &server;
    let mut runner =
        Runner::new(
            || async move { Ok(Wire::new(server.connect().await, server.connect().await)) },
        );
    runner
        .run_file_async(file)
        .await
        .map_err(|e| format!("{}: {e}", file.display()))
}

/// Runs a standard `file` against a real PostgreSQL of its own.
pub async fn run_file_against_postgres(file: &Path) -> Result<(), String> {
    let postgres = ReferencePostgres::start()
        .map_err(|e| format!("cannot start the reference PostgreSQL: {e}"))?;
    let postgres = &postgres;
    let mut runner = Runner::new(|| async move {
        Ok(Wire::new(
            postgres.connect().await,
            postgres.connect().await,
        ))
    });
    runner
        .run_file_async(file)
        .await
        .map_err(|e| format!("{}: {e}", file.display()))
}

/// A simple query's messages as the sqllogictest runner reads them, each value rendered by
/// `render(column, value)`. The simple protocol carries no column types the runner
/// understands, so values are what is checked.
pub(crate) fn simple_query_output(
    messages: Vec<SimpleQueryMessage>,
    render: impl Fn(usize, Option<&str>) -> String,
) -> DBOutput<DefaultColumnType> {
    let mut rows = Vec::new();
    let mut columns = None;
    let mut count = 0;
    for message in messages {
        match message {
            SimpleQueryMessage::RowDescription(description) => columns = Some(description.len()),
            SimpleQueryMessage::Row(row) => {
                rows.push((0..row.len()).map(|i| render(i, row.get(i))).collect())
            }
            SimpleQueryMessage::CommandComplete(n) => count = n,
            _ => {}
        }
    }
    match columns {
        Some(n) => DBOutput::Rows {
            types: vec![DefaultColumnType::Any; n],
            rows,
        },
        None => DBOutput::StatementComplete(count),
    }
}
