//! The workloads `make bench` runs against DriftDB and a reference PostgreSQL: the same client
//! (tokio-postgres), the same statements, one after the other on the same machine. Each returns
//! what it measured; the `bench` example prints the ratios.
//!
//! Single-client workloads time the whole batch of statements (lower is better); the concurrent
//! ones report throughput (higher is better). Random choices come from fixed seeds, so both
//! servers see the same keys in the same order.

use crate::splitmix::SplitMix64;
use bytes::Bytes;
use futures::SinkExt;
use std::time::{Duration, Instant};
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

/// How big the runs are.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    /// Rows in the `items` table that COPY loads and the analytic queries read.
    pub rows: u32,
    /// Rows in the table every `UPDATE` of all rows rewrites.
    pub update_all_rows: u32,
    /// Point selects, index lookups and autocommit updates per run.
    pub point_statements: u32,
}

/// Creates `items` (and its index) with the columns every workload reads.
pub async fn create_items(client: &Client) {
    client
        .batch_execute(
            "DROP TABLE IF EXISTS items; DROP TABLE IF EXISTS groups; \
             CREATE TABLE items (id int PRIMARY KEY, label text NOT NULL, grp int NOT NULL, \
                                 v bigint NOT NULL, code int NOT NULL); \
             CREATE INDEX items_code ON items (code)",
        )
        .await
        .expect("create items");
}

/// The tab-separated COPY text of `items`' rows `0..rows`.
fn items_copy_text(rows: u32) -> Vec<Bytes> {
    let mut chunks = Vec::new();
    let mut chunk = String::with_capacity(1 << 20);
    for id in 0..rows {
        let code = (id as u64 * 7919) % rows as u64;
        chunk.push_str(&format!(
            "{id}\titem-{id}\t{}\t{}\t{code}\n",
            id % 100,
            id % 1000
        ));
        if chunk.len() > (1 << 20) - 128 {
            chunks.push(Bytes::from(std::mem::take(&mut chunk)));
        }
    }
    if !chunk.is_empty() {
        chunks.push(Bytes::from(chunk));
    }
    chunks
}

/// Loads `items` with COPY FROM STDIN; the time of the COPY alone.
pub async fn copy_items(client: &Client, rows: u32) -> Duration {
    let chunks = items_copy_text(rows);
    let start = Instant::now();
    let sink = client
        .copy_in("COPY items (id, label, grp, v, code) FROM STDIN")
        .await
        .expect("COPY starts");
    futures::pin_mut!(sink);
    for chunk in chunks {
        sink.send(chunk).await.expect("COPY data");
    }
    let copied = sink.finish().await.expect("COPY finishes");
    assert_eq!(copied, rows as u64);
    start.elapsed()
}

/// Fifty `INSERT … VALUES` statements of 1000 literal rows each, autocommitted.
pub async fn insert_batches(client: &Client) -> Duration {
    client
        .batch_execute(
            "DROP TABLE IF EXISTS inserted; \
             CREATE TABLE inserted (id int PRIMARY KEY, label text, v bigint)",
        )
        .await
        .expect("create inserted");
    let statements: Vec<String> = (0..50)
        .map(|batch| {
            let rows: Vec<String> = (0..1000)
                .map(|i| {
                    let id = batch * 1000 + i;
                    format!("({id}, 'row-{id}', {})", id * 3)
                })
                .collect();
            format!("INSERT INTO inserted VALUES {}", rows.join(", "))
        })
        .collect();
    let start = Instant::now();
    for statement in &statements {
        client.batch_execute(statement).await.expect("INSERT");
    }
    start.elapsed()
}

/// Latencies of single statements, in order of arrival.
pub struct Latencies(Vec<Duration>);

impl Latencies {
    pub fn total(&self) -> Duration {
        self.0.iter().sum()
    }

