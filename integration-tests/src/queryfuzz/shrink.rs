//! Smaller variants of a query and of a round's setup, biggest cuts first, for the reducer:
//! an expression replaced by NULL or by one of its operands, a clause, join, item, row or
//! table dropped. Variants need not be valid SQL; the reducer keeps only those that still show
//! the same difference.

use super::ast::{Body, Expr, FromItem, JoinKind, Query, Select};
use super::schema::{Setup, SetupStatement, TABLE_NAMES};

/// An expression's operands and subqueries.
pub(super) fn parts(e: &Expr) -> (Vec<Expr>, Vec<Query>) {
    match e {
        Expr::Column(..) | Expr::Literal(_) => (vec![], vec![]),
        Expr::Cast(x, _) | Expr::Prefix(_, x) | Expr::Postfix(x, _) => {
            (vec![(**x).clone()], vec![])
        }
        Expr::Binary(l, _, r) => (vec![(**l).clone(), (**r).clone()], vec![]),
        Expr::Between {
            expr, low, high, ..
        } => (
            vec![(**expr).clone(), (**low).clone(), (**high).clone()],
            vec![],
        ),
        Expr::InList { expr, list, .. } => {
            let mut all = vec![(**expr).clone()];
            all.extend(list.iter().cloned());
            (all, vec![])
        }
        Expr::Case {
            operand,
            whens,
            otherwise,
        } => {
            let mut all = Vec::new();
            all.extend(operand.iter().map(|o| (**o).clone()));
            for (w, t) in whens {
                all.push(w.clone());
                all.push(t.clone());
            }
            all.extend(otherwise.iter().map(|o| (**o).clone()));
            (all, vec![])
        }
        Expr::Call(_, args) => (args.clone(), vec![]),
        Expr::Aggregate {
            args,
            order_by,
            filter,
            ..
        } => {
            let mut all = args.clone();
            all.extend(order_by.iter().cloned());
            all.extend(filter.iter().map(|f| (**f).clone()));
            (all, vec![])
        }
        Expr::Window {
            args,
            partition_by,
            order_by,
            ..
        } => {
            let mut all = args.clone();
            all.extend(partition_by.iter().cloned());
            all.extend(order_by.iter().map(|(k, _)| k.clone()));
            (all, vec![])
        }
        Expr::Exists { query, .. } | Expr::Scalar(query) => (vec![], vec![(**query).clone()]),
        Expr::InQuery { expr, query, .. } | Expr::Quantified { expr, query, .. } => {
            (vec![(**expr).clone()], vec![(**query).clone()])
        }
    }
}

/// `e` with its operands and subqueries replaced (same counts as [`parts`] gave).
fn rebuild(e: &Expr, exprs: Vec<Expr>, queries: Vec<Query>) -> Expr {
    let mut exprs = exprs.into_iter();
    let mut next = || exprs.next().expect("as many operands as parts() gave");
    let mut queries = queries.into_iter();
    let mut query = || Box::new(queries.next().expect("as many subqueries as parts() gave"));
    match e {
        Expr::Column(..) | Expr::Literal(_) => e.clone(),
        Expr::Cast(_, ty) => Expr::Cast(Box::new(next()), *ty),
        Expr::Prefix(op, _) => Expr::Prefix(op, Box::new(next())),
        Expr::Postfix(_, op) => Expr::Postfix(Box::new(next()), op),
        Expr::Binary(_, op, _) => {
            let l = next();
            Expr::binary(l, op, next())
        }
        Expr::Between { negated, .. } => Expr::Between {
            expr: Box::new(next()),
            negated: *negated,
            low: Box::new(next()),
            high: Box::new(next()),
        },
        Expr::InList { negated, list, .. } => Expr::InList {
            expr: Box::new(next()),
            negated: *negated,
            list: list.iter().map(|_| next()).collect(),
        },
        Expr::Case {
            operand,
            whens,
            otherwise,
        } => Expr::Case {
            operand: operand.as_ref().map(|_| Box::new(next())),
            whens: whens
                .iter()
                .map(|_| {
                    let w = next();
                    (w, next())
                })
                .collect(),
            otherwise: otherwise.as_ref().map(|_| Box::new(next())),
        },
        Expr::Call(name, args) => Expr::Call(name, args.iter().map(|_| next()).collect()),
        Expr::Aggregate {
            name,
            distinct,
            args,
            order_by,
            filter,
        } => Expr::Aggregate {
            name,
            distinct: *distinct,
            args: args.iter().map(|_| next()).collect(),
            order_by: order_by.iter().map(|_| next()).collect(),
            filter: filter.as_ref().map(|_| Box::new(next())),
        },
        Expr::Window {
            name,
            args,
            partition_by,
            order_by,
        } => Expr::Window {
            name,
            args: args.iter().map(|_| next()).collect(),
            partition_by: partition_by.iter().map(|_| next()).collect(),
            order_by: order_by.iter().map(|(_, d)| (next(), *d)).collect(),
        },
        Expr::Exists { negated, .. } => Expr::Exists {
            negated: *negated,
            query: query(),
        },
        Expr::Scalar(_) => Expr::Scalar(query()),
        Expr::InQuery { negated, .. } => Expr::InQuery {
            expr: Box::new(next()),
            negated: *negated,
            query: query(),
        },
        Expr::Quantified { op, all, .. } => Expr::Quantified {
            expr: Box::new(next()),
            op,
            all: *all,
            query: query(),
        },
    }
}

