//! Random expressions over a round's tables: arithmetic, comparisons, AND/OR/NOT, IS [NOT]
//! NULL/TRUE/DISTINCT FROM, BETWEEN, IN lists, LIKE, CASE, COALESCE/NULLIF/GREATEST/LEAST,
//! string and numeric functions, casts, aggregates (DISTINCT, FILTER, ordered string_agg) and
//! window functions; [`super::queries`] builds the queries around them.
//!
//! Only expressions whose answer PostgreSQL fully specifies are built: integer expressions carry
//! a bound on their magnitude and never overflow (they widen to bigint where the bound needs
//! it), divisions are by non-zero constants, no floating point, no `avg` or numeric division
//! (their digits differ by design, see the README), window functions only where ties cannot
//! change their value (`rank`, `dense_rank`, aggregates over RANGE frames).

use super::Rng;
use super::ast::{Class, Expr, Select, Ty};
use super::schema::{BIGINT_DATA_BOUND, INT_DATA_BOUND, TEXTS, TableDef};

pub(super) const INT_MAX: f64 = 2147483647.0;
pub(super) const BIGINT_MAX: f64 = 9.2e18;
/// An upper bound on the rows an aggregate sees (3 joined tables of 12 rows, and then some).
pub(super) const MAX_ROWS: f64 = 1e4;
/// Decimal precision DataFusion can hold.
pub(super) const MAX_PRECISION: u8 = 38;
pub(super) const MAX_SUBQUERY_DEPTH: u32 = 2;

/// A generated expression with its type and a bound on its magnitude (integers and numerics).
#[derive(Clone, Debug)]
pub struct Typed {
    pub expr: Expr,
    pub ty: Ty,
    pub bound: f64,
}

/// What an expression may refer to where it is generated.
#[derive(Clone, Debug, Default)]
pub struct Env {
    /// This query level's columns (the grouping keys in a grouped select).
    pub columns: Vec<Typed>,
    /// Columns of enclosing queries (correlation).
    pub outer: Vec<Typed>,
    /// In a grouped select: the columns aggregates read.
    pub aggregate_over: Option<Vec<Typed>>,
    /// Window functions allowed (a select list without GROUP BY).
    pub window_over: Option<Vec<Typed>>,
    pub subquery_depth: u32,
}

impl Env {
    /// The environment of a subquery inside this one.
    pub(super) fn nested(&self) -> Env {
        // An expression grouping key matches only outside subqueries (in PostgreSQL).
        let mut outer: Vec<Typed> = self
            .columns
            .iter()
            .filter(|c| matches!(c.expr, Expr::Column(..)))
            .cloned()
            .collect();
        outer.extend(self.outer.iter().cloned());
        Env {
            columns: Vec::new(),
            outer,
            aggregate_over: None,
            window_over: None,
            subquery_depth: self.subquery_depth + 1,
        }
    }

    pub(super) fn without_subqueries(&self) -> Env {
        Env {
            subquery_depth: MAX_SUBQUERY_DEPTH,
            ..self.clone()
        }
    }
}

/// Which kinds of SELECT a caller wants.
#[derive(Clone, Copy, Debug, Default)]
pub struct Shape {
    /// `Some(true)`: GROUP BY (or a whole-table aggregate); `Some(false)`: never.
    pub grouped: Option<bool>,
    pub distinct: Option<bool>,
    pub window: bool,
}

/// A generated SELECT and the environments its clauses were generated in.
pub struct GeneratedSelect {
    pub select: Select,
    /// Each item's type and magnitude bound.
    pub outputs: Vec<(Ty, f64)>,
    /// The FROM clause's columns.
    pub level: Env,
    /// The grouping keys and aggregates, for a grouped select.
    pub grouped: Option<Env>,
}

pub struct Generator<'a> {
    pub rng: &'a mut Rng,
    pub(super) tables: &'a [TableDef],
    pub(super) ctes: Vec<(String, Vec<(Ty, f64)>)>,
    pub(super) next_alias: u32,
    pub(super) avoid: Avoid,
    /// Generating a join's ON condition.
    pub(super) in_join_condition: bool,
    /// Generating an aggregate's arguments.
    pub(super) in_aggregate: bool,
    /// Generating a derived table's or CTE's query (nesting depth).
    pub(super) in_derived: u32,
    /// FROM clauses read base tables only.
    pub(super) tables_only: bool,
}

