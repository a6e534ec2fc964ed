//! Where captured files live: SageMaker's S3 layout on a local file system.
//!
//! ```text
//! <root>/<endpoint>/<variant>/yyyy/mm/dd/HH/MM-SS-mmm-<uuid>.jsonl
//! ```
//!
//! The hour folder is the UTC hour of the invocation; the file name is the
//! minute, second and millisecond the file was created plus a random UUID.
//! Names are checked against SageMaker's name rule before they become path
//! components, so no request can reach outside the root.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

pub const HOUR_MS: i64 = 3_600_000;

/// SageMaker's rule for endpoint and variant names:
/// `^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$`.
pub fn validate_name(what: &str, name: &str) -> Result<()> {
    let b = name.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 63
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-';
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{what} {name:?} is not valid: 1 to 63 letters, digits and hyphens, starting and ending with a letter or digit"
        )))
    }
}

/// Start of the UTC hour holding `ms`.
pub fn hour_floor(ms: i64) -> i64 {
    ms.div_euclid(HOUR_MS) * HOUR_MS
}

/// `yyyy/mm/dd/HH` of the hour holding `ms`.
pub fn hour_path(ms: i64) -> PathBuf {
    let s = mw_model::time::format_iso8601_ms(ms);
    // YYYY-MM-DDTHH:MM:SS.mmmZ
    let mut p = PathBuf::from(&s[0..4]);
    p.push(&s[5..7]);
    p.push(&s[8..10]);
    p.push(&s[11..13]);
    p
}

/// `MM-SS-mmm-<uuid>.jsonl` for a file created at `now_ms`.
pub fn file_name(now_ms: i64) -> String {
    let s = mw_model::time::format_iso8601_ms(now_ms);
    format!(
        "{}-{}-{}-{}.jsonl",
        &s[14..16],
        &s[17..19],
        &s[20..23],
        crate::ids::uuid_v4()
    )
}

/// The entries of `dir`; none when it does not exist.
fn entries(dir: &Path) -> Result<Vec<std::fs::DirEntry>> {
    let listing = |e| Error::io(format!("listing {}", dir.display()), e);
    match std::fs::read_dir(dir) {
        Ok(rd) => rd.map(|e| e.map_err(listing)).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(listing(e)),
    }
}

fn numeric_dirs(dir: &Path, width: usize) -> Result<Vec<(u32, PathBuf)>> {
    let mut out = Vec::new();
    for entry in entries(dir)? {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.len() != width
            || !name.bytes().all(|c| c.is_ascii_digit())
            || !entry.path().is_dir()
        {
            continue;
        }
        if let Ok(n) = name.parse::<u32>() {
            out.push((n, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

fn hour_start(y: u32, m: u32, d: u32, h: u32) -> Option<i64> {
    let s = format!("{y:04}-{m:02}-{d:02}T{h:02}:00:00Z");
    mw_model::time::parse_iso8601(&s)
}

/// The hour folders under `base` (a `<endpoint>/<variant>` folder) whose hour
/// overlaps `[start_ms, end_ms)`, oldest first. Whole subtrees outside the
/// range are skipped without being listed.
pub fn hours_in_range(base: &Path, start_ms: i64, end_ms: i64) -> Result<Vec<(i64, PathBuf)>> {
    let first = hour_floor(start_ms);
    let year = |ms: i64| {
        mw_model::time::format_iso8601_ms(ms)[0..4]
            .parse::<u32>()
            .ok()
    };
    let (y0, y1) = (year(first).unwrap_or(0), year(end_ms).unwrap_or(9999));
    let mut out = Vec::new();
    for (y, ydir) in numeric_dirs(base, 4)? {
        if y < y0 || y > y1 {
            continue;
        }
        for (m, mdir) in numeric_dirs(&ydir, 2)? {
            for (d, ddir) in numeric_dirs(&mdir, 2)? {
                // Skip a whole day outside the range.
                let Some(day) = hour_start(y, m, d, 0) else {
                    continue;
                };
                if day + 24 * HOUR_MS <= first || day >= end_ms {
                    continue;
                }
                for (h, hdir) in numeric_dirs(&ddir, 2)? {
                    let Some(t) = hour_start(y, m, d, h) else {
                        continue;
                    };
                    if t + HOUR_MS > first && t < end_ms && t >= first {
                        out.push((t, hdir));
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Every hour folder under `base`, oldest first: what [`hours_in_range`]
/// returns for a range without bounds.
pub fn all_hours(base: &Path) -> Result<Vec<(i64, PathBuf)>> {
    let mut out = Vec::new();
    for (y, ydir) in numeric_dirs(base, 4)? {
        for (m, mdir) in numeric_dirs(&ydir, 2)? {
            for (d, ddir) in numeric_dirs(&mdir, 2)? {
                for (h, hdir) in numeric_dirs(&ddir, 2)? {
                    if let Some(t) = hour_start(y, m, d, h) {
                        out.push((t, hdir));
                    }
                }
            }
        }
    }
    Ok(out)
}

/// The sub-folders of `dir` whose names pass [`validate_name`], sorted.
pub fn named_dirs(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for entry in entries(dir)? {
        if let Some(name) = entry.file_name().to_str() {
            if validate_name("name", name).is_ok() && entry.path().is_dir() {
                out.push(name.to_string());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The `.jsonl` files of one hour folder, sorted by name (creation order).
pub fn files_in(dir: &Path) -> Result<Vec<(String, PathBuf, u64)>> {
    let mut out = Vec::new();
    for entry in entries(dir)? {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.ends_with(".jsonl") {
            continue;
        }
        let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
        out.push((name.to_string(), entry.path(), len));
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_sagemaker_rule() {
        for ok in ["a", "my-endpoint", "AllTraffic", "x--y", &"a".repeat(63)] {
            validate_name("endpoint", ok).unwrap();
        }
        for bad in ["", "-a", "a-", "a_b", "a/b", "..", "a.b", &"a".repeat(64)] {
            assert!(validate_name("endpoint", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn paths_are_utc_hours() {
        let t = 1_650_241_308_871; // 2022-04-18T00:21:48.871Z
        assert_eq!(hour_path(t), PathBuf::from("2022/04/18/00"));
        let n = file_name(t);
        assert!(n.starts_with("21-48-871-"), "{n}");
        assert!(n.ends_with(".jsonl"));
        assert_eq!(n.len(), "21-48-871-".len() + 36 + ".jsonl".len());
        assert_eq!(hour_floor(t), 1_650_240_000_000);
    }
}
