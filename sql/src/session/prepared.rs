//! Prepared statements, for the extended query protocol.
//!
//! [`Session::prepare`] parses a statement once, `$n` placeholders and all, and answers what a
//! client asks before running it: the type of each parameter (the client's declaration, else
//! inferred by planning the statement, else `text`, as PostgreSQL resolves an unknown) and the
//! columns the statement returns. [`Prepared::bind`] puts values in for the placeholders as
//! typed literals (`CAST('…' AS type)`) in the syntax tree, so a bound statement runs exactly as
//! the same statement written with literals would, through every path a simple query takes (DML,
//! DDL, temporal bounds). Values never pass through SQL text, so they cannot inject anything.
//! A query also keeps its optimised plan between executions ([`crate::exec::cached`]); the
//! bound statement is what runs when that plan cannot serve.

use crate::exec::cached::{BoundPlan, PlanCache, PlanKey};
use crate::exec::placeholders::{cast, cast_placeholders, column_type, placeholder};
use crate::rewrite::colnames;
use crate::rewrite::temporal::{AS_OF_FUNCTION, VERSIONS_FUNCTION};
use crate::session::control::{self, Control};
use crate::session::{Session, Statement, TransactionStatus};
use crate::storage::defaults;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::sqlparser::ast::{
    AssignmentTarget, Delete, Expr, FromTable, FunctionArg, FunctionArgExpr, Insert,
    ObjectNamePart, Statement as Ast, TableFactor, TableObject, Update, UpdateTableFromKind, Value,
    VisitMut, VisitorMut, visit_expressions, visit_expressions_mut,
};
use driftdb_engine::ColumnType;
use driftdb_pgtypes::error::{Error, ErrorKind, Result};
use driftdb_pgtypes::types::{self, column_type_of};
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::Arc;

/// How many statement texts a session keeps prepared for reuse.
const RECENT_PREPARED: usize = 64;

/// Statements a session prepared, by text: their declared types, what they were described
/// under, and the statement.
pub(crate) type RecentPrepared = HashMap<String, (Vec<Option<Field>>, PlanKey, Prepared)>;

/// A statement parsed for the extended protocol, with its parameters' types and result columns.
/// Copies share the kept plan.
#[derive(Clone, Debug)]
pub struct Prepared {
    statement: Arc<Ast>,
    params: Arc<[Field]>,
    columns: Option<SchemaRef>,
    /// The query's plan, kept between executions.
    plan: Arc<PlanCache>,
}

impl Prepared {
    /// The statement as SQL text (for logs).
    pub fn sql(&self) -> String {
        self.statement.to_string()
    }

    /// The parameters' types, `$1` first.
    pub fn params(&self) -> &[Field] {
        &self.params
    }

    /// The columns the statement returns; `None` for a command that returns no rows.
    pub fn columns(&self) -> Option<&SchemaRef> {
        self.columns.as_ref()
    }

    /// The statement with `values` (each parameter's text form, or NULL) in place of its
    /// placeholders.
    pub fn bind(&self, values: &[Option<String>]) -> Result<Statement> {
        if values.len() != self.params.len() {
            return Err(Error::new(
                ErrorKind::ProtocolViolation,
                format!(
                    "bind message supplies {} parameters, but prepared statement requires {}",
                    values.len(),
                    self.params.len()
                ),
            ));
        }
        let mut statement = self.statement.as_ref().clone();
        let _ = visit_expressions_mut(&mut statement, |expr| {
            if let Some(index) = placeholder(expr) {
                // Placeholders were validated when the statement was prepared.
                let index = index.expect("a validated placeholder");
                *expr = literal(&self.params[index], values[index].as_deref());
            }
            ControlFlow::<()>::Continue(())
        });
        let planned = matches!(statement, Ast::Query(_)).then(|| BoundPlan {
            cache: self.plan.clone(),
            statement: self.statement.clone(),
            params: self.params.clone(),
            values: values.into(),
        });
        Ok(Statement::bound(statement, planned))
    }
}

/// How many parameters `statement` refers to: its highest `$n`.
fn parameter_count(statement: &Ast) -> Result<usize> {
    let mut count = 0;
    let mut error = None;
    let _ = visit_expressions(statement, |expr| {
        match placeholder(expr) {
            Some(Ok(index)) => count = count.max(index + 1),
            Some(Err(e)) => {
                error = Some(e);
                return ControlFlow::Break(());
            }
            None => {}
        }
        ControlFlow::Continue(())
    });
    error.map_or(Ok(count), Err)
}

