//! The verify walk: every stored value in every family, checked, with every damaged location
//! reported (not just the first).
//!
//! Besides each frame's length and checksum, it checks what the families promise about each
//! other: the commit log has no gaps, every commit's row count matches the versions written at its
//! seq, no version is newer than the log, and each row's latest-state entry is exactly its newest
//! version. RocksDB's own block checksums fail a read before ours can; such a failure ends the
//! walk of that family and is reported like any other damage.

use crate::engine::{decode_catalog_entry, decode_commit_entry, decode_format};
use crate::error::{Error, Result};
use crate::ids::Seq;
use crate::keys;
use crate::latest;
use crate::row::RowEvent;
use crate::scan;
use crate::store::{Cursor, Family, Store};
use crate::{frame, index};
use std::collections::HashMap;
use std::path::Path;

/// At most this many problems are kept in a report (all are counted).
const MAX_REPORTED: usize = 1000;

/// What a verify walk found.
#[derive(Debug, Default)]
pub struct Report {
    /// Entries checked, per family.
    pub counts: Vec<(&'static str, u64)>,
    /// The first [`MAX_REPORTED`] problems, each naming its location.
    pub problems: Vec<String>,
    /// Every problem found.
    pub problem_count: u64,
}

impl Report {
    /// Whether nothing was wrong.
    pub fn is_clean(&self) -> bool {
        self.problem_count == 0
    }

    fn problem(&mut self, message: impl Into<String>) {
        self.problem_count += 1;
        if self.problems.len() < MAX_REPORTED {
            self.problems.push(message.into());
        }
    }

    fn check(&mut self, outcome: Result<()>) {
        if let Err(e) = outcome {
            self.problem(e.to_string());
        }
    }
}

/// Walks the database at `path` (opened read-only, so a running server may keep it open). Fails
/// only if the database cannot be opened at all.
pub fn verify(path: &Path) -> Result<Report> {
    if !path.join("CURRENT").exists() {
        return Err(Error::Storage(format!(
            "{} is not a DriftDB data directory",
            path.display()
        )));
    }
    let store = Store::open_read_only(path)?;
    let mut walk = Walk {
        versions: store.cursor(Family::Versions, None, None),
        report: Report::default(),
        commit_rows: Vec::new(),
        version_rows: HashMap::new(),
    };
    for family in Family::ALL {
        let mut cursor = store.cursor(family, None, None);
        cursor.seek_to_first();
        let mut count = 0;
        let mut last_key: Option<Vec<u8>> = None;
        while let Some((key, value)) = cursor.item() {
            count += 1;
            let outcome = walk.entry(family, key, value);
            walk.report.check(outcome);
            last_key = Some(key.to_vec());
            cursor.next();
        }
        if let Err(e) = cursor.status() {
            let after = last_key.map_or("the start".into(), |k| keys::describe(&k));
            walk.report.problem(format!(
                "{} family unreadable after {after}: {e}",
                family.name()
            ));
        }
        walk.report.counts.push((family.name(), count));
    }
    walk.cross_check_commits();
    Ok(walk.report)
}

struct Walk<'s> {
    /// Looks up each row's newest version while the latest-state family is walked.
    versions: Cursor<'s>,
    report: Report,
    /// Rows each commit says it wrote; index `i` is seq `i + 1`.
    commit_rows: Vec<u64>,
    /// Versions found per seq.
    version_rows: HashMap<Seq, u64>,
}

impl Walk<'_> {
    fn entry(&mut self, family: Family, key: &[u8], value: &[u8]) -> Result<()> {
        match family {
            Family::Meta => decode_format(value).map(drop),
            Family::Catalog => decode_catalog_entry(key, value).map(drop),
            Family::Commits => {
                let expected = Seq(self.commit_rows.len() as u64 + 1);
                match decode_commit_entry(key, value, expected) {
                    Ok(info) => self.commit_rows.push(info.rows),
                    Err(e) => {
                        // Keep the numbering in step with the keys so one gap is one problem.
                        if let Some(seq) = keys::split_commit_key(key) {
                            self.commit_rows.resize(seq.0 as usize, 0);
                        }
                        return Err(e);
                    }
                }
                Ok(())
            }
            Family::Versions => self.version(key, value),
            Family::Latest => self.latest(key, value),
            Family::Indexes => index::decode_entry(key, value).map(drop),
        }
    }

    fn version(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        let vk = keys::split_version_key(key)
            .ok_or_else(|| Error::corrupt(keys::describe(key), "malformed version key"))?;
        *self.version_rows.entry(vk.seq).or_default() += 1;
        if let RowEvent::Put(row) = scan::decode(&vk, value)? {
            row.validate().map_err(|e| {
                Error::corrupt(
                    format!(
                        "table {}, key {}, seq {}",
                        vk.table,
                        keys::describe(vk.pk),
                        vk.seq
                    ),
                    e,
                )
            })?;
        }
        Ok(())
    }

    /// A latest-state entry must equal its row's newest version.
    fn latest(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        let (seq, _) = latest::decode(key, value)?;
        let (table, pk) = keys::split_latest_key(key)
            .ok_or_else(|| Error::corrupt(keys::describe(key), "malformed latest-state key"))?;
        let location = format!("latest state of table {table}, key {}", keys::describe(pk));
        let versions = &mut self.versions;
        versions.seek(&keys::version_key(table, pk, Seq(u64::MAX)));
        let newest = match versions.item() {
            Some((vkey, vvalue)) => keys::split_version_key(vkey)
                .filter(|vk| vk.table == table && vk.pk == pk)
                .map(|vk| (vk.seq, vvalue.to_vec())),
            None => None,
        };
        versions.status()?;
        let Some((newest_seq, newest_event)) = newest else {
            return Err(Error::corrupt(location, "no version of this row exists"));
        };
        let payload = frame::decode(value).map_err(|e| Error::corrupt(&location, e))?;
        let newest_payload = frame::decode(&newest_event).unwrap_or_default();
        if newest_seq != seq || newest_payload != &payload[8..] {
            return Err(Error::corrupt(
                location,
                format!("says seq {seq} but the newest version is seq {newest_seq}, or differs"),
            ));
        }
        Ok(())
    }

    fn cross_check_commits(&mut self) {
        let committed = self.commit_rows.len() as u64;
        let mut seqs: Vec<_> = self.version_rows.iter().map(|(s, n)| (*s, *n)).collect();
        seqs.sort();
        for (seq, found) in seqs {
            match self.commit_rows.get((seq.0 as usize).wrapping_sub(1)) {
                None => self.report.problem(format!(
                    "{found} versions at seq {seq}, which the commit log (ending at seq \
                     {committed}) does not contain"
                )),
                Some(&said) if said != found => self.report.problem(format!(
                    "commit {seq} wrote {said} rows but {found} versions carry its seq"
                )),
                Some(_) => {}
            }
        }
        for (i, &said) in self.commit_rows.iter().enumerate() {
            let seq = Seq(i as u64 + 1);
            if said > 0 && !self.version_rows.contains_key(&seq) {
                self.report.problem(format!(
                    "commit {seq} wrote {said} rows but none are stored"
                ));
            }
        }
    }
}
