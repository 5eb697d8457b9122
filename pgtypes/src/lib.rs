//! PostgreSQL's types and functions, for DriftDB's SQL layer.
//!
//! `driftdb-pgtypes` knows PostgreSQL and Arrow and nothing of storage: it depends on DataFusion
//! and on DriftDB's column types, never on the engine, so its tests link no RocksDB. Its layers
//! depend one way:
//!
//! - [`error`] (the error kinds the server maps to SQLSTATEs), [`idents`] (folding and quoting
//!   names), [`udf`] (what every scalar function shares);
//! - the types: [`types`] (column type ↔ Arrow ↔ SQL), [`oids`], [`values`] (text in),
//!   [`text`] (text out), [`json`], [`numeric`];
//! - [`functions`]: casts, checked arithmetic, math, arrays, JSON, `format` and the other
//!   functions and analyzer rules DriftDB registers with DataFusion.
//!
//! A new PostgreSQL function that needs only its arguments goes in [`functions`]; one that reads
//! the catalog or the session belongs to `driftdb-sql`.

pub mod error;
pub mod functions;
pub mod idents;
pub mod json;
pub mod numeric;
pub mod oids;
pub mod text;
pub mod types;
pub mod udf;
pub mod values;

pub use error::{Error, ErrorKind, Notice, Result};