/// The literal a bound parameter becomes: `text` values and `bigint` numbers as they are (the
/// types SQL literals already have), anything else cast to the parameter's type.
fn literal(param: &Field, value: Option<&str>) -> Expr {
    let ty = column_type(param);
    let value = match value {
        None => Expr::value(Value::Null),
        Some(text) if ty == ColumnType::Int64 && text.parse::<i64>().is_ok() => {
            return Expr::value(Value::Number(text.to_string(), false));
        }
        Some(text) if ty == ColumnType::Text => {
            return Expr::value(Value::SingleQuotedString(text.to_string()));
        }
        Some(text) => Expr::value(Value::SingleQuotedString(text.to_string())),
    };
    cast(value, ty)
}

/// Gives a parameter the client left open the type it is cast to (`$1::int4`), as PostgreSQL
/// does; DataFusion would leave it unknown.
fn cast_types(statement: &Ast, params: &mut [Option<Field>]) {
    let _ = visit_expressions(statement, |expr| {
        if let Expr::Cast {
            expr: inner,
            data_type,
            ..
        } = expr
            && let Some(Ok(index)) = placeholder(inner)
            && params[index].is_none()
            && let Ok(ty) = types::column_type(data_type)
        {
            params[index] = Some(types::field("", ty));
        }
        ControlFlow::<()>::Continue(())
    });
}

fn text_param() -> Field {
    Field::new("", DataType::Utf8, true)
}

/// Replaces placeholders in temporal bounds (the arguments of the temporal table functions) with
/// the statement's snapshot, so a statement can be planned before its bounds are known; those
/// parameters are text (`'@seq:N'` or a time).
struct TemporalBounds<'p> {
    snapshot: String,
    params: &'p mut [Option<Field>],
}

impl VisitorMut for TemporalBounds<'_> {
    type Break = ();

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        let TableFactor::Table {
            name,
            args: Some(args),
            ..
        } = factor
        else {
            return ControlFlow::Continue(());
        };
        let temporal = matches!(
            name.0.as_slice(),
            [ObjectNamePart::Identifier(ident)]
                if ident.value == AS_OF_FUNCTION || ident.value == VERSIONS_FUNCTION
        );
        if !temporal {
            return ControlFlow::Continue(());
        }
        // A bound holding a placeholder (`$1`, `$1::timestamptz`) is the snapshot as a whole.
        for arg in &mut args.args {
            let FunctionArg::Unnamed(FunctionArgExpr::Expr(bound)) = arg else {
                continue;
            };
            let mut holds_placeholder = false;
            let _ = visit_expressions_mut(bound, |expr| {
                if let Some(Ok(index)) = placeholder(expr) {
                    self.params[index].get_or_insert_with(text_param);
                    holds_placeholder = true;
                }
                ControlFlow::<()>::Continue(())
            });
            if holds_placeholder {
                *bound = Expr::value(Value::SingleQuotedString(self.snapshot.clone()));
            }
        }
        ControlFlow::Continue(())
    }
}

impl Session {
    /// Parses `sql` (one statement) for the extended protocol. `declared` holds the parameter
    /// types the client named (`None` where it left the choice to the server). `None` for a
    /// statement that is only comments.
    pub async fn prepare(
        &mut self,
        sql: &str,
        declared: &[Option<Field>],
    ) -> Result<Option<Prepared>> {
        if let Some(prepared) = self.prepared_before(sql, declared) {
            return Ok(Some(prepared));
        }
        let prepared = self.prepare_statement(sql, declared).await;
        match &prepared {
            // As in PostgreSQL, an error inside a transaction block fails the block, whether
            // the statement failed to parse, to plan or to run.
            Err(_) => self.fail_transaction_block(),
            Ok(Some(prepared)) => self.remember_prepared(sql, declared, prepared),
            Ok(None) => {}
        }
        prepared
    }

    /// The same text prepared before with the same declared types, under the same catalog and
    /// settings: drivers that prepare every statement unnamed (JDBC, node-postgres, psycopg
    /// below its threshold) send the same text again and again, and its plan is kept with it.
    fn prepared_before(&self, sql: &str, declared: &[Option<Field>]) -> Option<Prepared> {
        if self.transaction_status() == TransactionStatus::Failed {
            return None;
        }
        let key = self.exec.plan_key()?;
        let (types, made_under, prepared) = self.recent_prepared.get(sql)?;
        (types.as_slice() == declared && *made_under == key).then(|| prepared.clone())
    }

    fn remember_prepared(&mut self, sql: &str, declared: &[Option<Field>], prepared: &Prepared) {
        let Some(key) = self.exec.plan_key() else {
            return;
        };
        if self.recent_prepared.len() >= RECENT_PREPARED {
            self.recent_prepared.clear();
        }
        self.recent_prepared
            .insert(sql.to_string(), (declared.to_vec(), key, prepared.clone()));
    }

