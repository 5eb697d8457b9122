//! JSON text: validation for `json`, and the canonical form `jsonb` stores and prints.
//!
//! PostgreSQL keeps `json` verbatim and `jsonb` parsed: object keys unique (the last wins),
//! ordered by length and then bytes, printed with `", "` and `": "` separators. Numbers keep
//! their digits (they are numerics there too, not floats).

use std::fmt::Write;

/// A parsed JSON value; strings are unescaped, numbers keep their text.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

/// Why a text is not JSON (PostgreSQL's wording, minus the input echo).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonError {
    pub message: String,
    /// The document nests deeper than DriftDB parses (PostgreSQL's "stack depth limit
    /// exceeded"), rather than being malformed.
    pub too_deep: bool,
}

impl JsonError {
    /// The error a client sees for text given as `type_name` (`json`, `jsonb`): 22P02, or
    /// 54001 for a document nested too deep.
    pub fn for_type(self, type_name: &str) -> crate::error::Error {
        match self.too_deep {
            true => crate::error::Error::too_deep(),
            false => crate::error::Error::new(
                crate::error::ErrorKind::InvalidTextRepresentation,
                format!(
                    "invalid input syntax for type {type_name}: {}",
                    self.message
                ),
            ),
        }
    }
}

/// Nesting deeper than this is refused (54001) rather than risking the stack; statements run on
/// threads whose stacks hold it (the SQL layer's `statement_stack_size`).
const MAX_DEPTH: usize = 6_400;

struct Parser<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Parser<'a> {
    fn error<T>(&self, what: &str) -> Result<T, JsonError> {
        Err(JsonError {
            message: format!("{what} at offset {}", self.at),
            too_deep: false,
        })
    }

    fn skip_space(&mut self) {
        let rest = &self.text[self.at..];
        self.at += rest.len() - rest.trim_start_matches([' ', '\t', '\n', '\r']).len();
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn eat(&mut self, literal: &str) -> bool {
        if self.text[self.at..].starts_with(literal) {
            self.at += literal.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, JsonError> {
        if depth > MAX_DEPTH {
            return Err(JsonError {
                message: "JSON nested too deeply".into(),
                too_deep: true,
            });
        }
        self.skip_space();
        let value = match self.peek() {
            Some(b'{') => {
                self.at += 1;
                let mut members = Vec::new();
                self.skip_space();
                if !self.eat("}") {
                    loop {
                        self.skip_space();
                        if self.peek() != Some(b'"') {
                            return self.error("expected a string key");
                        }
                        let key = self.string()?;
                        self.skip_space();
                        if !self.eat(":") {
                            return self.error("expected \":\"");
                        }
                        let value = self.value(depth + 1)?;
                        members.push((key, value));
                        self.skip_space();
                        if self.eat("}") {
                            break;
                        }
                        if !self.eat(",") {
                            return self.error("expected \",\" or \"}\"");
                        }
                    }
                }
                Json::Object(members)
            }
            Some(b'[') => {
                self.at += 1;
                let mut items = Vec::new();
                self.skip_space();
                if !self.eat("]") {
                    loop {
                        items.push(self.value(depth + 1)?);
                        self.skip_space();
                        if self.eat("]") {
                            break;
                        }
                        if !self.eat(",") {
                            return self.error("expected \",\" or \"]\"");
                        }
                    }
                }
                Json::Array(items)
            }
            Some(b'"') => Json::String(self.string()?),
            Some(b'-' | b'0'..=b'9') => Json::Number(self.number()?),
            _ if self.eat("true") => Json::Bool(true),
            _ if self.eat("false") => Json::Bool(false),
            _ if self.eat("null") => Json::Null,
            _ => return self.error("unexpected token"),
        };
        Ok(value)
    }

    fn number(&mut self) -> Result<String, JsonError> {
        let bytes = self.text.as_bytes();
        let start = self.at;
        let digits = |at: &mut usize| {
            let from = *at;
            while bytes.get(*at).is_some_and(u8::is_ascii_digit) {
                *at += 1;
            }
            *at - from
        };
        let mut at = self.at;
        if bytes[at] == b'-' {
            at += 1;
        }
        let int_start = at;
        let int_digits = digits(&mut at);
        if int_digits == 0 || (bytes[int_start] == b'0' && int_digits > 1) {
            return self.error("invalid number");
        }
        if bytes.get(at) == Some(&b'.') {
            at += 1;
            if digits(&mut at) == 0 {
                return self.error("invalid number");
            }
        }
        if matches!(bytes.get(at), Some(b'e' | b'E')) {
            at += 1;
            if matches!(bytes.get(at), Some(b'+' | b'-')) {
                at += 1;
            }
            if digits(&mut at) == 0 {
                return self.error("invalid number");
            }
        }
        self.at = at;
        Ok(self.text[start..at].to_string())
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self.text.get(self.at..self.at + 4);
        match digits.and_then(|d| u32::from_str_radix(d, 16).ok()) {
            Some(v) if digits.is_some_and(|d| d.bytes().all(|b| b.is_ascii_hexdigit())) => {
                self.at += 4;
                Ok(v)
            }
            _ => self.error("\"\\u\" must be followed by four hexadecimal digits"),
        }
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.at += 1; // the opening quote
        let mut out = String::new();
        loop {
            let rest = &self.text[self.at..];
            let plain = rest
                .find(|c: char| c == '"' || c == '\\' || c < ' ')
                .unwrap_or(rest.len());
            out.push_str(&rest[..plain]);
            self.at += plain;
            match self.peek() {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.at += 1;
                    let escaped = self.peek();
                    self.at += 1;
                    match escaped {
                        Some(b'"') => out.push('"'),
                        Some(b'\\') => out.push('\\'),
                        Some(b'/') => out.push('/'),
                        Some(b'b') => out.push('\u{8}'),
                        Some(b'f') => out.push('\u{c}'),
                        Some(b'n') => out.push('\n'),
                        Some(b'r') => out.push('\r'),
                        Some(b't') => out.push('\t'),
                        Some(b'u') => {
                            let high = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&high) {
                                if !self.eat("\\u") {
                                    return self
                                        .error("a high surrogate must be followed by a low one");
                                }
                                let low = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&low) {
                                    return self.error("invalid low surrogate");
                                }
                                0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                            } else {
                                high
                            };
                            match char::from_u32(code) {
                                Some('\0') => {
                                    return self.error("\\u0000 cannot be converted to text");
                                }
                                Some(c) => out.push(c),
                                None => return self.error("invalid Unicode escape"),
                            }
                        }
                        _ => return self.error("invalid escape sequence"),
                    }
                }
                Some(_) => return self.error("control characters must be escaped"),
                None => return self.error("unterminated string"),
            }
        }
    }
}

