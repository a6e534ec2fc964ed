//! What a notification says: the CloudWatch alarm JSON, the SNS envelope
//! around it, the email subject, and the small formatting helpers they need
//! (ISO-8601 times, RFC 5322 dates, uuid-like ids).
//!
//! Keys are written in the order AWS writes them, so a notification from
//! this server reads like one from CloudWatch through SNS.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;

use crate::AlarmMessage;

/// Longest alarm JSON (and so SNS `Message`) accepted, as SNS allows.
pub(crate) const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// Longest `NewStateReason` kept; longer reasons are cut, as CloudWatch does.
const MAX_REASON_CHARS: usize = 1023;
/// Longest `AlarmDescription` kept.
const MAX_DESCRIPTION_CHARS: usize = 1024;
/// Longest SNS subject.
const MAX_SUBJECT_CHARS: usize = 100;

/// A JSON object whose keys keep the order they are given in.
fn ordered_object(fields: &[(&str, Value)]) -> String {
    let mut out = String::from("{");
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Value::String((*key).to_string()).to_string());
        out.push(':');
        out.push_str(&value.to_string());
    }
    out.push('}');
    out
}

/// `s` cut to at most `max` characters.
fn truncate_chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((at, _)) => &s[..at],
        None => s,
    }
}

/// The display name AWS uses for a region in alarm messages and subjects;
/// the region code itself for regions not in the table.
pub(crate) fn region_display_name(region: &str) -> &str {
    match region {
        "us-east-1" => "US East (N. Virginia)",
        "us-east-2" => "US East (Ohio)",
        "us-west-1" => "US West (N. California)",
        "us-west-2" => "US West (Oregon)",
        "ca-central-1" => "Canada (Central)",
        "eu-west-1" => "EU (Ireland)",
        "eu-west-2" => "EU (London)",
        "eu-west-3" => "EU (Paris)",
        "eu-central-1" => "EU (Frankfurt)",
        "eu-north-1" => "EU (Stockholm)",
        "ap-northeast-1" => "Asia Pacific (Tokyo)",
        "ap-northeast-2" => "Asia Pacific (Seoul)",
        "ap-southeast-1" => "Asia Pacific (Singapore)",
        "ap-southeast-2" => "Asia Pacific (Sydney)",
        "ap-south-1" => "Asia Pacific (Mumbai)",
        "sa-east-1" => "South America (Sao Paulo)",
        other => other,
    }
}

/// The CloudWatch alarm JSON: the SNS `Message`, the webhook body, the email
/// body and the command hook's stdin.
pub(crate) fn alarm_json(msg: &AlarmMessage, region: &str, account: &str) -> String {
    let description = match &msg.alarm_description {
        Some(d) => Value::String(truncate_chars(d, MAX_DESCRIPTION_CHARS).to_string()),
        None => Value::Null,
    };
    ordered_object(&[
        ("AlarmName", Value::String(msg.alarm_name.clone())),
        ("AlarmDescription", description),
        ("AWSAccountId", Value::String(account.to_string())),
        ("NewStateValue", Value::String(msg.new_state.clone())),
        (
            "NewStateReason",
            Value::String(truncate_chars(&msg.new_state_reason, MAX_REASON_CHARS).to_string()),
        ),
        (
            "StateChangeTime",
            Value::String(iso8601_offset(msg.state_change_time_ms)),
        ),
        (
            "Region",
            Value::String(region_display_name(region).to_string()),
        ),
        ("AlarmArn", Value::String(msg.alarm_arn.clone())),
        ("OldStateValue", Value::String(msg.old_state.clone())),
        ("Trigger", msg.trigger.clone()),
    ])
}

/// The SNS subject: `ALARM: "name" in US East (N. Virginia)`, at most 100
/// characters, on one line.
pub(crate) fn subject(msg: &AlarmMessage, region: &str) -> String {
    let full = format!(
        "{}: \"{}\" in {}",
        msg.new_state,
        msg.alarm_name,
        region_display_name(region)
    );
    let one_line: String = full
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    truncate_chars(&one_line, MAX_SUBJECT_CHARS).to_string()
}

/// The SNS notification envelope posted to http/https subscriptions.
pub(crate) fn sns_envelope(
    message_id: &str,
    topic_arn: &str,
    subject: &str,
    message: &str,
    published_ms: i64,
) -> String {
    ordered_object(&[
        ("Type", Value::String("Notification".into())),
        ("MessageId", Value::String(message_id.into())),
        ("TopicArn", Value::String(topic_arn.into())),
        ("Subject", Value::String(subject.into())),
        ("Message", Value::String(message.into())),
        ("Timestamp", Value::String(iso8601_z(published_ms))),
        ("SignatureVersion", Value::String("1".into())),
        ("Signature", Value::String(String::new())),
        ("SigningCertURL", Value::String(String::new())),
        ("UnsubscribeURL", Value::String(String::new())),
    ])
}

/// `json` re-indented two spaces per level, keys in their original order
/// (for email bodies). `json` must be valid compact JSON, as
/// [`alarm_json`] writes it.
pub(crate) fn pretty_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.push_str(&"  ".repeat(depth));
    };
    let mut chars = json.chars().peekable();
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                if matches!(chars.peek(), Some('}' | ']')) {
                    if let Some(close) = chars.next() {
                        out.push(close);
                    }
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

/// Civil date and time of a Unix millisecond timestamp:
/// (year, month 1-12, day 1-31, hour, minute, second, millisecond, weekday 0=Sunday).
fn civil(ms: i64) -> (i64, u32, u32, u32, u32, u32, u32, u32) {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000) as u32;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u32;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    let weekday = (days + 4).rem_euclid(7) as u32;
    (
        year,
        month,
        day,
        sod / 3600,
        sod / 60 % 60,
        sod % 60,
        millis,
        weekday,
    )
}

/// `2024-05-01T12:00:00.000+0000`, as in `StateChangeTime`.
pub(crate) fn iso8601_offset(ms: i64) -> String {
    let (y, mo, d, h, mi, s, milli, _) = civil(ms);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}+0000")
}

/// `2024-05-01T12:00:00.000Z`, as in the SNS `Timestamp`.
pub(crate) fn iso8601_z(ms: i64) -> String {
    let (y, mo, d, h, mi, s, milli, _) = civil(ms);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
}

/// `Wed, 01 May 2024 12:00:00 +0000`, for the email `Date` header.
pub(crate) fn rfc5322_date(ms: i64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, mo, d, h, mi, s, _, wd) = civil(ms);
    format!(
        "{}, {d:02} {} {y:04} {h:02}:{mi:02}:{s:02} +0000",
        DAYS[wd as usize % 7],
        MONTHS[(mo as usize + 11) % 12]
    )
}

/// The current time in Unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A random version-4 uuid string. Randomness comes from std's per-process
/// hash keys mixed with a counter and the clock: unique, not secret.
pub(crate) fn new_uuid() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let state = RandomState::new();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let word = |salt: u64| {
        let mut h = state.build_hasher();
        h.write_u64(salt);
        h.write_u64(n);
        h.write_u128(nanos);
        h.write_u32(std::process::id());
        h.finish()
    };
    let hi = word(0x5eed_0001);
    let lo = word(0x5eed_0002);
    let hi = (hi & !0xf000) | 0x4000; // version 4
    let lo = (lo & !(0b11 << 62)) | (0b10 << 62); // RFC 4122 variant
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests;
