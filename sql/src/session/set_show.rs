//! A session's run-time settings: SET, SHOW and RESET, the startup parameters a client sends,
//! the timeouts the server enforces, and the notices and reported settings the client is told.

use crate::common::settings;
use crate::exec::results::{CommandTag, QueryResult, StatementResult};
use crate::session::{IdleTimeout, Session, TransactionStatus};
use datafusion::arrow::array::StringArray;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::sql::sqlparser::ast::{
    ContextModifier, Ident, Reset, ResetStatement, Set, Statement as Ast,
};
use driftdb_pgtypes::error::{Error, ErrorKind, Notice, Result};
use std::sync::Arc;

impl Session {
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
    pub(super) fn settings_statement(&self, statement: &Ast) -> Result<Option<StatementResult>> {
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

    /// How many statements ran on the key path (by primary key, without planning) in this
    /// session.
    pub fn key_path_statements(&self) -> u64 {
        self.scope.key_path_statements()
    }

    /// How many prepared queries ran through their cached plan in this session.
    pub fn cached_plan_executions(&self) -> u64 {
        self.scope.cached_plan_executions()
    }

    /// How many rows this session's table scans have read from storage.
    pub fn rows_read(&self) -> u64 {
        self.scope
            .rows_read_counter()
            .load(std::sync::atomic::Ordering::Relaxed)
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
}
