//! Correlated subqueries that DataFusion cannot decorrelate, run once per outer row.
//!
//! DataFusion turns a correlated subquery into a join when it can. When it cannot (a correlation
//! through `= ANY (outer_array)`, an `ARRAY(SELECT …)`, an outer column inside an expression
//! the decorrelation rules do not take apart), the optimized plan still holds the subquery
//! expression and physical planning fails. [`ApplyPlanner`] steps in just before that: it replaces
//! each remaining subquery expression by a call to an [`ApplySubquery`] function, which, for each
//! distinct combination of the outer values the subquery reads, puts those values into the
//! subquery as literals, plans it and runs it. That is what PostgreSQL's executor does for a
//! SubPlan. Results are kept per combination, so a subquery runs once per distinct outer value,
//! not once per row; still, every run is planned, so a decorrelated join is always preferred and
//! this path is for the small catalog queries tools send and for queries that would otherwise
//! fail.

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, ScalarValue};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SessionState;
use datafusion::execution::context::QueryPlanner;
use datafusion::logical_expr::{
    ColumnarValue, Expr, LogicalPlan, Projection, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Subquery, Volatility,
};
use datafusion::physical_plan::{ExecutionPlan, collect};
use datafusion::physical_planner::{DefaultPhysicalPlanner, PhysicalPlanner};
use driftdb_pgtypes::error::{Error, ErrorKind};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// DataFusion's physical planner, after replacing the subquery expressions it cannot plan.
#[derive(Debug, Default)]
pub(crate) struct ApplyPlanner;

#[async_trait::async_trait]
impl QueryPlanner for ApplyPlanner {
    async fn create_physical_plan(
        &self,
        plan: &LogicalPlan,
        session: &dyn datafusion::catalog::Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let rewritten;
        let plan = match session.as_any().downcast_ref::<SessionState>() {
            // Whatever subquery expression the optimizer left is run here: a correlated one it
            // could not decorrelate, or an uncorrelated one it did not turn into a join (a
            // predicate subquery its common-subexpression pass moved out of reach).
            Some(state) if holds(plan, &|_| true)? => {
                rewritten = apply_subqueries(plan.clone(), state, &|_| true)?;
                &rewritten
            }
            _ => plan,
        };
        DefaultPhysicalPlanner::default()
            .create_physical_plan(plan, session)
            .await
    }
}

/// Whether `plan` (not counting its subqueries' own plans) holds a subquery expression that
/// `wanted` picks.
fn holds(plan: &LogicalPlan, wanted: &dyn Fn(&Subquery) -> bool) -> Result<bool> {
    plan.exists(|node| {
        Ok(node.expressions().iter().any(|expr| {
            expr.exists(|e| Ok(subquery_of(e).is_some_and(wanted)))
                .unwrap_or(false)
        }))
    })
}

/// Plans `plan` for execution. Subqueries that read outer columns anywhere but in their own
/// filters (`unnest(outer.array)`, an outer column in what they select), or that are correlated
/// and have a LIMIT, go through [`ApplySubquery`] before DataFusion's analyzer and optimizer see
/// them: its decorrelation pulls up only filters, and would leave the other outer references
/// dangling in a join. The rest are left to DataFusion, and [`ApplyPlanner`] catches whatever it
/// could not decorrelate.
pub(crate) async fn physical_plan(
    state: &SessionState,
    plan: &LogicalPlan,
) -> Result<Arc<dyn ExecutionPlan>> {
    if holds(plan, &beyond_decorrelation)? {
        let plan = apply_subqueries(plan.clone(), state, &beyond_decorrelation)?;
        return state.create_physical_plan(&plan).await;
    }
    state.create_physical_plan(plan).await
}

fn subquery_of(expr: &Expr) -> Option<&Subquery> {
    match expr {
        Expr::ScalarSubquery(subquery) => Some(subquery),
        Expr::Exists(exists) => Some(&exists.subquery),
        Expr::InSubquery(in_subquery) => Some(&in_subquery.subquery),
        _ => None,
    }
}

/// Whether `expr` reads a column of an outer query.
fn has_outer_reference(expr: &Expr) -> bool {
    expr.exists(|e| Ok(matches!(e, Expr::OuterReferenceColumn(..))))
        .unwrap_or(false)
}

