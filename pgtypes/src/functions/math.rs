//! PostgreSQL's rounding functions and integer-style arithmetic on numerics, registered over
//! DataFusion's where they differ:
//!
//! - `ceil`/`ceiling`, `floor`, `round(x)` and `trunc(x)` of a `numeric` are whole numerics
//!   (`ceil(1.5)` is `2`, not `2.0`), and `ceil(99.5)` has room for its carry;
//! - `round(x, n)` and `trunc(x, n)` of a `numeric` have `n` digits after the point, also when
//!   that adds zeros (`round(1.4, 3)` is `1.400`);
//! - `round(x)` of a double rounds half to even, as PostgreSQL's `rint` (`round(0.5::float8)` is
//!   `0`);
//! - `mod(a, b)` is `a % b`, `div(a, b)` the integral part of `a / b` as a `numeric`, and
//!   `sign(x)` is -1, 0 or 1 in `x`'s type.
//!
//! A `numeric` here is a `Decimal128`: integers given where PostgreSQL would take a `numeric`
//! become `numeric(20, 0)`.

use crate::error::{Error, ErrorKind};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Decimal128Array, PrimitiveArray};
use datafusion::arrow::compute::{cast, kernels::numeric};
use datafusion::arrow::datatypes::{
    DataType, Decimal128Type, Field, FieldRef, Float32Type, Float64Type,
};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::type_coercion::binary::BinaryTypeCoercer;
use datafusion::logical_expr::{
    ColumnarValue, Operator, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};
use std::sync::Arc;

/// The largest precision a `Decimal128` holds.
const MAX_PRECISION: u8 = 38;

/// What integers become where a `numeric` is wanted.
const INTEGER_AS_NUMERIC: DataType = DataType::Decimal128(20, 0);

fn out_of_range() -> DataFusionError {
    Error::new(
        ErrorKind::NumericOutOfRange,
        "value overflows numeric format",
    )
    .into_datafusion()
}

fn wrong_arguments(name: &str, arg_types: &[DataType]) -> DataFusionError {
    let types: Vec<String> = arg_types.iter().map(ToString::to_string).collect();
    Error::new(
        ErrorKind::UndefinedFunction,
        format!("function {name}({}) does not exist", types.join(", ")),
    )
    .into_datafusion()
}

fn ten_to(exponent: u32) -> Result<i128> {
    10i128.checked_pow(exponent).ok_or_else(out_of_range)
}

/// The functions of this module, each replacing DataFusion's of that name.
pub fn functions() -> Vec<ScalarUDF> {
    let mut functions: Vec<ScalarUDF> = [
        (Rounding::Ceil, "ceil", vec!["ceiling".to_string()]),
        (Rounding::Floor, "floor", Vec::new()),
        (Rounding::Round, "round", Vec::new()),
        (Rounding::Trunc, "trunc", Vec::new()),
    ]
    .into_iter()
    .map(|(rounding, name, aliases)| {
        ScalarUDF::from(Rounder {
            rounding,
            name,
            aliases,
            signature: Signature::user_defined(Volatility::Immutable),
        })
    })
    .collect();
    for op in [IntegerOp::Mod, IntegerOp::Div, IntegerOp::Sign] {
        functions.push(ScalarUDF::from(Integral {
            op,
            signature: Signature::user_defined(Volatility::Immutable),
        }));
    }
    functions
}

/// How a value loses its fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Rounding {
    /// Towards positive infinity.
    Ceil,
    /// Towards negative infinity.
    Floor,
    /// To the nearest, halves away from zero (a double's halves to even).
    Round,
    /// Towards zero.
    Trunc,
}

impl Rounding {
    /// `quotient` and `remainder` of a division by a positive `divisor`, rounded.
    fn apply(self, quotient: i128, remainder: i128, divisor: i128) -> i128 {
        match self {
            Rounding::Ceil if remainder > 0 => quotient + 1,
            Rounding::Floor if remainder < 0 => quotient - 1,
            Rounding::Round if remainder.unsigned_abs() * 2 >= divisor.unsigned_abs() => {
                quotient + remainder.signum()
            }
            _ => quotient,
        }
    }

    fn apply_f64(self, value: f64) -> f64 {
        match self {
            Rounding::Ceil => value.ceil(),
            Rounding::Floor => value.floor(),
            Rounding::Round => value.round_ties_even(),
            Rounding::Trunc => value.trunc(),
        }
    }

