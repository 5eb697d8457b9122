//! PostgreSQL's session information, settings and catalog functions: `version()`,
//! `current_database()`, `current_schema()`, `current_schemas(bool)`, `current_user`,
//! `session_user`, `current_setting(name [, missing_ok])`, `set_config(name, value, is_local)`,
//! `pg_backend_pid()`, and what psql and drivers call on `pg_catalog` rows:
//! `pg_get_userbyid`, `pg_table_is_visible`, `format_type`, `pg_get_indexdef`,
//! `pg_get_constraintdef`, `pg_get_viewdef`, `obj_description`, … (see [`crate::pgcompat::pg_catalog`]).

use crate::common::names::DATABASE_NAME;
use crate::common::names::SCHEMA_NAME;
use crate::common::settings::SERVER_VERSION;
use crate::storage::scope::SessionScope;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use driftdb_pgtypes::error::{Error, ErrorKind};
use driftdb_pgtypes::idents::{quoted_ident, quoted_literal};
use driftdb_pgtypes::types::type_name_of;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

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
        let per_row = args
            .args
            .iter()
            .any(|arg| matches!(arg, ColumnarValue::Array(_)));
        if !per_row {
            let constants: Vec<ScalarValue> = args
                .args
                .iter()
                .map(|arg| match arg {
                    ColumnarValue::Scalar(value) => value.clone(),
                    ColumnarValue::Array(_) => unreachable!("no array arguments"),
                })
                .collect();
            return Ok(ColumnarValue::Scalar((self.compute)(
                &self.scope,
                &constants,
            )?));
        }
        // Called on catalog rows (`pg_get_userbyid(c.relowner)`): once per row.
        let mut results = Vec::with_capacity(args.number_rows);
        for row in 0..args.number_rows {
            let values = args
                .args
                .iter()
                .map(|arg| match arg {
                    ColumnarValue::Scalar(value) => Ok(value.clone()),
                    ColumnarValue::Array(array) => ScalarValue::try_from_array(array, row),
                })
                .collect::<Result<Vec<_>>>()?;
            results.push((self.compute)(&self.scope, &values)?);
        }
        Ok(ColumnarValue::Array(match results.is_empty() {
            true => datafusion::arrow::array::new_empty_array(&self.returns),
            false => ScalarValue::iter_to_array(results)?,
        }))
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
    // `is_local`: until the transaction block ends, like SET LOCAL; outside a block, that is
    // the end of this statement, so nothing stays.
    let local = matches!(args.get(2), Some(ScalarValue::Boolean(Some(true))));
    let in_block = scope
        .with_transaction(|txn| txn.settings_at_begin.is_some())
        .unwrap_or(false);
    if local && !in_block {
        let mut scratch = scope.settings().clone();
        scratch
            .set_text(&name, &value)
            .map_err(Error::into_datafusion)?;
        let (_, value) = scratch.get(&name).map_err(Error::into_datafusion)?;
        return Ok(text(value));
    }
    let value = {
        let mut settings = scope.settings();
        settings
            .set_text(&name, &value)
            .map_err(Error::into_datafusion)?;
        let (_, value) = settings.get(&name).map_err(Error::into_datafusion)?;
        value.to_string()
    };
    if local {
        let _ = scope.with_transaction(|txn| txn.local_settings.push(name));
    }
    Ok(text(value))
}

fn backend_pid(_: &SessionScope, _: &[ScalarValue]) -> Result<ScalarValue> {
    Ok(ScalarValue::Int32(Some(std::process::id() as i32)))
}

fn int_arg(args: &[ScalarValue], i: usize) -> Option<i64> {
    match args.get(i)?.cast_to(&DataType::Int64).ok()? {
        ScalarValue::Int64(value) => value,
        _ => None,
    }
}

/// `pg_get_userbyid(oid)`: the session's user owns everything but `public`.
fn owner(scope: &SessionScope, args: &[ScalarValue]) -> Result<ScalarValue> {
    Ok(match int_arg(args, 0) {
        Some(crate::pgcompat::objects::DATABASE_OWNER_OID) => text("pg_database_owner"),
        Some(_) => text(scope.user.clone()),
        None => ScalarValue::Utf8(None),
    })
}

