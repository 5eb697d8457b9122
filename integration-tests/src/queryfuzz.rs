//! Hunting for wrong answers: random tables, rows and queries, each run on DriftDB and on the
//! reference PostgreSQL over the simple query protocol and compared as PostgreSQL would show
//! them, plus ternary logic partitioning checked on DriftDB's own answers.
//!
//! Everything is deterministic from a `u64` seed (an in-house splitmix64): round `r` of seed `s`
//! builds the same tables, rows and queries every time. A difference is reported with its seed,
//! round and case, the statements that rebuild its tables and the exact query, reduced first
//! (fewer rows, tables, clauses and operands while the same difference remains).
//!
//! `tests/query_fuzz.rs` runs a few fixed-seed rounds in `make test`; `examples/query_fuzz.rs`
//! runs for a given time (`make fuzz`).

mod ast;
mod generate;
mod oracle;
mod queries;
mod schema;
mod shrink;
mod tlp;

pub use ast::Query;
pub use generate::Avoid;
pub use oracle::{Difference, Outcome};

use crate::TestServer;
use crate::postgres::ReferencePostgres;
use crate::splitmix::SplitMix64;
use generate::Generator;
use oracle::{compare, execute};
use schema::{Setup, SetupStatement};
use std::collections::HashSet;
use std::fmt::{self, Display, Formatter};
use std::time::{Duration, Instant};
use tlp::TlpCase;
use tokio_postgres::Client;

/// The fuzzer's choices, over [`SplitMix64`].
#[derive(Clone, Debug)]
pub struct Rng(SplitMix64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(SplitMix64::new(seed))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// A number in `low..=high`.
    pub fn range(&mut self, low: i64, high: i64) -> i64 {
        low + self.below((high - low + 1) as u64) as i64
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// The seed of round `round` of a session seeded `seed`.
pub fn round_seed(seed: u64, round: u64) -> u64 {
    Rng::new(seed ^ round.wrapping_mul(0xD1B5_4A32_D192_ED03)).next_u64()
}

/// What a session runs.
#[derive(Clone, Debug)]
pub struct Config {
    pub seed: u64,
    /// The first round (to replay one round of a long session).
    pub first_round: u64,
    /// Stop after this many rounds…
    pub rounds: Option<u64>,
    /// …or after this long (checked between rounds).
    pub duration: Option<Duration>,
    /// Queries (or partitioning checks) per round, over that round's tables.
    pub cases_per_round: u32,
    /// Reduce each difference before reporting it.
    pub reduce: bool,
    /// Print each difference as it is found, and progress.
    pub print: bool,
    /// Known differences to steer around.
    pub avoid: Avoid,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            seed: 1,
            first_round: 0,
            rounds: Some(1),
            duration: None,
            cases_per_round: 20,
            reduce: true,
            print: false,
            avoid: Avoid::known(),
        }
    }
}

/// A reproducible difference: the setup script and the statements, with both servers' answers.
#[derive(Clone, Debug)]
pub struct Finding {
    pub difference: Difference,
    pub seed: u64,
    pub round: u64,
    pub case: u32,
    pub reduced: bool,
    /// Statements that build the tables from an empty database.
    pub setup: Vec<String>,
    /// The statements compared, each with DriftDB's and PostgreSQL's answer.
    pub statements: Vec<(String, Outcome, Outcome)>,
}

impl Display for Finding {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "-- {} (seed {}, round {}, case {}{})",
            self.difference,
            self.seed,
            self.round,
            self.case,
            if self.reduced { ", reduced" } else { "" }
        )?;
        for statement in &self.setup {
            writeln!(f, "{statement};")?;
        }
        for (sql, driftdb, postgres) in &self.statements {
            writeln!(f, "{sql};")?;
            writeln!(f, "--   DriftDB:    {driftdb}")?;
            writeln!(f, "--   PostgreSQL: {postgres}")?;
        }
        Ok(())
    }
}

/// What a session did and found.
#[derive(Debug, Default)]
pub struct Report {
    pub rounds: u64,
    /// Statements compared (setup statements, queries and partitions).
    pub statements: u64,
    pub partitioning_checks: u64,
    /// Statements both servers refused with one SQLSTATE (the generator's misses).
    pub both_failed: u64,
    /// Statements skipped because a server hit statement_timeout.
    pub timeouts: u64,
    pub findings: Vec<Finding>,
    /// Differences not reported again: the same error, or the same reduced statements.
    pub duplicates: u64,
    pub elapsed: Duration,
}

