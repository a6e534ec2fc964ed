//! The `%regex%` subset of filter patterns, translated to the `regex` crate.
//!
//! Allowed (reference §5.2): ASCII alphanumerics, space and `: _ # = @ / ; , -`,
//! the operators `^ $ ? [ ] { } | \ * + .`, and the escapes `\d \D \s \S \w \W
//! \xhh` plus a backslash before any allowed symbol. Groups `( )`, other
//! symbols (`!`, `'`, `"`, `%`, ...) and multi-byte characters are rejected.
//!
//! The translation keeps RE2/POSIX meaning where the `regex` crate differs:
//! `\d \w \s` are ASCII classes (not Unicode), `{,n}` means `{0,n}`, and `[`
//! or a repeated `-` inside a bracket class are literal. Matching is a
//! case-sensitive search; `^` and `$` anchor to the whole message or field.

use crate::cursor::Cursor;
use crate::error::PatternError;
use regex::{Regex, RegexBuilder};

/// Compiled programs larger than this are rejected (the docs' patterns are tiny).
const SIZE_LIMIT: usize = 1 << 20;

/// Parses `%...%` at the cursor (which is on the opening `%`).
pub(crate) fn parse_delimited(cur: &mut Cursor<'_>) -> Result<Regex, PatternError> {
    let open = cur.pos();
    cur.bump();
    let body_start = cur.pos();
    let mut body = Vec::new();
    loop {
        match cur.bump() {
            Some('%') => break,
            Some(c) => body.push(c),
            None => {
                return Err(cur.err(format!(
                    "expected '%' to close the regex at position {}",
                    open + 1
                )))
            }
        }
    }
    compile(&body, body_start)
}

const SYMBOLS: &str = ":_#=@/;,- ";
const OPERATORS: &str = "^$?[]{}|\\*+.";
/// Characters the `regex` crate treats as meta and so needs escaped to be literal.
const RUST_META: &str = "\\.+*?()|[]{}^$#&-~";

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || SYMBOLS.contains(c) || OPERATORS.contains(c)
}

