//! The soak's clients: the mixed operations, what each checks as it goes, and the tally of what
//! they did. An insert's id counts as acknowledged only once the server acknowledged its commit.

pub use crate::splitmix::SplitMix64;
use crate::{rows_or_error, transfers};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Instant;
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

/// Accounts in the transfer table.
pub const ACCOUNTS: u32 = 100;
/// Every account's opening balance.
pub const OPENING_BALANCE: i64 = 1_000;
/// The money in the bank, at every seq.
pub const TOTAL: i64 = ACCOUNTS as i64 * OPENING_BALANCE;
/// Failure messages kept per client (every error is still counted by SQLSTATE).
const MESSAGES_KEPT: usize = 20;

/// The kinds of operation, in the order of [`Tally::ops`].
pub const KINDS: [&str; 5] = [
    "insert",
    "point read",
    "transfer",
    "aggregate",
    "as of read",
];
/// How often each kind is picked, out of 100 (same order as [`KINDS`]).
const WEIGHTS: [u64; 5] = [30, 25, 25, 10, 10];

const INSERT: usize = 0;
const POINT_READ: usize = 1;
const TRANSFER: usize = 2;
const AGGREGATE: usize = 3;
const AS_OF: usize = 4;

/// What the clients did, added up.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Operations completed, by kind ([`KINDS`]).
    pub ops: [u64; 5],
    /// Commits the server acknowledged (inserts and transfers).
    pub acked_commits: u64,
    /// Transfer attempts that failed with `40001` or `40P01` and were retried.
    pub retries: u64,
    /// Transfers refused for lack of funds (rolled back).
    pub refused: u64,
    /// Writes cut off by the kill: sent, but neither acknowledged nor refused.
    pub in_doubt: u64,
    /// Every error by SQLSTATE (`40001` included; a client-side error counts as `(no SQLSTATE)`).
    pub errors: BTreeMap<String, u64>,
    /// Failures: errors other than `40001` and `40P01`, and wrong answers, with their messages.
    pub failures: Vec<String>,
    /// Failures beyond the messages kept.
    pub failures_unlisted: u64,
}

impl Tally {
    pub(super) fn fail(&mut self, message: String) {
        if self.failures.len() < MESSAGES_KEPT {
            self.failures.push(message);
        } else {
            self.failures_unlisted += 1;
        }
    }

    fn count_error(&mut self, code: &str) {
        *self.errors.entry(code.to_string()).or_default() += 1;
    }

    pub(super) fn add(&mut self, other: &Tally) {
        for (mine, theirs) in self.ops.iter_mut().zip(other.ops) {
            *mine += theirs;
        }
        self.acked_commits += other.acked_commits;
        self.retries += other.retries;
        self.refused += other.refused;
        self.in_doubt += other.in_doubt;
        for (code, n) in &other.errors {
            *self.errors.entry(code.clone()).or_default() += n;
        }
        self.failures.extend(other.failures.iter().cloned());
        self.failures_unlisted += other.failures_unlisted;
    }

    /// Whether anything went wrong.
    pub fn failed(&self) -> bool {
        !self.failures.is_empty() || self.failures_unlisted > 0
    }

    /// Operations completed, every kind together.
    pub fn total_ops(&self) -> u64 {
        self.ops.iter().sum()
    }
}

/// Which inserted ids were acknowledged, and which were cut off by a kill (may or may not be
/// there). Shared by the clients, so a client that panics loses nothing.
#[derive(Debug, Default)]
pub(super) struct Ledger {
    pub(super) acked: Vec<i64>,
    pub(super) in_doubt: Vec<i64>,
}

/// State every client of a run shares.
#[derive(Debug)]
pub(super) struct Shared {
    /// Set before the server is killed: errors after it are the kill's, not failures.
    pub(super) stopping: AtomicBool,
    pub(super) next_id: AtomicI64,
    /// Inserts acknowledged so far (a lower bound for `count(*)` of a later query).
    pub(super) acked_inserts: AtomicU64,
    /// The largest `driftdb_current_seq()` a client read after an acknowledged commit.
    pub(super) max_seen_seq: AtomicU64,
    /// Operations completed so far, every client together.
    pub(super) ops_done: AtomicU64,
    ledger: Mutex<Ledger>,
}

impl Shared {
    pub(super) fn new() -> Shared {
        Shared {
            stopping: AtomicBool::new(false),
            next_id: AtomicI64::new(1),
            acked_inserts: AtomicU64::new(0),
            max_seen_seq: AtomicU64::new(0),
            ops_done: AtomicU64::new(0),
            ledger: Mutex::new(Ledger::default()),
        }
    }