    /// Whether the function takes a number of places after the point.
    fn takes_places(self) -> bool {
        matches!(self, Rounding::Round | Rounding::Trunc)
    }
}

/// `ceil`, `floor`, `round` and `trunc`; see the module docs.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Rounder {
    rounding: Rounding,
    name: &'static str,
    aliases: Vec<String>,
    signature: Signature,
}

/// The places a call rounds to when they are the same for every row: 0 without a places
/// argument (or with a NULL one), `None` when it is not a constant.
fn constant_places(scalar: Option<&Option<&ScalarValue>>) -> Result<Option<i64>> {
    Ok(match scalar {
        None => Some(0),
        Some(None) => None,
        Some(Some(value)) => match value.cast_to(&DataType::Int64)? {
            ScalarValue::Int64(places) => Some(places.unwrap_or(0)),
            _ => return Err(out_of_range()),
        },
    })
}

/// A numeric's type rounded to `places` digits after the point (`None`: places differ by row,
/// so the input's scale stays).
fn rounded_type(precision: u8, scale: i8, places: Option<i64>) -> DataType {
    let whole_digits = i64::from(precision) - i64::from(scale.max(0));
    let scale = match places {
        Some(places) => places.clamp(0, i64::from(MAX_PRECISION)),
        None => i64::from(scale.max(0)),
    };
    let precision = (whole_digits + 1 + scale).clamp(1, i64::from(MAX_PRECISION));
    DataType::Decimal128(precision as u8, scale as i8)
}

/// `value` (at `scale`) rounded at `places` digits after the point and given at `out_scale`.
fn round_decimal(
    rounding: Rounding,
    value: i128,
    scale: i8,
    places: i64,
    out_scale: i8,
) -> Result<i128> {
    let (scale, out_scale) = (i64::from(scale), i64::from(out_scale));
    let places = places.clamp(-i64::from(MAX_PRECISION), scale.max(out_scale));
    let rounded_at_places = if places >= scale {
        value
            .checked_mul(ten_to((places - scale) as u32)?)
            .ok_or_else(out_of_range)?
    } else if scale - places > i64::from(MAX_PRECISION) {
        0
    } else {
        let divisor = ten_to((scale - places) as u32)?;
        rounding.apply(value / divisor, value % divisor, divisor)
    };
    let shift = out_scale - places;
    let result = if shift >= 0 {
        rounded_at_places.checked_mul(ten_to(shift as u32)?)
    } else {
        Some(rounded_at_places / ten_to((-shift) as u32)?)
    };
    result
        .filter(|v| v.unsigned_abs() < 10u128.pow(u32::from(MAX_PRECISION)))
        .ok_or_else(out_of_range)
}

