//! Ternary logic partitioning: for a query `q` and a predicate `p`, every row of `q` satisfies
//! exactly one of `p`, `NOT p` and `p IS NULL`, so the rows of `q` are the rows of
//! `q WHERE p`, `q WHERE NOT p` and `q WHERE p IS NULL` together (as a multiset; as a set for
//! `SELECT DISTINCT`; over groups when `p` is a HAVING condition).

use super::ast::{Class, Expr, Query, Select};
use super::generate::{Generator, Shape};
use super::oracle::Row;
use super::shrink;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `p` joins the WHERE clause.
    Where,
    /// `p` joins the WHERE clause of a `SELECT DISTINCT`; compared as sets.
    Distinct,
    /// `p` joins the HAVING clause of a grouped select.
    Having,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TlpCase {
    pub mode: Mode,
    pub select: Select,
    pub predicate: Expr,
}

impl TlpCase {
    pub fn generate(generator: &mut Generator<'_>) -> TlpCase {
        let mode = match generator.rng.below(10) {
            0..=5 => Mode::Where,
            6 | 7 => Mode::Distinct,
            _ => Mode::Having,
        };
        let shape = Shape {
            grouped: Some(mode == Mode::Having),
            distinct: Some(mode == Mode::Distinct),
            window: false,
        };
        let mut generated = generator.select(&Default::default(), None, shape);
        if mode == Mode::Having
            && generated.select.group_by.is_empty()
            && generator.avoid.having_without_aggregates
        {
            // An aggregate makes the HAVING legal for DataFusion (see `Avoid`).
            generated.select.items.push(Expr::Aggregate {
                name: "count",
                distinct: false,
                args: Vec::new(),
                order_by: Vec::new(),
                filter: None,
            });
        }
        let env = match &generated.grouped {
            Some(grouped) if generator.avoid.having_subqueries => grouped.without_subqueries(),
            Some(grouped) => grouped.clone(),
            None => generated.level.clone(),
        };
        let predicate = generator.expr(Class::Bool, &env, 3).expr;
        TlpCase {
            mode,
            select: generated.select,
            predicate,
        }
    }

    /// `q` itself.
    pub fn whole(&self) -> Query {
        Query::select(self.select.clone())
    }

    /// `q` restricted to `p`, `NOT p` and `p IS NULL`.
    pub fn partitions(&self) -> [Query; 3] {
        let p = self.predicate.clone();
        let parts = [
            p.clone(),
            Expr::Prefix("NOT", Box::new(p.clone())),
            Expr::Postfix(Box::new(p), "IS NULL"),
        ];
        parts.map(|part| {
            let mut select = self.select.clone();
            let clause = match self.mode {
                Mode::Where | Mode::Distinct => &mut select.filter,
                Mode::Having => &mut select.having,
            };
            *clause = Some(match clause.take() {
                Some(existing) => Expr::binary(existing, "AND", part),
                None => part,
            });
            Query::select(select)
        })
    }

    /// Whether partitioning applies: a HAVING condition partitions groups, so the query must
    /// be grouped without it (a reduced case may have lost its GROUP BY and aggregates).
    pub fn valid(&self) -> bool {
        self.mode != Mode::Having
            || !self.select.group_by.is_empty()
            || self.select.items.iter().any(has_aggregate)
    }

    /// Whether the partitions' rows together are the whole query's rows.
    pub fn holds(&self, whole: &[Row], parts: [&[Row]; 3]) -> bool {
        let mut expected = whole.to_vec();
        let mut actual: Vec<Row> = parts.iter().flat_map(|p| p.iter().cloned()).collect();
        expected.sort();
        actual.sort();
        if self.mode == Mode::Distinct {
            expected.dedup();
            actual.dedup();
        }
        expected == actual
    }
}

/// Whether `e` holds an aggregate of this query level (not one inside a subquery).
fn has_aggregate(e: &Expr) -> bool {
    matches!(e, Expr::Aggregate { .. }) || shrink::parts(e).0.iter().any(has_aggregate)
}
