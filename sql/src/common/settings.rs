//! Run-time settings: `SET`, `SHOW`, `RESET` and `current_setting()` over PostgreSQL's common
//! session settings, with the values PostgreSQL 15 reports by default.
//!
//! Drivers and tools set and read these on connect (`client_encoding`, `DateStyle`,
//! `TimeZone`, `search_path`, `extra_float_digits`, …). A setting DriftDB cannot honour is
//! refused rather than silently ignored (another client encoding, a non-ISO `DateStyle`);
//! read-only settings (`server_version`, …) refuse changes as PostgreSQL does. Names with a dot
//! are custom settings, kept as given. `datafusion.*` settings go to DataFusion.

use datafusion::sql::sqlparser::ast::{Expr, Ident, ObjectName, Value};
use driftdb_pgtypes::error::{Error, ErrorKind, Result};
use std::collections::BTreeMap;
use std::time::Duration;

/// PostgreSQL's server version as DriftDB reports it (`server_version`, `version()`).
pub const SERVER_VERSION: &str = "15.0";

/// The settings PostgreSQL reports to the client (ParameterStatus) at startup and whenever
/// they change (its `GUC_REPORT` ones, as far as DriftDB has them).
pub const REPORTED: &[&str] = &[
    "application_name",
    "client_encoding",
    "DateStyle",
    "default_transaction_read_only",
    "integer_datetimes",
    "IntervalStyle",
    "is_superuser",
    "server_encoding",
    "standard_conforming_strings",
    "TimeZone",
];

/// Whether a message of severity `warning` (else NOTICE) reaches a client whose
/// `client_min_messages` is `threshold`.
pub fn reaches_client(threshold: &str, warning: bool) -> bool {
    match threshold.to_ascii_lowercase().as_str() {
        "error" | "fatal" | "panic" => false,
        "warning" => warning,
        _ => true,
    }
}

/// Each known setting: its name as PostgreSQL spells it, its default, and whether it is fixed.
const KNOWN: &[(&str, &str, bool)] = &[
    ("application_name", "", false),
    ("block_size", "8192", true),
    ("bytea_output", "hex", false),
    ("client_encoding", "UTF8", false),
    ("client_min_messages", "notice", false),
    ("DateStyle", "ISO, MDY", false),
    // Accepted for PostgreSQL's tools; DriftDB looks for a deadlock when a wait starts
    // (`crate::storage::locks`), never later.
    ("deadlock_timeout", "1s", false),
    // Whether statements on one row by its primary key skip planning (`crate::keypath`).
    (FAST_PATH, "on", false),
    ("default_transaction_read_only", "off", false),
    ("extra_float_digits", "1", false),
    ("idle_in_transaction_session_timeout", "0", false),
    ("idle_session_timeout", "0", false),
    ("integer_datetimes", "on", true),
    ("IntervalStyle", "postgres", false),
    ("is_superuser", "on", true),
    ("jit", "off", false),
    ("lc_collate", "C", true),
    ("lc_ctype", "C", true),
    ("lc_messages", "C", false),
    ("lc_monetary", "C", false),
    ("lc_numeric", "C", false),
    ("lc_time", "C", false),
    ("lock_timeout", "0", false),
    ("max_function_args", "100", true),
    ("max_identifier_length", "63", true),
    ("max_index_keys", "32", true),
    ("search_path", "\"$user\", public", false),
    ("server_encoding", "UTF8", true),
    ("server_version", SERVER_VERSION, true),
    ("server_version_num", "150000", true),
    ("standard_conforming_strings", "on", false),
    ("statement_timeout", "0", false),
    ("synchronous_commit", "on", false),
    ("TimeZone", "UTC", false),
    ("work_mem", "4MB", false),
];

/// The setting that turns the key path (statements on one row by primary key, run without
/// planning) on or off.
pub const FAST_PATH: &str = "driftdb.fast_path";

/// The settings that take a duration in milliseconds.
const DURATIONS: [&str; 5] = [
    "deadlock_timeout",
    "statement_timeout",
    "lock_timeout",
    "idle_in_transaction_session_timeout",
    "idle_session_timeout",
];

/// One session's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Keyed by lower-case name; each value remembers the name as PostgreSQL spells it.
    values: BTreeMap<String, (String, String)>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            values: KNOWN
                .iter()
                .map(|(name, value, _)| {
                    (
                        name.to_ascii_lowercase(),
                        (name.to_string(), value.to_string()),
                    )
                })
                .collect(),
        }
    }
}

fn unknown(name: &str) -> Error {
    Error::new(
        ErrorKind::UndefinedObject,
        format!("unrecognized configuration parameter \"{name}\""),
    )
}

fn invalid(name: &str, value: &str) -> Error {
    Error::new(
        ErrorKind::InvalidParameterValue,
        format!("invalid value for parameter \"{name}\": \"{value}\""),
    )
}

