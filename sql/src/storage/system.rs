//! DriftDB's system tables, read-only views of the engine's own records.
//!
//! `driftdb_commits`: one row per commit up to the statement's snapshot — `seq`, `committed_at`
//! (timestamptz), `committed_by` and `row_count` (row events written).

use crate::common::engine_error::engine_error;
use crate::storage::scope::SessionScope;
use async_trait::async_trait;
use datafusion::arrow::array::{Int64Builder, StringBuilder, TimestampMicrosecondBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use driftdb_engine::{Flow, Seq};
use driftdb_pgtypes::types::system_time_type;
use std::sync::Arc;

/// The name of the commit-log table.
pub const COMMITS_TABLE: &str = "driftdb_commits";

/// The commit log as a table.
#[derive(Debug)]
pub struct CommitsTable {
    scope: Arc<SessionScope>,
    schema: SchemaRef,
}

impl CommitsTable {
    pub fn new(scope: Arc<SessionScope>) -> CommitsTable {
        let tz = system_time_type();
        let schema = Schema::new(vec![
            Field::new("seq", DataType::Int64, false),
            Field::new("committed_at", tz, false),
            Field::new("committed_by", DataType::Utf8, false),
            Field::new("row_count", DataType::Int64, false),
        ]);
        CommitsTable {
            scope,
            schema: Arc::new(schema),
        }
    }

    fn batch(&self) -> Result<RecordBatch> {
        let (mut seq, mut at, mut by, mut rows) = (
            Int64Builder::new(),
            TimestampMicrosecondBuilder::new().with_timezone("+00:00"),
            StringBuilder::new(),
            Int64Builder::new(),
        );
        let snapshot = self.scope.snapshot();
        let engine = &self.scope.db.engine;
        engine
            .scan_commits(Seq(1)..=snapshot, |commit| {
                seq.append_value(commit.seq.0 as i64);
                at.append_value(commit.time_micros);
                by.append_value(&commit.user);
                rows.append_value(commit.rows as i64);
                Flow::Continue
            })
            .map_err(|e| engine_error(e).into_datafusion())?;
        let columns = vec![
            Arc::new(seq.finish()) as _,
            Arc::new(at.finish()) as _,
            Arc::new(by.finish()) as _,
            Arc::new(rows.finish()) as _,
        ];
        RecordBatch::try_new(self.schema.clone(), columns).map_err(DataFusionError::from)
    }
}

#[async_trait]
impl TableProvider for CommitsTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let batch = self.batch()?;
        let exec = MemorySourceConfig::try_new_exec(
            &[vec![batch]],
            self.schema.clone(),
            projection.cloned(),
        )?;
        Ok(exec)
    }
}