/// Whether a subquery reads an outer column.
fn reads_outer(subquery: &Subquery) -> bool {
    let mut found = false;
    let _ = subquery.subquery.apply_with_subqueries(|node| {
        found = node.expressions().iter().any(has_outer_reference);
        Ok(if found {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    });
    found
}

/// Whether DataFusion's decorrelation cannot take a subquery apart: it reads an outer column
/// anywhere but in a filter, or it is correlated and limits its rows (the analyzer rejects a
/// correlated scalar subquery with `LIMIT 2` outright).
fn beyond_decorrelation(subquery: &Subquery) -> bool {
    let limits = subquery
        .subquery
        .exists(|node| Ok(matches!(node, LogicalPlan::Limit(_))))
        .unwrap_or(false);
    reads_outer_beyond_filters(subquery) || (limits && reads_outer(subquery))
}

/// Whether a subquery reads an outer column anywhere but in a filter.
fn reads_outer_beyond_filters(subquery: &Subquery) -> bool {
    subquery
        .subquery
        .exists(|node| {
            Ok(match node {
                LogicalPlan::Filter(_) => false,
                // A derived table reading outer columns (`FROM unnest(outer.a)`).
                LogicalPlan::Subquery(_) => true,
                other => other.expressions().iter().any(has_outer_reference),
            })
        })
        .unwrap_or(false)
}

/// Replaces the subquery expressions left in `plan` that `wanted` picks (not those inside other
/// subqueries: those are planned, and so replaced, when they run).
fn apply_subqueries(
    plan: LogicalPlan,
    state: &SessionState,
    wanted: &dyn Fn(&Subquery) -> bool,
) -> Result<LogicalPlan> {
    plan.transform_up(|node| match node {
        LogicalPlan::Projection(projection) => {
            let mut changed = false;
            let mut exprs = Vec::with_capacity(projection.expr.len());
            for (i, expr) in projection.expr.iter().enumerate() {
                let new = replace_in(expr.clone(), state, wanted)?;
                changed |= new.transformed;
                exprs.push(if new.transformed && !matches!(new.data, Expr::Alias(_)) {
                    // The column keeps the name the plan above it knows it by.
                    let (qualifier, field) = projection.schema.qualified_field(i);
                    new.data.alias_qualified(qualifier.cloned(), field.name())
                } else {
                    new.data
                });
            }
            if !changed {
                return Ok(Transformed::no(LogicalPlan::Projection(projection)));
            }
            let projection =
                Projection::try_new_with_schema(exprs, projection.input, projection.schema)?;
            Ok(Transformed::yes(LogicalPlan::Projection(projection)))
        }
        other => other.map_expressions(|expr| replace_in(expr, state, wanted)),
    })
    .map(|t| t.data)
}

fn replace_in(
    expr: Expr,
    state: &SessionState,
    wanted: &dyn Fn(&Subquery) -> bool,
) -> Result<Transformed<Expr>> {
    expr.transform_up(|expr| {
        if !subquery_of(&expr).is_some_and(wanted) {
            return Ok(Transformed::no(expr));
        }
        let call = match expr {
            Expr::ScalarSubquery(subquery) => {
                ApplySubquery::call(Kind::Scalar, subquery, None, state)?
            }
            Expr::Exists(exists) => ApplySubquery::call(
                Kind::Exists {
                    negated: exists.negated,
                },
                exists.subquery,
                None,
                state,
            )?,
            Expr::InSubquery(in_subquery) => ApplySubquery::call(
                Kind::In {
                    negated: in_subquery.negated,
                },
                in_subquery.subquery,
                Some(*in_subquery.expr),
                state,
            )?,
            other => return Ok(Transformed::no(other)),
        };
        Ok(Transformed::yes(call))
    })
}

/// What the subquery expression asks of the subquery's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    /// `(SELECT …)`: the only row's value, NULL for none, an error for more.
    Scalar,
    /// `[NOT] EXISTS (SELECT …)`.
    Exists { negated: bool },
    /// `x [NOT] IN (SELECT …)`, with SQL's NULL rules; `x` is the first argument.
    In { negated: bool },
}

/// The outcome of one run of the subquery, kept per combination of outer values.
#[derive(Debug, Clone)]
enum Outcome {
    Value(ScalarValue),
    /// The first column of every row (for IN).
    Values(Vec<ScalarValue>),
}

/// One subquery expression as a function of the outer columns it reads.
#[derive(Debug)]
pub(crate) struct ApplySubquery {
    /// Tells instances apart (DataFusion compares functions by value).
    id: usize,
    name: String,
    kind: Kind,
    plan: Arc<LogicalPlan>,
    /// The outer columns the subquery reads, in argument order (after IN's operand).
    outer: Vec<Column>,
    state: SessionState,
    signature: Signature,
    return_type: DataType,
    outcomes: Mutex<HashMap<Vec<ScalarValue>, Outcome>>,
}

impl PartialEq for ApplySubquery {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for ApplySubquery {}

impl Hash for ApplySubquery {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

impl ApplySubquery {
    /// The call that replaces a subquery expression.
    fn call(
        kind: Kind,
        subquery: Subquery,
        operand: Option<Expr>,
        state: &SessionState,
    ) -> Result<Expr> {
        static NEXT_ID: AtomicUsize = AtomicUsize::new(0);
        let mut outer: Vec<Column> = Vec::new();
        subquery.subquery.apply_with_subqueries(|node| {
            node.apply_expressions(|expr| {
                expr.apply(|expr| {
                    if let Expr::OuterReferenceColumn(_, column) = expr
                        && !outer.contains(column)
                    {
                        outer.push(column.clone());
                    }
                    Ok(TreeNodeRecursion::Continue)
                })
            })
        })?;
        let return_type = match kind {
            Kind::Scalar => subquery.subquery.schema().field(0).data_type().clone(),
            Kind::Exists { .. } | Kind::In { .. } => DataType::Boolean,
        };
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let args: Vec<Expr> = operand
            .into_iter()
            .chain(outer.iter().cloned().map(Expr::Column))
            .collect();
        let function = ApplySubquery {
            id,
            name: format!("__driftdb_subquery_{id}"),
            kind,
            plan: subquery.subquery,
            outer,
            state: state.clone(),
            signature: if args.is_empty() {
                Signature::nullary(Volatility::Volatile)
            } else {
                Signature::variadic_any(Volatility::Volatile)
            },
            return_type,
            outcomes: Mutex::new(HashMap::new()),
        };
        Ok(ScalarUDF::from(function).call(args))
    }

    /// The subquery with `values` in place of the outer columns. Correlated derived tables in
    /// it (`FROM unnest(outer.a)`) are plain ones once bound, and are read as such; subqueries
    /// in its expressions stay subqueries (bound too, where they read the same outer columns).
    fn bind(&self, values: &[ScalarValue]) -> Result<LogicalPlan> {
        let outer = &self.outer;
        let bound = Arc::unwrap_or_clone(self.plan.clone())
            .transform_up_with_subqueries(|node| {
                if let LogicalPlan::Subquery(_) = node {
                    return Ok(Transformed::no(node));
                }
                node.map_expressions(|expr| {
                    expr.transform_up(|expr| match &expr {
                        Expr::OuterReferenceColumn(_, column) => {
                            match outer.iter().position(|c| c == column) {
                                Some(i) => {
                                    Ok(Transformed::yes(Expr::Literal(values[i].clone(), None)))
                                }
                                None => Ok(Transformed::no(expr)),
                            }
                        }
                        _ => Ok(Transformed::no(expr)),
                    })
                })
            })?
            .data;
        // Only the plan's own children: a subquery in an expression must stay one.
        bound
            .transform_up(|node| match node {
                LogicalPlan::Subquery(subquery) => {
                    Ok(Transformed::yes(Arc::unwrap_or_clone(subquery.subquery)))
                }
                other => Ok(Transformed::no(other)),
            })
            .map(|t| t.data)
    }

    /// Runs the subquery for each combination of outer values in `keys`. The function is called
    /// from inside a running plan, on a runtime thread that must not block, so the runs happen on
    /// a thread of their own with a runtime of its own.
    fn run(&self, keys: &[Vec<ScalarValue>]) -> Result<Vec<Outcome>> {
        let plans = keys
            .iter()
            .map(|key| self.bind(key))
            .collect::<Result<Vec<_>>>()?;
        let state = &self.state;
        let results = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| DataFusionError::External(Box::new(e)))?;
                    runtime.block_on(async {
                        let mut results = Vec::with_capacity(plans.len());
                        for plan in &plans {
                            let physical = physical_plan(state, plan).await?;
                            results.push(collect(physical, state.task_ctx()).await?);
                        }
                        Ok::<_, DataFusionError>(results)
                    })
                })
                .join()
        })
        .map_err(|_| DataFusionError::Internal("a subquery run panicked".into()))??;
        results
            .iter()
            .map(|batches| self.outcome(batches))
            .collect()
    }

    fn outcome(&self, batches: &[RecordBatch]) -> Result<Outcome> {
        let rows = batches.iter().map(RecordBatch::num_rows).sum::<usize>();
        match self.kind {
            Kind::Exists { negated } => Ok(Outcome::Value(ScalarValue::Boolean(Some(
                (rows > 0) != negated,
            )))),
            Kind::Scalar => {
                if rows > 1 {
                    return Err(Error::new(
                        ErrorKind::CardinalityViolation,
                        "more than one row returned by a subquery used as an expression",
                    )
                    .into_datafusion());
                }
                match batches.iter().find(|b| b.num_rows() > 0) {
                    Some(batch) => Ok(Outcome::Value(ScalarValue::try_from_array(
                        batch.column(0),
                        0,
                    )?)),
                    None => Ok(Outcome::Value(ScalarValue::try_from(&self.return_type)?)),
                }
            }
            Kind::In { .. } => {
                let mut values = Vec::with_capacity(rows);
                for batch in batches {
                    for row in 0..batch.num_rows() {
                        values.push(ScalarValue::try_from_array(batch.column(0), row)?);
                    }
                }
                Ok(Outcome::Values(values))
            }
        }
    }

    /// `operand [NOT] IN values` with SQL's rules: NULL unless some value is equal or every
    /// value is known to differ.
    fn membership(operand: &ScalarValue, values: &[ScalarValue], negated: bool) -> ScalarValue {
        let found = if values.is_empty() {
            Some(false)
        } else if operand.is_null() {
            None
        } else if values
            .iter()
            .any(|v| v == operand || operand.cast_to(&v.data_type()).is_ok_and(|cast| &cast == v))
        {
            Some(true)
        } else if values.iter().any(ScalarValue::is_null) {
            None
        } else {
            Some(false)
        };
        ScalarValue::Boolean(found.map(|found| found != negated))
    }
}