/// Structural simplifications of `e` that keep its operands (fewer list items, WHENs, …).
fn local(e: &Expr) -> Vec<Expr> {
    let mut out = Vec::new();
    match e {
        Expr::InList {
            expr,
            negated,
            list,
        } if list.len() > 1 => {
            for i in 0..list.len() {
                let mut list = list.clone();
                list.remove(i);
                out.push(Expr::InList {
                    expr: expr.clone(),
                    negated: *negated,
                    list,
                });
            }
        }
        Expr::Case {
            operand,
            whens,
            otherwise,
        } => {
            if otherwise.is_some() {
                out.push(Expr::Case {
                    operand: operand.clone(),
                    whens: whens.clone(),
                    otherwise: None,
                });
            }
            for i in 0..whens.len() {
                if whens.len() > 1 {
                    let mut whens = whens.clone();
                    whens.remove(i);
                    out.push(Expr::Case {
                        operand: operand.clone(),
                        whens,
                        otherwise: otherwise.clone(),
                    });
                }
            }
        }
        Expr::Call(name, args) if args.len() > 2 => {
            for i in 0..args.len() {
                let mut args = args.clone();
                args.remove(i);
                out.push(Expr::Call(name, args));
            }
        }
        Expr::Aggregate {
            name,
            distinct,
            args,
            order_by,
            filter,
        } => {
            if filter.is_some() {
                out.push(Expr::Aggregate {
                    name,
                    distinct: *distinct,
                    args: args.clone(),
                    order_by: order_by.clone(),
                    filter: None,
                });
            }
            if *distinct {
                out.push(Expr::Aggregate {
                    name,
                    distinct: false,
                    args: args.clone(),
                    order_by: order_by.clone(),
                    filter: filter.clone(),
                });
            }
        }
        Expr::Window {
            name,
            args,
            partition_by,
            order_by,
        } => {
            if !partition_by.is_empty() {
                out.push(Expr::Window {
                    name,
                    args: args.clone(),
                    partition_by: Vec::new(),
                    order_by: order_by.clone(),
                });
            }
            if !order_by.is_empty() {
                out.push(Expr::Window {
                    name,
                    args: args.clone(),
                    partition_by: partition_by.clone(),
                    order_by: Vec::new(),
                });
            }
        }
        _ => {}
    }
    out
}

