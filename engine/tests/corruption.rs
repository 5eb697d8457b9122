//! Damage on disk is found: flipping a byte in a stored file makes reads fail with a corruption
//! error (never wrong rows, never a panic) and makes the verify walk report it.

use driftdb_engine::{
    ColumnType, Engine, EngineOptions, ErrorKind, Flow, RowWrite, Seq, ValueRef, WriteExpectation,
    verify,
};
use std::path::Path;

mod fixture;

fn fill(dir: &Path) -> Vec<(String, String)> {
    let engine = Engine::open(dir, EngineOptions::default()).unwrap();
    let table = engine
        .create_table(
            "t",
            vec![
                fixture::not_null("id", ColumnType::Int64),
                fixture::not_null("data", ColumnType::Text),
            ],
            vec![0],
        )
        .unwrap()
        .id;
    for batch in 0..4 {
        let writes: Vec<RowWrite> = (0..500)
            .map(|i| {
                let id = batch * 500 + i;
                let data = format!(
                    "row {id} with some text that is not all alike {}",
                    id * 7919
                );
                let values = [ValueRef::Int64(id), ValueRef::Text(&data)];
                fixture::put(
                    table,
                    fixture::key_i64(id),
                    &values,
                    WriteExpectation::Absent,
                )
            })
            .collect();
        engine.commit("u", &writes).unwrap();
    }
    engine.flush().unwrap();
    engine.storage_files().unwrap()
}

fn flip_middle_byte(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x5a;
    std::fs::write(path, bytes).unwrap();
}

fn read_everything(dir: &Path, window: u64) -> driftdb_engine::Result<usize> {
    let options = EngineOptions {
        latest_state_window: window,
        ..EngineOptions::default()
    };
    let engine = Engine::open(dir, options)?;
    let table = engine
        .resolve_table("t", driftdb_engine::CatalogPoint::Latest)
        .unwrap()
        .id;
    let mut rows = 0;
    engine.scan_as_of(table, Seq(3), |_, _| {
        rows += 1;
        Ok(Flow::Continue)
    })?;
    Ok(rows)
}

#[test]
fn a_flipped_byte_in_any_family_fails_reads_and_verify() {
    for family in ["versions", "latest"] {
        let dir = tempfile::tempdir().unwrap();
        let files = fill(dir.path());
        assert!(verify::verify(dir.path()).unwrap().is_clean());
        assert_eq!(read_everything(dir.path(), 0).unwrap(), 1500);

        let (_, file) = files
            .iter()
            .find(|(f, _)| f == family)
            .unwrap_or_else(|| panic!("no SST file for {family}: {files:?}"));
        flip_middle_byte(&dir.path().join(file.trim_start_matches('/')));

        // The damaged family is the one a read path walks: versions for an old snapshot, the
        // latest state for a recent one.
        let window = if family == "versions" { 0 } else { u64::MAX };
        let err = read_everything(dir.path(), window).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Corrupt, "{family}: {err}");
        let report = verify::verify(dir.path()).unwrap();
        assert!(!report.is_clean(), "{family}: verify found nothing");
        assert!(
            report.problems.iter().any(|p| p.contains(family)),
            "{family}: {:?}",
            report.problems
        );
    }
}
