//! The byte layout of a commit record (the payload inside a [`crate::frame`]).
//!
//! ```text
//! [commit time, UTC microseconds, i64 LE][rows written u64 LE][user length u16 LE][user UTF-8]
//! ```

use std::fmt;

/// What the commits family stores for each seq.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitRecord {
    /// Commit time in UTC microseconds since the Unix epoch, strictly increasing across seqs.
    pub time_micros: i64,
    /// Row events written by the commit.
    pub rows: u64,
    /// The user who committed.
    pub user: String,
}

/// Why a commit payload did not decode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitDecodeError(pub String);

impl fmt::Display for CommitDecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl CommitRecord {
    /// The unframed payload.
    pub fn encode(&self) -> Vec<u8> {
        let user = self.user.as_bytes();
        let user_len = u16::try_from(user.len()).unwrap_or(u16::MAX);
        let mut out = Vec::with_capacity(18 + user_len as usize);
        out.extend_from_slice(&self.time_micros.to_le_bytes());
        out.extend_from_slice(&self.rows.to_le_bytes());
        out.extend_from_slice(&user_len.to_le_bytes());
        out.extend_from_slice(&user[..user_len as usize]);
        out
    }

    /// Decodes an unframed payload.
    pub fn decode(payload: &[u8]) -> Result<CommitRecord, CommitDecodeError> {
        let err = |what: &str| CommitDecodeError(format!("commit record {what}"));
        if payload.len() < 18 {
            return Err(err("is truncated"));
        }
        let time_micros = i64::from_le_bytes(payload[0..8].try_into().expect("8 bytes"));
        let rows = u64::from_le_bytes(payload[8..16].try_into().expect("8 bytes"));
        let user_len = u16::from_le_bytes([payload[16], payload[17]]) as usize;
        let user = payload
            .get(18..)
            .filter(|u| u.len() == user_len)
            .ok_or_else(|| err("has a bad user length"))?;
        let user =
            String::from_utf8(user.to_vec()).map_err(|_| err("has a user that is not UTF-8"))?;
        Ok(CommitRecord {
            time_micros,
            rows,
            user,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_record_round_trips() {
        let record = CommitRecord {
            time_micros: 1_764_000_000_000_000,
            rows: 3,
            user: "alice".into(),
        };
        assert_eq!(CommitRecord::decode(&record.encode()).unwrap(), record);
    }

    #[test]
    fn a_truncated_commit_record_is_an_error() {
        let bytes = CommitRecord {
            time_micros: 1,
            rows: 1,
            user: "bob".into(),
        }
        .encode();
        for len in 0..bytes.len() {
            assert!(CommitRecord::decode(&bytes[..len]).is_err());
        }
    }
}