/// Validates and translates a regex body; `start` is the 0-based index of its
/// first character in the pattern, for error positions.
pub(crate) fn compile(body: &[char], start: usize) -> Result<Regex, PatternError> {
    let err = |i: usize, m: String| PatternError::syntax(start + i + 1, m);
    if body.is_empty() {
        return Err(err(0, "empty regex".to_owned()));
    }
    let mut out = String::with_capacity(body.len() + 8);
    let mut in_class = false;
    // The class's first member position, where ']' is literal.
    let mut class_first = false;
    let mut i = 0;
    while i < body.len() {
        let c = body[i];
        let at_first = class_first;
        class_first = false;
        match c {
            '(' | ')' => {
                return Err(err(
                    i,
                    format!(
                        "'{c}' is not supported in regex; use \\x28 or \\x29 to match parentheses"
                    ),
                ))
            }
            '\\' => {
                let Some(&e) = body.get(i + 1) else {
                    return Err(err(i, "regex ends with '\\'".to_owned()));
                };
                i += 1;
                match e {
                    'd' => out.push_str(if in_class { "0-9" } else { "[0-9]" }),
                    'D' => out.push_str("[^0-9]"),
                    'w' => out.push_str(if in_class {
                        "0-9A-Za-z_"
                    } else {
                        "[0-9A-Za-z_]"
                    }),
                    'W' => out.push_str("[^0-9A-Za-z_]"),
                    's' => out.push_str(if in_class {
                        "\\t\\n\\x0B\\x0C\\r "
                    } else {
                        "[\\t\\n\\x0B\\x0C\\r ]"
                    }),
                    'S' => out.push_str("[^\\t\\n\\x0B\\x0C\\r ]"),
                    'x' => {
                        let hex: String = body.iter().skip(i + 1).take(2).collect();
                        if hex.len() != 2 || !hex.chars().all(|h| h.is_ascii_hexdigit()) {
                            return Err(err(i - 1, "expected two hex digits after \\x".to_owned()));
                        }
                        out.push_str("\\x");
                        out.push_str(&hex);
                        i += 2;
                    }
                    e if !e.is_ascii_alphanumeric() && allowed(e) => push_literal(&mut out, e),
                    e => return Err(err(i - 1, format!("unsupported escape '\\{e}' in regex"))),
                }
            }
            c if !c.is_ascii() => {
                return Err(err(
                    i,
                    "multi-byte characters are not supported in regex".to_owned(),
                ))
            }
            c if !allowed(c) => {
                return Err(err(i, format!("unsupported character '{c}' in regex")))
            }
            '[' if in_class => {
                if body.get(i + 1) == Some(&':') {
                    // POSIX class such as [[:digit:]]: pass through to its ':]'.
                    let rest: String = body[i..].iter().collect();
                    match rest.find(":]") {
                        Some(end) if end > 1 => {
                            out.push_str(&rest[..end + 2]);
                            i += rest[..end + 2].chars().count();
                            continue;
                        }
                        _ => out.push_str("\\["),
                    }
                } else {
                    out.push_str("\\[");
                }
            }
            '[' => {
                in_class = true;
                out.push('[');
                if body.get(i + 1) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                class_first = true;
            }
            ']' if in_class && !at_first => {
                in_class = false;
                out.push(']');
            }
            ']' if in_class => out.push_str("\\]"),
            '-' if in_class && out.ends_with('-') => out.push_str("\\-"),
            '{' if !in_class && body.get(i + 1) == Some(&',') => out.push_str("{0"),
            c => out.push(c),
        }
        i += 1;
    }
    RegexBuilder::new(&out)
        .size_limit(SIZE_LIMIT)
        .dfa_size_limit(SIZE_LIMIT)
        .nest_limit(64)
        .build()
        .map_err(|e| {
            let detail = e.to_string();
            let last = detail
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            let last = last.trim().trim_start_matches("error:").trim();
            err(0, format!("invalid regex: {}", last.to_lowercase()))
        })
}

fn push_literal(out: &mut String, c: char) {
    if RUST_META.contains(c) {
        out.push('\\');
    }
    out.push(c);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn re(s: &str) -> Result<Regex, PatternError> {
        let chars: Vec<char> = s.chars().collect();
        compile(&chars, 0)
    }

    #[test]
    fn documented_examples_compile_and_match() {
        let ip = re(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}").expect("valid");
        assert!(ip.is_match("from 10.0.0.1 ok"));
        let alt = re("gra|ey").expect("valid");
        assert!(alt.is_match("grey") && alt.is_match("gray"));
        assert!(re("^starting|^initializing|^shutting down")
            .expect("valid")
            .is_match("shutting down now"));
        assert!(re(r"\x28a\x29").expect("valid").is_match("(a)"));
        assert!(re("a{,2}b").expect("valid").is_match("b"));
        assert!(re("[^c]at").expect("valid").is_match("bat"));
        assert!(re("[]a]").expect("valid").is_match("]"));
        assert!(re("[[:digit:]]+").expect("valid").is_match("42"));
        assert!(re(r"[\d-]+x").expect("valid").is_match("1-2x"));
    }

    #[test]
    fn perl_classes_are_ascii() {
        assert!(!re(r"^\d$").expect("valid").is_match("٣"));
        assert!(re(r"^\w\s\W$").expect("valid").is_match("a !"));
    }

    #[test]
    fn unsupported_syntax_is_rejected_with_position() {
        assert_eq!(re("ab(c)").expect_err("group").position(), 3);
        assert_eq!(re("something!").expect_err("bang").position(), 10);
        assert_eq!(re("é").expect_err("multibyte").position(), 1);
        assert_eq!(re(r"a\b").expect_err("escape").position(), 2);
        assert_eq!(re(r"\x2").expect_err("hex").position(), 1);
        assert!(re("").is_err());
        assert!(re("a{2").is_err());
        assert!(re("a\\").is_err());
    }
}
