//! CREATE TABLE, DROP TABLE and ALTER TABLE: new definitions staged in the session's transaction,
//! recorded in the engine's versioned catalog when it commits.

use crate::catalog::SessionScope;
use crate::catalog::{CATALOG_NAME, SCHEMA_NAME};
use crate::checks;
use crate::defaults::plan_default;
use crate::session::Session;
use crate::write::{coerce, typed_value};
use datafusion::arrow::compute::can_cast_types;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::datatypes::Schema;
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::common::DFSchema;
use datafusion::logical_expr::{Expr, ExprSchemable};
use datafusion::sql::sqlparser::ast::{
    AlterColumnOperation, AlterTable, AlterTableOperation, CheckConstraint, ColumnDef as SqlColumn,
    ColumnOption, CreateIndex, CreateTable, DataType as SqlType, Expr as SqlExpr,
    ForeignKeyConstraint, GeneratedAs, IndexColumn, ObjectName, ObjectNamePart, ReferentialAction,
    RenameTableNameKind, TableConstraint,
};
use driftdb_engine::row::RowEncoder;
use driftdb_engine::{
    CheckDef, ColumnDef, ColumnType, ForeignKeyAction, ForeignKeyDef, Identity, IndexDef, TableDef,
    ValueRef,
};
use driftdb_pgtypes::error::{Error, ErrorKind, Notice, Result};
use driftdb_pgtypes::idents::normalize;
use driftdb_pgtypes::types::{arrow_type, column_type};
use std::sync::Arc;

/// The error for a relation name already taken (42P07).
pub(crate) fn relation_exists_error(name: &str) -> Error {
    Error::new(
        ErrorKind::DuplicateTable,
        format!("relation \"{name}\" already exists"),
    )
}

/// The hidden row id that keys the rows of `table` when it has no primary key.
fn row_id_column(table: &str) -> ColumnDef {
    ColumnDef {
        nullable: false,
        hidden: true,
        identity: Some(identity(table, ROW_ID, true)),
        ..ColumnDef::new(ROW_ID, ColumnType::Int64)
    }
}

/// The hidden row id of a table without a primary key (PostgreSQL's system column of that name
/// is not a column a user can declare either).
const ROW_ID: &str = "ctid";

/// PostgreSQL's limit on columns per table (a row event counts columns in a u16).
const MAX_COLUMNS: usize = 1600;

/// The table name in `name`, which may be qualified by `public` or `driftdb.public`.
pub(crate) fn table_name(name: &ObjectName) -> Result<String> {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|part| match part {
            ObjectNamePart::Identifier(ident) => Ok(normalize(ident)),
            other => Err(Error::unsupported(format!("object name {other}"))),
        })
        .collect::<Result<_>>()?;
    match parts.as_slice() {
        [table] => Ok(table.clone()),
        [schema, table] if schema == SCHEMA_NAME => Ok(table.clone()),
        [catalog, schema, table] if catalog == CATALOG_NAME && schema == SCHEMA_NAME => {
            Ok(table.clone())
        }
        _ => Err(Error::new(
            ErrorKind::UndefinedTable,
            format!("relation \"{name}\" does not exist"),
        )),
    }
}