fn always_true(_: &SessionScope, _: &[ScalarValue]) -> Result<ScalarValue> {
    Ok(ScalarValue::Boolean(Some(true)))
}

fn no_text(_: &SessionScope, _: &[ScalarValue]) -> Result<ScalarValue> {
    Ok(ScalarValue::Utf8(None))
}

fn encoding_name(_: &SessionScope, _: &[ScalarValue]) -> Result<ScalarValue> {
    Ok(text("UTF8"))
}

fn zero_size(_: &SessionScope, _: &[ScalarValue]) -> Result<ScalarValue> {
    Ok(ScalarValue::Int64(Some(0)))
}

/// `pg_size_pretty(bytes)`: bytes, kB, MB, GB or TB, rounded, as PostgreSQL writes them.
fn size_pretty(_: &SessionScope, args: &[ScalarValue]) -> Result<ScalarValue> {
    let Some(mut size) = int_arg(args, 0) else {
        return Ok(ScalarValue::Utf8(None));
    };
    if size.abs() < 10 * 1024 {
        return Ok(text(format!("{size} bytes")));
    }
    for unit in ["kB", "MB", "GB", "TB"] {
        let half_rounded = (size + size.signum()) / 2;
        size = half_rounded / 512;
        if size.abs() < 10 * 1024 || unit == "TB" {
            let rounded = (size + size.signum()) / 2;
            return Ok(text(format!("{rounded} {unit}")));
        }
        size *= 2;
    }
    unreachable!("TB ends the loop")
}

/// `format_type(type oid, typmod)`: the type's SQL name with its length or precision.
fn format_type(_: &SessionScope, args: &[ScalarValue]) -> Result<ScalarValue> {
    let Some(oid) = int_arg(args, 0) else {
        return Ok(ScalarValue::Utf8(None));
    };
    let modifier = int_arg(args, 1).and_then(|m| i32::try_from(m).ok());
    Ok(text(
        driftdb_pgtypes::oids::format_type(oid, modifier).unwrap_or_else(|| "???".to_string()),
    ))
}

fn index_definition(scope: &SessionScope, args: &[ScalarValue]) -> Result<ScalarValue> {
    let Some(oid) = int_arg(args, 0) else {
        return Ok(ScalarValue::Utf8(None));
    };
    let column = int_arg(args, 1).unwrap_or(0);
    Ok(ScalarValue::Utf8(
        crate::pgcompat::pg_index::index_definition_by_oid(scope, oid, column),
    ))
}

fn constraint_definition(scope: &SessionScope, args: &[ScalarValue]) -> Result<ScalarValue> {
    let Some(oid) = int_arg(args, 0) else {
        return Ok(ScalarValue::Utf8(None));
    };
    Ok(ScalarValue::Utf8(
        crate::pgcompat::pg_constraint::constraint_definition_by_oid(scope, oid),
    ))
}

fn view_definition(scope: &SessionScope, args: &[ScalarValue]) -> Result<ScalarValue> {
    let Some(oid) = int_arg(args, 0) else {
        return Ok(ScalarValue::Utf8(None));
    };
    Ok(ScalarValue::Utf8(
        crate::pgcompat::objects::relation_by_oid(scope, oid)
            .and_then(|def| def.view.as_ref().map(|view| format!(" {};", view.query))),
    ))
}

/// `pg_get_expr(text, relation)`: DriftDB keeps expressions as text already.
fn expression(_: &SessionScope, args: &[ScalarValue]) -> Result<ScalarValue> {
    Ok(ScalarValue::Utf8(text_arg(args, 0)))
}

/// An OID argument given as a number, or text to look up with `lookup`; what PostgreSQL's
/// `'name'::regclass` (and kin) reads. `missing` is the error for a name that resolves to
/// nothing (`None`: NULL, as `to_regclass` answers).
fn object_oid(
    args: &[ScalarValue],
    lookup: impl Fn(&str) -> Option<i64>,
    missing: Option<(ErrorKind, &str)>,
) -> Result<ScalarValue> {
    if let Some(oid) = int_arg(args, 0) {
        return Ok(ScalarValue::Int64(Some(oid)));
    }
    let Some(name) = text_arg(args, 0) else {
        return Ok(ScalarValue::Int64(None));
    };
    match (lookup(&name), missing) {
        (Some(oid), _) => Ok(ScalarValue::Int64(Some(oid))),
        (None, None) => Ok(ScalarValue::Int64(None)),
        (None, Some((kind, what))) => {
            Err(Error::new(kind, format!("{what} \"{name}\" does not exist")).into_datafusion())
        }
    }
}

