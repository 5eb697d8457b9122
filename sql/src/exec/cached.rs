//! Cached plans for prepared queries: a prepared `SELECT` keeps its optimised logical plan, with
//! its `$n` placeholders in place, and each execution binds the values into it, folds the now
//! constant expressions and plans it physically, without parsing, planning from SQL or running
//! the optimizer again.
//!
//! A plan is kept only when binding cannot change what the optimizer would have done with the
//! values written in, and when nothing in it was fixed at planning time:
//! - every table it reads is a DriftDB table's current state (which takes the statement's
//!   snapshot when it is scanned, [`crate::storage::table`]); no catalog table, table function,
//!   temporal read or statement table, whose rows are computed when planned;
//! - no function that is not immutable (`now()`, `current_setting()`, `nextval()`: the optimizer
//!   folds stable functions into constants);
//! - no subquery expression (those DataFusion cannot decorrelate run through
//!   [`crate::exec::apply`], which plans them per row);
//! - parameters are bound as text and cast as the written literal is, except `bytea`, whose
//!   text form only a literal decodes: such an execution takes the statement's ordinary path.
//!
//! `SET driftdb.fast_path = off` turns cached plans off with the key path.
//!
//! A plan belongs to the catalog version, the session's settings and the DataFusion settings it
//! was made under; a transaction that changed a table's definition plans afresh. Filters on a
//! placeholder reach the scan as inexact filters, so after binding the scan narrows to the keys
//! (or index entries) they pin, as it does for a literal.

use crate::common::settings::Settings;
use crate::exec::Executor;
use crate::exec::placeholders;
use crate::rewrite::temporal::{AS_OF_FUNCTION, VERSIONS_FUNCTION};
use crate::storage::table::DriftTable;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::catalog::default_table_source::source_as_provider;
use datafusion::common::ScalarValue;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::logical_expr::{Expr, LogicalPlan, Volatility};
use datafusion::optimizer::Optimizer;
use datafusion::optimizer::simplify_expressions::SimplifyExpressions;
use datafusion::physical_plan::execute_stream;
use datafusion::sql::sqlparser::ast::{Statement as Ast, visit_relations};
use driftdb_pgtypes::error::Result;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};

/// What a plan was made under; a plan serves only executions under the same.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct PlanKey {
    catalog_version: u64,
    settings: Settings,
    datafusion_settings: u64,
}

/// A prepared statement's plan slot: the plan made under `key` (`None`: the statement cannot
/// keep one under that key).
#[derive(Debug, Default)]
pub(crate) struct PlanCache {
    slot: Mutex<Option<(PlanKey, Option<Arc<LogicalPlan>>)>>,
}

impl PlanCache {
    fn get(&self, key: &PlanKey) -> Option<Option<Arc<LogicalPlan>>> {
        let slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        match slot.as_ref() {
            Some((made_under, plan)) if made_under == key => Some(plan.clone()),
            _ => None,
        }
    }

    fn put(&self, key: PlanKey, plan: Option<Arc<LogicalPlan>>) {
        *self.slot.lock().unwrap_or_else(|p| p.into_inner()) = Some((key, plan));
    }
}

/// One execution of a prepared query: the statement with its placeholders, their types, the
/// values bound to them (text, `None` for NULL) and the statement's plan slot.
#[derive(Clone, Debug)]
pub(crate) struct BoundPlan {
    pub(crate) cache: Arc<PlanCache>,
    pub(crate) statement: Arc<Ast>,
    pub(crate) params: Arc<[Field]>,
    pub(crate) values: Arc<[Option<String>]>,
}

impl Executor {
    /// Starts `bound` through its cached plan, making the plan first if there is none for the
    /// session's state. `None` when the statement cannot use one: the caller runs the bound
    /// statement as written, which also reports any error in the words it always has.
    pub(crate) async fn stream_cached(
        &self,
        bound: &BoundPlan,
    ) -> Result<Option<SendableRecordBatchStream>> {
        let Some(key) = self.plan_key() else {
            return Ok(None);
        };
        let plan = match bound.cache.get(&key) {
            Some(plan) => plan,
            None => {
                let plan = self.cacheable_plan(bound).await.map(Arc::new);
                bound.cache.put(key, plan.clone());
                plan
            }
        };
        let (Some(plan), Some(values)) = (plan, param_values(&bound.params, &bound.values)) else {
            return Ok(None);
        };
        let Ok(plan) = Arc::unwrap_or_clone(plan).with_param_values(values) else {
            return Ok(None);
        };
        // Folding the bound values (casts of text to the parameters' types) is where a value
        // that does not convert fails; the written statement reports that in its own words.
        let Ok(plan) = Optimizer::with_rules(vec![Arc::new(SimplifyExpressions::new())]).optimize(
            plan,
            self.planner(),
            |_, _| {},
        ) else {
            return Ok(None);
        };
        let physical = self
            .planner()
            .query_planner()
            .create_physical_plan(&plan, self.planner())
            .await?;
        self.scope().count_cached_plan_execution();
        Ok(Some(execute_stream(physical, self.task_ctx.clone())?))
    }

