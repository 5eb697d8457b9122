//! SQL text into syntax trees, in one place: PostgreSQL's dialect ([`PgDialect`]), and how deep
//! a statement may nest.
//!
//! Every pass over a statement (the parser, DriftDB's rewrites, DataFusion's planner, optimizer
//! and expression evaluation, even dropping the tree) recurses once per level of nesting, and
//! some of DataFusion's passes take time that grows much faster than the depth (naming a
//! nested function call spells out everything below it, at every level; its plan checks visit
//! a subquery once more for every subquery around it). So a statement is measured right after
//! parsing, before any other pass sees it, and one nested deeper than the limits below fails
//! with PostgreSQL's `54001` ("stack depth limit exceeded"):
//!
//! - tokens nest at most [`TOKEN_NESTING`] deep, and the parser recurses at most
//!   [`PARSER_DEPTH`] deep (5,000 nested parentheses parse, as in PostgreSQL; parentheses
//!   leave nothing behind in a plan);
//! - expressions, set operations and joins nest at most [`MAX_DEPTH`] deep, after long chains
//!   of `AND` and `OR` are rebalanced (tools generate those by the thousand);
//! - subqueries in expressions nest at most [`MAX_SUBQUERY_DEPTH`] deep.
//!
//! Long flat lists (`VALUES` rows, select items, `IN` lists) are not nesting and are not
//! limited. The server runs statements on threads with [`statement_stack_size`] of stack.

use crate::common::dialect::PgDialect;
use datafusion::sql::sqlparser::ast::{
    BinaryOperator, Expr, Query, Select, SetExpr, Statement as Ast, TableFactor, Value, Visit,
    VisitMut, Visitor, VisitorMut,
};
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan};
use driftdb_pgtypes::error::{Error, Result};
use std::ops::ControlFlow;

/// The deepest the tokens of a statement may nest (brackets, `CASE`, runs of prefix operators),
/// measured before parsing. PostgreSQL (2 MB of stack) answers 5,000 nested parentheses.
pub const TOKEN_NESTING: usize = 10_000;

/// The deepest the parser may recurse: twice [`TOKEN_NESTING`], which a statement's tokens
/// have been measured against already, so the parser itself runs out of depth only on shapes
/// the token measure does not see.
pub const PARSER_DEPTH: usize = 2 * TOKEN_NESTING;

/// The deepest nesting of expressions, set operations and joins a statement may have. DataFusion
/// plans a chain of 256 additions or a 256-way join in about a second; PostgreSQL fails a chain
/// of 20,000 additions.
pub const MAX_DEPTH: usize = 256;

/// The deepest subqueries in expressions (scalar, `IN`, `EXISTS`) may nest, the statement's own
/// query counting as one. DataFusion's plan checks take time that doubles with every level.
pub const MAX_SUBQUERY_DEPTH: usize = 12;

/// The stack a thread running statements needs: unprotected recursions (cloning and dropping
/// syntax trees, DriftDB's own walks) over [`PARSER_DEPTH`] levels, with room to spare.
/// Only the pages a statement touches are ever committed.
pub fn statement_stack_size() -> usize {
    64 << 20
}

/// A parser over PostgreSQL's dialect ([`PgDialect`]) that may nest as deep as DriftDB allows.
pub(crate) fn parser() -> Parser<'static> {
    // The parser counts its own recursion (parenthesised expressions, subqueries); a chain of
    // binary operators it builds in a loop is measured by `check_depth` afterwards.
    Parser::new(&PgDialect).with_recursion_limit(PARSER_DEPTH)
}

/// The expression `text` spells (SQL the SQL layer writes, or a default or check the catalog
/// keeps as text).
pub(crate) fn expression(text: &str) -> Result<Expr, ParserError> {
    parser().try_with_sql(text)?.parse_expr()
}

/// `function(argument)` as an expression.
pub(crate) fn call(function: &str, argument: &Expr) -> Option<Expr> {
    expression(&format!("{function}({argument})")).ok()
}

