//! The statements that change rows: INSERT (with ON CONFLICT and RETURNING), UPDATE, DELETE,
//! TRUNCATE and COPY FROM, and `SELECT … FOR UPDATE`, which locks them. Each finds or computes its rows with DataFusion and hands them to the
//! storage layer's write path; none plans anything itself but through [`crate::exec`].

pub(crate) mod copy;
pub(crate) mod insert;
pub(crate) mod locking;
pub(crate) mod rows;
pub(crate) mod update_delete;
pub(crate) mod upsert;
