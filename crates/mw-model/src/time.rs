//! Epoch time helpers: ISO-8601 parsing and formatting without a calendar crate.

/// Days since 1970-01-01 for a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// (year, month, day) for days since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Formats epoch milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn format_iso8601_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86400);
    let sod = secs.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

/// `YYYY-MM-DDTHH:MM:SSZ` of the second holding epoch milliseconds `ms`,
/// as 20 ASCII bytes, without an allocation (years 0 to 9999; others are
/// clamped to that range).
pub fn iso8601_secs_bytes(ms: i64) -> [u8; 20] {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86400);
    let sod = secs.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    let y = y.clamp(0, 9999);
    let mut out = *b"0000-00-00T00:00:00Z";
    let mut put = |at: usize, width: usize, mut v: i64| {
        for i in (0..width).rev() {
            out[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, y);
    put(5, 2, m);
    put(8, 2, d);
    put(11, 2, sod / 3600);
    put(14, 2, (sod / 60) % 60);
    put(17, 2, sod % 60);
    out
}

/// Formats epoch milliseconds as `YYYY-MM-DDTHH:MM:SSZ` when whole seconds.
pub fn format_iso8601(ms: i64) -> String {
    if ms % 1000 == 0 {
        let mut s = format_iso8601_ms(ms);
        s.replace_range(19..23, "");
        s
    } else {
        format_iso8601_ms(ms)
    }
}

fn num(s: &[u8], at: usize, len: usize) -> Option<i64> {
    let part = s.get(at..at + len)?;
    if !part.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(part).ok()?.parse().ok()
}

/// Parses RFC 3339 / ISO-8601 date-times (`2025-01-02T03:04:05Z`, fractional
/// seconds, `+hh:mm` offsets, a bare date) into epoch milliseconds.
pub fn parse_iso8601(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    let y = num(b, 0, 4)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let mo = num(b, 5, 2)?;
    let d = num(b, 8, 2)?;
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    if b.len() == 10 {
        return Some(days * 86_400_000);
    }
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) || b.get(13) != Some(&b':') {
        return None;
    }
    let h = num(b, 11, 2)?;
    let mi = num(b, 14, 2)?;
    let (sec, mut i) = if b.get(16) == Some(&b':') {
        (num(b, 17, 2)?, 19)
    } else {
        (0, 16)
    };
    if h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut ms = 0i64;
    if b.get(i) == Some(&b'.') || b.get(i) == Some(&b',') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        let frac = &b[start..i.min(start + 3)];
        let mut v = 0i64;
        for (k, c) in frac.iter().enumerate() {
            v += i64::from(c - b'0') * [100, 10, 1][k];
        }
        ms = v;
    }
    let offset_min = match b.get(i) {
        None => 0,
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) => {
            let oh = num(b, i + 1, 2)?;
            let om = match b.get(i + 3) {
                Some(b':') if b.len() == i + 6 => num(b, i + 4, 2)?,
                None => 0,
                Some(_) if b.len() == i + 5 => num(b, i + 3, 2)?,
                _ => return None,
            };
            let total = oh * 60 + om;
            if *sign == b'+' {
                total
            } else {
                -total
            }
        }
        _ => return None,
    };
    Some(((days * 86400 + h * 3600 + mi * 60 + sec) - offset_min * 60) * 1000 + ms)
}

/// The current time as epoch milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_stamps_match_the_formatter() {
        for ms in [
            0,
            999,
            1_000,
            1_735_689_599_999,
            1_764_374_400_123,
            951_782_400_000,
            -1,
        ] {
            let b = iso8601_secs_bytes(ms);
            assert_eq!(
                std::str::from_utf8(&b).unwrap(),
                format_iso8601(ms.div_euclid(1000) * 1000),
                "{ms}"
            );
        }
    }

    #[test]
    fn round_trips_and_offsets() {
        assert_eq!(
            parse_iso8601("2025-01-02T03:04:05Z"),
            Some(1_735_787_045_000)
        );
        assert_eq!(
            parse_iso8601("2025-01-02T03:04:05.123456Z"),
            Some(1_735_787_045_123)
        );
        assert_eq!(
            parse_iso8601("2025-01-02T04:04:05+01:00"),
            Some(1_735_787_045_000)
        );
        assert_eq!(format_iso8601(1_735_787_045_000), "2025-01-02T03:04:05Z");
        assert_eq!(
            format_iso8601_ms(1_735_787_045_123),
            "2025-01-02T03:04:05.123Z"
        );
        assert_eq!(parse_iso8601("1970-01-01"), Some(0));
        for bad in [
            "",
            "2025-13-01T00:00:00Z",
            "2025-01-02T03:04:05Q",
            "yesterday",
            "2025-01-02T03:04:05.Z",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
    }
}
