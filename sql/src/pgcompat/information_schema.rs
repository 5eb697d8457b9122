//! `information_schema`, as PostgreSQL 15 shows it, built from DriftDB's versioned catalog each
//! time a statement plans (like [`crate::pgcompat::pg_catalog`], whose facts it reuses).
//!
//! Every view PostgreSQL has is here with PostgreSQL's columns ([`catalog_columns::INFORMATION_SCHEMA`]);
//! the ones tools read are filled: `schemata`, `tables`, `columns`, `views`,
//! `table_constraints`, `key_column_usage`, `referential_constraints`,
//! `constraint_column_usage`, `constraint_table_usage`, `check_constraints`, `sequences`,
//! `table_privileges`, `role_table_grants`, `enabled_roles`, `character_sets`,
//! `information_schema_catalog_name`. The others are empty. As in PostgreSQL, `tables` and
//! `columns` list `pg_catalog`'s relations and this schema's views too, positions are 1-based,
//! types are SQL names (`character varying`) with the `pg_type` name in `udt_name`, and each
//! NOT NULL column is a CHECK constraint named `{schema oid}_{table oid}_{attnum}_not_null`.

use crate::common::names::DATABASE_NAME;
use crate::pgcompat::catalog_columns;
use crate::pgcompat::catalog_table::{Table, int4, null_text, text};
use crate::pgcompat::objects::{PUBLIC_OID, attributes, relations};
use crate::pgcompat::pg_class::column_default;
use crate::pgcompat::pg_constraint::{ConstraintInfo, constraints};
use crate::storage::schema::relation_oid;
use crate::storage::scope::SessionScope;
use datafusion::arrow::datatypes::DataType::{self, Int32 as I32, Utf8 as Text};
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::error::Result;
use driftdb_engine::{ColumnDef, ColumnType, ForeignKeyAction, TableDef};
use std::sync::Arc;

/// The schema's name.
pub const INFORMATION_SCHEMA: &str = "information_schema";

/// The `information_schema` schema.
#[derive(Debug)]
pub struct InformationSchema {
    pub scope: Arc<SessionScope>,
}

#[async_trait::async_trait]
impl SchemaProvider for InformationSchema {
    fn table_names(&self) -> Vec<String> {
        catalog_columns::INFORMATION_SCHEMA
            .iter()
            .map(|(name, _)| name.to_string())
            .collect()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let Some(columns) = catalog_columns::information_schema_columns(name) else {
            return Ok(None);
        };
        view(&self.scope, name).provider_with(columns).map(Some)
    }

    fn table_exist(&self, name: &str) -> bool {
        catalog_columns::information_schema_columns(name).is_some()
    }
}

/// The rows of view `name` (empty for the views DriftDB has nothing to put in).
fn view(scope: &SessionScope, name: &str) -> Table {
    let relations = relations(scope);
    let user = scope.user.as_str();
    match name {
        "schemata" => schemata(user),
        "tables" => tables(&relations),
        "columns" => columns(&relations),
        "views" => views(&relations),
        "table_constraints" => table_constraints(&relations),
        "key_column_usage" => key_column_usage(&relations),
        "referential_constraints" => referential_constraints(&relations),
        "constraint_column_usage" => constraint_usage(&relations, true),
        "constraint_table_usage" => constraint_usage(&relations, false),
        "check_constraints" => check_constraints(&relations),
        "sequences" => sequences(&relations),
        "table_privileges" | "role_table_grants" => table_privileges(&relations, user),
        "enabled_roles" => {
            let mut t = Table::new(&[("role_name", Text)]);
            t.push(vec![text(user)]);
            t
        }
        "character_sets" => {
            let mut t = Table::new(&[
                ("character_set_name", Text),
                ("character_repertoire", Text),
                ("form_of_use", Text),
                ("default_collate_catalog", Text),
                ("default_collate_schema", Text),
                ("default_collate_name", Text),
            ]);
            t.push(vec![
                text("UTF8"),
                text("UCS"),
                text("UTF8"),
                text(DATABASE_NAME),
                text(crate::pgcompat::objects::PG_CATALOG),
                text("ucs_basic"),
            ]);
            t
        }
        "information_schema_catalog_name" => {
            let mut t = Table::new(&[("catalog_name", Text)]);
            t.push(vec![text(DATABASE_NAME)]);
            t
        }
        _ => Table::new(&[]),
    }
}