impl ScalarUDFImpl for ApplySubquery {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(self.return_type.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = args
            .args
            .iter()
            .map(|arg| arg.to_array(rows))
            .collect::<Result<Vec<ArrayRef>>>()?;
        let (operand, outer) = match self.kind {
            Kind::In { .. } => arrays.split_at(1),
            _ => arrays.split_at(0),
        };
        let key_of = |row: usize| -> Result<Vec<ScalarValue>> {
            outer
                .iter()
                .map(|array| ScalarValue::try_from_array(array, row))
                .collect()
        };
        let mut keys = Vec::with_capacity(rows);
        for row in 0..rows {
            keys.push(key_of(row)?);
        }
        let mut outcomes = self.outcomes.lock().unwrap_or_else(|p| p.into_inner());
        let mut missing: Vec<Vec<ScalarValue>> = Vec::new();
        for key in &keys {
            if !outcomes.contains_key(key) && !missing.contains(key) {
                missing.push(key.clone());
            }
        }
        if !missing.is_empty() {
            let computed = self.run(&missing)?;
            outcomes.extend(missing.into_iter().zip(computed));
        }
        let mut results = Vec::with_capacity(rows);
        for (row, key) in keys.iter().enumerate() {
            results.push(match (&outcomes[key], self.kind) {
                (Outcome::Value(value), _) => value.clone(),
                (Outcome::Values(values), Kind::In { negated }) => {
                    let operand = ScalarValue::try_from_array(&operand[0], row)?;
                    Self::membership(&operand, values, negated)
                }
                (Outcome::Values(_), _) => unreachable!("only IN keeps every value"),
            });
        }
        if results.is_empty() {
            return Ok(ColumnarValue::Array(
                datafusion::arrow::array::new_empty_array(&self.return_type),
            ));
        }
        Ok(ColumnarValue::Array(ScalarValue::iter_to_array(results)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership_follows_sql_null_rules() {
        let int = |v: Option<i32>| ScalarValue::Int32(v);
        let values = [int(Some(1)), int(None)];
        let check = |operand, values: &[ScalarValue], negated| {
            ApplySubquery::membership(&operand, values, negated)
        };
        assert_eq!(
            check(int(Some(1)), &values, false),
            ScalarValue::Boolean(Some(true))
        );
        assert_eq!(
            check(int(Some(2)), &values, false),
            ScalarValue::Boolean(None)
        );
        assert_eq!(
            check(int(Some(2)), &values, true),
            ScalarValue::Boolean(None)
        );
        assert_eq!(
            check(int(None), &[], true),
            ScalarValue::Boolean(Some(true))
        );
        assert_eq!(check(int(None), &values, false), ScalarValue::Boolean(None));
        assert_eq!(
            check(int(Some(2)), &[int(Some(1))], true),
            ScalarValue::Boolean(Some(true))
        );
    }
}