impl Display for Report {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} rounds, {} statements compared, {} partitioning checks, {} refused by both, \
             {} timeouts, {} differences ({} more duplicates) in {:.1}s",
            self.rounds,
            self.statements,
            self.partitioning_checks,
            self.both_failed,
            self.timeouts,
            self.findings.len(),
            self.duplicates,
            self.elapsed.as_secs_f64()
        )
    }
}

/// One thing to check over a round's tables (few are made, so their size does not matter).
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)]
enum Case {
    /// One query, on both servers.
    Differential(Query),
    /// A query and its three partitions, on both servers, and the partitioning on DriftDB.
    Partitioning(TlpCase),
}

/// A case's statements and answers, and the difference found, if any.
struct Evaluation {
    statements: Vec<(String, Outcome, Outcome)>,
    difference: Option<Difference>,
    skipped: bool,
    both_failed: u64,
}

impl Case {
    fn queries(&self) -> Vec<(String, bool)> {
        match self {
            Case::Differential(query) => vec![(query.to_string(), query.totally_ordered())],
            Case::Partitioning(tlp) => std::iter::once(tlp.whole())
                .chain(tlp.partitions())
                .map(|q| (q.to_string(), false))
                .collect(),
        }
    }

    fn shrink(&self) -> Vec<Case> {
        match self {
            Case::Differential(query) => shrink::query(query)
                .into_iter()
                .map(Case::Differential)
                .collect(),
            Case::Partitioning(tlp) => {
                let mut out: Vec<Case> = shrink::expr(&tlp.predicate)
                    .into_iter()
                    .map(|predicate| {
                        Case::Partitioning(TlpCase {
                            predicate,
                            ..tlp.clone()
                        })
                    })
                    .collect();
                out.extend(shrink::select(&tlp.select).into_iter().map(|select| {
                    Case::Partitioning(TlpCase {
                        select,
                        ..tlp.clone()
                    })
                }));
                out
            }
        }
    }
}

/// DriftDB and the reference PostgreSQL, both started for the session.
pub struct Session {
    drift: Client,
    pg: Client,
    driftdb: Option<TestServer>,
    _postgres: ReferencePostgres,
    /// DriftDB's data directory, removed after the server stops (fields drop in order).
    _dir: tempfile::TempDir,
}

/// Both servers give up on a statement after this long (57014), and the case is skipped.
const STATEMENT_TIMEOUT: &str = "SET statement_timeout = '20s'";
/// Reduction stops after this many attempts per difference.
const REDUCTION_ATTEMPTS: usize = 1500;

