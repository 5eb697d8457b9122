//! The soak workload and its checks. Many clients run a mixed load against one server: inserts of
//! rows with unique ids (an id counts as acknowledged only once its commit was), point reads of
//! acknowledged rows, money transfers in REPEATABLE READ retried on `40001` (the shared workload
//! of [`crate::transfers`]), aggregates, and `AS OF` reads. Any error but `40001` is a failure.
//!
//! The checks after a run: every acknowledged row present (and no row nobody tried to insert),
//! the money total conserved now and `AS OF` past seqs, `driftdb_current_seq()` not behind any seq
//! a client saw after an acknowledged commit, and the commit log `driftdb_commits` without gaps.
//!
//! [`soak`] runs the load for a given time and samples the server's resident memory;
//! [`crash_loop`] kills the server (SIGKILL) under the load at a random moment, restarts it over
//! the same data directory and checks, round after round, then runs `driftdb-server verify`.
//! Both report what they measured and every failure; the callers decide what to assert.

mod check;
mod memory;
mod workload;

pub use check::Snapshot;
pub use memory::{MemoryCurve, MemoryVerdict, rss_kib};
pub use workload::{ACCOUNTS, KINDS, OPENING_BALANCE, SplitMix64, TOTAL, Tally};

use crate::{TestServer, server_binary};
use check::check_state;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio_postgres::Client;
use workload::{Shared, Worker, set_up};

/// How to run [`soak`].
#[derive(Clone, Debug)]
pub struct SoakConfig {
    pub clients: usize,
    pub duration: Duration,
    pub seed: u64,
    /// How often the server's memory is sampled.
    pub sample_every: Duration,
}

/// What [`soak`] measured and found.
#[derive(Clone, Debug)]
pub struct SoakReport {
    pub clients: usize,
    pub seconds: f64,
    pub tally: Tally,
    pub memory: MemoryCurve,
    /// Operations completed by each memory sample's time: (seconds, operations so far).
    pub progress: Vec<(f64, u64)>,
    pub state: Snapshot,
    /// Wrong state after the run, and `verify` failing.
    pub check_failures: Vec<String>,
}

impl SoakReport {
    /// Whether every client and every check passed (memory is judged apart).
    pub fn passed(&self) -> bool {
        !self.tally.failed() && self.check_failures.is_empty()
    }

    pub fn memory_verdict(&self) -> Option<MemoryVerdict> {
        self.memory.verdict(self.seconds)
    }
}

fn write_tally(f: &mut fmt::Formatter<'_>, tally: &Tally, seconds: f64) -> fmt::Result {
    let rate = |n: u64| n as f64 / seconds.max(f64::EPSILON);
    writeln!(
        f,
        "operations: {} ({:.1}/s)",
        tally.total_ops(),
        rate(tally.total_ops())
    )?;
    for (kind, n) in KINDS.iter().zip(tally.ops) {
        writeln!(f, "  {kind:>11}: {n:>9} ({:.1}/s)", rate(n))?;
    }
    writeln!(
        f,
        "acknowledged commits: {} ({:.1}/s); transfers refused {}, retried on 40001 {}; writes cut off by a kill: {}",
        tally.acked_commits,
        rate(tally.acked_commits),
        tally.refused,
        tally.retries,
        tally.in_doubt
    )?;
    writeln!(f, "errors by SQLSTATE: {:?}", tally.errors)?;
    for failure in &tally.failures {
        writeln!(f, "FAILURE: {failure}")?;
    }
    if tally.failures_unlisted > 0 {
        writeln!(f, "... and {} more failures", tally.failures_unlisted)?;
    }
    Ok(())
}

