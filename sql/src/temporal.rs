//! DriftDB's temporal table clauses, rewritten at the token level into table-function calls.
//!
//! PostgreSQL's grammar has no time travel, and DataFusion drops the version clauses sqlparser
//! can parse for other dialects, so each temporal table reference is rewritten before parsing:
//!
//! | written                                      | rewritten                                   |
//! |----------------------------------------------|---------------------------------------------|
//! | `t AS OF @seq:N` / `t FOR SYSTEM_TIME AS OF @seq:N` | `__driftdb_as_of(N, 't') AS t`       |
//! | `t AS OF [TIMESTAMP] '…'` (and `FOR SYSTEM_TIME …`)  | `__driftdb_as_of(TIMESTAMP '…', 't') AS t` |
//! | `t FOR SYSTEM_TIME ALL`                      | `__driftdb_versions('t') AS t`              |
//!
//! The table functions ([`crate::functions`]) bind each reference to a provider at the resolved
//! point, so a temporal clause is honoured or fails, never silently ignored. An alias the user
//! wrote is kept; otherwise the table's own name becomes the alias so `t.col` still resolves.
//! Working on tokens means string literals, quoted identifiers and comments are never touched.

use crate::error::{Error, ErrorKind, Result};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::keywords::{
    Keyword, RESERVED_FOR_COLUMN_ALIAS, RESERVED_FOR_TABLE_ALIAS,
};
use datafusion::sql::sqlparser::tokenizer::{
    Span, Token, TokenWithSpan, Tokenizer, Whitespace, Word,
};

/// Table function that reads a table as of a seq or a timestamp.
pub const AS_OF_FUNCTION: &str = "__driftdb_as_of";
/// Table function that reads every version of a table.
pub const VERSIONS_FUNCTION: &str = "__driftdb_versions";

/// Tokenises `sql` and rewrites every temporal table reference in it.
pub fn rewrite(sql: &str) -> Result<Vec<TokenWithSpan>> {
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize_with_location()
        .map_err(|e| Error::new(ErrorKind::SyntaxError, e.to_string()))?;
    let mut out: Vec<TokenWithSpan> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        match temporal_clause(&tokens, i)? {
            Some(clause) => {
                let name_start = name_start(&out).ok_or_else(|| {
                    Error::new(
                        ErrorKind::SyntaxError,
                        "a temporal clause must follow a table name",
                    )
                })?;
                let name: Vec<Word> = out
                    .drain(name_start..)
                    .filter_map(|t| as_word(&t.token).cloned())
                    .collect();
                let alias_follows = alias_follows(&tokens, clause.end);
                emit_call(&mut out, &clause.point, &name, alias_follows);
                i = clause.end;
            }
            None => {
                out.push(tokens[i].clone());
                i += 1;
            }
        }
    }
    Ok(out)
}

/// The point or range a temporal clause names.
#[derive(Debug, Clone, PartialEq)]
enum Point {
    Seq(u64),
    /// A timestamp literal, resolved to the last commit at or before it.
    Time(String),
    AllVersions,
}

struct Clause {
    point: Point,
    /// Index of the first token after the clause.
    end: usize,
}

fn as_word(token: &Token) -> Option<&Word> {
    match token {
        Token::Word(w) => Some(w),
        _ => None,
    }
}

fn is_keyword(token: Option<&Token>, keyword: Keyword) -> bool {
    token
        .and_then(as_word)
        .is_some_and(|w| w.quote_style.is_none() && w.keyword == keyword)
}

fn is_word(token: Option<&Token>, text: &str) -> bool {
    token
        .and_then(as_word)
        .is_some_and(|w| w.quote_style.is_none() && w.value.eq_ignore_ascii_case(text))
}

/// Index of the next non-whitespace token at or after `i`.
fn skip_space(tokens: &[TokenWithSpan], mut i: usize) -> usize {
    while matches!(tokens.get(i).map(|t| &t.token), Some(Token::Whitespace(_))) {
        i += 1;
    }
    i
}

fn token_at(tokens: &[TokenWithSpan], i: usize) -> Option<&Token> {
    tokens.get(i).map(|t| &t.token)
}

