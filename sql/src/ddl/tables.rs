//! CREATE TABLE, CREATE TABLE AS and DROP TABLE / DROP VIEW: new definitions staged in the
//! session's transaction, visible (and versioned) from its commit on.

use crate::common::names::table_name;
use crate::ddl::columns::{
    DeclaredKeys, MAX_COLUMNS, check_def, check_unique_names, column_def, foreign_key,
    index_column_names, row_id_column, slots_of,
};
use crate::ddl::relation_exists_error;
use crate::exec::Executor;
use crate::storage::checks;
use crate::storage::scope::SessionScope;
use datafusion::sql::sqlparser::ast::{CreateTable, ObjectName, TableConstraint};
use driftdb_engine::{ColumnDef, IndexDef, TableDef};
use driftdb_pgtypes::error::{Error, ErrorKind, Notice, Result};
use driftdb_pgtypes::idents::normalize;

/// `CREATE TABLE name [(columns)] AS query`: a table without a primary key holding the query's
/// rows, created and filled in one transaction. Returns the number of rows.
pub(crate) async fn create_table_as(exec: &Executor, create: &CreateTable) -> Result<u64> {
    let Some(query) = &create.query else {
        return Err(Error::new(
            ErrorKind::Internal,
            "CREATE TABLE … AS without a query",
        ));
    };
    let scope = exec.scope();
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
    let schema = exec
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
    let batches = exec.collect_sql(&insert).await?;
    crate::dml::rows::count_of(&batches)
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
                let dependents = crate::storage::foreign_keys::referencing(scope, def.id);
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
            Some(_) => return Err(crate::ddl::not_a(&name, kind)),
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