    async fn prepare_statement(
        &mut self,
        sql: &str,
        declared: &[Option<Field>],
    ) -> Result<Option<Prepared>> {
        let mut statements = self.parse(sql)?;
        if statements.len() > 1 {
            return Err(Error::new(
                ErrorKind::SyntaxError,
                "cannot insert multiple commands into a prepared statement",
            ));
        }
        let Some(statement) = statements.pop() else {
            return Ok(None);
        };
        let statement = statement.into_ast();
        let count = parameter_count(&statement)?.max(declared.len());
        let mut params: Vec<Option<Field>> = (0..count)
            .map(|i| declared.get(i).cloned().flatten())
            .collect();
        cast_types(&statement, &mut params);
        let columns = match control::classify(&statement)? {
            Some(Control::ShowIsolation { current }) => {
                Some(Arc::new(Schema::new(vec![Field::new(
                    control::isolation_setting(current),
                    DataType::Utf8,
                    false,
                )])))
            }
            Some(_) => None,
            None => {
                let implicit = self.begin_planning()?;
                let described = self.describe(&statement, &mut params).await;
                self.end_planning(implicit);
                described?
            }
        };
        let params: Arc<[Field]> = params
            .into_iter()
            .enumerate()
            .map(|(i, field)| {
                field
                    .unwrap_or_else(text_param)
                    .with_name(format!("${}", i + 1))
            })
            .collect();
        Ok(Some(Prepared {
            statement: Arc::new(statement),
            params,
            columns,
            plan: Arc::default(),
        }))
    }

    /// Infers the parameter types `params` leaves open and returns the columns `statement`
    /// returns.
    async fn describe(
        &self,
        statement: &Ast,
        params: &mut [Option<Field>],
    ) -> Result<Option<SchemaRef>> {
        match statement {
            Ast::Insert(insert) => self.describe_insert(insert, params).await,
            Ast::Update(update) => {
                let (query, returns) = update_query(update);
                self.describe_write(&query, returns, params).await
            }
            Ast::Delete(delete) => {
                let (query, returns) = delete_query(delete)?;
                self.describe_write(&query, returns, params).await
            }
            Ast::ShowVariable { variable } => match self.show(variable)? {
                Some(result) => Ok(Some(result.schema)),
                None => self.describe_query(statement, params).await,
            },
            Ast::Set(_) | Ast::Reset(_) | Ast::Copy { .. } => Ok(None),
            Ast::CreateTable(_)
            | Ast::CreateView(_)
            | Ast::CreateIndex(_)
            | Ast::AlterTable(_)
            | Ast::Drop { .. }
            | Ast::Truncate(_) => Ok(None),
            other => self.describe_query(other, params).await,
        }
    }

    /// Anything DataFusion plans: the columns of its plan.
    async fn describe_query(
        &self,
        statement: &Ast,
        params: &mut [Option<Field>],
    ) -> Result<Option<SchemaRef>> {
        let plan = self.plan_inferring(statement, params).await?;
        Ok(match plan {
            LogicalPlan::Statement(_) | LogicalPlan::Dml(_) | LogicalPlan::Ddl(_) => None,
            plan => Some(colnames::rename(
                colnames::statement_names(statement),
                Arc::new(plan.schema().as_arrow().clone()),
            )),
        })
    }

    /// INSERT: DataFusion types placeholders in VALUES by their target columns.
    async fn describe_insert(
        &self,
        insert: &Insert,
        params: &mut [Option<Field>],
    ) -> Result<Option<SchemaRef>> {
        let mut plain = insert.clone();
        plain.returning = None;
        plain.on = None;
        let target = match &insert.table {
            TableObject::TableName(name) => Some(name.clone()),
            _ => None,
        };
        if let Some(def) = target
            .as_ref()
            .and_then(|name| crate::common::names::table_name(name).ok())
            .and_then(|name| self.scope.resolve_current(&name))
        {
            defaults::prepare_insert(&def, &mut plain)?;
        }
        // Errors surface when the statement runs, with the values in place.
        let _ = self.plan_inferring(&Ast::Insert(plain), params).await;
        let (Some(returning), Some(name)) = (&insert.returning, target) else {
            return Ok(None);
        };
        let alias = insert
            .table_alias
            .as_ref()
            .map_or(String::new(), |alias| format!(" AS {}", alias.alias));
        let query = format!(
            "SELECT {} FROM {name}{alias}",
            comma_separated(returning.iter())
        );
        self.describe_write(&query, true, params).await
    }

