//! DriftDB's temporal table clauses, rewritten at the token level into table-function calls.
//!
//! PostgreSQL's grammar has no time travel, and DataFusion drops the version clauses sqlparser
//! can parse for other dialects, so each temporal table reference is rewritten before parsing:
//!
//! | written                                      | rewritten                                   |
//! |----------------------------------------------|---------------------------------------------|
//! | `t AS OF @seq:N` / `t FOR SYSTEM_TIME AS OF @seq:N` | `__driftdb_as_of('@seq:N', 't') AS t` |
//! | `t AS OF <expr>` (and `FOR SYSTEM_TIME AS OF`) | `__driftdb_as_of((<expr>), 't') AS t`     |
//! | `t FOR SYSTEM_TIME ALL`                      | `__driftdb_versions('all', 't') AS t`       |
//! | `t FOR SYSTEM_TIME BETWEEN a AND b`          | `__driftdb_versions('between', a, b, 't') AS t` |
//! | `t FOR SYSTEM_TIME FROM a TO b`              | `__driftdb_versions('from', a, b, 't') AS t` |
//! | `t FOR SYSTEM_TIME CONTAINED IN (a, b)`      | `__driftdb_versions('contained', a, b, 't') AS t` |
//!
//! A bound is `@seq:N` or an expression DataFusion folds to a constant (`'2026-01-01'`,
//! `TIMESTAMP '…'`, `now() - interval '1 hour'`). An expression ends where a table reference
//! can end: at a comma or closing parenthesis, a keyword such as `WHERE` or `JOIN`, `AS`, or a
//! bare word after a complete operand (an alias). The table functions ([`crate::storage::table_functions`])
//! bind each reference to a provider at the resolved points, so a temporal clause is honoured or
//! fails, never silently ignored. An alias the user
//! wrote is kept; otherwise the table's own name becomes the alias so `t.col` still resolves.
//! Working on tokens means string literals, quoted identifiers and comments are never touched.

use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::keywords::{
    Keyword, RESERVED_FOR_COLUMN_ALIAS, RESERVED_FOR_TABLE_ALIAS,
};
use datafusion::sql::sqlparser::tokenizer::{
    Span, Token, TokenWithSpan, Tokenizer, Whitespace, Word,
};
use driftdb_pgtypes::error::{Error, ErrorKind, Result};

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
                emit_call(&mut out, &clause.temporal, &name, alias_follows);
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

/// One end of a temporal clause.
#[derive(Debug, Clone, PartialEq)]
enum Bound {
    Seq(u64),
    /// The tokens of a constant expression: a time.
    Expr(Vec<TokenWithSpan>),
}

/// What a temporal clause asks for.
#[derive(Debug, Clone, PartialEq)]
enum Temporal {
    AsOf(Bound),
    AllVersions,
    /// Versions valid at some point in `[a, b]`.
    Between(Bound, Bound),
    /// Versions valid at some point in `[a, b)`.
    FromTo(Bound, Bound),
    /// Versions that began and ended inside `[a, b]`.
    ContainedIn(Bound, Bound),
}