pub fn expr(e: &Expr) -> Vec<Expr> {
    let mut out = Vec::new();
    let (kids, queries) = parts(e);
    if !matches!(e, Expr::Literal(_)) {
        out.push(Expr::literal("NULL"));
    }
    out.extend(kids.iter().cloned());
    out.extend(local(e));
    for (i, kid) in kids.iter().enumerate() {
        for variant in expr(kid) {
            let mut kids = kids.clone();
            kids[i] = variant;
            out.push(rebuild(e, kids, queries.clone()));
        }
    }
    for (i, q) in queries.iter().enumerate() {
        for variant in query(q) {
            let mut queries = queries.clone();
            queries[i] = variant;
            out.push(rebuild(e, kids.clone(), queries));
        }
    }
    out
}

fn remove_column(body: &mut Body, index: usize) {
    match body {
        Body::Select(select) => {
            select.items.remove(index);
        }
        Body::SetOp { left, right, .. } => {
            remove_column(left, index);
            remove_column(right, index);
        }
    }
}

pub fn query(q: &Query) -> Vec<Query> {
    let mut out = Vec::new();
    if !q.with.is_empty() {
        out.push(Query {
            with: Vec::new(),
            ..q.clone()
        });
    }
    if !q.order_by.is_empty() {
        out.push(Query {
            order_by: Vec::new(),
            limit: None,
            offset: None,
            ..q.clone()
        });
    }
    if q.limit.is_some() {
        out.push(Query {
            limit: None,
            ..q.clone()
        });
    }
    if q.offset.is_some() {
        out.push(Query {
            offset: None,
            ..q.clone()
        });
    }
    if let Body::SetOp { left, right, .. } = &q.body {
        for side in [left, right] {
            out.push(Query {
                body: (**side).clone(),
                ..q.clone()
            });
        }
    }
    let width = q.width();
    if width > 1 {
        for index in 0..width {
            let mut smaller = q.clone();
            remove_column(&mut smaller.body, index);
            smaller.order_by = q
                .order_by
                .iter()
                .filter(|o| o.position != index + 1)
                .map(|o| {
                    let mut o = o.clone();
                    if o.position > index + 1 {
                        o.position -= 1;
                    }
                    o
                })
                .collect();
            out.push(smaller);
        }
    }
    for variant in body(&q.body) {
        out.push(Query {
            body: variant,
            ..q.clone()
        });
    }
    for (i, (name, cte)) in q.with.iter().enumerate() {
        for variant in query(cte) {
            let mut smaller = q.clone();
            smaller.with[i] = (name.clone(), variant);
            out.push(smaller);
        }
    }
    out
}

fn body(b: &Body) -> Vec<Body> {
    match b {
        Body::Select(s) => select(s)
            .into_iter()
            .map(|s| Body::Select(Box::new(s)))
            .collect(),
        Body::SetOp {
            op,
            all,
            left,
            right,
        } => {
            let mut out = Vec::new();
            for variant in body(left) {
                out.push(Body::SetOp {
                    op: *op,
                    all: *all,
                    left: Box::new(variant),
                    right: right.clone(),
                });
            }
            for variant in body(right) {
                out.push(Body::SetOp {
                    op: *op,
                    all: *all,
                    left: left.clone(),
                    right: Box::new(variant),
                });
            }
            out
        }
    }
}

pub fn select(s: &Select) -> Vec<Select> {
    let mut out = Vec::new();
    let with = |f: &dyn Fn(&mut Select)| {
        let mut s = s.clone();
        f(&mut s);
        s
    };
    if s.distinct {
        out.push(with(&|s| s.distinct = false));
    }
    if s.filter.is_some() {
        out.push(with(&|s| s.filter = None));
    }
    if s.having.is_some() {
        out.push(with(&|s| s.having = None));
    }
    if !s.group_by.is_empty() {
        out.push(with(&|s| s.group_by.clear()));
        if s.group_by.len() > 1 {
            for i in 0..s.group_by.len() {
                out.push(with(&|s| {
                    s.group_by.remove(i);
                }));
            }
        }
    }
    if s.from.len() > 1 {
        for i in 0..s.from.len() {
            out.push(with(&|s| {
                s.from.remove(i);
            }));
        }
    }
    for (i, item) in s.from.iter().enumerate() {
        for variant in from(item) {
            let mut s = s.clone();
            s.from[i] = variant;
            out.push(s);
        }
    }
    if let Some(filter) = &s.filter {
        for variant in expr(filter) {
            out.push(with(&|s| s.filter = Some(variant.clone())));
        }
    }
    if let Some(having) = &s.having {
        for variant in expr(having) {
            out.push(with(&|s| s.having = Some(variant.clone())));
        }
    }
    for (i, item) in s.items.iter().enumerate() {
        for variant in expr(item) {
            let mut s = s.clone();
            s.items[i] = variant;
            out.push(s);
        }
    }
    out
}