fn yes_or_no(yes: bool) -> ScalarValue {
    text(if yes { "YES" } else { "NO" })
}

fn optional_int(value: Option<i32>) -> ScalarValue {
    ScalarValue::Int32(value)
}

/// The columns naming a constraint.
const CONSTRAINT: [(&str, DataType); 3] = [
    ("constraint_catalog", Text),
    ("constraint_schema", Text),
    ("constraint_name", Text),
];

/// The columns naming a table.
const TABLE: [(&str, DataType); 3] = [
    ("table_catalog", Text),
    ("table_schema", Text),
    ("table_name", Text),
];

/// The values of such naming columns for `name`, in the one catalog and schema users have.
fn qualified(name: &str) -> [ScalarValue; 3] {
    [text(DATABASE_NAME), text(PUBLIC), text(name)]
}

/// The schema user relations live in.
const PUBLIC: &str = "public";

fn schemata(user: &str) -> Table {
    let mut t = Table::new(&[
        ("catalog_name", Text),
        ("schema_name", Text),
        ("schema_owner", Text),
    ]);
    for &(_, schema, owner) in crate::pgcompat::objects::NAMESPACES {
        let owner = match owner {
            crate::pgcompat::objects::DATABASE_OWNER_OID => "pg_database_owner",
            _ => user,
        };
        t.push(vec![text(DATABASE_NAME), text(schema), text(owner)]);
    }
    t
}

/// A relation of `pg_catalog` or of this schema: its schema, name, columns (as
/// [`pgschema`] lists them) and whether it is a table (else a view).
struct SystemRelation {
    schema: &'static str,
    name: &'static str,
    columns: &'static str,
    table: bool,
}

fn system_relations() -> impl Iterator<Item = SystemRelation> {
    // PostgreSQL's system catalogs have OIDs below 10000, its system views above; four of
    // information_schema's relations are tables.
    let catalogs = catalog_columns::CATALOGS
        .iter()
        .map(|&(name, oid, columns)| SystemRelation {
            schema: crate::pgcompat::objects::PG_CATALOG,
            name,
            columns,
            table: oid < 10_000,
        });
    let views = catalog_columns::INFORMATION_SCHEMA
        .iter()
        .map(|&(name, columns)| SystemRelation {
            schema: INFORMATION_SCHEMA,
            name,
            columns,
            table: name.starts_with("sql_"),
        });
    catalogs.chain(views)
}

