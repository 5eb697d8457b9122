//! PostgreSQL's functions, operators and casts that DataFusion lacks or computes differently,
//! as scalar and aggregate UDFs and analyzer rules. Each needs only its arguments; functions
//! that read the catalog or the session live in `driftdb-sql`.

pub mod arrays;
pub mod casts;
pub mod checked;
pub mod format;
pub mod interval;
pub mod json_build;
pub mod json_ops;
pub mod json_sets;
pub mod math;
pub mod single;
