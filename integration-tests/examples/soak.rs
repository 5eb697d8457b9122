//! `make soak`: the mixed workload of `driftdb_integration_tests::soak` with many clients for a
//! given time (memory sampled, everything acknowledged checked at the end), then the crash loop
//! (kill -9 under load, restart, check) for a number of rounds. Exits 1 if anything failed or the
//! server's memory kept growing after warm-up.
//!
//! `soak [--seconds N] [--clients N] [--crash-rounds N] [--crash-clients N] [--seed N]`
//! (defaults: 600 s, 64 clients, 100 rounds of 16 clients, seed 18).

use driftdb_integration_tests::soak::{self, CrashConfig, SoakConfig};
use std::process::ExitCode;
use std::time::Duration;

struct Args {
    seconds: u64,
    clients: usize,
    crash_rounds: usize,
    crash_clients: usize,
    seed: u64,
}

/// The machine's load averages (1, 5, 15 minutes): other work on the machine skews the rates.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_string())
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        seconds: 600,
        clients: 64,
        crash_rounds: 100,
        crash_clients: 16,
        seed: 18,
    };
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        let value = given
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("{flag}: not a number: {v}"))
        };
        match flag.as_str() {
            "--seconds" => args.seconds = number(&value)?,
            "--clients" => args.clients = number(&value)? as usize,
            "--crash-rounds" => args.crash_rounds = number(&value)? as usize,
            "--crash-clients" => args.crash_clients = number(&value)? as usize,
            "--seed" => args.seed = number(&value)?,
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    Ok(args)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("soak: {message}");
            eprintln!(
                "usage: soak [--seconds N] [--clients N] [--crash-rounds N] [--crash-clients N] [--seed N]"
            );
            return ExitCode::from(2);
        }
    };
    let mut passed = true;

    if args.seconds > 0 {
        let config = SoakConfig {
            clients: args.clients,
            duration: Duration::from_secs(args.seconds),
            seed: args.seed,
            sample_every: Duration::from_secs((args.seconds / 60).clamp(1, 10)),
        };
        println!(
            "soak: {} clients for {} s (seed {}), load average before: {}",
            config.clients,
            args.seconds,
            config.seed,
            load_average()
        );
        let report = soak::soak(&config).await;
        println!("{report}");
        println!("load average after: {}", load_average());
        let memory_flat = report.memory_verdict().is_none_or(|v| v.flat);
        println!(
            "soak: {}",
            if report.passed() && memory_flat {
                "PASSED"
            } else {
                "FAILED"
            }
        );
        passed &= report.passed() && memory_flat;
    }

    if args.crash_rounds > 0 {
        let config = CrashConfig {
            rounds: args.crash_rounds,
            clients: args.crash_clients,
            max_round: Duration::from_secs(2),
            seed: args.seed,
        };
        println!();
        println!("crash loop: load average before: {}", load_average());
        let report = soak::crash_loop(&config).await;
        println!("{report}");
        println!("load average after: {}", load_average());
        println!(
            "crash loop: {}",
            if report.passed() { "PASSED" } else { "FAILED" }
        );
        passed &= report.passed();
    }

    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