struct Clause {
    temporal: Temporal,
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
        // `SELECT x AS of, …` names a column "of".
        if ends_column_alias(token_at(tokens, point_at)) {
            return Ok(None);
        }
        let (point, end) = bound(tokens, point_at, &[])?;
        return Ok(Some(Clause {
            temporal: Temporal::AsOf(point),
            end,
        }));
    }
    if !(is_keyword(first, Keyword::FOR) && is_word(token_at(tokens, second_at), "system_time")) {
        return Ok(None);
    }
    let at = skip_space(tokens, second_at + 1);
    let next = skip_space(tokens, at + 1);
    let word = token_at(tokens, at);
    let (temporal, end) = if is_word(word, "all") {
        (Temporal::AllVersions, at + 1)
    } else if is_keyword(word, Keyword::AS) && is_word(token_at(tokens, next), "of") {
        let (point, end) = bound(tokens, skip_space(tokens, next + 1), &[])?;
        (Temporal::AsOf(point), end)
    } else if is_word(word, "between") {
        let (a, after_a) = bound(tokens, next, &["and"])?;
        let and_at = skip_space(tokens, after_a);
        expect_word(tokens, and_at, "AND")?;
        let (b, end) = bound(tokens, skip_space(tokens, and_at + 1), &[])?;
        (Temporal::Between(a, b), end)
    } else if is_word(word, "from") {
        let (a, after_a) = bound(tokens, next, &["to"])?;
        let to_at = skip_space(tokens, after_a);
        expect_word(tokens, to_at, "TO")?;
        let (b, end) = bound(tokens, skip_space(tokens, to_at + 1), &[])?;
        (Temporal::FromTo(a, b), end)
    } else if is_word(word, "contained") && is_word(token_at(tokens, next), "in") {
        let open = skip_space(tokens, next + 1);
        let malformed = || syntax("CONTAINED IN expects (start, end)");
        if token_at(tokens, open) != Some(&Token::LParen) {
            return Err(malformed());
        }
        let (a, after_a) = bound(tokens, skip_space(tokens, open + 1), &[])?;
        let comma = skip_space(tokens, after_a);
        if token_at(tokens, comma) != Some(&Token::Comma) {
            return Err(malformed());
        }
        let (b, after_b) = bound(tokens, skip_space(tokens, comma + 1), &[])?;
        let close = skip_space(tokens, after_b);
        if token_at(tokens, close) != Some(&Token::RParen) {
            return Err(malformed());
        }
        (Temporal::ContainedIn(a, b), close + 1)
    } else {
        return Err(syntax(
            "FOR SYSTEM_TIME expects AS OF, BETWEEN … AND …, FROM … TO …, CONTAINED IN (…, …) or ALL",
        ));
    };
    Ok(Some(Clause { temporal, end }))
}

fn syntax(message: &str) -> Error {
    Error::new(ErrorKind::SyntaxError, message)
}

fn expect_word(tokens: &[TokenWithSpan], at: usize, word: &str) -> Result<()> {
    if is_word(token_at(tokens, at), word) {
        Ok(())
    } else {
        Err(syntax(&format!("FOR SYSTEM_TIME: expected {word}")))
    }
}

/// Whether `token` can follow a column alias (so `AS OF` before it was an alias named "of").
fn ends_column_alias(token: Option<&Token>) -> bool {
    match token {
        None | Some(Token::EOF | Token::Comma | Token::SemiColon | Token::RParen) => true,
        Some(Token::Word(w)) => {
            w.quote_style.is_none()
                && w.keyword != Keyword::TIMESTAMP
                && RESERVED_FOR_COLUMN_ALIAS.contains(&w.keyword)
        }
        Some(_) => false,
    }
}

fn bad_point() -> Error {
    syntax(
        "a temporal bound must be @seq:N or a constant time expression \
         (TIMESTAMP '…', '…', now() - interval '1 hour')",
    )
}

/// Words that join operands inside a bound expression (so a word after an operand is not an
/// alias).
const OPERATOR_WORDS: [&str; 10] = [
    "at", "and", "or", "is", "not", "isnull", "notnull", "collate", "like", "ilike",
];

/// Words that announce a literal (`INTERVAL '1 hour'`), so the word itself is not an operand.
const PREFIX_WORDS: [&str; 6] = [
    "interval",
    "timestamp",
    "timestamptz",
    "date",
    "time",
    "zone",
];