    /// What a plan made now is made under; `None` while the transaction has redefined a table
    /// (its definitions are not the catalog's) or the session turned fast paths off
    /// (`driftdb.fast_path`: every statement planned).
    pub(crate) fn plan_key(&self) -> Option<PlanKey> {
        let settings = self.scope().settings().clone();
        if !settings.fast_paths_on() {
            return None;
        }
        let redefined = self
            .scope()
            .transaction_guard()
            .as_ref()
            .is_some_and(|txn| txn.redefines_tables());
        if redefined {
            return None;
        }
        Some(PlanKey {
            catalog_version: self.scope().db.engine.catalog_version(),
            settings,
            datafusion_settings: self.settings_generation,
        })
    }

    /// The statement's optimised plan with its placeholders, if it can be kept.
    async fn cacheable_plan(&self, bound: &BoundPlan) -> Option<LogicalPlan> {
        let statement = bound.statement.as_ref();
        if !matches!(statement, Ast::Query(_)) || reads_history(statement) {
            return None;
        }
        if !crate::exec::views::points_to_resolve(self.scope(), statement).is_empty() {
            return None;
        }
        let mut typed = statement.clone();
        placeholders::cast_placeholders(&mut typed, |index| {
            bound.params.get(index).map(placeholders::column_type)
        });
        let plan = self.plan(typed).await.ok()?;
        if !keepable(&plan) {
            return None;
        }
        let optimized = self.planner().optimize(&plan).ok()?;
        keepable(&optimized).then_some(optimized)
    }
}

/// Whether `statement` reads a past state or versions (their bounds are resolved when planned).
fn reads_history(statement: &Ast) -> bool {
    visit_relations(statement, |name| {
        let temporal = name
            .0
            .last()
            .and_then(|part| part.as_ident())
            .is_some_and(|ident| ident.value == AS_OF_FUNCTION || ident.value == VERSIONS_FUNCTION);
        if temporal {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .is_break()
}

/// Whether a plan may be kept and bound again (see the module docs).
fn keepable(plan: &LogicalPlan) -> bool {
    if !matches!(
        plan,
        LogicalPlan::Projection(_)
            | LogicalPlan::Filter(_)
            | LogicalPlan::Aggregate(_)
            | LogicalPlan::Sort(_)
            | LogicalPlan::Limit(_)
            | LogicalPlan::Distinct(_)
            | LogicalPlan::Join(_)
            | LogicalPlan::Union(_)
            | LogicalPlan::SubqueryAlias(_)
            | LogicalPlan::TableScan(_)
            | LogicalPlan::Window(_)
    ) {
        return false;
    }
    let mut keep = true;
    let _ = plan.apply(|node| {
        keep = match node {
            LogicalPlan::TableScan(scan) => {
                source_as_provider(&scan.source)
                    .ok()
                    .is_some_and(|provider| {
                        provider
                            .downcast_ref::<DriftTable>()
                            .is_some_and(DriftTable::reads_current_state)
                    })
            }
            LogicalPlan::Extension(_)
            | LogicalPlan::Statement(_)
            | LogicalPlan::Dml(_)
            | LogicalPlan::Ddl(_)
            | LogicalPlan::Copy(_)
            | LogicalPlan::Explain(_)
            | LogicalPlan::Analyze(_)
            | LogicalPlan::DescribeTable(_)
            | LogicalPlan::RecursiveQuery(_)
            | LogicalPlan::Values(_) => false,
            _ => node
                .expressions()
                .iter()
                .all(|expr| !expr.exists(|e| Ok(fixed_when_planned(e))).unwrap_or(true)),
        };
        Ok(if keep {
            TreeNodeRecursion::Continue
        } else {
            TreeNodeRecursion::Stop
        })
    });
    keep
}

/// Whether `expr` is something the optimizer resolves once for good: a function that is not
/// immutable, a variable, or a subquery.
fn fixed_when_planned(expr: &Expr) -> bool {
    match expr {
        Expr::ScalarFunction(call) => call.func.signature().volatility != Volatility::Immutable,
        Expr::ScalarVariable(..)
        | Expr::ScalarSubquery(_)
        | Expr::Exists(_)
        | Expr::InSubquery(_)
        | Expr::SetComparison(_) => true,
        _ => false,
    }
}

/// The values to bind, as the literals a bound statement holds (`CAST('text' AS type)`): text,
/// cast by the plan; dates and times first read as PostgreSQL reads them. `None` when one is
/// `bytea`.
fn param_values(params: &[Field], values: &[Option<String>]) -> Option<Vec<ScalarValue>> {
    params
        .iter()
        .zip(values)
        .map(|(param, value)| match (param.data_type(), value) {
            (DataType::Binary | DataType::LargeBinary | DataType::BinaryView, _) => None,
            (_, None) => Some(ScalarValue::Utf8(None)),
            (ty @ (DataType::Date32 | DataType::Timestamp(..)), Some(text)) => {
                Some(ScalarValue::Utf8(Some(
                    driftdb_pgtypes::functions::casts::time_input(text, ty)
                        .unwrap_or_else(|| text.clone()),
                )))
            }
            (_, Some(text)) => Some(ScalarValue::Utf8(Some(text.clone()))),
        })
        .collect()
}
