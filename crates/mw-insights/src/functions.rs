//! The scalar functions of the query language ([`Func`]): lookup by name with arity,
//! and evaluation over already-evaluated arguments.
//!
//! Functions never fail at run time: a missing or ill-typed argument gives a missing
//! result (or `false` for predicates), as Logs Insights shows an empty cell.

use std::borrow::Cow;
use std::net::IpAddr;

use crate::time::Period;
use crate::value::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Abs,
    Ceil,
    Floor,
    Round,
    Sqrt,
    Log,
    Greatest,
    Least,
    Concat,
    Strlen,
    ToUpper,
    ToLower,
    Trim,
    Ltrim,
    Rtrim,
    Substr,
    Replace,
    StrContains,
    IsEmpty,
    IsBlank,
    IsPresent,
    Coalesce,
    DateFloor,
    DateCeil,
    FromMillis,
    ToMillis,
    IsValidIp,
    IsValidIpV4,
    IsValidIpV6,
    IsIpInSubnet,
    IsIpv4InSubnet,
    IsIpv6InSubnet,
}

/// Marks `usize::MAX` as "any number of arguments".
const MANY: usize = usize::MAX;

impl Func {
    /// The function with this lowercase name, with its (min, max) argument count.
    /// `bin` is not here: the parser turns `bin(p)` into `datefloor(@timestamp, p)`.
    pub(crate) fn lookup(lower: &str) -> Option<(Func, usize, usize)> {
        use Func::*;
        Some(match lower {
            "abs" => (Abs, 1, 1),
            "ceil" => (Ceil, 1, 1),
            "floor" => (Floor, 1, 1),
            "round" => (Round, 1, 2),
            "sqrt" => (Sqrt, 1, 1),
            "log" => (Log, 1, 1),
            "greatest" => (Greatest, 1, MANY),
            "least" => (Least, 1, MANY),
            "concat" => (Concat, 1, MANY),
            "strlen" => (Strlen, 1, 1),
            "toupper" => (ToUpper, 1, 1),
            "tolower" => (ToLower, 1, 1),
            "trim" => (Trim, 1, 2),
            "ltrim" => (Ltrim, 1, 2),
            "rtrim" => (Rtrim, 1, 2),
            "substr" => (Substr, 2, 3),
            "replace" => (Replace, 3, 3),
            "strcontains" => (StrContains, 2, 2),
            "isempty" => (IsEmpty, 1, 1),
            "isblank" => (IsBlank, 1, 1),
            "ispresent" => (IsPresent, 1, 1),
            "coalesce" => (Coalesce, 1, MANY),
            "datefloor" => (DateFloor, 2, 2),
            "dateceil" => (DateCeil, 2, 2),
            "frommillis" => (FromMillis, 1, 1),
            "tomillis" => (ToMillis, 1, 1),
            "isvalidip" => (IsValidIp, 1, 1),
            "isvalidipv4" => (IsValidIpV4, 1, 1),
            "isvalidipv6" => (IsValidIpV6, 1, 1),
            "isipinsubnet" => (IsIpInSubnet, 2, 2),
            "isipv4insubnet" => (IsIpv4InSubnet, 2, 2),
            "isipv6insubnet" => (IsIpv6InSubnet, 2, 2),
            _ => return None,
        })
    }

    /// The index of the argument that must be a time period, if any.
    pub(crate) fn period_arg(self) -> Option<usize> {
        matches!(self, Func::DateFloor | Func::DateCeil).then_some(1)
    }

