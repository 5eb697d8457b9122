//! Test harness: starts the real `driftdb-server` binary on a free port over a temporary data
//! directory, and connects real clients to it.
//!
//! The binary is found through `DRIFTDB_SERVER_BIN`, or next to the test executable's `deps`
//! directory (where `cargo build` puts it). The server binds port 0 and prints the address it
//! got, so tests never guess ports and never sleep.

pub mod bench;
pub mod pgbench;
pub mod postgres;
pub mod queryfuzz;
pub mod raw;
pub mod slt;
pub mod soak;
pub mod splitmix;
pub mod sqlite_corpus;
pub mod transfers;
pub mod wirefuzz;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Where the `driftdb-server` binary is.
pub fn server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("DRIFTDB_SERVER_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the test knows its own path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("tests run from target/<profile>/deps");
    let binary = profile_dir.join("driftdb-server");
    assert!(
        binary.exists(),
        "{} does not exist: build it first (`cargo build --bin driftdb-server`) or set DRIFTDB_SERVER_BIN",
        binary.display()
    );
    binary
}

/// A running `driftdb-server` process; killed when dropped.
pub struct TestServer {
    child: Option<Child>,
    addr: SocketAddr,
    data_dir: PathBuf,
}

/// The address a `driftdb-server` started with `--listen 127.0.0.1:0` (stdout piped) prints
/// that it listens on. Its stdout is drained from then on, so the server never blocks on a full
/// pipe.
pub(crate) fn listening_address(child: &mut Child) -> SocketAddr {
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("driftdb-server printed its address before exiting")
            .expect("stdout is readable");
        if let Some(addr) = line.strip_prefix("driftdb-server listening on ") {
            break addr.parse().expect("the printed address parses");
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    addr
}

impl TestServer {
    /// Starts a server over `data_dir` on a free loopback port and waits until it listens.
    pub fn start(data_dir: &Path) -> TestServer {
        TestServer::start_with(data_dir, &[], &[])
    }

    /// Like [`TestServer::start`], with more command-line arguments and environment variables.
    pub fn start_with(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> TestServer {
        let mut child = Command::new(server_binary())
            .arg("--data-path")
            .arg(data_dir)
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("driftdb-server starts");
        let addr = listening_address(&mut child);
        TestServer {
            child: Some(child),
            addr,
            data_dir: data_dir.to_path_buf(),
        }
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server process's id while it runs (`None` once it was killed or stopped).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Connects a tokio-postgres client as `user` to database `driftdb`.
    pub async fn connect(&self) -> tokio_postgres::Client {
        self.connect_to("driftdb")
            .await
            .expect("connecting to driftdb succeeds")
    }

    /// Connects to the named database.
    pub async fn connect_to(
        &self,
        database: &str,
    ) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        let (client, connection) = tokio_postgres::Config::new()
            .host(self.addr.ip().to_string())
            .port(self.addr.port())
            .user("tester")
            .dbname(database)
            .connect(tokio_postgres::NoTls)
            .await?;
        tokio::spawn(connection);
        Ok(client)
    }

    /// Kills the server outright (SIGKILL): nothing gets a chance to flush.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("the server can be killed");
            child.wait().expect("the killed server is reaped");
        }
    }

    /// Asks the server to stop (SIGTERM) and returns its exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("the server is running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -TERM succeeded");
        child.wait().expect("the server exits")
    }

    /// Kills this server and starts a new one over the same data directory.
    pub fn restart(mut self) -> TestServer {
        self.kill();
        TestServer::start(&self.data_dir)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A row of non-NULL text values, as [`rows`] returns them.
pub fn text(values: &[&str]) -> Vec<Option<String>> {
    values.iter().map(|v| Some(v.to_string())).collect()
}

/// The rows of a simple query, every value as text (`None` for NULL).
pub async fn rows(client: &tokio_postgres::Client, sql: &str) -> Vec<Vec<Option<String>>> {
    rows_or_error(client, sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Like [`rows`], but returns the error.
pub async fn rows_or_error(
    client: &tokio_postgres::Client,
    sql: &str,
) -> Result<Vec<Vec<Option<String>>>, tokio_postgres::Error> {
    let messages = client.simple_query(sql).await?;
    Ok(messages
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).map(str::to_string))
                    .collect(),
            ),
            _ => None,
        })
        .collect())
}

/// An error's SQLSTATE, or its text when it has none (an error on the client's side).
pub fn error_code(e: &tokio_postgres::Error) -> String {
    e.code()
        .map_or_else(|| e.to_string(), |c| c.code().to_string())
}

/// Asserts that a scenario told the same story on DriftDB as on PostgreSQL: the same lines (the
/// first difference is the one reported), and as many.
pub fn assert_same_transcript<T: AsRef<str>>(scenario: &str, driftdb: &[T], postgres: &[T]) {
    for (ours, theirs) in driftdb.iter().zip(postgres) {
        assert_eq!(
            ours.as_ref(),
            theirs.as_ref(),
            "{scenario}: DriftDB's line, then PostgreSQL's"
        );
    }
    assert_eq!(
        driftdb.len(),
        postgres.len(),
        "{scenario}: transcript lengths"
    );
}

/// The SQLSTATE of a failed statement.
pub async fn sqlstate_of(client: &tokio_postgres::Client, sql: &str) -> String {
    match client.simple_query(sql).await {
        Ok(_) => panic!("{sql} succeeded but was expected to fail"),
        Err(e) => e
            .code()
            .map(|c| c.code().to_string())
            .unwrap_or_else(|| panic!("{sql}: no SQLSTATE in {e}")),
    }
}
