//! `pg_catalog`: PostgreSQL's system catalogs, as far as psql's `\d` family, drivers and tools
//! read them, built from DriftDB's versioned catalog each time a statement plans.
//!
//! Every table, view and index gets a stable OID derived from its id (tables and views
//! `100000 + id`; an index `1000000 + 1000 × table id + position`, the primary key's
//! position 999), so joins between catalogs line up. There is one schema (`public`), one
//! database (`driftdb`) and one role, the session's user, who owns everything. OIDs are `bigint`
//! (PostgreSQL's `oid` is unsigned 32-bit). Unqualified names such as `pg_class` resolve here
//! when no table of that name exists, as PostgreSQL's search path puts `pg_catalog` first.

use crate::catalog::SessionScope;
use crate::pgschema;
use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::datasource::MemTable;
use datafusion::error::Result;
use driftdb_engine::{ColumnDef, ColumnType, TableDef};
use driftdb_pgtypes::oids::{NUMERIC_OID, TYPES, format_type, type_oid};
use driftdb_pgtypes::types;
use std::sync::Arc;

/// The schema's name.
pub const PG_CATALOG: &str = "pg_catalog";
/// OIDs of the namespaces.
pub const PG_CATALOG_OID: i64 = 11;
pub const PUBLIC_OID: i64 = 2200;
const INFORMATION_SCHEMA_OID: i64 = 13_000;
/// The OID of the one role (the bootstrap superuser's, as in PostgreSQL).
pub const ROLE_OID: i64 = 10;
/// `pg_database_owner`, which owns `public` as in PostgreSQL 15.
pub const DATABASE_OWNER_OID: i64 = 6171;
const DATABASE_OID: i64 = 16_384;
const HEAP_AM: i64 = 2;
const BTREE_AM: i64 = 403;

/// The schemas: (OID, name, owner).
pub(crate) const NAMESPACES: &[(i64, &str, i64)] = &[
    (PG_CATALOG_OID, PG_CATALOG, ROLE_OID),
    (PUBLIC_OID, "public", DATABASE_OWNER_OID),
    (INFORMATION_SCHEMA_OID, "information_schema", ROLE_OID),
];

/// A table's (or view's) OID.
pub fn relation_oid(def: &TableDef) -> i64 {
    100_000 + def.id.0 as i64
}

/// The OID of the index at `position` of `def`'s indexes (999: its primary key).
pub fn index_oid(def: &TableDef, position: usize) -> i64 {
    1_000_000 + 1000 * def.id.0 as i64 + position as i64
}

const PRIMARY_KEY_POSITION: usize = 999;

/// A catalog table under construction: its columns and rows of values.
pub(crate) struct Table {
    fields: Vec<Field>,
    rows: Vec<Vec<ScalarValue>>,
}

pub(crate) fn text(value: &str) -> ScalarValue {
    ScalarValue::Utf8(Some(value.to_string()))
}

pub(crate) fn null_text() -> ScalarValue {
    ScalarValue::Utf8(None)
}

fn oid(value: i64) -> ScalarValue {
    ScalarValue::Int64(Some(value))
}

fn int2(value: i16) -> ScalarValue {
    ScalarValue::Int16(Some(value))
}

pub(crate) fn int4(value: i32) -> ScalarValue {
    ScalarValue::Int32(Some(value))
}

fn boolean(value: bool) -> ScalarValue {
    ScalarValue::Boolean(Some(value))
}

/// An ACL (`aclitem[]`) that is NULL: the owner holds every privilege.
fn no_acl() -> ScalarValue {
    ScalarValue::new_null_list(Text, true, 1)
}

fn int2_list(values: impl IntoIterator<Item = i16>) -> ScalarValue {
    let values: Vec<ScalarValue> = values.into_iter().map(int2).collect();
    ScalarValue::List(ScalarValue::new_list_nullable(&values, &DataType::Int16))
}

fn oid_list(values: impl IntoIterator<Item = i64>) -> ScalarValue {
    let values: Vec<ScalarValue> = values.into_iter().map(oid).collect();
    ScalarValue::List(ScalarValue::new_list_nullable(&values, &Oid))
}

/// The collation of a column of type `ty`: `default` (100) for text, none (0) otherwise.
fn collation(ty: ColumnType) -> i64 {
    match ty {
        ColumnType::Text | ColumnType::Varchar(_) | ColumnType::Char(_) => 100,
        _ => 0,
    }
}

/// The default B-tree operator class of type `ty`, as PostgreSQL 15 numbers them.
fn operator_class(ty: ColumnType) -> i64 {
    match ty {
        ColumnType::Bool => 10003,
        ColumnType::Int16 => 1979,
        ColumnType::Int32 => 1978,
        ColumnType::Int64 => 3124,
        ColumnType::Float32 => 10012,
        ColumnType::Float64 => 3123,
        ColumnType::Numeric { .. } | ColumnType::UnconstrainedNumeric => 3125,
        ColumnType::Text | ColumnType::Varchar(_) => 3126,
        ColumnType::Char(_) => 10004,
        ColumnType::Date => 3122,
        ColumnType::Time => 10038,
        ColumnType::Timestamp => 3128,
        ColumnType::Timestamptz => 3127,
        ColumnType::Interval => 10022,
        ColumnType::Bytea => 10006,
        ColumnType::Uuid => 10065,
        ColumnType::Json | ColumnType::Jsonb => 10088,
    }
}

