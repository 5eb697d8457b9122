//! The generated SQL as a small syntax tree: printed as the exact text both servers run, and
//! rewritten by the reducer. Every compound expression prints inside parentheses, so operator
//! precedence never differs between the two parsers.

use std::fmt::{self, Display, Formatter};

/// A column's or an expression's SQL type (only the types both systems treat alike).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    Int,
    BigInt,
    Text,
    Bool,
    /// `numeric(precision, scale)`; also the approximate shape of a numeric expression.
    Numeric(u8, u8),
}

/// Types that compare, combine and unify with each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Int,
    Num,
    Text,
    Bool,
}

impl Ty {
    pub fn class(self) -> Class {
        match self {
            Ty::Int | Ty::BigInt => Class::Int,
            Ty::Numeric(..) => Class::Num,
            Ty::Text => Class::Text,
            Ty::Bool => Class::Bool,
        }
    }
}

impl Display for Ty {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Int => f.write_str("integer"),
            Ty::BigInt => f.write_str("bigint"),
            Ty::Text => f.write_str("text"),
            Ty::Bool => f.write_str("boolean"),
            Ty::Numeric(p, s) => write!(f, "numeric({p},{s})"),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// `qualifier.name`
    Column(String, String),
    /// A literal exactly as printed (`1`, `(-2)`, `'a'`, `TRUE`, `NULL`, `1.50`).
    Literal(String),
    Cast(Box<Expr>, Ty),
    /// `(op operand)`: `-`, `NOT`.
    Prefix(&'static str, Box<Expr>),
    /// `(operand op)`: `IS NULL`, `IS NOT TRUE`, …
    Postfix(Box<Expr>, &'static str),
    /// `(left op right)`: arithmetic, comparisons, `AND`, `OR`, `||`, `LIKE`, `IS DISTINCT FROM`.
    Binary(Box<Expr>, &'static str, Box<Expr>),
    Between {
        expr: Box<Expr>,
        negated: bool,
        low: Box<Expr>,
        high: Box<Expr>,
    },
    InList {
        expr: Box<Expr>,
        negated: bool,
        list: Vec<Expr>,
    },
    Case {
        operand: Option<Box<Expr>>,
        whens: Vec<(Expr, Expr)>,
        otherwise: Option<Box<Expr>>,
    },
    /// A scalar function call.
    Call(&'static str, Vec<Expr>),
    /// An aggregate; no arguments prints `(*)`.
    Aggregate {
        name: &'static str,
        distinct: bool,
        args: Vec<Expr>,
        order_by: Vec<Expr>,
        filter: Option<Box<Expr>>,
    },
    Window {
        name: &'static str,
        args: Vec<Expr>,
        partition_by: Vec<Expr>,
        /// Sort keys, each with DESC.
        order_by: Vec<(Expr, bool)>,
    },
    Exists {
        negated: bool,
        query: Box<Query>,
    },
    InQuery {
        expr: Box<Expr>,
        negated: bool,
        query: Box<Query>,
    },
    /// `expr op ANY|ALL (query)`
    Quantified {
        expr: Box<Expr>,
        op: &'static str,
        all: bool,
        query: Box<Query>,
    },
    Scalar(Box<Query>),
}

impl Expr {
    pub fn literal(text: impl Into<String>) -> Expr {
        Expr::Literal(text.into())
    }

    pub fn binary(left: Expr, op: &'static str, right: Expr) -> Expr {
        Expr::Binary(Box::new(left), op, Box::new(right))
    }

    pub fn call(name: &'static str, args: Vec<Expr>) -> Expr {
        Expr::Call(name, args)
    }
}

/// `ORDER BY position [DESC] [NULLS FIRST|LAST]`.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderItem {
    /// 1-based output column.
    pub position: usize,
    pub desc: bool,
    pub nulls_first: Option<bool>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub with: Vec<(String, Query)>,
    pub body: Body,
    pub order_by: Vec<OrderItem>,
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SetOp {
    Union,
    Intersect,
    Except,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    Select(Box<Select>),
    SetOp {
        op: SetOp,
        all: bool,
        left: Box<Body>,
        right: Box<Body>,
    },
}

/// A SELECT; its items are named `r0`, `r1`, … in order.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Select {
    pub distinct: bool,
    pub items: Vec<Expr>,
    pub from: Vec<FromItem>,
    pub filter: Option<Expr>,
    pub group_by: Vec<Expr>,
    pub having: Option<Expr>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum JoinKind {
    Inner,
    Left,
    Right,
    Full,
    Cross,
}

#[derive(Clone, Debug, PartialEq)]
pub enum FromItem {
    Table {
        name: String,
        alias: String,
    },
    Derived {
        query: Box<Query>,
        alias: String,
    },
    Join {
        kind: JoinKind,
        left: Box<FromItem>,
        right: Box<FromItem>,
        on: Option<Expr>,
    },
}

impl Query {
    pub fn select(select: Select) -> Query {
        Query {
            with: Vec::new(),
            body: Body::Select(Box::new(select)),
            order_by: Vec::new(),
            limit: None,
            offset: None,
        }
    }

    /// How many columns the query returns.
    pub fn width(&self) -> usize {
        self.body.width()
    }

    /// Whether ORDER BY sorts on every output column, so rows that tie are identical and the
    /// order of the result (and any LIMIT) is fully specified.
    pub fn totally_ordered(&self) -> bool {
        let width = self.width();
        width > 0 && (1..=width).all(|p| self.order_by.iter().any(|o| o.position == p))
    }
}

impl Body {
    pub fn width(&self) -> usize {
        match self {
            Body::Select(select) => select.items.len(),
            Body::SetOp { left, .. } => left.width(),
        }
    }
}

fn comma_separated<T: Display>(f: &mut Formatter<'_>, items: &[T]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Column(qualifier, name) => write!(f, "{qualifier}.{name}"),
            Expr::Literal(text) => f.write_str(text),
            Expr::Cast(expr, ty) => write!(f, "CAST({expr} AS {ty})"),
            Expr::Prefix(op, expr) => write!(f, "({op} {expr})"),
            Expr::Postfix(expr, op) => write!(f, "({expr} {op})"),
            Expr::Binary(left, op, right) => write!(f, "({left} {op} {right})"),
            Expr::Between {
                expr,
                negated,
                low,
                high,
            } => {
                let not = if *negated { "NOT " } else { "" };
                write!(f, "({expr} {not}BETWEEN {low} AND {high})")
            }
            Expr::InList {
                expr,
                negated,
                list,
            } => {
                let not = if *negated { "NOT " } else { "" };
                write!(f, "({expr} {not}IN (")?;
                comma_separated(f, list)?;
                f.write_str("))")
            }
            Expr::Case {
                operand,
                whens,
                otherwise,
            } => {
                f.write_str("(CASE")?;
                if let Some(operand) = operand {
                    write!(f, " {operand}")?;
                }
                for (when, then) in whens {
                    write!(f, " WHEN {when} THEN {then}")?;
                }
                if let Some(otherwise) = otherwise {
                    write!(f, " ELSE {otherwise}")?;
                }
                f.write_str(" END)")
            }
            Expr::Call(name, args) => {
                write!(f, "{name}(")?;
                comma_separated(f, args)?;
                f.write_str(")")
            }
            Expr::Aggregate {
                name,
                distinct,
                args,
                order_by,
                filter,
            } => {
                write!(f, "{name}(")?;
                if args.is_empty() {
                    f.write_str("*")?;
                } else {
                    if *distinct {
                        f.write_str("DISTINCT ")?;
                    }
                    comma_separated(f, args)?;
                }
                if !order_by.is_empty() {
                    f.write_str(" ORDER BY ")?;
                    comma_separated(f, order_by)?;
                }
                f.write_str(")")?;
                if let Some(filter) = filter {
                    write!(f, " FILTER (WHERE {filter})")?;
                }
                Ok(())
            }
            Expr::Window {
                name,
                args,
                partition_by,
                order_by,
            } => {
                write!(f, "{name}(")?;
                if args.is_empty() && *name == "count" {
                    f.write_str("*")?;
                }
                comma_separated(f, args)?;
                f.write_str(") OVER (")?;
                if !partition_by.is_empty() {
                    f.write_str("PARTITION BY ")?;
                    comma_separated(f, partition_by)?;
                }
                if !order_by.is_empty() {
                    if !partition_by.is_empty() {
                        f.write_str(" ")?;
                    }
                    f.write_str("ORDER BY ")?;
                    for (i, (key, desc)) in order_by.iter().enumerate() {
                        if i > 0 {
                            f.write_str(", ")?;
                        }
                        write!(f, "{key}{}", if *desc { " DESC" } else { "" })?;
                    }
                }
                f.write_str(")")
            }
            Expr::Exists { negated, query } => {
                let not = if *negated { "NOT " } else { "" };
                write!(f, "({not}EXISTS ({query}))")
            }
            Expr::InQuery {
                expr,
                negated,
                query,
            } => {
                let not = if *negated { "NOT " } else { "" };
                write!(f, "({expr} {not}IN ({query}))")
            }
            Expr::Quantified {
                expr,
                op,
                all,
                query,
            } => {
                let quantifier = if *all { "ALL" } else { "ANY" };
                write!(f, "({expr} {op} {quantifier} ({query}))")
            }
            Expr::Scalar(query) => write!(f, "({query})"),
        }
    }
}

impl Display for Query {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if !self.with.is_empty() {
            f.write_str("WITH ")?;
            for (i, (name, query)) in self.with.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{name} AS ({query})")?;
            }
            f.write_str(" ")?;
        }
        write!(f, "{}", self.body)?;
        if !self.order_by.is_empty() {
            f.write_str(" ORDER BY ")?;
            for (i, item) in self.order_by.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{}", item.position)?;
                if item.desc {
                    f.write_str(" DESC")?;
                }
                match item.nulls_first {
                    Some(true) => f.write_str(" NULLS FIRST")?,
                    Some(false) => f.write_str(" NULLS LAST")?,
                    None => {}
                }
            }
        }
        if let Some(limit) = self.limit {
            write!(f, " LIMIT {limit}")?;
        }
        if let Some(offset) = self.offset {
            write!(f, " OFFSET {offset}")?;
        }
        Ok(())
    }
}