impl ScalarUDFImpl for Rounder {
    fn name(&self) -> &str {
        self.name
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let with_places = arg_types.len() == 2 && self.rounding.takes_places();
        if arg_types.len() != 1 && !with_places {
            return Err(wrong_arguments(self.name, arg_types));
        }
        let value = match &arg_types[0] {
            ty @ (DataType::Decimal128(..) | DataType::Float32 | DataType::Float64) => ty.clone(),
            // Only PostgreSQL's numeric variants take places.
            ty if ty.is_integer() && with_places => INTEGER_AS_NUMERIC,
            ty if ty.is_numeric() || ty.is_null() => DataType::Float64,
            _ => return Err(wrong_arguments(self.name, arg_types)),
        };
        let mut types = vec![value];
        if with_places {
            match &arg_types[1] {
                ty if ty.is_integer() || ty.is_null() => types.push(DataType::Int64),
                _ => return Err(wrong_arguments(self.name, arg_types)),
            }
        }
        Ok(types)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[0].clone())
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let ty = match args.arg_fields[0].data_type() {
            DataType::Decimal128(precision, scale) => {
                let places = constant_places(args.scalar_arguments.get(1))?;
                rounded_type(*precision, *scale, places)
            }
            other => other.clone(),
        };
        let nullable = args.arg_fields.iter().any(|f| f.is_nullable());
        Ok(Arc::new(Field::new(self.name, ty, nullable)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rounding = self.rounding;
        let out_type = args.return_field.data_type().clone();
        crate::udf::on_arrays(&args, |arrays| {
            let values = &arrays[0];
            let places: Vec<Option<i64>> = match arrays.get(1) {
                Some(places) => places
                    .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
                    .iter()
                    .collect(),
                None => vec![Some(0); values.len()],
            };
            Ok(match (values.data_type(), &out_type) {
                (DataType::Decimal128(_, scale), DataType::Decimal128(_, out_scale)) => {
                    let rounded = values
                        .as_primitive::<Decimal128Type>()
                        .iter()
                        .zip(&places)
                        .map(|pair| match pair {
                            (Some(v), Some(p)) => {
                                round_decimal(rounding, v, *scale, *p, *out_scale).map(Some)
                            }
                            _ => Ok(None),
                        })
                        .collect::<Result<Decimal128Array>>()?
                        .with_data_type(out_type.clone());
                    Arc::new(rounded) as ArrayRef
                }
                (DataType::Float64, _) => {
                    let doubles = values.as_primitive::<Float64Type>();
                    Arc::new(round_floats(rounding, doubles, &places, arrays.len() == 2))
                }
                (DataType::Float32, _) => {
                    let doubles = cast(values, &DataType::Float64)?;
                    let rounded = round_floats(
                        rounding,
                        doubles.as_primitive::<Float64Type>(),
                        &places,
                        arrays.len() == 2,
                    );
                    cast(&rounded, &DataType::Float32)?
                }
                _ => return Err(wrong_arguments(self.name, &[values.data_type().clone()])),
            })
        })
    }
}

/// Rounds doubles (a places argument rounds halves away from zero, as DataFusion's `round`).
fn round_floats(
    rounding: Rounding,
    values: &PrimitiveArray<Float64Type>,
    places: &[Option<i64>],
    with_places: bool,
) -> ArrayRef {
    let rounded: PrimitiveArray<Float64Type> = values
        .iter()
        .zip(places)
        .map(|pair| match pair {
            (Some(v), Some(p)) if with_places => {
                let factor = 10f64.powi((*p).clamp(-308, 308) as i32);
                let scaled = v * factor;
                let whole = match rounding {
                    Rounding::Round => scaled.round(),
                    other => other.apply_f64(scaled),
                };
                Some(whole / factor)
            }
            (Some(v), Some(_)) => Some(rounding.apply_f64(v)),
            _ => None,
        })
        .collect();
    Arc::new(rounded)
}

/// `mod`, `div` and `sign`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum IntegerOp {
    Mod,
    Div,
    Sign,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Integral {
    op: IntegerOp,
    signature: Signature,
}

impl ScalarUDFImpl for Integral {
    fn name(&self) -> &str {
        match self.op {
            IntegerOp::Mod => "mod",
            IntegerOp::Div => "div",
            IntegerOp::Sign => "sign",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let numeric = |ty: &DataType| ty.is_numeric() || ty.is_null();
        match (self.op, arg_types) {
            (IntegerOp::Sign, [ty]) if numeric(ty) => Ok(vec![match ty {
                DataType::Decimal128(..) | DataType::Float32 | DataType::Float64 => ty.clone(),
                _ => DataType::Float64,
            }]),
            (IntegerOp::Mod, [left, right]) if numeric(left) && numeric(right) => {
                let (left, right) =
                    BinaryTypeCoercer::new(left, &Operator::Modulo, right).get_input_types()?;
                // Both at one scale, so the remainder is in that type too.
                if let (DataType::Decimal128(p1, s1), DataType::Decimal128(p2, s2)) =
                    (&left, &right)
                {
                    let scale = (*s1).max(*s2);
                    let whole = (*p1 as i8 - s1).max(*p2 as i8 - s2);
                    let precision = (whole + scale).clamp(1, MAX_PRECISION as i8) as u8;
                    let common = DataType::Decimal128(precision, scale);
                    return Ok(vec![common.clone(), common]);
                }
                Ok(vec![left, right])
            }
            (IntegerOp::Div, [left, right]) if numeric(left) && numeric(right) => {
                let as_numeric = |ty: &DataType| match ty {
                    DataType::Decimal128(..) => ty.clone(),
                    ty if ty.is_integer() || ty.is_null() => INTEGER_AS_NUMERIC,
                    _ => DataType::Decimal128(MAX_PRECISION, 10),
                };
                Ok(vec![as_numeric(left), as_numeric(right)])
            }
            _ => Err(wrong_arguments(self.name(), arg_types)),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(match (self.op, &arg_types[0]) {
            (IntegerOp::Div, _) => DataType::Decimal128(MAX_PRECISION, 0),
            (IntegerOp::Sign, DataType::Decimal128(..)) => DataType::Decimal128(1, 0),
            (_, ty) => ty.clone(),
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let op = self.op;
        crate::udf::on_arrays(&args, |arrays| match op {
            IntegerOp::Mod => numeric::rem(&arrays[0], &arrays[1]).map_err(|e| match e {
                datafusion::arrow::error::ArrowError::DivideByZero => {
                    Error::division_by_zero().into_datafusion()
                }
                other => other.into(),
            }),
            IntegerOp::Div => divide_integral(&arrays[0], &arrays[1]),
            IntegerOp::Sign => sign(&arrays[0]),
        })
    }
}

/// The integral part of `left / right`, two numerics.
fn divide_integral(left: &ArrayRef, right: &ArrayRef) -> Result<ArrayRef> {
    let scale_of = |array: &ArrayRef| match array.data_type() {
        DataType::Decimal128(_, scale) => i64::from(*scale),
        _ => 0,
    };
    let (left_scale, right_scale) = (scale_of(left), scale_of(right));
    let quotients = left
        .as_primitive::<Decimal128Type>()
        .iter()
        .zip(right.as_primitive::<Decimal128Type>().iter())
        .map(|pair| {
            let (Some(a), Some(b)) = pair else {
                return Ok(None);
            };
            if b == 0 {
                return Err(Error::division_by_zero().into_datafusion());
            }
            // a·10^-s1 / (b·10^-s2): bring both to one scale, then divide whole. A divisor
            // too large to scale is larger than any dividend.
            let (a, b) = match left_scale - right_scale {
                shift if shift >= 0 => (a, b.checked_mul(ten_to(shift as u32)?)),
                shift => {
                    let a = a.checked_mul(ten_to((-shift) as u32)?);
                    (a.ok_or_else(out_of_range)?, Some(b))
                }
            };
            Ok(Some(b.map_or(0, |b| a / b)))
        })
        .collect::<Result<Decimal128Array>>()?
        .with_data_type(DataType::Decimal128(MAX_PRECISION, 0));
    Ok(Arc::new(quotients))
}

/// -1, 0 or 1 in the argument's type (a numeric's at scale 0).
fn sign(values: &ArrayRef) -> Result<ArrayRef> {
    Ok(match values.data_type() {
        DataType::Decimal128(..) => Arc::new(
            values
                .as_primitive::<Decimal128Type>()
                .unary::<_, Decimal128Type>(i128::signum)
                .with_data_type(DataType::Decimal128(1, 0)),
        ),
        DataType::Float32 => Arc::new(
            values
                .as_primitive::<Float32Type>()
                .unary::<_, Float32Type>(|v| if v == 0.0 { 0.0 } else { v.signum() }),
        ),
        _ => Arc::new(
            values
                .as_primitive::<Float64Type>()
                .unary::<_, Float64Type>(|v| if v == 0.0 { 0.0 } else { v.signum() }),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numerics_round_at_any_place_and_show_the_places_asked_for() {
        // 1.456 (scale 3)
        assert_eq!(round_decimal(Rounding::Round, 1456, 3, 2, 2).unwrap(), 146);
        assert_eq!(round_decimal(Rounding::Trunc, 1456, 3, 2, 2).unwrap(), 145);
        assert_eq!(round_decimal(Rounding::Round, 14, 1, 3, 3).unwrap(), 1400);
        assert_eq!(round_decimal(Rounding::Round, -25, 1, 0, 0).unwrap(), -3);
        assert_eq!(round_decimal(Rounding::Ceil, -5, 1, 0, 0).unwrap(), 0);
        assert_eq!(round_decimal(Rounding::Floor, -15, 1, 0, 0).unwrap(), -2);
        assert_eq!(round_decimal(Rounding::Ceil, 995, 1, 0, 0).unwrap(), 100);
        // 1234.5 rounded to hundreds, at scale 0
        assert_eq!(
            round_decimal(Rounding::Round, 12345, 1, -2, 0).unwrap(),
            1200
        );
        // places that vary by row keep the input's scale
        assert_eq!(round_decimal(Rounding::Round, 1456, 3, 1, 3).unwrap(), 1500);
    }
}
