//! `make fuzz` (wire half): replays recorded client sessions with mutations against a fresh
//! `driftdb-server` for a given time, checking after each case that a fresh connection still
//! answers `SELECT 1`. Prints what it found and exits 1 if the server stopped answering.
//!
//! ```text
//! wire_fuzz [--seconds N] [--seed S] [--workers W] [--first N] [--case N] [--hold]
//!           [--keep-going] [--postgres]
//! ```
//! `--case N` replays one case alone and prints its bytes and what came back; `--hold` also holds
//! many stalled connections (huge lengths, startups never finished) and reports memory and
//! liveness; `--keep-going` starts a fresh server after a failure and goes on (to find more than
//! one); `--postgres` fuzzes a reference PostgreSQL instead (a check of the fuzzer itself).

use driftdb_integration_tests::postgres::ReferencePostgres;
use driftdb_integration_tests::wirefuzz::{
    self, Case, FuzzConfig, FuzzServer, PanicSeen, Recording, Stall, Timeouts,
};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Args {
    seconds: u64,
    seed: u64,
    workers: usize,
    first: u64,
    case: Option<u64>,
    hold: bool,
    keep_going: bool,
    postgres: bool,
}

fn args() -> Args {
    let mut args = Args {
        seconds: 60,
        seed: 18,
        workers: 4,
        first: 0,
        case: None,
        hold: false,
        keep_going: false,
        postgres: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut number = |name: &str| -> u64 {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| usage(&format!("{name} needs a number")))
        };
        match arg.as_str() {
            "--seconds" => args.seconds = number("--seconds"),
            "--seed" => args.seed = number("--seed"),
            "--workers" => args.workers = number("--workers").max(1) as usize,
            "--first" => args.first = number("--first"),
            "--case" => args.case = Some(number("--case")),
            "--hold" => args.hold = true,
            "--keep-going" => args.keep_going = true,
            "--postgres" => args.postgres = true,
            other => usage(&format!("unknown argument {other}")),
        }
    }
    args
}

fn usage(problem: &str) -> ! {
    eprintln!("{problem}");
    eprintln!(
        "usage: wire_fuzz [--seconds N] [--seed S] [--workers W] [--first N] [--case N] [--hold] [--keep-going] [--postgres]"
    );
    std::process::exit(2);
}

/// The reference PostgreSQL, with the role and database the recordings log in as.
async fn postgres() -> (ReferencePostgres, SocketAddr) {
    let pg = ReferencePostgres::start().unwrap_or_else(|e| {
        eprintln!("cannot start the reference PostgreSQL: {e}");
        std::process::exit(2);
    });
    let admin = pg.connect().await;
    admin
        .batch_execute("CREATE USER tester SUPERUSER")
        .await
        .expect("create role");
    admin
        .batch_execute("CREATE DATABASE driftdb OWNER tester")
        .await
        .expect("create database");
    let addr = SocketAddr::from(([127, 0, 0, 1], pg.port()));
    (pg, addr)
}

/// A DriftDB server over its own temporary directory, warmed up with the recordings.
async fn fresh_server(recordings: &[Recording]) -> (Arc<FuzzServer>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Arc::new(FuzzServer::start(dir.path()));
    wirefuzz::warm_up(server.addr(), recordings).await;
    (server, dir)
}

/// Replays `case` alone on a fresh, warmed-up server; returns whether the server then still
/// answered and the panics it printed.
async fn replay_alone(case: &Case, recordings: &[Recording]) -> (Result<(), String>, Vec<String>) {
    let (server, _dir) = fresh_server(recordings).await;
    let before = server.panics().len();
    wirefuzz::play(server.addr(), case, Timeouts::default()).await;
    let answered = wirefuzz::answers_select_1(server.addr(), Duration::from_secs(20)).await;
    // A panic is printed before its connection closes; give the stderr reader a moment.
    let until = Instant::now() + Duration::from_millis(500);
    while server.panics().len() == before && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (answered, server.panics()[before..].to_vec())
}

