//! Every `.slt` file of the SQL layer passes unchanged over the wire against the real server,
//! each file on a fresh data directory.

use async_trait::async_trait;
use driftdb_integration_tests::TestServer;
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType, Runner};
use std::path::{Path, PathBuf};
use tokio_postgres::SimpleQueryMessage;

struct Wire {
    client: tokio_postgres::Client,
}

#[async_trait]
impl AsyncDB for Wire {
    type Error = tokio_postgres::Error;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, tokio_postgres::Error> {
        let messages = self.client.simple_query(sql).await?;
        let mut rows = Vec::new();
        let mut columns = None;
        let mut count = 0;
        for message in messages {
            match message {
                SimpleQueryMessage::RowDescription(description) => columns = Some(description.len()),
                SimpleQueryMessage::Row(row) => rows.push(
                    (0..row.len())
                        .map(|i| match row.get(i) {
                            None => "NULL".to_string(),
                            Some("") => "(empty)".to_string(),
                            Some(text) => text.to_string(),
                        })
                        .collect(),
                ),
                SimpleQueryMessage::CommandComplete(n) => count = n,
                _ => {}
            }
        }
        Ok(match columns {
            // The simple protocol carries no column types the runner understands; values are checked.
            Some(n) => DBOutput::Rows {
                types: vec![DefaultColumnType::Any; n],
                rows,
            },
            None => DBOutput::StatementComplete(count),
        })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "driftdb-wire"
    }
}

fn slt_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sql/tests/slt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("sql/tests/slt exists")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .slt files in {}", dir.display());
    files
}

#[tokio::test]
async fn every_slt_file_passes_over_the_wire() {
    let mut failures = Vec::new();
    for file in slt_files() {
        let dir = tempfile::tempdir().unwrap();
        let server = TestServer::start(dir.path());
        let server = &server;
        let mut runner = Runner::new(|| async move {
            Ok(Wire {
                client: server.connect().await,
            })
        });
        if let Err(e) = runner.run_file_async(&file).await {
            failures.push(format!("{}: {e}", file.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