impl fmt::Display for SoakReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "soak: {} clients for {:.1} s",
            self.clients, self.seconds
        )?;
        write_tally(f, &self.tally, self.seconds)?;
        writeln!(
            f,
            "final state: seq {}, {} items ({} acknowledged inserts checked)",
            self.state.seq, self.state.items, self.state.acked_items
        )?;
        for failure in &self.check_failures {
            writeln!(f, "CHECK FAILED: {failure}")?;
        }
        write!(f, "operations per second, by sampling interval (s: ops/s):")?;
        // Intervals ending after the run are the clients finishing their last operation.
        let intervals = self
            .progress
            .windows(2)
            .filter(|pair| pair[1].0 <= self.seconds);
        for (i, pair) in intervals.enumerate() {
            if i % 10 == 0 {
                writeln!(f)?;
                write!(f, " ")?;
            }
            let rate = (pair[1].1 - pair[0].1) as f64 / (pair[1].0 - pair[0].0).max(f64::EPSILON);
            write!(f, " {:.0}:{rate:.0}", pair[1].0)?;
        }
        writeln!(f)?;
        writeln!(f, "{}", self.memory)?;
        match self.memory_verdict() {
            Some(verdict) => write!(f, "{verdict}"),
            None => write!(f, "memory: too few samples after warm-up to judge"),
        }
    }
}

/// Starts a server without blocking the runtime.
async fn start_server(dir: &Path) -> TestServer {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || TestServer::start(&dir))
        .await
        .expect("the server starts")
}

/// The message of a client task that panicked.
fn panic_message(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic".to_string()),
        Err(e) => e.to_string(),
    }
}

/// Runs `workers` on their own connections until `deadline` (or until `shared.stopping`), and
/// gives them back; a worker whose client panicked comes back fresh, with the panic as a failure.
async fn run_workers(
    connections: Vec<Client>,
    workers: Vec<Worker>,
    shared: &Arc<Shared>,
    deadline: Instant,
    seed: u64,
) -> Vec<Worker> {
    let tasks: Vec<_> = connections
        .into_iter()
        .zip(workers)
        .map(|(client, mut worker)| {
            let shared = shared.clone();
            let slot = worker.slot;
            let task = tokio::spawn(async move {
                worker.run(&client, &shared, deadline).await;
                worker
            });
            (slot, task)
        })
        .collect();
    let mut back = Vec::with_capacity(tasks.len());
    for (slot, task) in tasks {
        back.push(task.await.unwrap_or_else(|e| {
            let mut fresh = Worker::new(seed.wrapping_add(0x5EED), slot);
            fresh
                .tally
                .fail(format!("client {slot} panicked: {}", panic_message(e)));
            fresh
        }));
    }
    back
}