fn regclass(scope: &SessionScope, args: &[ScalarValue]) -> Result<ScalarValue> {
    object_oid(
        args,
        |name| crate::pgcompat::regclass::regclass(scope, name),
        Some((ErrorKind::UndefinedTable, "relation")),
    )
}

fn to_regclass(scope: &SessionScope, args: &[ScalarValue]) -> Result<ScalarValue> {
    object_oid(
        args,
        |name| crate::pgcompat::regclass::regclass(scope, name),
        None,
    )
}

fn regtype(_: &SessionScope, args: &[ScalarValue]) -> Result<ScalarValue> {
    object_oid(
        args,
        crate::pgcompat::regclass::regtype,
        Some((ErrorKind::UndefinedObject, "type")),
    )
}

fn regnamespace(_: &SessionScope, args: &[ScalarValue]) -> Result<ScalarValue> {
    object_oid(
        args,
        crate::pgcompat::regclass::regnamespace,
        Some((ErrorKind::UndefinedObject, "schema")),
    )
}

/// `'name'::regproc`: DriftDB has no functions in `pg_proc`, so a name reads as NULL.
fn regproc(_: &SessionScope, args: &[ScalarValue]) -> Result<ScalarValue> {
    object_oid(args, |_| None, None)
}

fn regclass_text(scope: &SessionScope, args: &[ScalarValue]) -> Result<ScalarValue> {
    Ok(ScalarValue::Utf8(int_arg(args, 0).map(|oid| {
        crate::pgcompat::regclass::regclass_name(scope, oid)
    })))
}

fn regtype_text(_: &SessionScope, args: &[ScalarValue]) -> Result<ScalarValue> {
    Ok(ScalarValue::Utf8(int_arg(args, 0).map(|oid| {
        driftdb_pgtypes::oids::format_type(oid, None).unwrap_or_else(|| oid.to_string())
    })))
}

fn regnamespace_text(_: &SessionScope, args: &[ScalarValue]) -> Result<ScalarValue> {
    Ok(ScalarValue::Utf8(
        int_arg(args, 0).map(crate::pgcompat::regclass::regnamespace_name),
    ))
}

/// `oid::regproc::text`: `-` for no function, as PostgreSQL prints it.
fn regproc_text(_: &SessionScope, args: &[ScalarValue]) -> Result<ScalarValue> {
    Ok(ScalarValue::Utf8(int_arg(args, 0).map(|oid| match oid {
        0 => "-".to_string(),
        oid => oid.to_string(),
    })))
}

/// `pg_get_serial_sequence(table, column)`: the counter behind a serial or identity column.
fn serial_sequence(scope: &SessionScope, args: &[ScalarValue]) -> Result<ScalarValue> {
    let (Some(table), Some(column)) = (text_arg(args, 0), text_arg(args, 1)) else {
        return Ok(ScalarValue::Utf8(None));
    };
    Ok(ScalarValue::Utf8(
        crate::pgcompat::regclass::serial_sequence(scope, &table, &column),
    ))
}

fn never(_: &SessionScope, _: &[ScalarValue]) -> Result<ScalarValue> {
    Ok(ScalarValue::Boolean(Some(false)))
}

fn empty_text(_: &SessionScope, _: &[ScalarValue]) -> Result<ScalarValue> {
    Ok(text(""))
}

/// `quote_ident(text)`: the identifier, double-quoted unless it needs no quotes.
fn quote_ident(_: &SessionScope, args: &[ScalarValue]) -> Result<ScalarValue> {
    Ok(ScalarValue::Utf8(
        text_arg(args, 0).map(|name| quoted_ident(&name)),
    ))
}

