//! The statements that drive a session's transaction — BEGIN / START TRANSACTION, COMMIT / END,
//! ROLLBACK / ABORT, SAVEPOINT, ROLLBACK TO, RELEASE, SET TRANSACTION — and the transaction
//! settings (`default_transaction_isolation`, `transaction_isolation`) with SET and SHOW.
//!
//! As in PostgreSQL, COMMIT or ROLLBACK outside a transaction block and BEGIN inside one only
//! warn, a failed transaction answers COMMIT with ROLLBACK, and the isolation level is fixed by
//! the transaction's first query.
//!
//! The session's side is here too: the implicit block of a simple query, autocommit (a statement
//! that loses a write conflict runs again), the commit at a block's end, and what a failed
//! statement leaves behind.

use crate::common::engine_error::engine_error;
use crate::exec::cached::BoundPlan;
use crate::exec::results::{CommandTag, QueryResult, StatementResult};
use crate::session::{AUTOCOMMIT_RETRIES, ImplicitBlock, Session, TransactionStatus};
use crate::storage::transaction::{Isolation, Transaction};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::sql::sqlparser::ast::{
    Expr, TransactionAccessMode, TransactionIsolationLevel, TransactionMode, Value,
};
use datafusion::sql::sqlparser::ast::{Ident, Set, Statement as Ast};
use driftdb_pgtypes::error::{Error, ErrorKind, Notice, Result};
use futures::StreamExt;

/// What a transaction-control statement asks for.
#[derive(Debug)]
pub(crate) enum Control {
    Begin(Modes),
    Commit,
    Rollback,
    Savepoint(String),
    RollbackTo(String),
    Release(String),
    /// `SET TRANSACTION …`: the open transaction's modes.
    SetTransaction(Modes),
    /// `SET SESSION CHARACTERISTICS AS TRANSACTION …` or `SET default_transaction_isolation`.
    SetDefault(Modes),
    /// `SHOW transaction_isolation` (`true`) or `SHOW default_transaction_isolation`.
    ShowIsolation {
        current: bool,
    },
}

/// Transaction modes given with BEGIN or SET TRANSACTION.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Modes {
    pub(crate) isolation: Option<Isolation>,
    pub(crate) read_only: Option<bool>,
}

fn modes(list: &[TransactionMode]) -> Result<Modes> {
    let mut modes = Modes::default();
    for mode in list {
        match mode {
            TransactionMode::IsolationLevel(level) => {
                modes.isolation = Some(match level {
                    TransactionIsolationLevel::ReadUncommitted
                    | TransactionIsolationLevel::ReadCommitted => Isolation::ReadCommitted,
                    TransactionIsolationLevel::RepeatableRead => Isolation::RepeatableRead,
                    TransactionIsolationLevel::Serializable => Isolation::Serializable,
                    TransactionIsolationLevel::Snapshot => {
                        return Err(Error::unsupported("isolation level SNAPSHOT"));
                    }
                })
            }
            TransactionMode::AccessMode(access) => {
                modes.read_only = Some(*access == TransactionAccessMode::ReadOnly)
            }
        }
    }
    Ok(modes)
}

fn name_of(ident: &Ident) -> String {
    driftdb_pgtypes::idents::normalize(ident)
}

/// The name a SET or SHOW names, lower case.
fn variable_name(parts: &[Ident]) -> String {
    let parts: Vec<String> = parts.iter().map(|p| p.value.to_ascii_lowercase()).collect();
    parts.join(".")
}

/// The setting SHOW names for the current transaction's isolation level, or the default's.
pub(crate) fn isolation_setting(current: bool) -> &'static str {
    match current {
        true => "transaction_isolation",
        false => "default_transaction_isolation",
    }
}

