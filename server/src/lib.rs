//! DriftDB's PostgreSQL wire-protocol server.
//!
//! `driftdb-server` owns everything about talking to clients: the pgwire handlers, the encoding
//! of Arrow results as PostgreSQL rows, and the one map from error kinds to SQLSTATE codes
//! ([`sqlstate`]). It executes SQL only through `driftdb-sql`'s `Session` and never touches the
//! engine or RocksDB directly.
//!
//! Security fails closed: connections are trusted without a password, so the server refuses to
//! listen on anything but a loopback address.
//!
//! No client can take the server down: each connection runs DriftDB's own message loop
//! ([`connection`]) that turns a panic into one failed statement, counts connections against
//! `--max-connections` and ends clients that stall; statements run on threads whose stacks hold
//! the deepest statement the SQL layer accepts (`driftdb_sql::parse`).

pub mod binary;
pub mod config;
pub mod connection;
pub mod corked;
pub mod encode;
pub mod handler;
pub mod interrupt;
pub mod notices;
pub mod sqlstate;

use config::Config;
use connection::{ConnectionCount, ConnectionLimits};
use driftdb_sql::{Database, DatabaseOptions};
use handler::{Connection, Shared};
use pgwire::api::RandomPidSecretKeyGenerator;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// A bound, not yet serving, server.
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
    connections: Arc<ConnectionCount>,
    limits: ConnectionLimits,
}

impl Server {
    /// Opens the database and binds the listening socket.
    pub async fn bind(config: &Config) -> Result<Server, String> {
        if !config.listen.ip().is_loopback() {
            return Err(format!(
                "refusing to listen on {}: DriftDB trusts every client without a password, so it only listens on loopback",
                config.listen
            ));
        }
        let options = DatabaseOptions {
            memory_limit: Some(
                config
                    .memory_limit
                    .unwrap_or_else(config::default_memory_limit),
            ),
            test_functions: config.test_functions,
        };
        let db = Database::open_with(&config.data_path, options).map_err(|e| {
            format!(
                "cannot open the database in {}: {e}",
                config.data_path.display()
            )
        })?;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
        Ok(Server {
            listener,
            shared: Arc::new(Shared {
                db,
                pids: RandomPidSecretKeyGenerator::default(),
                cancels: Arc::default(),
            }),
            connections: ConnectionCount::new(config.max_connections),
            limits: ConnectionLimits {
                authentication_timeout: config.authentication_timeout,
            },
        })
    }

    /// The address actually bound (the port is real even when 0 was asked for).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves connections until `shutdown` completes.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((socket, _)) => {
                        let _ = socket.set_nodelay(true);
                        let connection = Arc::new(Connection::new(self.shared.clone()));
                        let slot = self.connections.open();
                        // A connection's failure (a client vanishing mid-message) ends that
                        // connection only.
                        tokio::spawn(connection::serve(socket, connection, slot, self.limits));
                    }
                    Err(e) => eprintln!("driftdb-server: accept failed: {e}"),
                },
                () = &mut shutdown => break,
            }
        }
    }
}
