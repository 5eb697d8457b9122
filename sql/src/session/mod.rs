//! A session: one client's connection state, and the one API the server calls.
//!
//! `parse` turns SQL text into statements (after rewriting temporal clauses); `execute` runs one
//! statement and returns rows or a command tag. Transaction control is handled first
//! ([`crate::session::control`]); every other statement runs inside a transaction ([`crate::storage::transaction`]),
//! the open one or an implicit one that commits when the statement ends. DDL and writes are
//! staged into the transaction; queries are planned and run by DataFusion over the
//! engine-backed catalog.

pub(crate) mod control;
mod copy_protocol;
pub(crate) mod prepared;
mod set_show;

use crate::dml::copy;
use crate::exec::Executor;
use crate::exec::cached::BoundPlan;
use crate::exec::results::{CommandTag, QueryResult, StatementResult};
use crate::rewrite::colnames;
use crate::rewrite::spellings;
use crate::rewrite::temporal;
use crate::storage::database::Database;
use crate::storage::scope::SessionScope;
use crate::storage::transaction::Isolation;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::sql::sqlparser::ast::{ObjectType, Statement as Ast};
use driftdb_pgtypes::error::{Error, ErrorKind, Result};
use futures::TryStreamExt;
use std::fmt;
use std::sync::Arc;

/// One parsed SQL statement, ready for [`Session::execute`].
#[derive(Clone, Debug)]
pub struct Statement(Ast, Option<BoundPlan>);

impl Statement {
    pub(crate) fn from_ast(ast: Ast) -> Statement {
        Statement(ast, None)
    }

    /// A prepared statement with its values bound: as written, and (a query) for its cached
    /// plan.
    pub(crate) fn bound(ast: Ast, planned: Option<BoundPlan>) -> Statement {
        Statement(ast, planned)
    }

    pub(crate) fn into_ast(self) -> Ast {
        self.0
    }

    /// Whether the statement is a query (`SELECT`, `VALUES`, `WITH …`).
    pub fn is_query(&self) -> bool {
        matches!(self.0, Ast::Query(_))
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

/// Fails (42P01) unless the table `name` exists for the session's transaction.
fn existing_table(
    scope: &SessionScope,
    name: &datafusion::sql::sqlparser::ast::ObjectName,
) -> Result<()> {
    let name = crate::common::names::table_name(name)?;
    match scope.resolve_current(&name) {
        Some(_) => Ok(()),
        None => Err(Error::new(
            ErrorKind::UndefinedTable,
            format!("relation \"{name}\" does not exist"),
        )),
    }
}

/// How many times one READ COMMITTED write may run, each time because a row it locked had
/// changed (each run holds more of its rows' locks, so this bounds a pathological case only).
const STATEMENT_RUNS: usize = 100;

/// Whether `statement` rewrites or locks rows it read, so that it may have to run again under
/// READ COMMITTED.
fn may_run_again(statement: &Ast) -> bool {
    match statement {
        Ast::Update(_) | Ast::Delete(_) | Ast::Truncate(_) => true,
        Ast::Query(query) => !query.locks.is_empty(),
        Ast::Insert(insert) => insert.on.is_some(),
        _ => false,
    }
}

/// How many times an autocommit write runs again after losing a conflict before the conflict
/// is reported (each loss means another transaction committed, so this is progress, not a spin).
pub(super) const AUTOCOMMIT_RETRIES: usize = 1000;

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
    /// Plans and runs the statements.
    exec: Executor,
    /// The isolation level of transactions that do not name one.
    default_isolation: Isolation,
    /// The `COPY … FROM STDIN` receiving its data, and whether it runs in a transaction of
    /// its own.
    copy_in: Option<(copy::CopyIn, bool)>,
    /// What the open implicit block ran.
    block: ImplicitBlock,
    /// Statements prepared lately, for a client preparing the same text again.
    recent_prepared: prepared::RecentPrepared,
}

/// The statements of an implicit transaction block, as far as a retry needs them.
#[derive(Debug, Default)]
pub(super) struct ImplicitBlock {
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

impl Database {
    /// A new session for `user`.
    pub fn session(self: &Arc<Self>, user: &str) -> Session {
        Session::new(self.clone(), user)
    }
}

impl Session {
    pub(crate) fn new(db: Arc<Database>, user: &str) -> Session {
        let exec = Executor::new(db, user);
        Session {
            scope: exec.shared_scope(),
            exec,
            default_isolation: Isolation::ReadCommitted,
            copy_in: None,
            block: ImplicitBlock::default(),
            recent_prepared: Default::default(),
        }
    }