/// Every relation a reader can name: (schema, name, is a view, can be written to).
fn all_relations(relations: &[Arc<TableDef>]) -> Vec<(&'static str, String, bool, bool)> {
    let mut all: Vec<(&'static str, String, bool, bool)> = relations
        .iter()
        .map(|def| {
            let table = def.view.is_none();
            // Views are read-only in DriftDB (PostgreSQL writes through simple ones).
            (PUBLIC, def.name.clone(), !table, table)
        })
        .collect();
    for relation in system_relations() {
        let table = relation.table;
        all.push((relation.schema, relation.name.to_string(), !table, table));
    }
    all
}

fn tables(relations: &[Arc<TableDef>]) -> Table {
    let mut t = Table::new(
        &[
            &TABLE[..],
            &[
                ("table_type", Text),
                ("is_insertable_into", Text),
                ("is_typed", Text),
            ],
        ]
        .concat(),
    );
    for (schema, name, view, writable) in all_relations(relations) {
        t.push(vec![
            text(DATABASE_NAME),
            text(schema),
            text(&name),
            text(if view { "VIEW" } else { "BASE TABLE" }),
            yes_or_no(writable),
            yes_or_no(false),
        ]);
    }
    t
}

/// What `information_schema.columns` says of a type: its SQL name, `pg_type` name, and the
/// length, precision and scale columns.
struct TypeFacts {
    data_type: String,
    udt_name: String,
    character_maximum_length: Option<i32>,
    character_octet_length: Option<i32>,
    numeric_precision: Option<i32>,
    numeric_precision_radix: Option<i32>,
    numeric_scale: Option<i32>,
    datetime_precision: Option<i32>,
}

/// The octet length PostgreSQL gives an unbounded text value (1 GB).
const UNBOUNDED_OCTETS: i32 = 1_073_741_824;
/// UTF-8's longest character, which bounds a `varchar(n)`'s octets.
const MAX_CHARACTER_OCTETS: i32 = 4;

fn type_facts(ty: ColumnType) -> TypeFacts {
    let oid = driftdb_pgtypes::oids::type_oid(ty);
    let mut facts = TypeFacts {
        data_type: driftdb_pgtypes::oids::format_type(oid, None).unwrap_or_default(),
        udt_name: driftdb_pgtypes::oids::type_name(oid)
            .unwrap_or_default()
            .to_string(),
        character_maximum_length: None,
        character_octet_length: None,
        numeric_precision: None,
        numeric_precision_radix: None,
        numeric_scale: None,
        datetime_precision: None,
    };
    let binary = |bits: i32, scale: Option<i32>| (Some(bits), Some(2), scale);
    let (precision, radix, scale) = match ty {
        ColumnType::Int16 => binary(16, Some(0)),
        ColumnType::Int32 => binary(32, Some(0)),
        ColumnType::Int64 => binary(64, Some(0)),
        ColumnType::Float32 => binary(24, None),
        ColumnType::Float64 => binary(53, None),
        ColumnType::Numeric { precision, scale } => {
            (Some(i32::from(precision)), Some(10), Some(i32::from(scale)))
        }
        ColumnType::UnconstrainedNumeric => (None, Some(10), None),
        _ => (None, None, None),
    };
    facts.numeric_precision = precision;
    facts.numeric_precision_radix = radix;
    facts.numeric_scale = scale;
    let length = match ty {
        ColumnType::Varchar(Some(n)) | ColumnType::Char(n) => Some(n as i32),
        _ => None,
    };
    facts.character_maximum_length = length;
    facts.character_octet_length = match ty {
        ColumnType::Text | ColumnType::Varchar(_) | ColumnType::Char(_) => {
            Some(length.map_or(UNBOUNDED_OCTETS, |n| n.saturating_mul(MAX_CHARACTER_OCTETS)))
        }
        _ => None,
    };
    facts.datetime_precision = match ty {
        ColumnType::Date => Some(0),
        ColumnType::Time
        | ColumnType::Timestamp
        | ColumnType::Timestamptz
        | ColumnType::Interval => Some(6),
        _ => None,
    };
    facts
}

/// The facts of a system relation's column of `pg_type` `name` (`int4`, `_text`, `name`).
fn system_type_facts(name: &str) -> TypeFacts {
    let sql = |ty| Some(type_facts(ty));
    let known = match name {
        "bool" => sql(ColumnType::Bool),
        "int2" => sql(ColumnType::Int16),
        "int4" => sql(ColumnType::Int32),
        "int8" => sql(ColumnType::Int64),
        "float4" => sql(ColumnType::Float32),
        "float8" => sql(ColumnType::Float64),
        "text" => sql(ColumnType::Text),
        "varchar" => sql(ColumnType::Varchar(None)),
        "timestamptz" => sql(ColumnType::Timestamptz),
        "interval" => sql(ColumnType::Interval),
        "bytea" => sql(ColumnType::Bytea),
        _ => None,
    };
    known.unwrap_or_else(|| TypeFacts {
        data_type: match name {
            array if array.starts_with('_') => "ARRAY".to_string(),
            "char" => "\"char\"".to_string(),
            other => other.to_string(),
        },
        udt_name: name.to_string(),
        character_maximum_length: None,
        character_octet_length: None,
        numeric_precision: None,
        numeric_precision_radix: None,
        numeric_scale: None,
        datetime_precision: None,
    })
}

/// The largest value an identity column of type `ty` takes, as text.
fn identity_maximum(ty: ColumnType) -> String {
    match ty {
        ColumnType::Int16 => i16::MAX.to_string(),
        ColumnType::Int32 => i32::MAX.to_string(),
        _ => i64::MAX.to_string(),
    }
}

/// One row of `information_schema.columns` in the making.
struct ColumnRow<'a> {
    schema: &'a str,
    table: &'a str,
    name: &'a str,
    position: usize,
    facts: TypeFacts,
    column: Option<&'a ColumnDef>,
    updatable: bool,
}

