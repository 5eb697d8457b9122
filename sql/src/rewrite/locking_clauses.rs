//! PostgreSQL's locking clauses as sqlparser reads them (on the tokens, before parsing).
//!
//! PostgreSQL has four strengths (`FOR UPDATE`, `FOR NO KEY UPDATE`, `FOR SHARE`, `FOR KEY
//! SHARE`) and a list of tables after `OF`; sqlparser reads `FOR UPDATE | SHARE [OF name]
//! [NOWAIT | SKIP LOCKED]` only. Each clause becomes one sqlparser clause per table it names,
//! its strength carried as the first part of the name after `OF` (one of [`MARKERS`]): `FOR NO
//! KEY UPDATE OF a, b NOWAIT` is read as `FOR UPDATE OF __driftdb_lock_no_key_update.a NOWAIT
//! FOR UPDATE OF __driftdb_lock_no_key_update.b NOWAIT`, and `FOR SHARE` as `FOR SHARE OF
//! __driftdb_lock_share` (every table). `crate::dml::locking` reads them back.

use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Span, Token, TokenWithSpan, Whitespace};

/// The name part that carries each strength, strongest first.
pub const MARKERS: [&str; 4] = [
    "__driftdb_lock_update",
    "__driftdb_lock_no_key_update",
    "__driftdb_lock_share",
    "__driftdb_lock_key_share",
];

fn keyword(tokens: &[TokenWithSpan], i: usize) -> Option<Keyword> {
    match &tokens.get(i)?.token {
        Token::Word(w) if w.quote_style.is_none() => Some(w.keyword),
        _ => None,
    }
}

/// The index of the next token at or after `i` that is not whitespace.
fn solid(tokens: &[TokenWithSpan], mut i: usize) -> usize {
    while i < tokens.len() && matches!(tokens[i].token, Token::Whitespace(_)) {
        i += 1;
    }
    i
}

/// A locking clause read from the tokens.
struct Clause {
    /// Index into [`MARKERS`].
    strength: usize,
    /// Each table after `OF`, as its name's tokens (words and periods).
    tables: Vec<Vec<TokenWithSpan>>,
    /// `NOWAIT` or `SKIP LOCKED`, as written.
    nonblock: Vec<TokenWithSpan>,
    /// The index after the clause.
    end: usize,
}

/// The locking clause starting at `i` (a `FOR`), if it is one.
fn clause(tokens: &[TokenWithSpan], i: usize) -> Option<Clause> {
    if keyword(tokens, i) != Some(Keyword::FOR) {
        return None;
    }
    let mut at = solid(tokens, i + 1);
    let strength = match keyword(tokens, at)? {
        Keyword::UPDATE => 0,
        Keyword::SHARE => 2,
        Keyword::NO => {
            at = solid(tokens, at + 1);
            (keyword(tokens, at)? == Keyword::KEY).then_some(())?;
            at = solid(tokens, at + 1);
            (keyword(tokens, at)? == Keyword::UPDATE).then_some(())?;
            1
        }
        Keyword::KEY => {
            at = solid(tokens, at + 1);
            (keyword(tokens, at)? == Keyword::SHARE).then_some(())?;
            3
        }
        _ => return None,
    };
    let mut end = at + 1;
    let mut tables = Vec::new();
    let next = solid(tokens, end);
    if keyword(tokens, next) == Some(Keyword::OF) {
        let mut at = solid(tokens, next + 1);
        loop {
            let mut name = Vec::new();
            while matches!(
                tokens.get(at).map(|t| &t.token),
                Some(Token::Word(_) | Token::Period)
            ) {
                name.push(tokens[at].clone());
                at += 1;
            }
            if name.is_empty() {
                return None;
            }
            tables.push(name);
            end = at;
            let comma = solid(tokens, at);
            if tokens.get(comma).map(|t| &t.token) != Some(&Token::Comma) {
                break;
            }
            at = solid(tokens, comma + 1);
        }
    }
    let mut nonblock = Vec::new();
    let next = solid(tokens, end);
    match keyword(tokens, next) {
        Some(Keyword::NOWAIT) => {
            nonblock.push(tokens[next].clone());
            end = next + 1;
        }
        Some(Keyword::SKIP) => {
            let locked = solid(tokens, next + 1);
            if keyword(tokens, locked) == Some(Keyword::LOCKED) {
                nonblock = tokens[next..=locked].to_vec();
                end = locked + 1;
            }
        }
        _ => {}
    }
    Some(Clause {
        strength,
        tables,
        nonblock,
        end,
    })
}

fn space() -> TokenWithSpan {
    TokenWithSpan::new(Token::Whitespace(Whitespace::Space), Span::empty())
}

fn word(text: &str) -> TokenWithSpan {
    TokenWithSpan::new(Token::make_word(text, None), Span::empty())
}

/// Rewrites every locking clause as the module docs say.
pub fn rewrite(tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    if !tokens
        .iter()
        .any(|t| matches!(&t.token, Token::Word(w) if w.keyword == Keyword::FOR))
    {
        return tokens;
    }
    let mut out = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let Some(clause) = clause(&tokens, i) else {
            out.push(tokens[i].clone());
            i += 1;
            continue;
        };
        let kind = match clause.strength {
            0 | 1 => "UPDATE",
            _ => "SHARE",
        };
        let tables = match clause.tables.is_empty() {
            true => vec![Vec::new()],
            false => clause.tables,
        };
        for (n, table) in tables.into_iter().enumerate() {
            if n > 0 {
                out.push(space());
            }
            out.extend([
                word("FOR"),
                space(),
                word(kind),
                space(),
                word("OF"),
                space(),
            ]);
            out.push(word(MARKERS[clause.strength]));
            if !table.is_empty() {
                out.push(TokenWithSpan::new(Token::Period, Span::empty()));
                out.extend(table);
            }
            if !clause.nonblock.is_empty() {
                out.push(space());
                out.extend(clause.nonblock.iter().cloned());
            }
        }
        i = clause.end;
    }
    out
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
    fn each_strength_and_table_becomes_a_clause_sqlparser_reads() {
        assert_eq!(
            rewritten("SELECT * FROM a, s.b FOR NO KEY UPDATE OF a, s.b SKIP LOCKED"),
            "SELECT * FROM a, s.b FOR UPDATE OF __driftdb_lock_no_key_update.a SKIP LOCKED \
             FOR UPDATE OF __driftdb_lock_no_key_update.s.b SKIP LOCKED"
        );
        assert_eq!(
            rewritten("SELECT 1 FROM t for key share nowait"),
            "SELECT 1 FROM t FOR SHARE OF __driftdb_lock_key_share nowait"
        );
        assert_eq!(
            rewritten("SELECT 1 FROM t FOR UPDATE"),
            "SELECT 1 FROM t FOR UPDATE OF __driftdb_lock_update"
        );
        // FOR elsewhere is left alone.
        let substring = "SELECT substring('abc' FROM 1 FOR 2)";
        assert_eq!(rewritten(substring), substring);
    }
}
