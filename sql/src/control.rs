//! The statements that drive a session's transaction — BEGIN / START TRANSACTION, COMMIT / END,
//! ROLLBACK / ABORT, SAVEPOINT, ROLLBACK TO, RELEASE, SET TRANSACTION — and the transaction
//! settings (`default_transaction_isolation`, `transaction_isolation`) with SET and SHOW.
//!
//! As in PostgreSQL, COMMIT or ROLLBACK outside a transaction block and BEGIN inside one only
//! warn, a failed transaction answers COMMIT with ROLLBACK, and the isolation level is fixed by
//! the transaction's first query.

use crate::transaction::{Isolation, Transaction};
use datafusion::sql::sqlparser::ast::{
    Expr, Ident, Set, Statement as Ast, TransactionAccessMode, TransactionIsolationLevel,
    TransactionMode, Value,
};
use driftdb_pgtypes::error::{Error, ErrorKind, Result};

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
        Ast::ShowVariable { variable } => match crate::settings::show_name(variable).as_str() {
            "transaction_isolation" => Control::ShowIsolation { current: true },
            "default_transaction_isolation" => Control::ShowIsolation { current: false },
            _ => return Ok(None),
        },
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
