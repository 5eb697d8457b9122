//! Integer arithmetic that fails on overflow, as PostgreSQL's does (`integer out of range`,
//! 22003), where DataFusion's wraps around (`2147483647 + 1` would be `-2147483648`): after
//! type coercion, `+`, `-` and `*` of two `smallint`, `integer` or `bigint` operands become
//! calls of checked functions built on Arrow's overflow-checking kernels. The calls are
//! immutable, so constant operands still fold at planning time.

use crate::error::{Error, ErrorKind};
use crate::functions::casts::rewrite_expressions;
use datafusion::arrow::array::Array;
use datafusion::arrow::compute::kernels::numeric;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::DFSchema;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::error::Result;
use datafusion::logical_expr::{
    BinaryExpr, ColumnarValue, Expr, ExprSchemable, LogicalPlan, Operator, ScalarFunctionArgs,
    ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::optimizer::AnalyzerRule;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, LazyLock};

/// The checked operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    Add,
    Subtract,
    Multiply,
}

/// `a op b` for two integers of the same type, an error where the result does not fit.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Checked {
    op: Op,
    name: &'static str,
    signature: Signature,
}

static FUNCTIONS: LazyLock<[(Op, Arc<ScalarUDF>); 3]> = LazyLock::new(|| {
    [
        (Op::Add, "__driftdb_checked_add"),
        (Op::Subtract, "__driftdb_checked_subtract"),
        (Op::Multiply, "__driftdb_checked_multiply"),
    ]
    .map(|(op, name)| {
        let checked = Checked {
            op,
            name,
            signature: Signature::any(2, Volatility::Immutable),
        };
        (op, Arc::new(ScalarUDF::from(checked)))
    })
});

/// PostgreSQL's message for a result out of `ty`'s range.
fn out_of_range(ty: &DataType) -> datafusion::error::DataFusionError {
    let name = match ty {
        DataType::Int16 => "smallint",
        DataType::Int32 => "integer",
        _ => "bigint",
    };
    Error::new(ErrorKind::NumericOutOfRange, format!("{name} out of range")).into_datafusion()
}

impl ScalarUDFImpl for Checked {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[0].clone())
    }

    /// The function's name and a hash of its arguments. DataFusion's default spells the
    /// arguments out, and since every level of a chain `a + b + c + …` would spell out the
    /// whole chain below it, naming a chain of n checked additions took O(n²) time at each of
    /// its n levels; a hash takes O(n) at each. The names are internal: result columns carry
    /// PostgreSQL's names (the SQL layer's column naming).
    fn schema_name(&self, args: &[Expr]) -> Result<String> {
        let mut hasher = std::hash::DefaultHasher::new();
        args.hash(&mut hasher);
        Ok(format!("{}#{:016x}", self.name, hasher.finish()))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        crate::udf::on_arrays(&args, |arrays| {
            let (left, right) = (&arrays[0], &arrays[1]);
            match self.op {
                Op::Add => numeric::add(left, right),
                Op::Subtract => numeric::sub(left, right),
                Op::Multiply => numeric::mul(left, right),
            }
            .map_err(|_| out_of_range(left.data_type()))
        })
    }
}

/// The type of `expr`, found without naming it: below a checked call (already rewritten, the
/// rule works bottom-up) it is the type of the call's first argument. DataFusion's `get_type`
/// of a function call names the call and every argument, which at every level of a long chain
/// costs the whole chain below it.
fn type_of(expr: &Expr, schema: &DFSchema) -> Option<DataType> {
    let mut expr = expr;
    loop {
        match expr {
            Expr::ScalarFunction(call)
                if call.args.len() == 2
                    && FUNCTIONS.iter().any(|(_, f)| f.name() == call.func.name()) =>
            {
                expr = &call.args[0];
            }
            Expr::Alias(alias) => expr = &alias.expr,
            other => return other.get_type(schema).ok(),
        }
    }
}

fn is_integer(ty: &DataType) -> bool {
    matches!(ty, DataType::Int16 | DataType::Int32 | DataType::Int64)
}

/// `a / b` of two decimals as PostgreSQL's numeric division ([`crate::numeric`]).
fn numeric_division(expr: Expr, input_schema: &DFSchema) -> Transformed<Expr> {
    let Expr::BinaryExpr(BinaryExpr { left, right, .. }) = &expr else {
        return Transformed::no(expr);
    };
    match (left.get_type(input_schema), right.get_type(input_schema)) {
        (Ok(l), Ok(r)) if crate::numeric::is_numeric_division(&l, &r) => {
            let Expr::BinaryExpr(BinaryExpr { left, right, .. }) = expr else {
                unreachable!("matched a binary expression");
            };
            Transformed::yes(crate::numeric::NUMERIC_DIVIDE.call(vec![*left, *right]))
        }
        _ => Transformed::no(expr),
    }
}

/// Replaces integer `+`, `-` and `*` by their checked functions, and decimal `/` by numeric
/// division.
#[derive(Debug)]
pub struct CheckedArithmetic;

impl AnalyzerRule for CheckedArithmetic {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_expressions(plan, |expr, input_schema| {
            let Expr::BinaryExpr(BinaryExpr { left, op, right }) = &expr else {
                return Ok(Transformed::no(expr));
            };
            if *op == Operator::Divide {
                return Ok(numeric_division(expr, input_schema));
            }
            let op = match op {
                Operator::Plus => Op::Add,
                Operator::Minus => Op::Subtract,
                Operator::Multiply => Op::Multiply,
                _ => return Ok(Transformed::no(expr)),
            };
            let (Some(left_type), Some(right_type)) =
                (type_of(left, input_schema), type_of(right, input_schema))
            else {
                return Ok(Transformed::no(expr));
            };
            if left_type != right_type || !is_integer(&left_type) {
                return Ok(Transformed::no(expr));
            }
            let function = &FUNCTIONS
                .iter()
                .find(|(o, _)| *o == op)
                .expect("every operator has a function")
                .1;
            let Expr::BinaryExpr(BinaryExpr { left, right, .. }) = expr else {
                unreachable!("matched a binary expression");
            };
            Ok(Transformed::yes(function.call(vec![*left, *right])))
        })
    }

    fn name(&self) -> &str {
        "driftdb_checked_arithmetic"
    }
}