/// Constructs where DriftDB is known to answer differently from PostgreSQL, steered around so
/// that a session finds new differences ([`Avoid::nothing`] generates them all). Each names the
/// difference it avoids.
#[derive(Clone, Copy, Debug)]
pub struct Avoid {
    /// CASE, COALESCE, NULLIF, GREATEST, LEAST and set operations over numerics of different
    /// scales (or integers and numerics): PostgreSQL keeps each value's own scale
    /// (`coalesce(0, 1.50)` is `0`), DriftDB shows the common one (`0.00`). Avoided by casting
    /// every argument to the common type.
    pub mixed_numeric_scales: bool,
    /// `x op ANY|ALL (subquery)`: DriftDB fails in many ways (42601 "single expression
    /// required", 21000, "array_min does not support type Utf8", missing outer columns).
    pub quantified_subqueries: bool,
    /// `string_agg(… ORDER BY …)`: two with different orders in one SELECT fail with
    /// DataFusion's 0A000 "Conflicting ordering requirements in aggregate functions".
    pub ordered_aggregates: bool,
    /// `x [NOT] IN (subquery)`: wrong NULL semantics in WHERE (`WHERE NULL NOT IN (SELECT 1)`
    /// returns rows, `WHERE (x IN (…)) IS NULL` none), and many planning failures. EXISTS is
    /// generated instead.
    pub in_subqueries: bool,
    /// `rank()`/`dense_rank()` are unsigned in DataFusion: `-rank() OVER ()` fails (42601)
    /// and `rank() OVER () - 5` wraps or fails. Avoided with a cast to bigint.
    pub unsigned_ranks: bool,
    /// HAVING in a SELECT with neither GROUP BY nor aggregates (`SELECT 1 FROM t HAVING
    /// TRUE`): DataFusion's 42601 "HAVING clause references … must appear in the GROUP BY".
    pub having_without_aggregates: bool,
    /// A correlated scalar subquery with ORDER BY/LIMIT gives NULL for a NULL outer value
    /// (`(SELECT coalesce(t.a, 5) FROM t i ORDER BY 1 LIMIT 1)` is NULL where `t.a` is NULL).
    /// Only aggregate scalar subqueries are generated.
    pub correlated_limit: bool,
    /// A subquery nested in another subquery (or in a derived table) that reads a column of
    /// an enclosing query fails with 42703 "No field named x1.a0" (`WHERE EXISTS (SELECT 1
    /// FROM t1 x1 WHERE NOT EXISTS (SELECT x1.b1 FROM t0 x2))`). Only subqueries of the
    /// top-level query are correlated.
    pub nested_correlation: bool,
    /// `count(…)` in a correlated scalar subquery whose correlation is a condition on the
    /// outer row alone gives NULL for no rows instead of 0 (`(SELECT count(*) FROM t i WHERE
    /// t.b = 'abc')`). Scalar subqueries use other aggregates.
    pub scalar_count: bool,
    /// A HAVING condition comparing with an uncorrelated scalar subquery, in a SELECT without
    /// GROUP BY, is ignored (`SELECT count(*) FROM t HAVING -11 > (SELECT 0)` returns a row).
    /// HAVING conditions hold no subqueries.
    pub having_subqueries: bool,
    /// `a JOIN b ON b.x IS NOT DISTINCT FROM a.x` followed by another join loses the rows
    /// whose keys are NULL. Join conditions use no IS [NOT] DISTINCT FROM.
    pub null_safe_joins: bool,
    /// `round`/`trunc`/`ceil`/`floor` of constants compared with another numeric fail with
    /// XX000 "Invalid comparison operation: Decimal128(4, 1) == Decimal128(6, 3)"
    /// (`trunc(13.989, 1) = 0.3`), or in `least` with "Function 'least' returned value of type
    /// 'Decimal128(4, 2)' while … 'Decimal128(3, 1)'" was promised. They round columns only,
    /// and their results are cast to their own type.
    pub rounded_comparisons: bool,
    /// `min(a)` beside `min(CAST(a AS bigint))` (or `sum(DISTINCT …)` of a value and of its
    /// cast) fail with 42601/42701: the two are given the same name. Aggregate arguments
    /// hold no casts.
    pub aggregate_name_clash: bool,
    /// A correlated scalar subquery whose correlation is not an equality of an inner and an
    /// outer column (`(SELECT max(i.a) FROM t i WHERE i.b OR o.c)`) fails with 42703 "No
    /// field named o.c". Only `inner = outer` correlates scalar subqueries.
    pub scalar_correlation: bool,
    /// A filter on a constant column of a whole-table aggregate is pushed below it, so the
    /// aggregate still returns its row: `SELECT n FROM (SELECT count(*) AS n, 1 AS k FROM t)
    /// d WHERE d.k = 2` returns `0`. Derived tables and CTEs aggregate with GROUP BY only.
    pub ungrouped_derived_aggregates: bool,
    /// A window function with PARTITION BY over a derived table sorted by a scalar subquery
    /// and cut by OFFSET reads the wrong rows (`SELECT r1, count(*) OVER (PARTITION BY r0)
    /// FROM (SELECT a AS r0, a AS r1, (SELECT b FROM t1) AS r2 FROM t0 ORDER BY 3, 1 DESC
    /// OFFSET 1) x`). No window functions over derived tables or CTEs.
    pub windows_over_derived: bool,
    /// A correlated subquery reading a derived table whose column is named like the
    /// subquery's own output (`(SELECT sum(3) AS r0 FROM (SELECT a AS r0 FROM t0) x3 WHERE
    /// x3.r0 = o.c0)`) fails with 42702 "qualified field name x3.r0 and unqualified field name
    /// r0 would be ambiguous". Subqueries read tables only.
    pub subquery_derived_tables: bool,
    /// `INTERSECT ALL` and `EXCEPT ALL` lose multiplicities: `VALUES (1),(1),(1) INTERSECT ALL
    /// SELECT 1` gives three rows (PostgreSQL one), `… EXCEPT ALL SELECT 1` none (two). Only
    /// UNION takes ALL.
    pub all_set_operations: bool,
    /// A correlated subquery reading a column of a table outer-joined on a constant condition
    /// fails with 42703 "No field named x3.a0" (`SELECT EXISTS (SELECT 1 FROM t1 WHERE x3.a0
    /// < x2.a0), x1.a1 FROM t0 x1 JOIN t0 x2 ON x1.a1 = x2.a1 LEFT JOIN t0 x3 ON NULL`). Outer
    /// joins keep an equality in their condition.
    pub constant_outer_join_conditions: bool,
}

