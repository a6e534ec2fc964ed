//! Evaluates an [`Expr`] over one row of field values.
//!
//! Evaluation never fails: missing fields and type mismatches give `Null`, and every
//! comparison with `Null` is false (so `not` of it is true).

use std::cmp::Ordering;

use crate::ast::{ArithOp, CmpOp, Expr, Pattern};
use crate::value::{self, Value};

/// Evaluates `expr`; `row` is indexed by slot, `aggs` by [`Expr::Agg`] index.
pub(crate) fn eval<'a>(expr: &Expr, row: &[Value<'a>], aggs: &[Value<'a>]) -> Value<'a> {
    match expr {
        Expr::Field(slot) => row.get(*slot).cloned().unwrap_or(Value::Null),
        Expr::Agg(i) => aggs.get(*i).cloned().unwrap_or(Value::Null),
        Expr::Lit(v) => v.clone(),
        Expr::Period(_) => Value::Null,
        Expr::Neg(e) => match eval(e, row, aggs).as_num() {
            Some(x) => Value::num(-x),
            None => Value::Null,
        },
        Expr::Not(e) => Value::Bool(!eval(e, row, aggs).truthy()),
        Expr::And(a, b) => Value::Bool(eval(a, row, aggs).truthy() && eval(b, row, aggs).truthy()),
        Expr::Or(a, b) => Value::Bool(eval(a, row, aggs).truthy() || eval(b, row, aggs).truthy()),
        Expr::Arith(op, a, b) => {
            let (Some(x), Some(y)) = (eval(a, row, aggs).as_num(), eval(b, row, aggs).as_num())
            else {
                return Value::Null;
            };
            Value::num(match op {
                ArithOp::Add => x + y,
                ArithOp::Sub => x - y,
                ArithOp::Mul => x * y,
                ArithOp::Div if y == 0.0 => return Value::Null,
                ArithOp::Div => x / y,
                ArithOp::Rem if y == 0.0 => return Value::Null,
                ArithOp::Rem => x % y,
                ArithOp::Pow => x.powf(y),
            })
        }
        Expr::Cmp(op, a, b) => {
            let (a, b) = (eval(a, row, aggs), eval(b, row, aggs));
            Value::Bool(match op {
                CmpOp::Eq => value::equals(&a, &b),
                CmpOp::Ne => !a.is_null() && !b.is_null() && !value::equals(&a, &b),
                CmpOp::Lt => value::compare(&a, &b) == Some(Ordering::Less),
                CmpOp::Le => matches!(
                    value::compare(&a, &b),
                    Some(Ordering::Less | Ordering::Equal)
                ),
                CmpOp::Gt => value::compare(&a, &b) == Some(Ordering::Greater),
                CmpOp::Ge => matches!(
                    value::compare(&a, &b),
                    Some(Ordering::Greater | Ordering::Equal)
                ),
            })
        }
        Expr::Like {
            expr,
            pattern,
            negated,
        } => {
            let v = eval(expr, row, aggs);
            let Some(text) = v.text() else {
                return Value::Bool(false);
            };
            Value::Bool(matches_pattern(pattern, &text) != *negated)
        }
        Expr::In {
            expr,
            list,
            negated,
        } => {
            let v = eval(expr, row, aggs);
            if v.is_null() {
                return Value::Bool(false);
            }
            let found = list.iter().any(|e| value::equals(&v, &eval(e, row, aggs)));
            Value::Bool(found != *negated)
        }
        Expr::Call(func, args) => {
            let period = func.period_arg().and_then(|i| match args.get(i) {
                Some(Expr::Period(p)) => Some(*p),
                _ => None,
            });
            let values = args.iter().map(|a| eval(a, row, aggs)).collect();
            func.call(values, period)
        }
    }
}

pub(crate) fn matches_pattern(pattern: &Pattern, text: &str) -> bool {
    match pattern {
        Pattern::Substr(s) => text.contains(s.as_str()),
        Pattern::Regex(re) => re.is_match(text),
    }
}