    /// The `p`th percentile (0–100).
    pub fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.0.clone();
        sorted.sort();
        let index = ((sorted.len() as f64 - 1.0) * p / 100.0).round() as usize;
        sorted.get(index).copied().unwrap_or_default()
    }
}

/// Runs `count` executions of the prepared `sql` with one random `int` key below `keys` each,
/// checking each returns `expect_rows` rows (`None`: a command).
async fn prepared_by_key(
    client: &Client,
    sql: &str,
    count: u32,
    keys: u32,
    expect_rows: Option<usize>,
) -> Latencies {
    let statement = client.prepare(sql).await.expect("prepare");
    let mut random = SplitMix64::new(42);
    let mut latencies = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let key = random.below(keys as u64) as i32;
        let start = Instant::now();
        match expect_rows {
            Some(expected) => {
                let rows = client.query(&statement, &[&key]).await.expect(sql);
                assert_eq!(rows.len(), expected, "{sql} with {key}");
            }
            None => {
                let changed = client.execute(&statement, &[&key]).await.expect(sql);
                assert_eq!(changed, 1, "{sql} with {key}");
            }
        }
        latencies.push(start.elapsed());
    }
    Latencies(latencies)
}

/// Prepared point selects by primary key.
pub async fn point_selects(client: &Client, sizes: Sizes) -> Latencies {
    let sql = "SELECT id, label, grp, v FROM items WHERE id = $1";
    prepared_by_key(client, sql, sizes.point_statements, sizes.rows, Some(1)).await
}

/// Prepared lookups through the secondary index on `code` (a permutation of the ids).
pub async fn index_lookups(client: &Client, sizes: Sizes) -> Latencies {
    let sql = "SELECT id, label FROM items WHERE code = $1";
    prepared_by_key(client, sql, sizes.point_statements, sizes.rows, Some(1)).await
}

/// Prepared autocommit updates by primary key.
pub async fn autocommit_updates(client: &Client, sizes: Sizes) -> Latencies {
    let sql = "UPDATE items SET v = v + 1 WHERE id = $1";
    prepared_by_key(client, sql, sizes.point_statements, sizes.rows, None).await
}

/// The time of one query, run `runs` times (the best run counts: these read warm data).
pub async fn best_of(client: &Client, sql: &str, runs: u32) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..runs {
        let start = Instant::now();
        client.simple_query(sql).await.expect(sql);
        best = best.min(start.elapsed());
    }
    best
}

/// Creates `groups` (100 rows) for the join.
pub async fn create_groups(client: &Client) {
    client
        .batch_execute(
            "CREATE TABLE groups (grp int PRIMARY KEY, name text NOT NULL); \
             INSERT INTO groups SELECT g, 'group-' || g FROM generate_series(0, 99) AS s(g)",
        )
        .await
        .expect("create groups");
}

/// Fifty `UPDATE`s of every row of a table of `rows` rows.
pub async fn update_all(client: &Client, rows: u32) -> Duration {
    client
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS counters; \
             CREATE TABLE counters (id int PRIMARY KEY, n bigint NOT NULL); \
             INSERT INTO counters SELECT g, 0 FROM generate_series(1, {rows}) AS s(g)"
        ))
        .await
        .expect("create counters");
    let start = Instant::now();
    for _ in 0..50 {
        client
            .batch_execute("UPDATE counters SET n = n + 1")
            .await
            .expect("UPDATE all");
    }
    start.elapsed()
}

/// What a concurrent run did.
#[derive(Clone, Copy, Debug, Default)]
pub struct Throughput {
    pub committed: u64,
    /// Transactions that failed (serialization failures, deadlocks), not retried.
    pub failed: u64,
    pub seconds: f64,
}

impl Throughput {
    pub fn per_second(&self) -> f64 {
        self.committed as f64 / self.seconds
    }

    pub fn failure_rate(&self) -> f64 {
        self.failed as f64 / (self.committed + self.failed).max(1) as f64
    }
}

