//! The sqllogictest conformance suite: every `.slt` file in `sql/tests/slt/`, run in-process
//! against a [`Session`] and over the wire against the real server, each file on a fresh
//! database. Both runs see values in PostgreSQL's text format, so the files are shared unchanged.
//!
//! The files in `sql/tests/slt/standard/` hold standard SQL only, and also run against a real
//! PostgreSQL ([`run_file_against_postgres`]), so their expected results are PostgreSQL's.
//! `integration-tests/tests/slt.rs` makes each file its own tests, so one runs by name.

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
use tokio_postgres::SimpleQueryMessage;

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
    session: Session,
    /// Whether a query runs as a prepared statement (Parse, Bind, Execute), so its plan is
    /// cached, as drivers run it; else as a simple query.
    prepared_queries: bool,
}

/// What a statement returned, as the runner compares it: the columns and rows of a query, or
/// the row count of a command.
type Output = (Option<SchemaRef>, Vec<RecordBatch>, Option<u64>);

impl InProcess {
    async fn execute(&mut self, sql: &str) -> driftdb_sql::Result<Option<Output>> {
        if self.prepared_queries {
            let statements = self.session.parse(sql)?;
            if let [statement] = statements.as_slice()
                && statement.is_query()
            {
                let Some(prepared) = self.session.prepare(sql, &[]).await? else {
                    return Ok(None);
                };
                let statement = prepared.bind(&[])?;
                return match self.session.execute(statement).await? {
                    StatementResult::Query(query) => {
                        let batches: Vec<RecordBatch> = query.stream.try_collect().await?;
                        Ok(Some((Some(query.schema), batches, None)))
                    }
                    StatementResult::Command(tag) => Ok(Some((None, Vec::new(), tag.rows))),
                    StatementResult::CopyOut(_) => Ok(None),
                };
            }
        }
        let results = self.session.execute_sql(sql).await?;
        Ok(results
            .into_iter()
            .last()
            .map(|(schema, batches, tag)| (schema, batches, tag.rows)))
    }
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
        let Some((schema, batches, rows)) = self.execute(sql).await.map_err(SqlError)? else {
            return Ok(DBOutput::StatementComplete(0));
        };
        let Some(schema) = schema else {
            return Ok(DBOutput::StatementComplete(rows.unwrap_or(0)));
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
        Ok(DBOutput::Rows { types, rows })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "driftdb-in-process"
    }
}

/// A tokio-postgres connection to a running server, using the simple query protocol.
pub struct Wire {
    client: tokio_postgres::Client,
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
        let messages = self.client.simple_query(sql).await?;
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
        async move {
            if !key_path {
                session
                    .execute_sql("SET driftdb.fast_path = off")
                    .await
                    .map_err(SqlError)?;
            }
            Ok(InProcess {
                session,
                prepared_queries: key_path,
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
    let mut runner = Runner::new(|| async move {
        Ok(Wire {
            client: server.connect().await,
        })
    });
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
        Ok(Wire {
            client: postgres.connect().await,
        })
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
