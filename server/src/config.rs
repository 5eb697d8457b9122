//! Command-line configuration.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How the server was asked to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub data_path: PathBuf,
    pub listen: SocketAddr,
    /// Client connections served at once; one more is told FATAL 53300.
    pub max_connections: usize,
    /// How long a client has to finish its startup.
    pub authentication_timeout: Duration,
    /// Bytes that queries may hold at once (sorts, joins, aggregations spill or fail past it);
    /// `None`: half of the machine's memory.
    pub memory_limit: Option<usize>,
    /// Registers functions that exist only to test the server (`driftdb_test_panic`); set by
    /// the environment variable `DRIFTDB_TEST_FUNCTIONS=1`, never by a flag.
    pub test_functions: bool,
}

pub const USAGE: &str = "usage: driftdb-server [--data-path DIR] [--listen HOST:PORT] [--port N]
                      [--max-connections N] [--authentication-timeout DURATION]
                      [--memory-limit SIZE]
       driftdb-server verify [--data-path DIR]

  --data-path DIR                    where the database lives (default ./data)
  --listen HOST:PORT                 address to listen on (default 127.0.0.1:5433)
  --port N                           port to listen on, keeping the host (0 picks a free port)
  --max-connections N                client connections served at once (default 100)
  --authentication-timeout DURATION  time a client has to finish connecting (default 1min;
                                     e.g. 500ms, 10s, 2min)
  --memory-limit SIZE                memory queries may use at once before sorts, joins and
                                     aggregations spill to disk or fail with 53200
                                     (default: half of the machine's memory; e.g. 512MB, 4GB)";

impl Default for Config {
    fn default() -> Self {
        Config {
            data_path: PathBuf::from("./data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 5433)),
            max_connections: 100,
            authentication_timeout: Duration::from_secs(60),
            memory_limit: None,
            test_functions: false,
        }
    }
}

/// The memory limit when none is given: half of the machine's memory, or of the control
/// group's limit where that is lower (1 GB if neither can be read).
pub fn default_memory_limit() -> usize {
    let machine = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            let line = info.lines().find(|line| line.starts_with("MemTotal:"))?;
            let kilobytes: usize = line.split_whitespace().nth(1)?.parse().ok()?;
            kilobytes.checked_mul(1024)
        });
    let group = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|max| max.trim().parse::<usize>().ok());
    let total = match (machine, group) {
        (Some(machine), Some(group)) => machine.min(group),
        (Some(limit), None) | (None, Some(limit)) => limit,
        (None, None) => 2 << 30,
    };
    total / 2
}

/// A duration as PostgreSQL writes one: a number with `ms`, `s`, `min`, `h` or `d` (no unit:
/// seconds).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let millis = match unit.trim() {
        "ms" => 1,
        "" | "s" => 1_000,
        "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    number.checked_mul(millis).map(Duration::from_millis)
}

/// A size as PostgreSQL writes one: a number with `B`, `kB`, `MB`, `GB` or `TB` (no unit:
/// bytes).
pub fn parse_size(text: &str) -> Option<usize> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: usize = number.parse().ok()?;
    let unit: usize = match unit.trim() {
        "" | "B" => 1,
        "kB" | "KB" => 1 << 10,
        "MB" => 1 << 20,
        "GB" => 1 << 30,
        "TB" => 1 << 40,
        _ => return None,
    };
    number.checked_mul(unit)
}

impl Config {
    /// Parses the arguments after the program name.
    pub fn from_args(args: impl IntoIterator<Item = String>) -> Result<Config, String> {
        let mut config = Config::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) => (flag.to_string(), Some(value.to_string())),
                None => (arg, None),
            };
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .ok_or_else(|| format!("{flag} needs a value"))
            };
            match flag.as_str() {
                "--data-path" => config.data_path = PathBuf::from(value()?),
                "--listen" => {
                    let v = value()?;
                    config.listen = v
                        .parse()
                        .map_err(|_| format!("--listen: {v:?} is not HOST:PORT"))?;
                }
                "--port" => {
                    let v = value()?;
                    let port = v
                        .parse()
                        .map_err(|_| format!("--port: {v:?} is not a port number"))?;
                    config.listen.set_port(port);
                }
                "--max-connections" => {
                    let v = value()?;
                    config.max_connections =
                        v.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                            format!("--max-connections: {v:?} is not a positive number")
                        })?;
                }
                "--authentication-timeout" => {
                    let v = value()?;
                    config.authentication_timeout = parse_duration(&v)
                        .filter(|d| !d.is_zero())
                        .ok_or_else(|| {
                            format!("--authentication-timeout: {v:?} is not a duration (e.g. 500ms, 10s, 1min)")
                        })?;
                }
                "--memory-limit" => {
                    let v = value()?;
                    config.memory_limit = Some(
                        parse_size(&v)
                            .filter(|n| *n >= 1 << 20)
                            .ok_or_else(|| {
                                format!("--memory-limit: {v:?} is not a size of at least 1MB (e.g. 512MB, 4GB)")
                            })?,
                    );
                }
                "-h" | "--help" => return Err(USAGE.to_string()),
                other => return Err(format!("unknown argument {other:?}\n\n{USAGE}")),
            }
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, String> {
        Config::from_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults_listen_on_loopback_5433_with_data_in_dot_data() {
        assert_eq!(parse(&[]).unwrap(), Config::default());
        assert_eq!(Config::default().listen.to_string(), "127.0.0.1:5433");
    }

    #[test]
    fn flags_take_separate_or_inline_values() {
        let config = parse(&["--data-path", "/tmp/x", "--port=0"]).unwrap();
        assert_eq!(config.data_path, PathBuf::from("/tmp/x"));
        assert_eq!(config.listen.to_string(), "127.0.0.1:0");
        assert_eq!(
            parse(&["--listen", "127.0.0.2:7000"])
                .unwrap()
                .listen
                .to_string(),
            "127.0.0.2:7000"
        );
    }

    #[test]
    fn limits_take_postgresql_units() {
        let config = parse(&[
            "--max-connections",
            "7",
            "--authentication-timeout=500ms",
            "--memory-limit",
            "2GB",
        ])
        .unwrap();
        assert_eq!(config.max_connections, 7);
        assert_eq!(config.authentication_timeout, Duration::from_millis(500));
        assert_eq!(config.memory_limit, Some(2 << 30));
        assert_eq!(parse_duration("2min"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("10"), Some(Duration::from_secs(10)));
        assert_eq!(parse_size("64kB"), Some(64 << 10));
        assert!(parse(&["--max-connections", "0"]).is_err());
        assert!(parse(&["--authentication-timeout", "soon"]).is_err());
        assert!(parse(&["--memory-limit", "12 parsecs"]).is_err());
    }

    #[test]
    fn bad_arguments_are_reported() {
        assert!(parse(&["--port", "x"]).is_err());
        assert!(parse(&["--data-path"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
    }
}