impl Session {
    /// Starts a DriftDB server over a temporary directory and a reference PostgreSQL.
    pub async fn start() -> Result<Session, String> {
        let postgres = ReferencePostgres::start()?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let driftdb = TestServer::start(dir.path());
        let drift = driftdb.connect().await;
        let pg = postgres.connect().await;
        for client in [&drift, &pg] {
            client
                .batch_execute(STATEMENT_TIMEOUT)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(Session {
            _dir: dir,
            driftdb: Some(driftdb),
            _postgres: postgres,
            drift,
            pg,
        })
    }

    /// After DriftDB's connection broke: a fresh server over the same directory (or a fresh
    /// connection, if the server still runs).
    async fn recover_driftdb(&mut self) {
        let server = self.driftdb.take().expect("a DriftDB server");
        let server = match server.connect_to("driftdb").await {
            Ok(client) if !client.is_closed() => {
                self.drift = client;
                server
            }
            _ => {
                let server = server.restart();
                self.drift = server.connect().await;
                server
            }
        };
        let _ = self.drift.batch_execute(STATEMENT_TIMEOUT).await;
        self.driftdb = Some(server);
    }

    async fn both(&mut self, sql: &str) -> (Outcome, Outcome) {
        let driftdb = execute(&self.drift, sql).await;
        let postgres = execute(&self.pg, sql).await;
        if let Outcome::Lost(reason) = &postgres {
            panic!("the reference PostgreSQL stopped answering ({reason}) at: {sql}");
        }
        if matches!(driftdb, Outcome::Lost(_)) {
            self.recover_driftdb().await;
        }
        (driftdb, postgres)
    }

    /// Runs the setup on both servers; the first statement whose effects differ, if any.
    async fn apply(&mut self, setup: &Setup) -> Option<Vec<(String, Outcome, Outcome)>> {
        let mut done = Vec::new();
        for sql in setup.sql() {
            let (driftdb, postgres) = self.both(&sql).await;
            let differs = compare(&driftdb, &postgres, true).is_some();
            done.push((sql, driftdb, postgres));
            if differs {
                return Some(done);
            }
        }
        None
    }

    async fn evaluate(&mut self, case: &Case) -> Evaluation {
        let mut evaluation = Evaluation {
            statements: Vec::new(),
            difference: None,
            skipped: false,
            both_failed: 0,
        };
        let mut first_difference = None;
        for (sql, ordered) in case.queries() {
            let (driftdb, postgres) = self.both(&sql).await;
            if driftdb.is_timeout() || postgres.is_timeout() {
                evaluation.skipped = true;
                return evaluation;
            }
            let difference = compare(&driftdb, &postgres, ordered);
            if difference.is_none() && driftdb.code().is_some() {
                evaluation.both_failed += 1;
            }
            if first_difference.is_none()
                && let Some(difference) = difference
            {
                first_difference = Some((evaluation.statements.len(), difference));
            }
            let lost = matches!(driftdb, Outcome::Lost(_));
            evaluation.statements.push((sql, driftdb, postgres));
            if lost {
                break;
            }
        }
        if let Case::Partitioning(tlp) = case
            && evaluation.statements.len() == 4
            && tlp.valid()
        {
            let rows: Vec<Option<&[oracle::Row]>> = evaluation
                .statements
                .iter()
                .map(|(_, driftdb, _)| driftdb.rows())
                .collect();
            if let [Some(whole), Some(a), Some(b), Some(c)] = rows[..]
                && !tlp.holds(whole, [a, b, c])
            {
                evaluation.difference = Some(Difference::Partitioning);
                return evaluation;
            }
        }
        if let Some((index, difference)) = first_difference {
            // Report the one statement that differs.
            evaluation.statements = vec![evaluation.statements.swap_remove(index)];
            evaluation.difference = Some(difference);
        }
        evaluation
    }

    /// Runs rounds until the configured count or time is reached.
    pub async fn run(&mut self, config: &Config) -> Report {
        let start = Instant::now();
        let mut report = Report::default();
        let mut seen: HashSet<String> = HashSet::new();
        let mut round = config.first_round;
        loop {
            if config
                .rounds
                .is_some_and(|n| round >= config.first_round + n)
                || config.duration.is_some_and(|d| start.elapsed() >= d)
            {
                break;
            }
            self.round(config, round, &mut report, &mut seen).await;
            report.rounds += 1;
            round += 1;
            if config.print && round.is_multiple_of(10) {
                eprintln!("round {round}: {report}");
            }
        }
        report.elapsed = start.elapsed();
        report
    }

    async fn round(
        &mut self,
        config: &Config,
        round: u64,
        report: &mut Report,
        seen: &mut HashSet<String>,
    ) {
        let mut rng = Rng::new(round_seed(config.seed, round));
        let mut setup = schema::tables(&mut rng);
        let writes: Vec<SetupStatement> = {
            let mut generator = Generator::new(&mut rng, &setup.tables, config.avoid);
            let mut writes = Vec::new();
            for table in &setup.tables {
                if generator.rng.chance(25) {
                    writes.push(generator.write(table));
                }
            }
            writes
        };
        setup.statements.extend(writes);
        let sql_count = setup.sql().len() as u64;
        if let Some(statements) = self.apply(&setup).await {
            report.statements += statements.len() as u64;
            let failing = statements.last().expect("a statement");
            let setup_sql: Vec<String> = statements[..statements.len() - 1]
                .iter()
                .map(|s| s.0.clone())
                .collect();
            let finding = Finding {
                difference: Difference::Setup,
                seed: config.seed,
                round,
                case: 0,
                reduced: false,
                setup: setup_sql,
                statements: vec![failing.clone()],
            };
            self.record(config, finding, report, seen);
            return;
        }
        report.statements += sql_count;
        let mut failures = Vec::new();
        for index in 0..config.cases_per_round {
            let case = {
                let mut generator = Generator::new(&mut rng, &setup.tables, config.avoid);
                if generator.rng.chance(35) {
                    Case::Partitioning(TlpCase::generate(&mut generator))
                } else {
                    Case::Differential(generator.top_query())
                }
            };
            if matches!(case, Case::Partitioning(_)) {
                report.partitioning_checks += 1;
            }
            let evaluation = self.evaluate(&case).await;
            report.statements += evaluation.statements.len() as u64;
            report.both_failed += evaluation.both_failed;
            if evaluation.skipped {
                report.timeouts += 1;
                continue;
            }
            if let Some(difference) = evaluation.difference {
                let lost = difference == Difference::Lost;
                failures.push((index, case, difference, evaluation.statements));
                if lost {
                    // The server restarted: this round's tables are still there (DDL and
                    // commits are durable), but stop here.
                    break;
                }
            }
        }
        for (index, case, difference, statements) in failures {
            let signature = match &difference {
                Difference::DriftDbFails(..) | Difference::Codes(..) => {
                    Some(difference.to_string())
                }
                Difference::PostgresFails(code) => Some(format!("{difference} {code}")),
                _ => None,
            };
            if let Some(signature) = &signature
                && seen.contains(signature)
            {
                report.duplicates += 1;
                continue;
            }
            let mut finding = Finding {
                difference: difference.clone(),
                seed: config.seed,
                round,
                case: index,
                reduced: false,
                setup: setup.sql(),
                statements,
            };
            if config.reduce && difference != Difference::Lost {
                finding = self.reduce(&setup, case, finding).await;
            }
            if let Some(signature) = signature {
                seen.insert(signature);
            }
            self.record(config, finding, report, seen);
        }
    }

    fn record(
        &self,
        config: &Config,
        finding: Finding,
        report: &mut Report,
        seen: &mut HashSet<String>,
    ) {
        let key = format!(
            "{}{:?}",
            finding.setup.join(";"),
            finding
                .statements
                .iter()
                .map(|s| oracle::mask_digits(&s.0))
                .collect::<Vec<_>>()
        );
        if !seen.insert(key) {
            report.duplicates += 1;
            return;
        }
        if config.print {
            println!("{finding}");
        }
        report.findings.push(finding);
    }

    /// Whether `evaluation` shows `difference` again (an error with the same SQLSTATE and
    /// message shape), on statements PostgreSQL accepts (PostgreSQL must answer every
    /// statement of a partitioning check, or the reduced query is not valid SQL).
    fn same_difference(difference: &Difference, evaluation: &Evaluation) -> bool {
        evaluation.difference.as_ref() == Some(difference)
            && (*difference != Difference::Partitioning
                || evaluation
                    .statements
                    .iter()
                    .all(|(_, _, postgres)| postgres.rows().is_some()))
    }

    /// Smaller statements and fewer rows while the same difference remains.
    async fn reduce(&mut self, setup: &Setup, case: Case, finding: Finding) -> Finding {
        let difference = finding.difference.clone();
        let mut best_case = case;
        let mut best_setup = setup.clone();
        let mut best_statements = finding.statements.clone();
        let mut attempts = 0;
        'passes: loop {
            let mut progressed = false;
            // The query first: it needs no new setup.
            for candidate in best_case.shrink() {
                attempts += 1;
                if attempts > REDUCTION_ATTEMPTS {
                    break 'passes;
                }
                let evaluation = self.evaluate(&candidate).await;
                if Self::same_difference(&difference, &evaluation) {
                    best_case = candidate;
                    best_statements = evaluation.statements;
                    progressed = true;
                    break;
                }
            }
            if progressed {
                continue;
            }
            let sql: Vec<String> = best_case.queries().into_iter().map(|q| q.0).collect();
            for candidate in shrink::setup(&best_setup, &sql) {
                attempts += 1;
                if attempts > REDUCTION_ATTEMPTS {
                    break 'passes;
                }
                if self.apply(&candidate).await.is_some() {
                    continue;
                }
                let evaluation = self.evaluate(&best_case).await;
                if Self::same_difference(&difference, &evaluation) {
                    best_setup = candidate;
                    best_statements = evaluation.statements;
                    progressed = true;
                    break;
                }
            }
            if !progressed {
                break;
            }
        }
        // Leave the servers with the round's tables for whatever runs next.
        let _ = self.apply(setup).await;
        if let Case::Partitioning(_) = &best_case
            && difference == Difference::Partitioning
            && best_statements.len() == 4
        {
            // Show the partitions' rows sorted, the way they are compared.
            for statement in &mut best_statements {
                sort_rows(&mut statement.1);
                sort_rows(&mut statement.2);
            }
        }
        for statement in &mut best_statements {
            if !best_case
                .queries()
                .iter()
                .any(|q| q.0 == statement.0 && q.1)
            {
                sort_rows(&mut statement.1);
                sort_rows(&mut statement.2);
            }
        }
        Finding {
            reduced: true,
            setup: best_setup.sql(),
            statements: best_statements,
            ..finding
        }
    }
}

fn sort_rows(outcome: &mut Outcome) {
    if let Outcome::Rows { rows, .. } = outcome {
        rows.sort();
    }
}
