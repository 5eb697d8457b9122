//! PostgreSQL's session information and settings functions: `version()`,
//! `current_database()`, `current_schema()`, `current_schemas(bool)`, `current_user`,
//! `session_user`, `current_setting(name [, missing_ok])`, `set_config(name, value, is_local)`
//! and `pg_backend_pid()`. Drivers and ORMs call them on connect.

use crate::catalog::{SCHEMA_NAME, SessionScope};
use crate::error::{Error, ErrorKind};
use crate::settings::SERVER_VERSION;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// The database name every session is connected to.
pub const DATABASE_NAME: &str = "driftdb";

/// What a function computes from the session and its constant arguments.
type Compute = fn(&SessionScope, &[ScalarValue]) -> Result<ScalarValue>;

/// A function of the session (not of rows): evaluated once per call with constant arguments.
#[derive(Debug)]
struct SessionFunction {
    name: &'static str,
    scope: Arc<SessionScope>,
    signature: Signature,
    returns: DataType,
    compute: Compute,
}

impl PartialEq for SessionFunction {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && Arc::ptr_eq(&self.scope, &other.scope)
    }
}

impl Eq for SessionFunction {}

impl Hash for SessionFunction {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for SessionFunction {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.returns.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let constants = args
            .args
            .iter()
            .map(|arg| match arg {
                ColumnarValue::Scalar(value) => Ok(value.clone()),
                ColumnarValue::Array(_) => Err(Error::unsupported(format!(
                    "{}() of a column (pass constants)",
                    self.name
                ))
                .into_datafusion()),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(ColumnarValue::Scalar((self.compute)(
            &self.scope,
            &constants,
        )?))
    }
}

fn text(value: impl Into<String>) -> ScalarValue {
    ScalarValue::Utf8(Some(value.into()))
}

fn text_arg(args: &[ScalarValue], i: usize) -> Option<String> {
    match args.get(i) {
        Some(ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s))) => Some(s.clone()),
        Some(ScalarValue::Utf8View(Some(s))) => Some(s.clone()),
        _ => None,
    }
}

fn version(_: &SessionScope, _: &[ScalarValue]) -> Result<ScalarValue> {
    Ok(text(format!(
        "PostgreSQL {SERVER_VERSION} (DriftDB {}) on {}-linux, compiled by rustc, 64-bit",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH
    )))
}

fn current_database(_: &SessionScope, _: &[ScalarValue]) -> Result<ScalarValue> {
    Ok(text(DATABASE_NAME))
}

fn current_schema(_: &SessionScope, _: &[ScalarValue]) -> Result<ScalarValue> {
    Ok(text(SCHEMA_NAME))
}

fn current_schemas(_: &SessionScope, args: &[ScalarValue]) -> Result<ScalarValue> {
    let implicit = matches!(args.first(), Some(ScalarValue::Boolean(Some(true))));
    let names: Vec<ScalarValue> = implicit
        .then(|| text("pg_catalog"))
        .into_iter()
        .chain([text(SCHEMA_NAME)])
        .collect();
    Ok(ScalarValue::List(ScalarValue::new_list_nullable(
        &names,
        &DataType::Utf8,
    )))
}

fn current_user(scope: &SessionScope, _: &[ScalarValue]) -> Result<ScalarValue> {
    Ok(text(scope.user.clone()))
}

fn current_setting(scope: &SessionScope, args: &[ScalarValue]) -> Result<ScalarValue> {
    let Some(name) = text_arg(args, 0) else {
        return Ok(ScalarValue::Utf8(None));
    };
    let missing_ok = matches!(args.get(1), Some(ScalarValue::Boolean(Some(true))));
    let settings = scope.settings();
    match settings.get(&name) {
        Ok((_, value)) => Ok(text(value)),
        Err(_) if missing_ok => Ok(ScalarValue::Utf8(None)),
        Err(e) => Err(e.into_datafusion()),
    }
}

fn set_config(scope: &SessionScope, args: &[ScalarValue]) -> Result<ScalarValue> {
    let (Some(name), Some(value)) = (text_arg(args, 0), text_arg(args, 1)) else {
        return Err(Error::new(
            ErrorKind::InvalidParameterValue,
            "set_config() needs a setting name and a value",
        )
        .into_datafusion());
    };
    let mut settings = scope.settings();
    settings
        .set_text(&name, &value)
        .map_err(Error::into_datafusion)?;
    let (_, value) = settings.get(&name).map_err(Error::into_datafusion)?;
    Ok(text(value))
}

fn backend_pid(_: &SessionScope, _: &[ScalarValue]) -> Result<ScalarValue> {
    Ok(ScalarValue::Int32(Some(std::process::id() as i32)))
}

/// Every function of this module, for `scope`'s session.
pub fn functions(scope: &Arc<SessionScope>) -> Vec<ScalarUDF> {
    let stable = Volatility::Stable;
    let text_args = |n: usize| TypeSignature::Exact(vec![DataType::Utf8; n]);
    let definitions: Vec<(&'static str, Signature, DataType, Compute)> = vec![
        (
            "version",
            Signature::nullary(stable),
            DataType::Utf8,
            version,
        ),
        (
            "current_database",
            Signature::nullary(stable),
            DataType::Utf8,
            current_database,
        ),
        (
            "current_catalog",
            Signature::nullary(stable),
            DataType::Utf8,
            current_database,
        ),
        (
            "current_schema",
            Signature::nullary(stable),
            DataType::Utf8,
            current_schema,
        ),
        (
            "current_schemas",
            Signature::exact(vec![DataType::Boolean], stable),
            DataType::new_list(DataType::Utf8, true),
            current_schemas,
        ),
        (
            "current_user",
            Signature::nullary(stable),
            DataType::Utf8,
            current_user,
        ),
        (
            "session_user",
            Signature::nullary(stable),
            DataType::Utf8,
            current_user,
        ),
        (
            "current_role",
            Signature::nullary(stable),
            DataType::Utf8,
            current_user,
        ),
        (
            "current_setting",
            Signature::one_of(
                vec![
                    text_args(1),
                    TypeSignature::Exact(vec![DataType::Utf8, DataType::Boolean]),
                ],
                stable,
            ),
            DataType::Utf8,
            current_setting,
        ),
        (
            "set_config",
            Signature::exact(
                vec![DataType::Utf8, DataType::Utf8, DataType::Boolean],
                Volatility::Volatile,
            ),
            DataType::Utf8,
            set_config,
        ),
        (
            "pg_backend_pid",
            Signature::nullary(stable),
            DataType::Int32,
            backend_pid,
        ),
    ];
    definitions
        .into_iter()
        .map(|(name, signature, returns, compute)| {
            ScalarUDF::from(SessionFunction {
                name,
                scope: scope.clone(),
                signature,
                returns,
                compute,
            })
        })
        .collect()
}
