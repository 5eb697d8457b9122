//! The query half of the generator: subqueries (scalar, EXISTS, IN, ANY/ALL), FROM clauses
//! (tables, CTEs, derived tables, joins of every kind), SELECTs with WHERE, GROUP BY, HAVING,
//! DISTINCT and window functions, set operations, ORDER BY/LIMIT/OFFSET, and the UPDATE and
//! DELETE statements of a round's setup. LIMIT only comes with an ORDER BY of every output
//! column, so the rows it keeps are fully specified.

use super::ast::{Body, Class, Expr, FromItem, JoinKind, OrderItem, Query, Select, SetOp, Ty};
use super::generate::{
    Env, GeneratedSelect, Generator, MAX_SUBQUERY_DEPTH, Shape, Typed, column_bound, int_literal,
    unify,
};
use super::schema::{SetupStatement, TableDef};

impl Generator<'_> {
    // ---- subqueries ------------------------------------------------------------------------

    /// A FROM clause of 1–2 tables for a subquery, and the environment inside it.
    pub(super) fn subquery_from(&mut self, env: &Env) -> (Vec<FromItem>, Env) {
        let mut sub = env.nested();
        if self.avoid.nested_correlation && env.subquery_depth > 0 {
            sub.outer.clear();
        }
        let primaries = if self.rng.chance(80) { 1 } else { 2 };
        let tables_only = self.tables_only;
        self.tables_only = self.avoid.subquery_derived_tables;
        let (from, columns) = self.joined_from(&sub, primaries);
        self.tables_only = tables_only;
        sub.columns = columns;
        (vec![from], sub)
    }

    /// A scalar subquery: an aggregate (always one row) or one column ORDER BY'd with LIMIT 1.
    pub(super) fn scalar_subquery(&mut self, class: Class, env: &Env) -> Typed {
        let (from, mut sub) = self.subquery_from(env);
        let filter = if self.avoid.scalar_correlation {
            // Correlated by `inner = outer` only (see `Avoid::scalar_correlation`).
            let outer = std::mem::take(&mut sub.outer);
            let local = self
                .rng
                .chance(50)
                .then(|| self.expr(Class::Bool, &sub, 2).expr);
            let correlation = self
                .rng
                .chance(70)
                .then(|| self.equi_condition(&sub.columns, &outer))
                .flatten();
            match (local, correlation) {
                (Some(l), Some(c)) => Some(Expr::binary(c, "AND", l)),
                (l, c) => l.or(c),
            }
        } else {
            self.rng
                .chance(75)
                .then(|| self.expr(Class::Bool, &sub, 2).expr)
        };
        if self.avoid.correlated_limit || self.rng.chance(60) {
            let grouped = Env {
                columns: Vec::new(),
                aggregate_over: Some(sub.columns.clone()),
                ..sub.clone()
            };
            let mut item = self.aggregate(class, &grouped);
            // See `Avoid::scalar_count`: another aggregate (max over no rows is NULL in both).
            while self.avoid.scalar_count
                && matches!(&item.expr, Expr::Aggregate { name: "count", .. })
            {
                item = self.aggregate(class, &grouped);
            }
            let select = Select {
                items: vec![item.expr.clone()],
                from,
                filter,
                ..Select::default()
            };
            Typed {
                expr: Expr::Scalar(Box::new(Query::select(select))),
                ..item
            }
        } else {
            let item = self.expr(class, &sub, 2);
            let select = Select {
                items: vec![item.expr.clone()],
                from,
                filter,
                ..Select::default()
            };
            let mut query = Query::select(select);
            query.order_by = vec![OrderItem {
                position: 1,
                desc: self.rng.chance(50),
                nulls_first: None,
            }];
            query.limit = Some(1);
            Typed {
                expr: Expr::Scalar(Box::new(query)),
                ..item
            }
        }
    }

    /// EXISTS, IN or ANY/ALL over a (usually correlated) subquery.
    pub(super) fn subquery_predicate(&mut self, env: &Env, depth: u32) -> Typed {
        let kind = match self.rng.below(10) {
            8 | 9 if self.avoid.quantified_subqueries => 4,
            kind => kind,
        };
        let kind = if self.avoid.in_subqueries { 0 } else { kind };
        let (from, sub) = self.subquery_from(env);
        let filter = self
            .rng
            .chance(if kind < 4 { 90 } else { 60 })
            .then(|| self.expr(Class::Bool, &sub, 2).expr);
        let boolean = |expr| Typed {
            expr,
            ty: Ty::Bool,
            bound: 0.0,
        };
        if kind < 4 {
            let item = if self.rng.chance(50) {
                Expr::literal("1")
            } else {
                self.leaf(Class::Int, &sub).expr
            };
            let select = Select {
                items: vec![item],
                from,
                filter,
                ..Select::default()
            };
            return boolean(Expr::Exists {
                negated: self.rng.chance(35),
                query: Box::new(Query::select(select)),
            });
        }
        let class = *self.pick(&[Class::Int, Class::Int, Class::Num, Class::Text]);
        let (left, item) = if class == Class::Text {
            (
                self.expr(Class::Text, env, depth),
                self.expr(Class::Text, &sub, 1),
            )
        } else {
            (self.number(env, depth), self.number(&sub, 1))
        };
        let select = Select {
            distinct: self.rng.chance(20),
            items: vec![item.expr],
            from,
            filter,
            ..Select::default()
        };
        let query = Box::new(Query::select(select));
        if kind < 8 {
            boolean(Expr::InQuery {
                expr: Box::new(left.expr),
                negated: self.rng.chance(45),
                query,
            })
        } else {
            boolean(Expr::Quantified {
                expr: Box::new(left.expr),
                op: self.pick_operator(&["=", "<>", "<", "<=", ">", ">="]),
                all: self.rng.chance(50),
                query,
            })
        }
    }

    // ---- FROM ------------------------------------------------------------------------------

    /// One table, CTE or derived table, with its columns.
    pub(super) fn primary(&mut self, env: &Env) -> (FromItem, Vec<Typed>) {
        let alias = self.alias();
        let roll = self.rng.below(100);
        if roll < 12 && !self.ctes.is_empty() && !self.tables_only {
            let (name, types) = self.pick(&self.ctes.clone()).clone();
            let columns = types
                .iter()
                .enumerate()
                .map(|(i, (ty, bound))| Typed {
                    expr: Expr::Column(alias.clone(), format!("r{i}")),
                    ty: *ty,
                    bound: *bound,
                })
                .collect();
            return (FromItem::Table { name, alias }, columns);
        }
        if roll < 22 && env.subquery_depth < MAX_SUBQUERY_DEPTH && !self.tables_only {
            let fresh = Env {
                subquery_depth: env.subquery_depth + 1,
                ..Env::default()
            };
            self.in_derived += 1;
            let (query, types) = self.query(&fresh, None);
            self.in_derived -= 1;
            let columns = types
                .iter()
                .enumerate()
                .map(|(i, (ty, bound))| Typed {
                    expr: Expr::Column(alias.clone(), format!("r{i}")),
                    ty: *ty,
                    bound: *bound,
                })
                .collect();
            return (
                FromItem::Derived {
                    query: Box::new(query),
                    alias,
                },
                columns,
            );
        }
        let table = self.pick(self.tables).clone();
        let columns = table
            .columns
            .iter()
            .map(|c| Typed {
                expr: Expr::Column(alias.clone(), c.name.clone()),
                ty: c.ty,
                bound: column_bound(c.ty),
            })
            .collect();
        (
            FromItem::Table {
                name: table.name,
                alias,
            },
            columns,
        )
    }

    /// `primaries` FROM items joined left-deep, with their columns.
    pub(super) fn joined_from(&mut self, env: &Env, primaries: usize) -> (FromItem, Vec<Typed>) {
        let (mut from, mut columns) = self.primary(env);
        for _ in 1..primaries {
            let (right, right_columns) = self.primary(env);
            let kind = *self.pick(&[
                JoinKind::Inner,
                JoinKind::Inner,
                JoinKind::Left,
                JoinKind::Left,
                JoinKind::Right,
                JoinKind::Full,
                JoinKind::Cross,
            ]);
            let mut both = columns.clone();
            both.extend(right_columns.iter().cloned());
            let on_env = Env {
                columns: both.clone(),
                ..env.without_subqueries()
            };
            let equality = self.equi_condition(&columns, &right_columns);
            // An outer join keeps an equality, so its condition is never a constant.
            let kind = match (kind, &equality) {
                (JoinKind::Left | JoinKind::Right, None)
                    if self.avoid.constant_outer_join_conditions =>
                {
                    JoinKind::Inner
                }
                _ => kind,
            };
            let keep_equality = self.avoid.constant_outer_join_conditions
                && matches!(kind, JoinKind::Left | JoinKind::Right);
            self.in_join_condition = true;
            let on = match kind {
                JoinKind::Cross => None,
                // PostgreSQL runs a FULL JOIN only on merge- or hash-joinable conditions.
                JoinKind::Full => equality.clone(),
                _ => match (equality, self.rng.below(10)) {
                    (Some(eq), 0..=5) => Some(eq),
                    (Some(eq), _) if keep_equality => Some(eq),
                    (Some(eq), 6..=7) => Some(Expr::binary(
                        eq,
                        "AND",
                        self.expr(Class::Bool, &on_env, 2).expr,
                    )),
                    _ => Some(self.expr(Class::Bool, &on_env, 2).expr),
                },
            };
            self.in_join_condition = false;
            let kind = match (kind, &on) {
                (JoinKind::Full, None) => JoinKind::Cross,
                _ => kind,
            };
            from = FromItem::Join {
                kind,
                left: Box::new(from),
                right: Box::new(right),
                on,
            };
            columns = both;
        }
        (from, columns)
    }

    /// `left.x = right.y` for a pair of columns of one class, if there is one.
    pub(super) fn equi_condition(&mut self, left: &[Typed], right: &[Typed]) -> Option<Expr> {
        let pairs: Vec<(Expr, Expr)> = left
            .iter()
            .flat_map(|l| {
                right
                    .iter()
                    .filter(move |r| r.ty.class() == l.ty.class())
                    .map(move |r| (l.expr.clone(), r.expr.clone()))
            })
            .collect();
        if pairs.is_empty() {
            return None;
        }
        let (l, r) = self.pick(&pairs).clone();
        Some(Expr::binary(l, "=", r))
    }

    // ---- SELECT and queries ----------------------------------------------------------------

    /// A SELECT; with `want`, its items have those classes.
    pub fn select(&mut self, env: &Env, want: Option<&[Class]>, shape: Shape) -> GeneratedSelect {
        let mut from = Vec::new();
        let mut columns = Vec::new();
        if self.tables.is_empty() || self.rng.chance(4) {
            // SELECT without FROM.
        } else {
            let mut left = if self.rng.chance(75) {
                1
            } else {
                self.rng.range(2, 3) as usize
            };
            while left > 0 {
                let primaries = if self.rng.chance(70) {
                    left
                } else {
                    self.rng.range(1, left as i64) as usize
                };
                let (item, item_columns) = self.joined_from(env, primaries.min(3));
                from.push(item);
                columns.extend(item_columns);
                left -= primaries;
            }
        }
        let level = Env {
            columns: columns.clone(),
            outer: env.outer.clone(),
            aggregate_over: None,
            window_over: None,
            subquery_depth: env.subquery_depth,
        };
        let filter = self.rng.chance(60).then(|| {
            let depth = self.rng.range(1, 3) as u32;
            self.expr(Class::Bool, &level, depth).expr
        });
        let grouped = shape.grouped.unwrap_or_else(|| self.rng.chance(22));
        let (mut group_by, mut grouped_env, mut having) = (Vec::new(), None, None);
        // See `Avoid::ungrouped_derived_aggregates`.
        let keys_required = self.avoid.ungrouped_derived_aggregates && self.in_derived > 0;
        if grouped && !(keys_required && columns.is_empty()) {
            let keys: Vec<Typed> = if columns.is_empty() || (!keys_required && self.rng.chance(15))
            {
                Vec::new()
            } else {
                (0..self.rng.range(1, 2))
                    .map(|_| self.group_key(&columns))
                    .collect()
            };
            group_by = keys.iter().map(|k| k.expr.clone()).collect();
            let env = Env {
                columns: keys,
                outer: env.outer.clone(),
                aggregate_over: Some(columns.clone()),
                window_over: None,
                subquery_depth: env.subquery_depth,
            };
            let allowed = !(group_by.is_empty() && self.avoid.having_without_aggregates);
            let having_env = if self.avoid.having_subqueries {
                env.without_subqueries()
            } else {
                env.clone()
            };
            having = (allowed && self.rng.chance(35))
                .then(|| self.expr(Class::Bool, &having_env, 2).expr);
            grouped_env = Some(env);
        }
        let item_env = match &grouped_env {
            Some(env) => env.clone(),
            None => Env {
                window_over: (shape.window
                    && !columns.is_empty()
                    && !(self.avoid.windows_over_derived && from.iter().any(reads_derived))
                    && self.rng.chance(25))
                .then(|| columns.clone()),
                ..level.clone()
            },
        };
        let distinct = shape.distinct.unwrap_or_else(|| self.rng.chance(15));
        let classes: Vec<Class> = match want {
            Some(want) => want.to_vec(),
            None => (0..self.rng.range(1, 4))
                .map(|_| {
                    *self.pick(&[Class::Int, Class::Int, Class::Num, Class::Text, Class::Bool])
                })
                .collect(),
        };
        let items: Vec<Typed> = classes
            .iter()
            .map(|class| {
                let depth = self.rng.range(1, 3) as u32;
                self.expr(*class, &item_env, depth)
            })
            .collect();
        GeneratedSelect {
            select: Select {
                distinct,
                items: items.iter().map(|i| i.expr.clone()).collect(),
                from,
                filter,
                group_by,
                having,
            },
            outputs: items.iter().map(|i| (i.ty, i.bound)).collect(),
            level,
            grouped: grouped_env,
        }
    }

    /// A column, or now and then an integer expression of one (never a constant, which
    /// GROUP BY would read as an output column's position).
    pub(super) fn group_key(&mut self, columns: &[Typed]) -> Typed {
        let key = self.pick(columns).clone();
        if key.ty.class() != Class::Int || self.rng.chance(80) {
            return key;
        }
        let k = self.rng.range(2, 3);
        let expr = match self.rng.below(3) {
            0 => Expr::binary(key.expr, "%", int_literal(k)),
            1 => Expr::binary(key.expr, "/", int_literal(k)),
            _ => Expr::call("abs", vec![key.expr]),
        };
        Typed { expr, ..key }
    }

    /// A query: a SELECT or a set operation, maybe ordered (LIMIT/OFFSET only when the order
    /// is total).
    pub fn query(&mut self, env: &Env, want: Option<&[Class]>) -> (Query, Vec<(Ty, f64)>) {
        let set_operation = self.rng.chance(15).then(|| {
            let op = *self.pick(&[SetOp::Union, SetOp::Union, SetOp::Intersect, SetOp::Except]);
            let all = self.rng.chance(40) && (op == SetOp::Union || !self.avoid.all_set_operations);
            (op, all)
        });
        let shape = Shape {
            window: true,
            ..Shape::default()
        };
        let first = self.select(env, want, shape);
        let (body, types) = if let Some((op, all)) = set_operation {
            let classes: Vec<Class> = first.outputs.iter().map(|t| t.0.class()).collect();
            let mut second = self.select(env, Some(&classes), shape);
            let mut first = first;
            for (i, (a, b)) in first.outputs.iter().zip(&second.outputs).enumerate() {
                let both = [
                    (a.0, first.select.items[i].clone()),
                    (b.0, second.select.items[i].clone()),
                ]
                .map(|(ty, expr)| Typed {
                    expr,
                    ty,
                    bound: a.1.max(b.1),
                });
                let (both, _) = self.harmonize(both.to_vec());
                first.select.items[i] = both[0].expr.clone();
                second.select.items[i] = both[1].expr.clone();
            }
            let types = first
                .outputs
                .iter()
                .zip(&second.outputs)
                .map(|(a, b)| (unify(a.0, b.0), a.1.max(b.1)))
                .collect();
            let body = Body::SetOp {
                op,
                all,
                left: Box::new(Body::Select(Box::new(first.select))),
                right: Box::new(Body::Select(Box::new(second.select))),
            };
            (body, types)
        } else {
            (Body::Select(Box::new(first.select)), first.outputs)
        };
        let mut query = Query {
            with: Vec::new(),
            body,
            order_by: Vec::new(),
            limit: None,
            offset: None,
        };
        let width = types.len();
        match self.rng.below(100) {
            0..40 => {
                let mut positions: Vec<usize> = (1..=width).collect();
                self.rng.shuffle(&mut positions);
                query.order_by = positions
                    .into_iter()
                    .map(|position| self.order_item(position))
                    .collect();
                if self.rng.chance(50) {
                    query.limit = Some(self.rng.range(0, 5) as u32);
                }
                if self.rng.chance(25) {
                    query.offset = Some(self.rng.range(0, 3) as u32);
                }
            }
            40..50 => {
                let position = self.rng.range(1, width as i64) as usize;
                query.order_by = vec![self.order_item(position)];
            }
            _ => {}
        }
        (query, types)
    }

    pub(super) fn order_item(&mut self, position: usize) -> OrderItem {
        OrderItem {
            position,
            desc: self.rng.chance(40),
            nulls_first: match self.rng.below(4) {
                0 => Some(true),
                1 => Some(false),
                _ => None,
            },
        }
    }

    /// A top-level query, sometimes with a CTE its FROM clauses may read.
    pub fn top_query(&mut self) -> Query {
        let mut with = Vec::new();
        if self.rng.chance(12) {
            let fresh = Env {
                subquery_depth: 1,
                ..Env::default()
            };
            self.in_derived += 1;
            let (cte, types) = self.query(&fresh, None);
            self.in_derived -= 1;
            with.push(("w0".to_string(), cte));
            self.ctes.push(("w0".to_string(), types));
        }
        let (mut query, _) = self.query(&Env::default(), None);
        self.ctes.clear();
        query.with = with;
        query
    }

    /// An UPDATE or DELETE of `table` with a generated condition.
    pub fn write(&mut self, table: &TableDef) -> SetupStatement {
        let columns: Vec<Typed> = table
            .columns
            .iter()
            .map(|c| Typed {
                expr: Expr::Column(table.name.clone(), c.name.clone()),
                ty: c.ty,
                bound: column_bound(c.ty),
            })
            .collect();
        let env = Env {
            columns,
            ..Env::default()
        };
        let condition = self.expr(Class::Bool, &env, 2).expr;
        let first = usize::from(table.primary_key);
        let sql = if self.rng.chance(60) && table.columns.len() > first {
            let index = self.rng.range(first as i64, table.columns.len() as i64 - 1) as usize;
            let column = &table.columns[index];
            let value = if self.rng.chance(30) && !column.not_null {
                "NULL".to_string()
            } else {
                super::schema::value(self.rng, column.ty)
            };
            format!(
                "UPDATE {} SET {} = {value} WHERE {condition}",
                table.name, column.name
            )
        } else {
            format!("DELETE FROM {} WHERE {condition}", table.name)
        };
        SetupStatement::Write {
            table: table.name.clone(),
            sql,
        }
    }
}

/// Whether a FROM item reads a derived table or a CTE (named `w…`).
fn reads_derived(item: &FromItem) -> bool {
    match item {
        FromItem::Table { name, .. } => name.starts_with('w'),
        FromItem::Derived { .. } => true,
        FromItem::Join { left, right, .. } => reads_derived(left) || reads_derived(right),
    }
}
