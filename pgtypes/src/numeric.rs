//! Numeric division and `avg` with PostgreSQL's result scale.
//!
//! PostgreSQL gives a quotient at least 16 significant digits: `1.0 / 3` is
//! `0.33333333333333333333`, `10 / 4.0` is `2.5000000000000000`, and `avg` of integers or
//! numerics is such a quotient (`avg(1, 2, 2)` is `1.6666666666666667`). The scale belongs
//! to each value there; an Arrow column has one. So quotients are [`QUOTIENT`] values,
//! `numeric(38, 20)`, rounded to the scale PostgreSQL gives a quotient of their size, and
//! [`display_scale`] prints each with that scale again. DataFusion's own decimal division keeps
//! the dividend's scale plus 4 (`0.33333`), and its `avg` of integers is a double.
//!
//! PostgreSQL estimates a quotient's size from its operands' leading digit groups; here it is
//! the size of the quotient itself. The two differ only when both operands lead with the same
//! group and the quotient is not below it (`3.0 / 3`), where PostgreSQL prints 4 more zeros.

use crate::error::{Error, ErrorKind};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Decimal128Array};
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Field, FieldRef, i256};
use datafusion::common::ScalarValue;
use datafusion::error::Result;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, EmitTo, GroupsAccumulator,
    ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use std::sync::{Arc, LazyLock};

/// The scale a quotient is stored with: PostgreSQL's largest for quotients of ordinary size
/// (`0.x` has 20 digits after the point; each 4 digits before the point take 4 away).
pub const QUOTIENT_SCALE: i8 = 20;

/// The Arrow type of quotients: `numeric(38, 20)`, printed with [`display_scale`].
pub const QUOTIENT: DataType = DataType::Decimal128(38, QUOTIENT_SCALE);

/// The scale quotients are computed with before rounding: one digit past the most kept.
const EXACT_SCALE: u32 = QUOTIENT_SCALE as u32 + 1;

/// PostgreSQL's least number of significant digits in a quotient.
const MIN_SIGNIFICANT_DIGITS: i32 = 16;

fn overflow() -> datafusion::error::DataFusionError {
    Error::new(
        ErrorKind::NumericOutOfRange,
        "value overflows numeric format",
    )
    .into_datafusion()
}

fn power_of_ten(exponent: u32) -> i256 {
    i256::from_i128(10)
        .checked_pow(exponent)
        .expect("powers of ten up to 10^76 fit in 256 bits")
}

/// The scale PostgreSQL shows a quotient of this size with: 16 significant digits counted
/// from the value's leading base-10000 digit group, at most [`QUOTIENT_SCALE`] (zero: 20).
fn scale_for_size(unscaled: i256, scale: u32) -> u32 {
    if unscaled == i256::ZERO {
        return QUOTIENT_SCALE as u32;
    }
    let digits = unscaled.wrapping_abs().ilog10() as i32 + 1;
    let exponent = digits - 1 - scale as i32;
    let group = exponent.div_euclid(4);
    (MIN_SIGNIFICANT_DIGITS - 4 * group).clamp(0, QUOTIENT_SCALE as i32) as u32
}

/// Divides by `10^digits`, rounding half away from zero.
fn round_off(value: i256, digits: u32) -> i256 {
    if digits == 0 {
        return value;
    }
    let divisor = power_of_ten(digits);
    let quotient = value.wrapping_div(divisor);
    let remainder = value.wrapping_rem(divisor).wrapping_abs();
    let half = divisor.wrapping_div(i256::from_i128(2));
    match remainder >= half {
        true if value.is_negative() => quotient.wrapping_sub(i256::ONE),
        true => quotient.wrapping_add(i256::ONE),
        false => quotient,
    }
}

/// A quotient truncated at `scale` (> 20) digits, rounded to its PostgreSQL scale and stored
/// with [`QUOTIENT_SCALE`].
fn finish_quotient(unscaled: i256, scale: u32) -> Result<i128> {
    let kept = scale_for_size(unscaled, scale);
    let rounded = round_off(unscaled, scale - kept);
    rounded
        .checked_mul(power_of_ten(QUOTIENT_SCALE as u32 - kept))
        .and_then(i256::to_i128)
        .filter(|value| value.unsigned_abs() < 10u128.pow(38))
        .ok_or_else(overflow)
}

