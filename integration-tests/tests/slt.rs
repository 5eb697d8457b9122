//! Every `.slt` file of the SQL layer is its own tests: `<file>::in_process` (queries
//! prepared, so through the key path and cached plans),
//! `<file>::in_process_without_key_path` (every statement planned) and `<file>::over_the_wire`,
//! and for the standard-SQL ones also `<file>::against_postgresql`, so `cargo test --test slt
//! history` runs one file every way. A file without its tests fails
//! [`every_slt_file_has_its_tests`].

use driftdb_integration_tests::slt::{
    run_file_against_postgres, run_file_in_process, run_file_in_process_without_key_path,
    run_file_over_the_wire, slt_file, slt_file_names,
};

fn passes(result: Result<(), String>) {
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

/// A file's in-process and over-the-wire tests, in a module of its own.
macro_rules! file_tests {
    ($path:expr) => {
        use super::*;

        fn file() -> std::path::PathBuf {
            slt_file($path)
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn in_process() {
            passes(run_file_in_process(&file()).await);
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn in_process_without_key_path() {
            passes(run_file_in_process_without_key_path(&file()).await);
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn over_the_wire() {
            passes(run_file_over_the_wire(&file()).await);
        }
    };
}

/// The tests of each file: DriftDB's own (in-process and over the wire), then the standard ones
/// (also against PostgreSQL).
macro_rules! slt_tests {
    (own: [$($own:ident),* $(,)?], standard: [$($standard:ident),* $(,)?] $(,)?) => {
        $(
            mod $own {
                file_tests!(concat!(stringify!($own), ".slt"));
            }
        )*
        $(
            mod $standard {
                file_tests!(concat!("standard/", stringify!($standard), ".slt"));

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn against_postgresql() {
                    passes(run_file_against_postgres(&file()).await);
                }
            }
        )*

        /// The files the tests above run.
        const LISTED: &[&str] = &[
            $(concat!(stringify!($own), ".slt"),)*
            $(concat!("standard/", stringify!($standard), ".slt"),)*
        ];
    };
}

slt_tests! {
    own: [
        add_primary_key_history,
        alter_history,
        history,
        indexes,
        keys,
        seq,
        temporal,
        temporal_ranges,
        transactions,
        views_history,
    ],
    standard: [
        alter,
        basics,
        catalog_queries,
        checks,
        defaults,
        foreign_keys,
        information_schema,
        insert_forms,
        json,
        maintenance,
        no_primary_key,
        queries,
        returning,
        row_locks,
        settings,
        subqueries_by_row,
        types,
        unique,
        views,
    ],
}

#[test]
fn every_slt_file_has_its_tests() {
    let mut listed: Vec<&str> = LISTED.to_vec();
    listed.sort_unstable();
    let mut found = slt_file_names();
    found.sort_unstable();
    assert_eq!(
        found, listed,
        "add each .slt file to slt_tests! in this file"
    );
}
