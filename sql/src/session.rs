//! A session: one client's connection state, and the one API the server calls.
//!
//! `parse` turns SQL text into statements (after rewriting temporal clauses); `execute` runs one
//! statement and returns rows or a command tag. Transaction control is handled first
//! ([`crate::control`]); every other statement runs inside a transaction ([`crate::transaction`]),
//! the open one or an implicit one that commits when the statement ends. DDL and writes are
//! staged into the transaction; queries are planned and run by DataFusion over the
//! engine-backed catalog.

use crate::catalog::{CATALOG_NAME, DriftCatalog, SCHEMA_NAME, SessionScope};
use crate::colnames;
use crate::control::{self, Control};
use crate::database::Database;
use crate::ddl;
use crate::defaults::{self, NextVal};
use crate::dml;
use crate::engine_error::engine_error;
use crate::functions::{AsOfFunction, CurrentSeq, VersionsFunction};
use crate::info;
use crate::pgsyntax;
use crate::settings;
use crate::temporal::{self, AS_OF_FUNCTION, VERSIONS_FUNCTION};
use crate::transaction::{Isolation, Transaction};
use crate::upsert;
use crate::views;
use datafusion::logical_expr::planner::ExprPlanner;
use datafusion::optimizer::{Analyzer, AnalyzerRule};
use driftdb_pgtypes::error::{Error, ErrorKind, Notice, Result};
use driftdb_pgtypes::functions::arrays::PgArrayLiterals;
use driftdb_pgtypes::functions::casts::PgCasts;
use driftdb_pgtypes::functions::json_ops::JsonPlanner;
use driftdb_pgtypes::functions::single::Single;
use driftdb_pgtypes::types::PgTypePlanner;

/// The catalog of tables a statement computes for itself ([`Session::collect_sql_with`]).
pub(crate) const STATEMENT_TABLES: &str = "driftdb_statement";
use crate::copy::{self, CopyFormat};
use datafusion::arrow::array::{ArrayRef, AsArray, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{CatalogProvider, MemoryCatalogProvider, MemorySchemaProvider};
use datafusion::common::TableReference;
use datafusion::common::config::Dialect;
use datafusion::datasource::MemTable;
use datafusion::execution::context::SQLOptions;
use datafusion::execution::session_state::SessionState;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{LogicalPlan, ScalarUDF};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{collect, execute_stream};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{
    CascadeOption, ContextModifier, CopySource, CopyTarget, Ident, Insert, ObjectType, Reset,
    ResetStatement, Set, Statement as Ast, TableObject, Truncate,
};
use datafusion::sql::sqlparser::parser::ParserError;
use futures::{StreamExt, TryStreamExt};
use std::fmt;
use std::sync::Arc;

/// `first` (a CSV header) joined to the first line of `lines`, so every line still stands for
/// one row.
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

fn prepend(
    first: String,
    lines: impl futures::Stream<Item = Result<String>> + Send + 'static,
) -> impl futures::Stream<Item = Result<String>> + Send + 'static {
    let mut first = Some(first);
    lines
        .map(move |line| {
            line.map(|line| match first.take() {
                Some(header) => header + &line,
                None => line,
            })
        })
        .chain(futures::stream::once(async { Ok(String::new()) }))
        .filter(|line| futures::future::ready(!matches!(line, Ok(l) if l.is_empty())))
}

/// One parsed SQL statement, ready for [`Session::execute`].
#[derive(Clone, Debug)]
pub struct Statement(Ast);

impl Statement {
    pub(crate) fn from_ast(ast: Ast) -> Statement {
        Statement(ast)
    }

    pub(crate) fn into_ast(self) -> Ast {
        self.0
    }

    /// For `DEALLOCATE name`, the prepared statement it drops (`Some(None)` for `DEALLOCATE
    /// ALL`). Prepared statements live in the connection, so the server carries it out.
    pub fn deallocation(&self) -> Option<Option<String>> {
        match &self.0 {
            Ast::Deallocate { name, .. }
                if name.quote_style.is_none() && name.value.eq_ignore_ascii_case("all") =>
            {
                Some(None)
            }
            Ast::Deallocate { name, .. } => Some(Some(name.value.clone())),
            _ => None,
        }
    }
}

impl fmt::Display for Statement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

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
    fn new(command: &'static str) -> CommandTag {
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

/// How many times an autocommit write runs again after losing a conflict before the conflict
/// is reported (each loss means another transaction committed, so this is progress, not a spin).
const AUTOCOMMIT_RETRIES: usize = 1000;

/// Which of PostgreSQL's idle timeouts applies to a session waiting for its client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdleTimeout {
    /// `idle_session_timeout`: no transaction block is open.
    Session,
    /// `idle_in_transaction_session_timeout`: a transaction block is open.
    InTransaction,
}

/// Where a session's transaction stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransactionStatus {
    /// No transaction block: each statement commits on its own.
    Idle,
    /// Inside BEGIN … COMMIT.
    InTransaction,
    /// Inside a transaction block that failed: only ROLLBACK (or ROLLBACK TO) helps.
    Failed,
}