    pub(super) fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Why an operation did not complete.
pub(super) enum OpError {
    /// The server (or the connection) answered with an error.
    Db(tokio_postgres::Error),
    /// The server answered, but wrongly.
    Wrong(String),
}

impl From<tokio_postgres::Error> for OpError {
    fn from(e: tokio_postgres::Error) -> OpError {
        OpError::Db(e)
    }
}

/// A client's own state: its generator, the ids it inserted (for its point reads), its tally.
#[derive(Debug)]
pub(super) struct Worker {
    pub(super) slot: usize,
    random: SplitMix64,
    acked: Vec<i64>,
    /// The id of the insert in flight.
    pending_id: Option<i64>,
    /// A write (insert or transfer) was sent and is not yet answered.
    pending_write: bool,
    pub(super) tally: Tally,
}

impl Worker {
    pub(super) fn new(seed: u64, slot: usize) -> Worker {
        Worker {
            slot,
            random: SplitMix64::new(seed ^ (slot as u64 + 1).wrapping_mul(0xA24B_AED4_963E_E407)),
            acked: Vec::new(),
            pending_id: None,
            pending_write: false,
            tally: Tally::default(),
        }
    }

    fn pick_kind(&mut self) -> usize {
        let mut roll = self.random.below(WEIGHTS.iter().sum());
        for (kind, weight) in WEIGHTS.iter().enumerate() {
            if roll < *weight {
                return kind;
            }
            roll -= weight;
        }
        unreachable!("the roll is below the sum of the weights")
    }

    /// Runs operations until `deadline` or until the run is stopping.
    pub(super) async fn run(&mut self, client: &Client, shared: &Shared, deadline: Instant) {
        while Instant::now() < deadline && !shared.stopping.load(Ordering::SeqCst) {
            let mut kind = self.pick_kind();
            if matches!(kind, POINT_READ) && self.acked.is_empty() {
                kind = INSERT;
            }
            let outcome = match kind {
                INSERT => self.insert(client, shared).await,
                POINT_READ => self.point_read(client).await,
                TRANSFER => self.transfer(client, shared).await,
                AGGREGATE => self.aggregate(client, shared).await,
                AS_OF => self.as_of_read(client, shared).await,
                _ => unreachable!("a kind is below KINDS.len()"),
            };
            match outcome {
                Ok(()) => {
                    self.tally.ops[kind] += 1;
                    shared.ops_done.fetch_add(1, Ordering::Relaxed);
                }
                Err(OpError::Wrong(message)) => {
                    self.tally
                        .fail(format!("client {} {}: {message}", self.slot, KINDS[kind]));
                }
                Err(OpError::Db(e)) => {
                    if shared.stopping.load(Ordering::SeqCst) {
                        // The kill cut this operation off.
                        if std::mem::take(&mut self.pending_write) {
                            self.tally.in_doubt += 1;
                        }
                        if let Some(id) = self.pending_id.take() {
                            shared.ledger().in_doubt.push(id);
                        }
                        return;
                    }
                    self.pending_id = None;
                    self.pending_write = false;
                    let code = e
                        .code()
                        .map_or_else(|| "(no SQLSTATE)".to_string(), |c| c.code().to_string());
                    self.tally.count_error(&code);
                    if !transfers::is_retryable(&e) {
                        self.tally.fail(format!(
                            "client {} {}: {code}: {}",
                            self.slot,
                            KINDS[kind],
                            describe(&e)
                        ));
                    }
                    if client.is_closed() {
                        self.tally
                            .fail(format!("client {}: the connection closed", self.slot));
                        return;
                    }
                    let _ = client.batch_execute("ROLLBACK").await;
                }
            }
        }
    }

    async fn insert(&mut self, client: &Client, shared: &Shared) -> Result<(), OpError> {
        let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
        self.pending_id = Some(id);
        self.pending_write = true;
        client
            .batch_execute(&format!(
                "INSERT INTO items VALUES ({id}, {}, 'item {id}')",
                self.slot
            ))
            .await?;
        self.pending_id = None;
        self.pending_write = false;
        self.acked.push(id);
        shared.ledger().acked.push(id);
        shared.acked_inserts.fetch_add(1, Ordering::SeqCst);
        self.tally.acked_commits += 1;
        observe_seq(client, shared).await?;
        Ok(())
    }

    async fn point_read(&mut self, client: &Client) -> Result<(), OpError> {
        let id = self.acked[self.random.below(self.acked.len() as u64) as usize];
        let found = query(
            client,
            &format!("SELECT payload FROM items WHERE id = {id}"),
        )
        .await?;
        expect_item(id, &found, "now")
    }

