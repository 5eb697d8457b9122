//! PostgreSQL's view of the catalog for tools and drivers: `pg_catalog`, `information_schema`,
//! and the session and catalog information functions (`version()`, `pg_get_indexdef`,
//! `nextval`, …), all built from DriftDB's versioned catalog when a statement plans.

pub(crate) mod catalog_columns;
pub(crate) mod catalog_table;
pub(crate) mod functions;
pub(crate) mod information_schema;
pub(crate) mod objects;
pub(crate) mod pg_attribute;
pub(crate) mod pg_catalog;
pub(crate) mod pg_class;
pub(crate) mod pg_constraint;
pub(crate) mod pg_index;
pub(crate) mod regclass;