/// One client's session.
pub struct Session {
    scope: Arc<SessionScope>,
    ctx: SessionContext,
    /// The context's state, kept: `SessionContext::state` clones every function registry, and
    /// planning through the context did that three times per statement (a tenth of a point
    /// select). Refreshed after statements that change the context's settings.
    state: SessionState,
    task_ctx: Arc<TaskContext>,
    /// The isolation level of transactions that do not name one.
    default_isolation: Isolation,
    /// The `COPY … FROM STDIN` receiving its data, and whether it runs in a transaction of
    /// its own.
    copy_in: Option<(copy::CopyIn, bool)>,
    /// What the open implicit block ran.
    block: ImplicitBlock,
}

/// The statements of an implicit transaction block, as far as a retry needs them.
#[derive(Debug, Default)]
struct ImplicitBlock {
    statements: usize,
    /// The last write and the tag it returned.
    write: Option<(Ast, CommandTag)>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("user", &self.scope.user)
            .finish()
    }
}

impl Session {
    /// Puts the settings back as they were when `txn`'s block began (ROLLBACK).
    fn roll_back_settings(&self, txn: Option<Transaction>) {
        if let Some(settings) = txn.and_then(|txn| txn.settings_at_begin) {
            *self.scope.settings() = settings;
        }
    }
}

/// PostgreSQL's warning for COMMIT or ROLLBACK outside a transaction block.
fn no_transaction() -> Notice {
    Notice::warning(
        ErrorKind::NoActiveTransaction,
        "there is no transaction in progress",
    )
}

impl Session {
    pub(crate) fn new(db: Arc<Database>, user: &str) -> Session {
        let runtime = db.runtime.clone();
        let scope = Arc::new(SessionScope::new(db, user));
        let mut config = SessionConfig::new()
            .with_default_catalog_and_schema(CATALOG_NAME, SCHEMA_NAME)
            .with_create_default_catalog_and_schema(false)
            // `information_schema` is PostgreSQL's ([`crate::infoschema`]), not DataFusion's.
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
            datafusion::common::config::ConfigNonZeroUsize::try_new(crate::parse::PARSER_DEPTH)
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
            .with_query_planner(Arc::new(crate::apply::ApplyPlanner))
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
        ctx.register_catalog(CATALOG_NAME, Arc::new(DriftCatalog::new(scope.clone())));
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
        for function in info::functions(&scope) {
            ctx.register_udf(function);
        }
        if scope.db.options.test_functions {
            ctx.register_udf(ScalarUDF::from(crate::testing::PanicFunction::new()));
        }
        for series in ["generate_series", "range"] {
            if let Ok(builtin) = ctx.table_function(series) {
                let inner = builtin.function().clone();
                ctx.register_udtf(series, Arc::new(crate::functions::WideningSeries { inner }));
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
        Session {
            scope,
            ctx,
            state,
            task_ctx,
            default_isolation: Isolation::ReadCommitted,
            copy_in: None,
            block: ImplicitBlock::default(),
        }
    }

    /// The session's user.
    pub fn user(&self) -> &str {
        &self.scope.user
    }

    /// Applies a setting the client sent when it connected (`DateStyle`, `TimeZone`,
    /// `extra_float_digits`, …). Startup parameters that are not settings are ignored.
    pub fn apply_startup_parameter(&mut self, name: &str, value: &str) -> Result<()> {
        match name {
            "user" | "database" | "options" | "replication" => Ok(()),
            _ => match self.scope.settings().set_text(name, value) {
                Err(e) if e.kind == ErrorKind::UndefinedObject => Ok(()),
                other => other,
            },
        }
    }

    /// The session's `statement_timeout`, if one is set.
    pub fn statement_timeout(&self) -> Option<std::time::Duration> {
        self.scope.settings().statement_timeout()
    }

    /// How long the session may wait for its client's next command, if it must not wait
    /// forever: `idle_in_transaction_session_timeout` inside a transaction block,
    /// `idle_session_timeout` outside one.
    pub fn idle_timeout(&self) -> Option<(IdleTimeout, std::time::Duration)> {
        let (which, name) = match self.transaction_status() {
            TransactionStatus::Idle => (IdleTimeout::Session, "idle_session_timeout"),
            _ => (
                IdleTimeout::InTransaction,
                "idle_in_transaction_session_timeout",
            ),
        };
        self.scope.settings().timeout(name).map(|t| (which, t))
    }

    /// What `SHOW` of `variable` returns (`None`: a DataFusion setting, which DataFusion shows).
    pub(crate) fn show(&self, variable: &[Ident]) -> Result<Option<QueryResult>> {
        let name = settings::show_name(variable);
        if name.starts_with("datafusion.") {
            return Ok(None);
        }
        let settings = self.scope.settings();
        if name == "all" {
            let (names, values): (Vec<&str>, Vec<&str>) = settings.all().unzip();
            let schema = Arc::new(Schema::new(vec![
                Field::new("name", DataType::Utf8, false),
                Field::new("setting", DataType::Utf8, false),
            ]));
            let batch = RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(StringArray::from(names)),
                    Arc::new(StringArray::from(values)),
                ],
            )
            .map_err(datafusion::error::DataFusionError::from)?;
            return Ok(Some(QueryResult::from_batches(schema, vec![batch], "SHOW")));
        }
        let (name, value) = settings.get(&name)?;
        Ok(Some(QueryResult::single_text(name, value)?))
    }

