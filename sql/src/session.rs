//! A session: one client's connection state, and the one API the server calls.
//!
//! `parse` turns SQL text into statements (after rewriting temporal clauses); `execute` runs one
//! statement and returns rows or a command tag. DDL is handled here against the engine's
//! catalog; writes run under the database's write lock at a fresh snapshot; everything else is
//! planned and run by DataFusion over the engine-backed catalog.

use crate::catalog::{CATALOG_NAME, DriftCatalog, SCHEMA_NAME, SessionScope};
use crate::database::Database;
use crate::ddl;
use crate::dml;
use crate::error::{Error, ErrorKind, Result};
use crate::functions::{AsOfFunction, CurrentSeq, VersionsFunction};
use crate::temporal::{self, AS_OF_FUNCTION, VERSIONS_FUNCTION};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::config::Dialect;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::context::SQLOptions;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::ScalarUDF;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{CascadeOption, ObjectType, Statement as Ast, Truncate};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use futures::TryStreamExt;
use std::fmt;
use std::sync::Arc;

/// One parsed SQL statement, ready for [`Session::execute`].
#[derive(Clone, Debug)]
pub struct Statement(Ast);

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
}

impl fmt::Debug for StatementResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatementResult::Query(q) => {
                f.debug_struct("Query").field("schema", &q.schema).finish()
            }
            StatementResult::Command(tag) => tag.fmt(f),
        }
    }
}

/// A result set: its schema and a stream of record batches.
pub struct QueryResult {
    pub schema: SchemaRef,
    pub stream: SendableRecordBatchStream,
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

    fn with_rows(command: &'static str, rows: u64) -> CommandTag {
        CommandTag {
            command,
            rows: Some(rows),
        }
    }
}

/// One client's session.
pub struct Session {
    scope: Arc<SessionScope>,
    ctx: SessionContext,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("user", &self.scope.user)
            .finish()
    }
}

impl Session {
    pub(crate) fn new(db: Arc<Database>, user: &str) -> Session {
        let scope = Arc::new(SessionScope::new(db, user));
        let mut config = SessionConfig::new()
            .with_default_catalog_and_schema(CATALOG_NAME, SCHEMA_NAME)
            .with_create_default_catalog_and_schema(false)
            .with_information_schema(true);
        let options = config.options_mut();
        options.sql_parser.dialect = Dialect::PostgreSQL;
        options.sql_parser.map_string_types_to_utf8view = false;
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_default_features()
            .build();
        let ctx = SessionContext::new_with_state(state);
        ctx.register_catalog(CATALOG_NAME, Arc::new(DriftCatalog::new(scope.clone())));
        ctx.register_udf(ScalarUDF::from(CurrentSeq::new(scope.clone())));
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
        Session { scope, ctx }
    }

    /// The session's user.
    pub fn user(&self) -> &str {
        &self.scope.user
    }