/// Parses one JSON document (surrounding whitespace allowed, nothing else after it).
pub fn parse(text: &str) -> Result<Json, JsonError> {
    let mut parser = Parser { text, at: 0 };
    let value = parser.value(0)?;
    parser.skip_space();
    if parser.at != text.len() {
        return parser.error("unexpected text after the JSON value");
    }
    Ok(value)
}

pub fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c < ' ' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl Json {
    /// The value as `jsonb` holds it: object keys unique (last wins) and ordered by length,
    /// then bytes.
    pub fn into_canonical(self) -> Json {
        match self {
            Json::Array(items) => {
                Json::Array(items.into_iter().map(Json::into_canonical).collect())
            }
            Json::Object(members) => {
                let mut members: Vec<(String, Json)> = members
                    .into_iter()
                    .map(|(k, v)| (k, v.into_canonical()))
                    .collect();
                // A stable sort keeps duplicates in input order; the last one wins.
                members.sort_by(|(a, _), (b, _)| {
                    (a.len(), a.as_bytes()).cmp(&(b.len(), b.as_bytes()))
                });
                let mut unique: Vec<(String, Json)> = Vec::with_capacity(members.len());
                for (key, value) in members {
                    match unique.last_mut() {
                        Some((last, slot)) if *last == key => *slot = value,
                        _ => unique.push((key, value)),
                    }
                }
                Json::Object(unique)
            }
            other => other,
        }
    }

    /// Appends the value in `jsonb`'s output form.
    pub fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(n) => out.push_str(n),
            Json::String(s) => write_string(s, out),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Json::Object(members) => {
                out.push('{');
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_string(key, out);
                    out.push_str(": ");
                    value.write(out);
                }
                out.push('}');
            }
        }
    }
}

/// `text` in `jsonb`'s canonical output form.
pub fn canonical(text: &str) -> Result<String, JsonError> {
    let mut out = String::with_capacity(text.len());
    parse(text)?.into_canonical().write(&mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonb_orders_keys_by_length_then_bytes_and_keeps_the_last_duplicate() {
        assert_eq!(
            canonical(
                r#" {"bb":1,"a":[true,null, -1.50e3],"b":{"y":"\u00e9\n","x":2},"a":"last"} "#
            )
            .unwrap(),
            r#"{"a": "last", "b": {"x": 2, "y": "é\n"}, "bb": 1}"#
        );
        assert_eq!(canonical("[]").unwrap(), "[]");
        assert_eq!(canonical("{}").unwrap(), "{}");
        assert_eq!(canonical(r#""\ud83d\ude00""#).unwrap(), "\"😀\"");
    }

    #[test]
    fn malformed_json_is_an_error() {
        for text in [
            "",
            "{",
            "[1,]",
            "{\"a\"}",
            "01",
            "1.",
            "-",
            "tru",
            "\"\\x\"",
            "\"a",
            "1 2",
            "{1:2}",
            "\"\\u0000\"",
            "\"\\ud800\"",
            "\"\u{1}\"",
        ] {
            assert!(parse(text).is_err(), "{text:?} parsed");
        }
        // Too deep is an error, and as deep as allowed parses, on a stack as large as the
        // server's threads have (a test thread's is too small for either).
        let (too_deep, allowed) = std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn(|| {
                let deep = "[".repeat(MAX_DEPTH + 2);
                let allowed = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
                (
                    parse(&deep).err().map(|e| e.too_deep),
                    parse(&allowed).map(|json| json.into_canonical()).is_ok(),
                )
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(too_deep, Some(true));
        assert!(allowed);
    }
}