/// The setting an identifier chain names, lower case (`"DateStyle"` → `datestyle`).
pub fn setting_name(name: &ObjectName) -> String {
    name.0
        .iter()
        .filter_map(|part| part.as_ident())
        .map(|ident| ident.value.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(".")
}

/// The name SHOW reads, lower case (`SHOW TIME ZONE` is `timezone`).
pub fn show_name(parts: &[Ident]) -> String {
    let words: Vec<String> = parts.iter().map(|p| p.value.to_ascii_lowercase()).collect();
    match words.join(" ").as_str() {
        "time zone" => "timezone".into(),
        "transaction isolation level" => "transaction_isolation".into(),
        "session authorization" => "session_authorization".into(),
        _ => words.join("."),
    }
}

/// The text of a SET value: `'ISO, MDY'`, `ISO`, `5000`, `-1`, `DEFAULT`.
fn value_text(values: &[Expr]) -> String {
    values
        .iter()
        .map(|value| match value {
            Expr::Value(v) => match &v.value {
                Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone(),
                other => other.to_string(),
            },
            Expr::Identifier(ident) => ident.value.clone(),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Milliseconds written as PostgreSQL shows them: in the largest unit that divides them.
fn show_millis(ms: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "min"),
        (1000, "s"),
    ];
    if ms == 0 {
        return "0".into();
    }
    UNITS
        .iter()
        .find(|(size, _)| ms.is_multiple_of(*size))
        .map_or(format!("{ms}ms"), |(size, unit)| {
            format!("{}{unit}", ms / size)
        })
}

/// A duration setting's value (`5000`, `'5s'`, `'1min'`) in milliseconds.
fn parse_millis(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: u64 = digits.parse().ok()?;
    let scale = match unit.trim() {
        "" | "ms" => 1,
        "s" => 1000,
        "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    number.checked_mul(scale)
}

impl Settings {
    /// Whether the key path and cached plans serve statements (`driftdb.fast_path`).
    pub(crate) fn fast_paths_on(&self) -> bool {
        self.get(FAST_PATH).is_ok_and(|(_, value)| value == "on")
    }

    /// A setting's value and its name as PostgreSQL spells it.
    pub fn get(&self, name: &str) -> Result<(&str, &str)> {
        self.values
            .get(&name.to_ascii_lowercase())
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .ok_or_else(|| unknown(name))
    }

    /// Sets `name` back to the value it has in `earlier`.
    pub fn restore(&mut self, earlier: &Settings, name: &str) {
        let key = name.to_ascii_lowercase();
        match earlier.values.get(&key) {
            Some(value) => {
                self.values.insert(key, value.clone());
            }
            None => {
                self.values.remove(&key);
            }
        }
    }

    /// Every setting, by name.
    pub fn all(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values
            .values()
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }

    /// `SET name = values` (`DEFAULT` resets).
    pub fn set(&mut self, name: &str, values: &[Expr]) -> Result<()> {
        let text = value_text(values);
        if text.eq_ignore_ascii_case("default") {
            return self.reset(name);
        }
        self.set_text(name, &text)
    }

    /// Sets `name` to the text `value` (what `set_config()` does).
    pub fn set_text(&mut self, name: &str, value: &str) -> Result<()> {
        // Startup packets may carry values quoted as SQL would (asyncpg sends `'utf-8'`).
        let value = value
            .strip_prefix('\'')
            .and_then(|v| v.strip_suffix('\''))
            .unwrap_or(value);
        let key = name.to_ascii_lowercase();
        let known = KNOWN
            .iter()
            .find(|(known, ..)| known.eq_ignore_ascii_case(&key));
        let Some((canonical, _, fixed)) = known else {
            if key.contains('.') {
                self.values
                    .insert(key, (name.to_string(), value.to_string()));
                return Ok(());
            }
            return Err(unknown(name));
        };
        if *fixed {
            return Err(Error::new(
                ErrorKind::CantChangeRuntimeParam,
                format!("parameter \"{canonical}\" cannot be changed"),
            ));
        }
        let value = normalize(canonical, value)?;
        self.values.insert(key, (canonical.to_string(), value));
        Ok(())
    }

    /// `RESET name`.
    pub fn reset(&mut self, name: &str) -> Result<()> {
        let key = name.to_ascii_lowercase();
        match KNOWN
            .iter()
            .find(|(known, ..)| known.eq_ignore_ascii_case(&key))
        {
            Some((_, _, true)) => Err(Error::new(
                ErrorKind::CantChangeRuntimeParam,
                format!("parameter \"{name}\" cannot be changed"),
            )),
            Some((canonical, default, false)) => {
                self.values
                    .insert(key, (canonical.to_string(), default.to_string()));
                Ok(())
            }
            None if self.values.remove(&key).is_some() || key.contains('.') => Ok(()),
            None => Err(unknown(name)),
        }
    }

    /// `RESET ALL`.
    pub fn reset_all(&mut self) {
        *self = Settings::default();
    }

    /// `statement_timeout`, if one is set.
    pub fn statement_timeout(&self) -> Option<Duration> {
        self.timeout("statement_timeout")
    }

    /// The duration setting `name` (one of [`DURATIONS`]), unless it is 0 (no timeout).
    pub fn timeout(&self, name: &str) -> Option<Duration> {
        let (_, value) = self.get(name).ok()?;
        parse_millis(value)
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis)
    }
}

/// Checks a value for a known setting and puts it in the form SHOW gives.
fn normalize(name: &str, value: &str) -> Result<String> {
    let upper = value.trim().to_ascii_uppercase();
    match name {
        "client_encoding" => match upper.as_str() {
            "UTF8" | "UTF-8" | "UNICODE" => Ok("UTF8".into()),
            _ => Err(Error::unsupported(format!(
                "client_encoding \"{value}\" (DriftDB speaks UTF8 only)"
            ))),
        },
        "DateStyle" => {
            if !upper.split(',').any(|part| part.trim() == "ISO") {
                return Err(Error::unsupported(format!(
                    "DateStyle \"{value}\" (DriftDB writes dates in ISO style)"
                )));
            }
            let order = ["DMY", "YMD"]
                .into_iter()
                .find(|order| upper.contains(order))
                .unwrap_or("MDY");
            Ok(format!("ISO, {order}"))
        }
        "IntervalStyle" if upper != "POSTGRES" => Err(Error::unsupported(format!(
            "IntervalStyle \"{value}\" (DriftDB writes intervals in postgres style)"
        ))),
        "bytea_output" if upper != "HEX" => Err(Error::unsupported(format!(
            "bytea_output \"{value}\" (DriftDB writes bytea in hex)"
        ))),
        "standard_conforming_strings" if !matches!(upper.as_str(), "ON" | "TRUE" | "1") => Err(
            Error::unsupported("standard_conforming_strings off (backslashes are never escapes)"),
        ),
        "extra_float_digits" => match value.trim().parse::<i32>() {
            Ok(digits) if (-15..=3).contains(&digits) => Ok(digits.to_string()),
            _ => Err(invalid(name, value)),
        },
        FAST_PATH => match upper.as_str() {
            "ON" | "TRUE" | "YES" | "1" => Ok("on".into()),
            "OFF" | "FALSE" | "NO" | "0" => Ok("off".into()),
            _ => Err(invalid(name, value)),
        },
        name if DURATIONS.contains(&name) => parse_millis(value)
            .map(show_millis)
            .ok_or_else(|| invalid(name, value)),
        _ => Ok(value.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(settings: &mut Settings, name: &str, value: &str) -> Result<()> {
        settings.set_text(name, value)
    }

    #[test]
    fn known_settings_normalise_like_postgresql() {
        let mut settings = Settings::default();
        set(&mut settings, "datestyle", "iso").unwrap();
        assert_eq!(
            settings.get("DATESTYLE").unwrap(),
            ("DateStyle", "ISO, MDY")
        );
        set(&mut settings, "statement_timeout", "5000").unwrap();
        assert_eq!(settings.get("statement_timeout").unwrap().1, "5s");
        assert_eq!(settings.statement_timeout(), Some(Duration::from_secs(5)));
        set(&mut settings, "statement_timeout", "90s").unwrap();
        assert_eq!(settings.get("statement_timeout").unwrap().1, "90s");
        set(&mut settings, "statement_timeout", "0").unwrap();
        assert_eq!(settings.statement_timeout(), None);
        assert!(set(&mut settings, "statement_timeout", "soon").is_err());
        set(&mut settings, "client_encoding", "utf-8").unwrap();
        assert_eq!(settings.get("client_encoding").unwrap().1, "UTF8");
        assert_eq!(settings.get(FAST_PATH).unwrap().1, "on");
        set(&mut settings, "DRIFTDB.FAST_PATH", "false").unwrap();
        assert_eq!(settings.get(FAST_PATH).unwrap().1, "off");
        assert!(set(&mut settings, FAST_PATH, "sometimes").is_err());
    }

    #[test]
    fn bad_and_fixed_settings_are_refused() {
        let mut settings = Settings::default();
        let kind = |r: Result<()>| r.unwrap_err().kind;
        assert_eq!(
            kind(set(&mut settings, "nope", "1")),
            ErrorKind::UndefinedObject
        );
        assert_eq!(
            kind(set(&mut settings, "server_version", "16")),
            ErrorKind::CantChangeRuntimeParam
        );
        assert_eq!(
            kind(set(&mut settings, "client_encoding", "LATIN1")),
            ErrorKind::FeatureNotSupported
        );
        set(&mut settings, "myapp.user_id", "42").unwrap();
        assert_eq!(settings.get("myapp.user_id").unwrap().1, "42");
        settings.reset_all();
        assert!(settings.get("myapp.user_id").is_err());
    }
}
