//! Integer literals typed as PostgreSQL types them: a literal that fits in 32 bits is an
//! `integer` (`SELECT 1` describes an `int4` column, `pg_typeof(1)` is `integer`, `id + 1` of
//! an `integer` column stays `integer`); a larger one stays `bigint`. DataFusion reads every
//! integer literal as a 64-bit one, so a query's literals are cast to `INT`. A number that is
//! a position (`ORDER BY 1`, `GROUP BY 2`), a row count (`LIMIT 10`, `OFFSET`, `FETCH`) or a
//! window frame offset (`ROWS 1 PRECEDING`) is left as written: DataFusion reads those as
//! literals. A number with a point or an exponent is a `numeric` of its digits (`1.50` is
//! `numeric(3,2)`), where DataFusion reads a double; in INSERT, UPDATE and DELETE too, so
//! `2.5` entering an `integer` column rounds as a numeric (to 3). Integer literals of those
//! statements are left alone: they take their column's type anyway.

use datafusion::sql::sqlparser::ast::{
    CastKind, DataType as SqlType, ExactNumberInfo, Expr, Function, GroupByExpr, LimitClause,
    OrderByKind, Query, Select, Statement as Ast, Value, VisitMut, VisitorMut, WindowFrameBound,
    WindowType,
};
use std::ops::ControlFlow;

/// Types the integer literals of `statement` if it is a query.
pub(crate) fn type_integer_literals(statement: &mut Ast) {
    match statement {
        Ast::Query(query) => {
            let _ = query.visit(&mut IntegerLiterals { integers: true });
        }
        Ast::Insert(_) | Ast::Update(_) | Ast::Delete(_) => {
            let _ = statement.visit(&mut IntegerLiterals { integers: false });
        }
        _ => {}
    }
}

/// The marker a literal that must stay a number wears while the rewrite runs.
const KEPT: &str = "__driftdb_kept_number:";

/// Hides a number from the rewrite (undone by [`restore`]).
fn keep(expr: &mut Expr) {
    if let Expr::Value(value) = expr
        && let Value::Number(digits, _) = &value.value
    {
        value.value = Value::Placeholder(format!("{KEPT}{digits}"));
    }
}

fn restore(expr: &mut Expr) {
    if let Expr::Value(value) = expr
        && let Value::Placeholder(text) = &value.value
        && let Some(digits) = text.strip_prefix(KEPT)
    {
        value.value = Value::Number(digits.to_string(), false);
    }
}

/// The window frame offsets of a call, for [`keep`] and [`restore`].
fn frame_offsets(function: &mut Function) -> Vec<&mut Expr> {
    let Some(WindowType::WindowSpec(spec)) = &mut function.over else {
        return Vec::new();
    };
    let Some(frame) = &mut spec.window_frame else {
        return Vec::new();
    };
    let mut offsets = Vec::new();
    for bound in std::iter::once(&mut frame.start_bound).chain(frame.end_bound.as_mut()) {
        if let WindowFrameBound::Preceding(Some(offset))
        | WindowFrameBound::Following(Some(offset)) = bound
        {
            offsets.push(offset.as_mut());
        }
    }
    offsets
}

/// The numbers of a query that must stay numbers: its row counts and sort positions.
fn kept_numbers(query: &mut Query) -> Vec<&mut Expr> {
    let mut counts = Vec::new();
    match &mut query.limit_clause {
        Some(LimitClause::LimitOffset {
            limit,
            offset,
            limit_by,
        }) => {
            counts.extend(limit.as_mut());
            counts.extend(offset.as_mut().map(|offset| &mut offset.value));
            counts.extend(limit_by.iter_mut());
        }
        Some(LimitClause::OffsetCommaLimit { offset, limit }) => {
            counts.push(offset);
            counts.push(limit);
        }
        None => {}
    }
    if let Some(fetch) = &mut query.fetch {
        counts.extend(fetch.quantity.as_mut());
    }
    if let Some(order_by) = &mut query.order_by
        && let OrderByKind::Expressions(keys) = &mut order_by.kind
    {
        counts.extend(keys.iter_mut().map(|key| &mut key.expr));
    }
    counts
}

fn cast(expr: Expr, data_type: SqlType) -> Expr {
    Expr::Cast {
        kind: CastKind::Cast,
        expr: Box::new(expr),
        data_type,
        array: false,
        format: None,
    }
}

/// A number with a point or an exponent (or past 64 bits) as the `numeric` PostgreSQL reads.
///
/// With a point, the digits are left for DataFusion, which reads them as a decimal of that
/// precision and scale (`parse_float_as_decimal`); with none (`1e3`), as a cast, since
/// DataFusion would read an integer. A number no decimal of 38 digits holds stays a double.
fn numeric_literal(text: &str) -> Expr {
    let Some(numeric) = NumericLiteral::parse(text) else {
        let text = Expr::value(Value::SingleQuotedString(text.to_string()));
        return cast(text, SqlType::DoublePrecision);
    };
    if numeric.scale > 0 {
        return Expr::value(Value::Number(numeric.plain, false));
    }
    let info = ExactNumberInfo::PrecisionAndScale(u64::from(numeric.precision), 0);
    let text = Expr::value(Value::SingleQuotedString(numeric.plain));
    cast(text, SqlType::Numeric(info))
}

/// A number with a point or an exponent, as the `numeric` PostgreSQL reads it as.
#[derive(Debug, PartialEq)]
struct NumericLiteral {
    /// The digits with the point where the scale puts it (`1.50e1` is `15.0`).
    plain: String,
    precision: u8,
    scale: u8,
}

