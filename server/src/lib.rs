//! DriftDB's PostgreSQL wire-protocol server.
//!
//! `driftdb-server` owns everything about talking to clients: the pgwire handlers, the encoding
//! of Arrow results as PostgreSQL rows, and the one map from error kinds to SQLSTATE codes
//! ([`sqlstate`]). It executes SQL only through `driftdb-sql`'s `Session` and never touches the
//! engine or RocksDB directly.
//!
//! Security fails closed: connections are trusted without a password, so the server refuses to
//! listen on anything but a loopback address.

pub mod binary;
pub mod config;
pub mod encode;
pub mod handler;
pub mod interrupt;
pub mod notices;
pub mod sqlstate;

use config::Config;
use driftdb_sql::Database;
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
        let db = Database::open(&config.data_path).map_err(|e| {
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
                        tokio::spawn(async move {
                            // A connection's failure (a client vanishing mid-message) ends that
                            // connection only.
                            let _ = pgwire::tokio::process_socket(socket, None, connection).await;
                        });
                    }
                    Err(e) => eprintln!("driftdb-server: accept failed: {e}"),
                },
                () = &mut shutdown => break,
            }
        }
    }
}
