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
