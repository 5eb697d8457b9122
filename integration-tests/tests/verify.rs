//! `driftdb-server verify` over a real data directory: OK on intact data (also while the server
//! runs), DAMAGED with exit status 1 once a byte of the write-ahead log is flipped, and exit status
//! 2 when there is no database to check.

use driftdb_integration_tests::{TestServer, server_binary};
use std::path::Path;
use std::process::Output;

fn verify(dir: &Path) -> Output {
    std::process::Command::new(server_binary())
        .args(["verify", "--data-path"])
        .arg(dir)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn verify_reports_intact_data_and_a_flipped_byte() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = TestServer::start(dir.path());
    let client = server.connect().await;
    client
        .batch_execute("CREATE TABLE t (id INT PRIMARY KEY, data TEXT)")
        .await
        .unwrap();
    for id in 0..40 {
        let insert = format!("INSERT INTO t VALUES ({id}, 'row {id} of the verify test')");
        client.batch_execute(&insert).await.unwrap();
    }
    let live = verify(dir.path());
    assert_eq!(live.status.code(), Some(0), "{}", stdout(&live));
    assert!(stdout(&live).contains("verify: OK"));
    assert!(
        stdout(&live).contains("versions: 40 entries"),
        "{}",
        stdout(&live)
    );

    drop(client);
    assert!(server.terminate().success());
    let wal = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .expect("a write-ahead log file");
    let mut bytes = std::fs::read(&wal).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x5a;
    std::fs::write(&wal, bytes).unwrap();

    let damaged = verify(dir.path());
    assert_eq!(damaged.status.code(), Some(1), "{}", stdout(&damaged));
    assert!(stdout(&damaged).contains("DAMAGED"), "{}", stdout(&damaged));
}

#[test]
fn verify_of_a_missing_directory_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = verify(&dir.path().join("nothing-here"));
    assert_eq!(output.status.code(), Some(2));
}