    /// Parses SQL text (any number of `;`-separated statements) after rewriting temporal clauses.
    pub fn parse(&self, sql: &str) -> Result<Vec<Statement>> {
        let tokens = temporal::rewrite(sql)?;
        let statements = Parser::new(&PostgreSqlDialect {})
            .with_tokens_with_locations(tokens)
            .parse_statements()
            .map_err(|e| Error::new(ErrorKind::SyntaxError, e.to_string()))?;
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
                    results.push((
                        Some(q.schema),
                        batches,
                        CommandTag::with_rows("SELECT", rows),
                    ));
                }
                StatementResult::Command(tag) => results.push((None, Vec::new(), tag)),
            }
        }
        Ok(results)
    }

    /// Pins the snapshot the next statement reads at: the latest commit.
    fn pin_snapshot(&self) {
        self.scope.set_snapshot(self.scope.db.latest_seq());
    }

    /// Takes the database's write lock, then pins the snapshot, so a writing statement reads
    /// the state it will commit on top of.
    async fn begin_write(&self) -> tokio::sync::MutexGuard<'_, ()> {
        let guard = self.scope.db.write_lock.lock().await;
        self.pin_snapshot();
        guard
    }

    /// Runs one statement.
    pub async fn execute(&mut self, statement: Statement) -> Result<StatementResult> {
        let engine = self.scope.db.engine.clone();
        let command = |tag| Ok(StatementResult::Command(CommandTag::new(tag)));
        match statement.0 {
            Ast::CreateTable(create) => {
                ddl::create_table(&engine, &create)?;
                command("CREATE TABLE")
            }
            Ast::Drop {
                object_type: ObjectType::Table,
                if_exists,
                names,
                ..
            } => {
                ddl::drop_tables(&engine, &names, if_exists)?;
                command("DROP TABLE")
            }
            Ast::AlterTable(alter) => {
                ddl::alter_table(&engine, &alter)?;
                command("ALTER TABLE")
            }
            Ast::Truncate(truncate) => {
                self.truncate(&truncate).await?;
                command("TRUNCATE TABLE")
            }
            Ast::StartTransaction { .. }
            | Ast::Commit { .. }
            | Ast::Rollback { .. }
            | Ast::Savepoint { .. } => Err(Error::unsupported(
                "transaction control (every statement commits on its own)",
            )),
            Ast::Insert(_) => {
                let _write = self.begin_write().await;
                let batches = self.collect(statement.0).await?;
                let rows = dml::count_of(&batches)?;
                Ok(StatementResult::Command(CommandTag::with_rows(
                    "INSERT", rows,
                )))
            }
            Ast::Update(update) => {
                let _write = self.begin_write().await;
                let rows = dml::update(self, &update).await?;
                Ok(StatementResult::Command(CommandTag::with_rows(
                    "UPDATE", rows,
                )))
            }
            Ast::Delete(delete) => {
                let _write = self.begin_write().await;
                let rows = dml::delete(self, &delete).await?;
                Ok(StatementResult::Command(CommandTag::with_rows(
                    "DELETE", rows,
                )))
            }
            other => {
                self.pin_snapshot();
                let stream = self.stream(other).await?;
                Ok(StatementResult::Query(QueryResult {
                    schema: stream.schema(),
                    stream,
                }))
            }
        }
    }

    /// TRUNCATE: one commit of delete events for every row of every named table (history is
    /// kept, so the rows stay readable AS OF any earlier point).
    async fn truncate(&self, truncate: &Truncate) -> Result<()> {
        if truncate.identity.is_some() || truncate.partitions.is_some() {
            return Err(Error::unsupported(
                "TRUNCATE with RESTART/CONTINUE IDENTITY or partitions",
            ));
        }
        if truncate.cascade == Some(CascadeOption::Cascade) {
            return Err(Error::unsupported("TRUNCATE … CASCADE"));
        }
        let names = truncate
            .table_names
            .iter()
            .map(|target| ddl::table_name(&target.name))
            .collect::<Result<Vec<_>>>()?;
        let _write = self.begin_write().await;
        let engine = self.scope.db.engine.clone();
        let user = self.scope.user.clone();
        tokio::task::spawn_blocking(move || engine.truncate(&user, &names))
            .await
            .map_err(|e| Error::new(ErrorKind::Internal, format!("truncate task failed: {e}")))??;
        Ok(())
    }

    /// Plans a statement with DataFusion and starts executing it.
    async fn stream(&self, statement: Ast) -> Result<SendableRecordBatchStream> {
        let allow_dml = matches!(statement, Ast::Insert(_));
        let state = self.ctx.state();
        let plan = state
            .statement_to_plan(DfStatement::Statement(Box::new(statement)))
            .await?;
        SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(allow_dml)
            .verify_plan(&plan)
            .map_err(|e| Error::new(ErrorKind::FeatureNotSupported, Error::from(e).message))?;
        let frame = self.ctx.execute_logical_plan(plan).await?;
        Ok(frame.execute_stream().await?)
    }

    /// Plans and runs a statement, collecting its output.
    pub(crate) async fn collect(&self, statement: Ast) -> Result<Vec<RecordBatch>> {
        Ok(self.stream(statement).await?.try_collect().await?)
    }

    /// Runs a query the SQL layer wrote itself (for UPDATE and DELETE), at the pinned snapshot.
    pub(crate) async fn collect_sql(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        let mut statements = Parser::new(&PostgreSqlDialect {})
            .try_with_sql(sql)
            .and_then(|mut p| p.parse_statements())
            .map_err(|e| {
                Error::new(
                    ErrorKind::Internal,
                    format!("generated query {sql:?} did not parse: {e}"),
                )
            })?;
        match (statements.pop(), statements.is_empty()) {
            (Some(statement), true) => self.collect(statement).await,
            _ => Err(Error::new(
                ErrorKind::Internal,
                "generated query is not one statement",
            )),
        }
    }

    pub(crate) fn scope(&self) -> &SessionScope {
        &self.scope
    }
}