impl NumericLiteral {
    /// `None` for a number that is not a decimal of at most 38 digits (left a double).
    fn parse(text: &str) -> Option<NumericLiteral> {
        let text = text.replace('_', "");
        let (mantissa, exponent) = match text.split_once(['e', 'E']) {
            Some((mantissa, exponent)) => (mantissa, exponent.parse::<i32>().ok()?),
            None => (text.as_str(), 0),
        };
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if !(whole.bytes().chain(fraction.bytes())).all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut digits = format!("{whole}{fraction}");
        let mut scale = fraction.len() as i32 - exponent;
        if scale < 0 {
            digits.extend(std::iter::repeat_n('0', (-scale) as usize));
            scale = 0;
        }
        let scale = scale as usize;
        if digits.len() < scale + 1 {
            digits = format!("{digits:0>width$}", width = scale + 1);
        }
        let (whole, fraction) = digits.split_at(digits.len() - scale);
        let whole = match whole.trim_start_matches('0') {
            "" => "0",
            trimmed => trimmed,
        };
        let significant = match whole {
            "0" => fraction.trim_start_matches('0').len().max(1),
            _ => whole.len() + scale,
        };
        let precision = significant.max(scale).max(1);
        if precision > 38 {
            return None;
        }
        let plain = match scale {
            0 => whole.to_string(),
            _ => format!("{whole}.{fraction}"),
        };
        Some(NumericLiteral {
            plain,
            precision: precision as u8,
            scale: scale as u8,
        })
    }
}

struct IntegerLiterals {
    /// Whether integer literals are typed too (in queries), or only decimal ones.
    integers: bool,
}

impl VisitorMut for IntegerLiterals {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        kept_numbers(query).into_iter().for_each(keep);
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        kept_numbers(query).into_iter().for_each(restore);
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<()> {
        if let GroupByExpr::Expressions(keys, _) = &mut select.group_by {
            keys.iter_mut().for_each(keep);
        }
        ControlFlow::Continue(())
    }

    fn post_visit_select(&mut self, select: &mut Select) -> ControlFlow<()> {
        if let GroupByExpr::Expressions(keys, _) = &mut select.group_by {
            keys.iter_mut().for_each(restore);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Expr::Function(function) = expr {
            frame_offsets(function).into_iter().for_each(keep);
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        match expr {
            Expr::Function(function) => frame_offsets(function).into_iter().for_each(restore),
            Expr::Value(value) => {
                let Value::Number(digits, false) = &value.value else {
                    return ControlFlow::Continue(());
                };
                if digits.parse::<i32>().is_ok() {
                    if !self.integers {
                        return ControlFlow::Continue(());
                    }
                    *expr = cast(expr.clone(), SqlType::Int(None));
                } else if digits.contains(['.', 'e', 'E']) || digits.parse::<i64>().is_err() {
                    *expr = numeric_literal(digits);
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn typed(sql: &str) -> String {
        let mut statement = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0);
        type_integer_literals(&mut statement);
        statement.to_string()
    }

    #[test]
    fn literals_are_integers_where_they_are_values() {
        assert_eq!(
            typed("SELECT 1, 3000000000, 1.5, a + 2 FROM t WHERE b IN (3, 4)"),
            "SELECT CAST(1 AS INT), 3000000000, 1.5, a + CAST(2 AS INT) FROM t \
             WHERE b IN (CAST(3 AS INT), CAST(4 AS INT))"
        );
    }

    #[test]
    fn positions_counts_and_frames_stay_numbers() {
        let kept = "SELECT a, count(*) FROM t GROUP BY 1 ORDER BY 2 DESC LIMIT 10 OFFSET 5";
        assert_eq!(typed(kept), kept);
        assert_eq!(
            typed(
                "SELECT sum(a) OVER (ORDER BY b ROWS BETWEEN 1 PRECEDING AND 2 FOLLOWING) FROM t"
            ),
            "SELECT sum(a) OVER (ORDER BY b ROWS BETWEEN 1 PRECEDING AND 2 FOLLOWING) FROM t"
        );
        assert_eq!(
            typed("SELECT (SELECT x FROM u ORDER BY 1 LIMIT 1) FROM t"),
            "SELECT (SELECT x FROM u ORDER BY 1 LIMIT 1) FROM t"
        );
        let insert = "INSERT INTO t VALUES (1)";
        assert_eq!(typed(insert), insert);
    }

    fn parsed(text: &str) -> Option<(String, u8, u8)> {
        NumericLiteral::parse(text).map(|n| (n.plain, n.precision, n.scale))
    }

    #[test]
    fn decimal_literals_keep_their_digits() {
        assert_eq!(parsed("1.5"), Some(("1.5".into(), 2, 1)));
        assert_eq!(parsed("1.50"), Some(("1.50".into(), 3, 2)));
        assert_eq!(parsed(".5"), Some(("0.5".into(), 1, 1)));
        assert_eq!(parsed("0.0015"), Some(("0.0015".into(), 4, 4)));
        assert_eq!(parsed("1.5e-3"), Some(("0.0015".into(), 4, 4)));
        assert_eq!(parsed("1.50e1"), Some(("15.0".into(), 3, 1)));
        assert_eq!(parsed("1e3"), Some(("1000".into(), 4, 0)));
        assert_eq!(
            parsed("12345678901234567890"),
            Some(("12345678901234567890".into(), 20, 0))
        );
        assert_eq!(parsed("1e40"), None);
        assert_eq!(parsed("1.5e-40"), None);
    }
}