fn columns(relations: &[Arc<TableDef>]) -> Table {
    let mut t = Table::new(
        &[
            &TABLE[..],
            &[
                ("column_name", Text),
                ("ordinal_position", I32),
                ("column_default", Text),
                ("is_nullable", Text),
                ("data_type", Text),
                ("character_maximum_length", I32),
                ("character_octet_length", I32),
                ("numeric_precision", I32),
                ("numeric_precision_radix", I32),
                ("numeric_scale", I32),
                ("datetime_precision", I32),
                ("udt_catalog", Text),
                ("udt_schema", Text),
                ("udt_name", Text),
                ("dtd_identifier", Text),
                ("is_self_referencing", Text),
                ("is_identity", Text),
                ("identity_generation", Text),
                ("identity_start", Text),
                ("identity_increment", Text),
                ("identity_maximum", Text),
                ("identity_minimum", Text),
                ("identity_cycle", Text),
                ("is_generated", Text),
                ("is_updatable", Text),
            ],
        ]
        .concat(),
    );
    let mut push = |row: ColumnRow| {
        let view = !row.updatable;
        let identity = row
            .column
            .and_then(|c| c.identity.as_ref())
            .filter(|identity| !identity.serial);
        let identity_text = |value: String| match identity {
            Some(_) => text(&value),
            None => null_text(),
        };
        let ty = row.column.map_or(ColumnType::Int64, |c| c.ty);
        let facts = row.facts;
        t.push(vec![
            text(DATABASE_NAME),
            text(row.schema),
            text(row.table),
            text(row.name),
            int4(row.position as i32),
            match row.column.filter(|_| !view).and_then(column_default) {
                Some(default) => text(&default),
                None => null_text(),
            },
            yes_or_no(view || row.column.is_none_or(|c| c.nullable)),
            text(&facts.data_type),
            optional_int(facts.character_maximum_length),
            optional_int(facts.character_octet_length),
            optional_int(facts.numeric_precision),
            optional_int(facts.numeric_precision_radix),
            optional_int(facts.numeric_scale),
            optional_int(facts.datetime_precision),
            text(DATABASE_NAME),
            text(crate::pgcompat::objects::PG_CATALOG),
            text(&facts.udt_name),
            text(&row.position.to_string()),
            yes_or_no(false),
            yes_or_no(identity.is_some() && !view),
            match identity.filter(|_| !view) {
                Some(identity) if identity.always => text("ALWAYS"),
                Some(_) => text("BY DEFAULT"),
                None => null_text(),
            },
            identity_text("1".to_string()),
            identity_text("1".to_string()),
            identity_text(identity_maximum(ty)),
            identity_text("1".to_string()),
            yes_or_no(false),
            text("NEVER"),
            yes_or_no(row.updatable),
        ]);
    };
    for def in relations {
        for (position, column) in attributes(def).into_iter().enumerate() {
            push(ColumnRow {
                schema: PUBLIC,
                table: &def.name,
                name: &column.name,
                position: position + 1,
                facts: type_facts(column.ty),
                column: Some(column),
                updatable: def.view.is_none(),
            });
        }
    }
    for relation in system_relations() {
        let columns = relation
            .columns
            .split(' ')
            .filter_map(|c| c.split_once(':'));
        for (position, (name, ty)) in columns.enumerate() {
            push(ColumnRow {
                schema: relation.schema,
                table: relation.name,
                name,
                position: position + 1,
                facts: system_type_facts(ty),
                column: None,
                updatable: relation.table,
            });
        }
    }
    t
}

