//! The soak's checks of the database once no client writes: every acknowledged row there, no
//! row nobody tried to insert, money conserved now and `AS OF` past seqs, the seq not behind what
//! clients saw, the commit log without gaps.

use super::workload::{OpError, Shared, check_money, current_seq, describe, number, query};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use tokio_postgres::Client;

/// What the database held when it was checked.
#[derive(Clone, Copy, Debug, Default)]
pub struct Snapshot {
    /// `driftdb_current_seq()`.
    pub seq: u64,
    /// Rows in `items`.
    pub items: usize,
    /// Acknowledged inserts checked.
    pub acked_items: usize,
}

/// Checks the database after a run (no client is writing): returns what it saw and every
/// failure.
pub(super) async fn check_state(client: &Client, shared: &Shared) -> (Snapshot, Vec<String>) {
    let mut failures = Vec::new();
    let mut snapshot = Snapshot::default();
    if let Err(e) = check_state_into(client, shared, &mut snapshot, &mut failures).await {
        failures.push(match e {
            OpError::Db(e) => format!("check: {}", describe(&e)),
            OpError::Wrong(message) => format!("check: {message}"),
        });
    }
    (snapshot, failures)
}

async fn check_state_into(
    client: &Client,
    shared: &Shared,
    snapshot: &mut Snapshot,
    failures: &mut Vec<String>,
) -> Result<(), OpError> {
    let (acked, in_doubt) = {
        let ledger = shared.ledger();
        (ledger.acked.clone(), ledger.in_doubt.clone())
    };
    snapshot.acked_items = acked.len();

    // Every acknowledged row, with its payload; no row that nobody tried to insert.
    let mut present = HashMap::new();
    for row in query(client, "SELECT id, payload FROM items").await? {
        let id: i64 = row[0]
            .as_deref()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| OpError::Wrong(format!("items: an id that is not a number: {row:?}")))?;
        present.insert(id, row[1].clone());
    }
    snapshot.items = present.len();
    let missing: Vec<i64> = acked
        .iter()
        .copied()
        .filter(|id| present.get(id) != Some(&Some(format!("item {id}"))))
        .collect();
    if !missing.is_empty() {
        failures.push(format!(
            "{} of {} acknowledged items missing or changed, e.g. ids {:?}",
            missing.len(),
            acked.len(),
            &missing[..missing.len().min(10)]
        ));
    }
    let possible: HashSet<i64> = acked.iter().chain(&in_doubt).copied().collect();
    let unexpected: Vec<i64> = present
        .keys()
        .copied()
        .filter(|id| !possible.contains(id))
        .collect();
    if !unexpected.is_empty() {
        failures.push(format!(
            "{} items nobody saw acknowledged or cut off (their inserts failed), e.g. ids {:?}",
            unexpected.len(),
            &unexpected[..unexpected.len().min(10)]
        ));
    }

    // Money conserved now.
    if let Err(OpError::Wrong(message)) = check_money(
        &query(
            client,
            "SELECT count(*), sum(balance), min(balance) FROM accounts",
        )
        .await?,
        "now",
    ) {
        failures.push(message);
    }

    // The seq is not behind anything a client saw after an acknowledged commit.
    let seq = current_seq(client).await?;
    snapshot.seq = seq;
    let seen = shared.max_seen_seq.load(Ordering::SeqCst);
    if seq < seen {
        failures.push(format!(
            "driftdb_current_seq() is {seq}, but a client read {seen} after an acknowledged commit"
        ));
    }

    // The commit log has every seq from 1 to the current one, once.
    let log = query(
        client,
        "SELECT count(*), min(seq), max(seq) FROM driftdb_commits",
    )
    .await?;
    let expected_log = vec![vec![
        Some(seq.to_string()),
        Some("1".to_string()),
        Some(seq.to_string()),
    ]];
    if log != expected_log {
        let seqs: Vec<u64> = query(client, "SELECT seq FROM driftdb_commits ORDER BY seq")
            .await?
            .iter()
            .filter_map(|r| r[0].as_deref().and_then(|v| v.parse().ok()))
            .collect();
        let gaps: Vec<String> = seqs
            .windows(2)
            .filter(|w| w[1] != w[0] + 1)
            .take(10)
            .map(|w| format!("{} -> {}", w[0], w[1]))
            .collect();
        failures.push(format!(
            "driftdb_commits: count, min, max {log:?}, expected {expected_log:?} \
             (current seq {seq}); first gaps or repeats: {gaps:?}"
        ));
    }

    // Money conserved at past seqs, and the latest seq reads what a plain read does.
    let mut points = vec![1, seq / 4, seq / 2, 3 * seq / 4, seq];
    points.retain(|&n| n >= 1);
    points.dedup();
    for n in points {
        let money = query(
            client,
            &format!("SELECT count(*), sum(balance), min(balance) FROM accounts AS OF @seq:{n}"),
        )
        .await?;
        if let Err(OpError::Wrong(message)) = check_money(&money, &format!("as of @seq:{n}")) {
            failures.push(message);
        }
    }
    let latest = number(
        &query(
            client,
            &format!("SELECT count(*) FROM items AS OF @seq:{seq}"),
        )
        .await?,
        "count(*) of items as of the current seq",
    )?;
    if latest != present.len() as i64 {
        failures.push(format!(
            "count(*) of items AS OF @seq:{seq} (the current seq) is {latest}, a plain read has {}",
            present.len()
        ));
    }
    Ok(())
}