/// Recognises `AS OF <point>` or `FOR SYSTEM_TIME …` starting at token `i`.
fn temporal_clause(tokens: &[TokenWithSpan], i: usize) -> Result<Option<Clause>> {
    let first = token_at(tokens, i);
    let second_at = skip_space(tokens, i + 1);
    if is_keyword(first, Keyword::AS) && is_word(token_at(tokens, second_at), "of") {
        let point_at = skip_space(tokens, second_at + 1);
        return match point(tokens, point_at)? {
            Some((point, end)) => Ok(Some(Clause { point, end })),
            // `SELECT x AS of, …` names a column "of"; anything else after AS OF is a bad point.
            None if ends_column_alias(token_at(tokens, point_at)) => Ok(None),
            None => Err(bad_point()),
        };
    }
    if is_keyword(first, Keyword::FOR) && is_word(token_at(tokens, second_at), "system_time") {
        let at = skip_space(tokens, second_at + 1);
        if is_word(token_at(tokens, at), "all") {
            return Ok(Some(Clause {
                point: Point::AllVersions,
                end: at + 1,
            }));
        }
        let of_at = skip_space(tokens, at + 1);
        if is_keyword(token_at(tokens, at), Keyword::AS) && is_word(token_at(tokens, of_at), "of") {
            let point_at = skip_space(tokens, of_at + 1);
            return match point(tokens, point_at)? {
                Some((point, end)) => Ok(Some(Clause { point, end })),
                None => Err(bad_point()),
            };
        }
        return Err(Error::new(
            ErrorKind::FeatureNotSupported,
            "FOR SYSTEM_TIME supports AS OF and ALL; BETWEEN, FROM … TO and CONTAINED IN are not supported yet",
        ));
    }
    Ok(None)
}

/// Whether `token` can follow a column alias (so `AS OF` before it was an alias named "of").
fn ends_column_alias(token: Option<&Token>) -> bool {
    match token {
        None | Some(Token::EOF | Token::Comma | Token::SemiColon | Token::RParen) => true,
        Some(Token::Word(w)) => {
            w.quote_style.is_none() && RESERVED_FOR_COLUMN_ALIAS.contains(&w.keyword)
        }
        Some(_) => false,
    }
}

fn bad_point() -> Error {
    Error::new(
        ErrorKind::SyntaxError,
        "AS OF expects @seq:N, TIMESTAMP '…' or a timestamp string",
    )
}

/// Parses `@seq:N`, `TIMESTAMP '…'` or `'…'` at token `i`; returns the point and the index after it.
fn point(tokens: &[TokenWithSpan], i: usize) -> Result<Option<(Point, usize)>> {
    match token_at(tokens, i) {
        Some(Token::AtSign) | Some(Token::Placeholder(_)) => seq_point(tokens, i).map(Some),
        Some(Token::SingleQuotedString(s)) => Ok(Some((Point::Time(s.clone()), i + 1))),
        t if is_keyword(t, Keyword::TIMESTAMP) => {
            let at = skip_space(tokens, i + 1);
            match token_at(tokens, at) {
                Some(Token::SingleQuotedString(s)) => Ok(Some((Point::Time(s.clone()), at + 1))),
                _ => Err(bad_point()),
            }
        }
        _ => Ok(None),
    }
}

/// `@seq:N`, however the tokenizer split it (`@`, `seq`, `:`, `N` or placeholders).
fn seq_point(tokens: &[TokenWithSpan], i: usize) -> Result<(Point, usize)> {
    let mut text = String::new();
    let mut at = i;
    let mut best = None;
    for _ in 0..4 {
        let Some(token) = token_at(tokens, at) else {
            break;
        };
        if matches!(token, Token::Whitespace(_)) {
            break;
        }
        text.push_str(&token.to_string());
        at += 1;
        let lower = text.to_ascii_lowercase();
        if let Some(digits) = lower.strip_prefix("@seq:")
            && !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
        {
            let seq = digits.parse::<u64>().map_err(|_| {
                Error::new(
                    ErrorKind::InvalidParameterValue,
                    format!("seq {digits} is out of range"),
                )
            })?;
            best = Some((Point::Seq(seq), at));
        }
    }
    best.ok_or_else(bad_point)
}

/// Where the table name before a temporal clause starts in `out` (`a`, `a.b` or `a.b.c`).
fn name_start(out: &[TokenWithSpan]) -> Option<usize> {
    let mut i = out.len();
    while i > 0 && matches!(out[i - 1].token, Token::Whitespace(_)) {
        i -= 1;
    }
    let is_name = |t: &Token| {
        as_word(t).is_some_and(|w| {
            w.quote_style.is_some()
                || w.keyword == Keyword::NoKeyword
                || !RESERVED_FOR_TABLE_ALIAS.contains(&w.keyword)
        })
    };
    if i == 0 || !is_name(&out[i - 1].token) {
        return None;
    }
    i -= 1;
    while i >= 2 && out[i - 1].token == Token::Period && is_name(&out[i - 2].token) {
        i -= 2;
    }
    // Whitespace between the name and the clause is dropped with the name.
    Some(i)
}

/// Whether the tokens after the clause start an alias (`AS x` or a bare non-reserved word).
fn alias_follows(tokens: &[TokenWithSpan], end: usize) -> bool {
    let token = token_at(tokens, skip_space(tokens, end));
    match token.and_then(as_word) {
        Some(w) if w.quote_style.is_some() => true,
        Some(w) => w.keyword == Keyword::AS || !RESERVED_FOR_TABLE_ALIAS.contains(&w.keyword),
        None => false,
    }
}