    /// Applies the function. `period` is the period argument of the date functions.
    pub(crate) fn call<'a>(self, mut args: Vec<Value<'a>>, period: Option<Period>) -> Value<'a> {
        use Func::*;
        let num = |args: &[Value], i: usize| args.get(i).and_then(Value::as_num);
        let x = num(&args, 0);
        match self {
            Abs => x.map_or(Value::Null, |x| Value::num(x.abs())),
            Ceil => x.map_or(Value::Null, |x| Value::num(x.ceil())),
            Floor => x.map_or(Value::Null, |x| Value::num(x.floor())),
            Round => match (x, args.get(1)) {
                (Some(x), None) => Value::num(x.round()),
                (Some(x), Some(d)) => match d.as_num() {
                    Some(d) => {
                        let scale = 10f64.powi(d.clamp(0.0, 15.0) as i32);
                        Value::num((x * scale).round() / scale)
                    }
                    None => Value::Null,
                },
                (None, _) => Value::Null,
            },
            Sqrt => x
                .filter(|x| *x >= 0.0)
                .map_or(Value::Null, |x| Value::num(x.sqrt())),
            Log => x
                .filter(|x| *x > 0.0)
                .map_or(Value::Null, |x| Value::num(x.ln())),
            Greatest | Least => {
                let nums = args.iter().filter_map(Value::as_num);
                let best = if self == Greatest {
                    nums.fold(None, |acc: Option<f64>, v| {
                        Some(acc.map_or(v, |a| a.max(v)))
                    })
                } else {
                    nums.fold(None, |acc: Option<f64>, v| {
                        Some(acc.map_or(v, |a| a.min(v)))
                    })
                };
                best.map_or(Value::Null, Value::num)
            }
            Concat => {
                let mut out = String::new();
                for a in &args {
                    a.write_to(&mut out);
                }
                Value::Str(Cow::Owned(out))
            }
            Strlen => text(&args, 0).map_or(Value::Null, |s| Value::Num(s.chars().count() as f64)),
            ToUpper => map_text(args, |s| s.to_uppercase()),
            ToLower => map_text(args, |s| s.to_lowercase()),
            Trim | Ltrim | Rtrim => {
                let chars: Option<Vec<char>> = text(&args, 1).map(|c| c.chars().collect());
                let Some(s) = text(&args, 0) else {
                    return Value::Null;
                };
                let strip = |c: char| match &chars {
                    Some(set) => set.contains(&c),
                    None => c.is_whitespace(),
                };
                let out = match self {
                    Trim => s.trim_matches(strip),
                    Ltrim => s.trim_start_matches(strip),
                    _ => s.trim_end_matches(strip),
                };
                Value::Str(Cow::Owned(out.to_owned()))
            }
            Substr => {
                let (Some(s), Some(start)) = (text(&args, 0), num(&args, 1)) else {
                    return Value::Null;
                };
                let start = start.max(0.0) as usize;
                let out: String = match args.get(2) {
                    Some(len) => match len.as_num() {
                        Some(len) => s.chars().skip(start).take(len.max(0.0) as usize).collect(),
                        None => return Value::Null,
                    },
                    None => s.chars().skip(start).collect(),
                };
                Value::Str(Cow::Owned(out))
            }
            Replace => {
                let (Some(s), Some(from), Some(to)) =
                    (text(&args, 0), text(&args, 1), text(&args, 2))
                else {
                    return Value::Null;
                };
                if from.is_empty() {
                    return Value::Str(Cow::Owned(s.into_owned()));
                }
                Value::Str(Cow::Owned(s.replace(from.as_ref(), &to)))
            }
            StrContains => match (text(&args, 0), text(&args, 1)) {
                (Some(s), Some(sub)) => Value::Bool(s.contains(sub.as_ref())),
                _ => Value::Bool(false),
            },
            IsEmpty => Value::Bool(text(&args, 0).is_none_or(|s| s.is_empty())),
            IsBlank => Value::Bool(text(&args, 0).is_none_or(|s| s.trim().is_empty())),
            IsPresent => Value::Bool(args.first().is_some_and(|v| !v.is_null())),
            Coalesce => {
                let first = args.iter().position(|v| !v.is_null());
                match first {
                    Some(i) => args.swap_remove(i),
                    None => Value::Null,
                }
            }
            DateFloor | DateCeil => match (x, period) {
                (Some(t), Some(p)) => {
                    let t = t as i64;
                    Value::Time(if self == DateFloor {
                        p.floor(t)
                    } else {
                        p.ceil(t)
                    })
                }
                _ => Value::Null,
            },
            FromMillis => x.map_or(Value::Null, |t| Value::Time(t as i64)),
            ToMillis => x.map_or(Value::Null, |t| Value::Num(t.trunc())),
            IsValidIp | IsValidIpV4 | IsValidIpV6 => {
                let ip = text(&args, 0).and_then(|s| s.parse::<IpAddr>().ok());
                Value::Bool(match (self, ip) {
                    (IsValidIpV4, Some(ip)) => ip.is_ipv4(),
                    (IsValidIpV6, Some(ip)) => ip.is_ipv6(),
                    (_, ip) => ip.is_some(),
                })
            }
            IsIpInSubnet | IsIpv4InSubnet | IsIpv6InSubnet => {
                let ip = text(&args, 0).and_then(|s| s.parse::<IpAddr>().ok());
                let net = text(&args, 1).and_then(|s| parse_cidr(&s));
                Value::Bool(match (ip, net) {
                    (Some(ip), Some(net)) => {
                        let family_ok = match self {
                            IsIpv4InSubnet => ip.is_ipv4(),
                            IsIpv6InSubnet => ip.is_ipv6(),
                            _ => true,
                        };
                        family_ok && in_subnet(ip, net)
                    }
                    _ => false,
                })
            }
        }
    }
}

