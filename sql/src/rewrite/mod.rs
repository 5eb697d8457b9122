//! Syntax-tree rewrites that run before DataFusion plans a statement: DriftDB's temporal
//! clauses, PostgreSQL spellings DataFusion does not plan, integer literal types, result column
//! names, ORDER BY subqueries and VALUES lists. They read no catalog and no storage.

pub(crate) mod colnames;
pub(crate) mod decorrelate;
pub(crate) mod from_functions;
pub(crate) mod int_literals;
pub(crate) mod locking_clauses;
pub(crate) mod maintenance;
pub(crate) mod nested_insert_values;
pub(crate) mod order_subquery;
pub(crate) mod result_names;
pub(crate) mod spellings;
pub(crate) mod temporal;
pub(crate) mod values_common_types;