impl Table {
    pub(crate) fn new(columns: &[(&str, DataType)]) -> Table {
        Table {
            fields: columns
                .iter()
                .map(|(name, ty)| Field::new(*name, ty.clone(), true))
                .collect(),
            rows: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, row: Vec<ScalarValue>) {
        debug_assert_eq!(row.len(), self.fields.len());
        self.rows.push(row);
    }

    /// The table without the columns PostgreSQL's catalog `name` does not have.
    fn only_columns_of(mut self, name: &str) -> Table {
        let wanted: Vec<&str> = pgschema::columns(name)
            .into_iter()
            .flatten()
            .map(|(column, _)| column)
            .collect();
        let keep: Vec<bool> = self
            .fields
            .iter()
            .map(|field| wanted.contains(&field.name().as_str()))
            .collect();
        retain_positions(&mut self.fields, &keep);
        for row in &mut self.rows {
            retain_positions(row, &keep);
        }
        self
    }

    /// The table as a provider with every column PostgreSQL's catalog `name` has, in its
    /// order: the ones built here, NULL for the rest (then any of DriftDB's own).
    fn provider(self, name: &str) -> Result<Arc<dyn TableProvider>> {
        self.provider_with(pgschema::columns(name).into_iter().flatten())
    }

    /// The table as a provider with `columns` (name, `pg_type` name), in their order: the ones
    /// built here, NULL for the rest (then any of DriftDB's own).
    pub(crate) fn provider_with(
        self,
        columns: impl Iterator<Item = (&'static str, &'static str)>,
    ) -> Result<Arc<dyn TableProvider>> {
        let pg_columns = columns;
        let rows = self.rows.len();
        let mut built: Vec<Option<(Field, ArrayRef)>> = self
            .fields
            .into_iter()
            .enumerate()
            .map(|(i, field)| {
                let values = match rows {
                    0 => Ok(datafusion::arrow::array::new_empty_array(field.data_type())),
                    _ => ScalarValue::iter_to_array(self.rows.iter().map(|row| row[i].clone())),
                };
                values.map(|values| Some((field, values)))
            })
            .collect::<Result<_>>()?;
        let mut columns: Vec<(Field, ArrayRef)> = Vec::with_capacity(built.len());
        for (column, pg_type) in pg_columns {
            let found = built
                .iter_mut()
                .find(|slot| slot.as_ref().is_some_and(|(f, _)| f.name() == column))
                .and_then(Option::take);
            let (field, values) = found.unwrap_or_else(|| {
                let field = Field::new(column, arrow_type(pg_type), true);
                let values = datafusion::arrow::array::new_null_array(field.data_type(), rows);
                (field, values)
            });
            let field = match pg_type {
                "int2vector" | "oidvector" => {
                    field.with_metadata([(types::PG_TYPE.to_string(), pg_type.to_string())].into())
                }
                _ => field,
            };
            columns.push((field, values));
        }
        columns.extend(built.into_iter().flatten());
        let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = columns.into_iter().unzip();
        let schema = Arc::new(Schema::new(fields));
        let batch = RecordBatch::try_new_with_options(
            schema.clone(),
            arrays,
            &datafusion::arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(rows)),
        )?;
        Ok(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))
    }
}

/// Keeps the values of `values` whose position `keep` marks.
fn retain_positions<T>(values: &mut Vec<T>, keep: &[bool]) {
    let mut position = 0;
    values.retain(|_| {
        position += 1;
        keep[position - 1]
    });
}

use DataType::{Boolean as Bool, Int16 as I16, Int32 as I32, Int64 as Oid, Utf8 as Text};

fn int2_vector() -> DataType {
    DataType::new_list(I16, true)
}

/// Whether `name` is a catalog this schema serves.
pub fn is_catalog(name: &str) -> bool {
    pgschema::columns(name).is_some()
}

/// The Arrow type a catalog column of PostgreSQL type `pg` (a `pg_type` name) is served as.
pub(crate) fn arrow_type(pg: &str) -> DataType {
    match pg.strip_prefix('_') {
        Some(element) => DataType::new_list(arrow_type(element), true),
        None => match pg {
            "oid" | "regproc" | "regtype" | "regclass" | "xid" | "int8" => Oid,
            "bool" => Bool,
            "int2" => I16,
            "int4" => I32,
            "float4" => DataType::Float32,
            "float8" => DataType::Float64,
            "int2vector" => int2_vector(),
            "oidvector" => DataType::new_list(Oid, true),
            "timestamptz" => types::system_time_type(),
            "interval" => {
                DataType::Interval(datafusion::arrow::datatypes::IntervalUnit::MonthDayNano)
            }
            "bytea" => DataType::Binary,
            _ => Text,
        },
    }
}

/// Every current table and view, sorted by name.
pub(crate) fn relations(scope: &SessionScope) -> Vec<Arc<TableDef>> {
    scope
        .current_table_names()
        .iter()
        .filter_map(|name| scope.resolve_current(name))
        .collect()
}

/// The relation with OID `oid` (a table or view), if any.
pub fn relation_by_oid(scope: &SessionScope, oid: i64) -> Option<Arc<TableDef>> {
    relations(scope)
        .into_iter()
        .find(|def| relation_oid(def) == oid)
}

/// An index of `def`: its OID, name, column slots, uniqueness and whether it is the primary key.
pub struct IndexInfo {
    pub oid: i64,
    pub name: String,
    pub slots: Vec<usize>,
    pub unique: bool,
    pub primary: bool,
    /// A primary key or UNIQUE constraint (not a CREATE UNIQUE INDEX).
    pub constraint: bool,
}