/// `dividend / divisor` of two decimals with the given scales, as a [`QUOTIENT`] value.
pub fn divide(
    dividend: i128,
    dividend_scale: u32,
    divisor: i128,
    divisor_scale: u32,
) -> Result<i128> {
    if divisor == 0 {
        return Err(Error::division_by_zero().into_datafusion());
    }
    // dividend·10^-s1 / (divisor·10^-s2) at EXACT_SCALE is dividend·10^(E - s1 + s2) / divisor.
    let (mut numerator, mut denominator) = (i256::from_i128(dividend), i256::from_i128(divisor));
    let shift = EXACT_SCALE as i32 - dividend_scale as i32 + divisor_scale as i32;
    match shift >= 0 {
        true => {
            numerator = numerator
                .checked_mul(power_of_ten(shift as u32))
                .ok_or_else(overflow)?
        }
        false => denominator = denominator.wrapping_mul(power_of_ten((-shift) as u32)),
    }
    finish_quotient(numerator.wrapping_div(denominator), EXACT_SCALE)
}

/// The digits after the point a [`QUOTIENT`] value prints with: its size's scale, or more where
/// the value has more (a `numeric(38, 20)` column's values are not rounded quotients).
pub fn display_scale(value: i128) -> usize {
    let mut significant = QUOTIENT_SCALE as u32;
    let mut rest = value;
    while significant > 0 && rest % 10 == 0 {
        rest /= 10;
        significant -= 1;
    }
    scale_for_size(i256::from_i128(value), QUOTIENT_SCALE as u32).max(significant) as usize
}

/// Writes a [`QUOTIENT`] value as PostgreSQL prints it, with its [`display_scale`].
pub fn write_quotient(value: i128, text: &mut String) {
    let scale = display_scale(value);
    let digits = format!("{:0>21}", value.unsigned_abs());
    let (whole, fraction) = digits.split_at(digits.len() - QUOTIENT_SCALE as usize);
    if value < 0 {
        text.push('-');
    }
    text.push_str(whole);
    if scale > 0 {
        text.push('.');
        text.push_str(&fraction[..scale]);
    }
}

fn decimal_scale(ty: &DataType) -> Option<u32> {
    match ty {
        DataType::Decimal128(_, scale) if *scale >= 0 => Some(*scale as u32),
        _ => None,
    }
}

/// `a / b` of two `numeric`s (DataFusion has coerced integers to decimals beside them).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct NumericDivide {
    signature: Signature,
}

/// The division function the analyzer puts in place of `/` between decimals.
pub static NUMERIC_DIVIDE: LazyLock<Arc<ScalarUDF>> = LazyLock::new(|| {
    Arc::new(ScalarUDF::from(NumericDivide {
        signature: Signature::any(2, Volatility::Immutable),
    }))
});

/// Whether `/` between these types is a numeric division.
pub fn is_numeric_division(left: &DataType, right: &DataType) -> bool {
    decimal_scale(left).is_some() && decimal_scale(right).is_some()
}

impl ScalarUDFImpl for NumericDivide {
    fn name(&self) -> &str {
        "__driftdb_numeric_divide"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(QUOTIENT)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        crate::udf::on_arrays(&args, |arrays| {
            let scale = |array: &ArrayRef| decimal_scale(array.data_type()).ok_or_else(overflow);
            let (dividend_scale, divisor_scale) = (scale(&arrays[0])?, scale(&arrays[1])?);
            let dividends = arrays[0].as_primitive::<Decimal128Type>();
            let divisors = arrays[1].as_primitive::<Decimal128Type>();
            let quotients = dividends
                .iter()
                .zip(divisors.iter())
                .map(|pair| match pair {
                    (Some(a), Some(b)) => divide(a, dividend_scale, b, divisor_scale).map(Some),
                    _ => Ok(None),
                })
                .collect::<Result<Decimal128Array>>()?
                .with_data_type(QUOTIENT);
            Ok(Arc::new(quotients) as ArrayRef)
        })
    }
}

/// The value a cast to an integer type takes: PostgreSQL rounds where Arrow truncates, a
/// `numeric` half away from zero (`2.5::int` is 3), a double half to even (`2.5::float8::int`
/// is 2). The result keeps the argument's type; the cast after it no longer cuts anything.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RoundForInteger {
    signature: Signature,
}