fn views(relations: &[Arc<TableDef>]) -> Table {
    let mut t = Table::new(
        &[
            &TABLE[..],
            &[
                ("view_definition", Text),
                ("check_option", Text),
                ("is_updatable", Text),
                ("is_insertable_into", Text),
                ("is_trigger_updatable", Text),
                ("is_trigger_deletable", Text),
                ("is_trigger_insertable_into", Text),
            ],
        ]
        .concat(),
    );
    for def in relations {
        let Some(view) = &def.view else { continue };
        t.push(
            [
                &qualified(&def.name)[..],
                &[
                    text(&view.query),
                    text("NONE"),
                    yes_or_no(false),
                    yes_or_no(false),
                    yes_or_no(false),
                    yes_or_no(false),
                    yes_or_no(false),
                ],
            ]
            .concat(),
        );
    }
    t
}

/// A constraint of a table, with the table it belongs to.
struct Constrained<'a> {
    def: &'a TableDef,
    constraint: ConstraintInfo,
}

/// Every constraint of every table (views have none).
fn all_constraints(relations: &[Arc<TableDef>]) -> Vec<Constrained<'_>> {
    relations
        .iter()
        .filter(|def| def.view.is_none())
        .flat_map(|def| {
            constraints(relations, def)
                .into_iter()
                .map(move |constraint| Constrained { def, constraint })
        })
        .collect()
}

/// The NOT NULL "constraints" PostgreSQL lists as CHECKs: (name, column).
fn not_null_checks(def: &TableDef) -> Vec<(String, &ColumnDef)> {
    attributes(def)
        .into_iter()
        .enumerate()
        .filter(|(_, column)| !column.nullable)
        .map(|(number, column)| {
            let name = format!("{PUBLIC_OID}_{}_{}_not_null", relation_oid(def), number + 1);
            (name, column)
        })
        .collect()
}

fn constraint_type(kind: &str) -> &'static str {
    match kind {
        "p" => "PRIMARY KEY",
        "u" => "UNIQUE",
        "f" => "FOREIGN KEY",
        _ => "CHECK",
    }
}

fn table_constraints(relations: &[Arc<TableDef>]) -> Table {
    let mut t = Table::new(
        &[
            &CONSTRAINT[..],
            &TABLE[..],
            &[
                ("constraint_type", Text),
                ("is_deferrable", Text),
                ("initially_deferred", Text),
                ("enforced", Text),
                ("nulls_distinct", Text),
            ],
        ]
        .concat(),
    );
    let mut push = |name: &str, table: &str, kind: &str| {
        t.push(
            [
                &qualified(name)[..],
                &qualified(table)[..],
                &[
                    text(constraint_type(kind)),
                    yes_or_no(false),
                    yes_or_no(false),
                    yes_or_no(true),
                    match kind {
                        "u" => yes_or_no(true),
                        _ => null_text(),
                    },
                ],
            ]
            .concat(),
        );
    };
    for Constrained { def, constraint } in all_constraints(relations) {
        push(&constraint.name, &def.name, constraint.kind);
    }
    for def in relations.iter().filter(|def| def.view.is_none()) {
        for (name, _) in not_null_checks(def) {
            push(&name, &def.name, "c");
        }
    }
    t
}

fn key_column_usage(relations: &[Arc<TableDef>]) -> Table {
    let mut t = Table::new(
        &[
            &CONSTRAINT[..],
            &TABLE[..],
            &[
                ("column_name", Text),
                ("ordinal_position", I32),
                ("position_in_unique_constraint", I32),
            ],
        ]
        .concat(),
    );
    for Constrained { def, constraint } in all_constraints(relations) {
        if constraint.kind == "c" {
            continue;
        }
        for (position, &slot) in constraint.slots.iter().enumerate() {
            let position = position as i32 + 1;
            t.push(
                [
                    &qualified(&constraint.name)[..],
                    &qualified(&def.name)[..],
                    &[
                        text(&def.columns[slot].name),
                        int4(position),
                        // A foreign key references its parent's primary key column by column, in order.
                        optional_int((constraint.kind == "f").then_some(position)),
                    ],
                ]
                .concat(),
            );
        }
    }
    t
}

