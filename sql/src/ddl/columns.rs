//! Column and constraint declarations as CREATE TABLE and ALTER TABLE read them: types,
//! `serial` and identity columns, defaults, the hidden row id of a table without a primary key,
//! keys, CHECK and FOREIGN KEY constraints.

use crate::common::names::table_name;
use crate::ddl::existing;
use crate::storage::checks;
use crate::storage::defaults::plan_default;
use crate::storage::scope::SessionScope;
use datafusion::arrow::compute::can_cast_types;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::DFSchema;
use datafusion::logical_expr::{Expr, ExprSchemable};
use datafusion::sql::sqlparser::ast::{
    CheckConstraint, ColumnDef as SqlColumn, ColumnOption, DataType as SqlType, Expr as SqlExpr,
    ForeignKeyConstraint, GeneratedAs, IndexColumn, ReferentialAction,
};
use driftdb_engine::{
    CheckDef, ColumnDef, ColumnType, ForeignKeyAction, ForeignKeyDef, Identity, TableDef,
};
use driftdb_pgtypes::error::{Error, ErrorKind, Result};
use driftdb_pgtypes::idents::normalize;
use driftdb_pgtypes::types::{arrow_type, column_type};
use std::sync::Arc;

/// The hidden row id that keys the rows of `table` when it has no primary key.
pub(crate) fn row_id_column(table: &str) -> ColumnDef {
    ColumnDef {
        nullable: false,
        hidden: true,
        identity: Some(identity(table, ROW_ID, true)),
        ..ColumnDef::new(ROW_ID, ColumnType::Int64)
    }
}

/// The hidden row id of a table without a primary key (PostgreSQL's system column of that name
/// is not a column a user can declare either).
pub(crate) const ROW_ID: &str = "ctid";

/// PostgreSQL's limit on columns per table (a row event counts columns in a u16).
pub(crate) const MAX_COLUMNS: usize = 1600;

/// `serial`, `bigserial` and `smallserial`: an integer type with an identity counter.
pub(crate) fn serial_type(sql: &SqlType) -> Option<ColumnType> {
    let SqlType::Custom(name, modifiers) = sql else {
        return None;
    };
    if !modifiers.is_empty() {
        return None;
    }
    match name.to_string().to_ascii_lowercase().as_str() {
        "serial" | "serial4" => Some(ColumnType::Int32),
        "bigserial" | "serial8" => Some(ColumnType::Int64),
        "smallserial" | "serial2" => Some(ColumnType::Int16),
        _ => None,
    }
}

pub(crate) fn identity(table: &str, column: &str, always: bool) -> Identity {
    Identity {
        always,
        sequence: format!("{table}_{column}_seq"),
        serial: false,
    }
}

/// The keys a CREATE TABLE declares, by column name.
#[derive(Default)]
pub(crate) struct DeclaredKeys {
    pub(crate) primary: Vec<String>,
    /// Each UNIQUE constraint: its name (if given) and columns.
    pub(crate) unique: Vec<(Option<String>, Vec<String>)>,
    /// Each CHECK constraint: its name and expression.
    pub(crate) checks: Vec<CheckDef>,
    /// Each FOREIGN KEY, as declared (a column-level one names its column).
    pub(crate) foreign: Vec<ForeignKeyConstraint>,
}

pub(crate) fn column_def(
    scope: &SessionScope,
    table: &str,
    column: &SqlColumn,
    keys: &mut DeclaredKeys,
) -> Result<ColumnDef> {
    let name = normalize(&column.name);
    let serial = serial_type(&column.data_type);
    let mut def = ColumnDef::new(
        name.clone(),
        match serial {
            Some(ty) => ty,
            None => column_type(&column.data_type)?,
        },
    );
    if serial.is_some() {
        def.nullable = false;
        def.identity = Some(Identity {
            serial: true,
            ..identity(table, &name, false)
        });
    }
    let both = || {
        Error::new(
            ErrorKind::SyntaxError,
            format!(
                "both default and identity specified for column \"{name}\" of table \"{table}\""
            ),
        )
    };
    for option in &column.options {
        match &option.option {
            ColumnOption::Null => def.nullable = true,
            ColumnOption::NotNull => def.nullable = false,
            ColumnOption::PrimaryKey(_) => {
                def.nullable = false;
                keys.primary.push(name.clone());
            }
            ColumnOption::Unique(constraint) => {
                let constraint_name = constraint.name.as_ref().map(normalize);
                keys.unique.push((constraint_name, vec![name.clone()]));
            }
            ColumnOption::Check(check) => keys.checks.push(check_def(table, check)),
            ColumnOption::ForeignKey(foreign) => {
                let mut foreign = foreign.clone();
                foreign.columns = vec![column.name.clone()];
                keys.foreign.push(foreign);
            }
            ColumnOption::Default(expr) => {
                if def.identity.is_some() {
                    return Err(both());
                }
                let sql = expr.to_string();
                let planned = plan_default(&scope.db.expressions, &sql)?;
                check_default_type(&planned, &def)?;
                def.default = Some(sql);
            }
            ColumnOption::Generated {
                generated_as: generated_as @ (GeneratedAs::Always | GeneratedAs::ByDefault),
                generation_expr: None,
                ..
            } => {
                if def.default.is_some() || def.identity.is_some() {
                    return Err(both());
                }
                if !matches!(
                    def.ty,
                    ColumnType::Int16 | ColumnType::Int32 | ColumnType::Int64
                ) {
                    return Err(Error::new(
                        ErrorKind::InvalidParameterValue,
                        "identity column type must be smallint, integer, or bigint",
                    ));
                }
                def.nullable = false;
                def.identity = Some(identity(table, &name, *generated_as == GeneratedAs::Always));
            }
            other => return Err(Error::unsupported(format!("column option {other}"))),
        }
    }
    Ok(def)
}

