//! Schedule expressions and analysis-window offsets.
//!
//! [`ScheduleExpression::parse`] reads the two forms AWS uses:
//!
//! - `cron(Minutes Hours Day-of-month Month Day-of-week Year)`, AWS's six
//!   fields, all in UTC. Each field is `*`, a value, a range `a-b`, a step
//!   `*/n`, `a/n` or `a-b/n`, or a comma-separated list of those. Months take
//!   `1-12` or `JAN`-`DEC`; days of the week `1-7` or `SUN`-`SAT` (1 = Sunday,
//!   as AWS counts); years `1970-2199`. Exactly one of Day-of-month and
//!   Day-of-week is `?` (any). `L`, `W` and `#` are not supported. SageMaker's
//!   forms are `cron(0 * ? * * *)` (hourly), `cron(0 H ? * * *)` (daily at H)
//!   and `cron(0 H/N ? * * *)` (every N hours from H); finer ones such as
//!   `cron(*/5 * ? * * *)` work the same way.
//! - `rate(N minute[s] | hour[s] | day[s])`: every N units, aligned to the
//!   Unix epoch (so `rate(5 minutes)` fires at :00, :05, :10, ... UTC).
//!
//! Errors name the character (1-based) where the expression went wrong.
//! [`Offset::parse`] reads the window offsets, ISO-8601 durations such as
//! `-PT1H`, `-P1DT2H30M` or `PT0H`.

use crate::capture::{civil_from_days, days_from_civil};
use crate::error::{Error, Result};

const MINUTE: i64 = 60;
const DAY: i64 = 86_400;
const FIRST_YEAR: i64 = 1970;
const LAST_YEAR: i64 = 2199;

/// A parsed schedule expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleExpression {
    text: String,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Cron(Box<Cron>),
    /// Every this many seconds, aligned to the epoch.
    Rate(i64),
}

/// The matching values of each cron field as bit sets.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cron {
    minutes: u64,
    hours: u32,
    /// Bits 1..=31; `None` for `?`.
    days_of_month: Option<u32>,
    /// Bits 1..=12.
    months: u16,
    /// Bits 1..=7 (1 = Sunday); `None` for `?`.
    days_of_week: Option<u8>,
    /// Bit i = year 1970 + i.
    years: [u64; 4],
}

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    question: bool,
}

const FIELDS: [Field; 6] = [
    Field {
        name: "minutes",
        min: 0,
        max: 59,
        names: &[],
        question: false,
    },
    Field {
        name: "hours",
        min: 0,
        max: 23,
        names: &[],
        question: false,
    },
    Field {
        name: "day-of-month",
        min: 1,
        max: 31,
        names: &[],
        question: true,
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: &[
            "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
        ],
        question: false,
    },
    Field {
        name: "day-of-week",
        min: 1,
        max: 7,
        names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
        question: true,
    },
    Field {
        name: "year",
        min: FIRST_YEAR as u32,
        max: LAST_YEAR as u32,
        names: &[],
        question: false,
    },
];

/// What one field matched: `None` for `?`.
type Matched = Option<Vec<bool>>;

fn err(text: &str, at: usize, message: impl std::fmt::Display) -> Error {
    Error::InvalidOption(format!(
        "schedule expression {text:?} is not valid at character {}: {message}",
        at + 1
    ))
}

