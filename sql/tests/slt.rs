//! Every `.slt` file in `tests/slt/` passes in-process, each on a fresh database.
//!
//! The same files run unchanged over the wire in `integration-tests/tests/slt_wire.rs`.

use async_trait::async_trait;
use driftdb_sql::arrow::datatypes::DataType;
use driftdb_sql::text::{ColumnText, format_options};
use driftdb_sql::{Database, Session};
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType, Runner};
use std::path::{Path, PathBuf};

struct InProcess {
    session: Session,
    _dir: tempfile::TempDir,
}

#[derive(Debug)]
struct SqlError(driftdb_sql::Error);

impl std::fmt::Display for SqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.0.kind, self.0.message)
    }
}

impl std::error::Error for SqlError {}

fn column_type(ty: &DataType) -> DefaultColumnType {
    match ty {
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => DefaultColumnType::Integer,
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => DefaultColumnType::Integer,
        DataType::Float32 | DataType::Float64 | DataType::Decimal128(..) => DefaultColumnType::FloatingPoint,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => DefaultColumnType::Text,
        _ => DefaultColumnType::Any,
    }
}

#[async_trait]
impl AsyncDB for InProcess {
    type Error = SqlError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SqlError> {
        let results = self.session.execute_sql(sql).await.map_err(SqlError)?;
        let Some((schema, batches, tag)) = results.into_iter().last() else {
            return Ok(DBOutput::StatementComplete(0));
        };
        let Some(schema) = schema else {
            return Ok(DBOutput::StatementComplete(tag.rows.unwrap_or(0)));
        };
        let options = format_options();
        let mut rows = Vec::new();
        for batch in &batches {
            let columns: Vec<ColumnText<'_>> = batch
                .columns()
                .iter()
                .map(|a| ColumnText::new(a, &options).expect("formattable"))
                .collect();
            for row in 0..batch.num_rows() {
                rows.push(
                    columns
                        .iter()
                        .map(|column| {
                            let mut text = String::new();
                            match (column.write(row, &mut text), text.is_empty()) {
                                (false, _) => "NULL".to_string(),
                                (true, true) => "(empty)".to_string(),
                                (true, false) => text,
                            }
                        })
                        .collect(),
                );
            }
        }
        let types = schema.fields().iter().map(|f| column_type(f.data_type())).collect();
        Ok(DBOutput::Rows { types, rows })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "driftdb-in-process"
    }
}

fn slt_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/slt exists")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .slt files in {}", dir.display());
    files
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_slt_file_passes_in_process() {
    let mut failures = Vec::new();
    for file in slt_files() {
        let mut runner = Runner::new(|| async {
            let dir = tempfile::tempdir().expect("temp dir");
            let db = Database::open(dir.path()).map_err(SqlError)?;
            Ok(InProcess {
                session: db.session("tester"),
                _dir: dir,
            })
        });
        runner.with_column_validator(types_match);
        if let Err(e) = runner.run_file_async(&file).await {
            failures.push(format!("{}: {e}", file.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