/// `serial`, `bigserial` and `smallserial`: an integer type with an identity counter.
fn serial_type(sql: &SqlType) -> Option<ColumnType> {
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

fn identity(table: &str, column: &str, always: bool) -> Identity {
    Identity {
        always,
        sequence: format!("{table}_{column}_seq"),
        serial: false,
    }
}

/// The keys a CREATE TABLE declares, by column name.
#[derive(Default)]
struct DeclaredKeys {
    primary: Vec<String>,
    /// Each UNIQUE constraint: its name (if given) and columns.
    unique: Vec<(Option<String>, Vec<String>)>,
    /// Each CHECK constraint: its name and expression.
    checks: Vec<CheckDef>,
    /// Each FOREIGN KEY, as declared (a column-level one names its column).
    foreign: Vec<ForeignKeyConstraint>,
}

fn column_def(
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
fn check_default_type(default: &Expr, column: &ColumnDef) -> Result<()> {
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

fn check_unique_names(table: &str, columns: &[ColumnDef]) -> Result<()> {
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

fn check_def(table: &str, check: &CheckConstraint) -> CheckDef {
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
fn foreign_key(
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
fn index_column_names(columns: &[IndexColumn]) -> Result<Vec<String>> {
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
fn slots_of(columns: &[ColumnDef], names: &[String], what: &str) -> Result<Vec<usize>> {
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

/// `CREATE [UNIQUE] INDEX`: used by reads from its commit on; a unique index also refuses a
/// second row with the same values (and cannot be created over rows that repeat them).
pub(crate) fn create_index(scope: &SessionScope, create: &CreateIndex) -> Result<()> {
    if create.predicate.is_some() || !create.include.is_empty() || !create.with.is_empty() {
        return Err(Error::unsupported(
            "partial indexes and INCLUDE / WITH options",
        ));
    }
    let table = table_name(&create.table_name)?;
    let current = existing(scope, &table)?;
    let column_names = index_column_names(&create.columns)?;
    let columns = slots_of(&current.columns, &column_names, "index")?;
    let name = match &create.name {
        Some(name) => table_name(name)?,
        None => format!("{table}_{}_idx", column_names.join("_")),
    };
    if scope.relation_exists(&name) {
        if create.if_not_exists {
            scope.notice(Notice::note(
                Some(ErrorKind::DuplicateTable),
                format!("relation \"{name}\" already exists, skipping"),
            ));
            return Ok(());
        }
        return Err(relation_exists_error(&name));
    }
    let mut def: TableDef = (*current).clone();
    def.indexes.push(IndexDef {
        id: scope.db.engine.reserve_index_id(),
        name,
        columns,
        unique: create.unique,
        constraint: false,
    });
    scope.with_transaction(|txn| txn.redefine(def.id, Some(def)))
}

/// `DROP INDEX`: reads stop using the index from the commit on; earlier points still may.
pub(crate) fn drop_indexes(
    scope: &SessionScope,
    names: &[ObjectName],
    if_exists: bool,
) -> Result<()> {
    for name in names {
        let name = table_name(name)?;
        let owner = scope.current_table_names().into_iter().find_map(|table| {
            scope
                .resolve_current(&table)
                .filter(|def| def.indexes.iter().any(|i| i.name == name))
        });
        match owner {
            Some(current) => {
                let mut def: TableDef = (*current).clone();
                def.indexes.retain(|i| i.name != name);
                scope.with_transaction(|txn| txn.redefine(def.id, Some(def)))?;
            }
            None if if_exists => scope.notice(Notice::note(
                None,
                format!("index \"{name}\" does not exist, skipping"),
            )),
            None => {
                return Err(Error::new(
                    ErrorKind::UndefinedObject,
                    format!("index \"{name}\" does not exist"),
                ));
            }
        }
    }
    Ok(())
}

/// `CREATE TABLE name [(columns)] AS query`: a table without a primary key holding the query's
/// rows, created and filled in one transaction. Returns the number of rows.
pub(crate) async fn create_table_as(session: &Session, create: &CreateTable) -> Result<u64> {
    let Some(query) = &create.query else {
        return Err(Error::new(
            ErrorKind::Internal,
            "CREATE TABLE … AS without a query",
        ));
    };
    let scope = session.scope();
    let name = table_name(&create.name)?;
    if scope.relation_exists(&name) {
        if create.if_not_exists {
            scope.notice(Notice::note(
                Some(ErrorKind::DuplicateTable),
                format!("relation \"{name}\" already exists, skipping"),
            ));
            return Ok(0);
        }
        return Err(relation_exists_error(&name));
    }
    let schema = session
        .query_schema(datafusion::sql::sqlparser::ast::Statement::Query(
            query.clone(),
        ))
        .await?;
    let names: Vec<String> = create.columns.iter().map(|c| normalize(&c.name)).collect();
    if names.len() > schema.fields().len() {
        return Err(Error::new(
            ErrorKind::SyntaxError,
            "CREATE TABLE AS specifies too many column names",
        ));
    }
    let mut columns = Vec::with_capacity(schema.fields().len());
    for (i, field) in schema.fields().iter().enumerate() {
        let column_name = names
            .get(i)
            .cloned()
            .unwrap_or_else(|| field.name().clone());
        columns.push(ColumnDef::new(
            column_name,
            driftdb_pgtypes::types::column_type_of(field)?,
        ));
    }
    check_unique_names(&name, &columns)?;
    columns.push(row_id_column(&name));
    let id = scope.db.engine.reserve_table_id();
    let def = TableDef {
        id,
        name: name.clone(),
        primary_key: vec![columns.len() - 1],
        columns,
        indexes: Vec::new(),
        checks: Vec::new(),
        foreign_keys: Vec::new(),
        view: None,
    };
    scope.with_transaction(|txn| txn.redefine(id, Some(def)))?;
    let insert = format!(
        "INSERT INTO {} {query}",
        driftdb_pgtypes::idents::quoted(&name)
    );
    let batches = session.collect_sql(&insert).await?;
    crate::dml::count_of(&batches)
}

/// `CREATE TABLE`: visible to others from the commit on.
pub(crate) fn create_table(scope: &SessionScope, create: &CreateTable) -> Result<()> {
    if create.query.is_some() || create.like.is_some() || create.clone.is_some() {
        return Err(Error::unsupported(
            "CREATE TABLE from another table or query",
        ));
    }
    if create.temporary || create.external || create.or_replace {
        return Err(Error::unsupported("this kind of CREATE TABLE"));
    }
    let name = table_name(&create.name)?;
    let mut keys = DeclaredKeys::default();
    let columns: Vec<ColumnDef> = create
        .columns
        .iter()
        .map(|c| column_def(scope, &name, c, &mut keys))
        .collect::<Result<_>>()?;
    check_unique_names(&name, &columns)?;
    if columns.len() > MAX_COLUMNS {
        return Err(Error::new(
            ErrorKind::InvalidTableDefinition,
            format!("tables can have at most {MAX_COLUMNS} columns"),
        ));
    }
    // Each column-level PRIMARY KEY named one column; a table may declare one key in all.
    let mut primary_keys_declared = keys.primary.len();
    for constraint in &create.constraints {
        match constraint {
            TableConstraint::PrimaryKey(pk) => {
                primary_keys_declared += 1;
                keys.primary.extend(index_column_names(&pk.columns)?);
            }
            TableConstraint::Check(check) => keys.checks.push(check_def(&name, check)),
            TableConstraint::ForeignKey(foreign) => keys.foreign.push(foreign.clone()),
            TableConstraint::Unique(unique) => {
                let constraint_name = unique.name.as_ref().map(normalize);
                keys.unique
                    .push((constraint_name, index_column_names(&unique.columns)?));
            }
            other => return Err(Error::unsupported(format!("constraint {other}"))),
        }
    }
    let primary_key_names = keys.primary;
    if primary_keys_declared > 1 {
        return Err(Error::new(
            ErrorKind::InvalidTableDefinition,
            format!("multiple primary keys for table \"{name}\" are not allowed"),
        ));
    }
    let mut columns = columns;
    let primary_key = if primary_key_names.is_empty() {
        // Rows of a table without a primary key are keyed by a hidden row id.
        columns.push(row_id_column(&name));
        vec![columns.len() - 1]
    } else {
        slots_of(&columns, &primary_key_names, "primary key constraint")?
    };
    for &slot in &primary_key {
        columns[slot].nullable = false;
    }
    if scope.relation_exists(&name) {
        if create.if_not_exists {
            scope.notice(Notice::note(
                Some(ErrorKind::DuplicateTable),
                format!("relation \"{name}\" already exists, skipping"),
            ));
            return Ok(());
        }
        return Err(relation_exists_error(&name));
    }
    let mut indexes = Vec::new();
    for (constraint_name, column_names) in keys.unique {
        let slots = slots_of(&columns, &column_names, "unique constraint")?;
        let index_name =
            constraint_name.unwrap_or_else(|| format!("{name}_{}_key", column_names.join("_")));
        indexes.push(IndexDef {
            id: scope.db.engine.reserve_index_id(),
            name: index_name,
            columns: slots,
            unique: true,
            constraint: true,
        });
    }
    let id = scope.db.engine.reserve_table_id();
    let mut def = TableDef {
        id,
        name,
        columns,
        primary_key,
        indexes,
        checks: keys.checks,
        foreign_keys: Vec::new(),
        view: None,
    };
    for foreign in &keys.foreign {
        let fk = foreign_key(scope, &def, foreign)?;
        def.foreign_keys.push(fk);
    }
    for check in &def.checks {
        checks::plan(&scope.db.expressions, &def, &check.expr)?;
    }
    scope.with_transaction(|txn| txn.redefine(id, Some(def)))
}

/// The table called `name` as the session's transaction sees it (a view is not one).
fn existing(scope: &SessionScope, name: &str) -> Result<Arc<TableDef>> {
    match scope.resolve_current(name) {
        Some(def) if def.view.is_some() => Err(crate::views::not_a(name, "table")),
        Some(def) => Ok(def),
        None => Err(Error::new(
            ErrorKind::UndefinedTable,
            format!("relation \"{name}\" does not exist"),
        )),
    }
}

/// `DROP TABLE` (or, with `views`, `DROP VIEW`): the relations disappear from the commit on;
/// their past stays readable.
pub(crate) fn drop_relations(
    scope: &SessionScope,
    names: &[ObjectName],
    if_exists: bool,
    views: bool,
) -> Result<()> {
    let kind = if views { "view" } else { "table" };
    let mut dropped = Vec::new();
    for name in names {
        let name = table_name(name)?;
        match scope.resolve_current(&name) {
            Some(def) if def.view.is_some() == views => {
                let dependents = crate::foreign::referencing(scope, def.id);
                if let Some((child, fk)) = dependents.iter().find(|(child, _)| child.id != def.id) {
                    return Err(Error::new(
                        ErrorKind::DependentObjectsStillExist,
                        format!(
                            "cannot drop table {name} because constraint {} on table {} depends on it",
                            fk.name, child.name
                        ),
                    ));
                }
                dropped.push(def.id);
            }
            Some(_) => return Err(crate::views::not_a(&name, kind)),
            None if if_exists => scope.notice(Notice::note(
                None,
                format!("{kind} \"{name}\" does not exist, skipping"),
            )),
            None => {
                return Err(Error::new(
                    ErrorKind::UndefinedTable,
                    format!("{kind} \"{name}\" does not exist"),
                ));
            }
        }
    }
    scope.with_transaction(|txn| {
        for id in dropped {
            txn.redefine(id, None);
        }
    })
}

/// `ALTER TABLE`: ADD / DROP / RENAME / ALTER COLUMN, RENAME TO, ADD CONSTRAINT (PRIMARY KEY,
/// UNIQUE, CHECK, FOREIGN KEY). Each
/// change is a new version of the definition from the commit on; reads of earlier points keep
/// the old one (a dropped column's values stay readable there).
pub(crate) async fn alter_table(session: &Session, alter: &AlterTable) -> Result<()> {
    let scope = session.scope();
    let name = table_name(&alter.name)?;
    let current = match existing(scope, &name) {
        Ok(def) => def,
        Err(_) if alter.if_exists => {
            scope.notice(Notice::note(
                None,
                format!("relation \"{name}\" does not exist, skipping"),
            ));
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let mut def: TableDef = (*current).clone();
    let mut fills = Vec::new();
    // ADD PRIMARY KEY, by column name: the rows move under it once the other changes are made.
    let mut new_key: Option<Vec<String>> = None;
    for operation in &alter.operations {
        match operation {
            AlterTableOperation::AddColumn {
                if_not_exists,
                column_def,
                column_position: None,
                ..
            } => {
                let (mut column, needs_fill, primary) =
                    column_def_for_add(session, &def, column_def).await?;
                if primary {
                    declare_primary_key(&def, &mut new_key, vec![column.name.clone()])?;
                }
                if needs_fill {
                    fills.push((column.name.clone(), column.nullable));
                    column.nullable = true;
                }
                if def.slot_of(&column.name).is_some() {
                    if *if_not_exists {
                        scope.notice(Notice::note(
                            Some(ErrorKind::DuplicateColumn),
                            format!(
                                "column \"{}\" of relation \"{}\" already exists, skipping",
                                column.name, def.name
                            ),
                        ));
                        continue;
                    }
                    return Err(Error::new(
                        ErrorKind::DuplicateColumn,
                        format!(
                            "column \"{}\" of relation \"{}\" already exists",
                            column.name, def.name
                        ),
                    ));
                }
                if def.columns.len() >= MAX_COLUMNS {
                    return Err(Error::new(
                        ErrorKind::InvalidTableDefinition,
                        format!("tables can have at most {MAX_COLUMNS} columns"),
                    ));
                }
                def.columns.push(column);
            }
            AlterTableOperation::DropColumn {
                column_names,
                if_exists,
                ..
            } => {
                for column in column_names {
                    drop_column(scope, &mut def, &normalize(column), *if_exists)?;
                }
            }
            AlterTableOperation::RenameColumn {
                old_column_name,
                new_column_name,
            } => rename_column(
                &mut def,
                &normalize(old_column_name),
                &normalize(new_column_name),
            )?,
            AlterTableOperation::RenameTable { table_name: new } => {
                let (RenameTableNameKind::As(new) | RenameTableNameKind::To(new)) = new;
                let new = table_name(new)?;
                if new != def.name && scope.relation_exists(&new) {
                    return Err(relation_exists_error(&new));
                }
                def.name = new;
            }
            AlterTableOperation::AddConstraint {
                constraint: TableConstraint::PrimaryKey(key),
                not_valid: false,
            } => declare_primary_key(&def, &mut new_key, index_column_names(&key.columns)?)?,
            AlterTableOperation::AddConstraint {
                constraint,
                not_valid: false,
            } => add_constraint(session, &mut def, constraint).await?,
            AlterTableOperation::AlterColumn { column_name, op } => {
                alter_column(session, &mut def, &normalize(column_name), op).await?
            }
            other => return Err(Error::unsupported(format!("ALTER TABLE {other}"))),
        }
    }
    if fills.is_empty() && new_key.is_none() {
        return scope.with_transaction(|txn| txn.redefine(def.id, Some(def)));
    }
    scope.with_transaction(|txn| txn.redefine(def.id, Some(def.clone())))?;
    if !fills.is_empty() {
        fill_added_columns(session, &mut def, &fills).await?;
    }
    match new_key {
        Some(names) => {
            let slots = slots_of(&def.columns, &names, "primary key constraint")?;
            if let Some(&slot) = slots.iter().find(|&&slot| def.columns[slot].hidden) {
                return Err(Error::unsupported(format!(
                    "a primary key on system column \"{}\"",
                    def.columns[slot].name
                )));
            }
            crate::rekey::add_primary_key(session, &mut def, slots).await
        }
        None => scope.with_transaction(|txn| txn.redefine(def.id, Some(def))),
    }
}

/// Records the key an `ADD PRIMARY KEY` declares; a table has at most one (42P16), and one
/// that has none is keyed by its hidden row id.
fn declare_primary_key(
    def: &TableDef,
    new_key: &mut Option<Vec<String>>,
    columns: Vec<String>,
) -> Result<()> {
    let keyed_by_row_id = def.primary_key.iter().all(|&slot| def.columns[slot].hidden);
    if !keyed_by_row_id || new_key.is_some() {
        return Err(Error::new(
            ErrorKind::InvalidTableDefinition,
            format!(
                "multiple primary keys for table \"{}\" are not allowed",
                def.name
            ),
        ));
    }
    *new_key = Some(columns);
    Ok(())
}

/// Gives every row its own value of each added column (`SET column = DEFAULT`, one commit
/// rewriting the rows), then declares the columns NOT NULL where they are.
async fn fill_added_columns(
    session: &Session,
    def: &mut TableDef,
    fills: &[(String, bool)],
) -> Result<()> {
    let assignments: Vec<String> = fills
        .iter()
        .map(|(name, _)| format!("{} = DEFAULT", driftdb_pgtypes::idents::quoted(name)))
        .collect();
    let sql = format!(
        "UPDATE {} SET {}",
        driftdb_pgtypes::idents::quoted(&def.name),
        assignments.join(", ")
    );
    let datafusion::sql::sqlparser::ast::Statement::Update(update) = session.parse_one(&sql)?
    else {
        unreachable!("the SQL above is an UPDATE");
    };
    Box::pin(crate::dml::update(session, &update)).await?;
    for (name, nullable) in fills {
        if let Some(slot) = def.slot_of(name) {
            def.columns[slot].nullable = *nullable;
        }
    }
    Ok(())
}

/// `ALTER COLUMN … SET/DROP DEFAULT` and `SET/DROP NOT NULL`: a new definition, no row
/// rewritten (SET NOT NULL first checks that no row holds NULL).
async fn alter_column(
    session: &Session,
    def: &mut TableDef,
    column: &str,
    op: &AlterColumnOperation,
) -> Result<()> {
    let slot = def.slot_of(column).ok_or_else(|| {
        Error::new(
            ErrorKind::UndefinedColumn,
            format!(
                "column \"{column}\" of relation \"{}\" does not exist",
                def.name
            ),
        )
    })?;
    let identity_column = || {
        Error::new(
            ErrorKind::SyntaxError,
            format!(
                "column \"{column}\" of relation \"{}\" is an identity column",
                def.name
            ),
        )
    };
    let is_identity = def.columns[slot]
        .identity
        .as_ref()
        .is_some_and(|identity| !identity.serial);
    match op {
        AlterColumnOperation::SetDefault { value } => {
            if is_identity {
                return Err(identity_column());
            }
            let sql = value.to_string();
            let planned = plan_default(&session.scope().db.expressions, &sql)?;
            check_default_type(&planned, &def.columns[slot])?;
            // A serial column given a default of its own no longer draws from its sequence.
            def.columns[slot].identity = None;
            def.columns[slot].default = Some(sql);
        }
        AlterColumnOperation::DropDefault => {
            if def.columns[slot]
                .identity
                .as_ref()
                .is_some_and(|i| i.serial)
            {
                def.columns[slot].identity = None;
            }
            def.columns[slot].default = None;
        }
        AlterColumnOperation::SetNotNull => {
            let query = format!(
                "SELECT count(*) FROM {} WHERE {} IS NULL",
                driftdb_pgtypes::idents::quoted(&def.name),
                driftdb_pgtypes::idents::quoted(column)
            );
            if session.count_sql(&query).await? > 0 {
                return Err(Error::new(
                    ErrorKind::NotNullViolation,
                    format!(
                        "column \"{column}\" of relation \"{}\" contains null values",
                        def.name
                    ),
                ));
            }
            session
                .scope()
                .with_transaction(|txn| txn.require_unchanged(def.id))?;
            def.columns[slot].nullable = false;
        }
        AlterColumnOperation::DropNotNull => {
            if is_identity {
                return Err(identity_column());
            }
            if def.primary_key.contains(&slot) {
                return Err(Error::new(
                    ErrorKind::InvalidTableDefinition,
                    format!("column \"{column}\" is in a primary key"),
                ));
            }
            def.columns[slot].nullable = true;
        }
        other => {
            return Err(Error::unsupported(format!(
                "ALTER TABLE … ALTER COLUMN {other}"
            )));
        }
    }
    Ok(())
}

/// Marks a column dropped (its slot stays, so older rows still decode); the indexes and
/// checks that use it go with it, as in PostgreSQL. A primary-key column cannot be dropped.
fn drop_column(
    scope: &SessionScope,
    def: &mut TableDef,
    column: &str,
    if_exists: bool,
) -> Result<()> {
    let Some(slot) = def.slot_of(column) else {
        if if_exists {
            scope.notice(Notice::note(
                None,
                format!(
                    "column \"{column}\" of relation \"{}\" does not exist, skipping",
                    def.name
                ),
            ));
            return Ok(());
        }
        return Err(Error::new(
            ErrorKind::UndefinedColumn,
            format!(
                "column \"{column}\" of relation \"{}\" does not exist",
                def.name
            ),
        ));
    };
    if def.primary_key.contains(&slot) {
        return Err(Error::unsupported(format!(
            "dropping primary-key column \"{column}\""
        )));
    }
    def.columns[slot].dropped = true;
    def.columns[slot].default = None;
    def.columns[slot].identity = None;
    def.indexes.retain(|index| !index.columns.contains(&slot));
    def.checks
        .retain(|check| !checks::columns_of(&check.expr).contains(column));
    Ok(())
}

/// Renames a column, and the column in the checks that read it.
fn rename_column(def: &mut TableDef, old: &str, new: &str) -> Result<()> {
    let slot = def.slot_of(old).ok_or_else(|| {
        Error::new(
            ErrorKind::UndefinedColumn,
            format!("column \"{old}\" does not exist"),
        )
    })?;
    if old != new && def.slot_of(new).is_some() {
        return Err(Error::new(
            ErrorKind::DuplicateColumn,
            format!(
                "column \"{new}\" of relation \"{}\" already exists",
                def.name
            ),
        ));
    }
    def.columns[slot].name = new.to_string();
    for check in &mut def.checks {
        check.expr = checks::rename_column(&check.expr, old, new)?;
    }
    Ok(())
}

/// `ADD CONSTRAINT … UNIQUE (…)` (the index is filled at commit, which fails with 23505 on
/// rows that repeat a value) or `CHECK (…)` (checked against every row now).
async fn add_constraint(
    session: &Session,
    def: &mut TableDef,
    constraint: &TableConstraint,
) -> Result<()> {
    let scope = session.scope();
    match constraint {
        TableConstraint::Unique(unique) => {
            let column_names = index_column_names(&unique.columns)?;
            let columns = slots_of(&def.columns, &column_names, "unique constraint")?;
            let name = unique.name.as_ref().map_or_else(
                || format!("{}_{}_key", def.name, column_names.join("_")),
                normalize,
            );
            if scope.relation_exists(&name) {
                return Err(relation_exists_error(&name));
            }
            def.indexes.push(IndexDef {
                id: scope.db.engine.reserve_index_id(),
                name,
                columns,
                unique: true,
                constraint: true,
            });
        }
        TableConstraint::Check(check) => {
            let check = check_def(&def.name, check);
            checks::plan(&scope.db.expressions, def, &check.expr)?;
            let query = format!(
                "SELECT count(*) FROM {} WHERE NOT ({})",
                driftdb_pgtypes::idents::quoted(&def.name),
                check.expr
            );
            if session.count_sql(&query).await? > 0 {
                return Err(Error::new(
                    ErrorKind::CheckViolation,
                    format!(
                        "check constraint \"{}\" of relation \"{}\" is violated by some row",
                        check.name, def.name
                    ),
                ));
            }
            scope.with_transaction(|txn| txn.require_unchanged(def.id))?;
            def.checks.push(check);
        }
        TableConstraint::ForeignKey(foreign) => {
            let fk = foreign_key(scope, def, foreign)?;
            let parent = crate::foreign::table_by_id(scope, fk.parent)
                .unwrap_or_else(|| Arc::new(def.clone()));
            let child = driftdb_pgtypes::idents::quoted(&def.name);
            let pairs: Vec<(String, String)> = fk
                .columns
                .iter()
                .zip(&parent.primary_key)
                .map(|(&c, &p)| {
                    (
                        driftdb_pgtypes::idents::quoted(&def.columns[c].name),
                        driftdb_pgtypes::idents::quoted(&parent.columns[p].name),
                    )
                })
                .collect();
            let present: Vec<String> = pairs
                .iter()
                .map(|(c, _)| format!("c.{c} IS NOT NULL"))
                .collect();
            let matches: Vec<String> = pairs
                .iter()
                .map(|(c, p)| format!("p.{p} = c.{c}"))
                .collect();
            let query = format!(
                "SELECT count(*) FROM {child} AS c WHERE {} AND NOT EXISTS \
                 (SELECT 1 FROM {} AS p WHERE {})",
                present.join(" AND "),
                driftdb_pgtypes::idents::quoted(&parent.name),
                matches.join(" AND ")
            );
            if session.count_sql(&query).await? > 0 {
                return Err(crate::foreign::missing_parent(def, &fk));
            }
            scope.with_transaction(|txn| {
                txn.require_unchanged(def.id);
                txn.require_unchanged(parent.id);
            })?;
            def.foreign_keys.push(fk);
        }
        other => return Err(Error::unsupported(format!("ADD CONSTRAINT {other}"))),
    }
    Ok(())
}

/// A column for `ADD COLUMN`, and whether existing rows must be filled in by a rewrite. A
/// constant DEFAULT is evaluated once now and kept with the column, no row rewritten; an
/// identity or a volatile DEFAULT (`serial`, `random()`) gives each row its own value, so the
/// rows are rewritten ([`fill_added_columns`]).
async fn column_def_for_add(
    session: &Session,
    table: &TableDef,
    column: &SqlColumn,
) -> Result<(ColumnDef, bool, bool)> {
    let mut keys = DeclaredKeys::default();
    let mut def = column_def(session.scope(), &table.name, column, &mut keys)?;
    let primary = !keys.primary.is_empty();
    if !keys.unique.is_empty() || !keys.checks.is_empty() || !keys.foreign.is_empty() {
        return Err(Error::unsupported(
            "ADD COLUMN with UNIQUE, CHECK or REFERENCES (add the column, then the constraint)",
        ));
    }
    let volatile = match &def.default {
        Some(sql) => plan_default(session.planner(), sql)?.is_volatile(),
        None => false,
    };
    if def.identity.is_some() || volatile {
        return Ok((def, true, primary));
    }
    let missing = match &def.default {
        Some(sql) => constant_value(session, sql, def.ty)?,
        None => None,
    };
    // Rows already there would hold NULL (an empty table takes the column as it is).
    let count = format!(
        "SELECT count(*) FROM {}",
        driftdb_pgtypes::idents::quoted(&table.name)
    );
    if missing.is_none() && !def.nullable && session.count_sql(&count).await? > 0 {
        return Err(Error::new(
            ErrorKind::NotNullViolation,
            format!(
                "column \"{}\" of relation \"{}\" contains null values",
                def.name, table.name
            ),
        ));
    }
    def.missing = missing;
    Ok((def, false, primary))
}

/// Evaluates a non-volatile DEFAULT now (the caller checked it is); returns its value framed as a one-value row event
/// (`None` for NULL).
fn constant_value(session: &Session, sql: &str, ty: ColumnType) -> Result<Option<Vec<u8>>> {
    let planner = session.planner();
    let expr = plan_default(planner, sql)?;
    let physical = planner.create_physical_expr(expr, &DFSchema::empty())?;
    let one_row = RecordBatch::try_new_with_options(
        Arc::new(Schema::empty()),
        vec![],
        &RecordBatchOptions::new().with_row_count(Some(1)),
    )?;
    let value = physical.evaluate(&one_row)?.into_array(1)?;
    let value = coerce(&value, ty)?;
    let value = typed_value(&value, 0);
    if value == ValueRef::Null {
        return Ok(None);
    }
    let mut row = RowEncoder::new();
    row.begin_put();
    row.push(value);
    Ok(Some(row.finish().to_vec()))
}
