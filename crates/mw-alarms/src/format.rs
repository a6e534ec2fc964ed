//! How numbers and dates are spelled in `StateReason` and `StateReasonData`:
//! Java's `Double.toString` (`5.0`, `1.0E7`), `dd/mm/yy HH:MM:SS` in reasons,
//! `yyyy-MM-ddTHH:mm:ss.SSS+0000` in JSON, and the long date of composite
//! reasons (`Tuesday 24 November, 2020 23:31:57 UTC`). All times are UTC.

use mw_model::time::format_iso8601_ms;

/// Formats like Java's `Double.toString`, which AWS's reasons use: at least one
/// fractional digit, scientific notation outside [1e-3, 1e7).
pub fn java_double(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    let a = v.abs();
    if a == 0.0 || (1e-3..1e7).contains(&a) {
        let s = format!("{v}");
        return if s.contains('.') { s } else { format!("{s}.0") };
    }
    let s = format!("{v:e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    if mantissa.contains('.') {
        format!("{mantissa}E{exp}")
    } else {
        format!("{mantissa}.0E{exp}")
    }
}

/// `2020-04-23T13:18:50.528+0000`.
pub fn json_date(ms: i64) -> String {
    let s = format_iso8601_ms(ms);
    match s.strip_suffix('Z') {
        Some(head) => format!("{head}+0000"),
        None => s,
    }
}

/// `23/04/20 13:17:00`.
pub fn reason_date(secs: i64) -> String {
    let s = format_iso8601_ms(secs.saturating_mul(1000));
    let part = |r: std::ops::Range<usize>| s.get(r).unwrap_or("??");
    format!(
        "{}/{}/{} {}",
        part(8..10),
        part(5..7),
        part(2..4),
        part(11..19)
    )
}

const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// `Tuesday 24 November, 2020 23:31:57 UTC`, as composite alarm reasons.
pub fn long_date(ms: i64) -> String {
    let s = format_iso8601_ms(ms);
    // 1970-01-01 was a Thursday.
    let weekday = (ms.div_euclid(86_400_000) + 4).rem_euclid(7);
    let month = s
        .get(5..7)
        .and_then(|m| m.parse::<usize>().ok())
        .and_then(|m| MONTHS.get(m.wrapping_sub(1)))
        .copied()
        .unwrap_or("?");
    let part = |r: std::ops::Range<usize>| s.get(r).unwrap_or("??");
    format!(
        "{} {} {}, {} {} UTC",
        WEEKDAYS[usize::try_from(weekday).unwrap_or(0)],
        part(8..10),
        month,
        part(0..4),
        part(11..19)
    )
}

/// `1 datapoint` / `2 datapoints`.
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// `was` / `were`.
pub fn was(n: usize) -> &'static str {
    if n == 1 {
        "was"
    } else {
        "were"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_like_java() {
        let rows = [
            (5.0, "5.0"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (11.79, "11.79"),
            (-3.5, "-3.5"),
            (1e-3, "0.001"),
            (9_999_999.0, "9999999.0"),
            (1e7, "1.0E7"),
            (1.5e7, "1.5E7"),
            (2.5e-4, "2.5E-4"),
            (1e-4, "1.0E-4"),
            (123_456_789.0, "1.23456789E8"),
        ];
        for (v, want) in rows {
            assert_eq!(java_double(v), want, "{v}");
        }
    }

    #[test]
    fn dates_in_reasons_and_json() {
        // 2020-04-23T13:17:00Z
        let secs = 1_587_647_820;
        assert_eq!(reason_date(secs), "23/04/20 13:17:00");
        assert_eq!(json_date(secs * 1000 + 528), "2020-04-23T13:17:00.528+0000");
        // 2020-11-24T23:31:57Z was a Tuesday.
        assert_eq!(
            long_date(1_606_260_717_000),
            "Tuesday 24 November, 2020 23:31:57 UTC"
        );
        assert_eq!(long_date(0), "Thursday 01 January, 1970 00:00:00 UTC");
    }
}
