//! What every layer of the SQL layer shares: parsing with DriftDB's limits and PostgreSQL's
//! dialect, run-time settings, the names of the database and its schema, and the engine's errors
//! in SQL terms. Depends on nothing else in this crate.

pub(crate) mod dialect;
pub(crate) mod engine_error;
pub(crate) mod names;
pub mod parse;
pub(crate) mod settings;
