//! ALTER TABLE: ADD / DROP / RENAME / ALTER COLUMN, RENAME TO, ADD CONSTRAINT, ADD PRIMARY KEY.
//! Each is a new definition at the commit; where existing rows must change or be checked
//! (a filled-in column, a new constraint), the change runs as SQL over them in the same
//! transaction.

use crate::common::names::table_name;
use crate::ddl::columns::DeclaredKeys;
use crate::ddl::columns::{
    MAX_COLUMNS, check_def, check_default_type, column_def, foreign_key, index_column_names,
    slots_of,
};
use crate::ddl::existing;
use crate::ddl::relation_exists_error;
use crate::exec::Executor;
use crate::storage::checks;
use crate::storage::defaults::plan_default;
use crate::storage::encode::{coerce, typed_value};
use crate::storage::scope::SessionScope;
use datafusion::arrow::datatypes::Schema;
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::common::DFSchema;
use datafusion::sql::sqlparser::ast::{
    AlterColumnOperation, AlterTable, AlterTableOperation, ColumnDef as SqlColumn,
    RenameTableNameKind, TableConstraint,
};
use driftdb_engine::row::RowEncoder;
use driftdb_engine::{ColumnDef, ColumnType, IndexDef, TableDef, ValueRef};
use driftdb_pgtypes::error::{Error, ErrorKind, Notice, Result};
use driftdb_pgtypes::idents::normalize;
use std::sync::Arc;

/// `ALTER TABLE`: ADD / DROP / RENAME / ALTER COLUMN, RENAME TO, ADD CONSTRAINT (PRIMARY KEY,
/// UNIQUE, CHECK, FOREIGN KEY). Each
/// change is a new version of the definition from the commit on; reads of earlier points keep
/// the old one (a dropped column's values stay readable there).
pub(crate) async fn alter_table(exec: &Executor, alter: &AlterTable) -> Result<()> {
    let scope = exec.scope();
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
                    column_def_for_add(exec, &def, column_def).await?;
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
            } => add_constraint(exec, &mut def, constraint).await?,
            AlterTableOperation::AlterColumn { column_name, op } => {
                alter_column(exec, &mut def, &normalize(column_name), op).await?
            }
            other => return Err(Error::unsupported(format!("ALTER TABLE {other}"))),
        }
    }
    if fills.is_empty() && new_key.is_none() {
        return scope.with_transaction(|txn| txn.redefine(def.id, Some(def)));
    }
    scope.with_transaction(|txn| txn.redefine(def.id, Some(def.clone())))?;
    if !fills.is_empty() {
        fill_added_columns(exec, &mut def, &fills).await?;
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
            crate::ddl::rekey::add_primary_key(exec, &mut def, slots).await
        }
        None => scope.with_transaction(|txn| txn.redefine(def.id, Some(def))),
    }
}

/// Records the key an `ADD PRIMARY KEY` declares; a table has at most one (42P16), and one
/// that has none is keyed by its hidden row id.
pub(crate) fn declare_primary_key(
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
    exec: &Executor,
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
    let datafusion::sql::sqlparser::ast::Statement::Update(update) = exec.parse_one(&sql)? else {
        unreachable!("the SQL above is an UPDATE");
    };
    Box::pin(crate::dml::update_delete::update(exec, &update)).await?;
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
    exec: &Executor,
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
            let planned = plan_default(&exec.scope().db.expressions, &sql)?;
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
            if exec.count_sql(&query).await? > 0 {
                return Err(Error::new(
                    ErrorKind::NotNullViolation,
                    format!(
                        "column \"{column}\" of relation \"{}\" contains null values",
                        def.name
                    ),
                ));
            }
            exec.scope()
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
pub(crate) fn drop_column(
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
pub(crate) fn rename_column(def: &mut TableDef, old: &str, new: &str) -> Result<()> {
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
    exec: &Executor,
    def: &mut TableDef,
    constraint: &TableConstraint,
) -> Result<()> {
    let scope = exec.scope();
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
            if exec.count_sql(&query).await? > 0 {
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
            let parent = crate::storage::foreign_keys::table_by_id(scope, fk.parent)
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
            if exec.count_sql(&query).await? > 0 {
                return Err(crate::storage::foreign_keys::missing_parent(def, &fk));
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
    exec: &Executor,
    table: &TableDef,
    column: &SqlColumn,
) -> Result<(ColumnDef, bool, bool)> {
    let mut keys = DeclaredKeys::default();
    let mut def = column_def(exec.scope(), &table.name, column, &mut keys)?;
    let primary = !keys.primary.is_empty();
    if !keys.unique.is_empty() || !keys.checks.is_empty() || !keys.foreign.is_empty() {
        return Err(Error::unsupported(
            "ADD COLUMN with UNIQUE, CHECK or REFERENCES (add the column, then the constraint)",
        ));
    }
    let volatile = match &def.default {
        Some(sql) => plan_default(exec.planner(), sql)?.is_volatile(),
        None => false,
    };
    if def.identity.is_some() || volatile {
        return Ok((def, true, primary));
    }
    let missing = match &def.default {
        Some(sql) => constant_value(exec, sql, def.ty)?,
        None => None,
    };
    // Rows already there would hold NULL (an empty table takes the column as it is).
    let count = format!(
        "SELECT count(*) FROM {}",
        driftdb_pgtypes::idents::quoted(&table.name)
    );
    if missing.is_none() && !def.nullable && exec.count_sql(&count).await? > 0 {
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
pub(crate) fn constant_value(
    exec: &Executor,
    sql: &str,
    ty: ColumnType,
) -> Result<Option<Vec<u8>>> {
    let planner = exec.planner();
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
