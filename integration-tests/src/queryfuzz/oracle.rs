//! Running one statement on a server over the simple query protocol (every value as the text
//! PostgreSQL would send) and judging two answers: the same rows (in order only under a total
//! ORDER BY), or the same SQLSTATE.

use std::fmt::{self, Display, Formatter};
use std::time::Duration;
use tokio_postgres::{Client, SimpleQueryMessage};

pub type Row = Vec<Option<String>>;

/// How long one statement may take before the server counts as hung (statement_timeout is set
/// lower on both servers, so this is only reached when a server stops answering).
const HANG: Duration = Duration::from_secs(120);

#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Rows {
        width: usize,
        rows: Vec<Row>,
    },
    /// A statement without a result set, with its row count (INSERT 0 3 → 3).
    Done(u64),
    Error {
        code: String,
        message: String,
    },
    /// The connection broke or the server stopped answering.
    Lost(String),
}

pub const TIMEOUT: &str = "57014";

pub async fn execute(client: &Client, sql: &str) -> Outcome {
    let result = match tokio::time::timeout(HANG, client.simple_query(sql)).await {
        Ok(result) => result,
        Err(_) => return Outcome::Lost(format!("no answer after {HANG:?}")),
    };
    match result {
        Ok(messages) => {
            let mut width = None;
            let mut rows = Vec::new();
            let mut count = 0;
            for message in messages {
                match message {
                    SimpleQueryMessage::RowDescription(columns) => width = Some(columns.len()),
                    SimpleQueryMessage::Row(row) => rows.push(
                        (0..row.len())
                            .map(|i| row.get(i).map(str::to_string))
                            .collect(),
                    ),
                    SimpleQueryMessage::CommandComplete(n) => count = n,
                    _ => {}
                }
            }
            match width {
                Some(width) => Outcome::Rows { width, rows },
                None => Outcome::Done(count),
            }
        }
        Err(e) => match e.as_db_error() {
            Some(db) => Outcome::Error {
                code: db.code().code().to_string(),
                message: db.message().to_string(),
            },
            None => Outcome::Lost(e.to_string()),
        },
    }
}

impl Outcome {
    pub fn is_timeout(&self) -> bool {
        matches!(self, Outcome::Error { code, .. } if code == TIMEOUT)
    }

    pub fn code(&self) -> Option<&str> {
        match self {
            Outcome::Error { code, .. } => Some(code),
            _ => None,
        }
    }

    pub fn rows(&self) -> Option<&[Row]> {
        match self {
            Outcome::Rows { rows, .. } => Some(rows),
            _ => None,
        }
    }
}

/// Whether two answers agree: equal rows (as multisets unless `ordered`), equal row counts, or
/// errors with one SQLSTATE.
pub fn agree(a: &Outcome, b: &Outcome, ordered: bool) -> bool {
    match (a, b) {
        (
            Outcome::Rows {
                width: wa,
                rows: ra,
            },
            Outcome::Rows {
                width: wb,
                rows: rb,
            },
        ) => {
            if wa != wb || ra.len() != rb.len() {
                return false;
            }
            if ordered {
                return ra == rb;
            }
            let (mut ra, mut rb) = (ra.clone(), rb.clone());
            ra.sort();
            rb.sort();
            ra == rb
        }
        (Outcome::Done(a), Outcome::Done(b)) => a == b,
        (Outcome::Error { code: a, .. }, Outcome::Error { code: b, .. }) => a == b,
        _ => false,
    }
}

/// How two answers to one statement differ.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Difference {
    /// Both answered, with different rows.
    Rows,
    /// DriftDB failed (SQLSTATE, message with digits masked) where PostgreSQL answered.
    DriftDbFails(String, String),
    /// PostgreSQL failed (SQLSTATE) where DriftDB answered.
    PostgresFails(String),
    /// Both failed, with different SQLSTATEs (DriftDB's, PostgreSQL's).
    Codes(String, String),
    /// DriftDB's connection broke or it stopped answering.
    Lost,
    /// DriftDB's own answers break ternary logic partitioning.
    Partitioning,
    /// A setup statement (CREATE/INSERT/UPDATE/DELETE) did not have the same effect.
    Setup,
}

impl Display for Difference {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Difference::Rows => f.write_str("different rows"),
            Difference::DriftDbFails(code, message) => write!(
                f,
                "DriftDB fails ({code}: {message}) where PostgreSQL answers"
            ),
            Difference::PostgresFails(code) => {
                write!(f, "PostgreSQL fails ({code}) where DriftDB answers")
            }
            Difference::Codes(ours, theirs) => {
                write!(f, "different errors (DriftDB {ours}, PostgreSQL {theirs})")
            }
            Difference::Lost => f.write_str("DriftDB's connection broke"),
            Difference::Partitioning => {
                f.write_str("DriftDB contradicts itself (ternary logic partitioning)")
            }
            Difference::Setup => f.write_str("a setup statement had different effects"),
        }
    }
}

/// Digits masked, so messages naming generated aliases (`x3.a0`) compare alike.
pub fn mask_digits(message: &str) -> String {
    let masked: String = message
        .chars()
        .map(|c| if c.is_ascii_digit() { '#' } else { c })
        .collect();
    masked.chars().take(160).collect()
}

/// The difference between DriftDB's and PostgreSQL's answers, if any.
pub fn compare(driftdb: &Outcome, postgres: &Outcome, ordered: bool) -> Option<Difference> {
    if agree(driftdb, postgres, ordered) {
        return None;
    }
    Some(match (driftdb, postgres) {
        (Outcome::Lost(_), _) => Difference::Lost,
        (Outcome::Error { code, message }, Outcome::Rows { .. } | Outcome::Done(_)) => {
            Difference::DriftDbFails(code.clone(), mask_digits(message))
        }
        (Outcome::Rows { .. } | Outcome::Done(_), Outcome::Error { code, .. }) => {
            Difference::PostgresFails(code.clone())
        }
        (Outcome::Error { code: ours, .. }, Outcome::Error { code: theirs, .. }) => {
            Difference::Codes(ours.clone(), theirs.clone())
        }
        _ => Difference::Rows,
    })
}

fn value(v: &Option<String>) -> String {
    match v {
        None => "NULL".to_string(),
        Some(text) => format!("{text:?}"),
    }
}

impl Display for Outcome {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Rows { width, rows } => {
                write!(f, "{} row(s) of {width} column(s)", rows.len())?;
                for (i, row) in rows.iter().enumerate() {
                    if i == 25 {
                        return write!(f, " …");
                    }
                    let values: Vec<String> = row.iter().map(value).collect();
                    write!(f, " ({})", values.join(", "))?;
                }
                Ok(())
            }
            Outcome::Done(n) => write!(f, "done, {n} row(s)"),
            Outcome::Error { code, message } => write!(f, "ERROR {code}: {message}"),
            Outcome::Lost(reason) => write!(f, "connection lost: {reason}"),
        }
    }
}