fn identifier_text(word: &Word) -> String {
    match word.quote_style {
        Some(_) => word.value.clone(),
        None => word.value.to_lowercase(),
    }
}

fn emit_call(out: &mut Vec<TokenWithSpan>, point: &Point, name: &[Word], alias_follows: bool) {
    let mut push = |token: Token| out.push(TokenWithSpan::new(token, Span::empty()));
    let function = match point {
        Point::AllVersions => VERSIONS_FUNCTION,
        Point::Seq(_) | Point::Time(_) => AS_OF_FUNCTION,
    };
    push(Token::make_word(function, None));
    push(Token::LParen);
    match point {
        Point::Seq(seq) => {
            push(Token::Number(seq.to_string(), false));
            push(Token::Comma);
            push(Token::Whitespace(Whitespace::Space));
        }
        Point::Time(text) => {
            push(Token::make_keyword("TIMESTAMP"));
            push(Token::Whitespace(Whitespace::Space));
            push(Token::SingleQuotedString(text.clone()));
            push(Token::Comma);
            push(Token::Whitespace(Whitespace::Space));
        }
        Point::AllVersions => {}
    }
    for (n, part) in name.iter().enumerate() {
        if n > 0 {
            push(Token::Comma);
            push(Token::Whitespace(Whitespace::Space));
        }
        push(Token::SingleQuotedString(identifier_text(part)));
    }
    push(Token::RParen);
    if !alias_follows {
        let last = name.last().expect("a table name has at least one part");
        push(Token::Whitespace(Whitespace::Space));
        push(Token::make_keyword("AS"));
        push(Token::Whitespace(Whitespace::Space));
        push(Token::Word(Word {
            value: last.value.clone(),
            quote_style: last.quote_style,
            keyword: Keyword::NoKeyword,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(sql: &str) -> String {
        rewrite(sql)
            .unwrap()
            .iter()
            .map(|t| t.token.to_string())
            .collect()
    }

    #[test]
    fn as_of_seq_becomes_a_table_function_named_like_the_table() {
        assert_eq!(
            text("SELECT * FROM events AS OF @seq:1"),
            "SELECT * FROM __driftdb_as_of(1, 'events') AS events"
        );
        assert_eq!(
            text("select * from Events as of @SEQ:12 where id = 1"),
            "select * from __driftdb_as_of(12, 'events') AS Events where id = 1"
        );
    }

    #[test]
    fn an_alias_written_after_the_clause_is_kept() {
        assert_eq!(
            text(
                "SELECT e.data FROM events AS OF @seq:2 e JOIN notes FOR SYSTEM_TIME AS OF @seq:3 AS n ON true"
            ),
            "SELECT e.data FROM __driftdb_as_of(2, 'events') e JOIN __driftdb_as_of(3, 'notes') AS n ON true"
        );
    }

    #[test]
    fn qualified_and_quoted_names_keep_their_parts() {
        assert_eq!(
            text(r#"SELECT 1 FROM public."Odd Name" AS OF @seq:0"#),
            r#"SELECT 1 FROM __driftdb_as_of(0, 'public', 'Odd Name') AS "Odd Name""#
        );
    }

    #[test]
    fn timestamps_and_all_versions_are_rewritten() {
        assert_eq!(
            text("SELECT * FROM t AS OF TIMESTAMP '2026-01-01 00:00:00+00'"),
            "SELECT * FROM __driftdb_as_of(TIMESTAMP '2026-01-01 00:00:00+00', 't') AS t"
        );
        assert_eq!(
            text("SELECT * FROM t FOR SYSTEM_TIME ALL ORDER BY 1"),
            "SELECT * FROM __driftdb_versions('t') AS t ORDER BY 1"
        );
    }

    #[test]
    fn text_that_only_looks_temporal_is_left_alone() {
        for sql in [
            "SELECT 'x AS OF @seq:1' FROM t",
            "SELECT a AS of FROM t",
            "SELECT a AS of, b AS of2 FROM t",
            "SELECT a AS of",
            "SELECT 1 -- t AS OF @seq:1",
            r#"SELECT "AS OF @seq:1" FROM t"#,
        ] {
            assert_eq!(text(sql), sql);
        }
    }

    #[test]
    fn malformed_clauses_are_syntax_errors() {
        for sql in [
            "SELECT * FROM t AS OF @seq:",
            "SELECT * FROM t AS OF @seq:x",
            "SELECT * FROM t FOR SYSTEM_TIME AS OF 5",
            "SELECT * FROM t AS OF now()",
            "SELECT * FROM t AS OF 5",
        ] {
            assert_eq!(
                rewrite(sql).unwrap_err().kind,
                ErrorKind::SyntaxError,
                "{sql}"
            );
        }
        assert_eq!(
            rewrite("SELECT * FROM t FOR SYSTEM_TIME BETWEEN 1 AND 2")
                .unwrap_err()
                .kind,
            ErrorKind::FeatureNotSupported
        );
    }
}