fn text<'v>(args: &'v [Value], i: usize) -> Option<Cow<'v, str>> {
    args.get(i).and_then(Value::text)
}

fn map_text<'a>(args: Vec<Value<'a>>, f: impl Fn(&str) -> String) -> Value<'a> {
    match text(&args, 0) {
        Some(s) => Value::Str(Cow::Owned(f(&s))),
        None => Value::Null,
    }
}

fn parse_cidr(s: &str) -> Option<(IpAddr, u32)> {
    let (addr, bits) = s.split_once('/')?;
    let addr: IpAddr = addr.parse().ok()?;
    let bits: u32 = bits.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some((addr, bits))
}

fn in_subnet(ip: IpAddr, (net, bits): (IpAddr, u32)) -> bool {
    let (a, b, width) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u128::from(u32::from(a)), u128::from(u32::from(b)), 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
        _ => return false,
    };
    if bits == 0 {
        return true;
    }
    let shift = width - bits;
    (a >> shift) == (b >> shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Value<'_> {
        Value::Str(Cow::Borrowed(x))
    }

    fn call<'a>(name: &str, args: Vec<Value<'a>>) -> Value<'a> {
        let (f, _, _) = Func::lookup(name).expect("known");
        f.call(args, None)
    }

    #[test]
    fn numeric_functions() {
        assert_eq!(call("abs", vec![Value::Num(-2.5)]), Value::Num(2.5));
        assert_eq!(call("ceil", vec![s("1.2")]), Value::Num(2.0));
        assert_eq!(call("floor", vec![Value::Num(-1.2)]), Value::Num(-2.0));
        assert_eq!(call("round", vec![Value::Num(2.5)]), Value::Num(3.0));
        assert_eq!(
            call("round", vec![Value::Num(1.2345), Value::Num(2.0)]),
            Value::Num(1.23)
        );
        assert_eq!(
            call("greatest", vec![Value::Num(1.0), Value::Null, s("7")]),
            Value::Num(7.0)
        );
        assert_eq!(
            call("least", vec![Value::Num(1.0), s("-7")]),
            Value::Num(-7.0)
        );
        assert_eq!(call("sqrt", vec![Value::Num(-1.0)]), Value::Null);
        assert_eq!(call("abs", vec![s("x")]), Value::Null);
    }

    #[test]
    fn string_functions() {
        assert_eq!(
            call("concat", vec![s("a"), Value::Num(1.0), Value::Null, s("b")]),
            s("a1b")
        );
        assert_eq!(call("strlen", vec![s("héllo")]), Value::Num(5.0));
        assert_eq!(call("toupper", vec![s("aB")]), s("AB"));
        assert_eq!(call("tolower", vec![s("aB")]), s("ab"));
        assert_eq!(call("trim", vec![s("  a b ")]), s("a b"));
        assert_eq!(call("ltrim", vec![s("xxaxx"), s("x")]), s("axx"));
        assert_eq!(call("rtrim", vec![s("xxaxx"), s("x")]), s("xxa"));
        // The AWS docs' example: substr("xyZfooxyZ", 3, 3) is "foo".
        assert_eq!(
            call(
                "substr",
                vec![s("xyZfooxyZ"), Value::Num(3.0), Value::Num(3.0)]
            ),
            s("foo")
        );
        assert_eq!(call("substr", vec![s("abc"), Value::Num(1.0)]), s("bc"));
        assert_eq!(call("substr", vec![s("abc"), Value::Num(10.0)]), s(""));
        assert_eq!(
            call("replace", vec![s("a-b-c"), s("-"), s("+")]),
            s("a+b+c")
        );
        assert_eq!(
            call("strcontains", vec![s("abc"), s("bc")]),
            Value::Bool(true)
        );
        assert_eq!(call("strlen", vec![Value::Null]), Value::Null);
    }

    #[test]
    fn presence_functions() {
        assert_eq!(call("isempty", vec![Value::Null]), Value::Bool(true));
        assert_eq!(call("isempty", vec![s("")]), Value::Bool(true));
        assert_eq!(call("isempty", vec![s(" ")]), Value::Bool(false));
        assert_eq!(call("isblank", vec![s(" \t")]), Value::Bool(true));
        assert_eq!(call("ispresent", vec![Value::Null]), Value::Bool(false));
        assert_eq!(call("ispresent", vec![s("")]), Value::Bool(true));
        assert_eq!(call("coalesce", vec![Value::Null, s("b"), s("c")]), s("b"));
        assert_eq!(call("coalesce", vec![Value::Null]), Value::Null);
    }

    #[test]
    fn date_and_ip_functions() {
        let p = Period::new(1.0, "h");
        let (f, _, _) = Func::lookup("datefloor").expect("known");
        assert_eq!(
            f.call(vec![Value::Time(7_300_000), Value::Null], p),
            Value::Time(7_200_000)
        );
        let (f, _, _) = Func::lookup("dateceil").expect("known");
        assert_eq!(
            f.call(vec![Value::Time(7_300_000), Value::Null], p),
            Value::Time(10_800_000)
        );
        assert_eq!(call("frommillis", vec![Value::Num(5.0)]), Value::Time(5));
        assert_eq!(call("tomillis", vec![Value::Time(5)]), Value::Num(5.0));
        assert_eq!(call("isvalidip", vec![s("10.0.0.1")]), Value::Bool(true));
        assert_eq!(call("isvalidipv6", vec![s("10.0.0.1")]), Value::Bool(false));
        assert_eq!(call("isvalidipv6", vec![s("::1")]), Value::Bool(true));
        assert_eq!(
            call("isipinsubnet", vec![s("10.1.2.3"), s("10.1.0.0/16")]),
            Value::Bool(true)
        );
        assert_eq!(
            call("isipinsubnet", vec![s("10.2.2.3"), s("10.1.0.0/16")]),
            Value::Bool(false)
        );
        assert_eq!(
            call("isipv4insubnet", vec![s("1.2.3.4"), s("0.0.0.0/0")]),
            Value::Bool(true)
        );
        assert_eq!(
            call("isipv6insubnet", vec![s("1.2.3.4"), s("::/0")]),
            Value::Bool(false)
        );
    }
}
