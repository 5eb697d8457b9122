//! A throwaway PostgreSQL (Debian's `postgresql` package) in a temporary directory on a free
//! loopback port, so benchmarks and compatibility checks run the same workload against the
//! reference. Stopped (immediately) when dropped.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;

/// A running reference PostgreSQL.
pub struct ReferencePostgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    run_as_postgres: bool,
    _dir: tempfile::TempDir,
}

/// The newest installed server's `bin` directory.
pub(crate) fn bin_dir() -> Result<PathBuf, String> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| {
            format!("no PostgreSQL in /usr/lib/postgresql ({e}); install Debian's postgresql")
        })?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("pg_ctl").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .ok_or_else(|| "no PostgreSQL server binaries under /usr/lib/postgresql".to_string())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

impl ReferencePostgres {
    /// initdb + pg_ctl start; as root, the server runs as the `postgres` user (it refuses root).
    pub fn start() -> Result<ReferencePostgres, String> {
        let bin = bin_dir()?;
        let dir = tempfile::Builder::new()
            .prefix("driftdb-reference-pg")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let run_as_postgres = is_root();
        if run_as_postgres {
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path()))?;
        }
        let data = dir.path().join("data");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let server = ReferencePostgres {
            bin,
            data,
            port,
            run_as_postgres,
            _dir: dir,
        };
        run(server
            .command("initdb")
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "-D",
            ])
            .arg(&server.data))?;
        let socket_dir = server
            .data
            .parent()
            .expect("data has a parent")
            .to_path_buf();
        run(server
            .command("pg_ctl")
            .arg("-D")
            .arg(&server.data)
            .arg("-l")
            .arg(socket_dir.join("log"))
            .arg("-o")
            .arg(format!(
                // UTC and ISO dates, as DriftDB reports them.
                "-p {port} -c listen_addresses=127.0.0.1 -c TimeZone=UTC -c DateStyle=ISO,MDY -k {}",
                socket_dir.display()
            ))
            .args(["-w", "start"]))?;
        Ok(server)
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.run_as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    /// The server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Connects to database `postgres` as user `postgres`.
    pub async fn connect(&self) -> tokio_postgres::Client {
        self.connect_to("postgres").await
    }

    /// Connects to `database` as user `postgres`.
    pub async fn connect_to(&self, database: &str) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::Config::new()
            .host("127.0.0.1")
            .port(self.port)
            .user("postgres")
            .dbname(database)
            .connect(tokio_postgres::NoTls)
            .await
            .expect("connecting to the reference PostgreSQL");
        tokio::spawn(connection);
        client
    }
}

impl Drop for ReferencePostgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

fn run(command: &mut Command) -> Result<(), String> {
    let output = command.output().map_err(|e| format!("{command:?}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{command:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(())
}
