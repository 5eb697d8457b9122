//! Command-line configuration.

use std::net::SocketAddr;
use std::path::PathBuf;

/// How the server was asked to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub data_path: PathBuf,
    pub listen: SocketAddr,
}

pub const USAGE: &str = "usage: driftdb-server [--data-path DIR] [--listen HOST:PORT] [--port N]
       driftdb-server verify [--data-path DIR]

  --data-path DIR     where the database lives (default ./data)
  --listen HOST:PORT  address to listen on (default 127.0.0.1:5433)
  --port N            port to listen on, keeping the host (0 picks a free port)";

impl Default for Config {
    fn default() -> Self {
        Config {
            data_path: PathBuf::from("./data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 5433)),
        }
    }
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
    fn bad_arguments_are_reported() {
        assert!(parse(&["--port", "x"]).is_err());
        assert!(parse(&["--data-path"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
    }
}
