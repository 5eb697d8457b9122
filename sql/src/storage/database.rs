//! The shared database handle: one engine, any number of sessions.

use crate::common::engine_error::engine_error;
use crate::storage::locks::LockTable;
use datafusion::common::config::Dialect;
use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::prelude::SessionConfig;
use driftdb_engine::{Engine, EngineOptions, Seq};
use driftdb_pgtypes::error::{Error, ErrorKind, Result};
use driftdb_pgtypes::types::PgTypePlanner;
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;

/// How a database is opened; the defaults suit tests and tools.
#[derive(Clone, Debug, Default)]
pub struct DatabaseOptions {
    /// Bytes that running statements may hold at once in sorts, joins, aggregations and
    /// other buffers; past it they spill to disk or fail with 53200. `None`: unbounded.
    pub memory_limit: Option<usize>,
    /// Registers functions that exist only to test the server (`driftdb_test_panic`).
    pub test_functions: bool,
}

/// An open DriftDB database, shared by every session.
#[derive(Debug)]
pub struct Database {
    pub(crate) engine: Arc<Engine>,
    pub(crate) options: DatabaseOptions,
    /// What every session's statements share: the memory pool and the spill files.
    pub(crate) runtime: Arc<RuntimeEnv>,
    /// Taken by an autocommit write that lost a conflict, for its retries: writes that keep
    /// colliding then take turns instead of all retrying at once.
    pub(crate) retry_lock: tokio::sync::Mutex<()>,
    /// Every transaction's row locks (`crate::storage::locks`).
    pub(crate) locks: Arc<LockTable>,
    /// Plans stored expressions (column defaults) outside any session.
    pub(crate) expressions: SessionState,
}

/// A planner for expressions that stand alone: PostgreSQL's dialect and types, the built-in
/// functions.
fn expression_planner() -> SessionState {
    let mut config = SessionConfig::new();
    let options = config.options_mut();
    options.sql_parser.dialect = Dialect::PostgreSQL;
    options.sql_parser.map_string_types_to_utf8view = false;
    options.sql_parser.parse_float_as_decimal = true;
    // Stored CHECK and DEFAULT expressions are parsed by DataFusion's parser, as deep as
    // a statement may nest.
    options.sql_parser.recursion_limit =
        datafusion::common::config::ConfigNonZeroUsize::try_new(crate::common::parse::PARSER_DEPTH)
            .expect("PARSER_DEPTH is not zero");
    SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .with_type_planner(Arc::new(PgTypePlanner))
        .build()
}

/// Where statements spill what does not fit in memory: a directory of the data directory's
/// own (RocksDB leaves files it does not know alone), emptied at open of what a crash left.
const SPILL_DIRECTORY: &str = "spill";

/// The memory pool and spill files every session shares. The pool gives each spilling
/// operator a fair share of the limit; the five largest holders are named when it runs out.
fn runtime_env(path: &Path, options: &DatabaseOptions) -> Result<Arc<RuntimeEnv>> {
    let spill = path.join(SPILL_DIRECTORY);
    let _ = std::fs::remove_dir_all(&spill);
    std::fs::create_dir_all(&spill).map_err(|e| {
        Error::new(
            ErrorKind::IoError,
            format!("cannot create the spill directory {}: {e}", spill.display()),
        )
    })?;
    let mut builder = RuntimeEnvBuilder::new().with_temp_file_path(spill);
    if let Some(limit) = options.memory_limit {
        builder = builder.with_memory_pool(Arc::new(TrackConsumersPool::new(
            FairSpillPool::new(limit),
            NonZeroUsize::new(5).expect("5 is not zero"),
        )));
    }
    Ok(builder.build_arc()?)
}

impl Database {
    /// Opens (or creates) the database in `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Arc<Database>> {
        Self::open_with(path, DatabaseOptions::default())
    }

    /// Opens (or creates) the database in `path`, as `options` say.
    pub fn open_with(path: impl AsRef<Path>, options: DatabaseOptions) -> Result<Arc<Database>> {
        let path = path.as_ref();
        let engine = Engine::open(path, EngineOptions::default()).map_err(engine_error)?;
        let runtime = runtime_env(path, &options)?;
        Ok(Arc::new(Database {
            engine: Arc::new(engine),
            options,
            runtime,
            retry_lock: tokio::sync::Mutex::new(()),
            locks: Arc::default(),
            expressions: expression_planner(),
        }))
    }

    /// The seq of the latest commit.
    pub fn latest_seq(&self) -> Seq {
        self.engine.latest_seq()
    }

    /// How many transactions are waiting for a row lock now (tests watch a statement block).
    pub fn lock_waits(&self) -> usize {
        self.locks.waiting()
    }
}
