//! The one place that plans and runs a statement with DataFusion: a session's context (its
//! catalog, DriftDB's and PostgreSQL's functions, the analyzer rules), and the calls DDL, DML and
//! COPY make when they run SQL of their own (a query that finds the rows an UPDATE changes, a
//! count that validates a new constraint). It knows nothing of transaction control or the
//! protocol; [`crate::session`] sits above it.

pub(crate) mod apply;
pub(crate) mod cached;
pub(crate) mod placeholders;
pub(crate) mod results;
pub(crate) mod testing;
pub(crate) mod views;

use crate::catalog::DriftCatalog;
use crate::common::names::DATABASE_NAME;
use crate::common::names::SCHEMA_NAME;
use crate::common::names::STATEMENT_TABLES;
use crate::rewrite::temporal::{AS_OF_FUNCTION, VERSIONS_FUNCTION};
use crate::storage::database::Database;
use crate::storage::scope::SessionScope;
use crate::storage::sequences::NextVal;
use crate::storage::table_functions::{AsOfFunction, CurrentSeq, VersionsFunction};
use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::{Int64Type, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{CatalogProvider, MemoryCatalogProvider, MemorySchemaProvider};
use datafusion::common::TableReference;
use datafusion::common::config::Dialect;
use datafusion::datasource::MemTable;
use datafusion::execution::context::SQLOptions;
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::planner::ExprPlanner;
use datafusion::logical_expr::{LogicalPlan, ScalarUDF};
use datafusion::optimizer::{Analyzer, AnalyzerRule};
use datafusion::physical_plan::{collect, execute_stream};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::Insert;
use datafusion::sql::sqlparser::ast::Statement as Ast;
use datafusion::sql::sqlparser::parser::ParserError;
use driftdb_pgtypes::error::{Error, ErrorKind, Result};
use driftdb_pgtypes::functions::arrays::PgArrayLiterals;
use driftdb_pgtypes::functions::casts::PgCasts;
use driftdb_pgtypes::functions::json_ops::JsonPlanner;
use driftdb_pgtypes::functions::single::Single;
use driftdb_pgtypes::types::PgTypePlanner;
use futures::TryStreamExt;
use std::sync::Arc;

/// DataFusion's analyzer rules with DriftDB's around them: array literals are read before type
/// coercion (which cannot compare an array with text), PostgreSQL's casts after it.
fn analyzer_rules() -> Vec<Arc<dyn AnalyzerRule + Send + Sync>> {
    let mut rules: Vec<Arc<dyn AnalyzerRule + Send + Sync>> = vec![Arc::new(PgArrayLiterals)];
    rules.extend(Analyzer::new().rules);
    rules.push(Arc::new(PgCasts));
    rules.push(Arc::new(
        driftdb_pgtypes::functions::checked::CheckedArithmetic,
    ));
    rules
}

/// A session's DataFusion context and the scope its providers and functions share.
pub(crate) struct Executor {
    scope: Arc<SessionScope>,
    ctx: SessionContext,
    /// The context's state, kept: `SessionContext::state` clones every function registry, and
    /// planning through the context did that three times per statement (a tenth of a point
    /// select). Refreshed after statements that change the context's settings.
    state: SessionState,
    task_ctx: Arc<TaskContext>,
    /// Counts the times the context's settings changed, so a cached plan made under others is
    /// not used ([`cached`]).
    settings_generation: u64,
}

impl Executor {
    pub(crate) fn new(db: Arc<Database>, user: &str) -> Executor {
        let runtime = db.runtime.clone();
        let scope = Arc::new(SessionScope::new(db, user));
        let mut config = SessionConfig::new()
            .with_default_catalog_and_schema(DATABASE_NAME, SCHEMA_NAME)
            .with_create_default_catalog_and_schema(false)
            // `information_schema` is PostgreSQL's ([`crate::pgcompat::information_schema`]), not DataFusion's.
            .with_information_schema(false)
            // A table scan is one partition (one RocksDB iterator, decoded on one thread), so
            // repartitioning after it buys little on a 1M-row GROUP BY or join (within 10%, measured
            // on 2 cores) and costs every small statement a fifth of its time (point select by key
            // 930 → 720 µs, UPDATE by key 1.6 → 1.2 ms over the wire).
            .with_target_partitions(1);
        let options = config.options_mut();
        options.sql_parser.dialect = Dialect::PostgreSQL;
        options.sql_parser.map_string_types_to_utf8view = false;
        // `1.5` is a numeric, as in PostgreSQL (see `intliterals`).
        options.sql_parser.parse_float_as_decimal = true;
        // Stored CHECK and DEFAULT expressions are parsed by DataFusion's parser, as deep as
        // a statement may nest.
        options.sql_parser.recursion_limit =
            datafusion::common::config::ConfigNonZeroUsize::try_new(
                crate::common::parse::PARSER_DEPTH,
            )
            .expect("PARSER_DEPTH is not zero");
        // DataFusion 55 checks that an aggregate's input plans to exactly its logical schema,
        // and its own rewrites break that in ways that change no value: a column's nullability
        // (`EXISTS` under a cast) or its table metadata (a `CASE` simplified away under a
        // UNION). The query fuzzer found both failing queries PostgreSQL answers (XX000).
        options.execution.skip_physical_aggregate_schema_check = true;
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(runtime)
            .with_default_features()
            .with_type_planner(Arc::new(PgTypePlanner))
            .with_analyzer_rules(analyzer_rules())
            .with_query_planner(Arc::new(crate::exec::apply::ApplyPlanner))
            .build();
        // The JSON operators come first: DataFusion's own planners would take `@>` for arrays.
        let mut planners: Vec<Arc<dyn ExprPlanner>> = vec![
            Arc::new(JsonPlanner),
            Arc::new(driftdb_pgtypes::functions::interval::IntervalPlanner),
        ];
        planners.extend(state.expr_planners().iter().cloned());
        let state = SessionStateBuilder::new_from_existing(state)
            .with_expr_planners(planners)
            .build();
        let ctx = SessionContext::new_with_state(state);
        ctx.register_catalog(DATABASE_NAME, Arc::new(DriftCatalog::new(scope.clone())));
        let statement_tables = MemoryCatalogProvider::new();
        statement_tables
            .register_schema(SCHEMA_NAME, Arc::new(MemorySchemaProvider::new()))
            .expect("a new memory catalog takes a schema");
        ctx.register_catalog(STATEMENT_TABLES, Arc::new(statement_tables));
        ctx.register_udf(ScalarUDF::from(CurrentSeq::new(scope.clone())));
        ctx.register_udf(ScalarUDF::from(NextVal::new(scope.clone())));
        ctx.register_udaf(datafusion::logical_expr::AggregateUDF::from(Single::new()));
        ctx.register_udaf(driftdb_pgtypes::numeric::avg());
        ctx.register_udf(ScalarUDF::from(
            driftdb_pgtypes::functions::arrays::ExpandArray::new(),
        ));
        for function in driftdb_pgtypes::functions::json_sets::functions() {
            ctx.register_udf(function);
        }
        for function in driftdb_pgtypes::functions::math::functions() {
            ctx.register_udf(function);
        }
        for function in driftdb_pgtypes::functions::json_build::functions() {
            ctx.register_udf(function);
        }
        for function in driftdb_pgtypes::functions::json_build::aggregate_finishers() {
            ctx.register_udf(function);
        }
        for upper in [false, true] {
            ctx.register_udf(ScalarUDF::from(
                driftdb_pgtypes::functions::arrays::ArrayBound::new(upper),
            ));
        }
        for function in crate::pgcompat::functions::functions(&scope) {
            ctx.register_udf(function);
        }
        if scope.db.options.test_functions {
            ctx.register_udf(ScalarUDF::from(crate::exec::testing::PanicFunction::new()));
        }
        for series in ["generate_series", "range"] {
            if let Ok(builtin) = ctx.table_function(series) {
                let inner = builtin.function().clone();
                ctx.register_udtf(
                    series,
                    Arc::new(crate::storage::table_functions::WideningSeries { inner }),
                );
            }
        }
        ctx.register_udtf(
            AS_OF_FUNCTION,
            Arc::new(AsOfFunction {
                scope: scope.clone(),
            }),
        );
        ctx.register_udtf(
            VERSIONS_FUNCTION,
            Arc::new(VersionsFunction {
                scope: scope.clone(),
            }),
        );
        let state = ctx.state();
        let task_ctx = state.task_ctx();
        Executor {
            scope,
            ctx,
            state,
            task_ctx,
            settings_generation: 0,
        }
    }

    /// Takes the context's settings again after a statement changed them (`SET` of a
    /// DataFusion setting).
    pub(crate) fn refresh(&mut self) {
        self.state = self.ctx.state();
        self.task_ctx = self.state.task_ctx();
        self.settings_generation += 1;
    }

    /// Starts a statement's clock: `now()` is the time the statement (or its transaction)
    /// started.
    pub(crate) fn mark_start_execution(&mut self) {
        self.state.mark_start_execution();
    }

    /// Plans a statement with DataFusion (views expanded).
    pub(crate) async fn plan(&self, mut statement: Ast) -> Result<LogicalPlan> {
        let mut points = std::collections::HashMap::new();
        for point in crate::exec::views::points_to_resolve(&self.scope, &statement) {
            if let std::collections::hash_map::Entry::Vacant(entry) =
                points.entry(point.to_string())
            {
                entry.insert(self.resolve_point(&point).await?);
            }
        }
        crate::exec::views::expand(&self.scope, &mut statement, &points)?;
        Ok(self
            .state
            .statement_to_plan(DfStatement::Statement(Box::new(statement)))
            .await?)
    }

    /// The commit an `AS OF` point written as an expression stands for, as the temporal
    /// table functions resolve it.
    async fn resolve_point(
        &self,
        point: &datafusion::sql::sqlparser::ast::Expr,
    ) -> Result<driftdb_engine::Seq> {
        let query = self.parse_one(&format!("SELECT {point}"))?;
        let batches = Box::pin(self.collect(query)).await?;
        let value = match batches.iter().find(|batch| batch.num_rows() > 0) {
            Some(batch) => datafusion::common::ScalarValue::try_from_array(batch.column(0), 0)?,
            None => datafusion::common::ScalarValue::Null,
        };
        crate::storage::table_functions::resolve_point(&self.scope, value)
    }

    /// Plans a statement with DataFusion and starts executing it.
    pub(crate) async fn stream(&self, statement: Ast) -> Result<SendableRecordBatchStream> {
        let allow_dml = matches!(statement, Ast::Insert(_));
        let plan = self.plan(statement).await?;
        SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(allow_dml)
            .verify_plan(&plan)
            .map_err(|e| Error::new(ErrorKind::FeatureNotSupported, Error::from(e).message))?;
        if let LogicalPlan::Statement(_) = plan {
            // SET of a DataFusion setting and the like act on the context itself.
            let frame = self.ctx.execute_logical_plan(plan).await?;
            return Ok(frame.execute_stream().await?);
        }
        let physical = crate::exec::apply::physical_plan(&self.state, &plan).await?;
        Ok(execute_stream(physical, self.task_ctx.clone())?)
    }

    /// Plans and runs a statement, collecting its output.
    pub(crate) async fn collect(&self, statement: Ast) -> Result<Vec<RecordBatch>> {
        Ok(self.stream(statement).await?.try_collect().await?)
    }

    /// Runs `sql` (written by the SQL layer) with `tables` readable as
    /// `driftdb_statement.public.<name>`: rows a statement computed, such as the rows RETURNING
    /// shows or the rows ON CONFLICT found taken. They are gone when it returns.
    pub(crate) async fn collect_sql_with(
        &self,
        tables: Vec<(&str, SchemaRef, Vec<RecordBatch>)>,
        sql: &str,
    ) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let names: Vec<&str> = tables.iter().map(|(name, ..)| *name).collect();
        for (name, schema, batches) in tables {
            self.register_statement_table(name, schema, batches)?;
        }
        let result = async {
            let stream = self.stream(self.parse_one(sql)?).await?;
            let schema = stream.schema();
            Ok((schema, stream.try_collect().await?))
        }
        .await;
        for name in names {
            self.deregister_statement_table(name)?;
        }
        result
    }

    /// Makes `batches` readable as `driftdb_statement.public.<name>` until deregistered.
    pub(crate) fn register_statement_table(
        &self,
        name: &str,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
    ) -> Result<()> {
        let table = MemTable::try_new(schema, vec![batches])?;
        let name = TableReference::full(STATEMENT_TABLES, SCHEMA_NAME, name);
        self.ctx.register_table(name, Arc::new(table))?;
        Ok(())
    }

    pub(crate) fn deregister_statement_table(&self, name: &str) -> Result<()> {
        let name = TableReference::full(STATEMENT_TABLES, SCHEMA_NAME, name);
        self.ctx.deregister_table(name)?;
        Ok(())
    }

    /// The rows an INSERT (without RETURNING or ON CONFLICT) would write: every visible column of
    /// the table, defaults filled in, in the table's column order.
    pub(crate) async fn insert_rows(&self, insert: Insert) -> Result<Vec<RecordBatch>> {
        let plan = self.plan(Ast::Insert(insert)).await?;
        let LogicalPlan::Dml(dml) = plan else {
            return Err(Error::new(
                ErrorKind::Internal,
                "INSERT planned as something else",
            ));
        };
        let input = Arc::unwrap_or_clone(dml.input);
        let physical = crate::exec::apply::physical_plan(&self.state, &input).await?;
        Ok(collect(physical, self.task_ctx.clone()).await?)
    }

    /// The session's planner (its settings, functions and the transaction's `now()`).
    pub(crate) fn planner(&self) -> &SessionState {
        &self.state
    }

    /// The schema of the rows `statement` would return (views expanded), without running it.
    pub(crate) async fn query_schema(&self, statement: Ast) -> Result<SchemaRef> {
        let plan = self.plan(statement).await?;
        Ok(Arc::new(plan.schema().as_arrow().clone()))
    }

    /// Runs a query the SQL layer wrote itself (for UPDATE and DELETE), at the pinned snapshot.
    pub(crate) async fn collect_sql(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        let statement = self.parse_one(sql)?;
        self.collect(statement).await
    }

    /// Runs a `SELECT count(*) …` the SQL layer wrote itself and returns the count.
    pub(crate) async fn count_sql(&self, sql: &str) -> Result<i64> {
        let batches = self.collect_sql(sql).await?;
        Ok(batches
            .first()
            .and_then(|b| b.column(0).as_primitive_opt::<Int64Type>())
            .map_or(0, |counts| counts.value(0)))
    }

    /// Parses one statement the SQL layer wrote itself.
    pub(crate) fn parse_one(&self, sql: &str) -> Result<Ast> {
        let mut statements = crate::common::parse::statements(sql).map_err(|e| match e {
            // Generated text holds the user's expressions, so it nests as deep as they do.
            ParserError::RecursionLimitExceeded => crate::common::parse::too_deep(),
            e => Error::new(
                ErrorKind::Internal,
                format!("generated query {sql:?} did not parse: {e}"),
            ),
        })?;
        match (statements.pop(), statements.is_empty()) {
            (Some(statement), true) => Ok(statement),
            _ => Err(Error::new(
                ErrorKind::Internal,
                "generated query is not one statement",
            )),
        }
    }

    /// Drops every table registered for a statement's own rows (a statement that failed midway
    /// leaves them behind).
    pub(crate) fn drop_statement_tables(&self) {
        if let Some(schema) = self
            .ctx
            .catalog(STATEMENT_TABLES)
            .and_then(|catalog| catalog.schema(SCHEMA_NAME))
        {
            for name in schema.table_names() {
                let _ = self.deregister_statement_table(&name);
            }
        }
    }

    /// What every provider and function of the session shares.
    pub(crate) fn scope(&self) -> &SessionScope {
        &self.scope
    }

    /// The scope, to keep.
    pub(crate) fn shared_scope(&self) -> Arc<SessionScope> {
        self.scope.clone()
    }
}