/// `def`'s indexes, its primary key's first (tables without a primary key have none).
pub fn indexes(def: &TableDef) -> Vec<IndexInfo> {
    let mut indexes = Vec::new();
    let hidden_key = def.primary_key.iter().any(|&slot| def.columns[slot].hidden);
    if !def.primary_key.is_empty() && !hidden_key {
        indexes.push(IndexInfo {
            oid: index_oid(def, PRIMARY_KEY_POSITION),
            name: def.primary_key_name(),
            slots: def.primary_key.clone(),
            unique: true,
            primary: true,
            constraint: true,
        });
    }
    for (position, index) in def.indexes.iter().enumerate() {
        indexes.push(IndexInfo {
            oid: index_oid(def, position),
            name: index.name.clone(),
            slots: index.columns.clone(),
            unique: index.unique,
            primary: false,
            constraint: index.constraint,
        });
    }
    indexes
}

/// The attribute number of column `slot` (1-based among the columns a reader sees).
fn attnum(def: &TableDef, slot: usize) -> i16 {
    def.visible_slots()
        .position(|s| s == slot)
        .map_or(0, |p| p as i16 + 1)
}

/// `CREATE [UNIQUE] INDEX …` for an index, as `pg_get_indexdef` and `pg_indexes` show it.
pub fn index_definition(def: &TableDef, index: &IndexInfo) -> String {
    let columns: Vec<&str> = index
        .slots
        .iter()
        .map(|&slot| def.columns[slot].name.as_str())
        .collect();
    format!(
        "CREATE {}INDEX {} ON public.{} USING btree ({})",
        if index.unique { "UNIQUE " } else { "" },
        index.name,
        def.name,
        columns.join(", ")
    )
}

/// The `pg_catalog` table called `name`, built for `scope` now.
pub fn table(scope: &SessionScope, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
    let user = scope.user.as_str();
    let table = match name {
        "pg_namespace" => {
            let mut t = Table::new(&[
                ("oid", Oid),
                ("nspname", Text),
                ("nspowner", Oid),
                ("nspacl", Text),
            ]);
            for &(id, name, owner) in NAMESPACES {
                t.push(vec![oid(id), text(name), oid(owner), null_text()]);
            }
            t
        }
        "pg_am" => {
            let mut t = Table::new(&[
                ("oid", Oid),
                ("amname", Text),
                ("amhandler", Text),
                ("amtype", Text),
            ]);
            t.push(vec![
                oid(HEAP_AM),
                text("heap"),
                text("heap_tableam_handler"),
                text("t"),
            ]);
            t.push(vec![
                oid(BTREE_AM),
                text("btree"),
                text("bthandler"),
                text("i"),
            ]);
            t
        }
        "pg_tablespace" => {
            let mut t = Table::new(&[("oid", Oid), ("spcname", Text), ("spcowner", Oid)]);
            for (id, name) in [(1663, "pg_default"), (1664, "pg_global")] {
                t.push(vec![oid(id), text(name), oid(ROLE_OID)]);
            }
            t
        }
        "pg_class" => pg_class(scope)?,
        "pg_attribute" => pg_attribute(scope),
        "pg_index" => pg_index(scope),
        "pg_constraint" => pg_constraint(scope),
        "pg_type" => {
            let mut t = Table::new(&[
                ("oid", Oid),
                ("typname", Text),
                ("typnamespace", Oid),
                ("typowner", Oid),
                ("typlen", I16),
                ("typbyval", Bool),
                ("typtype", Text),
                ("typcategory", Text),
                ("typisdefined", Bool),
                ("typdelim", Text),
                ("typrelid", Oid),
                ("typelem", Oid),
                ("typarray", Oid),
                ("typbasetype", Oid),
                ("typtypmod", I32),
                ("typnotnull", Bool),
                ("typcollation", Oid),
            ]);
            for &(type_oid, name, length, category, _) in TYPES {
                t.push(vec![
                    oid(type_oid),
                    text(name),
                    oid(PG_CATALOG_OID),
                    oid(ROLE_OID),
                    int2(length),
                    boolean((1..=8).contains(&length)),
                    text("b"),
                    text(category),
                    boolean(true),
                    text(","),
                    oid(0),
                    oid(0),
                    oid(0),
                    oid(0),
                    int4(-1),
                    boolean(false),
                    oid(if category == "S" { 100 } else { 0 }),
                ]);
            }
            t
        }
        "pg_database" => {
            let mut t = Table::new(&[
                ("oid", Oid),
                ("datname", Text),
                ("datdba", Oid),
                ("encoding", I32),
                ("datlocprovider", Text),
                ("datistemplate", Bool),
                ("datallowconn", Bool),
                ("datconnlimit", I32),
                ("datcollate", Text),
                ("datctype", Text),
                ("daticulocale", Text),
                ("datacl", DataType::new_list(Text, true)),
            ]);
            t.push(vec![
                oid(DATABASE_OID),
                text(crate::info::DATABASE_NAME),
                oid(ROLE_OID),
                int4(6),
                text("c"),
                boolean(false),
                boolean(true),
                int4(-1),
                text("C"),
                text("C"),
                null_text(),
                ScalarValue::new_null_list(Text, true, 1),
            ]);
            t
        }
        "pg_roles" | "pg_user" => {
            let mut t = Table::new(&[
                ("oid", Oid),
                ("rolname", Text),
                ("usename", Text),
                ("usesysid", Oid),
                ("rolsuper", Bool),
                ("usesuper", Bool),
                ("rolinherit", Bool),
                ("rolcreaterole", Bool),
                ("rolcreatedb", Bool),
                ("usecreatedb", Bool),
                ("rolcanlogin", Bool),
                ("rolreplication", Bool),
                ("userepl", Bool),
                ("rolconnlimit", I32),
                ("rolpassword", Text),
                ("rolvaliduntil", driftdb_pgtypes::types::system_time_type()),
                ("rolbypassrls", Bool),
                ("usebypassrls", Bool),
                ("rolconfig", Text),
            ]);
            t.push(vec![
                oid(ROLE_OID),
                text(user),
                text(user),
                oid(ROLE_OID),
                boolean(true),
                boolean(true),
                boolean(true),
                boolean(true),
                boolean(true),
                boolean(true),
                boolean(true),
                boolean(true),
                boolean(true),
                int4(-1),
                text("********"),
                ScalarValue::TimestampMicrosecond(None, Some(driftdb_pgtypes::types::UTC.into())),
                boolean(true),
                boolean(true),
                null_text(),
            ]);
            // One builder serves both views; each shows only its own columns.
            t.only_columns_of(name)
        }
        "pg_auth_members" => Table::new(&[
            ("roleid", Oid),
            ("member", Oid),
            ("grantor", Oid),
            ("admin_option", Bool),
        ]),
        "pg_description" => Table::new(&[
            ("objoid", Oid),
            ("classoid", Oid),
            ("objsubid", I32),
            ("description", Text),
        ]),
        "pg_settings" => {
            let mut t = Table::new(&[
                ("name", Text),
                ("setting", Text),
                ("unit", Text),
                ("category", Text),
                ("short_desc", Text),
                ("context", Text),
                ("vartype", Text),
                ("source", Text),
            ]);
            for (name, value) in scope.settings().all() {
                t.push(vec![
                    text(name),
                    text(value),
                    null_text(),
                    text("Client Connection Defaults"),
                    text(""),
                    text("user"),
                    text("string"),
                    text("session"),
                ]);
            }
            t
        }
        "pg_tables" | "pg_views" | "pg_indexes" => listing(scope, name),
        "pg_attrdef" => {
            let mut t = Table::new(&[
                ("oid", Oid),
                ("adrelid", Oid),
                ("adnum", I16),
                ("adbin", Text),
            ]);
            for def in relations(scope) {
                for (number, slot) in def.visible_slots().enumerate() {
                    let Some(shown) = column_default(&def.columns[slot]) else {
                        continue;
                    };
                    t.push(vec![
                        oid(800_000_000 + 1000 * def.id.0 as i64 + number as i64),
                        oid(relation_oid(&def)),
                        int2(number as i16 + 1),
                        text(&shown),
                    ]);
                }
            }
            t
        }
        other if is_catalog(other) => Table::new(&[]),
        _ => return Ok(None),
    };
    table.provider(name).map(Some)
}