/// Parses an expression the catalog stores as SQL text (a default or a check) back.
pub(crate) fn stored_expression(sql: &str) -> Result<Expr> {
    expression(sql).map_err(|e| {
        Error::new(
            driftdb_pgtypes::error::ErrorKind::Internal,
            format!("stored expression {sql:?}: {e}"),
        )
    })
}

/// Whether `query` is its body alone: no WITH, ORDER BY, LIMIT, FETCH, locking or other
/// clause around it.
pub(crate) fn plain_query(query: &Query) -> bool {
    query.with.is_none()
        && query.order_by.is_none()
        && query.limit_clause.is_none()
        && query.fetch.is_none()
        && query.locks.is_empty()
        && query.for_clause.is_none()
        && query.settings.is_none()
        && query.format_clause.is_none()
        && query.pipe_operators.is_empty()
}

/// Is `expr` the `DEFAULT` keyword (as the parser leaves it in a VALUES row)?
pub(crate) fn is_default_keyword(expr: &Expr) -> bool {
    matches!(expr, Expr::Identifier(ident)
        if ident.quote_style.is_none() && ident.value.eq_ignore_ascii_case("default"))
}

/// Parses every statement in `sql` (SQL text the SQL layer wrote itself, or a stored
/// definition), with DriftDB's limits.
pub(crate) fn statements(sql: &str) -> Result<Vec<Ast>, ParserError> {
    let statements = parser().try_with_sql(sql)?.parse_statements()?;
    match statements.iter().all(depth_within_limit) {
        true => Ok(statements),
        false => {
            dispose(statements, sql.len());
            Err(ParserError::RecursionLimitExceeded)
        }
    }
}

/// Fails with 54001 if `tokens` nest deeper than the parser may recurse: the parser reports
/// running out of depth only where it does not take its error for a reason to try another
/// reading (`NOT` followed by 20,000 more would read as a column named `not`), so the depth is
/// measured on the tokens first. Brackets, `CASE … END` and runs of prefix operators (`NOT`,
/// `-`, `+`, `~`) are what the parser recurses on without consuming a bracket of its own.
pub(crate) fn check_token_nesting(tokens: &[TokenWithSpan]) -> Result<()> {
    if tokens.len() < TOKEN_NESTING {
        return Ok(());
    }
    let (mut open, mut prefix_run, mut deepest) = (0usize, 0usize, 0usize);
    for token in tokens {
        match &token.token {
            Token::Whitespace(_) => continue,
            Token::LParen | Token::LBracket => open += 1,
            Token::Word(word) if word.keyword == Keyword::CASE => open += 1,
            Token::Word(word) if word.keyword == Keyword::NOT => prefix_run += 1,
            Token::Minus | Token::Plus | Token::Tilde => prefix_run += 1,
            Token::RParen | Token::RBracket => {
                open = open.saturating_sub(1);
                prefix_run = 0;
            }
            Token::Word(word) if word.keyword == Keyword::END => {
                open = open.saturating_sub(1);
                prefix_run = 0;
            }
            _ => prefix_run = 0,
        }
        deepest = deepest.max(open + prefix_run);
    }
    match deepest >= TOKEN_NESTING {
        true => Err(too_deep()),
        false => Ok(()),
    }
}

/// PostgreSQL's error for a statement nested too deeply (54001).
pub(crate) fn too_deep() -> Error {
    Error::too_deep()
}

/// The parser's error as the client sees it: its recursion limit is the nesting limit.
pub(crate) fn parser_error(sql: &str, e: ParserError) -> Error {
    match e {
        ParserError::RecursionLimitExceeded => too_deep(),
        other => Error::syntax(sql, other.to_string()),
    }
}

/// Fails with 54001 unless every statement nests within the limits (see the module docs),
/// after long chains of `AND` and `OR` are rebalanced. A statement of few tokens cannot nest
/// deep, so only longer ones are walked. The trees of a statement that fails are dropped on a
/// stack of their own, as deep as `tokens` says they can be (dropping recurses too).
pub(crate) fn check_depth(mut statements: Vec<Ast>, tokens: usize) -> Result<Vec<Ast>> {
    // A nested subquery takes at least two tokens, `(SELECT`.
    if tokens < 2 * MAX_SUBQUERY_DEPTH {
        return Ok(statements);
    }
    if tokens >= BALANCED_CHAIN {
        for statement in &mut statements {
            let _ = statement.visit(&mut BalancedChains);
        }
    }
    if statements.iter().all(depth_within_limit) {
        return Ok(statements);
    }
    dispose(statements, tokens);
    Err(too_deep())
}

