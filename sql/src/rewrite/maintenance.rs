//! What PostgreSQL's own tools send that sqlparser reads otherwise, put into words it reads
//! (on the tokens, before parsing; pgbench's initialisation sends both):
//!
//! - COPY's boolean options with PostgreSQL's other spellings of a boolean (`WITH (FREEZE on)`,
//!   `HEADER 1`): `TRUE` or `FALSE`.
//! - PostgreSQL's `VACUUM [(options)] [FULL] [FREEZE] [VERBOSE] [ANALYZE] [table [(columns)],
//!   …]`, and `ANALYZE [(options)] [VERBOSE] [table [(columns)], …]`: sqlparser reads neither
//!   the options nor a list of tables, so each becomes `VACUUM` or `ANALYZE` with its first table
//!   alone. DriftDB has no dead rows to reclaim and no statistics to gather, so the statement
//!   only checks that table (see `crate::session`).

use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Span, Token, TokenWithSpan, Whitespace};

fn word(token: &TokenWithSpan) -> Option<Keyword> {
    match &token.token {
        Token::Word(w) if w.quote_style.is_none() => Some(w.keyword),
        _ => None,
    }
}

/// The statements of `tokens` as index ranges (split at `;`).
fn statements(tokens: &[TokenWithSpan]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, token) in tokens.iter().enumerate() {
        if token.token == Token::SemiColon {
            out.push(start..i + 1);
            start = i + 1;
        }
    }
    out.push(start..tokens.len());
    out
}

/// Rewrites COPY options, VACUUM and ANALYZE as the module docs say; other statements pass
/// unchanged.
pub fn rewrite(tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    let first_words = statements(&tokens)
        .into_iter()
        .filter_map(|range| {
            let first = range
                .clone()
                .find(|&i| !matches!(tokens[i].token, Token::Whitespace(_)))?;
            Some((word(&tokens[first])?, first, range))
        })
        .filter(|(keyword, ..)| {
            matches!(keyword, Keyword::COPY | Keyword::VACUUM | Keyword::ANALYZE)
        })
        .collect::<Vec<_>>();
    if first_words.is_empty() {
        return tokens;
    }
    let mut out = Vec::with_capacity(tokens.len());
    let mut copied = 0;
    for (keyword, first, range) in first_words {
        out.extend_from_slice(&tokens[copied..range.start]);
        match keyword {
            Keyword::COPY => copy_options(&tokens[range.clone()], &mut out),
            _ => {
                out.extend_from_slice(&tokens[range.start..=first]);
                maintenance(&tokens[first + 1..range.end], &mut out);
            }
        }
        copied = range.end;
    }
    out.extend_from_slice(&tokens[copied..]);
    out
}

/// COPY: a boolean option's `on`/`off`/`1`/`0` (after `(` or `,` and `FREEZE` or `HEADER`)
/// as `TRUE`/`FALSE`.
fn copy_options(tokens: &[TokenWithSpan], out: &mut Vec<TokenWithSpan>) {
    // The last two tokens that are not whitespace.
    let (mut previous, mut before): (Option<usize>, Option<usize>) = (None, None);
    for (i, token) in tokens.iter().enumerate() {
        let mut token = token.clone();
        if !matches!(token.token, Token::Whitespace(_)) {
            let option = previous.and_then(|p| word(&tokens[p]));
            let in_list =
                before.is_some_and(|b| matches!(tokens[b].token, Token::LParen | Token::Comma));
            if in_list
                && matches!(option, Some(Keyword::FREEZE | Keyword::HEADER))
                && let Some(value) = boolean(&token.token)
            {
                token.token = Token::make_keyword(if value { "TRUE" } else { "FALSE" });
            }
            (before, previous) = (previous, Some(i));
        }
        out.push(token);
    }
}

/// `on`, `off`, `1` or `0` as a boolean.
fn boolean(token: &Token) -> Option<bool> {
    match token {
        Token::Word(w) if w.quote_style.is_none() => match w.value.to_ascii_lowercase().as_str() {
            "on" => Some(true),
            "off" => Some(false),
            _ => None,
        },
        Token::Number(n, _) if n == "1" => Some(true),
        Token::Number(n, _) if n == "0" => Some(false),
        _ => None,
    }
}

/// What follows VACUUM or ANALYZE: options and keywords dropped, the first table kept.
fn maintenance(tokens: &[TokenWithSpan], out: &mut Vec<TokenWithSpan>) {
    let mut i = 0;
    let mut depth = 0;
    let solid = |i: usize| !matches!(tokens[i].token, Token::Whitespace(_));
    // Options in parentheses and the old-style keywords before the tables.
    while i < tokens.len() {
        match &tokens[i].token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            _ if depth > 0 || !solid(i) => {}
            _ if matches!(
                word(&tokens[i]),
                Some(Keyword::FULL | Keyword::FREEZE | Keyword::VERBOSE | Keyword::ANALYZE)
            ) => {}
            _ => break,
        }
        i += 1;
    }
    // The first table: words joined by periods.
    let start = i;
    while i < tokens.len() && matches!(tokens[i].token, Token::Word(_) | Token::Period) {
        i += 1;
    }
    if i > start {
        out.push(TokenWithSpan::new(
            Token::Whitespace(Whitespace::Space),
            Span::empty(),
        ));
        out.extend_from_slice(&tokens[start..i]);
    }
    // Anything else up to the statement's end is dropped but the `;`.
    if tokens.last().is_some_and(|t| t.token == Token::SemiColon) {
        out.push(tokens[tokens.len() - 1].clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::tokenizer::Tokenizer;

    fn rewritten(sql: &str) -> String {
        let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql)
            .tokenize_with_location()
            .unwrap();
        rewrite(tokens)
            .iter()
            .map(|t| t.token.to_string())
            .collect()
    }

    #[test]
    fn copy_booleans_vacuum_and_analyze_become_what_sqlparser_reads() {
        assert_eq!(
            rewritten("copy t from stdin with (freeze on, header off, delimiter ',')"),
            "copy t from stdin with (freeze TRUE, header FALSE, delimiter ',')"
        );
        assert_eq!(
            rewritten("VACUUM (VERBOSE, ANALYZE) public.t (a), u; VACUUM FULL; SELECT 1"),
            "VACUUM public.t; VACUUM; SELECT 1"
        );
        assert_eq!(rewritten("vacuum analyze t"), "vacuum t");
        assert_eq!(rewritten("ANALYZE VERBOSE t (a, b)"), "ANALYZE t");
        // Elsewhere `on` and a column called freeze are left alone.
        let select = "SELECT freeze FROM t JOIN u ON true";
        assert_eq!(rewritten(select), select);
    }
}
