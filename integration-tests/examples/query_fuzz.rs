//! `make fuzz` (query half): random tables, rows and queries on DriftDB and on a reference
//! PostgreSQL for a given time, each difference printed (reduced) as a script with its seed,
//! round and case, then a summary. Exits 1 if it found any difference.
//!
//! ```text
//! query_fuzz [--seconds N] [--seed S] [--round R] [--rounds N] [--cases N] [--no-reduce]
//!            [--everything]
//! ```
//! `--round R --rounds 1` replays one round of a session (the report names it); `--cases` sets
//! the queries per round; `--everything` also generates the constructs with known differences
//! (`queryfuzz::Avoid`), which are otherwise steered around.

use driftdb_integration_tests::queryfuzz::{Avoid, Config, Session};
use std::time::Duration;

fn usage(problem: &str) -> ! {
    eprintln!("{problem}");
    eprintln!(
        "usage: query_fuzz [--seconds N] [--seed S] [--round R] [--rounds N] [--cases N] [--no-reduce] [--everything]"
    );
    std::process::exit(2);
}

fn config() -> Config {
    let mut config = Config {
        seed: 18,
        rounds: None,
        duration: Some(Duration::from_secs(60)),
        print: true,
        ..Config::default()
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut number = |name: &str| -> u64 {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| usage(&format!("{name} needs a number")))
        };
        match arg.as_str() {
            "--seconds" => config.duration = Some(Duration::from_secs(number("--seconds"))),
            "--seed" => config.seed = number("--seed"),
            "--round" => config.first_round = number("--round"),
            "--rounds" => config.rounds = Some(number("--rounds")),
            "--cases" => config.cases_per_round = number("--cases") as u32,
            "--no-reduce" => config.reduce = false,
            "--everything" => config.avoid = Avoid::nothing(),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    config
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let config = config();
    let mut session = match Session::start().await {
        Ok(session) => session,
        Err(e) => {
            eprintln!("cannot start the servers: {e}");
            std::process::exit(2);
        }
    };
    println!(
        "query fuzz: seed {}, from round {}, {} cases per round, {}",
        config.seed,
        config.first_round,
        config.cases_per_round,
        match (config.rounds, config.duration) {
            (Some(rounds), _) => format!("{rounds} rounds"),
            (None, Some(duration)) => format!("{}s", duration.as_secs()),
            (None, None) => "until stopped".to_string(),
        }
    );
    let report = session.run(&config).await;
    // Stop both servers (process::exit would skip their destructors).
    drop(session);
    println!("{report}");
    if !report.findings.is_empty() {
        std::process::exit(1);
    }
}