fn from(f: &FromItem) -> Vec<FromItem> {
    match f {
        FromItem::Table { .. } => Vec::new(),
        FromItem::Derived { query: q, alias } => query(q)
            .into_iter()
            .map(|q| FromItem::Derived {
                query: Box::new(q),
                alias: alias.clone(),
            })
            .collect(),
        FromItem::Join {
            kind,
            left,
            right,
            on,
        } => {
            let mut out = vec![(**left).clone(), (**right).clone()];
            let join = |kind: JoinKind, left: &FromItem, right: &FromItem, on: Option<Expr>| {
                FromItem::Join {
                    kind,
                    left: Box::new(left.clone()),
                    right: Box::new(right.clone()),
                    on,
                }
            };
            if *kind != JoinKind::Inner && *kind != JoinKind::Cross {
                out.push(join(JoinKind::Inner, left, right, on.clone()));
            }
            if let Some(on) = on {
                out.push(join(JoinKind::Cross, left, right, None));
                for variant in expr(on) {
                    out.push(join(*kind, left, right, Some(variant)));
                }
            }
            for variant in from(left) {
                out.push(join(*kind, &variant, right, on.clone()));
            }
            for variant in from(right) {
                out.push(join(*kind, left, &variant, on.clone()));
            }
            out
        }
    }
}

/// Smaller setups: a table no statement reads dropped with its rows, an UPDATE/DELETE dropped,
/// half of an INSERT's rows, then single rows.
pub fn setup(s: &Setup, sql: &[String]) -> Vec<Setup> {
    let mut out = Vec::new();
    for table in TABLE_NAMES {
        let reads = format!("{table} AS ");
        let read_by_queries = sql.iter().any(|q| q.contains(&reads));
        let read_by_writes = s.statements.iter().any(|st| match st {
            SetupStatement::Write { table: t, sql } => t != table && sql.contains(&reads),
            _ => false,
        });
        let exists = s.tables.iter().any(|t| t.name == table);
        if exists && !read_by_queries && !read_by_writes {
            let mut smaller = s.clone();
            smaller.tables.retain(|t| t.name != table);
            smaller.statements.retain(|st| match st {
                SetupStatement::Create(t) => t.name != table,
                SetupStatement::Insert { table: t, .. }
                | SetupStatement::Write { table: t, .. } => t != table,
            });
            out.push(smaller);
        }
    }
    for (i, statement) in s.statements.iter().enumerate() {
        match statement {
            SetupStatement::Write { .. } => {
                let mut smaller = s.clone();
                smaller.statements.remove(i);
                out.push(smaller);
            }
            SetupStatement::Insert { table, rows } => {
                let mut cuts: Vec<(usize, usize)> = Vec::new();
                let mut size = rows.len().div_ceil(2);
                while size >= 1 {
                    let mut start = 0;
                    while start < rows.len() {
                        cuts.push((start, (start + size).min(rows.len())));
                        start += size;
                    }
                    if size == 1 {
                        break;
                    }
                    size = size.div_ceil(2).max(1).min(size - 1);
                }
                for (from, to) in cuts {
                    let mut smaller = s.clone();
                    let mut kept = rows.clone();
                    kept.drain(from..to);
                    if kept.is_empty() {
                        smaller.statements.remove(i);
                    } else {
                        smaller.statements[i] = SetupStatement::Insert {
                            table: table.clone(),
                            rows: kept,
                        };
                    }
                    out.push(smaller);
                }
            }
            SetupStatement::Create(_) => {}
        }
    }
    out
}
