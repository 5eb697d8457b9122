//! Object identifier lookups: `'name'::regclass`, `regtype`, `regnamespace` and back, and
//! `pg_get_serial_sequence`.

use crate::pgcompat::catalog_columns;
use crate::pgcompat::objects::{NAMESPACES, PG_CATALOG, relation_by_oid, relations};
use crate::pgcompat::pg_class::sequences;
use crate::pgcompat::pg_index::indexes;
use crate::storage::schema::relation_oid;
use crate::storage::scope::SessionScope;
use driftdb_pgtypes::oids::TYPES;

/// The parts of a possibly qualified, possibly quoted name (`public."Books"`), folded as
/// PostgreSQL folds unquoted identifiers.
pub(crate) fn name_parts(text: &str) -> Vec<String> {
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
pub(crate) fn named_relations(scope: &SessionScope) -> Vec<(i64, String)> {
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
        && let Some(oid) = catalog_columns::oid(name)
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
    if let Some(name) = catalog_columns::name(oid) {
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
