//! What a statement gives back: rows (streamed, or computed already), a command tag, or the
//! lines of a `COPY … TO STDOUT`.

use datafusion::arrow::array::{ArrayRef, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use driftdb_pgtypes::error::Result;
use std::fmt;
use std::sync::Arc;

/// What a statement produced.
pub enum StatementResult {
    /// Rows, streamed.
    Query(QueryResult),
    /// A command with its PostgreSQL command tag.
    Command(CommandTag),
    /// `COPY … TO STDOUT`: the lines to send.
    CopyOut(CopyOut),
}

/// The data of a `COPY … TO STDOUT`: one text line per row (a CSV header rides with the first).
pub struct CopyOut {
    pub columns: usize,
    pub lines: futures::stream::BoxStream<'static, Result<String>>,
}

impl fmt::Debug for StatementResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatementResult::Query(q) => {
                f.debug_struct("Query").field("schema", &q.schema).finish()
            }
            StatementResult::Command(tag) => tag.fmt(f),
            StatementResult::CopyOut(copy) => f
                .debug_struct("CopyOut")
                .field("columns", &copy.columns)
                .finish(),
        }
    }
}

/// A result set: its schema and a stream of record batches.
pub struct QueryResult {
    pub schema: SchemaRef,
    pub stream: SendableRecordBatchStream,
    /// The command tag the rows end with, before its row count: `SELECT`, or `INSERT 0`,
    /// `UPDATE`, `DELETE` for their RETURNING rows.
    pub tag: &'static str,
}

impl QueryResult {
    /// Rows already computed.
    pub(crate) fn from_batches(
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
        tag: &'static str,
    ) -> QueryResult {
        let stream = RecordBatchStreamAdapter::new(
            schema.clone(),
            futures::stream::iter(batches.into_iter().map(Ok)),
        );
        QueryResult {
            schema,
            stream: Box::pin(stream),
            tag,
        }
    }

    /// One row with one text column (what SHOW returns).
    pub(crate) fn single_text(column: &str, value: &str) -> Result<QueryResult> {
        let schema = Arc::new(Schema::new(vec![Field::new(column, DataType::Utf8, false)]));
        let values: ArrayRef = Arc::new(StringArray::from(vec![value]));
        let batch = RecordBatch::try_new(schema.clone(), vec![values])
            .map_err(datafusion::error::DataFusionError::from)?;
        Ok(QueryResult::from_batches(schema, vec![batch], "SELECT"))
    }
}

/// A command's tag: `CREATE TABLE`, or `UPDATE` with a row count, …
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandTag {
    pub command: &'static str,
    pub rows: Option<u64>,
}

impl CommandTag {
    pub(crate) fn new(command: &'static str) -> CommandTag {
        CommandTag {
            command,
            rows: None,
        }
    }

    pub(crate) fn with_rows(command: &'static str, rows: u64) -> CommandTag {
        CommandTag {
            command,
            rows: Some(rows),
        }
    }
}
