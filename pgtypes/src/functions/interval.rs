//! `interval * number`, `number * interval` and `interval / number`, as PostgreSQL computes
//! them (DataFusion multiplies intervals by nothing).
//!
//! PostgreSQL scales months, days and time separately, truncating months and days, and
//! carries the fractions down: a fraction of a month as 30 days, a fraction of a day as 24
//! hours (`interval '1 month' * 1.5` is `1 mon 15 days`), rounded to the microsecond.

use crate::error::{Error, ErrorKind};
use datafusion::arrow::array::{ArrayRef, AsArray, IntervalMonthDayNanoArray};
use datafusion::arrow::datatypes::{
    DataType, Float64Type, IntervalMonthDayNano, IntervalMonthDayNanoType, IntervalUnit,
};
use datafusion::common::DFSchema;
use datafusion::error::Result;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility, cast,
};
use datafusion::sql::sqlparser::ast::BinaryOperator;
use std::sync::{Arc, LazyLock};

const DAYS_PER_MONTH: f64 = 30.0;
const SECONDS_PER_DAY: f64 = 86_400.0;
const NANOS_PER_MICRO: i64 = 1_000;

/// Rounds to whole microseconds, as PostgreSQL's `TSROUND`.
fn to_micro(value: f64) -> f64 {
    (value * 1e6).round_ties_even() / 1e6
}

/// `interval` scaled by `scale` (`x * factor` or `x / factor`), PostgreSQL's `interval_mul`.
fn scale_interval(
    interval: IntervalMonthDayNano,
    scale: impl Fn(f64) -> f64,
) -> Result<IntervalMonthDayNano> {
    let out_of_range =
        || Error::new(ErrorKind::NumericOutOfRange, "interval out of range").into_datafusion();
    let months = scale(f64::from(interval.months));
    let days = scale(f64::from(interval.days));
    if !months.is_finite() || months.abs() > f64::from(i32::MAX) || days.abs() > f64::from(i32::MAX)
    {
        return Err(out_of_range());
    }
    let (whole_months, mut whole_days) = (months.trunc() as i32, days.trunc() as i32);
    let month_remainder_days = to_micro((months - months.trunc()) * DAYS_PER_MONTH);
    let mut seconds = to_micro(
        (days - days.trunc() + month_remainder_days - month_remainder_days.trunc())
            * SECONDS_PER_DAY,
    );
    if seconds.abs() >= SECONDS_PER_DAY {
        let carried = (seconds / SECONDS_PER_DAY).trunc();
        whole_days += carried as i32;
        seconds -= carried * SECONDS_PER_DAY;
    }
    whole_days += month_remainder_days.trunc() as i32;
    let micros = (scale(interval.nanoseconds as f64 / NANOS_PER_MICRO as f64) + seconds * 1e6)
        .round_ties_even();
    if !micros.is_finite() || micros.abs() > (i64::MAX / NANOS_PER_MICRO) as f64 {
        return Err(out_of_range());
    }
    Ok(IntervalMonthDayNano::new(
        whole_months,
        whole_days,
        micros as i64 * NANOS_PER_MICRO,
    ))
}

/// `interval * factor` (or `/ factor`) with a `double precision` factor.
#[derive(Debug, PartialEq, Eq, Hash)]
struct IntervalScale {
    name: &'static str,
    divide: bool,
    signature: Signature,
}

static MULTIPLY: LazyLock<Arc<ScalarUDF>> =
    LazyLock::new(|| function("__driftdb_interval_mul", false));
static DIVIDE: LazyLock<Arc<ScalarUDF>> =
    LazyLock::new(|| function("__driftdb_interval_div", true));

fn function(name: &'static str, divide: bool) -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::from(IntervalScale {
        name,
        divide,
        signature: Signature::exact(
            vec![
                DataType::Interval(IntervalUnit::MonthDayNano),
                DataType::Float64,
            ],
            Volatility::Immutable,
        ),
    }))
}

impl ScalarUDFImpl for IntervalScale {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Interval(IntervalUnit::MonthDayNano))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        crate::udf::on_arrays(&args, |arrays| {
            let intervals = arrays[0].as_primitive::<IntervalMonthDayNanoType>();
            let factors = arrays[1].as_primitive::<Float64Type>();
            let scaled = intervals
                .iter()
                .zip(factors.iter())
                .map(|pair| match pair {
                    (Some(_), Some(factor)) if self.divide && factor == 0.0 => {
                        Err(Error::division_by_zero().into_datafusion())
                    }
                    (Some(interval), Some(factor)) => match self.divide {
                        true => scale_interval(interval, |x| x / factor),
                        false => scale_interval(interval, |x| x * factor),
                    }
                    .map(Some),
                    _ => Ok(None),
                })
                .collect::<Result<IntervalMonthDayNanoArray>>()?;
            Ok(Arc::new(scaled) as ArrayRef)
        })
    }
}

/// Plans `*` and `/` between an interval and a number as [`IntervalScale`] calls.
#[derive(Debug)]
pub struct IntervalPlanner;

fn is_interval(ty: &DataType) -> bool {
    matches!(ty, DataType::Interval(_))
}

impl ExprPlanner for IntervalPlanner {
    fn plan_binary_op(
        &self,
        expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawBinaryExpr>> {
        if !matches!(expr.op, BinaryOperator::Multiply | BinaryOperator::Divide) {
            return Ok(PlannerResult::Original(expr));
        }
        let (Ok(left), Ok(right)) = (expr.left.get_type(schema), expr.right.get_type(schema))
        else {
            return Ok(PlannerResult::Original(expr));
        };
        let interval = DataType::Interval(IntervalUnit::MonthDayNano);
        let (function, interval_side, factor) = match expr.op {
            BinaryOperator::Multiply if is_interval(&left) && right.is_numeric() => {
                (&MULTIPLY, expr.left, expr.right)
            }
            BinaryOperator::Multiply if left.is_numeric() && is_interval(&right) => {
                (&MULTIPLY, expr.right, expr.left)
            }
            BinaryOperator::Divide if is_interval(&left) && right.is_numeric() => {
                (&DIVIDE, expr.left, expr.right)
            }
            _ => return Ok(PlannerResult::Original(expr)),
        };
        Ok(PlannerResult::Planned(Expr::ScalarFunction(
            ScalarFunction::new_udf(
                Arc::clone(function),
                vec![
                    cast(interval_side, interval),
                    cast(factor, DataType::Float64),
                ],
            ),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times(months: i32, days: i32, micros: i64, factor: f64) -> (i32, i32, i64) {
        let interval = IntervalMonthDayNano::new(months, days, micros * NANOS_PER_MICRO);
        let scaled = scale_interval(interval, |x| x * factor).unwrap();
        (
            scaled.months,
            scaled.days,
            scaled.nanoseconds / NANOS_PER_MICRO,
        )
    }

    #[test]
    fn fractions_carry_down_as_postgresql_carries_them() {
        assert_eq!(times(0, 0, 3_600_000_000, 1.5), (0, 0, 5_400_000_000));
        assert_eq!(times(1, 0, 0, 1.5), (1, 15, 0));
        assert_eq!(times(0, 1, 0, 0.5), (0, 0, 43_200_000_000));
        assert_eq!(times(1, 1, 1, -2.0), (-2, -2, -2));
        assert!(scale_interval(IntervalMonthDayNano::new(i32::MAX, 0, 0), |x| x * 2.0).is_err());
    }
}
