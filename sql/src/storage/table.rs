//! The `TableProvider` for a DriftDB table at one seq: current, as of a past point, or all
//! versions. Scans push projection and limit into the engine; inserts commit through the engine.

use crate::storage::defaults::column_defaults;
use crate::storage::pushdown;
use crate::storage::scan::{ScanMode, TableScan, VersionWindow};
use crate::storage::schema::{table_schema, table_schema_with_hidden, versions_schema};
use crate::storage::scope::SessionScope;
use crate::storage::write::InsertSink;
use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session as DfSession, TableProvider};
use datafusion::datasource::TableType;
use datafusion::datasource::sink::DataSinkExec;
use datafusion::error::Result;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::streaming::StreamingTableExec;
use driftdb_engine::{KeyRange, Seq, TableDef};
use driftdb_pgtypes::error::{Error, ErrorKind};
use std::collections::HashMap;
use std::sync::Arc;

/// Which view of the table a provider gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum View {
    /// The table now (at the statement's snapshot), writable.
    Current,
    /// The table as of a past point, read-only.
    AsOf,
    /// Every version with its version columns, read-only.
    Versions,
}

/// A DriftDB table as DataFusion sees it.
#[derive(Debug)]
pub struct DriftTable {
    scope: Arc<SessionScope>,
    def: Arc<TableDef>,
    seq: Seq,
    view: View,
    schema: SchemaRef,
    /// What an INSERT fills in for columns it leaves out (current view only).
    defaults: HashMap<String, Expr>,
    /// The versions a version view shows.
    window: VersionWindow,
    /// Whether the schema shows the hidden row id (to the UPDATE or DELETE of this table).
    with_hidden: bool,
}

impl DriftTable {
    /// The table at the statement's snapshot, writable.
    pub fn current(
        scope: Arc<SessionScope>,
        def: Arc<TableDef>,
    ) -> driftdb_pgtypes::error::Result<DriftTable> {
        let defaults = column_defaults(&scope, &def)?;
        let with_hidden = scope.exposes_hidden(def.id);
        let schema = if with_hidden {
            table_schema_with_hidden(&def)
        } else {
            table_schema(&def)
        };
        Ok(DriftTable {
            defaults,
            with_hidden,
            schema,
            ..DriftTable::read_only(scope.clone(), def, scope.snapshot(), View::Current)
        })
    }

    fn read_only(scope: Arc<SessionScope>, def: Arc<TableDef>, seq: Seq, view: View) -> DriftTable {
        let schema = table_schema(&def);
        DriftTable {
            seq,
            scope,
            def,
            view,
            schema,
            defaults: HashMap::new(),
            window: VersionWindow::default(),
            with_hidden: false,
        }
    }

    /// The table as it was right after commit `seq` (with the definition it had then).
    pub fn as_of(scope: Arc<SessionScope>, def: Arc<TableDef>, seq: Seq) -> DriftTable {
        DriftTable::read_only(scope, def, seq, View::AsOf)
    }

    /// Whether the provider reads the table's current state as the statement's own reads see
    /// it (not a past state, versions, or the hidden row id an UPDATE reads by).
    pub(crate) fn reads_current_state(&self) -> bool {
        self.view == View::Current && !self.with_hidden
    }

    /// Every version of the table committed at or before `seq`.
    pub fn versions(
        scope: Arc<SessionScope>,
        def: Arc<TableDef>,
        seq: Seq,
        window: VersionWindow,
    ) -> DriftTable {
        let schema = versions_schema(&def);
        DriftTable {
            scope,
            def,
            seq,
            view: View::Versions,
            schema,
            defaults: HashMap::new(),
            window,
            with_hidden: false,
        }
    }
}

#[async_trait]
impl TableProvider for DriftTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn get_column_default(&self, column: &str) -> Option<&Expr> {
        self.defaults.get(column)
    }

    /// Every filter is offered to the scan, which narrows its key ranges with the primary-key
    /// predicates it understands ([`crate::storage::pushdown`]); DataFusion still applies them
    /// all, except those the key ranges answer exactly (in a scan of the current or a past
    /// state; a version scan reads every version).
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|filter| match self.view {
                View::Current | View::AsOf if pushdown::exact(&self.def, filter) => {
                    TableProviderFilterPushDown::Exact
                }
                _ => TableProviderFilterPushDown::Inexact,
            })
            .collect())
    }

    async fn scan(
        &self,
        _state: &dyn DfSession,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let projection: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..self.schema.fields().len()).collect(),
        };
        let schema = Arc::new(self.schema.project(&projection)?);
        let mode = match self.view {
            View::Current | View::AsOf => ScanMode::AsOf,
            View::Versions => ScanMode::Versions,
        };
        let mut ranges = match mode {
            ScanMode::AsOf => pushdown::key_ranges(&self.def, filters),
            ScanMode::Versions => None,
        };
        let mut index = None;
        if mode == ScanMode::AsOf
            && ranges.is_none()
            && let Some((chosen, index_ranges)) = pushdown::index_ranges(&self.def, filters)
        {
            index = Some(chosen);
            ranges = Some(index_ranges);
        }
        // The current state is the transaction's: its pending rows over the snapshot's, and
        // (SERIALIZABLE) a record of what it read. The past is the same for everyone.
        // A subquery run row by row (`crate::exec::apply`) plans its scans while the rows of a
        // statement stream, which for a read in a transaction of its own is after that
        // transaction closed: such a statement wrote nothing and has nothing to certify, so
        // the snapshot alone is its current state.
        let pending = match (self.view, self.scope.transaction_guard().as_mut()) {
            (View::Current, Some(txn)) => {
                // Rows found through an index may sit anywhere in the table.
                let all = [KeyRange::all()];
                let read = match (&index, &ranges) {
                    (None, Some(ranges)) => ranges.as_slice(),
                    _ => &all,
                };
                txn.record_read(self.def.id, read);
                txn.pending_rows(self.def.id)
            }
            _ => None,
        };
        // The current state is read at the snapshot of the statement that scans, which for a
        // cached plan (`crate::exec::cached`) is not the one that planned it.
        let seq = match self.view {
            View::Current => self.scope.snapshot(),
            View::AsOf | View::Versions => self.seq,
        };
        let partition = Arc::new(TableScan {
            engine: self.scope.db.engine.clone(),
            def: self.def.clone(),
            seq,
            rows_read: self.scope.rows_read_counter(),
            mode,
            ranges,
            index,
            window: self.window,
            with_hidden: self.with_hidden,
            pending,
            projection,
            schema: schema.clone(),
            limit,
        });
        Ok(Arc::new(StreamingTableExec::try_new(
            schema,
            vec![partition],
            None,
            vec![],
            false,
            limit,
        )?))
    }

    async fn insert_into(
        &self,
        _state: &dyn DfSession,
        input: Arc<dyn ExecutionPlan>,
        insert_op: InsertOp,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if self.view != View::Current {
            return Err(Error::new(
                ErrorKind::FeatureNotSupported,
                "a table read at a past point cannot be written to",
            )
            .into_datafusion());
        }
        if insert_op != InsertOp::Append {
            return Err(Error::unsupported(format!("INSERT {insert_op}")).into_datafusion());
        }
        let sink = InsertSink::new(self.scope.clone(), self.def.clone(), self.schema.clone());
        Ok(Arc::new(DataSinkExec::new(input, Arc::new(sink), None)))
    }
}