/// `pg_class`: tables (`r`), views (`v`) and indexes (`i`).
fn pg_class(scope: &SessionScope) -> Result<Table> {
    let mut t = Table::new(&[
        ("oid", Oid),
        ("relname", Text),
        ("relnamespace", Oid),
        ("reltype", Oid),
        ("reloftype", Oid),
        ("relowner", Oid),
        ("relam", Oid),
        ("relfilenode", Oid),
        ("reltablespace", Oid),
        ("relpages", I32),
        ("reltuples", DataType::Float32),
        ("reltoastrelid", Oid),
        ("relhasindex", Bool),
        ("relisshared", Bool),
        ("relpersistence", Text),
        ("relkind", Text),
        ("relnatts", I16),
        ("relchecks", I16),
        ("relhasrules", Bool),
        ("relhastriggers", Bool),
        ("relhassubclass", Bool),
        ("relrowsecurity", Bool),
        ("relforcerowsecurity", Bool),
        ("relispopulated", Bool),
        ("relreplident", Text),
        ("relispartition", Bool),
        // No ACL: the owner has every privilege (an `aclitem[]`, NULL).
        ("relacl", DataType::new_list(Text, true)),
        ("reloptions", DataType::new_list(Text, true)),
        ("relpartbound", Text),
    ]);
    let no_options = ScalarValue::try_from(&DataType::new_list(Text, true))?;
    let row = |oid_value: i64,
               name: &str,
               kind: &str,
               am: i64,
               columns: usize,
               checks: usize,
               indexed: bool,
               triggers: bool| {
        vec![
            oid(oid_value),
            text(name),
            oid(PUBLIC_OID),
            oid(0),
            oid(0),
            oid(ROLE_OID),
            oid(am),
            oid(oid_value),
            oid(0),
            int4(0),
            ScalarValue::Float32(Some(-1.0)),
            oid(0),
            boolean(indexed),
            boolean(false),
            text("p"),
            text(kind),
            int2(columns as i16),
            int2(checks as i16),
            boolean(false),
            // Foreign keys are enforced by triggers in PostgreSQL, and psql lists a table's
            // foreign keys (both ways) only when it has some.
            boolean(triggers),
            boolean(false),
            boolean(false),
            boolean(false),
            boolean(true),
            text("d"),
            boolean(false),
            no_acl(),
            no_options.clone(),
            null_text(),
        ]
    };
    let relations = relations(scope);
    let referenced: std::collections::HashSet<_> = relations
        .iter()
        .flat_map(|def| def.foreign_keys.iter().map(|foreign| foreign.parent))
        .collect();
    let mut rows = Vec::new();
    for def in &relations {
        let kind = if def.view.is_some() { "v" } else { "r" };
        let triggers = !def.foreign_keys.is_empty() || referenced.contains(&def.id);
        let am = if def.view.is_some() { 0 } else { HEAP_AM };
        let indexes = indexes(def);
        rows.push(row(
            relation_oid(def),
            &def.name,
            kind,
            am,
            attributes(def).len(),
            def.checks.len(),
            !indexes.is_empty(),
            triggers,
        ));
        for index in &indexes {
            rows.push(row(
                index.oid,
                &index.name,
                "i",
                BTREE_AM,
                index.slots.len(),
                0,
                false,
                false,
            ));
        }
        for (sequence_oid, name) in sequences(def) {
            rows.push(row(sequence_oid, name, "S", 0, 3, 0, false, false));
        }
    }
    for row in rows {
        t.push(row);
    }
    Ok(t)
}