/// `parse_ident(text [, strict])`: a possibly qualified, possibly quoted identifier split into
/// its parts, unquoted parts folded to lower case (`'"Sales".Orders'` is `{Sales,orders}`). With
/// `strict` false, text after the identifier is ignored instead of an error.
fn parse_ident(_: &SessionScope, args: &[ScalarValue]) -> Result<ScalarValue> {
    let Some(text) = text_arg(args, 0) else {
        return ScalarValue::try_from(&DataType::new_list(DataType::Utf8, true));
    };
    let strict = !matches!(args.get(1), Some(ScalarValue::Boolean(Some(false))));
    let invalid = || {
        Error::new(
            ErrorKind::InvalidParameterValue,
            format!("string is not a valid identifier: \"{text}\""),
        )
        .into_datafusion()
    };
    let chars: Vec<char> = text.chars().collect();
    let mut at = 0;
    let skip_space = |at: &mut usize| {
        while *at < chars.len() && chars[*at].is_whitespace() {
            *at += 1;
        }
    };
    let mut parts = Vec::new();
    loop {
        skip_space(&mut at);
        let mut part = String::new();
        if chars.get(at) == Some(&'"') {
            at += 1;
            loop {
                match (chars.get(at), chars.get(at + 1)) {
                    (Some('"'), Some('"')) => {
                        part.push('"');
                        at += 2;
                    }
                    (Some('"'), _) => {
                        at += 1;
                        break;
                    }
                    (Some(&c), _) => {
                        part.push(c);
                        at += 1;
                    }
                    (None, _) => return Err(invalid()),
                }
            }
            if part.is_empty() {
                return Err(invalid());
            }
        } else {
            let starts = chars
                .get(at)
                .is_some_and(|c| c.is_alphabetic() || *c == '_');
            if !starts {
                return Err(invalid());
            }
            while let Some(&c) = chars.get(at) {
                if !(c.is_alphanumeric() || c == '_' || c == '$') {
                    break;
                }
                part.extend(c.to_lowercase());
                at += 1;
            }
        }
        parts.push(ScalarValue::Utf8(Some(part)));
        skip_space(&mut at);
        match chars.get(at) {
            Some('.') => at += 1,
            Some(_) if strict => return Err(invalid()),
            _ => break,
        }
    }
    Ok(ScalarValue::List(ScalarValue::new_list_nullable(
        &parts,
        &DataType::Utf8,
    )))
}