/// Runs `driftdb-server verify` over `dir`; a failure message unless it exits 0.
fn verify(dir: &Path) -> Result<String, String> {
    let output = std::process::Command::new(server_binary())
        .args(["verify", "--data-path"])
        .arg(dir)
        .output()
        .map_err(|e| format!("driftdb-server verify did not run: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() {
        Ok(text.lines().last().unwrap_or_default().to_string())
    } else {
        Err(format!(
            "driftdb-server verify exited with {}: {}",
            output.status,
            text.trim()
        ))
    }
}

/// Connects `n` clients; a failure message if one cannot connect.
async fn connect_all(server: &TestServer, n: usize) -> Result<Vec<Client>, String> {
    let mut connections = Vec::with_capacity(n);
    for i in 0..n {
        let client = server
            .connect_to("driftdb")
            .await
            .map_err(|e| format!("client {i} could not connect: {e}"))?;
        connections.push(client);
    }
    Ok(connections)
}

/// Runs the mixed workload with `config.clients` clients for `config.duration` against a fresh
/// server, sampling its memory, then checks the database and runs `verify` over it.
pub async fn soak(config: &SoakConfig) -> SoakReport {
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut server = start_server(dir.path()).await;
    let pid = server.pid().expect("the server runs");
    set_up(&server.connect().await).await;
    let shared = Arc::new(Shared::new());
    let mut report = SoakReport {
        clients: config.clients,
        seconds: 0.0,
        tally: Tally::default(),
        memory: MemoryCurve::default(),
        progress: Vec::new(),
        state: Snapshot::default(),
        check_failures: Vec::new(),
    };
    let connections = match connect_all(&server, config.clients).await {
        Ok(connections) => connections,
        Err(message) => {
            report.check_failures.push(message);
            return report;
        }
    };

    let start = Instant::now();
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (sampling, every, shared) = (sampling.clone(), config.sample_every, shared.clone());
        tokio::spawn(async move {
            let (mut samples, mut progress) = (Vec::new(), Vec::new());
            let mut ticks = tokio::time::interval(every);
            while sampling.load(Ordering::SeqCst) {
                ticks.tick().await;
                let secs = start.elapsed().as_secs_f64();
                progress.push((secs, shared.ops_done.load(Ordering::Relaxed)));
                if let Some(kib) = rss_kib(pid) {
                    samples.push((secs, kib));
                }
            }
            (samples, progress)
        })
    };
    let workers = (0..config.clients)
        .map(|slot| Worker::new(config.seed, slot))
        .collect();
    let workers = run_workers(
        connections,
        workers,
        &shared,
        start + config.duration,
        config.seed,
    )
    .await;
    report.seconds = start.elapsed().as_secs_f64();
    sampling.store(false, Ordering::SeqCst);
    (report.memory.samples, report.progress) = sampler.await.expect("the memory sampler ran");
    for worker in &workers {
        report.tally.add(&worker.tally);
    }

    let checker = server.connect().await;
    let (state, failures) = check_state(&checker, &shared).await;
    report.state = state;
    report.check_failures = failures;
    drop(checker);
    if !server.terminate().success() {
        report
            .check_failures
            .push("the server did not stop cleanly on SIGTERM".to_string());
    }
    if let Err(message) = verify(dir.path()) {
        report.check_failures.push(message);
    }
    report
}

/// How to run [`crash_loop`].
#[derive(Clone, Debug)]
pub struct CrashConfig {
    pub rounds: usize,
    pub clients: usize,
    /// Each round runs the load for a random time up to this long (at least a tenth of it).
    pub max_round: Duration,
    pub seed: u64,
}

/// One round of [`crash_loop`].
#[derive(Clone, Debug)]
pub struct Round {
    pub load_secs: f64,
    pub acked_commits: u64,
    /// Writes in flight when the server was killed.
    pub in_doubt: u64,
    /// Seconds from the restart to the server listening.
    pub restart_secs: f64,
    pub state: Snapshot,
    pub failures: Vec<String>,
}

/// What [`crash_loop`] did and found.
#[derive(Clone, Debug, Default)]
pub struct CrashReport {
    pub clients: usize,
    pub rounds: Vec<Round>,
    pub tally: Tally,
    pub seconds: f64,
    /// `verify` after the last kill and after the final clean stop.
    pub verify: Vec<String>,
    pub failures: Vec<String>,
}

impl CrashReport {
    pub fn passed(&self) -> bool {
        !self.tally.failed()
            && self.failures.is_empty()
            && self.rounds.iter().all(|r| r.failures.is_empty())
    }
}

impl fmt::Display for CrashReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "crash loop: {} rounds of {} clients, kill -9 under load, restart, check ({:.1} s)",
            self.rounds.len(),
            self.clients,
            self.seconds
        )?;
        for (i, round) in self.rounds.iter().enumerate() {
            writeln!(
                f,
                "  round {:>3}: load {:.2} s, {:>5} acked commits, {:>2} writes cut off, restart {:.2} s, seq {}, items {}{}",
                i + 1,
                round.load_secs,
                round.acked_commits,
                round.in_doubt,
                round.restart_secs,
                round.state.seq,
                round.state.items,
                if round.failures.is_empty() {
                    ""
                } else {
                    "  FAILED"
                }
            )?;
            for failure in &round.failures {
                writeln!(f, "    CHECK FAILED: {failure}")?;
            }
        }
        let load_secs: f64 = self.rounds.iter().map(|r| r.load_secs).sum();
        write!(f, "under load {load_secs:.1} s: ")?;
        write_tally(f, &self.tally, load_secs)?;
        for line in &self.verify {
            writeln!(f, "{line}")?;
        }
        for failure in &self.failures {
            writeln!(f, "FAILURE: {failure}")?;
        }
        write!(
            f,
            "crash loop: {} rounds, {} acknowledged commits, all present: {}",
            self.rounds.len(),
            self.tally.acked_commits,
            if self.passed() { "yes" } else { "NO" }
        )
    }
}