/// pgbench's scale-1 shape: 1 branch, 10 tellers, `accounts` accounts.
pub async fn create_pgbench(client: &Client, accounts: u32) {
    client
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS bench_history; DROP TABLE IF EXISTS bench_accounts; \
             DROP TABLE IF EXISTS bench_tellers; DROP TABLE IF EXISTS bench_branches; \
             CREATE TABLE bench_branches (bid int PRIMARY KEY, bbalance int NOT NULL); \
             CREATE TABLE bench_tellers (tid int PRIMARY KEY, bid int NOT NULL, tbalance int NOT NULL); \
             CREATE TABLE bench_accounts (aid int PRIMARY KEY, bid int NOT NULL, abalance int NOT NULL, filler text); \
             CREATE TABLE bench_history (tid int, bid int, aid int, delta int, mtime timestamp); \
             INSERT INTO bench_branches VALUES (1, 0); \
             INSERT INTO bench_tellers SELECT g, 1, 0 FROM generate_series(1, 10) AS s(g); \
             INSERT INTO bench_accounts SELECT g, 1, 0, '' FROM generate_series(1, {accounts}) AS s(g)"
        ))
        .await
        .expect("create the pgbench tables");
}

/// pgbench's TPC-B-like transaction at READ COMMITTED with `clients` clients, `per_client`
/// transactions each. A transaction that fails is rolled back and counted, not retried (as
/// pgbench without `--max-tries`).
pub async fn pgbench_mix(clients: Vec<Client>, accounts: u32, per_client: u32) -> Throughput {
    let start = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, client)| {
            tokio::spawn(async move {
                let statements = [
                    "UPDATE bench_accounts SET abalance = abalance + $1 WHERE aid = $2",
                    "SELECT abalance FROM bench_accounts WHERE aid = $1",
                    "UPDATE bench_tellers SET tbalance = tbalance + $1 WHERE tid = $2",
                    "UPDATE bench_branches SET bbalance = bbalance + $1 WHERE bid = $2",
                    "INSERT INTO bench_history (tid, bid, aid, delta, mtime) \
                     VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP)",
                ];
                let mut prepared = Vec::new();
                for sql in statements {
                    prepared.push(client.prepare(sql).await.expect("prepare"));
                }
                let mut random = SplitMix64::new(1000 + i as u64);
                let mut run = Throughput::default();
                for _ in 0..per_client {
                    let aid = 1 + random.below(accounts as u64) as i32;
                    let tid = 1 + random.below(10) as i32;
                    let bid = 1i32;
                    let delta = random.below(10_001) as i32 - 5000;
                    let transaction = async {
                        client.batch_execute("BEGIN").await?;
                        client.execute(&prepared[0], &[&delta, &aid]).await?;
                        client.query(&prepared[1], &[&aid]).await?;
                        client.execute(&prepared[2], &[&delta, &tid]).await?;
                        client.execute(&prepared[3], &[&delta, &bid]).await?;
                        client
                            .execute(&prepared[4], &[&tid, &bid, &aid, &delta])
                            .await?;
                        client.batch_execute("COMMIT").await
                    };
                    match transaction.await {
                        Ok(()) => run.committed += 1,
                        Err(e)
                            if e.code() == Some(&SqlState::T_R_SERIALIZATION_FAILURE)
                                || e.code() == Some(&SqlState::T_R_DEADLOCK_DETECTED) =>
                        {
                            run.failed += 1;
                            client.batch_execute("ROLLBACK").await.expect("ROLLBACK");
                        }
                        Err(e) => panic!("pgbench transaction: {e:?}"),
                    }
                }
                run
            })
        })
        .collect();
    let mut total = Throughput::default();
    for task in tasks {
        let run = task.await.expect("a pgbench client");
        total.committed += run.committed;
        total.failed += run.failed;
    }
    total.seconds = start.elapsed().as_secs_f64();
    total
}