    /// SET, RESET and SHOW of run-time settings (`None`: a DataFusion setting, or no setting).
    fn settings_statement(&self, statement: &Ast) -> Result<Option<StatementResult>> {
        let done = |tag| Ok(Some(StatementResult::Command(CommandTag::new(tag))));
        let mut settings = self.scope.settings();
        match statement {
            Ast::Set(Set::SingleAssignment {
                scope,
                variable,
                values,
                ..
            }) => {
                let name = settings::setting_name(variable);
                if name.starts_with("datafusion.") {
                    return Ok(None);
                }
                if matches!(scope, Some(ContextModifier::Local)) {
                    // SET LOCAL lasts until the block ends; outside one it does nothing.
                    let in_block = self
                        .scope
                        .with_transaction(|txn| txn.settings_at_begin.is_some())
                        .unwrap_or(false);
                    if !in_block {
                        self.scope.notice(Notice::warning(
                            ErrorKind::NoActiveTransaction,
                            "SET LOCAL can only be used in transaction blocks",
                        ));
                        return done("SET");
                    }
                    settings.set(&name, values)?;
                    let _ = self
                        .scope
                        .with_transaction(|txn| txn.local_settings.push(name));
                    return done("SET");
                }
                settings.set(&name, values)?;
                done("SET")
            }
            Ast::Set(Set::SetTimeZone { value, .. }) => {
                settings.set("TimeZone", std::slice::from_ref(value))?;
                done("SET")
            }
            Ast::Set(Set::SetNames { charset_name, .. }) => {
                settings.set_text("client_encoding", &charset_name.value)?;
                done("SET")
            }
            // One role exists, the session's user: `SET ROLE` to it (or NONE) changes nothing.
            Ast::Set(Set::SetRole { role_name, .. }) => match role_name {
                Some(role) if role.value != self.scope.user => Err(Error::new(
                    ErrorKind::InvalidParameterValue,
                    format!("role \"{}\" does not exist", role.value),
                )),
                _ => done("SET"),
            },
            Ast::Set(Set::SetNamesDefault {}) => {
                settings.reset("client_encoding")?;
                done("SET")
            }
            Ast::Reset(ResetStatement { reset: Reset::ALL }) => {
                settings.reset_all();
                done("RESET")
            }
            Ast::Reset(ResetStatement {
                reset: Reset::ConfigurationParameter(name),
            }) => {
                let name = settings::setting_name(name);
                if !name.eq_ignore_ascii_case("role") {
                    settings.reset(&name)?;
                }
                done("RESET")
            }
            Ast::ShowVariable { variable } => {
                drop(settings);
                Ok(self.show(variable)?.map(StatementResult::Query))
            }
            _ => Ok(None),
        }
    }

    /// Parses SQL text (any number of `;`-separated statements) after rewriting temporal clauses.
    /// Text that does not parse fails an open transaction block, as any error does.
    pub fn parse(&self, sql: &str) -> Result<Vec<Statement>> {
        let parsed = self.parse_text(sql);
        if parsed.is_err() {
            self.fail_transaction_block();
        }
        parsed
    }

    fn parse_text(&self, sql: &str) -> Result<Vec<Statement>> {
        let tokens = crate::ctas::type_column_names(temporal::rewrite(sql)?);
        crate::parse::check_token_nesting(&tokens)?;
        let token_count = tokens.len();
        let statements = crate::parse::parser()
            .with_tokens_with_locations(tokens)
            .parse_statements()
            .map_err(|e| crate::parse::parser_error(sql, e))?;
        let mut statements = crate::parse::check_depth(statements, token_count)?;
        for statement in &mut statements {
            pgsyntax::rewrite(statement);
        }
        Ok(statements.into_iter().map(Statement).collect())
    }

    /// Parses and runs every statement in `sql`, stopping at the first error. Query results are
    /// collected; meant for tests and tools, the server streams via [`Session::execute`].
    pub async fn execute_sql(
        &mut self,
        sql: &str,
    ) -> Result<Vec<(Option<SchemaRef>, Vec<RecordBatch>, CommandTag)>> {
        let mut results = Vec::new();
        for statement in self.parse(sql)? {
            match self.execute(statement).await? {
                StatementResult::Query(q) => {
                    let batches: Vec<RecordBatch> = q.stream.try_collect().await?;
                    let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
                    // `INSERT 0` is `INSERT` with its row count.
                    let command = q.tag.split(' ').next().unwrap_or(q.tag);
                    results.push((
                        Some(q.schema),
                        batches,
                        CommandTag::with_rows(command, rows),
                    ));
                }
                StatementResult::Command(tag) => results.push((None, Vec::new(), tag)),
                StatementResult::CopyOut(copy) => {
                    let lines: Vec<String> = copy.lines.try_collect().await?;
                    let rows = lines.len() as u64;
                    results.push((None, Vec::new(), CommandTag::with_rows("COPY", rows)));
                }
            }
        }
        Ok(results)
    }

    /// Opens an implicit transaction block, unless a transaction is open: the extended
    /// protocol's statements up to the next Sync then commit together (or not at all), as in
    /// PostgreSQL.
    pub fn begin_implicit_block(&mut self) {
        let mut guard = self.scope.transaction_guard();
        if guard.is_none() {
            let mut txn = Transaction::new(self.default_isolation, false, false);
            txn.block = true;
            *guard = Some(txn);
            self.block = ImplicitBlock::default();
        }
    }

