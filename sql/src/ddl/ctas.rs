//! `CREATE TABLE name (a, b) AS query`: PostgreSQL names the new table's columns with a bare
//! list, which sqlparser cannot parse (it wants a type after each name). Before parsing, each
//! name in such a list gets a placeholder type; [`crate::ddl::create_table_as`] takes the
//! names alone and the types from the query.

use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Span, Token, TokenWithSpan, Whitespace};

/// The type written after each column name of such a list.
const QUERY_TYPE: &str = "__driftdb_query_type";

fn is_space(token: &Token) -> bool {
    matches!(token, Token::Whitespace(_))
}

/// The index of the next token at or after `i` that is not whitespace.
fn next_solid(tokens: &[TokenWithSpan], mut i: usize) -> usize {
    while i < tokens.len() && is_space(&tokens[i].token) {
        i += 1;
    }
    i
}

fn keyword_at(tokens: &[TokenWithSpan], i: usize, keyword: Keyword) -> bool {
    matches!(tokens.get(i).map(|t| &t.token), Some(Token::Word(w)) if w.keyword == keyword)
}

/// The positions of the column names of a bare name list starting at `open` (a `(`) and
/// followed by `AS`, or `None`.
fn bare_column_list(tokens: &[TokenWithSpan], open: usize) -> Option<Vec<usize>> {
    let mut names = Vec::new();
    let mut i = next_solid(tokens, open + 1);
    loop {
        match &tokens.get(i)?.token {
            Token::Word(_) => names.push(i),
            _ => return None,
        }
        i = next_solid(tokens, i + 1);
        match &tokens.get(i)?.token {
            Token::Comma => i = next_solid(tokens, i + 1),
            Token::RParen => break,
            _ => return None,
        }
    }
    keyword_at(tokens, next_solid(tokens, i + 1), Keyword::AS).then_some(names)
}

/// Where the name list of `CREATE [TEMP|UNLOGGED] TABLE [IF NOT EXISTS] name (` starting at
/// `create` opens, if it does.
fn column_list_start(tokens: &[TokenWithSpan], create: usize) -> Option<usize> {
    let mut i = next_solid(tokens, create + 1);
    while keyword_at(tokens, i, Keyword::TEMP)
        || keyword_at(tokens, i, Keyword::TEMPORARY)
        || keyword_at(tokens, i, Keyword::UNLOGGED)
    {
        i = next_solid(tokens, i + 1);
    }
    if !keyword_at(tokens, i, Keyword::TABLE) {
        return None;
    }
    i = next_solid(tokens, i + 1);
    if keyword_at(tokens, i, Keyword::IF) {
        i = next_solid(tokens, i + 1);
        i = next_solid(tokens, i + 1);
        i = next_solid(tokens, i + 1);
    }
    // The table name: words joined by periods.
    loop {
        if !matches!(tokens.get(i)?.token, Token::Word(_)) {
            return None;
        }
        i = next_solid(tokens, i + 1);
        match tokens.get(i)?.token {
            Token::Period => i = next_solid(tokens, i + 1),
            Token::LParen => return Some(i),
            _ => return None,
        }
    }
}

/// Gives each name of a `CREATE TABLE name (a, b) AS …` column list a placeholder type.
pub fn type_column_names(tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    let mut typed_after = Vec::new();
    for create in (0..tokens.len()).filter(|&i| keyword_at(&tokens, i, Keyword::CREATE)) {
        if let Some(open) = column_list_start(&tokens, create)
            && let Some(names) = bare_column_list(&tokens, open)
        {
            typed_after.extend(names);
        }
    }
    if typed_after.is_empty() {
        return tokens;
    }
    let mut out = Vec::with_capacity(tokens.len() + 2 * typed_after.len());
    for (i, token) in tokens.into_iter().enumerate() {
        out.push(token);
        if typed_after.contains(&i) {
            out.push(TokenWithSpan::new(
                Token::Whitespace(Whitespace::Space),
                Span::empty(),
            ));
            out.push(TokenWithSpan::new(
                Token::make_word(QUERY_TYPE, None),
                Span::empty(),
            ));
        }
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
        type_column_names(tokens)
            .iter()
            .map(|t| t.token.to_string())
            .collect()
    }

    #[test]
    fn only_bare_name_lists_before_as_get_types() {
        assert_eq!(
            rewritten("CREATE TABLE t (a, \"B\") AS SELECT 1, 2"),
            "CREATE TABLE t (a __driftdb_query_type, \"B\" __driftdb_query_type) AS SELECT 1, 2"
        );
        assert_eq!(
            rewritten("create table if not exists s.t (a) as select 1"),
            "create table if not exists s.t (a __driftdb_query_type) as select 1"
        );
        for unchanged in [
            "CREATE TABLE t (a INT, b TEXT)",
            "CREATE TABLE t AS SELECT 1",
            "CREATE VIEW v (a) AS SELECT 1",
            "SELECT 'CREATE TABLE t (a) AS'",
        ] {
            assert_eq!(rewritten(unchanged), unchanged);
        }
    }
}