/// A column default as `pg_get_expr` shows it: PostgreSQL stores the analysed expression, so a
/// text literal carries its cast to the column's type (`'new'::character varying`) and a
/// negative number is a constant of the type (`'-1'::integer`). Other expressions are shown
/// as written.
fn displayed_default(default: &str, ty: ColumnType) -> String {
    use datafusion::sql::sqlparser::ast::{Expr, UnaryOperator, Value};
    let Ok(expr) = crate::defaults::parse_stored(default) else {
        return default.to_string();
    };
    let type_oid = type_oid(ty);
    let type_name = match ty {
        ColumnType::Char(_) => "bpchar".to_string(),
        _ => format_type(type_oid, None).unwrap_or_default(),
    };
    let numeric = matches!(
        ty,
        ColumnType::Int16
            | ColumnType::Int32
            | ColumnType::Int64
            | ColumnType::Float32
            | ColumnType::Float64
            | ColumnType::Numeric { .. }
            | ColumnType::UnconstrainedNumeric
    );
    match expr {
        Expr::Value(value) => match value.value {
            Value::SingleQuotedString(text) if !numeric && ty != ColumnType::Bool => {
                format!("'{}'::{type_name}", text.replace('\'', "''"))
            }
            _ => default.to_string(),
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } if numeric => match *expr {
            Expr::Value(value) if matches!(value.value, Value::Number(..)) => {
                format!("'-{}'::{type_name}", value.value)
            }
            _ => default.to_string(),
        },
        _ => default.to_string(),
    }
}

/// The default of `column` as `pg_get_expr` shows it (`nextval('t_id_seq'::regclass)` for a
/// serial); `None` without one (an identity column has none).
pub(crate) fn column_default(column: &ColumnDef) -> Option<String> {
    match (&column.default, &column.identity) {
        (_, Some(identity)) if identity.serial => {
            Some(format!("nextval('{}'::regclass)", identity.sequence))
        }
        (Some(default), None) => Some(displayed_default(default, column.ty)),
        _ => None,
    }
}

/// The counters of `def`'s identity and serial columns, as PostgreSQL's sequences: (OID, name).
fn sequences(def: &TableDef) -> Vec<(i64, &str)> {
    def.columns
        .iter()
        .enumerate()
        .filter(|(_, column)| !column.dropped && !column.hidden)
        .filter_map(|(slot, column)| {
            let identity = column.identity.as_ref()?;
            Some((
                3_000_000 + 1000 * def.id.0 as i64 + slot as i64,
                identity.sequence.as_str(),
            ))
        })
        .collect()
}

/// The columns `pg_attribute` lists for `def`: a table's visible ones, a view's output.
pub(crate) fn attributes(def: &TableDef) -> Vec<&ColumnDef> {
    match &def.view {
        Some(view) => view.output.iter().collect(),
        None => def.visible_slots().map(|slot| &def.columns[slot]).collect(),
    }
}

/// `pg_attribute`: the visible columns of tables and views.
fn pg_attribute(scope: &SessionScope) -> Table {
    let mut t = Table::new(&[
        ("attrelid", Oid),
        ("attname", Text),
        ("atttypid", Oid),
        ("attstattarget", I32),
        ("attlen", I16),
        ("attnum", I16),
        ("attndims", I32),
        ("atttypmod", I32),
        ("attbyval", Bool),
        ("attstorage", Text),
        ("attnotnull", Bool),
        ("atthasdef", Bool),
        ("atthasmissing", Bool),
        ("attidentity", Text),
        ("attgenerated", Text),
        ("attisdropped", Bool),
        ("attislocal", Bool),
        ("attinhcount", I32),
        ("attcollation", Oid),
        ("attacl", DataType::new_list(Text, true)),
        ("attoptions", Text),
    ]);
    for def in relations(scope) {
        for (number, column) in attributes(&def).into_iter().enumerate() {
            t.push(attribute_row(relation_oid(&def), number, column, true));
        }
        // An index lists its key columns as its own attributes (what `\d index` shows).
        for index in indexes(&def) {
            for (number, &slot) in index.slots.iter().enumerate() {
                t.push(attribute_row(index.oid, number, &def.columns[slot], false));
            }
        }
    }
    t
}

