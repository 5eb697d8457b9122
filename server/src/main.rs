//! `driftdb-server`: parse the command line, open the database, serve until SIGTERM or Ctrl-C.
//! `driftdb-server verify [--data-path DIR]` instead checks every stored byte and exits 0 if the
//! data is intact, 1 if anything is damaged, 2 if it could not look.

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

/// Walks the data directory and prints what it checked and every damaged location.
fn verify(config: &Config) -> ExitCode {
    let path = &config.data_path;
    let report = match driftdb_engine::verify::verify(path) {
        Ok(report) => report,
        Err(e) if e.kind() == driftdb_engine::ErrorKind::Corrupt => {
            println!("{}: {e}", path.display());
            println!("verify: DAMAGED (the database cannot be opened)");
            return ExitCode::from(1);
        }
        Err(e) => {
            eprintln!("driftdb-server verify: {e}");
            return ExitCode::from(2);
        }
    };
    for (family, count) in &report.counts {
        println!("{family:>9}: {count} entries checked");
    }
    for problem in &report.problems {
        println!("damaged: {problem}");
    }
    if report.is_clean() {
        println!("verify: OK");
        ExitCode::SUCCESS
    } else {
        let unlisted = report.problem_count - report.problems.len() as u64;
        if unlisted > 0 {
            println!("... and {unlisted} more");
        }
        println!("verify: DAMAGED ({} problems)", report.problem_count);
        ExitCode::from(1)
    }
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let verifying = args.first().is_some_and(|a| a == "verify");
    if verifying {
        args.remove(0);
    }
    let mut config = match Config::from_args(args) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    if verifying {
        return verify(&config);
    }
    config.test_functions = std::env::var("DRIFTDB_TEST_FUNCTIONS").is_ok_and(|v| v == "1");
    // Statements run on the runtime's threads (and its blocking pool); their stacks are sized
    // for the deepest statement DriftDB accepts, so nesting fails with 54001, never with a
    // stack overflow that would abort the process. The stack is reserved, not committed: only
    // the pages a statement touches cost memory.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(driftdb_sql::parse::statement_stack_size())
        .build();
    match runtime {
        Ok(runtime) => runtime.block_on(serve(config)),
        Err(e) => {
            eprintln!("driftdb-server: cannot start the runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> ExitCode {
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