    /// Ends the implicit transaction block (at Sync): commits it, or drops it if a statement
    /// in it failed.
    pub async fn end_implicit_block(&mut self) -> Result<()> {
        let block = {
            let mut guard = self.scope.transaction_guard();
            match guard.as_ref() {
                Some(txn) if txn.block && !txn.explicit => guard.take(),
                _ => None,
            }
        };
        let Some(txn) = block.filter(|txn| !txn.failed) else {
            return Ok(());
        };
        let replay = std::mem::take(&mut self.block);
        match self.commit_transaction(Some(txn)).await {
            // A block of one write that lost a conflict runs again on the newer state, as the
            // same statement outside a block would (`autocommit`); the client was already told
            // its row count, so only the same count counts as success.
            Err(e) if e.kind == ErrorKind::SerializationFailure && replay.statements == 1 => {
                let Some((statement, told)) = replay.write else {
                    return Err(e);
                };
                match self.autocommit(statement).await? {
                    StatementResult::Command(tag) if tag == told => Ok(()),
                    _ => Err(e),
                }
            }
            other => other,
        }
    }

    /// Marks an open transaction block (explicit, or the extended protocol's implicit one)
    /// failed: only ROLLBACK helps an explicit one, and an implicit one ends without commit.
    pub(crate) fn fail_transaction_block(&self) {
        let _ = self.scope.with_transaction(|txn| {
            if txn.explicit || txn.block {
                txn.failed = true;
            }
        });
    }

