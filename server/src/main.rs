//! `driftdb-server`: parse the command line, open the database, serve until SIGTERM or Ctrl-C.

use driftdb_server::Server;
use driftdb_server::config::Config;
use std::process::ExitCode;

/// Resolves on SIGTERM or Ctrl-C. The SIGTERM handler is installed when this is called, so a
/// signal sent right after the server reports its address is never missed.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Config::from_args(std::env::args().skip(1)) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let server = match Server::bind(&config).await {
        Ok(server) => server,
        Err(message) => {
            eprintln!("driftdb-server: {message}");
            return ExitCode::FAILURE;
        }
    };
    let (addr, shutdown) = match server
        .local_addr()
        .and_then(|addr| Ok((addr, shutdown_signal()?)))
    {
        Ok(ready) => ready,
        Err(e) => {
            eprintln!("driftdb-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("driftdb-server listening on {addr}");
    server.serve(shutdown).await;
    println!("driftdb-server stopped");
    ExitCode::SUCCESS
}
