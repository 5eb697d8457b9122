//! `pg_catalog`: PostgreSQL's system catalogs, as far as psql's `\d` family, drivers and tools
//! read them, built from DriftDB's versioned catalog each time a statement plans.
//!
//! Every table, view and index gets a stable OID derived from its id (tables and views
//! `100000 + id`; an index `1000000 + 1000 × table id + position`, the primary key's
//! position 999), so joins between catalogs line up. There is one schema (`public`), one
//! database (`driftdb`) and one role, the session's user, who owns everything. OIDs are `bigint`
//! (PostgreSQL's `oid` is unsigned 32-bit). Unqualified names such as `pg_class` resolve here
//! when no table of that name exists, as PostgreSQL's search path puts `pg_catalog` first.

use crate::pgcompat::catalog_columns;
use crate::pgcompat::catalog_table::{Table, boolean, int2, int4, null_text, oid, text};
use crate::pgcompat::objects::{
    BTREE_AM, DATABASE_OID, HEAP_AM, NAMESPACES, PG_CATALOG_OID, ROLE_OID, relations,
};
use crate::pgcompat::pg_attribute::pg_attribute;
use crate::pgcompat::pg_class::{column_default, pg_class};
use crate::pgcompat::pg_constraint::pg_constraint;
use crate::pgcompat::pg_index::{index_definition, indexes, pg_index};
use crate::storage::schema::relation_oid;
use crate::storage::scope::SessionScope;
use DataType::{Boolean as Bool, Int16 as I16, Int32 as I32, Int64 as Oid, Utf8 as Text};
use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::error::Result;
use driftdb_pgtypes::oids::TYPES;
use std::sync::Arc;

/// Whether `name` is a catalog this schema serves.
pub fn is_catalog(name: &str) -> bool {
    catalog_columns::columns(name).is_some()
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
                text(crate::common::names::DATABASE_NAME),
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
        // Row locks as PostgreSQL shows them: each transaction holding row locks holds its
        // transaction id exclusively; a waiting one waits to share the id of each holder it
        // waits for. (`virtualtransaction` names DriftDB's lock owner.)
        "pg_locks" => {
            let mut t = Table::new(&[
                ("locktype", Text),
                ("virtualtransaction", Text),
                ("pid", I32),
                ("mode", Text),
                ("granted", Bool),
                ("fastpath", Bool),
            ]);
            let pid = std::process::id() as i32;
            let (holders, waits) = scope.db.locks.holders_and_waits();
            for holder in holders {
                t.push(vec![
                    text("transactionid"),
                    text(&holder.to_string()),
                    int4(pid),
                    text("ExclusiveLock"),
                    boolean(true),
                    boolean(false),
                ]);
            }
            for (waiter, _) in waits {
                t.push(vec![
                    text("transactionid"),
                    text(&waiter.to_string()),
                    int4(pid),
                    text("ShareLock"),
                    boolean(false),
                    boolean(false),
                ]);
            }
            t
        }
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

/// The `pg_tables`, `pg_views` and `pg_indexes` views.
pub(crate) fn listing(scope: &SessionScope, name: &str) -> Table {
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
        catalog_columns::CATALOGS
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