impl Avoid {
    /// Steer around every known difference.
    pub fn known() -> Avoid {
        Avoid {
            mixed_numeric_scales: true,
            quantified_subqueries: true,
            ordered_aggregates: true,
            in_subqueries: true,
            unsigned_ranks: true,
            having_without_aggregates: true,
            correlated_limit: true,
            nested_correlation: true,
            scalar_count: true,
            having_subqueries: true,
            null_safe_joins: true,
            rounded_comparisons: true,
            aggregate_name_clash: true,
            scalar_correlation: true,
            ungrouped_derived_aggregates: true,
            windows_over_derived: true,
            subquery_derived_tables: true,
            all_set_operations: true,
            constant_outer_join_conditions: true,
        }
    }

    /// Generate everything.
    pub fn nothing() -> Avoid {
        Avoid {
            mixed_numeric_scales: false,
            quantified_subqueries: false,
            ordered_aggregates: false,
            in_subqueries: false,
            unsigned_ranks: false,
            having_without_aggregates: false,
            correlated_limit: false,
            nested_correlation: false,
            scalar_count: false,
            having_subqueries: false,
            null_safe_joins: false,
            rounded_comparisons: false,
            aggregate_name_clash: false,
            scalar_correlation: false,
            ungrouped_derived_aggregates: false,
            windows_over_derived: false,
            subquery_derived_tables: false,
            all_set_operations: false,
            constant_outer_join_conditions: false,
        }
    }
}

pub(super) fn int_literal(value: i64) -> Expr {
    if value < 0 {
        Expr::literal(format!("({value})"))
    } else {
        Expr::literal(value.to_string())
    }
}

pub(super) fn column_bound(ty: Ty) -> f64 {
    match ty {
        Ty::Int | Ty::Numeric(..) => INT_DATA_BOUND * 2.0,
        Ty::BigInt => BIGINT_DATA_BOUND * 2.0,
        Ty::Text | Ty::Bool => 0.0,
    }
}

/// Precision and scale of a decimal operand, as DataFusion widens integers.
pub(super) fn decimal_shape(ty: Ty) -> (u8, u8) {
    match ty {
        Ty::Int => (10, 0),
        Ty::BigInt => (20, 0),
        Ty::Numeric(p, s) => (p, s),
        Ty::Text | Ty::Bool => (0, 0),
    }
}

/// The type both of two values of one class unify to.
pub fn unify(a: Ty, b: Ty) -> Ty {
    match (a, b) {
        (Ty::Int, Ty::Int) => Ty::Int,
        (Ty::Int | Ty::BigInt, Ty::Int | Ty::BigInt) => Ty::BigInt,
        (Ty::Numeric(..), _) | (_, Ty::Numeric(..)) => {
            let (p1, s1) = decimal_shape(a);
            let (p2, s2) = decimal_shape(b);
            let scale = s1.max(s2);
            let whole = (p1 - s1).max(p2 - s2);
            Ty::Numeric((whole + scale).min(MAX_PRECISION), scale)
        }
        _ => a,
    }
}

/// Whether `e` reads a column (outside subqueries), so constant folding cannot reduce it.
fn reads_column(e: &Expr) -> bool {
    match e {
        Expr::Column(..) => true,
        Expr::Literal(_) | Expr::Scalar(_) | Expr::Exists { .. } => false,
        Expr::Cast(x, _) | Expr::Prefix(_, x) | Expr::Postfix(x, _) => reads_column(x),
        Expr::Binary(l, _, r) => reads_column(l) || reads_column(r),
        Expr::Between {
            expr, low, high, ..
        } => reads_column(expr) || reads_column(low) || reads_column(high),
        Expr::InList { expr, list, .. } => reads_column(expr) || list.iter().any(reads_column),
        Expr::Case {
            operand,
            whens,
            otherwise,
        } => {
            operand.as_deref().is_some_and(reads_column)
                || whens
                    .iter()
                    .any(|(w, t)| reads_column(w) || reads_column(t))
                || otherwise.as_deref().is_some_and(reads_column)
        }
        Expr::Call(_, args) => args.iter().any(reads_column),
        Expr::Aggregate { args, .. } | Expr::Window { args, .. } => args.iter().any(reads_column),
        Expr::InQuery { expr, .. } | Expr::Quantified { expr, .. } => reads_column(expr),
    }
}

pub(super) fn digits(bound: f64) -> u8 {
    let mut d = 1u8;
    let mut limit = 10.0;
    while bound >= limit && d < 40 {
        d += 1;
        limit *= 10.0;
    }
    d
}