/// The rounding [`crate::functions::casts::PgCasts`] puts before a cast to an integer type.
pub static ROUND_FOR_INTEGER: LazyLock<Arc<ScalarUDF>> = LazyLock::new(|| {
    Arc::new(ScalarUDF::from(RoundForInteger {
        signature: Signature::any(1, Volatility::Immutable),
    }))
});

/// Whether a cast from `from` to `to` must round first.
pub fn rounds_to_integer(from: &DataType, to: &DataType) -> bool {
    to.is_integer()
        && matches!(
            from,
            DataType::Float32 | DataType::Float64 | DataType::Decimal128(..)
        )
}

impl ScalarUDFImpl for RoundForInteger {
    fn name(&self) -> &str {
        "__driftdb_round_for_integer"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[0].clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        crate::udf::on_arrays(&args, |arrays| Ok(round_for_integer(arrays[0].clone())))
    }
}

/// Doubles and decimals rounded to whole numbers as a cast to an integer type rounds them
/// ([`RoundForInteger`]); other arrays as they are.
pub fn round_for_integer(array: ArrayRef) -> ArrayRef {
    use datafusion::arrow::datatypes::{Float32Type, Float64Type};
    match array.data_type() {
        DataType::Float64 => Arc::new(
            array
                .as_primitive::<Float64Type>()
                .unary::<_, Float64Type>(f64::round_ties_even),
        ),
        DataType::Float32 => Arc::new(
            array
                .as_primitive::<Float32Type>()
                .unary::<_, Float32Type>(f32::round_ties_even),
        ),
        DataType::Decimal128(_, scale) if *scale > 0 => {
            let unit = 10i128.pow(*scale as u32);
            let rounded = array
                .as_primitive::<Decimal128Type>()
                .unary::<_, Decimal128Type>(|value| {
                    let whole = value / unit;
                    let rest = (value % unit).abs();
                    let away = match rest * 2 >= unit {
                        true => value.signum(),
                        false => 0,
                    };
                    (whole + away).saturating_mul(unit)
                });
            Arc::new(rounded.with_data_type(array.data_type().clone()))
        }
        _ => array,
    }
}

/// `avg` as PostgreSQL's: of integers and numerics a [`QUOTIENT`], of floats a double.
///
/// DataFusion's `avg` does the summing (it keeps decimal sums exact and has a grouped
/// accumulator); this one asks it for one digit more than a quotient keeps and rounds that.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PgAvg {
    signature: Signature,
}

/// The `avg` aggregate, registered over DataFusion's.
pub fn avg() -> AggregateUDF {
    AggregateUDF::from(PgAvg {
        signature: Signature::user_defined(Volatility::Immutable),
    })
}

static DATAFUSION_AVG: LazyLock<Arc<AggregateUDF>> =
    LazyLock::new(datafusion::functions_aggregate::average::avg_udaf);

/// The return field DataFusion's `avg` is asked for: decimals averaged at one digit past a
/// quotient's scale (or the input's scale, if that is larger).
fn inner_return_field(args: &AccumulatorArgs) -> FieldRef {
    match decimal_scale(args.expr_fields[0].data_type()) {
        Some(scale) => {
            let scale = scale.max(EXACT_SCALE) as i8;
            Arc::new(Field::new(args.name, DataType::Decimal128(38, scale), true))
        }
        None => args.return_field.clone(),
    }
}

/// `args` with the return field DataFusion's `avg` is asked for ([`inner_return_field`]).
fn inner_args(args: AccumulatorArgs) -> AccumulatorArgs {
    AccumulatorArgs {
        return_field: inner_return_field(&args),
        ..args
    }
}

/// Rounds the inner average to a quotient, when it is a decimal.
fn finish_average(average: ArrayRef) -> Result<ArrayRef> {
    let Some(scale) = decimal_scale(average.data_type()) else {
        return Ok(average);
    };
    let quotients = average
        .as_primitive::<Decimal128Type>()
        .iter()
        .map(|value| {
            value
                .map(|v| finish_quotient(i256::from_i128(v), scale))
                .transpose()
        })
        .collect::<Result<Decimal128Array>>()?
        .with_data_type(QUOTIENT);
    Ok(Arc::new(quotients))
}