impl ScheduleExpression {
    /// Parses `cron(...)` or `rate(...)`.
    pub fn parse(text: &str) -> Result<ScheduleExpression> {
        if text.len() > 256 {
            return Err(Error::InvalidOption(format!(
                "a schedule expression holds at most 256 characters, got {}",
                text.len()
            )));
        }
        let (body, at) = if let Some(b) = strip_call(text, "cron") {
            (b, 5)
        } else if let Some(b) = strip_call(text, "rate") {
            let secs = parse_rate(text, b, 5)?;
            return Ok(ScheduleExpression {
                text: text.to_string(),
                kind: Kind::Rate(secs),
            });
        } else {
            return Err(err(
                text,
                0,
                "expected cron(minutes hours day-of-month month day-of-week year) or rate(N minutes|hours|days)",
            ));
        };
        let cron = parse_cron(text, body, at)?;
        Ok(ScheduleExpression {
            text: text.to_string(),
            kind: Kind::Cron(Box::new(cron)),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first run strictly after `t` (Unix seconds), or `None` when the
    /// expression never fires again (a past year).
    pub fn next_after(&self, t: i64) -> Option<i64> {
        match &self.kind {
            Kind::Rate(secs) => Some((t.div_euclid(*secs) + 1) * secs),
            Kind::Cron(c) => c.next_after(t),
        }
    }

    /// The last run strictly before `t`, looking back at most about five years.
    pub fn prev_before(&self, t: i64) -> Option<i64> {
        if let Kind::Rate(secs) = &self.kind {
            return Some((t - 1).div_euclid(*secs) * secs);
        }
        for back in [3600, DAY, 32 * DAY, 367 * DAY, 5 * 366 * DAY] {
            let mut last = None;
            let mut at = t - back - 1;
            while let Some(next) = self.next_after(at) {
                if next >= t {
                    break;
                }
                last = Some(next);
                at = next;
            }
            if last.is_some() {
                return last;
            }
        }
        None
    }
}

/// `name(` ... `)` → the inside.
fn strip_call<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let rest = text.strip_prefix(name)?.strip_prefix('(')?;
    rest.strip_suffix(')')
}

fn parse_rate(text: &str, body: &str, at: usize) -> Result<i64> {
    let mut parts = body.split(' ');
    let n_text = parts.next().unwrap_or("");
    let n: i64 = n_text.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
        err(
            text,
            at,
            format!("{n_text:?} is not a whole number of 1 or more"),
        )
    })?;
    let unit_at = at + n_text.len() + 1;
    let unit = parts.next().ok_or_else(|| {
        err(
            text,
            unit_at.min(text.len()),
            "expected a unit: minutes, hours or days",
        )
    })?;
    if let Some(extra) = parts.next() {
        return Err(err(
            text,
            unit_at + unit.len() + 1,
            format!("unexpected {extra:?} after the unit"),
        ));
    }
    let secs = match unit {
        "minute" | "minutes" => MINUTE,
        "hour" | "hours" => 3600,
        "day" | "days" => DAY,
        other => {
            return Err(err(
                text,
                unit_at,
                format!("unknown unit {other:?}: use minutes, hours or days"),
            ))
        }
    };
    let total = n.checked_mul(secs).filter(|s| *s <= 366 * DAY);
    total.ok_or_else(|| err(text, at, "a rate is at most 366 days"))
}