/// Parses a bound at token `i`: `@seq:N`, or an expression running until the table reference
/// ends or one of `terminators` (lower-case words) appears. Returns it and the index after it.
fn bound(tokens: &[TokenWithSpan], i: usize, terminators: &[&str]) -> Result<(Bound, usize)> {
    let seq_starts = match token_at(tokens, i) {
        Some(Token::AtSign) => true,
        // The tokenizer may read `@seq` as a placeholder; `$1` is a bound parameter.
        Some(Token::Placeholder(name)) => name.starts_with('@'),
        _ => false,
    };
    if seq_starts {
        let (seq, end) = seq_point(tokens, i)?;
        return Ok((Bound::Seq(seq), end));
    }
    let mut depth = 0usize;
    let mut at = i;
    let mut after_operand = false;
    let mut end = i;
    while let Some(token) = token_at(tokens, at) {
        match token {
            Token::Whitespace(_) => {
                at += 1;
                continue;
            }
            Token::EOF | Token::SemiColon => break,
            Token::LParen => {
                depth += 1;
                after_operand = false;
            }
            Token::RParen if depth == 0 => break,
            Token::RParen => {
                depth -= 1;
                after_operand = true;
            }
            Token::Comma if depth == 0 => break,
            Token::Word(w) if depth == 0 => {
                let lower = w.value.to_ascii_lowercase();
                let bare = w.quote_style.is_none();
                if bare && terminators.contains(&lower.as_str()) {
                    break;
                }
                let operator = bare && OPERATOR_WORDS.contains(&lower.as_str());
                let prefix = bare && PREFIX_WORDS.contains(&lower.as_str());
                let stops = bare
                    && !operator
                    && !prefix
                    && (w.keyword == Keyword::AS
                        || (w.keyword != Keyword::NoKeyword
                            && RESERVED_FOR_TABLE_ALIAS.contains(&w.keyword)));
                // A word right after a complete operand starts an alias.
                if stops || (after_operand && !operator) {
                    break;
                }
                after_operand = !operator && !prefix;
            }
            Token::Word(_) => {}
            Token::SingleQuotedString(_) | Token::Number(..) | Token::Placeholder(_) => {
                after_operand = true
            }
            _ => after_operand = false,
        }
        at += 1;
        end = at;
    }
    if end == i {
        return Err(bad_point());
    }
    Ok((Bound::Expr(tokens[i..end].to_vec()), end))
}