/// Chains of `AND` or `OR` at least this long are rebalanced.
const BALANCED_CHAIN: usize = 16;

/// Rebalances long chains of `AND` and `OR` (`a OR b OR c OR …`, as tools generate them by the
/// thousand) into trees of logarithmic depth, keeping their terms in order. Both operators are
/// associative in SQL's three-valued logic, so the answer is the same; the depth is what every
/// later pass pays for, and DataFusion's naming of an expression costs time quadratic in it.
struct BalancedChains;

impl VisitorMut for BalancedChains {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        let Expr::BinaryOp { op, .. } = expr else {
            return ControlFlow::Continue(());
        };
        if !matches!(op, BinaryOperator::And | BinaryOperator::Or) {
            return ControlFlow::Continue(());
        }
        let op = op.clone();
        if chain_length(expr, &op) >= BALANCED_CHAIN {
            let chain = std::mem::replace(expr, Expr::value(Value::Null));
            *expr = balanced(terms(chain, &op), &op);
        }
        ControlFlow::Continue(())
    }
}

/// How many terms the chain of `op` down `expr`'s left side has.
fn chain_length(mut expr: &Expr, op: &BinaryOperator) -> usize {
    let mut terms = 1;
    while let Expr::BinaryOp { left, op: o, .. } = expr
        && o == op
    {
        terms += 1;
        expr = left;
    }
    terms
}

/// The terms of the chain of `op` down `expr`'s left side, in order.
fn terms(mut expr: Expr, op: &BinaryOperator) -> Vec<Expr> {
    let mut reversed = Vec::new();
    loop {
        match expr {
            Expr::BinaryOp { left, op: o, right } if o == *op => {
                reversed.push(*right);
                expr = *left;
            }
            other => {
                reversed.push(other);
                break;
            }
        }
    }
    reversed.reverse();
    reversed
}

/// `terms` joined by `op` as a balanced tree, leaves in order.
fn balanced(mut terms: Vec<Expr>, op: &BinaryOperator) -> Expr {
    while terms.len() > 1 {
        let mut paired = Vec::with_capacity(terms.len().div_ceil(2));
        let mut rest = terms.into_iter();
        while let Some(left) = rest.next() {
            paired.push(match rest.next() {
                Some(right) => Expr::BinaryOp {
                    left: Box::new(left),
                    op: op.clone(),
                    right: Box::new(right),
                },
                None => left,
            });
        }
        terms = paired;
    }
    terms.pop().expect("a chain has a term")
}

/// Drops trees that may nest as deep as `bound` levels without risking the thread's stack.
fn dispose(statements: Vec<Ast>, bound: usize) {
    /// Generous for one level of the compiler's drop glue (two or three small frames).
    const DROP_BYTES_PER_LEVEL: usize = 512;
    let stack = bound.saturating_mul(DROP_BYTES_PER_LEVEL).max(1 << 20);
    stacker::grow(stack, move || drop(statements));
}

/// Whether `statement` nests at most [`MAX_DEPTH`] deep. The walk stops as soon as it is
/// deeper, so it never goes much deeper than the limit itself.
fn depth_within_limit(statement: &Ast) -> bool {
    let mut depth = Depth::default();
    statement.visit(&mut depth).is_continue()
}

/// Counts the levels of nesting on the way down: each expression, each query with the chain of
/// set operations in its body, each SELECT with its joins (planned as a left-deep tree).
#[derive(Default)]
struct Depth {
    depth: usize,
    /// The deepest level reached.
    deepest: usize,
    /// What each open query, SELECT, table or expression added, to take off on the way up.
    added: Vec<usize>,
    /// Subqueries in expressions open around the current node (the statement's query is one).
    subqueries: usize,
}