/// Kills the server under the mixed load `config.rounds` times: each round restarts it over the
/// same data directory, runs `config.clients` clients for a random time, sets the run stopping,
/// kills the server with SIGKILL while they commit, restarts it and checks the database. After
/// the last round, `verify` runs over the crashed directory and again after a clean stop.
pub async fn crash_loop(config: &CrashConfig) -> CrashReport {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut server = start_server(dir.path()).await;
    set_up(&server.connect().await).await;
    let shared = Arc::new(Shared::new());
    let mut random = SplitMix64::new(config.seed);
    let mut workers: Vec<Worker> = (0..config.clients)
        .map(|slot| Worker::new(config.seed, slot))
        .collect();
    let mut report = CrashReport {
        clients: config.clients,
        ..CrashReport::default()
    };
    let max_ms = config.max_round.as_millis().max(10) as u64;

    for round in 0..config.rounds {
        let connections = match connect_all(&server, config.clients).await {
            Ok(connections) => connections,
            Err(message) => {
                report
                    .failures
                    .push(format!("round {}: {message}", round + 1));
                break;
            }
        };
        let acked_before: u64 = workers.iter().map(|w| w.tally.acked_commits).sum();
        let in_doubt_before: u64 = workers.iter().map(|w| w.tally.in_doubt).sum();
        shared.stopping.store(false, Ordering::SeqCst);
        let load = Duration::from_millis(max_ms / 10 + random.below(max_ms - max_ms / 10 + 1));
        let load_started = Instant::now();
        let running = {
            let shared = shared.clone();
            let far = load_started + Duration::from_secs(24 * 3600);
            let seed = config.seed;
            tokio::spawn(async move { run_workers(connections, workers, &shared, far, seed).await })
        };
        // Not a synchronisation: the random moment the server dies while the clients commit.
        tokio::time::sleep(load).await;
        shared.stopping.store(true, Ordering::SeqCst);
        server.kill();
        workers = running.await.expect("the clients ran");
        let load_secs = load_started.elapsed().as_secs_f64();

        if round + 1 == config.rounds {
            match verify(dir.path()) {
                Ok(line) => report
                    .verify
                    .push(format!("verify after the last kill: {line}")),
                Err(message) => report
                    .failures
                    .push(format!("after the last kill: {message}")),
            }
        }
        let restarting = Instant::now();
        server = start_server(dir.path()).await;
        let restart_secs = restarting.elapsed().as_secs_f64();
        let (state, failures) = match server.connect_to("driftdb").await {
            Ok(checker) => check_state(&checker, &shared).await,
            Err(e) => (
                Snapshot::default(),
                vec![format!("no connection after the restart: {e}")],
            ),
        };
        report.rounds.push(Round {
            load_secs,
            acked_commits: workers.iter().map(|w| w.tally.acked_commits).sum::<u64>()
                - acked_before,
            in_doubt: workers.iter().map(|w| w.tally.in_doubt).sum::<u64>() - in_doubt_before,
            restart_secs,
            state,
            failures,
        });
    }

    for worker in &workers {
        report.tally.add(&worker.tally);
    }
    if !server.terminate().success() {
        report
            .failures
            .push("the server did not stop cleanly on SIGTERM".to_string());
    }
    match verify(dir.path()) {
        Ok(line) => report
            .verify
            .push(format!("verify after a clean stop: {line}")),
        Err(message) => report
            .failures
            .push(format!("after a clean stop: {message}")),
    }
    report.seconds = started.elapsed().as_secs_f64();
    report
}