impl<'a> Generator<'a> {
    pub fn new(rng: &'a mut Rng, tables: &'a [TableDef], avoid: Avoid) -> Generator<'a> {
        Generator {
            rng,
            tables,
            avoid,
            in_join_condition: false,
            in_aggregate: false,
            in_derived: 0,
            tables_only: false,
            ctes: Vec::new(),
            next_alias: 0,
        }
    }

    pub(super) fn alias(&mut self) -> String {
        self.next_alias += 1;
        format!("x{}", self.next_alias)
    }

    pub(super) fn pick<'b, T>(&mut self, items: &'b [T]) -> &'b T {
        &items[self.rng.below(items.len() as u64) as usize]
    }

    /// One of `operators`.
    pub(super) fn pick_operator(&mut self, operators: &[&'static str]) -> &'static str {
        operators[self.rng.below(operators.len() as u64) as usize]
    }

    // ---- leaves ----------------------------------------------------------------------------

    pub(super) fn literal(&mut self, class: Class) -> Typed {
        match class {
            Class::Int => {
                if self.rng.chance(8) {
                    let v = *self.pick(&[3000000000i64, -3000000000]);
                    Typed {
                        expr: int_literal(v),
                        ty: Ty::BigInt,
                        bound: v.unsigned_abs() as f64,
                    }
                } else {
                    let v = self.rng.range(-5, 10);
                    Typed {
                        expr: int_literal(v),
                        ty: Ty::Int,
                        bound: v.unsigned_abs() as f64,
                    }
                }
            }
            Class::Num => {
                let whole = self.rng.range(-20, 20);
                let scale = self.rng.range(1, 3) as u8;
                let fraction = self.rng.below(10u64.pow(scale as u32));
                let sign = if whole < 0 || (whole == 0 && self.rng.chance(30)) {
                    "-"
                } else {
                    ""
                };
                let text = format!(
                    "{sign}{}.{fraction:0width$}",
                    whole.unsigned_abs(),
                    width = scale as usize
                );
                let expr = if sign.is_empty() {
                    Expr::literal(text)
                } else {
                    Expr::literal(format!("({text})"))
                };
                Typed {
                    expr,
                    ty: Ty::Numeric(digits(whole.unsigned_abs() as f64) + scale, scale),
                    bound: whole.unsigned_abs() as f64 + 1.0,
                }
            }
            Class::Text => Typed {
                expr: Expr::literal(*self.pick(&TEXTS)),
                ty: Ty::Text,
                bound: 0.0,
            },
            Class::Bool => Typed {
                expr: Expr::literal(*self.pick(&["TRUE", "FALSE"])),
                ty: Ty::Bool,
                bound: 0.0,
            },
        }
    }

    pub(super) fn null(&mut self, class: Class) -> Typed {
        if !self.casts_allowed() {
            return self.literal(class);
        }
        let ty = match class {
            Class::Int => Ty::Int,
            Class::Num => Ty::Numeric(10, 2),
            Class::Text => Ty::Text,
            Class::Bool => Ty::Bool,
        };
        Typed {
            expr: Expr::Cast(Box::new(Expr::literal("NULL")), ty),
            ty,
            bound: 0.0,
        }
    }

    /// A column of `class` (this level's, sometimes an outer one), a NULL or a literal.
    pub(super) fn leaf(&mut self, class: Class, env: &Env) -> Typed {
        let inner: Vec<&Typed> = env
            .columns
            .iter()
            .filter(|c| c.ty.class() == class)
            .collect();
        let outer: Vec<&Typed> = env.outer.iter().filter(|c| c.ty.class() == class).collect();
        if (!inner.is_empty() || !outer.is_empty()) && self.rng.chance(72) {
            if !outer.is_empty() && (inner.is_empty() || self.rng.chance(25)) {
                return (*self.pick(&outer)).clone();
            }
            return (*self.pick(&inner)).clone();
        }
        if self.rng.chance(15) {
            return self.null(class);
        }
        self.literal(class)
    }

    // ---- expressions -----------------------------------------------------------------------

    /// An expression of `class`, at most `depth` operators deep.
    pub fn expr(&mut self, class: Class, env: &Env, depth: u32) -> Typed {
        if depth == 0 || self.rng.chance(30) {
            if env.aggregate_over.is_some() && self.rng.chance(45) && class != Class::Bool {
                return self.aggregate(class, env);
            }
            return self.leaf(class, env);
        }
        let typed = match class {
            Class::Int => self.int_expr(env, depth),
            Class::Num => self.num_expr(env, depth),
            Class::Text => self.text_expr(env, depth),
            Class::Bool => self.bool_expr(env, depth),
        };
        typed.unwrap_or_else(|| self.leaf(class, env))
    }

    /// An Int or Num expression (they compare and combine with each other).
    pub(super) fn number(&mut self, env: &Env, depth: u32) -> Typed {
        let class = if self.rng.chance(70) {
            Class::Int
        } else {
            Class::Num
        };
        self.expr(class, env, depth)
    }

    /// Shared shapes: CASE, COALESCE, NULLIF, aggregates, window functions, scalar subqueries.
    pub(super) fn common(&mut self, class: Class, env: &Env, depth: u32) -> Option<Typed> {
        match self.rng.below(7) {
            0 | 1 => Some(self.case(class, env, depth)),
            2 => {
                let args: Vec<Typed> = (0..self.rng.range(2, 3))
                    .map(|_| self.expr(class, env, depth - 1))
                    .collect();
                Some(self.combine("coalesce", args))
            }
            3 => {
                let a = self.expr(class, env, depth - 1);
                let b = self.expr(class, env, depth - 1);
                let (mut args, ty) = self.harmonize(vec![a, b]);
                let b = args.pop().expect("two arguments");
                let a = args.pop().expect("two arguments");
                Some(Typed {
                    expr: Expr::call("nullif", vec![a.expr, b.expr]),
                    ty,
                    bound: a.bound,
                })
            }
            4 if env.aggregate_over.is_some() => Some(self.aggregate(class, env)),
            5 if env.window_over.is_some() => self.window(class, env),
            6 if env.subquery_depth < MAX_SUBQUERY_DEPTH && class != Class::Bool => {
                Some(self.scalar_subquery(class, env))
            }
            _ => None,
        }
    }

    pub(super) fn combine(&mut self, name: &'static str, args: Vec<Typed>) -> Typed {
        let (args, ty) = self.harmonize(args);
        let bound = args.iter().map(|a| a.bound).fold(0.0, f64::max);
        Typed {
            expr: Expr::call(name, args.into_iter().map(|a| a.expr).collect()),
            ty,
            bound,
        }
    }

    /// The type values of `args` unify to; when avoiding mixed numeric scales, every numeric
    /// argument of another type is brought to its scale.
    pub(super) fn harmonize(&self, args: Vec<Typed>) -> (Vec<Typed>, Ty) {
        let ty = args.iter().map(|a| a.ty).reduce(unify).expect("arguments");
        if !self.avoid.mixed_numeric_scales || ty.class() != Class::Num {
            return (args, ty);
        }
        let Ty::Numeric(_, scale) = ty else {
            unreachable!("a numeric type")
        };
        // `x + 0.00` has scale 2 in both systems, and no cast (whose name DataFusion drops,
        // see `Avoid::aggregate_name_clash`).
        let zero = if scale == 0 {
            "0".to_string()
        } else {
            format!("0.{}", "0".repeat(scale as usize))
        };
        let args = args
            .into_iter()
            .map(|a| {
                if a.ty == ty {
                    a
                } else {
                    Typed {
                        expr: Expr::binary(a.expr, "+", Expr::literal(zero.clone())),
                        ty,
                        ..a
                    }
                }
            })
            .collect();
        (args, ty)
    }

    pub(super) fn case(&mut self, class: Class, env: &Env, depth: u32) -> Typed {
        let simple = self.rng.chance(25);
        let operand = simple.then(|| {
            let class = *self.pick(&[Class::Int, Class::Text, Class::Bool]);
            (class, self.expr(class, env, depth - 1))
        });
        let mut conditions = Vec::new();
        let mut results = Vec::new();
        for _ in 0..self.rng.range(1, 3) {
            conditions.push(match &operand {
                Some((class, _)) => self.expr(*class, env, depth - 1).expr,
                None => self.expr(Class::Bool, env, depth - 1).expr,
            });
            results.push(self.expr(class, env, depth - 1));
        }
        let has_else = self.rng.chance(70);
        if has_else {
            results.push(self.expr(class, env, depth - 1));
        }
        let (mut results, ty) = self.harmonize(results);
        let bound = results.iter().map(|r| r.bound).fold(0.0, f64::max);
        let otherwise = has_else.then(|| Box::new(results.pop().expect("the ELSE").expr));
        Typed {
            expr: Expr::Case {
                operand: operand.map(|(_, e)| Box::new(e.expr)),
                whens: conditions
                    .into_iter()
                    .zip(results.into_iter().map(|r| r.expr))
                    .collect(),
                otherwise,
            },
            ty,
            bound,
        }
    }

    pub(super) fn int_expr(&mut self, env: &Env, depth: u32) -> Option<Typed> {
        match self.rng.below(12) {
            0..=2 => {
                let a = self.expr(Class::Int, env, depth - 1);
                let b = self.expr(Class::Int, env, depth - 1);
                let op = *self.pick(&["+", "-", "*"]);
                self.int_arithmetic(a, op, b)
            }
            3 => {
                let a = self.expr(Class::Int, env, depth - 1);
                let expr = if self.rng.chance(50) {
                    Expr::Prefix("-", Box::new(a.expr))
                } else {
                    Expr::call("abs", vec![a.expr])
                };
                Some(Typed { expr, ..a })
            }
            4 => {
                let a = self.expr(Class::Int, env, depth - 1);
                let k = *self.pick(&[-3i64, -2, 2, 3, 4, 5]);
                let op = *self.pick(&["/", "%"]);
                let bound = if op == "%" { k.abs() as f64 } else { a.bound };
                Some(Typed {
                    expr: Expr::binary(a.expr, op, int_literal(k)),
                    ty: a.ty,
                    bound,
                })
            }
            5 => {
                let t = self.expr(Class::Text, env, depth - 1);
                let expr = if self.rng.chance(70) {
                    Expr::call("length", vec![t.expr])
                } else {
                    let u = self.expr(Class::Text, env, depth - 1);
                    Expr::call("strpos", vec![t.expr, u.expr])
                };
                Some(Typed {
                    expr,
                    ty: Ty::Int,
                    bound: 1000.0,
                })
            }
            6 => {
                let args: Vec<Typed> = (0..self.rng.range(2, 3))
                    .map(|_| self.expr(Class::Int, env, depth - 1))
                    .collect();
                let name = *self.pick(&["greatest", "least"]);
                Some(self.combine(name, args))
            }
            7 if !self.casts_allowed() => None,
            7 => match self.rng.below(3) {
                0 => {
                    let b = self.expr(Class::Bool, env, depth - 1);
                    Some(Typed {
                        expr: Expr::Cast(Box::new(b.expr), Ty::Int),
                        ty: Ty::Int,
                        bound: 1.0,
                    })
                }
                1 => {
                    let n = self.expr(Class::Num, env, depth - 1);
                    let ty = if n.bound < 1e9 { Ty::Int } else { Ty::BigInt };
                    (n.bound < 1e18).then(|| Typed {
                        expr: Expr::Cast(Box::new(n.expr), ty),
                        ty,
                        bound: n.bound + 1.0,
                    })
                }
                _ => {
                    let a = self.expr(Class::Int, env, depth - 1);
                    Some(Typed {
                        expr: Expr::Cast(Box::new(a.expr), Ty::BigInt),
                        ty: Ty::BigInt,
                        bound: a.bound,
                    })
                }
            },
            _ => self.common(Class::Int, env, depth),
        }
    }

    /// `a op b` for integers, widening to bigint where the bound needs it.
    pub(super) fn int_arithmetic(&mut self, a: Typed, op: &'static str, b: Typed) -> Option<Typed> {
        let bound = if op == "*" {
            a.bound * b.bound
        } else {
            a.bound + b.bound
        };
        if bound > BIGINT_MAX {
            return None;
        }
        let mut left = a.expr;
        let ty = if a.ty == Ty::Int && b.ty == Ty::Int && bound > INT_MAX {
            if !self.casts_allowed() {
                return None;
            }
            left = Expr::Cast(Box::new(left), Ty::BigInt);
            Ty::BigInt
        } else {
            unify(a.ty, b.ty)
        };
        Some(Typed {
            expr: Expr::binary(left, op, b.expr),
            ty,
            bound,
        })
    }

    pub(super) fn num_expr(&mut self, env: &Env, depth: u32) -> Option<Typed> {
        match self.rng.below(10) {
            0..=2 => {
                let a = self.expr(Class::Num, env, depth - 1);
                let b = self.number(env, depth - 1);
                let op = *self.pick(&["+", "-", "*"]);
                let (p1, s1) = decimal_shape(a.ty);
                let (p2, s2) = decimal_shape(b.ty);
                let (ty, bound) = if op == "*" {
                    ((p1 as u32 + p2 as u32 + 1, s1 + s2), a.bound * b.bound)
                } else {
                    let scale = s1.max(s2);
                    let whole = (p1 - s1).max(p2 - s2) as u32 + 1;
                    ((whole + scale as u32, scale), a.bound + b.bound)
                };
                if ty.0 > MAX_PRECISION as u32 || bound > 1e30 {
                    return None;
                }
                let (left, right) = if self.rng.chance(50) {
                    (a.expr, b.expr)
                } else {
                    (b.expr, a.expr)
                };
                Some(Typed {
                    expr: Expr::binary(left, op, right),
                    ty: Ty::Numeric(ty.0 as u8, ty.1),
                    bound,
                })
            }
            3 => {
                let a = self.expr(Class::Num, env, depth - 1);
                let expr = if self.rng.chance(50) {
                    Expr::Prefix("-", Box::new(a.expr))
                } else {
                    Expr::call("abs", vec![a.expr])
                };
                Some(Typed { expr, ..a })
            }
            4 => {
                let a = self.expr(Class::Num, env, depth - 1);
                if self.avoid.rounded_comparisons && !reads_column(&a.expr) {
                    return None;
                }
                let (p, s) = decimal_shape(a.ty);
                let whole = p - s + 1;
                let (expr, ty) = match self.rng.below(4) {
                    0 => (Expr::call("round", vec![a.expr]), Ty::Numeric(whole, 0)),
                    1 => {
                        let places = self.rng.range(0, 3);
                        let name = *self.pick(&["round", "trunc"]);
                        (
                            Expr::call(name, vec![a.expr, int_literal(places)]),
                            Ty::Numeric(whole + places as u8, places as u8),
                        )
                    }
                    _ => {
                        let name = *self.pick(&["ceil", "floor"]);
                        (Expr::call(name, vec![a.expr]), Ty::Numeric(whole, 0))
                    }
                };
                let expr = if self.avoid.rounded_comparisons && self.casts_allowed() {
                    Expr::Cast(Box::new(expr), ty)
                } else {
                    expr
                };
                (whole + 3 <= MAX_PRECISION).then_some(Typed {
                    expr,
                    ty,
                    bound: a.bound + 1.0,
                })
            }
            5 if !self.casts_allowed() => None,
            5 => {
                // A cast to a numeric with room for the value (rounded to the new scale).
                let a = self.number(env, depth - 1);
                let scale = self.rng.range(0, 4) as u8;
                let whole = digits(a.bound + 1.0) + 1 + self.rng.range(0, 2) as u8;
                let precision = whole + scale;
                (precision <= MAX_PRECISION).then(|| Typed {
                    expr: Expr::Cast(Box::new(a.expr), Ty::Numeric(precision, scale)),
                    ty: Ty::Numeric(precision, scale),
                    bound: a.bound + 1.0,
                })
            }
            6 => {
                let args: Vec<Typed> = (0..self.rng.range(2, 3))
                    .map(|_| self.expr(Class::Num, env, depth - 1))
                    .collect();
                let name = *self.pick(&["greatest", "least"]);
                Some(self.combine(name, args))
            }
            _ => self.common(Class::Num, env, depth),
        }
    }

    pub(super) fn text_expr(&mut self, env: &Env, depth: u32) -> Option<Typed> {
        let text = |expr| Typed {
            expr,
            ty: Ty::Text,
            bound: 0.0,
        };
        match self.rng.below(11) {
            0 | 1 => {
                let a = self.expr(Class::Text, env, depth - 1);
                let b = if self.rng.chance(15) {
                    self.expr(Class::Int, env, depth - 1)
                } else {
                    self.expr(Class::Text, env, depth - 1)
                };
                let expr = if self.rng.chance(75) {
                    Expr::binary(a.expr, "||", b.expr)
                } else {
                    Expr::call("concat", vec![a.expr, b.expr])
                };
                Some(text(expr))
            }
            2 => {
                let a = self.expr(Class::Text, env, depth - 1);
                let name = *self.pick(&["upper", "lower", "reverse", "trim", "ltrim", "rtrim"]);
                Some(text(Expr::call(name, vec![a.expr])))
            }
            3 => {
                let a = self.expr(Class::Text, env, depth - 1);
                let start = int_literal(self.rng.range(-1, 3));
                let expr = if self.rng.chance(60) {
                    Expr::call(
                        "substr",
                        vec![a.expr, start, int_literal(self.rng.range(0, 3))],
                    )
                } else {
                    Expr::call("substr", vec![a.expr, start])
                };
                Some(text(expr))
            }
            4 => {
                let a = self.expr(Class::Text, env, depth - 1);
                let expr = match self.rng.below(3) {
                    0 => {
                        let from = Expr::literal(*self.pick(&["'a'", "'b'", "' '"]));
                        let to = Expr::literal(*self.pick(&["'z'", "''", "'bb'"]));
                        Expr::call("replace", vec![a.expr, from, to])
                    }
                    1 => {
                        let name = *self.pick(&["left", "right"]);
                        Expr::call(name, vec![a.expr, int_literal(self.rng.range(-2, 3))])
                    }
                    _ => {
                        let name = *self.pick(&["lpad", "rpad"]);
                        let n = int_literal(self.rng.range(0, 5));
                        Expr::call(name, vec![a.expr, n, Expr::literal("'*'")])
                    }
                };
                Some(text(expr))
            }
            5 | 6 if !self.casts_allowed() => None,
            5 | 6 => {
                let class = *self.pick(&[Class::Int, Class::Num, Class::Bool]);
                let a = self.expr(class, env, depth - 1);
                Some(text(Expr::Cast(Box::new(a.expr), Ty::Text)))
            }
            _ => self.common(Class::Text, env, depth),
        }
    }

    pub(super) fn comparable_pair(&mut self, env: &Env, depth: u32) -> (Typed, Typed) {
        match self.rng.below(10) {
            0..=4 => (self.number(env, depth), self.number(env, depth)),
            5..=7 => (
                self.expr(Class::Text, env, depth),
                self.expr(Class::Text, env, depth),
            ),
            _ => (
                self.expr(Class::Bool, env, depth),
                self.expr(Class::Bool, env, depth),
            ),
        }
    }

    pub(super) fn bool_expr(&mut self, env: &Env, depth: u32) -> Option<Typed> {
        let boolean = |expr| Typed {
            expr,
            ty: Ty::Bool,
            bound: 0.0,
        };
        let d = depth - 1;
        let expr = match self.rng.below(20) {
            0..=4 => {
                let (a, b) = self.comparable_pair(env, d);
                let op = *self.pick(&["=", "<>", "<", "<=", ">", ">="]);
                Expr::binary(a.expr, op, b.expr)
            }
            5 | 6 => {
                let a = self.expr(Class::Bool, env, d);
                let b = self.expr(Class::Bool, env, d);
                Expr::binary(a.expr, self.pick_operator(&["AND", "OR"]), b.expr)
            }
            7 => Expr::Prefix("NOT", Box::new(self.expr(Class::Bool, env, d).expr)),
            8 => {
                let class = *self.pick(&[Class::Int, Class::Num, Class::Text, Class::Bool]);
                let a = self.expr(class, env, d);
                Expr::Postfix(
                    Box::new(a.expr),
                    self.pick_operator(&["IS NULL", "IS NOT NULL"]),
                )
            }
            9 => {
                let a = self.expr(Class::Bool, env, d);
                let test = *self.pick(&[
                    "IS TRUE",
                    "IS NOT TRUE",
                    "IS FALSE",
                    "IS NOT FALSE",
                    "IS UNKNOWN",
                    "IS NOT UNKNOWN",
                ]);
                Expr::Postfix(Box::new(a.expr), test)
            }
            10 => {
                let (a, b) = self.comparable_pair(env, d);
                let op = if self.avoid.null_safe_joins && self.in_join_condition {
                    *self.pick(&["=", "<>"])
                } else {
                    *self.pick(&["IS DISTINCT FROM", "IS NOT DISTINCT FROM"])
                };
                Expr::binary(a.expr, op, b.expr)
            }
            11 => {
                let (a, low) = self.comparable_pair(env, d);
                let high = if a.ty.class() == Class::Text || a.ty.class() == Class::Bool {
                    self.expr(a.ty.class(), env, d)
                } else {
                    self.number(env, d)
                };
                Expr::Between {
                    expr: Box::new(a.expr),
                    negated: self.rng.chance(30),
                    low: Box::new(low.expr),
                    high: Box::new(high.expr),
                }
            }
            12 => {
                let class = *self.pick(&[Class::Int, Class::Int, Class::Num, Class::Text]);
                let a = self.expr(class, env, d);
                let mut list: Vec<Expr> = (0..self.rng.range(1, 4))
                    .map(|_| {
                        if class == Class::Text {
                            self.literal(Class::Text).expr
                        } else {
                            self.number(env, 0).expr
                        }
                    })
                    .collect();
                if self.rng.chance(25) {
                    list.push(Expr::literal("NULL"));
                }
                Expr::InList {
                    expr: Box::new(a.expr),
                    negated: self.rng.chance(40),
                    list,
                }
            }
            13 => {
                let a = self.expr(Class::Text, env, d);
                let pattern = *self.pick(&["'a%'", "'%b'", "'_'", "'%'", "'a_'", "''", "'%a%'"]);
                let op = *self.pick(&["LIKE", "NOT LIKE"]);
                Expr::binary(a.expr, op, Expr::literal(pattern))
            }
            14..=16 if env.subquery_depth < MAX_SUBQUERY_DEPTH => {
                return Some(self.subquery_predicate(env, d));
            }
            17 if env.aggregate_over.is_some() => {
                return Some(self.aggregate(Class::Bool, env));
            }
            _ => return self.common(Class::Bool, env, depth),
        };
        Some(boolean(expr))
    }

    // ---- aggregates and window functions ---------------------------------------------------

    /// Whether a cast may be generated here (see `Avoid::aggregate_name_clash`).
    pub(super) fn casts_allowed(&self) -> bool {
        !(self.avoid.aggregate_name_clash && self.in_aggregate)
    }

    /// An aggregate of `class` over `env.aggregate_over` (none inside its arguments).
    pub(super) fn aggregate(&mut self, class: Class, env: &Env) -> Typed {
        let enclosing = std::mem::replace(&mut self.in_aggregate, true);
        let typed = self.aggregate_call(class, env);
        self.in_aggregate = enclosing;
        typed
    }

    fn aggregate_call(&mut self, class: Class, env: &Env) -> Typed {
        let over = env.aggregate_over.clone().unwrap_or_default();
        let inner = Env {
            columns: over,
            ..Env::default()
        }
        .without_subqueries();
        let filter = self
            .rng
            .chance(12)
            .then(|| Box::new(self.expr(Class::Bool, &inner, 2).expr));
        let aggregate = |name, distinct, args, order_by| Expr::Aggregate {
            name,
            distinct,
            args,
            order_by,
            filter: filter.clone(),
        };
        match class {
            Class::Int => match self.rng.below(5) {
                0 => Typed {
                    expr: aggregate("count", false, vec![], vec![]),
                    ty: Ty::BigInt,
                    bound: MAX_ROWS,
                },
                1 => {
                    let class = *self.pick(&[Class::Int, Class::Num, Class::Text, Class::Bool]);
                    let a = self.expr(class, &inner, 2);
                    Typed {
                        expr: aggregate("count", self.rng.chance(40), vec![a.expr], vec![]),
                        ty: Ty::BigInt,
                        bound: MAX_ROWS,
                    }
                }
                2 => {
                    // The sum of bigints is a numeric in PostgreSQL (an integer here only for
                    // integers), so it takes max instead.
                    let a = self.expr(Class::Int, &inner, 2);
                    let (name, distinct, ty, bound) = if a.ty == Ty::Int {
                        ("sum", self.rng.chance(25), Ty::BigInt, a.bound * MAX_ROWS)
                    } else {
                        ("max", false, a.ty, a.bound)
                    };
                    Typed {
                        expr: aggregate(name, distinct, vec![a.expr], vec![]),
                        ty,
                        bound,
                    }
                }
                _ => {
                    let a = self.expr(Class::Int, &inner, 2);
                    let name = *self.pick(&["min", "max"]);
                    Typed {
                        expr: aggregate(name, false, vec![a.expr], vec![]),
                        ..a
                    }
                }
            },
            Class::Num => {
                let a = self.expr(Class::Num, &inner, 2);
                let (p, s) = decimal_shape(a.ty);
                if self.rng.chance(40) && p + 10 <= MAX_PRECISION {
                    Typed {
                        expr: aggregate("sum", self.rng.chance(25), vec![a.expr], vec![]),
                        ty: Ty::Numeric(p + 10, s),
                        bound: a.bound * MAX_ROWS,
                    }
                } else {
                    let name = *self.pick(&["min", "max"]);
                    Typed {
                        expr: aggregate(name, false, vec![a.expr], vec![]),
                        ..a
                    }
                }
            }
            Class::Text => {
                let a = self.expr(Class::Text, &inner, 2);
                if !self.avoid.ordered_aggregates && self.rng.chance(35) {
                    // Ordered by the value itself: ties are equal strings, so the result is fixed.
                    let separator = Expr::literal(*self.pick(&["','", "''"]));
                    Typed {
                        expr: aggregate(
                            "string_agg",
                            false,
                            vec![a.expr.clone(), separator],
                            vec![a.expr],
                        ),
                        ..a
                    }
                } else {
                    let name = *self.pick(&["min", "max"]);
                    Typed {
                        expr: aggregate(name, false, vec![a.expr], vec![]),
                        ..a
                    }
                }
            }
            Class::Bool => {
                let a = self.expr(Class::Bool, &inner, 2);
                let name = *self.pick(&["bool_and", "bool_or"]);
                Typed {
                    expr: aggregate(name, false, vec![a.expr], vec![]),
                    ..a
                }
            }
        }
    }

    /// `rank`/`dense_rank`, or `count`/`sum`/`min`/`max` over a partition (RANGE frames, so
    /// peers share a value and ties cannot change the answer).
    pub(super) fn window(&mut self, class: Class, env: &Env) -> Option<Typed> {
        let over = env.window_over.clone()?;
        let inner = Env {
            columns: over.clone(),
            ..Env::default()
        }
        .without_subqueries();
        let partition_by: Vec<Expr> = (0..self.rng.range(0, 2))
            .map(|_| self.pick(&over).expr.clone())
            .collect();
        let mut order_by: Vec<(Expr, bool)> = (0..self.rng.range(0, 2))
            .map(|_| {
                let class = *self.pick(&[Class::Int, Class::Num, Class::Text]);
                (self.expr(class, &inner, 1).expr, self.rng.chance(30))
            })
            .collect();
        let (name, args, ty, bound) = match (class, self.rng.below(3)) {
            (Class::Int, 0) => {
                if order_by.is_empty() {
                    order_by.push((self.pick(&over).expr.clone(), false));
                }
                let name = *self.pick(&["rank", "dense_rank"]);
                (name, vec![], Ty::BigInt, MAX_ROWS)
            }
            (Class::Int, 1) => ("count", vec![], Ty::BigInt, MAX_ROWS),
            (Class::Int, _) => {
                let a = self.expr(Class::Int, &inner, 1);
                if a.ty == Ty::Int {
                    ("sum", vec![a.expr], Ty::BigInt, a.bound * MAX_ROWS)
                } else {
                    ("max", vec![a.expr], a.ty, a.bound)
                }
            }
            (Class::Num | Class::Text, _) => {
                let a = self.expr(class, &inner, 1);
                let name = *self.pick(&["min", "max"]);
                (name, vec![a.expr], a.ty, a.bound)
            }
            (Class::Bool, _) => return None,
        };
        let mut expr = Expr::Window {
            name,
            args,
            partition_by,
            order_by,
        };
        if self.avoid.unsigned_ranks && name.ends_with("rank") {
            expr = Expr::Cast(Box::new(expr), Ty::BigInt);
        }
        Some(Typed { expr, ty, bound })
    }
}