/// The `pg_attribute` row of `column`, attribute `number` (0-based) of relation `relation`;
/// `of_table` is false for an index's attribute, which has no constraint or default of its own.
fn attribute_row(
    relation: i64,
    number: usize,
    column: &ColumnDef,
    of_table: bool,
) -> Vec<ScalarValue> {
    let type_oid = type_oid(column.ty);
    let length = TYPES
        .iter()
        .find(|(oid, ..)| *oid == type_oid)
        .map_or(-1, |(_, _, length, ..)| *length);
    let identity = match &column.identity {
        Some(identity) if identity.serial || !of_table => "",
        Some(identity) if identity.always => "a",
        Some(_) => "d",
        None => "",
    };
    let serial = column.identity.as_ref().is_some_and(|i| i.serial);
    let has_default = (column.default.is_some() && column.identity.is_none()) || serial;
    let collation = matches!(
        column.ty,
        ColumnType::Text | ColumnType::Varchar(_) | ColumnType::Char(_)
    );
    vec![
        oid(relation),
        text(&column.name),
        oid(type_oid),
        int4(-1),
        int2(length),
        int2(number as i16 + 1),
        int4(0),
        int4(types::type_modifier(column.ty)),
        boolean((1..=8).contains(&length)),
        // PostgreSQL's storage strategies: fixed-length plain, numeric main, the rest extended.
        text(match (length, type_oid) {
            (1.., _) => "p",
            (_, NUMERIC_OID) => "m",
            _ => "x",
        }),
        boolean(of_table && !column.nullable),
        boolean(of_table && has_default),
        boolean(false),
        text(identity),
        text(""),
        boolean(false),
        boolean(true),
        int4(0),
        oid(if collation { 100 } else { 0 }),
        no_acl(),
        null_text(),
    ]
}

/// `pg_index`: the primary key and secondary indexes of each table.
fn pg_index(scope: &SessionScope) -> Table {
    let mut t = Table::new(&[
        ("indexrelid", Oid),
        ("indrelid", Oid),
        ("indnatts", I16),
        ("indnkeyatts", I16),
        ("indisunique", Bool),
        ("indisprimary", Bool),
        ("indisexclusion", Bool),
        ("indimmediate", Bool),
        ("indisclustered", Bool),
        ("indisvalid", Bool),
        ("indcheckxmin", Bool),
        ("indisready", Bool),
        ("indislive", Bool),
        ("indisreplident", Bool),
        ("indkey", int2_vector()),
        ("indcollation", DataType::new_list(Oid, true)),
        ("indclass", DataType::new_list(Oid, true)),
        ("indoption", int2_vector()),
        ("indexprs", Text),
        ("indpred", Text),
        ("indnullsnotdistinct", Bool),
    ]);
    for def in relations(scope) {
        for index in indexes(&def) {
            let keys: Vec<i16> = index.slots.iter().map(|&slot| attnum(&def, slot)).collect();
            t.push(vec![
                oid(index.oid),
                oid(relation_oid(&def)),
                int2(keys.len() as i16),
                int2(keys.len() as i16),
                boolean(index.unique),
                boolean(index.primary),
                boolean(false),
                boolean(true),
                boolean(false),
                boolean(true),
                boolean(false),
                boolean(true),
                boolean(true),
                boolean(false),
                int2_list(keys.iter().copied()),
                oid_list(
                    index
                        .slots
                        .iter()
                        .map(|&slot| collation(def.columns[slot].ty)),
                ),
                oid_list(
                    index
                        .slots
                        .iter()
                        .map(|&slot| operator_class(def.columns[slot].ty)),
                ),
                // Every key ascending, NULLs last: no option bits.
                int2_list(keys.iter().map(|_| 0)),
                null_text(),
                null_text(),
                boolean(false),
            ]);
        }
    }
    t
}

/// A constraint: its type (`p`, `u`, `f`, `c`) and `pg_get_constraintdef` text.
pub struct ConstraintInfo {
    pub oid: i64,
    pub name: String,
    pub kind: &'static str,
    pub slots: Vec<usize>,
    pub index: i64,
    pub parent: Option<(i64, Vec<i16>)>,
    pub on_delete: &'static str,
    pub definition: String,
}

