//! Arrow columns as the engine stores their values: each column cast to its column type's Arrow
//! form ([`coerce`], which also brings text into its type's canonical form) and read value by
//! value ([`typed_value`]).

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BooleanArray, Date32Array, Decimal128Array,
    Float32Array, Float64Array, Int16Array, Int32Array, Int64Array, IntervalMonthDayNanoArray,
    StringArray, Time64MicrosecondArray, TimestampMicrosecondArray,
};
use datafusion::arrow::compute::{CastOptions, cast_with_options};
use datafusion::arrow::datatypes::DataType;
use driftdb_engine::{ColumnType, Interval, ValueRef};
use driftdb_pgtypes::error::Result;
use driftdb_pgtypes::types::arrow_type;
use driftdb_pgtypes::values;

/// A column's values, cast to its column type's Arrow type.
pub(crate) enum TypedColumn<'a> {
    Bool(&'a BooleanArray),
    Int16(&'a Int16Array),
    Int32(&'a Int32Array),
    Int64(&'a Int64Array),
    Float32(&'a Float32Array),
    Float64(&'a Float64Array),
    Decimal(&'a Decimal128Array),
    Text(&'a StringArray),
    Date(&'a Date32Array),
    Time(&'a Time64MicrosecondArray),
    Timestamp(&'a TimestampMicrosecondArray),
    Interval(&'a IntervalMonthDayNanoArray),
    Bytes(&'a BinaryArray),
}

impl<'a> TypedColumn<'a> {
    /// `array` must have been through [`coerce`] for its column type.
    pub(crate) fn new(array: &'a ArrayRef) -> TypedColumn<'a> {
        match array.data_type() {
            DataType::Boolean => TypedColumn::Bool(array.as_boolean()),
            DataType::Int16 => TypedColumn::Int16(array.as_primitive()),
            DataType::Int32 => TypedColumn::Int32(array.as_primitive()),
            DataType::Int64 => TypedColumn::Int64(array.as_primitive()),
            DataType::Float32 => TypedColumn::Float32(array.as_primitive()),
            DataType::Float64 => TypedColumn::Float64(array.as_primitive()),
            DataType::Decimal128(..) => TypedColumn::Decimal(array.as_primitive()),
            DataType::Date32 => TypedColumn::Date(array.as_primitive()),
            DataType::Time64(_) => TypedColumn::Time(array.as_primitive()),
            DataType::Timestamp(..) => TypedColumn::Timestamp(array.as_primitive()),
            DataType::Interval(_) => TypedColumn::Interval(array.as_primitive()),
            DataType::Binary => TypedColumn::Bytes(array.as_binary()),
            _ => TypedColumn::Text(array.as_string()),
        }
    }

    pub(crate) fn value(&self, row: usize) -> ValueRef<'a> {
        macro_rules! get {
            ($array:expr, $variant:ident) => {
                if $array.is_null(row) {
                    ValueRef::Null
                } else {
                    ValueRef::$variant($array.value(row).into())
                }
            };
        }
        match self {
            TypedColumn::Bool(a) => get!(a, Bool),
            TypedColumn::Int16(a) => get!(a, Int16),
            TypedColumn::Int32(a) => get!(a, Int32),
            TypedColumn::Int64(a) => get!(a, Int64),
            TypedColumn::Float32(a) => get!(a, Float32),
            TypedColumn::Float64(a) => get!(a, Float64),
            TypedColumn::Decimal(a) => get!(a, Int128),
            TypedColumn::Text(a) => get!(a, Text),
            TypedColumn::Date(a) => get!(a, Int32),
            TypedColumn::Time(a) => get!(a, Int64),
            TypedColumn::Timestamp(a) => get!(a, Int64),
            TypedColumn::Bytes(a) => get!(a, Bytes),
            TypedColumn::Interval(a) => {
                if a.is_null(row) {
                    ValueRef::Null
                } else {
                    let v = a.value(row);
                    ValueRef::Interval(Interval {
                        months: v.months,
                        days: v.days,
                        nanoseconds: v.nanoseconds,
                    })
                }
            }
        }
    }
}

/// The value at `row` of an array of a column type's Arrow type, as the engine stores it.
pub(crate) fn typed_value(array: &ArrayRef, row: usize) -> ValueRef<'_> {
    TypedColumn::new(array).value(row)
}

/// Casts `array` to column type `ty`, failing (not nulling) on values that do not fit, and
/// brings text-like values into their type's form (see [`driftdb_pgtypes::values`]).
pub(crate) fn coerce(array: &ArrayRef, ty: ColumnType) -> Result<ArrayRef> {
    if ty == ColumnType::Bytea && array.data_type() == &DataType::Utf8 {
        return values::parse_bytea_column(array.as_string());
    }
    let target = arrow_type(ty);
    let cast = if array.data_type() == &target {
        array.clone()
    } else {
        // A cast to an integer type rounds, as PostgreSQL's assignment does; Arrow truncates.
        let source = match driftdb_pgtypes::numeric::rounds_to_integer(array.data_type(), &target) {
            true => driftdb_pgtypes::numeric::round_for_integer(array.clone()),
            false => array.clone(),
        };
        let options = CastOptions {
            safe: false,
            ..Default::default()
        };
        cast_with_options(&source, &target, &options)
            .map_err(datafusion::error::DataFusionError::from)?
    };
    values::normalize_text_column(cast, ty)
}