    /// The session's user.
    pub fn user(&self) -> &str {
        &self.scope.user
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
        let tokens = crate::ddl::ctas::type_column_names(temporal::rewrite(sql)?);
        let tokens = crate::rewrite::maintenance::rewrite(tokens);
        let tokens = crate::rewrite::locking_clauses::rewrite(tokens);
        crate::common::parse::check_token_nesting(&tokens)?;
        let token_count = tokens.len();
        let statements = crate::common::parse::parser()
            .with_tokens_with_locations(tokens)
            .parse_statements()
            .map_err(|e| crate::common::parse::parser_error(sql, e))?;
        let mut statements = crate::common::parse::check_depth(statements, token_count)?;
        for statement in &mut statements {
            spellings::rewrite(statement);
        }
        Ok(statements.into_iter().map(Statement::from_ast).collect())
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
            return self.autocommit(statement.0, statement.1).await;
        }
        if failed {
            return Err(Error::new(
                ErrorKind::InFailedTransaction,
                "current transaction is aborted, commands ignored until end of transaction block",
            ));
        }
        if matches!(statement.0, Ast::Vacuum(_)) && !block {
            self.fail_transaction_block();
            return Err(Error::new(
                ErrorKind::ActiveTransaction,
                "VACUUM cannot run inside a transaction block",
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
            _ => self.run(statement.0, statement.1).await,
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

    /// Runs one statement inside the open transaction (a prepared query through its cached
    /// plan when `planned` can use one). A READ COMMITTED write that found a row it had read
    /// changed once it held the row's lock runs again on the newer state, its changes so far
    /// undone and its locks kept (see `crate::storage::transaction`).
    async fn run(&mut self, statement: Ast, planned: Option<BoundPlan>) -> Result<StatementResult> {
        self.begin_statement()?;
        if !may_run_again(&statement) {
            return self.run_once(statement, planned).await;
        }
        let records = self
            .scope
            .with_transaction(|txn| txn.begin_statement_undo())?;
        let mut runs = 0;
        let result = loop {
            let result = self.run_once(statement.clone(), planned.clone()).await;
            runs += 1;
            let again = result.is_err()
                && records
                && runs < STATEMENT_RUNS
                && self.scope.with_transaction(|txn| txn.undo_statement())?;
            if !again {
                break result;
            }
            self.scope.set_snapshot(self.scope.db.engine.latest_seq());
        };
        self.scope
            .with_transaction(|txn| txn.end_statement_undo())?;
        result
    }

    async fn run_once(
        &mut self,
        statement: Ast,
        planned: Option<BoundPlan>,
    ) -> Result<StatementResult> {
        if let Some(result) = self.settings_statement(&statement)? {
            return Ok(result);
        }
        if let Ast::Copy { .. } = statement {
            return self.copy(statement).await;
        }
        if let Some(result) = crate::keypath::run(&self.exec, &statement).await? {
            return Ok(result);
        }
        let command = |tag| Ok(StatementResult::Command(CommandTag::new(tag)));
        let scope = &self.scope;
        match statement {
            Ast::CreateTable(create) if create.query.is_some() => {
                let rows = crate::ddl::tables::create_table_as(&self.exec, &create).await?;
                Ok(StatementResult::Command(CommandTag::with_rows(
                    "SELECT", rows,
                )))
            }
            Ast::CreateTable(create) => {
                crate::ddl::tables::create_table(scope, &create)?;
                command("CREATE TABLE")
            }
            Ast::Drop {
                object_type: ObjectType::Table,
                if_exists,
                names,
                ..
            } => {
                crate::ddl::tables::drop_relations(scope, &names, if_exists, false)?;
                command("DROP TABLE")
            }
            Ast::Drop {
                object_type: ObjectType::Index,
                if_exists,
                names,
                ..
            } => {
                crate::ddl::indexes::drop_indexes(scope, &names, if_exists)?;
                command("DROP INDEX")
            }
            Ast::CreateView(create) => {
                crate::ddl::views::create_view(&self.exec, &create).await?;
                command("CREATE VIEW")
            }
            Ast::Drop {
                object_type: ObjectType::View,
                if_exists,
                names,
                ..
            } => {
                crate::ddl::tables::drop_relations(scope, &names, if_exists, true)?;
                command("DROP VIEW")
            }
            Ast::CreateIndex(create) => {
                crate::ddl::indexes::create_index(scope, &create)?;
                command("CREATE INDEX")
            }
            Ast::AlterTable(alter) => {
                crate::ddl::alter::alter_table(&self.exec, &alter).await?;
                command("ALTER TABLE")
            }
            // No dead rows to reclaim (history keeps every version by design) and no
            // statistics to gather: the table must exist, and that is all.
            Ast::Vacuum(vacuum) => {
                if let Some(name) = &vacuum.table_name {
                    existing_table(scope, name)?;
                }
                command("VACUUM")
            }
            Ast::Analyze(analyze) => {
                if let Some(name) = &analyze.table_name {
                    existing_table(scope, name)?;
                }
                command("ANALYZE")
            }
            Ast::Truncate(truncate) => {
                crate::dml::update_delete::truncate(&self.exec, &truncate).await?;
                command("TRUNCATE TABLE")
            }
            Ast::Insert(mut insert) => {
                let nested = crate::rewrite::nested_insert_values::take(&mut insert);
                for (name, query) in &nested {
                    let stream = self
                        .exec
                        .stream(Ast::Query(Box::new(query.clone())))
                        .await?;
                    let schema = stream.schema();
                    let batches: Vec<RecordBatch> = stream.try_collect().await?;
                    self.exec.register_statement_table(name, schema, batches)?;
                }
                let result = crate::dml::insert::insert(&self.exec, insert).await;
                for (name, _) in &nested {
                    self.exec.deregister_statement_table(name)?;
                }
                result
            }
            Ast::Query(query) if !query.locks.is_empty() => {
                crate::dml::locking::select(&self.exec, *query).await
            }
            Ast::Update(update) => crate::dml::update_delete::update(&self.exec, &update).await,
            Ast::Delete(delete) => crate::dml::update_delete::delete(&self.exec, &delete).await,
            other => {
                let changes_settings = matches!(other, Ast::Set(_));
                let names = colnames::statement_names(&other);
                let cached = match &planned {
                    Some(planned) => self.exec.stream_cached(planned).await?,
                    None => None,
                };
                let stream = match cached {
                    Some(stream) => stream,
                    None => self.exec.stream(other).await?,
                };
                if changes_settings {
                    self.exec.refresh();
                }
                Ok(StatementResult::Query(QueryResult {
                    schema: colnames::rename(names, stream.schema()),
                    stream,
                    tag: "SELECT",
                }))
            }
        }
    }
}