impl Depth {
    fn enter(&mut self, levels: usize) -> ControlFlow<()> {
        self.depth += levels;
        self.deepest = self.deepest.max(self.depth);
        self.added.push(levels);
        match self.depth > MAX_DEPTH {
            true => ControlFlow::Break(()),
            false => ControlFlow::Continue(()),
        }
    }

    fn leave(&mut self) -> ControlFlow<()> {
        self.depth -= self.added.pop().unwrap_or(0);
        ControlFlow::Continue(())
    }
}

/// Whether `expr` holds a subquery of its own (which nests one level deeper).
fn is_subquery(expr: &Expr) -> bool {
    matches!(
        expr,
        Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. }
    )
}

/// How deep a chain of set operations nests (1 for a plain SELECT), walked without recursion.
fn set_operation_depth(body: &SetExpr) -> usize {
    let mut deepest = 0;
    let mut pending = vec![(body, 1)];
    while let Some((expr, depth)) = pending.pop() {
        deepest = deepest.max(depth);
        if depth > MAX_DEPTH {
            break;
        }
        if let SetExpr::SetOperation { left, right, .. } = expr {
            pending.push((left, depth + 1));
            pending.push((right, depth + 1));
        }
    }
    deepest
}

impl Visitor for Depth {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        self.enter(set_operation_depth(&query.body))
    }

    fn post_visit_query(&mut self, _query: &Query) -> ControlFlow<()> {
        self.leave()
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<()> {
        let joins: usize = select.from.iter().map(|from| from.joins.len()).sum();
        self.enter(1 + select.from.len() + joins)
    }

    fn post_visit_select(&mut self, _select: &Select) -> ControlFlow<()> {
        self.leave()
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        let levels = match factor {
            TableFactor::NestedJoin {
                table_with_joins, ..
            } => 1 + table_with_joins.joins.len(),
            _ => 1,
        };
        self.enter(levels)
    }

    fn post_visit_table_factor(&mut self, _factor: &TableFactor) -> ControlFlow<()> {
        self.leave()
    }

    /// Parentheses are not a level: they shape the tree the parser builds, and leave nothing
    /// of their own behind in a plan.
    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        if is_subquery(expr) {
            self.subqueries += 1;
            if self.subqueries >= MAX_SUBQUERY_DEPTH {
                return ControlFlow::Break(());
            }
        }
        self.enter(usize::from(!matches!(expr, Expr::Nested(_))))
    }

    fn post_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        if is_subquery(expr) {
            self.subqueries -= 1;
        }
        self.leave()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth_ok(sql: &str) -> bool {
        let statements = parser()
            .try_with_sql(sql)
            .and_then(|mut p| p.parse_statements())
            .unwrap();
        let ok = statements.iter().all(depth_within_limit);
        dispose(statements, sql.len());
        ok
    }

    fn chain(terms: usize, op: &str) -> String {
        format!("SELECT 1{}", format!(" {op} 1").repeat(terms - 1))
    }

    #[test]
    fn a_chain_of_additions_is_as_deep_as_it_is_long() {
        assert!(depth_ok(&chain(MAX_DEPTH / 2, "+")));
        assert!(!depth_ok(&chain(MAX_DEPTH + 10, "+")));
        assert!(!depth_ok(&chain(MAX_DEPTH + 10, "AND")));
    }

    fn parsed(sql: &str) -> Vec<Ast> {
        parser()
            .try_with_sql(sql)
            .and_then(|mut p| p.parse_statements())
            .unwrap()
    }

    #[test]
    fn long_chains_of_and_and_or_are_rebalanced_in_order() {
        let terms: Vec<String> = (0..100).map(|i| format!("x = {i}")).collect();
        let sql = format!("SELECT {}", terms.join(" OR "));
        let balanced = check_depth(parsed(&sql), MAX_DEPTH).unwrap();
        let text = balanced[0].to_string();
        let mut depth = Depth::default();
        let _ = balanced[0].visit(&mut depth);
        assert!(depth.deepest <= 2 + 2 * 8, "{} levels", depth.deepest);
        // The terms keep their order (sqlparser prints a tree of ORs without parentheses).
        assert_eq!(text, sql);
        // Short chains stay as written.
        let short = check_depth(parsed("SELECT a AND b AND c"), MAX_DEPTH).unwrap();
        assert_eq!(short[0].to_string(), "SELECT a AND b AND c");
    }

    #[test]
    fn a_chain_of_or_longer_than_the_limit_is_accepted_and_one_of_additions_is_not() {
        let ors = chain(MAX_DEPTH * 2, "OR");
        assert!(check_depth(parsed(&ors), MAX_DEPTH * 4).is_ok());
        let additions = chain(MAX_DEPTH * 2, "+");
        let refused = check_depth(parsed(&additions), MAX_DEPTH * 4).unwrap_err();
        assert_eq!(
            refused.kind,
            driftdb_pgtypes::error::ErrorKind::StatementTooComplex
        );
    }

    fn tokens(sql: &str) -> Vec<TokenWithSpan> {
        datafusion::sql::sqlparser::tokenizer::Tokenizer::new(&PgDialect, sql)
            .tokenize_with_location()
            .unwrap()
    }

    #[test]
    fn prefix_operators_and_brackets_past_the_parsers_depth_are_refused_before_parsing() {
        let nots = format!("SELECT {}true", "NOT ".repeat(TOKEN_NESTING));
        assert!(check_token_nesting(&tokens(&nots)).is_err());
        let minus = format!("SELECT {}1", "- ".repeat(TOKEN_NESTING));
        assert!(check_token_nesting(&tokens(&minus)).is_err());
        let mixed = format!(
            "SELECT {}1{}",
            "NOT (".repeat(TOKEN_NESTING / 2),
            ")".repeat(TOKEN_NESTING / 2)
        );
        assert!(check_token_nesting(&tokens(&mixed)).is_err());
        let parens = format!("SELECT {}1{}", "(".repeat(5000), ")".repeat(5000));
        assert!(check_token_nesting(&tokens(&parens)).is_ok());
        // Long but flat: many short runs, brackets closed as they open.
        let flat = format!("SELECT {}", vec!["(NOT - 1)"; TOKEN_NESTING].join(", "));
        assert!(check_token_nesting(&tokens(&flat)).is_ok());
    }

    #[test]
    fn subqueries_in_expressions_nest_at_most_the_subquery_limit() {
        let nested = |n: usize| format!("SELECT {}1{}", "(SELECT ".repeat(n), ")".repeat(n));
        assert!(depth_ok(&nested(MAX_SUBQUERY_DEPTH - 2)));
        assert!(!depth_ok(&nested(MAX_SUBQUERY_DEPTH)));
        // Derived tables are not subqueries in expressions.
        let derived = format!(
            "SELECT * FROM {}(SELECT 1) t{}",
            "(SELECT * FROM ".repeat(30),
            ") t".repeat(30)
        );
        assert!(depth_ok(&derived));
    }

    #[test]
    fn a_chain_of_unions_counts_each_set_operation() {
        let unions = |n: usize| format!("SELECT 1{}", " UNION SELECT 1".repeat(n));
        assert!(depth_ok(&unions(100)));
        assert!(!depth_ok(&unions(MAX_DEPTH + 10)));
    }

    #[test]
    fn long_flat_lists_are_not_nesting() {
        let values = (0..MAX_DEPTH * 2)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        assert!(depth_ok(&format!("SELECT 1 WHERE 1 IN ({values})")));
        assert!(depth_ok(&format!("SELECT {values}")));
    }

    #[test]
    fn the_parsers_recursion_limit_is_the_nesting_limit() {
        let nested = |n: usize| format!("SELECT {}1{}", "(".repeat(n), ")".repeat(n));
        assert!(statements(&nested(5000)).is_ok());
        let too_deep = statements(&nested(PARSER_DEPTH + 10)).unwrap_err();
        assert_eq!(too_deep, ParserError::RecursionLimitExceeded);
    }
}