impl AggregateUDFImpl for PgAvg {
    fn name(&self) -> &str {
        "avg"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [argument] = arg_types else {
            return Err(Error::new(
                ErrorKind::UndefinedFunction,
                "function avg takes one argument",
            )
            .into_datafusion());
        };
        let coerced = match argument {
            ty if ty.is_integer() => DataType::Decimal128(20, 0),
            DataType::Decimal128(..) | DataType::Duration(_) => argument.clone(),
            DataType::Float16 | DataType::Float32 | DataType::Float64 | DataType::Null => {
                DataType::Float64
            }
            other => {
                let name = crate::types::type_name_of(&Field::new("", other.clone(), true));
                return Err(Error::new(
                    ErrorKind::UndefinedFunction,
                    format!("function avg({name}) does not exist"),
                )
                .into_datafusion());
            }
        };
        Ok(vec![coerced])
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(match &arg_types[0] {
            DataType::Decimal128(..) => QUOTIENT,
            other => DATAFUSION_AVG.return_type(std::slice::from_ref(other))?,
        })
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let inner = DATAFUSION_AVG.accumulator(inner_args(args))?;
        Ok(Box::new(RoundedAverage(inner)))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        DATAFUSION_AVG.state_fields(args)
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        DATAFUSION_AVG.groups_accumulator_supported(inner_args(args))
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        let inner = DATAFUSION_AVG.create_groups_accumulator(inner_args(args))?;
        Ok(Box::new(RoundedGroupAverages(inner)))
    }
}

/// DataFusion's `avg` accumulator with its result rounded to a quotient.
#[derive(Debug)]
struct RoundedAverage(Box<dyn Accumulator>);

impl Accumulator for RoundedAverage {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.0.update_batch(values)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let average = self.0.evaluate()?;
        if decimal_scale(&average.data_type()).is_none() {
            return Ok(average);
        }
        ScalarValue::try_from_array(&finish_average(average.to_array()?)?, 0)
    }

    fn size(&self) -> usize {
        self.0.size()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.0.state()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.0.merge_batch(states)
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.0.retract_batch(values)
    }

    fn supports_retract_batch(&self) -> bool {
        self.0.supports_retract_batch()
    }
}

/// DataFusion's grouped `avg` accumulator with its results rounded to quotients.
struct RoundedGroupAverages(Box<dyn GroupsAccumulator>);

impl GroupsAccumulator for RoundedGroupAverages {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.0
            .update_batch(values, group_indices, opt_filter, total_num_groups)
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        finish_average(self.0.evaluate(emit_to)?)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        self.0.state(emit_to)
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.0.merge_batch(values, group_indices, total_num_groups)
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        self.0.convert_to_state(values, opt_filter)
    }

    fn size(&self) -> usize {
        self.0.size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `a / b` of decimals written out, as printed.
    fn quotient(a: &str, b: &str) -> String {
        let parse = |text: &str| {
            let scale = text.split_once('.').map_or(0, |(_, f)| f.len() as u32);
            (text.replace('.', "").parse::<i128>().unwrap(), scale)
        };
        let ((a, sa), (b, sb)) = (parse(a), parse(b));
        let mut text = String::new();
        write_quotient(divide(a, sa, b, sb).unwrap(), &mut text);
        text
    }

    #[test]
    fn quotients_have_postgresqls_scale() {
        assert_eq!(quotient("1.0", "3"), "0.33333333333333333333");
        assert_eq!(quotient("10", "4.0"), "2.5000000000000000");
        assert_eq!(quotient("5", "3"), "1.6666666666666667");
        assert_eq!(quotient("-2", "3"), "-0.66666666666666666667");
        assert_eq!(quotient("100.0", "7"), "14.2857142857142857");
        assert_eq!(quotient("123456789.0", "3"), "41152263.000000000000");
        assert_eq!(quotient("99999999999.0", "7"), "14285714285.57142857");
        assert_eq!(quotient("300000", "2"), "150000.000000000000");
        assert_eq!(quotient("29.99", "2"), "14.9950000000000000");
        assert_eq!(quotient("0", "3"), "0.00000000000000000000");
    }

    #[test]
    fn division_by_zero_and_overflow_are_errors() {
        assert!(divide(1, 0, 0, 0).is_err());
        assert!(divide(10i128.pow(30), 0, 1, 10).is_err());
    }
}