    /// Ends a statement interrupted part-way (cancelled, timed out): it may have staged part of
    /// its writes, so an explicit transaction fails (only ROLLBACK helps) and an implicit one is
    /// discarded; tables it had computed for itself are dropped.
    pub fn abort_statement(&mut self) {
        self.copy_in = None;
        {
            let mut guard = self.scope.transaction_guard();
            match guard.as_mut() {
                Some(txn) if txn.explicit => txn.failed = true,
                _ => *guard = None,
            }
        }
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

    /// For `COPY … FROM STDIN`: starts loading (inside the open transaction, or in one of its
    /// own that commits when the data ends) and returns how many columns each row has; `None`
    /// for any other statement. The data then comes through [`Session::copy_in_data`] and
    /// ends with [`Session::finish_copy_in`] or [`Session::abort_copy_in`].
    pub fn start_copy_in(&mut self, statement: &Statement) -> Result<Option<usize>> {
        let Ast::Copy {
            source:
                CopySource::Table {
                    table_name,
                    columns,
                },
            to: false,
            target: CopyTarget::Stdin,
            options,
            legacy_options,
            ..
        } = &statement.0
        else {
            return Ok(None);
        };
        let format = CopyFormat::of(options, legacy_options)?;
        let read_only = self
            .scope
            .with_transaction(|txn| txn.read_only)
            .unwrap_or(false);
        if read_only {
            return Err(Error::new(
                ErrorKind::ReadOnlyTransaction,
                "cannot execute COPY FROM in a read-only transaction",
            ));
        }
        let own_transaction = self.begin_planning()?;
        match copy::CopyIn::start(self, table_name, columns, format) {
            Ok(copy) => {
                let columns = copy.columns();
                self.copy_in = Some((copy, own_transaction));
                Ok(Some(columns))
            }
            Err(e) => {
                self.fail_copy_in(own_transaction);
                Err(e)
            }
        }
    }

    /// The next piece of a running `COPY … FROM STDIN`'s data (ignored when none runs, as
    /// PostgreSQL drops the data of a COPY that already failed). An error ends the COPY.
    pub async fn copy_in_data(&mut self, data: &[u8]) -> Result<()> {
        let Some((mut copy, own_transaction)) = self.copy_in.take() else {
            return Ok(());
        };
        match copy.receive(self, data).await {
            Ok(()) => {
                self.copy_in = Some((copy, own_transaction));
                Ok(())
            }
            Err(e) => {
                self.fail_copy_in(own_transaction);
                Err(e)
            }
        }
    }

    /// The data of the running `COPY … FROM STDIN` ended: loads the rest (and commits, if the
    /// COPY runs in a transaction of its own); returns the rows loaded.
    pub async fn finish_copy_in(&mut self) -> Result<u64> {
        let Some((mut copy, own_transaction)) = self.copy_in.take() else {
            return Err(Error::new(
                ErrorKind::ProtocolViolation,
                "CopyDone without a COPY in progress",
            ));
        };
        let rows = match copy.finish(self).await {
            Ok(rows) => rows,
            Err(e) => {
                self.fail_copy_in(own_transaction);
                return Err(e);
            }
        };
        if own_transaction {
            let txn = self.close_transaction();
            self.commit_transaction(txn).await?;
        }
        Ok(rows)
    }

    /// The client gave up the running `COPY … FROM STDIN` (CopyFail): nothing of it stays.
    pub fn abort_copy_in(&mut self) {
        if let Some((_, own_transaction)) = self.copy_in.take() {
            self.fail_copy_in(own_transaction);
        }
    }

    /// A COPY failed: a transaction of its own is dropped, a block it ran in fails.
    fn fail_copy_in(&mut self, own_transaction: bool) {
        match own_transaction {
            true => {
                self.close_transaction();
            }
            false => self.fail_transaction_block(),
        }
    }

    /// COPY, either way.
    async fn copy(&self, statement: Ast) -> Result<StatementResult> {
        let Ast::Copy {
            source,
            to,
            target,
            options,
            legacy_options,
            ..
        } = statement
        else {
            return Err(Error::new(ErrorKind::Internal, "not a COPY"));
        };
        let format = CopyFormat::of(&options, &legacy_options)?;
        match (source, to, target) {
            (CopySource::Table { .. }, false, CopyTarget::Stdin) => Err(Error::new(
                ErrorKind::ProtocolViolation,
                "COPY FROM STDIN runs only through the COPY protocol",
            )),
            (source, true, CopyTarget::Stdout) => {
                let query = match source {
                    CopySource::Query(query) => Ast::Query(query),
                    CopySource::Table {
                        table_name,
                        columns,
                    } => {
                        let list = match columns.is_empty() {
                            true => "*".to_string(),
                            false => columns
                                .iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join(", "),
                        };
                        self.parse_one(&format!("SELECT {list} FROM {table_name}"))?
                    }
                };
                let stream = self.stream(query).await?;
                let schema = stream.schema();
                let header = copy::header(&schema, &format);
                let lines = stream
                    .map(move |batch| {
                        let batch = batch.map_err(Error::from)?;
                        copy::copy_out_rows(&batch, &format)
                    })
                    .map_ok(|lines| futures::stream::iter(lines.into_iter().map(Ok)))
                    .try_flatten();
                let lines = match header {
                    Some(header) => prepend(header, lines).boxed(),
                    None => lines.boxed(),
                };
                Ok(StatementResult::CopyOut(CopyOut {
                    columns: schema.fields().len(),
                    lines,
                }))
            }
            (CopySource::Query(_), false, _) => Err(Error::new(
                ErrorKind::SyntaxError,
                "COPY FROM cannot read into a query",
            )),
            _ => Err(Error::unsupported(
                "COPY to or from a file or program on the server (use STDIN/STDOUT, or psql's \\copy)",
            )),
        }
    }

    /// Where the session's transaction stands (the wire protocol reports it as I, T or E).
    pub fn transaction_status(&self) -> TransactionStatus {
        let guard = self.scope.transaction_guard();
        match guard.as_ref() {
            Some(txn) if txn.explicit && txn.failed => TransactionStatus::Failed,
            Some(txn) if txn.explicit => TransactionStatus::InTransaction,
            _ => TransactionStatus::Idle,
        }
    }

    /// Runs one statement: transaction control itself, anything else inside the open
    /// transaction, or in an implicit one that commits when the statement ends.
    pub async fn execute(&mut self, statement: Statement) -> Result<StatementResult> {
        if let Some(control) = control::classify(&statement.0)? {
            return self.control(control).await;
        }
        let (explicit, block, failed, read_only) = {
            let guard = self.scope.transaction_guard();
            match guard.as_ref() {
                // An implicit block runs its statements like an explicit transaction's.
                Some(txn) => (
                    txn.explicit || txn.block,
                    txn.block && !txn.explicit,
                    txn.failed,
                    txn.read_only,
                ),
                None => (false, false, false, false),
            }
        };
        if !explicit {
            return self.autocommit(statement.0).await;
        }
        if failed {
            return Err(Error::new(
                ErrorKind::InFailedTransaction,
                "current transaction is aborted, commands ignored until end of transaction block",
            ));
        }
        let replay =
            (block && control::writes(&statement.0).is_some()).then(|| statement.0.clone());
        if block {
            self.block.statements += 1;
        }
        let result = match control::writes(&statement.0) {
            Some(command) if read_only => Err(Error::new(
                ErrorKind::ReadOnlyTransaction,
                format!("cannot execute {command} in a read-only transaction"),
            )),
            _ => self.run(statement.0).await,
        };
        match result {
            Err(e) => {
                self.scope.with_transaction(|txn| txn.failed = true)?;
                Err(e)
            }
            Ok(StatementResult::Query(query)) => Ok(StatementResult::Query(
                self.failing_transaction_on_error(query),
            )),
            Ok(StatementResult::Command(tag)) => {
                if let Some(statement) = replay {
                    self.block.write = Some((statement, tag.clone()));
                }
                Ok(StatementResult::Command(tag))
            }
            Ok(other) => Ok(other),
        }
    }

    /// Rows of a statement inside a transaction block: an error while they stream (division by
    /// zero in the tenth batch, say) fails the transaction like an error before the first row.
    fn failing_transaction_on_error(&self, query: QueryResult) -> QueryResult {
        let scope = self.scope.clone();
        let stream = query.stream.inspect(move |batch| {
            if batch.is_err() {
                // The transaction is this session's; it cannot have ended while its rows stream.
                let _ = scope.with_transaction(|txn| txn.failed = true);
            }
        });
        QueryResult {
            schema: query.schema.clone(),
            stream: Box::pin(RecordBatchStreamAdapter::new(query.schema, stream)),
            tag: query.tag,
        }
    }

    /// Runs a statement in a transaction of its own and commits it. A write that loses a
    /// conflict to a concurrent commit runs again on the newer state (the statement was the
    /// whole transaction, so nobody saw its first attempt): what PostgreSQL's READ COMMITTED
    /// does by waiting for the other writer and re-checking the row. Retries run one at a time.
    async fn autocommit(&mut self, statement: Ast) -> Result<StatementResult> {
        if control::writes(&statement).is_none() {
            return self.run_and_commit(statement).await;
        }
        let db = self.scope.db.clone();
        let mut retry_turn = None;
        let mut attempt = 0;
        loop {
            match self.run_and_commit(statement.clone()).await {
                Err(e)
                    if e.kind == ErrorKind::SerializationFailure
                        && attempt < AUTOCOMMIT_RETRIES =>
                {
                    attempt += 1;
                    if retry_turn.is_none() {
                        retry_turn = Some(db.retry_lock.lock().await);
                    }
                }
                result => return result,
            }
        }
    }

    /// Runs a statement in an implicit transaction and commits it.
    async fn run_and_commit(&mut self, statement: Ast) -> Result<StatementResult> {
        self.open_transaction(Transaction::new(self.default_isolation, false, false));
        let result = self.run(statement).await;
        let txn = self.close_transaction();
        let result = result?;
        self.commit_transaction(txn).await?;
        Ok(result)
    }

    fn open_transaction(&self, txn: Transaction) {
        *self.scope.transaction_guard() = Some(txn);
    }

    fn close_transaction(&self) -> Option<Transaction> {
        self.scope.transaction_guard().take()
    }

    /// Hands a transaction's changes to the engine, which certifies and commits them.
    async fn commit_transaction(&self, txn: Option<Transaction>) -> Result<()> {
        let Some(txn) = txn.filter(|txn| !txn.is_empty()) else {
            return Ok(());
        };
        let engine = self.scope.db.engine.clone();
        let user = self.scope.user.clone();
        let txn = txn.into_engine(engine.catalog_version());
        tokio::task::spawn_blocking(move || engine.commit_transaction(&user, &txn))
            .await
            .map_err(|e| Error::new(ErrorKind::Internal, format!("commit task failed: {e}")))?
            .map_err(engine_error)?;
        Ok(())
    }

    /// Runs a transaction-control statement.
    async fn control(&mut self, control: Control) -> Result<StatementResult> {
        let command = |tag| Ok(StatementResult::Command(CommandTag::new(tag)));
        let status = self.transaction_status();
        let in_block = status != TransactionStatus::Idle;
        let failed = status == TransactionStatus::Failed;
        let not_in_block = |what: &str| {
            Err(Error::new(
                ErrorKind::NoActiveTransaction,
                format!("{what} can only be used in transaction blocks"),
            ))
        };
        let implicit_block = self
            .scope
            .with_transaction(|txn| txn.block && !txn.explicit)
            .unwrap_or(false);
        match control {
            // BEGIN inside an implicit block makes it an explicit one, keeping its changes.
            Control::Begin(modes) if implicit_block => {
                let settings = self.scope.settings().clone();
                self.scope.with_transaction(|txn| {
                    txn.explicit = true;
                    txn.settings_at_begin = Some(settings);
                    control::set_transaction(txn, modes)
                })??;
                command("BEGIN")
            }
            // COMMIT and ROLLBACK end an implicit block as they would an explicit one, with
            // PostgreSQL's warning that no BEGIN opened it.
            Control::Commit if implicit_block => {
                self.scope.notice(no_transaction());
                let txn = self.close_transaction();
                self.commit_transaction(txn).await?;
                command("COMMIT")
            }
            Control::Rollback if implicit_block => {
                self.scope.notice(no_transaction());
                self.close_transaction();
                command("ROLLBACK")
            }
            // PostgreSQL warns about a BEGIN inside a transaction block and carries on.
            Control::Begin(_) if in_block => {
                self.scope.notice(Notice::warning(
                    ErrorKind::ActiveTransaction,
                    "there is already a transaction in progress",
                ));
                command("BEGIN")
            }
            Control::Begin(modes) => {
                let mut txn = control::begin(modes, self.default_isolation);
                txn.settings_at_begin = Some(self.scope.settings().clone());
                self.open_transaction(txn);
                command("BEGIN")
            }
            Control::Commit if failed => {
                self.roll_back_settings(self.close_transaction());
                command("ROLLBACK")
            }
            Control::Commit => {
                if !in_block {
                    self.scope.notice(no_transaction());
                }
                let mut txn = self.close_transaction();
                let settings = txn.as_mut().map(|txn| {
                    let locals = std::mem::take(&mut txn.local_settings);
                    (txn.settings_at_begin.take(), locals)
                });
                match self.commit_transaction(txn).await {
                    Ok(()) => {
                        // SET LOCAL ends with the transaction.
                        if let Some((Some(begin), locals)) = &settings {
                            let mut current = self.scope.settings();
                            for name in locals {
                                current.restore(begin, name);
                            }
                        }
                        command("COMMIT")
                    }
                    Err(e) => {
                        // A failed COMMIT rolls back, settings included.
                        if let Some((Some(begin), _)) = settings {
                            *self.scope.settings() = begin;
                        }
                        Err(e)
                    }
                }
            }
            Control::Rollback => {
                if !in_block {
                    self.scope.notice(no_transaction());
                }
                self.roll_back_settings(self.close_transaction());
                command("ROLLBACK")
            }
            Control::Savepoint(_) | Control::RollbackTo(_) | Control::Release(_) if !in_block => {
                not_in_block(match control {
                    Control::Savepoint(_) => "SAVEPOINT",
                    Control::RollbackTo(_) => "ROLLBACK TO SAVEPOINT",
                    _ => "RELEASE SAVEPOINT",
                })
            }
            Control::Savepoint(_) | Control::Release(_) if failed => Err(Error::new(
                ErrorKind::InFailedTransaction,
                "current transaction is aborted, commands ignored until end of transaction block",
            )),
            Control::Savepoint(name) => {
                let settings = self.scope.settings().clone();
                self.scope
                    .with_transaction(|txn| txn.savepoint(name, settings))?;
                command("SAVEPOINT")
            }
            Control::RollbackTo(name) => {
                let settings = self
                    .scope
                    .with_transaction(|txn| txn.rollback_to(&name))??;
                *self.scope.settings() = settings;
                command("ROLLBACK")
            }
            Control::Release(name) => {
                self.scope.with_transaction(|txn| txn.release(&name))??;
                command("RELEASE")
            }
            // Outside a block PostgreSQL only warns that SET TRANSACTION has no effect.
            Control::SetTransaction(_) if !in_block => {
                self.scope.notice(Notice::warning(
                    ErrorKind::NoActiveTransaction,
                    "SET TRANSACTION can only be used in transaction blocks",
                ));
                command("SET")
            }
            Control::SetTransaction(modes) => {
                self.scope
                    .with_transaction(|txn| control::set_transaction(txn, modes))??;
                command("SET")
            }
            Control::SetDefault(modes) => {
                if let Some(isolation) = modes.isolation {
                    self.default_isolation = isolation;
                }
                command("SET")
            }
            Control::ShowIsolation { current } => {
                let isolation = match current {
                    true => self
                        .scope
                        .with_transaction(|txn| txn.isolation)
                        .unwrap_or(self.default_isolation),
                    false => self.default_isolation,
                };
                Ok(StatementResult::Query(QueryResult::single_text(
                    control::isolation_setting(current),
                    isolation.name(),
                )?))
            }
        }
    }

    /// Pins the snapshot the statement about to run reads at.
    fn begin_statement(&mut self) -> Result<()> {
        let engine = &self.scope.db.engine;
        let (latest, version) = (engine.latest_seq(), engine.catalog_version());
        let (snapshot, first) = self.scope.with_transaction(|txn| {
            let first = !txn.has_started();
            (txn.statement_snapshot(latest, version), first)
        })?;
        self.scope.set_snapshot(snapshot);
        if first {
            // now() is the transaction's start, as in PostgreSQL.
            self.state.mark_start_execution();
        }
        Ok(())
    }

    /// Sets up a snapshot for planning without running anything (describing a prepared
    /// statement): the open transaction's, or that of an implicit transaction
    /// [`Session::end_planning`] drops. Returns whether it opened one.
    pub(crate) fn begin_planning(&mut self) -> Result<bool> {
        let open = self
            .scope
            .with_transaction(|txn| txn.failed && (txn.explicit || txn.block));
        let implicit = match open {
            Ok(true) => {
                return Err(Error::new(
                    ErrorKind::InFailedTransaction,
                    "current transaction is aborted, commands ignored until end of transaction block",
                ));
            }
            Ok(false) => false,
            Err(_) => {
                self.open_transaction(Transaction::new(self.default_isolation, false, false));
                true
            }
        };
        if let Err(e) = self.begin_statement() {
            self.end_planning(implicit);
            return Err(e);
        }
        Ok(implicit)
    }

    /// Ends what [`Session::begin_planning`] began.
    pub(crate) fn end_planning(&mut self, implicit: bool) {
        if implicit {
            self.close_transaction();
        }
    }

    /// Runs one statement inside the open transaction.
    async fn run(&mut self, statement: Ast) -> Result<StatementResult> {
        self.begin_statement()?;
        if let Some(result) = self.settings_statement(&statement)? {
            return Ok(result);
        }
        if let Ast::Copy { .. } = statement {
            return self.copy(statement).await;
        }
        let command = |tag| Ok(StatementResult::Command(CommandTag::new(tag)));
        let scope = &self.scope;
        match statement {
            Ast::CreateTable(create) if create.query.is_some() => {
                let rows = ddl::create_table_as(self, &create).await?;
                Ok(StatementResult::Command(CommandTag::with_rows(
                    "SELECT", rows,
                )))
            }
            Ast::CreateTable(create) => {
                ddl::create_table(scope, &create)?;
                command("CREATE TABLE")
            }
            Ast::Drop {
                object_type: ObjectType::Table,
                if_exists,
                names,
                ..
            } => {
                ddl::drop_relations(scope, &names, if_exists, false)?;
                command("DROP TABLE")
            }
            Ast::Drop {
                object_type: ObjectType::Index,
                if_exists,
                names,
                ..
            } => {
                ddl::drop_indexes(scope, &names, if_exists)?;
                command("DROP INDEX")
            }
            Ast::CreateView(create) => {
                views::create_view(self, &create).await?;
                command("CREATE VIEW")
            }
            Ast::Drop {
                object_type: ObjectType::View,
                if_exists,
                names,
                ..
            } => {
                ddl::drop_relations(scope, &names, if_exists, true)?;
                command("DROP VIEW")
            }
            Ast::CreateIndex(create) => {
                ddl::create_index(scope, &create)?;
                command("CREATE INDEX")
            }
            Ast::AlterTable(alter) => {
                ddl::alter_table(self, &alter).await?;
                command("ALTER TABLE")
            }
            Ast::Truncate(truncate) => {
                self.truncate(&truncate).await?;
                command("TRUNCATE TABLE")
            }
            Ast::Insert(mut insert) => {
                let nested = crate::nested_values::take(&mut insert);
                for (name, query) in &nested {
                    let stream = self.stream(Ast::Query(Box::new(query.clone()))).await?;
                    let schema = stream.schema();
                    let batches: Vec<RecordBatch> = stream.try_collect().await?;
                    self.register_statement_table(name, schema, batches)?;
                }
                let result = self.insert(insert).await;
                for (name, _) in &nested {
                    self.deregister_statement_table(name)?;
                }
                result
            }
            Ast::Update(update) => dml::update(self, &update).await,
            Ast::Delete(delete) => dml::delete(self, &delete).await,
            other => {
                let changes_settings = matches!(other, Ast::Set(_));
                let names = colnames::statement_names(&other);
                let stream = self.stream(other).await?;
                if changes_settings {
                    self.state = self.ctx.state();
                    self.task_ctx = self.state.task_ctx();
                }
                Ok(StatementResult::Query(QueryResult {
                    schema: colnames::rename(names, stream.schema()),
                    stream,
                    tag: "SELECT",
                }))
            }
        }
    }

    /// TRUNCATE: delete events for every row of every named table, in the transaction (history
    /// is kept, so the rows stay readable AS OF any earlier point).
    async fn truncate(&self, truncate: &Truncate) -> Result<()> {
        if truncate.identity.is_some() || truncate.partitions.is_some() {
            return Err(Error::unsupported(
                "TRUNCATE with RESTART/CONTINUE IDENTITY or partitions",
            ));
        }
        if truncate.cascade == Some(CascadeOption::Cascade) {
            return Err(Error::unsupported("TRUNCATE … CASCADE"));
        }
        for target in &truncate.table_names {
            let name = ddl::table_name(&target.name)?;
            dml::delete_all(self, &name).await?;
        }
        Ok(())
    }

    /// Plans a statement with DataFusion (views expanded).
    pub(crate) async fn plan(&self, mut statement: Ast) -> Result<LogicalPlan> {
        let mut points = std::collections::HashMap::new();
        for point in views::points_to_resolve(&self.scope, &statement) {
            if let std::collections::hash_map::Entry::Vacant(entry) =
                points.entry(point.to_string())
            {
                entry.insert(self.resolve_point(&point).await?);
            }
        }
        views::expand(&self.scope, &mut statement, &points)?;
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
        crate::functions::resolve_point(&self.scope, value)
    }

    /// Plans a statement with DataFusion and starts executing it.
    async fn stream(&self, statement: Ast) -> Result<SendableRecordBatchStream> {
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
        let physical = crate::apply::physical_plan(&self.state, &plan).await?;
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

    /// Runs an INSERT (its nested VALUES lists already computed).
    async fn insert(&self, mut insert: Insert) -> Result<StatementResult> {
        if let TableObject::TableName(name) = &insert.table
            && let Some(def) = self.scope.resolve_current(&ddl::table_name(name)?)
        {
            if def.view.is_some() {
                return Err(Error::unsupported(format!("writing to view \"{name}\"")));
            }
            defaults::prepare_insert(&def, &mut insert)?;
            if insert.returning.is_some() || insert.on.is_some() {
                return upsert::insert(self, def, insert).await;
            }
        }
        let batches = self.collect(Ast::Insert(insert)).await?;
        let rows = dml::count_of(&batches)?;
        Ok(StatementResult::Command(CommandTag::with_rows(
            "INSERT", rows,
        )))
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
        let physical = crate::apply::physical_plan(&self.state, &input).await?;
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
        let mut statements = crate::parse::statements(sql).map_err(|e| match e {
            // Generated text holds the user's expressions, so it nests as deep as they do.
            ParserError::RecursionLimitExceeded => crate::parse::too_deep(),
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

    /// The notices and warnings of the statements run since the last call, to send the client
    /// before their results.
    pub fn take_notices(&self) -> Vec<Notice> {
        let mut notices = self.scope.take_notices();
        if notices.is_empty() {
            return notices;
        }
        let settings = self.scope.settings();
        if let Ok((_, threshold)) = settings.get("client_min_messages") {
            notices.retain(|notice| settings::reaches_client(threshold, notice.warning));
        }
        notices
    }

    /// The settings PostgreSQL reports to clients (`client_encoding`, `DateStyle`, `TimeZone`,
    /// …) whose values differ from what `told` says the client knows, as (name, value);
    /// `told` is brought up to date. Nothing is copied while nothing changed (this runs after
    /// every query).
    pub fn changed_reported_settings(
        &self,
        told: &mut Vec<(String, String)>,
    ) -> Vec<(String, String)> {
        let settings = self.scope.settings();
        let mut changed = Vec::new();
        for name in settings::REPORTED {
            let Ok((name, value)) = settings.get(name) else {
                continue;
            };
            match told.iter_mut().find(|(known, _)| known == name) {
                Some((_, known)) if known == value => continue,
                Some((_, known)) => *known = value.to_string(),
                None => told.push((name.to_string(), value.to_string())),
            }
            changed.push((name.to_string(), value.to_string()));
        }
        changed
    }

    pub(crate) fn scope(&self) -> &SessionScope {
        &self.scope
    }
}