    async fn transfer(&mut self, client: &Client, shared: &Shared) -> Result<(), OpError> {
        let accounts = u64::from(ACCOUNTS);
        let from = self.random.below(accounts);
        let to = (from + 1 + self.random.below(accounts - 1)) % accounts;
        let amount = 1 + self.random.below(50);
        loop {
            self.pending_write = true;
            let attempt = transfers::attempt(client, from, to, amount).await;
            if attempt.is_ok() {
                self.pending_write = false;
            }
            match attempt {
                Ok(true) => {
                    self.tally.acked_commits += 1;
                    return observe_seq(client, shared).await;
                }
                Ok(false) => {
                    self.tally.refused += 1;
                    return Ok(());
                }
                Err(e) if transfers::is_retryable(&e) => {
                    self.pending_write = false;
                    self.tally.retries += 1;
                    self.tally.count_error(e.code().map_or("", SqlState::code));
                    client.batch_execute("ROLLBACK").await?;
                    if shared.stopping.load(Ordering::SeqCst) {
                        return Ok(());
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    async fn aggregate(&mut self, client: &Client, shared: &Shared) -> Result<(), OpError> {
        let acked_before = shared.acked_inserts.load(Ordering::SeqCst);
        let money = query(
            client,
            "SELECT count(*), sum(balance), min(balance) FROM accounts",
        )
        .await?;
        check_money(&money, "now")?;
        let items = query(client, "SELECT count(*) FROM items").await?;
        let count = number(&items, "count(*) of items")?;
        if count < acked_before as i64 {
            return Err(OpError::Wrong(format!(
                "count(*) of items is {count}, but {acked_before} inserts were acknowledged before the query"
            )));
        }
        Ok(())
    }

    async fn as_of_read(&mut self, client: &Client, shared: &Shared) -> Result<(), OpError> {
        let seq = current_seq(client).await?;
        shared.max_seen_seq.fetch_max(seq, Ordering::SeqCst);
        if !self.acked.is_empty() {
            // Acknowledged before the seq was read, so committed at or below it.
            let id = self.acked[self.random.below(self.acked.len() as u64) as usize];
            let found = query(
                client,
                &format!("SELECT payload FROM items AS OF @seq:{seq} WHERE id = {id}"),
            )
            .await?;
            expect_item(id, &found, &format!("as of @seq:{seq}"))?;
        }
        let past = 1 + self.random.below(seq.max(1));
        let money = query(
            client,
            &format!("SELECT count(*), sum(balance), min(balance) FROM accounts AS OF @seq:{past}"),
        )
        .await?;
        check_money(&money, &format!("as of @seq:{past}"))
    }
}

/// An error with the server's detail, if any.
pub(super) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => format!("{e}"),
    }
}

pub(super) type Rows = Vec<Vec<Option<String>>>;

pub(super) async fn query(client: &Client, sql: &str) -> Result<Rows, tokio_postgres::Error> {
    rows_or_error(client, sql).await
}

/// The single number of a one-row, one-column answer.
pub(super) fn number(rows: &Rows, what: &str) -> Result<i64, OpError> {
    match rows.as_slice() {
        [row] if row.len() == 1 => row[0]
            .as_deref()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| OpError::Wrong(format!("{what}: not a number: {rows:?}"))),
        _ => Err(OpError::Wrong(format!(
            "{what}: expected one value, got {rows:?}"
        ))),
    }
}

pub(super) async fn current_seq(client: &Client) -> Result<u64, OpError> {
    let seq = number(
        &query(client, "SELECT driftdb_current_seq()").await?,
        "driftdb_current_seq()",
    )?;
    u64::try_from(seq).map_err(|_| OpError::Wrong(format!("driftdb_current_seq() is {seq}")))
}

/// Reads the current seq after an acknowledged commit: it is at least that commit's.
async fn observe_seq(client: &Client, shared: &Shared) -> Result<(), OpError> {
    let seq = current_seq(client).await?;
    shared.max_seen_seq.fetch_max(seq, Ordering::SeqCst);
    Ok(())
}

fn expect_item(id: i64, found: &Rows, when: &str) -> Result<(), OpError> {
    let expected = vec![vec![Some(format!("item {id}"))]];
    if *found == expected {
        Ok(())
    } else {
        Err(OpError::Wrong(format!(
            "acknowledged item {id} {when}: expected {expected:?}, got {found:?}"
        )))
    }
}

/// `count(*), sum(balance), min(balance)` of the accounts: all there, the total, no overdraft.
pub(super) fn check_money(rows: &Rows, when: &str) -> Result<(), OpError> {
    let row: Vec<&str> = rows
        .first()
        .map(|r| r.iter().map(|v| v.as_deref().unwrap_or("NULL")).collect())
        .unwrap_or_default();
    let good = rows.len() == 1
        && row.len() == 3
        && row[0] == ACCOUNTS.to_string()
        && row[1] == TOTAL.to_string()
        && row[2].parse::<i64>().is_ok_and(|min| min >= 0);
    if good {
        Ok(())
    } else {
        Err(OpError::Wrong(format!(
            "accounts {when}: expected count {ACCOUNTS}, sum {TOTAL}, min >= 0; got {rows:?}"
        )))
    }
}

/// Creates the tables: the accounts (seq 1) and the items.
pub(super) async fn set_up(client: &Client) {
    transfers::create_accounts(client, ACCOUNTS, OPENING_BALANCE).await;
    client
        .batch_execute(
            "CREATE TABLE items (id BIGINT PRIMARY KEY, client INT NOT NULL, payload TEXT NOT NULL)",
        )
        .await
        .expect("CREATE TABLE items");
}