fn parse_cron(text: &str, body: &str, at: usize) -> Result<Cron> {
    let mut fields: Vec<(usize, &str)> = Vec::new();
    let mut pos = at;
    for part in body.split(' ') {
        if part.is_empty() {
            return Err(err(text, pos, "fields are separated by exactly one space"));
        }
        fields.push((pos, part));
        pos += part.len() + 1;
    }
    if fields.len() != 6 {
        return Err(err(
            text,
            at,
            format!(
                "expected 6 fields (minutes hours day-of-month month day-of-week year), got {}",
                fields.len()
            ),
        ));
    }
    let mut matched: Vec<Matched> = Vec::with_capacity(6);
    for ((field_at, part), spec) in fields.iter().zip(FIELDS.iter()) {
        matched.push(parse_field(text, *field_at, part, spec)?);
    }
    let (dom_at, dow_at) = (fields[2].0, fields[4].0);
    match (&matched[2], &matched[4]) {
        (None, None) => {
            return Err(err(
                text,
                dow_at,
                "only one of day-of-month and day-of-week may be ?",
            ))
        }
        (Some(_), Some(_)) => {
            return Err(err(
                text,
                if fields[4].1 == "*" { dom_at } else { dow_at },
                "one of day-of-month and day-of-week must be ? (AWS does not combine them)",
            ))
        }
        _ => {}
    }
    let bits = |m: &Matched| -> u64 {
        m.as_ref().map_or(0, |v| {
            v.iter()
                .enumerate()
                .filter(|(_, on)| **on)
                .fold(0u64, |acc, (i, _)| acc | (1u64 << i))
        })
    };
    let mut years = [0u64; 4];
    if let Some(v) = &matched[5] {
        for (i, on) in v.iter().enumerate() {
            if *on && i >= FIRST_YEAR as usize {
                let y = i - FIRST_YEAR as usize;
                years[y / 64] |= 1 << (y % 64);
            }
        }
    }
    Ok(Cron {
        minutes: bits(&matched[0]),
        hours: bits(&matched[1]) as u32,
        days_of_month: matched[2].as_ref().map(|_| bits(&matched[2]) as u32),
        months: bits(&matched[3]) as u16,
        days_of_week: matched[4].as_ref().map(|_| bits(&matched[4]) as u8),
        years,
    })
}

/// One field → which values match (indexed by value), `None` for `?`.
fn parse_field(text: &str, at: usize, part: &str, f: &Field) -> Result<Matched> {
    if part == "?" {
        if f.question {
            return Ok(None);
        }
        return Err(err(
            text,
            at,
            format!(
                "? is only allowed in day-of-month and day-of-week, not in {}",
                f.name
            ),
        ));
    }
    let mut on = vec![false; f.max as usize + 1];
    let mut item_at = at;
    for item in part.split(',') {
        if item.is_empty() {
            return Err(err(
                text,
                item_at,
                format!("empty item in the {} field", f.name),
            ));
        }
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step_at = item_at + r.len() + 1;
                let step: u32 = s.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    err(
                        text,
                        step_at,
                        format!("step {s:?} is not a whole number of 1 or more"),
                    )
                })?;
                (r, Some(step))
            }
            None => (item, None),
        };
        let (lo, hi) = if range == "*" {
            (f.min, f.max)
        } else if let Some((a, b)) = range.split_once('-') {
            let lo = value(text, item_at, a, f)?;
            let hi = value(text, item_at + a.len() + 1, b, f)?;
            if lo > hi {
                return Err(err(
                    text,
                    item_at,
                    format!("the range {range} of the {} field runs backwards", f.name),
                ));
            }
            (lo, hi)
        } else {
            let v = value(text, item_at, range, f)?;
            // `a/n` runs from a to the end of the field.
            (v, if step.is_some() { f.max } else { v })
        };
        let step = step.unwrap_or(1) as usize;
        for v in (lo..=hi).step_by(step) {
            on[v as usize] = true;
        }
        item_at += item.len() + 1;
    }
    Ok(Some(on))
}

fn value(text: &str, at: usize, s: &str, f: &Field) -> Result<u32> {
    let upper = s.to_ascii_uppercase();
    if let Some(i) = f.names.iter().position(|n| *n == upper) {
        return Ok(f.min + i as u32);
    }
    let v: u32 = s.parse().map_err(|_| {
        if let Some(i) = upper.find(['L', 'W', '#']) {
            return err(text, at + i, "L, W and # are not supported");
        }
        let names = if f.names.is_empty() {
            String::new()
        } else {
            format!(" or {}-{}", f.names[0], f.names[f.names.len() - 1])
        };
        err(
            text,
            at,
            format!(
                "{s:?} is not a value of the {} field ({}-{}{names})",
                f.name, f.min, f.max
            ),
        )
    })?;
    if v < f.min || v > f.max {
        return Err(err(
            text,
            at,
            format!("{} {v} is out of range {}-{}", f.name, f.min, f.max),
        ));
    }
    Ok(v)
}