/// `@seq:N`, however the tokenizer split it (`@`, `seq`, `:`, `N` or placeholders).
fn seq_point(tokens: &[TokenWithSpan], i: usize) -> Result<(u64, usize)> {
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
            best = Some((seq, at));
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

fn emit_bound(push: &mut impl FnMut(Token), bound: &Bound) {
    match bound {
        Bound::Seq(seq) => push(Token::SingleQuotedString(format!("@seq:{seq}"))),
        Bound::Expr(tokens) => {
            push(Token::LParen);
            tokens.iter().for_each(|t| push(t.token.clone()));
            push(Token::RParen);
        }
    }
    push(Token::Comma);
    push(Token::Whitespace(Whitespace::Space));
}

fn emit_call(
    out: &mut Vec<TokenWithSpan>,
    temporal: &Temporal,
    name: &[Word],
    alias_follows: bool,
) {
    let mut push = |token: Token| out.push(TokenWithSpan::new(token, Span::empty()));
    let (function, kind) = match temporal {
        Temporal::AsOf(_) => (AS_OF_FUNCTION, None),
        Temporal::AllVersions => (VERSIONS_FUNCTION, Some("all")),
        Temporal::Between(..) => (VERSIONS_FUNCTION, Some("between")),
        Temporal::FromTo(..) => (VERSIONS_FUNCTION, Some("from")),
        Temporal::ContainedIn(..) => (VERSIONS_FUNCTION, Some("contained")),
    };
    push(Token::make_word(function, None));
    push(Token::LParen);
    if let Some(kind) = kind {
        push(Token::SingleQuotedString(kind.to_string()));
        push(Token::Comma);
        push(Token::Whitespace(Whitespace::Space));
    }
    match temporal {
        Temporal::AsOf(point) => emit_bound(&mut push, point),
        Temporal::AllVersions => {}
        Temporal::Between(a, b) | Temporal::FromTo(a, b) | Temporal::ContainedIn(a, b) => {
            emit_bound(&mut push, a);
            emit_bound(&mut push, b);
        }
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
            "SELECT * FROM __driftdb_as_of('@seq:1', 'events') AS events"
        );
        assert_eq!(
            text("select * from Events as of @SEQ:12 where id = 1"),
            "select * from __driftdb_as_of('@seq:12', 'events') AS Events where id = 1"
        );
    }

    #[test]
    fn an_alias_written_after_the_clause_is_kept() {
        assert_eq!(
            text(
                "SELECT e.data FROM events AS OF @seq:2 e JOIN notes FOR SYSTEM_TIME AS OF @seq:3 AS n ON true"
            ),
            "SELECT e.data FROM __driftdb_as_of('@seq:2', 'events') e JOIN __driftdb_as_of('@seq:3', 'notes') AS n ON true"
        );
    }

    #[test]
    fn qualified_and_quoted_names_keep_their_parts() {
        assert_eq!(
            text(r#"SELECT 1 FROM public."Odd Name" AS OF @seq:0"#),
            r#"SELECT 1 FROM __driftdb_as_of('@seq:0', 'public', 'Odd Name') AS "Odd Name""#
        );
    }

    #[test]
    fn timestamps_expressions_and_version_ranges_are_rewritten() {
        let cases = [
            (
                "SELECT * FROM t AS OF TIMESTAMP '2026-01-01 00:00:00+00'",
                "SELECT * FROM __driftdb_as_of((TIMESTAMP '2026-01-01 00:00:00+00'), 't') AS t",
            ),
            (
                "SELECT * FROM t AS OF '2026-01-01' x WHERE x.a = 1",
                "SELECT * FROM __driftdb_as_of(('2026-01-01'), 't') x WHERE x.a = 1",
            ),
            (
                "SELECT * FROM t FOR SYSTEM_TIME AS OF now() - interval '1 hour' JOIN u ON true",
                "SELECT * FROM __driftdb_as_of((now() - interval '1 hour'), 't') AS t JOIN u ON true",
            ),
            (
                "SELECT * FROM t FOR SYSTEM_TIME ALL ORDER BY 1",
                "SELECT * FROM __driftdb_versions('all', 't') AS t ORDER BY 1",
            ),
            (
                "SELECT * FROM t FOR SYSTEM_TIME BETWEEN @seq:1 AND '2026-01-01' AS v",
                "SELECT * FROM __driftdb_versions('between', '@seq:1', ('2026-01-01'), 't') AS v",
            ),
            (
                "SELECT * FROM t FOR SYSTEM_TIME FROM @seq:1 TO @seq:3, u",
                "SELECT * FROM __driftdb_versions('from', '@seq:1', '@seq:3', 't') AS t, u",
            ),
            (
                "SELECT * FROM t FOR SYSTEM_TIME CONTAINED IN (@seq:1, now())",
                "SELECT * FROM __driftdb_versions('contained', '@seq:1', (now()), 't') AS t",
            ),
        ];
        for (sql, rewritten) in cases {
            assert_eq!(text(sql), rewritten);
        }
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
            "SELECT * FROM t FOR SYSTEM_TIME AS OF",
            "SELECT * FROM t FOR SYSTEM_TIME BETWEEN @seq:1",
            "SELECT * FROM t FOR SYSTEM_TIME BETWEEN @seq:1 OR @seq:2",
            "SELECT * FROM t FOR SYSTEM_TIME FROM @seq:1 AND @seq:2",
            "SELECT * FROM t FOR SYSTEM_TIME CONTAINED IN @seq:1",
            "SELECT * FROM t FOR SYSTEM_TIME CONTAINED IN (@seq:1)",
            "SELECT * FROM t FOR SYSTEM_TIME SOMETIME",
        ] {
            assert_eq!(
                rewrite(sql).unwrap_err().kind,
                ErrorKind::SyntaxError,
                "{sql}"
            );
        }
    }
}
