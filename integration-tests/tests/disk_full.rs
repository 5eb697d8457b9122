//! A full disk fails commits with 53100 and loses nothing acknowledged: reads go on while it is
//! full, writes resume once space returns, and after a kill and restart every acknowledged row
//! is there and `verify` passes. Runs on a small tmpfs, which needs root (mount); where the
//! machine does not allow mounting, the test says so and checks nothing.

use driftdb_integration_tests::{TestServer, error_code, rows, server_binary};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A size-limited tmpfs mounted on a temporary directory, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().ok()?;
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|status| status.success());
        mounted.then_some(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Bytes free on the file system.
    fn available(&self) -> u64 {
        let output = Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(self.path())
            .output()
            .expect("df runs");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .nth(1)
            .and_then(|line| line.trim().parse().ok())
            .expect("df prints the free bytes")
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Fills all but `keep` bytes of the file system with a file of its own, and returns it.
fn fill(tmpfs: &Tmpfs, keep: u64) -> PathBuf {
    let filler = tmpfs.path().join("filler");
    let size = tmpfs.available().saturating_sub(keep);
    let file = std::fs::File::create(&filler).unwrap();
    // tmpfs allocates pages as they are written, so write them.
    let chunk = vec![0xA5u8; 1 << 20];
    let mut written = 0;
    use std::io::Write;
    let mut file = std::io::BufWriter::new(file);
    while written < size {
        let n = chunk.len().min((size - written) as usize);
        file.write_all(&chunk[..n]).unwrap();
        written += n as u64;
    }
    file.flush().unwrap();
    filler
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_fails_commits_with_53100_and_loses_nothing_acknowledged() {
    // RocksDB resumes writes only once as much space is free as a memtable may need (64 MB)
    // beside its preallocated write-ahead log (another 70 MB), so the disk must be bigger.
    let Some(tmpfs) = Tmpfs::mount("256m") else {
        eprintln!("skipped: this machine does not allow mounting a tmpfs (needs root)");
        return;
    };
    let data = tmpfs.path().join("data");
    let server = TestServer::start(&data);
    let client = server.connect().await;
    client
        .batch_execute("CREATE TABLE t (id int PRIMARY KEY, pad text)")
        .await
        .unwrap();
    let filler = fill(&tmpfs, 2 << 20);

    // Insert until the disk is full.
    let mut acknowledged = 0;
    let failure = loop {
        let insert = format!(
            "INSERT INTO t VALUES ({}, repeat('x', 20000))",
            acknowledged + 1
        );
        match client.simple_query(&insert).await {
            Ok(_) => acknowledged += 1,
            Err(e) => break e,
        }
        assert!(acknowledged < 100_000, "the disk never filled up");
    };
    assert_eq!(error_code(&failure), "53100", "{failure}");

    // Reads go on, and see exactly what was acknowledged.
    assert_eq!(
        rows(&client, "SELECT count(*) FROM t").await[0][0].as_deref(),
        Some(acknowledged.to_string().as_str())
    );
    // A second write fails the same way while the disk stays full.
    let again = client
        .simple_query("INSERT INTO t VALUES (-1, 'x')")
        .await
        .unwrap_err();
    assert_eq!(error_code(&again), "53100", "{again}");

    // Space returns: writes resume (RocksDB checks for free space every 5 seconds).
    std::fs::remove_file(filler).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match client
            .simple_query(&format!(
                "INSERT INTO t VALUES ({}, 'after')",
                acknowledged + 1
            ))
            .await
        {
            Ok(_) => {
                acknowledged += 1;
                break;
            }
            Err(e) if error_code(&e) == "53100" && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("writes did not resume once space returned: {e:?}"),
        }
    }

    // Every acknowledged row survives a crash.
    let server = server.restart();
    let client = server.connect().await;
    assert_eq!(
        rows(&client, "SELECT count(*), max(id) FROM t").await[0],
        vec![
            Some(acknowledged.to_string()),
            Some(acknowledged.to_string())
        ]
    );
    drop(server);
    let verified = Command::new(server_binary())
        .args(["verify", "--data-path"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        verified.status.success(),
        "verify: {}",
        String::from_utf8_lossy(&verified.stdout)
    );
}
