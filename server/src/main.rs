//! `driftdb-server`: parse the command line, open the database, serve until SIGTERM or Ctrl-C.

use driftdb_server::Server;
use driftdb_server::config::Config;
use std::process::ExitCode;

async fn shutdown_signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler succeeds on Unix");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
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
    match server.local_addr() {
        Ok(addr) => println!("driftdb-server listening on {addr}"),
        Err(e) => {
            eprintln!("driftdb-server: {e}");
            return ExitCode::FAILURE;
        }
    }
    server.serve(shutdown_signal()).await;
    println!("driftdb-server stopped");
    ExitCode::SUCCESS
}
