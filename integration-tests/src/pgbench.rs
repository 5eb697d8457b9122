//! PostgreSQL's own benchmark tool, `pgbench`, run unchanged against a server: `pgbench -i` to
//! create and load its tables, then its built-in scripts (TPC-B-like, select-only). Shared by the
//! test that pgbench works and by `make bench`, which runs it against both servers.

use crate::postgres::bin_dir;
use std::process::Command;

/// Where and as whom pgbench connects.
#[derive(Clone, Debug)]
pub struct Target {
    pub port: u16,
    pub user: String,
    pub database: String,
}

/// What a run reports.
#[derive(Clone, Copy, Debug, Default)]
pub struct Outcome {
    /// Transactions that committed.
    pub processed: u64,
    /// Transactions that failed (pgbench counts them since PostgreSQL 15).
    pub failed: u64,
    /// Committed transactions per second, without the initial connection time.
    pub tps: f64,
}

impl Outcome {
    /// The share of transactions that failed.
    pub fn failure_rate(&self) -> f64 {
        self.failed as f64 / (self.processed + self.failed).max(1) as f64
    }
}

fn pgbench(target: &Target, args: &[&str]) -> Result<String, String> {
    let binary = bin_dir()?.join("pgbench");
    let port = target.port.to_string();
    let output = Command::new(&binary)
        .args(["-h", "127.0.0.1", "-p", &port, "-U", &target.user])
        .args(args)
        .arg(&target.database)
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    match output.status.success() {
        true => Ok(text),
        false => Err(format!("pgbench {} failed:\n{text}", args.join(" "))),
    }
}

/// `pgbench -i -s scale`: creates and loads pgbench's tables (client-side COPY with FREEZE,
/// VACUUM, primary keys), with any further options; its output.
pub fn initialize(target: &Target, scale: u32, options: &[&str]) -> Result<String, String> {
    let scale = scale.to_string();
    let mut args = vec!["-i", "-s", scale.as_str()];
    args.extend_from_slice(options);
    pgbench(target, &args)
}

/// Runs pgbench with `args` (clients, duration or transactions, script, protocol) and reads its
/// report.
pub fn run(target: &Target, args: &[&str]) -> Result<Outcome, String> {
    let output = pgbench(target, args)?;
    let number = |prefix: &str| -> Option<f64> {
        let line = output.lines().find(|line| line.starts_with(prefix))?;
        // `200/200` with `-t`: the first number is what was processed.
        let value = line[prefix.len()..].split_whitespace().next()?;
        value.split('/').next()?.parse().ok()
    };
    let read = || -> Option<Outcome> {
        Some(Outcome {
            processed: number("number of transactions actually processed:")? as u64,
            failed: number("number of failed transactions:").unwrap_or(0.0) as u64,
            tps: number("tps =")?,
        })
    };
    read().ok_or_else(|| format!("cannot read pgbench's report:\n{output}"))
}