impl Cron {
    fn next_after(&self, t: i64) -> Option<i64> {
        let start = (t.div_euclid(MINUTE) + 1) * MINUTE;
        let mut day = start.div_euclid(DAY);
        let mut from = (start.rem_euclid(DAY) / MINUTE) as u32;
        let end = days_from_civil(LAST_YEAR + 1, 1, 1);
        while day < end {
            if self.day_matches(day) {
                if let Some(m) = self.first_minute_from(from) {
                    return Some(day * DAY + i64::from(m) * MINUTE);
                }
            }
            day += 1;
            from = 0;
        }
        None
    }

    fn first_minute_from(&self, from: u32) -> Option<u32> {
        let (h0, m0) = (from / 60, from % 60);
        for h in h0..24 {
            if self.hours & (1 << h) == 0 {
                continue;
            }
            let first = if h == h0 { m0 } else { 0 };
            if let Some(m) = (first..60).find(|m| self.minutes & (1 << m) != 0) {
                return Some(h * 60 + m);
            }
        }
        None
    }

    fn day_matches(&self, day: i64) -> bool {
        let (y, m, d) = civil_from_days(day);
        let yi = y - FIRST_YEAR;
        if !(0..=LAST_YEAR - FIRST_YEAR).contains(&yi) {
            return false;
        }
        let yi = yi as usize;
        if self.years[yi / 64] & (1 << (yi % 64)) == 0 || self.months & (1 << m) == 0 {
            return false;
        }
        if let Some(dom) = self.days_of_month {
            if dom & (1 << d) == 0 {
                return false;
            }
        }
        if let Some(dow) = self.days_of_week {
            // 1970-01-01 was a Thursday; AWS counts 1 = Sunday.
            let wd = (day + 4).rem_euclid(7) + 1;
            if dow & (1 << wd) == 0 {
                return false;
            }
        }
        true
    }
}

/// A window offset from the scheduled time, in seconds (negative = before).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offset(pub i64);

