//! Functions that exist only to test the server, registered only when the database is opened
//! with `DatabaseOptions::test_functions` (the server sets it from the environment variable
//! `DRIFTDB_TEST_FUNCTIONS=1`, never from a flag or a setting a client can change).
//!
//! `driftdb_test_panic(where text)` panics on purpose, so a test can prove that a panic fails
//! one statement and leaves the server running: `'plan'` panics while the statement is planned,
//! `'execute'` while its rows are computed (volatile, so it is not folded at planning).

use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::datatypes::{Field, FieldRef};
use datafusion::common::ScalarValue;
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use std::sync::Arc;

/// `driftdb_test_panic(where)`: see the module docs.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PanicFunction {
    signature: Signature,
}

impl PanicFunction {
    pub fn new() -> PanicFunction {
        PanicFunction {
            signature: Signature::exact(vec![DataType::Utf8], Volatility::Volatile),
        }
    }
}

impl ScalarUDFImpl for PanicFunction {
    fn name(&self) -> &str {
        "driftdb_test_panic"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        if let Some(Some(ScalarValue::Utf8(Some(phase)))) = args.scalar_arguments.first()
            && phase == "plan"
        {
            panic!("driftdb_test_panic('plan') panics while planning, as asked");
        }
        Ok(Arc::new(Field::new(self.name(), DataType::Utf8, true)))
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        panic!("driftdb_test_panic panics while executing, as asked");
    }
}