fn referential_constraints(relations: &[Arc<TableDef>]) -> Table {
    let mut t = Table::new(
        &[
            &CONSTRAINT[..],
            &[
                ("unique_constraint_catalog", Text),
                ("unique_constraint_schema", Text),
                ("unique_constraint_name", Text),
                ("match_option", Text),
                ("update_rule", Text),
                ("delete_rule", Text),
            ],
        ]
        .concat(),
    );
    for def in relations.iter().filter(|def| def.view.is_none()) {
        for foreign in &def.foreign_keys {
            let parent = relations.iter().find(|p| p.id == foreign.parent);
            t.push(
                [
                    &qualified(&foreign.name)[..],
                    &[
                        text(DATABASE_NAME),
                        text(PUBLIC),
                        match parent {
                            Some(parent) => text(&parent.primary_key_name()),
                            None => null_text(),
                        },
                        text("NONE"),
                        text("NO ACTION"),
                        text(match foreign.on_delete {
                            ForeignKeyAction::Restrict => "NO ACTION",
                            ForeignKeyAction::Cascade => "CASCADE",
                            ForeignKeyAction::SetNull => "SET NULL",
                        }),
                    ],
                ]
                .concat(),
            );
        }
    }
    t
}

/// The columns of `def` a CHECK expression names.
fn check_columns<'a>(def: &'a TableDef, expr: &str) -> Vec<&'a str> {
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
    let Ok(tokens) = Tokenizer::new(&PostgreSqlDialect {}, expr).tokenize() else {
        return Vec::new();
    };
    let named: Vec<String> = tokens
        .into_iter()
        .filter_map(|token| match token {
            Token::Word(word) if word.quote_style.is_some() => Some(word.value),
            Token::Word(word) => Some(word.value.to_lowercase()),
            _ => None,
        })
        .collect();
    attributes(def)
        .into_iter()
        .map(|column| column.name.as_str())
        .filter(|name| named.iter().any(|word| word == name))
        .collect()
}

/// `constraint_column_usage` (`columns`) or `constraint_table_usage`: what each constraint
/// uses; a foreign key uses its parent's key, a CHECK the columns it names (and no table).
fn constraint_usage(relations: &[Arc<TableDef>], columns: bool) -> Table {
    let column: &[(&str, DataType)] = if columns {
        &[("column_name", Text)]
    } else {
        &[]
    };
    let mut t = Table::new(&[&TABLE[..], column, &CONSTRAINT[..]].concat());
    for Constrained { def, constraint } in all_constraints(relations) {
        let (table, used): (&TableDef, Vec<&str>) = match constraint.kind {
            "f" => {
                let Some(parent) = constraint
                    .parent
                    .as_ref()
                    .and_then(|(oid, _)| relations.iter().find(|p| relation_oid(p) == *oid))
                else {
                    continue;
                };
                let keys = parent.primary_key.iter();
                (
                    parent,
                    keys.map(|&s| parent.columns[s].name.as_str()).collect(),
                )
            }
            "c" if !columns => continue,
            "c" => {
                let check = def.checks.iter().find(|c| c.name == constraint.name);
                (
                    def,
                    check.map_or(Vec::new(), |c| check_columns(def, &c.expr)),
                )
            }
            _ => (
                def,
                constraint
                    .slots
                    .iter()
                    .map(|&slot| def.columns[slot].name.as_str())
                    .collect(),
            ),
        };
        let mut row = |column: Option<&str>| {
            let column: Vec<ScalarValue> = column.map(text).into_iter().collect();
            t.push(
                [
                    &qualified(&table.name)[..],
                    &column,
                    &qualified(&constraint.name),
                ]
                .concat(),
            );
        };
        if columns {
            for column in used {
                row(Some(column));
            }
        } else {
            row(None);
        }
    }
    t
}