impl Offset {
    /// Parses `[-]P[nD][T[nH][nM][nS]]` (at least one number).
    pub fn parse(text: &str) -> Result<Offset> {
        let bad = |why: &str| {
            Error::InvalidOption(format!(
                "window offset {text:?} is not an ISO-8601 duration such as -PT1H or -P1DT30M: {why}"
            ))
        };
        let (neg, rest) = match text.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let rest = rest
            .strip_prefix('P')
            .ok_or_else(|| bad("it must start with P or -P"))?;
        let (date, time) = match rest.split_once('T') {
            Some((d, t)) => (d, Some(t)),
            None => (rest, None),
        };
        let mut total: i64 = 0;
        let mut any = false;
        let mut take = |part: &str, units: &[(char, i64)]| -> Result<()> {
            let mut num = String::new();
            let mut next_unit = 0;
            for c in part.chars() {
                if c.is_ascii_digit() {
                    num.push(c);
                    continue;
                }
                let idx = units[next_unit..]
                    .iter()
                    .position(|(u, _)| *u == c)
                    .map(|i| i + next_unit)
                    .ok_or_else(|| bad(&format!("unexpected {c:?}")))?;
                let n: i64 = num
                    .parse()
                    .ok()
                    .filter(|n| *n <= 1_000_000)
                    .ok_or_else(|| {
                        bad(&format!("a number is missing or too large before {c:?}"))
                    })?;
                total += n * units[idx].1;
                any = true;
                num.clear();
                next_unit = idx + 1;
            }
            if num.is_empty() {
                Ok(())
            } else {
                Err(bad("a number has no unit"))
            }
        };
        take(date, &[('W', 7 * DAY), ('D', DAY)])?;
        if let Some(t) = time {
            if t.is_empty() {
                return Err(bad("nothing follows T"));
            }
            take(t, &[('H', 3600), ('M', MINUTE), ('S', 1)])?;
        }
        if !any {
            return Err(bad("it holds no number"));
        }
        Ok(Offset(if neg { -total } else { total }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> i64 {
        crate::capture::parse_time(s).expect("a test time")
    }

    fn iso(secs: i64) -> String {
        let (y, m, d) = civil_from_days(secs.div_euclid(DAY));
        let sod = secs.rem_euclid(DAY);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            sod / 3600,
            sod / 60 % 60,
            sod % 60
        )
    }

    /// The next `n` runs after `from`.
    fn runs(expr: &str, from: &str, n: usize) -> Vec<String> {
        let e = ScheduleExpression::parse(expr).unwrap();
        let mut at = t(from);
        let mut out = Vec::new();
        for _ in 0..n {
            at = e.next_after(at).unwrap();
            out.push(iso(at));
        }
        out
    }

    #[test]
    fn sagemaker_forms() {
        assert_eq!(
            runs("cron(0 * ? * * *)", "2024-05-01T13:00:00Z", 3),
            [
                "2024-05-01T14:00:00Z",
                "2024-05-01T15:00:00Z",
                "2024-05-01T16:00:00Z"
            ]
        );
        assert_eq!(
            runs("cron(0 0 ? * * *)", "2024-12-31T00:00:00Z", 2),
            ["2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z"]
        );
        assert_eq!(
            runs("cron(0 */6 ? * * *)", "2024-05-01T05:59:59Z", 3),
            [
                "2024-05-01T06:00:00Z",
                "2024-05-01T12:00:00Z",
                "2024-05-01T18:00:00Z"
            ]
        );
        assert_eq!(
            runs("cron(0 2/12 ? * * *)", "2024-05-01T03:00:00Z", 2),
            ["2024-05-01T14:00:00Z", "2024-05-02T02:00:00Z"]
        );
    }

    #[test]
    fn finer_and_calendar_fields() {
        assert_eq!(
            runs("cron(*/5 * ? * * *)", "2024-05-01T13:03:10Z", 3),
            [
                "2024-05-01T13:05:00Z",
                "2024-05-01T13:10:00Z",
                "2024-05-01T13:15:00Z"
            ]
        );
        assert_eq!(
            runs("cron(* * ? * * *)", "2024-05-01T23:59:00Z", 2),
            ["2024-05-02T00:00:00Z", "2024-05-02T00:01:00Z"]
        );
        // 2024-05-03 is a Friday; MON-FRI skips the weekend.
        assert_eq!(
            runs("cron(30 9 ? * MON-FRI *)", "2024-05-03T10:00:00Z", 2),
            ["2024-05-06T09:30:00Z", "2024-05-07T09:30:00Z"]
        );
        // 1 = Sunday.
        assert_eq!(
            runs("cron(0 0 ? * 1 *)", "2024-05-01T00:00:00Z", 1),
            ["2024-05-05T00:00:00Z"]
        );
        assert_eq!(
            runs("cron(15,45 8-9 1 jan,JUL ? *)", "2024-05-01T00:00:00Z", 5),
            [
                "2024-07-01T08:15:00Z",
                "2024-07-01T08:45:00Z",
                "2024-07-01T09:15:00Z",
                "2024-07-01T09:45:00Z",
                "2025-01-01T08:15:00Z"
            ]
        );
        assert_eq!(
            runs("cron(0 0 29 2 ? *)", "2024-03-01T00:00:00Z", 1),
            ["2028-02-29T00:00:00Z"]
        );
        let past = ScheduleExpression::parse("cron(0 0 1 1 ? 2020)").unwrap();
        assert_eq!(past.next_after(t("2024-01-01T00:00:00Z")), None);
    }

    #[test]
    fn rates_are_aligned_to_the_epoch() {
        assert_eq!(
            runs("rate(5 minutes)", "2024-05-01T13:03:10Z", 2),
            ["2024-05-01T13:05:00Z", "2024-05-01T13:10:00Z"]
        );
        assert_eq!(
            runs("rate(1 hour)", "2024-05-01T13:00:00Z", 1),
            ["2024-05-01T14:00:00Z"]
        );
        assert_eq!(
            runs("rate(1 day)", "2024-05-01T13:00:00Z", 1),
            ["2024-05-02T00:00:00Z"]
        );
    }

    #[test]
    fn previous_runs() {
        let e = ScheduleExpression::parse("cron(0 9,17 ? * * *)").unwrap();
        assert_eq!(
            e.prev_before(t("2024-05-02T09:00:00Z")).map(iso).as_deref(),
            Some("2024-05-01T17:00:00Z")
        );
        let e = ScheduleExpression::parse("cron(* * ? * * *)").unwrap();
        assert_eq!(
            e.prev_before(t("2024-05-02T09:00:00Z")).map(iso).as_deref(),
            Some("2024-05-02T08:59:00Z")
        );
        let e = ScheduleExpression::parse("rate(15 minutes)").unwrap();
        assert_eq!(
            e.prev_before(t("2024-05-02T09:00:00Z")).map(iso).as_deref(),
            Some("2024-05-02T08:45:00Z")
        );
    }

    #[test]
    fn errors_name_the_position() {
        let cases = [
            (
                "cron(61 * ? * * *)",
                "character 6: minutes 61 is out of range 0-59",
            ),
            (
                "cron(0 * * * * *)",
                "character 10: one of day-of-month and day-of-week must be ?",
            ),
            (
                "cron(0 * ? * ? *)",
                "character 14: only one of day-of-month and day-of-week may be ?",
            ),
            ("cron(0 * ? * *)", "expected 6 fields"),
            (
                "cron(0  * ? * * *)",
                "character 8: fields are separated by exactly one space",
            ),
            (
                "cron(0 */0 ? * * *)",
                "character 10: step \"0\" is not a whole number",
            ),
            (
                "cron(0 5-2 ? * * *)",
                "character 8: the range 5-2 of the hours field runs backwards",
            ),
            (
                "cron(0 0 L * ? *)",
                "character 10: L, W and # are not supported",
            ),
            (
                "cron(0 0 ? FOO * *)",
                "character 12: \"FOO\" is not a value of the month field (1-12 or JAN-DEC)",
            ),
            (
                "cron(? 0 ? * * *)",
                "character 6: ? is only allowed in day-of-month and day-of-week",
            ),
            (
                "cron(0 0 ? * * 1969)",
                "character 16: year 1969 is out of range 1970-2199",
            ),
            (
                "rate(0 minutes)",
                "character 6: \"0\" is not a whole number of 1 or more",
            ),
            ("rate(5 weeks)", "character 8: unknown unit \"weeks\""),
            ("rate(5)", "expected a unit"),
            ("every hour", "character 1: expected cron("),
        ];
        for (expr, want) in cases {
            let e = ScheduleExpression::parse(expr).unwrap_err().to_string();
            assert!(e.contains(want), "{expr}: {e}");
            assert!(e.starts_with("schedule expression"), "{e}");
        }
    }

    #[test]
    fn offsets() {
        assert_eq!(Offset::parse("-PT1H").unwrap(), Offset(-3600));
        assert_eq!(Offset::parse("PT0H").unwrap(), Offset(0));
        assert_eq!(
            Offset::parse("-P1DT2H30M").unwrap(),
            Offset(-(86_400 + 9000))
        );
        assert_eq!(Offset::parse("-PT90S").unwrap(), Offset(-90));
        assert_eq!(Offset::parse("-P1W").unwrap(), Offset(-7 * 86_400));
        for bad in ["1H", "-P", "-PT", "-PT1", "-PTH", "-PT1X", "-PT1M1H", "P1H"] {
            let e = Offset::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with("window offset"), "{bad}: {e}");
        }
    }
}