    /// UPDATE and DELETE, described by a query over the same tables with the same conditions.
    async fn describe_write(
        &self,
        query: &str,
        returns: bool,
        params: &mut [Option<Field>],
    ) -> Result<Option<SchemaRef>> {
        let query = self.exec.parse_one(query)?;
        let plan = self.plan_inferring(&query, params).await;
        match (plan, returns) {
            (Ok(plan), true) => Ok(Some(Arc::new(plan.schema().as_arrow().clone()))),
            (Err(e), true) => Err(e),
            // Errors surface when the statement runs, with the values in place.
            (_, false) => Ok(None),
        }
    }

    /// Plans `statement` with its open parameter types inferred; parameters nothing constrains
    /// are `text`.
    async fn plan_inferring(
        &self,
        statement: &Ast,
        params: &mut [Option<Field>],
    ) -> Result<LogicalPlan> {
        let plan = self.plan_typed(statement, params).await?;
        let mut defaulted = false;
        for (id, field) in plan.get_parameter_fields()? {
            let Some(Ok(index)) = placeholder(&Expr::value(Value::Placeholder(id))) else {
                continue;
            };
            if params[index].is_none() {
                let inferred = field
                    .map(|field| field.as_ref().clone())
                    .filter(|field| column_type_of(field).is_ok());
                defaulted |= inferred.is_none();
                params[index] = Some(inferred.unwrap_or_else(text_param));
            }
        }
        if !defaulted {
            return Ok(plan);
        }
        // A placeholder nothing typed (`SELECT $1`) has the type it now resolved to.
        self.plan_typed(statement, params).await
    }

    /// Plans `statement` with each placeholder of a known type cast to it and temporal bounds at
    /// the snapshot.
    async fn plan_typed(
        &self,
        statement: &Ast,
        params: &mut [Option<Field>],
    ) -> Result<LogicalPlan> {
        let mut statement = statement.clone();
        let _ = statement.visit(&mut TemporalBounds {
            snapshot: format!("@seq:{}", self.scope.snapshot().0),
            params,
        });
        cast_placeholders(&mut statement, |index| {
            params.get(index).and_then(Option::as_ref).map(column_type)
        });
        self.exec.plan(statement).await
    }
}

fn comma_separated<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    items
        .map(|item| item.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A query that reads what `update` reads, with each `SET column = value` turned into the
/// condition `column = (value)` so that placeholders take their column's type; it returns the
/// RETURNING list.
fn update_query(update: &Update) -> (String, bool) {
    let target = match &update.table.relation {
        TableFactor::Table {
            alias: Some(alias), ..
        } => alias.name.to_string(),
        TableFactor::Table { name, .. } => name.to_string(),
        other => other.to_string(),
    };
    let mut conditions: Vec<String> = update
        .selection
        .iter()
        .map(|selection| format!("({selection})"))
        .collect();
    for assignment in &update.assignments {
        if let AssignmentTarget::ColumnName(column) = &assignment.target
            && !crate::common::parse::is_default_keyword(&assignment.value)
        {
            conditions.push(format!("{target}.{column} = ({})", assignment.value));
        }
    }
    let mut from = vec![update.table.to_string()];
    if let Some(UpdateTableFromKind::BeforeSet(tables) | UpdateTableFromKind::AfterSet(tables)) =
        &update.from
    {
        from.extend(tables.iter().map(ToString::to_string));
    }
    (
        write_query(&update.returning, &from, &conditions),
        update.returning.is_some(),
    )
}

/// A query that reads what `delete` reads and returns its RETURNING list.
fn delete_query(delete: &Delete) -> Result<(String, bool)> {
    let (FromTable::WithFromKeyword(tables) | FromTable::WithoutKeyword(tables)) = &delete.from;
    let mut from: Vec<String> = tables.iter().map(ToString::to_string).collect();
    if let Some(using) = &delete.using {
        from.extend(using.iter().map(ToString::to_string));
    }
    if from.is_empty() {
        return Err(Error::new(ErrorKind::SyntaxError, "DELETE names no table"));
    }
    let conditions: Vec<String> = delete
        .selection
        .iter()
        .map(|selection| format!("({selection})"))
        .collect();
    Ok((
        write_query(&delete.returning, &from, &conditions),
        delete.returning.is_some(),
    ))
}

fn write_query(
    returning: &Option<Vec<datafusion::sql::sqlparser::ast::SelectItem>>,
    from: &[String],
    conditions: &[String],
) -> String {
    let items = returning
        .as_ref()
        .map_or("1".to_string(), |items| comma_separated(items.iter()));
    let mut query = format!("SELECT {items} FROM {}", from.join(", "));
    if !conditions.is_empty() {
        query.push_str(" WHERE ");
        query.push_str(&conditions.join(" AND "));
    }
    query
}
