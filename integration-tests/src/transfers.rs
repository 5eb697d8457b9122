//! The money-transfer workload: clients move random amounts between accounts in REPEATABLE READ
//! transactions (read the balance, refuse an overdraft, debit, credit, commit) and retry on
//! serialization failures and deadlocks, as PostgreSQL's documentation tells clients to. Shared
//! by the concurrency tests and the benchmark, so the same workload runs against DriftDB and
//! PostgreSQL over the simple query protocol.
//!
//! [`attempt_read_committed`] is the same transfer as an application written for READ
//! COMMITTED does it, with no retries: a conditional debit, and the two rows updated in key
//! order so that two transfers never wait for each other in a cycle.

use std::time::Instant;
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

/// The accounts table, `accounts` rows of `balance` each.
pub async fn create_accounts(client: &Client, accounts: u32, balance: i64) {
    client
        .batch_execute("CREATE TABLE accounts (id INT PRIMARY KEY, balance BIGINT NOT NULL)")
        .await
        .expect("CREATE TABLE accounts");
    let values: Vec<String> = (0..accounts)
        .map(|id| format!("({id}, {balance})"))
        .collect();
    client
        .batch_execute(&format!(
            "INSERT INTO accounts VALUES {}",
            values.join(", ")
        ))
        .await
        .expect("INSERT INTO accounts");
}

/// What one client did.
#[derive(Clone, Copy, Debug, Default)]
pub struct ClientReport {
    /// Transfers committed.
    pub committed: u64,
    /// Transfers refused for lack of funds (rolled back).
    pub refused: u64,
    /// Attempts that failed with a serialization failure and were retried.
    pub aborted: u64,
}

impl std::ops::AddAssign for ClientReport {
    fn add_assign(&mut self, other: ClientReport) {
        self.committed += other.committed;
        self.refused += other.refused;
        self.aborted += other.aborted;
    }
}

/// A small deterministic generator, so runs are repeatable without a dependency.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// The one value of a one-row, one-column simple query.
pub async fn single_value(client: &Client, sql: &str) -> Result<String, tokio_postgres::Error> {
    for message in client.simple_query(sql).await? {
        if let tokio_postgres::SimpleQueryMessage::Row(row) = message {
            return Ok(row.get(0).unwrap_or("NULL").to_string());
        }
    }
    panic!("{sql} returned no row")
}

/// One attempt at a transfer: `Ok(true)` committed, `Ok(false)` refused. After an error the
/// transaction may still be open: the caller rolls it back.
pub async fn attempt(
    client: &Client,
    from: u64,
    to: u64,
    amount: u64,
) -> Result<bool, tokio_postgres::Error> {
    client
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        .await?;
    let balance: i64 = single_value(
        client,
        &format!("SELECT balance FROM accounts WHERE id = {from}"),
    )
    .await?
    .parse()
    .expect("a balance is a number");
    if balance < amount as i64 {
        client.batch_execute("ROLLBACK").await?;
        return Ok(false);
    }
    client
        .batch_execute(&format!(
            "UPDATE accounts SET balance = balance - {amount} WHERE id = {from}; \
             UPDATE accounts SET balance = balance + {amount} WHERE id = {to}; \
             COMMIT"
        ))
        .await?;
    Ok(true)
}

/// Whether PostgreSQL tells a client to run a transaction that failed with `e` again: a
/// serialization failure or a deadlock.
pub fn is_retryable(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::T_R_SERIALIZATION_FAILURE)
        || e.code() == Some(&SqlState::T_R_DEADLOCK_DETECTED)
}

/// One transfer in READ COMMITTED, never retried: the debit happens only if the balance covers
/// it (`Ok(false)`: refused, rolled back), and the two accounts are updated in id order.
pub async fn attempt_read_committed(
    client: &Client,
    from: u64,
    to: u64,
    amount: u64,
) -> Result<bool, tokio_postgres::Error> {
    client
        .batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED")
        .await?;
    let debit = format!(
        "UPDATE accounts SET balance = balance - {amount} WHERE id = {from} AND balance >= {amount}"
    );
    let credit = format!("UPDATE accounts SET balance = balance + {amount} WHERE id = {to}");
    let order = match from < to {
        true => [&debit, &credit],
        false => [&credit, &debit],
    };
    for sql in order {
        let changed = client.execute(sql.as_str(), &[]).await?;
        if changed == 0 {
            client.batch_execute("ROLLBACK").await?;
            return Ok(false);
        }
    }
    client.batch_execute("COMMIT").await?;
    Ok(true)
}

/// How the clients of [`run`] transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// [`attempt`], retried after a serialization failure or a deadlock.
    RepeatableRead,
    /// [`attempt_read_committed`], never retried: any error fails the run.
    ReadCommitted,
}

/// Runs `transfers` transfers between random distinct accounts of `0..accounts` as `mode`
/// says. Any error but a retried one panics.
pub async fn run_client(
    client: &Client,
    mode: Mode,
    seed: u64,
    accounts: u32,
    transfers: usize,
) -> ClientReport {
    let mut random = Lcg(seed.wrapping_mul(0x9E3779B97F4A7C15) | 1);
    let mut report = ClientReport::default();
    for _ in 0..transfers {
        let from = random.below(accounts as u64);
        let to = (from + 1 + random.below(accounts as u64 - 1)) % accounts as u64;
        let amount = 1 + random.below(50);
        loop {
            let result = match mode {
                Mode::RepeatableRead => attempt(client, from, to, amount).await,
                Mode::ReadCommitted => attempt_read_committed(client, from, to, amount).await,
            };
            match result {
                Ok(true) => report.committed += 1,
                Ok(false) => report.refused += 1,
                Err(e) if mode == Mode::RepeatableRead && is_retryable(&e) => {
                    report.aborted += 1;
                    client.batch_execute("ROLLBACK").await.expect("ROLLBACK");
                    continue;
                }
                Err(e) => panic!("transfer {from} -> {to}: {e:?}"),
            }
            break;
        }
    }
    report
}

/// Runs `clients` concurrent clients of [`run_client`] (connections from `connect`) and returns
/// their combined report and the elapsed seconds.
pub async fn run<F, Fut>(
    connect: F,
    mode: Mode,
    clients: usize,
    accounts: u32,
    transfers: usize,
) -> (ClientReport, f64)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Client>,
{
    let mut connections = Vec::with_capacity(clients);
    for _ in 0..clients {
        connections.push(connect().await);
    }
    let start = Instant::now();
    let tasks: Vec<_> = connections
        .into_iter()
        .enumerate()
        .map(|(i, client)| {
            tokio::spawn(async move {
                run_client(&client, mode, i as u64 + 1, accounts, transfers).await
            })
        })
        .collect();
    let mut total = ClientReport::default();
    for task in tasks {
        total += task.await.expect("a transfer client panicked");
    }
    (total, start.elapsed().as_secs_f64())
}