/// `quote_literal(text)`: the text as a string literal (`E'…'` when it holds a backslash).
fn quote_literal(_: &SessionScope, args: &[ScalarValue]) -> Result<ScalarValue> {
    let value = match args.first() {
        Some(ScalarValue::Utf8(Some(s))) => Some(s.clone()),
        Some(value) if value.is_null() => None,
        Some(value) => Some(value.to_string()),
        None => None,
    };
    Ok(ScalarValue::Utf8(value.map(|value| quoted_literal(&value))))
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
    let any = || Signature::variadic_any(stable);
    let catalog: Vec<(&'static str, Signature, DataType, Compute)> = vec![
        ("pg_get_userbyid", any(), DataType::Utf8, owner),
        ("pg_table_is_visible", any(), DataType::Boolean, always_true),
        ("pg_type_is_visible", any(), DataType::Boolean, always_true),
        (
            "pg_function_is_visible",
            any(),
            DataType::Boolean,
            always_true,
        ),
        ("has_table_privilege", any(), DataType::Boolean, always_true),
        (
            "has_schema_privilege",
            any(),
            DataType::Boolean,
            always_true,
        ),
        (
            "has_database_privilege",
            any(),
            DataType::Boolean,
            always_true,
        ),
        (
            "has_column_privilege",
            any(),
            DataType::Boolean,
            always_true,
        ),
        ("pg_encoding_to_char", any(), DataType::Utf8, encoding_name),
        ("format_type", any(), DataType::Utf8, format_type),
        ("obj_description", any(), DataType::Utf8, no_text),
        ("col_description", any(), DataType::Utf8, no_text),
        ("shobj_description", any(), DataType::Utf8, no_text),
        ("pg_get_indexdef", any(), DataType::Utf8, index_definition),
        (
            "pg_get_constraintdef",
            any(),
            DataType::Utf8,
            constraint_definition,
        ),
        ("pg_get_viewdef", any(), DataType::Utf8, view_definition),
        // There are no triggers (`pg_trigger` is empty); psql asks when a table has foreign keys.
        ("pg_get_triggerdef", any(), DataType::Utf8, no_text),
        // Nor rules (`pg_rewrite` is empty); DBeaver asks for a table's.
        ("pg_get_ruledef", any(), DataType::Utf8, no_text),
        ("format", any(), DataType::Utf8, |_, args| {
            driftdb_pgtypes::functions::format::format(args)
        }),
        ("pg_get_expr", any(), DataType::Utf8, expression),
        ("pg_relation_size", any(), DataType::Int64, zero_size),
        ("pg_table_size", any(), DataType::Int64, zero_size),
        ("pg_total_relation_size", any(), DataType::Int64, zero_size),
        ("pg_indexes_size", any(), DataType::Int64, zero_size),
        ("pg_size_pretty", any(), DataType::Utf8, size_pretty),
        ("pg_database_size", any(), DataType::Int64, zero_size),
        ("pg_tablespace_location", any(), DataType::Utf8, empty_text),
        ("pg_stat_get_numscans", any(), DataType::Int64, zero_size),
        (
            "pg_get_statisticsobjdef_columns",
            any(),
            DataType::Utf8,
            no_text,
        ),
        ("pg_get_partkeydef", any(), DataType::Utf8, no_text),
        (
            "pg_get_serial_sequence",
            any(),
            DataType::Utf8,
            serial_sequence,
        ),
        ("pg_get_function_result", any(), DataType::Utf8, no_text),
        ("pg_get_function_arguments", any(), DataType::Utf8, no_text),
        (
            "pg_collation_is_visible",
            any(),
            DataType::Boolean,
            always_true,
        ),
        (
            "pg_opclass_is_visible",
            any(),
            DataType::Boolean,
            always_true,
        ),
        (
            "pg_relation_is_publishable",
            any(),
            DataType::Boolean,
            never,
        ),
        (
            "has_any_column_privilege",
            any(),
            DataType::Boolean,
            always_true,
        ),
        (
            "has_function_privilege",
            any(),
            DataType::Boolean,
            always_true,
        ),
        (
            "has_sequence_privilege",
            any(),
            DataType::Boolean,
            always_true,
        ),
        ("quote_ident", any(), DataType::Utf8, quote_ident),
        (
            "parse_ident",
            any(),
            DataType::new_list(DataType::Utf8, true),
            parse_ident,
        ),
        ("quote_literal", any(), DataType::Utf8, quote_literal),
        ("to_regclass", any(), DataType::Int64, to_regclass),
        ("__driftdb_regclass", any(), DataType::Int64, regclass),
        // Set-returning in PostgreSQL; tables are never partitions here, so a table's only
        // ancestor is itself: one row, which a scalar function gives as well.
        ("pg_partition_ancestors", any(), DataType::Int64, regclass),
        ("__driftdb_regtype", any(), DataType::Int64, regtype),
        (
            "__driftdb_regnamespace",
            any(),
            DataType::Int64,
            regnamespace,
        ),
        ("__driftdb_regproc", any(), DataType::Int64, regproc),
        (
            "__driftdb_regclass_text",
            any(),
            DataType::Utf8,
            regclass_text,
        ),
        (
            "__driftdb_regtype_text",
            any(),
            DataType::Utf8,
            regtype_text,
        ),
        (
            "__driftdb_regnamespace_text",
            any(),
            DataType::Utf8,
            regnamespace_text,
        ),
        (
            "__driftdb_regproc_text",
            any(),
            DataType::Utf8,
            regproc_text,
        ),
    ];
    definitions
        .into_iter()
        .chain(catalog)
        .map(|(name, signature, returns, compute)| {
            ScalarUDF::from(SessionFunction {
                name,
                scope: scope.clone(),
                signature,
                returns,
                compute,
            })
        })
        .chain([ScalarUDF::from(PgTypeOf::new())])
        .collect()
}

/// `pg_typeof(x)`: the name of x's type, as its `regtype` prints (`integer`,
/// `character varying`, `text[]`, `unknown` for a bare NULL).
#[derive(Debug, PartialEq, Eq, Hash)]
struct PgTypeOf {
    signature: Signature,
}

impl PgTypeOf {
    fn new() -> PgTypeOf {
        PgTypeOf {
            signature: Signature::any(1, Volatility::Stable),
        }
    }
}

impl ScalarUDFImpl for PgTypeOf {
    fn name(&self) -> &str {
        "pg_typeof"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let name = type_name_of(&args.arg_fields[0]);
        Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(name))))
    }
}