/// The transaction-control meaning of `statement`, if it has one.
pub(crate) fn classify(statement: &Ast) -> Result<Option<Control>> {
    Ok(Some(match statement {
        Ast::StartTransaction {
            modes: list,
            statements,
            exception,
            ..
        } => {
            if !statements.is_empty() || exception.is_some() {
                return Err(Error::unsupported("a BEGIN … END block"));
            }
            Control::Begin(modes(list)?)
        }
        Ast::Commit { chain: true, .. } | Ast::Rollback { chain: true, .. } => {
            return Err(Error::unsupported("AND CHAIN"));
        }
        Ast::Commit { .. } => Control::Commit,
        Ast::Rollback {
            savepoint: None, ..
        } => Control::Rollback,
        Ast::Rollback {
            savepoint: Some(name),
            ..
        } => Control::RollbackTo(name_of(name)),
        Ast::Savepoint { name } => Control::Savepoint(name_of(name)),
        Ast::ReleaseSavepoint { name } => Control::Release(name_of(name)),
        Ast::Set(Set::SetTransaction {
            modes: list,
            snapshot: None,
            session,
        }) => match session {
            true => Control::SetDefault(modes(list)?),
            false => Control::SetTransaction(modes(list)?),
        },
        Ast::Set(Set::SingleAssignment {
            variable, values, ..
        }) if variable_name(&idents(variable)) == "default_transaction_isolation" => {
            let [value] = values.as_slice() else {
                return Err(Error::new(
                    ErrorKind::InvalidParameterValue,
                    "SET default_transaction_isolation takes one value",
                ));
            };
            let text = match value {
                Expr::Value(v) => match &v.value {
                    Value::SingleQuotedString(s) => s.clone(),
                    other => other.to_string(),
                },
                Expr::Identifier(ident) => ident.value.clone(),
                other => other.to_string(),
            };
            let isolation = Isolation::parse(&text).ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidParameterValue,
                    format!(
                        "invalid value for parameter \"default_transaction_isolation\": \"{text}\""
                    ),
                )
            })?;
            Control::SetDefault(Modes {
                isolation: Some(isolation),
                read_only: None,
            })
        }
        Ast::ShowVariable { variable } => {
            match crate::common::settings::show_name(variable).as_str() {
                "transaction_isolation" => Control::ShowIsolation { current: true },
                "default_transaction_isolation" => Control::ShowIsolation { current: false },
                _ => return Ok(None),
            }
        }
        _ => return Ok(None),
    }))
}

fn idents(name: &datafusion::sql::sqlparser::ast::ObjectName) -> Vec<Ident> {
    name.0
        .iter()
        .filter_map(|part| part.as_ident().cloned())
        .collect()
}

/// A new explicit transaction with `modes` over the session's defaults.
pub(crate) fn begin(modes: Modes, default_isolation: Isolation) -> Transaction {
    Transaction::new(
        modes.isolation.unwrap_or(default_isolation),
        modes.read_only.unwrap_or(false),
        true,
    )
}

/// Applies `SET TRANSACTION` modes to the open transaction.
pub(crate) fn set_transaction(txn: &mut Transaction, modes: Modes) -> Result<()> {
    if let Some(isolation) = modes.isolation {
        if txn.has_started() && isolation != txn.isolation {
            return Err(Error::new(
                ErrorKind::ActiveTransaction,
                "SET TRANSACTION ISOLATION LEVEL must be called before any query",
            ));
        }
        txn.isolation = isolation;
    }
    if let Some(read_only) = modes.read_only {
        txn.read_only = read_only;
    }
    Ok(())
}

/// Whether `statement` writes (and so may not run in a READ ONLY transaction).
pub(crate) fn writes(statement: &Ast) -> Option<&'static str> {
    Some(match statement {
        Ast::Insert(_) => "INSERT",
        Ast::Update(_) => "UPDATE",
        Ast::Delete(_) => "DELETE",
        Ast::Truncate(_) => "TRUNCATE TABLE",
        Ast::CreateTable(_) => "CREATE TABLE",
        Ast::AlterTable(_) => "ALTER TABLE",
        Ast::Drop { .. } => "DROP",
        Ast::CreateIndex(_) => "CREATE INDEX",
        Ast::CreateView(_) => "CREATE VIEW",
        Ast::Copy { to: false, .. } => "COPY",
        _ => return None,
    })
}