/// A default must be castable to its column's type.
pub(crate) fn check_default_type(default: &Expr, column: &ColumnDef) -> Result<()> {
    let schema = DFSchema::empty();
    let ty = default.get_type(&schema)?;
    let target = arrow_type(column.ty);
    if ty != DataType::Null && !can_cast_types(&ty, &target) {
        return Err(Error::new(
            ErrorKind::DatatypeMismatch,
            format!(
                "column \"{}\" is of type {} but default expression is of type {ty}",
                column.name, column.ty
            ),
        ));
    }
    Ok(())
}

pub(crate) fn check_unique_names(table: &str, columns: &[ColumnDef]) -> Result<()> {
    if let Some(column) = columns.iter().find(|c| !c.hidden && c.name == ROW_ID) {
        return Err(Error::new(
            ErrorKind::DuplicateColumn,
            format!(
                "column name \"{}\" conflicts with a system column name",
                column.name
            ),
        ));
    }
    for (i, column) in columns.iter().enumerate() {
        if !column.dropped
            && columns[..i]
                .iter()
                .any(|c| !c.dropped && c.name == column.name)
        {
            return Err(Error::new(
                ErrorKind::DuplicateColumn,
                format!(
                    "column \"{}\" specified more than once in relation \"{table}\"",
                    column.name
                ),
            ));
        }
    }
    Ok(())
}

pub(crate) fn check_def(table: &str, check: &CheckConstraint) -> CheckDef {
    CheckDef {
        name: check
            .name
            .as_ref()
            .map_or_else(|| checks::default_name(table, &check.expr), normalize),
        expr: check.expr.to_string(),
    }
}

/// A FOREIGN KEY of `def` (which may reference itself), checked against its parent: the
/// referenced columns must be the parent's primary key.
pub(crate) fn foreign_key(
    scope: &SessionScope,
    def: &TableDef,
    foreign: &ForeignKeyConstraint,
) -> Result<ForeignKeyDef> {
    let names: Vec<String> = foreign.columns.iter().map(normalize).collect();
    let columns = slots_of(&def.columns, &names, "foreign key constraint")?;
    let parent_name = table_name(&foreign.foreign_table)?;
    let parent = if parent_name == def.name {
        Arc::new(def.clone())
    } else {
        existing(scope, &parent_name)?
    };
    if parent
        .primary_key
        .iter()
        .any(|&slot| parent.columns[slot].hidden)
    {
        return Err(Error::new(
            ErrorKind::UndefinedObject,
            format!("there is no primary key for referenced table \"{parent_name}\""),
        ));
    }
    let key_names: Vec<String> = parent
        .primary_key
        .iter()
        .map(|&slot| parent.columns[slot].name.clone())
        .collect();
    let referred: Vec<String> = foreign.referred_columns.iter().map(normalize).collect();
    if !(referred.is_empty() || referred == key_names) || columns.len() != key_names.len() {
        return Err(Error::new(
            ErrorKind::InvalidForeignKey,
            format!(
                "there is no unique constraint matching given keys for referenced table \"{parent_name}\" \
                 (DriftDB's foreign keys reference the primary key)"
            ),
        ));
    }
    let on_delete = match foreign.on_delete {
        None | Some(ReferentialAction::NoAction | ReferentialAction::Restrict) => {
            ForeignKeyAction::Restrict
        }
        Some(ReferentialAction::Cascade) => ForeignKeyAction::Cascade,
        Some(ReferentialAction::SetNull) => ForeignKeyAction::SetNull,
        Some(ReferentialAction::SetDefault) => {
            return Err(Error::unsupported("ON DELETE SET DEFAULT"));
        }
    };
    if !matches!(
        foreign.on_update,
        None | Some(ReferentialAction::NoAction | ReferentialAction::Restrict)
    ) {
        return Err(Error::unsupported("ON UPDATE actions other than NO ACTION"));
    }
    Ok(ForeignKeyDef {
        name: foreign.name.as_ref().map_or_else(
            || format!("{}_{}_fkey", def.name, names.join("_")),
            normalize,
        ),
        columns,
        parent: parent.id,
        on_delete,
    })
}

/// The column names of an index or key declaration (expressions are not supported).
pub(crate) fn index_column_names(columns: &[IndexColumn]) -> Result<Vec<String>> {
    columns
        .iter()
        .map(|column| match &column.column.expr {
            SqlExpr::Identifier(ident) => Ok(normalize(ident)),
            other => Err(Error::unsupported(format!(
                "a key or index on expression {other}"
            ))),
        })
        .collect()
}

/// The slots of the named columns of a key or index (`what`), each named once.
pub(crate) fn slots_of(columns: &[ColumnDef], names: &[String], what: &str) -> Result<Vec<usize>> {
    let mut slots = Vec::with_capacity(names.len());
    for name in names {
        let slot = columns
            .iter()
            .position(|c| !c.dropped && &c.name == name)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::UndefinedColumn,
                    format!("column \"{name}\" named in key does not exist"),
                )
            })?;
        if slots.contains(&slot) {
            return Err(Error::new(
                ErrorKind::DuplicateColumn,
                format!("column \"{name}\" appears twice in {what}"),
            ));
        }
        slots.push(slot);
    }
    Ok(slots)
}