async fn one_case(addr: SocketAddr, recordings: &[Recording], seed: u64, number: u64) {
    let case = Case::generate(seed, number, recordings);
    print!("{}", case.describe());
    let outcome = wirefuzz::play(addr, &case, Timeouts::default()).await;
    println!("outcome: {outcome:?}");
    println!(
        "then SELECT 1: {:?}",
        wirefuzz::answers_select_1(addr, Duration::from_secs(20)).await
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args = args();
    let recordings = Arc::new(
        wirefuzz::load_recordings(&wirefuzz::recordings_dir()).unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(2);
        }),
    );
    let (mut server, mut _dir, _pg, mut addr) = if args.postgres {
        let (pg, addr) = postgres().await;
        wirefuzz::warm_up(addr, &recordings).await;
        (None, None, Some(pg), addr)
    } else {
        let (server, dir) = fresh_server(&recordings).await;
        let addr = server.addr();
        (Some(server), Some(dir), None, addr)
    };
    if let Some(number) = args.case {
        one_case(addr, &recordings, args.seed, number).await;
        if let Some(server) = &server {
            for line in server.panics() {
                println!("server panic: {line}");
            }
        }
        return;
    }
    println!(
        "wire fuzz: seed {}, {} workers, {} s, {} recordings, against {}",
        args.seed,
        args.workers,
        args.seconds,
        recordings.len(),
        if args.postgres {
            "PostgreSQL"
        } else {
            "DriftDB"
        }
    );
    if args.hold {
        for (stall, count) in [
            (Stall::HugeStartup, 200),
            (Stall::HugeQuery, 200),
            (Stall::HugeCopyData, 200),
            (Stall::Silent, 5000),
            (Stall::HalfStartup, 5000),
            (Stall::SslThenSilent, 5000),
        ] {
            let pid = server.as_ref().map(|s| s.pid());
            println!(
                "hold: {}",
                wirefuzz::hold_connections(addr, stall, count, pid).await
            );
        }
        let stalls = [Stall::Silent, Stall::HalfStartup, Stall::HugeQuery];
        let closed = futures::future::join_all(
            stalls.map(|stall| wirefuzz::time_until_closed(addr, stall, Duration::from_secs(90))),
        )
        .await;
        for (stall, closed) in stalls.iter().zip(closed) {
            println!("one {stall:?} connection is closed by the server after {closed:?}");
        }
    }
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let mut first = args.first;
    let mut failures: Vec<(String, Vec<u64>)> = Vec::new();
    let mut panics = Vec::new();
    // Rounds of 10 seconds, so progress is printed as it goes.
    while Instant::now() < deadline {
        let mut config = FuzzConfig::new(args.seed, u64::MAX);
        config.workers = args.workers;
        config.first = first;
        config.deadline = Some(deadline.min(Instant::now() + Duration::from_secs(10)));
        let report = wirefuzz::fuzz(addr, recordings.clone(), &config, server.clone()).await;
        first += report.cases + args.workers as u64;
        println!(
            "[{:>4} s] {}",
            started.elapsed().as_secs(),
            report.summary()
        );
        if !report.kept_open.is_empty() {
            println!(
                "  cases after which the server kept the connection open past the client's EOF: {:?}",
                report.kept_open
            );
        }
        panics.extend(report.panics.clone());
        let Some(failure) = &report.failure else {
            continue;
        };
        println!("{failure}");
        println!("replaying each case in flight alone on a fresh server:");
        let mut culprits = Vec::new();
        for case in &failure.suspects {
            let (answered, panics) = replay_alone(case, &recordings).await;
            println!(
                "  case {}: SELECT 1 afterwards {:?}; panics {:?}",
                case.number, answered, panics
            );
            if answered.is_err() {
                culprits.push(case.number);
            }
        }
        failures.push((failure.signature(), culprits));
        if !args.keep_going || server.is_none() {
            break;
        }
        let (fresh, dir) = fresh_server(&recordings).await;
        addr = fresh.addr();
        server = Some(fresh);
        _dir = Some(dir);
        println!("going on with a fresh server from case {first}");
    }
    report_panics(&panics, &recordings, args.seed).await;
    println!("{} failures", failures.len());
    for (signature, culprits) in &failures {
        println!("  {signature} (reproduced alone by cases {culprits:?})");
    }
    if !failures.is_empty() {
        std::process::exit(1);
    }
}

/// Groups the panics by where they happened and finds, for each place, a case that causes it
/// alone.
async fn report_panics(panics: &[PanicSeen], recordings: &[Recording], seed: u64) {
    if panics.is_empty() {
        return;
    }
    println!(
        "the server panicked {} times (and went on answering):",
        panics.len()
    );
    let mut places: Vec<(String, Vec<u64>, usize)> = Vec::new();
    for panic in panics {
        let place = panic.line.split(" | ").next().unwrap_or_default();
        let place = place
            .split(") panicked at ")
            .last()
            .unwrap_or(place)
            .to_string();
        match places.iter_mut().find(|(p, _, _)| *p == place) {
            Some((_, suspects, count)) => {
                *count += 1;
                if suspects.len() < 12 {
                    suspects.extend(&panic.suspects);
                }
            }
            None => places.push((place, panic.suspects.clone(), 1)),
        }
    }
    for (place, suspects, count) in &places {
        let example = panics.iter().find(|p| p.line.contains(place.as_str()));
        println!(
            "  {count}× {}",
            example.map_or(place.as_str(), |p| p.line.as_str())
        );
        for &number in suspects {
            let case = Case::generate(seed, number, recordings);
            let (_, seen) = replay_alone(&case, recordings).await;
            if !seen.is_empty() {
                println!("    reproduced alone by:\n{}", case.describe());
                break;
            }
        }
    }
}