/// PostgreSQL's warning for COMMIT or ROLLBACK outside a transaction block.
fn no_transaction() -> Notice {
    Notice::warning(
        ErrorKind::NoActiveTransaction,
        "there is no transaction in progress",
    )
}

impl Session {
    /// Puts the settings back as they were when `txn`'s block began (ROLLBACK).
    pub(super) fn roll_back_settings(&self, txn: Option<Transaction>) {
        if let Some(settings) = txn.and_then(|txn| txn.settings_at_begin) {
            *self.scope.settings() = settings;
        }
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
                match self.autocommit(statement, None).await? {
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
        self.exec.drop_statement_tables();
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

    /// Rows of a statement inside a transaction block: an error while they stream (division by
    /// zero in the tenth batch, say) fails the transaction like an error before the first row.
    pub(super) fn failing_transaction_on_error(&self, query: QueryResult) -> QueryResult {
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
    pub(super) async fn autocommit(
        &mut self,
        statement: Ast,
        planned: Option<BoundPlan>,
    ) -> Result<StatementResult> {
        if writes(&statement).is_none() {
            return self.run_and_commit(statement, planned).await;
        }
        let db = self.scope.db.clone();
        let mut retry_turn = None;
        let mut attempt = 0;
        loop {
            match self.run_and_commit(statement.clone(), None).await {
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
    pub(super) async fn run_and_commit(
        &mut self,
        statement: Ast,
        planned: Option<BoundPlan>,
    ) -> Result<StatementResult> {
        self.open_transaction(Transaction::new(self.default_isolation, false, false));
        let result = self.run(statement, planned).await;
        let txn = self.close_transaction();
        let result = result?;
        self.commit_transaction(txn).await?;
        Ok(result)
    }

    pub(super) fn open_transaction(&self, txn: Transaction) {
        *self.scope.transaction_guard() = Some(txn);
    }

    pub(super) fn close_transaction(&self) -> Option<Transaction> {
        self.scope.transaction_guard().take()
    }

    /// Hands a transaction's changes to the engine, which certifies and commits them.
    /// Its row locks are released once the commit is written (or has failed), so that a writer
    /// waiting for one reads what it committed.
    pub(super) async fn commit_transaction(&self, txn: Option<Transaction>) -> Result<()> {
        let Some(mut txn) = txn.filter(|txn| !txn.is_empty()) else {
            return Ok(());
        };
        let locks = txn.take_locks();
        let engine = self.scope.db.engine.clone();
        let user = self.scope.user.clone();
        let txn = txn.into_engine(engine.catalog_version());
        let committed = tokio::task::spawn_blocking(move || engine.commit_transaction(&user, &txn))
            .await
            .map_err(|e| Error::new(ErrorKind::Internal, format!("commit task failed: {e}")));
        drop(locks);
        committed?.map_err(engine_error)?;
        Ok(())
    }

    /// Runs a transaction-control statement.
    pub(super) async fn control(&mut self, control: Control) -> Result<StatementResult> {
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
                    set_transaction(txn, modes)
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
                let mut txn = begin(modes, self.default_isolation);
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
                    .with_transaction(|txn| set_transaction(txn, modes))??;
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
                    isolation_setting(current),
                    isolation.name(),
                )?))
            }
        }
    }

    /// Pins the snapshot the statement about to run reads at.
    pub(super) fn begin_statement(&mut self) -> Result<()> {
        let engine = &self.scope.db.engine;
        let (latest, version) = (engine.latest_seq(), engine.catalog_version());
        let (snapshot, first) = self.scope.with_transaction(|txn| {
            let first = !txn.has_started();
            (txn.statement_snapshot(latest, version), first)
        })?;
        self.scope.set_snapshot(snapshot);
        if first {
            // now() is the transaction's start, as in PostgreSQL.
            self.exec.mark_start_execution();
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
}