/// `def`'s constraints: primary key, unique indexes, foreign keys, checks. `relations` are
/// every current relation (where foreign keys find their parents).
pub fn constraints(relations: &[Arc<TableDef>], def: &TableDef) -> Vec<ConstraintInfo> {
    let names = |slots: &[usize]| -> String {
        slots
            .iter()
            .map(|&slot| def.columns[slot].name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut constraints = Vec::new();
    for index in indexes(def).into_iter().filter(|index| index.constraint) {
        let kind = if index.primary { "p" } else { "u" };
        let keyword = if index.primary {
            "PRIMARY KEY"
        } else {
            "UNIQUE"
        };
        constraints.push(ConstraintInfo {
            oid: index.oid + 500_000_000,
            name: index.name.clone(),
            kind,
            definition: format!("{keyword} ({})", names(&index.slots)),
            slots: index.slots,
            index: index.oid,
            parent: None,
            on_delete: "a",
        });
    }
    for (position, foreign) in def.foreign_keys.iter().enumerate() {
        let parent = relations
            .iter()
            .find(|candidate| candidate.id == foreign.parent);
        let (parent_oid, parent_keys, parent_name, parent_columns) = match &parent {
            Some(parent) => (
                relation_oid(parent),
                parent
                    .primary_key
                    .iter()
                    .map(|&slot| attnum(parent, slot))
                    .collect(),
                parent.name.clone(),
                parent
                    .primary_key
                    .iter()
                    .map(|&slot| parent.columns[slot].name.clone())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            None => (0, Vec::new(), "?".to_string(), String::new()),
        };
        let (on_delete, action) = match foreign.on_delete {
            driftdb_engine::ForeignKeyAction::Restrict => ("a", ""),
            driftdb_engine::ForeignKeyAction::Cascade => ("c", " ON DELETE CASCADE"),
            driftdb_engine::ForeignKeyAction::SetNull => ("n", " ON DELETE SET NULL"),
        };
        constraints.push(ConstraintInfo {
            oid: 600_000_000 + 1000 * def.id.0 as i64 + position as i64,
            name: foreign.name.clone(),
            kind: "f",
            definition: format!(
                "FOREIGN KEY ({}) REFERENCES {parent_name}({parent_columns}){action}",
                names(&foreign.columns)
            ),
            slots: foreign.columns.clone(),
            // The parent's key the constraint references (always its primary key).
            index: parent.map_or(0, |parent| index_oid(parent, PRIMARY_KEY_POSITION)),
            parent: Some((parent_oid, parent_keys)),
            on_delete,
        });
    }
    for (position, check) in def.checks.iter().enumerate() {
        constraints.push(ConstraintInfo {
            oid: 700_000_000 + 1000 * def.id.0 as i64 + position as i64,
            name: check.name.clone(),
            kind: "c",
            definition: format!("CHECK ({})", check.expr),
            slots: Vec::new(),
            index: 0,
            parent: None,
            on_delete: "a",
        });
    }
    constraints
}

/// `pg_constraint`.
fn pg_constraint(scope: &SessionScope) -> Table {
    let mut t = Table::new(&[
        ("oid", Oid),
        ("conname", Text),
        ("connamespace", Oid),
        ("contype", Text),
        ("condeferrable", Bool),
        ("condeferred", Bool),
        ("convalidated", Bool),
        ("conrelid", Oid),
        ("contypid", Oid),
        ("conindid", Oid),
        ("conparentid", Oid),
        ("confrelid", Oid),
        ("confupdtype", Text),
        ("confdeltype", Text),
        ("confmatchtype", Text),
        ("conislocal", Bool),
        ("coninhcount", I32),
        ("connoinherit", Bool),
        ("conkey", int2_vector()),
        ("confkey", int2_vector()),
    ]);
    let relations = relations(scope);
    for def in &relations {
        for constraint in constraints(&relations, def) {
            let keys: Vec<i16> = constraint
                .slots
                .iter()
                .map(|&slot| attnum(def, slot))
                .collect();
            let (parent, parent_keys) = match constraint.parent {
                Some((parent, keys)) => (parent, int2_list(keys)),
                None => (0, ScalarValue::new_null_list(I16, true, 1)),
            };
            t.push(vec![
                oid(constraint.oid),
                text(&constraint.name),
                oid(PUBLIC_OID),
                text(constraint.kind),
                boolean(false),
                boolean(false),
                boolean(true),
                oid(relation_oid(def)),
                oid(0),
                oid(constraint.index),
                oid(0),
                oid(parent),
                text("a"),
                text(constraint.on_delete),
                text("s"),
                boolean(true),
                int4(0),
                boolean(constraint.kind == "c"),
                int2_list(keys),
                parent_keys,
            ]);
        }
    }
    t
}

/// The `pg_tables`, `pg_views` and `pg_indexes` views.
fn listing(scope: &SessionScope, name: &str) -> Table {
    let owner = scope.user.as_str();
    match name {
        "pg_tables" => {
            let mut t = Table::new(&[
                ("schemaname", Text),
                ("tablename", Text),
                ("tableowner", Text),
                ("tablespace", Text),
                ("hasindexes", Bool),
                ("hasrules", Bool),
                ("hastriggers", Bool),
                ("rowsecurity", Bool),
            ]);
            for def in relations(scope).into_iter().filter(|d| d.view.is_none()) {
                t.push(vec![
                    text("public"),
                    text(&def.name),
                    text(owner),
                    null_text(),
                    boolean(!indexes(&def).is_empty()),
                    boolean(false),
                    boolean(false),
                    boolean(false),
                ]);
            }
            t
        }
        "pg_views" => {
            let mut t = Table::new(&[
                ("schemaname", Text),
                ("viewname", Text),
                ("viewowner", Text),
                ("definition", Text),
            ]);
            for def in relations(scope) {
                if let Some(view) = &def.view {
                    t.push(vec![
                        text("public"),
                        text(&def.name),
                        text(owner),
                        text(&view.query),
                    ]);
                }
            }
            t
        }
        _ => {
            let mut t = Table::new(&[
                ("schemaname", Text),
                ("tablename", Text),
                ("indexname", Text),
                ("tablespace", Text),
                ("indexdef", Text),
            ]);
            for def in relations(scope) {
                for index in indexes(&def) {
                    t.push(vec![
                        text("public"),
                        text(&def.name),
                        text(&index.name),
                        null_text(),
                        text(&index_definition(&def, &index)),
                    ]);
                }
            }
            t
        }
    }
}

/// The `pg_catalog` schema.
#[derive(Debug)]
pub struct PgCatalogSchema {
    pub scope: Arc<SessionScope>,
}

#[async_trait::async_trait]
impl SchemaProvider for PgCatalogSchema {
    fn table_names(&self) -> Vec<String> {
        pgschema::CATALOGS
            .iter()
            .map(|(name, _, _)| name.to_string())
            .collect()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        table(&self.scope, name)
    }

    fn table_exist(&self, name: &str) -> bool {
        is_catalog(name)
    }
}

/// `pg_get_indexdef(oid, column)` of the index with OID `oid`: its definition for column 0,
/// else the name of its `column`th column (1-based; empty past the last, as in PostgreSQL).
pub fn index_definition_by_oid(scope: &SessionScope, oid: i64, column: i64) -> Option<String> {
    relations(scope).into_iter().find_map(|def| {
        let index = indexes(&def).into_iter().find(|index| index.oid == oid)?;
        match column {
            0 => Some(index_definition(&def, &index)),
            n => Some(
                usize::try_from(n - 1)
                    .ok()
                    .and_then(|position| index.slots.get(position))
                    .map_or_else(String::new, |&slot| def.columns[slot].name.clone()),
            ),
        }
    })
}

/// `pg_get_constraintdef` of the constraint with OID `oid`.
pub fn constraint_definition_by_oid(scope: &SessionScope, oid: i64) -> Option<String> {
    let relations = relations(scope);
    relations.iter().find_map(|def| {
        constraints(&relations, def)
            .into_iter()
            .find(|constraint| constraint.oid == oid)
            .map(|constraint| constraint.definition)
    })
}

/// The parts of a possibly qualified, possibly quoted name (`public."Books"`), folded as
/// PostgreSQL folds unquoted identifiers.
fn name_parts(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = text.trim().chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                current.push('"');
            }
            '"' => quoted = !quoted,
            '.' if !quoted => parts.push(std::mem::take(&mut current)),
            c if quoted => current.push(c),
            c => current.extend(c.to_lowercase()),
        }
    }
    parts.push(current);
    parts
}