impl Display for Body {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Body::Select(select) => write!(f, "{select}"),
            Body::SetOp {
                op,
                all,
                left,
                right,
            } => {
                let op = match op {
                    SetOp::Union => "UNION",
                    SetOp::Intersect => "INTERSECT",
                    SetOp::Except => "EXCEPT",
                };
                let all = if *all { " ALL" } else { "" };
                for (i, side) in [left, right].into_iter().enumerate() {
                    if i == 1 {
                        write!(f, " {op}{all} ")?;
                    }
                    match side.as_ref() {
                        Body::Select(_) => write!(f, "{side}")?,
                        Body::SetOp { .. } => write!(f, "({side})")?,
                    }
                }
                Ok(())
            }
        }
    }
}

impl Display for Select {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("SELECT ")?;
        if self.distinct {
            f.write_str("DISTINCT ")?;
        }
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{item} AS r{i}")?;
        }
        if !self.from.is_empty() {
            f.write_str(" FROM ")?;
            comma_separated(f, &self.from)?;
        }
        if let Some(filter) = &self.filter {
            write!(f, " WHERE {filter}")?;
        }
        if !self.group_by.is_empty() {
            f.write_str(" GROUP BY ")?;
            comma_separated(f, &self.group_by)?;
        }
        if let Some(having) = &self.having {
            write!(f, " HAVING {having}")?;
        }
        Ok(())
    }
}

impl Display for FromItem {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            FromItem::Table { name, alias } => write!(f, "{name} AS {alias}"),
            FromItem::Derived { query, alias } => write!(f, "({query}) AS {alias}"),
            FromItem::Join {
                kind,
                left,
                right,
                on,
            } => {
                let kind = match kind {
                    JoinKind::Inner => "JOIN",
                    JoinKind::Left => "LEFT JOIN",
                    JoinKind::Right => "RIGHT JOIN",
                    JoinKind::Full => "FULL JOIN",
                    JoinKind::Cross => "CROSS JOIN",
                };
                write!(f, "{left} {kind} ")?;
                match right.as_ref() {
                    FromItem::Join { .. } => write!(f, "({right})")?,
                    _ => write!(f, "{right}")?,
                }
                if let Some(on) = on {
                    write!(f, " ON {on}")?;
                }
                Ok(())
            }
        }
    }
}