fn check_constraints(relations: &[Arc<TableDef>]) -> Table {
    let mut t = Table::new(&[&CONSTRAINT[..], &[("check_clause", Text)]].concat());
    let mut push = |name: &str, clause: &str| {
        t.push([&qualified(name)[..], &[text(clause)]].concat());
    };
    for Constrained { constraint, .. } in all_constraints(relations) {
        if constraint.kind == "c" {
            let clause = constraint.definition.strip_prefix("CHECK ");
            push(&constraint.name, clause.unwrap_or(&constraint.definition));
        }
    }
    for def in relations.iter().filter(|def| def.view.is_none()) {
        for (name, column) in not_null_checks(def) {
            push(&name, &format!("{} IS NOT NULL", column.name));
        }
    }
    t
}

/// The sequences of serial columns (an identity column's counter is not listed, as in
/// PostgreSQL, where it belongs to the column).
fn sequences(relations: &[Arc<TableDef>]) -> Table {
    let mut t = Table::new(&[
        ("sequence_catalog", Text),
        ("sequence_schema", Text),
        ("sequence_name", Text),
        ("data_type", Text),
        ("numeric_precision", I32),
        ("numeric_precision_radix", I32),
        ("numeric_scale", I32),
        ("start_value", Text),
        ("minimum_value", Text),
        ("maximum_value", Text),
        ("increment", Text),
        ("cycle_option", Text),
    ]);
    for def in relations.iter().filter(|def| def.view.is_none()) {
        for slot in def.visible_slots() {
            let column = &def.columns[slot];
            let Some(identity) = column.identity.as_ref().filter(|i| i.serial) else {
                continue;
            };
            let facts = type_facts(column.ty);
            t.push(
                [
                    &qualified(&identity.sequence)[..],
                    &[
                        text(&facts.data_type),
                        optional_int(facts.numeric_precision),
                        optional_int(facts.numeric_precision_radix),
                        optional_int(facts.numeric_scale),
                        text("1"),
                        text("1"),
                        text(&identity_maximum(column.ty)),
                        text("1"),
                        yes_or_no(false),
                    ],
                ]
                .concat(),
            );
        }
    }
    t
}

/// The privileges PostgreSQL's `table_privileges` lists for a relation's owner, who holds them
/// all (DriftDB has one role, which owns everything).
const TABLE_PRIVILEGES: &[&str] = &[
    "INSERT",
    "SELECT",
    "UPDATE",
    "DELETE",
    "TRUNCATE",
    "REFERENCES",
    "TRIGGER",
];

fn table_privileges(relations: &[Arc<TableDef>], user: &str) -> Table {
    let mut t = Table::new(
        &[
            &[("grantor", Text), ("grantee", Text)],
            &TABLE[..],
            &[
                ("privilege_type", Text),
                ("is_grantable", Text),
                ("with_hierarchy", Text),
            ],
        ]
        .concat(),
    );
    for def in relations {
        for &privilege in TABLE_PRIVILEGES {
            t.push(vec![
                text(user),
                text(user),
                text(DATABASE_NAME),
                text(PUBLIC),
                text(&def.name),
                text(privilege),
                yes_or_no(true),
                yes_or_no(privilege == "SELECT"),
            ]);
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_described_as_postgresql_describes_them() {
        let varchar = type_facts(ColumnType::Varchar(Some(40)));
        assert_eq!(varchar.data_type, "character varying");
        assert_eq!(varchar.udt_name, "varchar");
        assert_eq!(varchar.character_maximum_length, Some(40));
        assert_eq!(varchar.character_octet_length, Some(160));
        let money = type_facts(ColumnType::Numeric {
            precision: 10,
            scale: 2,
        });
        assert_eq!(
            (
                money.numeric_precision,
                money.numeric_precision_radix,
                money.numeric_scale
            ),
            (Some(10), Some(10), Some(2))
        );
        let real = type_facts(ColumnType::Float32);
        assert_eq!(
            (real.numeric_precision, real.numeric_scale),
            (Some(24), None)
        );
        assert_eq!(
            type_facts(ColumnType::Timestamptz).datetime_precision,
            Some(6)
        );
        assert_eq!(system_type_facts("_aclitem").data_type, "ARRAY");
        assert_eq!(system_type_facts("char").data_type, "\"char\"");
        assert_eq!(system_type_facts("int4").data_type, "integer");
    }
}