/// Every relation of `public` with its OID: tables, views, their indexes and their sequences.
fn named_relations(scope: &SessionScope) -> Vec<(i64, String)> {
    let mut named = Vec::new();
    for def in relations(scope) {
        named.push((relation_oid(&def), def.name.clone()));
        named.extend(
            indexes(&def)
                .into_iter()
                .map(|index| (index.oid, index.name)),
        );
        named.extend(
            sequences(&def)
                .into_iter()
                .map(|(oid, name)| (oid, name.to_string())),
        );
    }
    named
}

/// `'name'::regclass`: the OID of the relation (table, view, index or system catalog) `text`
/// names, looked up as PostgreSQL's search path does (`pg_catalog` first, then `public`).
pub fn regclass(scope: &SessionScope, text: &str) -> Option<i64> {
    let parts = name_parts(text);
    let (schema, name) = match parts.as_slice() {
        [name] => (None, name.as_str()),
        [schema, name] => (Some(schema.as_str()), name.as_str()),
        _ => return None,
    };
    if schema.is_none_or(|schema| schema == PG_CATALOG)
        && let Some(oid) = pgschema::oid(name)
    {
        return Some(oid);
    }
    if schema.is_some_and(|schema| schema != "public") {
        return None;
    }
    named_relations(scope)
        .into_iter()
        .find(|(_, relation)| relation == name)
        .map(|(oid, _)| oid)
}

/// `oid::regclass::text`: the relation's name (the number itself for no relation).
pub fn regclass_name(scope: &SessionScope, oid: i64) -> String {
    if let Some(name) = pgschema::name(oid) {
        return name.to_string();
    }
    named_relations(scope)
        .into_iter()
        .find(|(relation_oid, _)| *relation_oid == oid)
        .map(|(_, name)| name)
        .unwrap_or_else(|| oid.to_string())
}

/// `'name'::regtype`: the OID of the type `text` names (`integer`, `int4`, `pg_catalog.text`).
pub fn regtype(text: &str) -> Option<i64> {
    let parts = name_parts(text);
    let name = match parts.as_slice() {
        [name] => name,
        [schema, name] if schema == PG_CATALOG => name,
        _ => return None,
    };
    let alias = match name.as_str() {
        "int" | "integer" => "int4",
        "smallint" => "int2",
        "bigint" => "int8",
        "real" => "float4",
        "float" | "double precision" => "float8",
        "boolean" => "bool",
        "decimal" => "numeric",
        other => other,
    };
    TYPES
        .iter()
        .find(|t| t.1 == alias || t.4 == alias)
        .map(|t| t.0)
}

/// `'name'::regnamespace`: the OID of the schema `text` names.
pub fn regnamespace(text: &str) -> Option<i64> {
    match name_parts(text).as_slice() {
        [name] => NAMESPACES
            .iter()
            .find(|(_, namespace, _)| namespace == name)
            .map(|(oid, _, _)| *oid),
        _ => None,
    }
}

/// `oid::regnamespace::text`: the schema's name (the number itself for no schema).
pub fn regnamespace_name(oid: i64) -> String {
    NAMESPACES
        .iter()
        .find(|(namespace_oid, _, _)| *namespace_oid == oid)
        .map_or_else(|| oid.to_string(), |(_, name, _)| name.to_string())
}

/// `pg_get_serial_sequence(table, column)`: `public.<counter>` of a serial or identity column.
pub fn serial_sequence(scope: &SessionScope, table: &str, column: &str) -> Option<String> {
    let oid = regclass(scope, table)?;
    let def = relation_by_oid(scope, oid)?;
    let column = column.to_lowercase();
    def.columns
        .iter()
        .find(|c| !c.dropped && c.name == column)?
        .identity
        .as_ref()
        .map(|identity| format!("public.{}", identity.sequence))
}
