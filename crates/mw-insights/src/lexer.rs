//! Splits query text into [`Token`]s with character positions.
//!
//! `/` starts a regular expression only where one may stand (after `like`, `=~`, or the
//! source field of `parse`); elsewhere it is division. `#` starts a comment that runs to
//! the end of the line.

use crate::error::InsightsError;
use crate::time::Period;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A bare word: command, keyword, function or field name.
    Ident(String),
    /// A backtick-quoted field name; never a keyword.
    Quoted(String),
    Str(String),
    Num(f64),
    Duration(Period),
    Regex(String),
    /// Punctuation and operators: `| , ( ) [ ] + - * / % ^ = != < <= > >= =~`.
    Op(&'static str),
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    /// 0-based character offset of the first character.
    pub(crate) start: usize,
    /// 0-based character offset just past the token.
    pub(crate) end: usize,
}

impl Token {
    pub(crate) fn is_word(&self, word: &str) -> bool {
        matches!(&self.tok, Tok::Ident(w) if w.eq_ignore_ascii_case(word))
    }

    pub(crate) fn is_op(&self, op: &str) -> bool {
        matches!(&self.tok, Tok::Op(o) if *o == op)
    }
}

const OPS: [&str; 20] = [
    "!=", "<=", ">=", "=~", "==", "|", ",", "(", ")", "[", "]", "+", "-", "*", "/", "%", "^", "=",
    "<", ">",
];

/// Tokenizes the whole text; the last token is always `Eof`.
pub(crate) fn tokenize(chars: &[char]) -> Result<Vec<Token>, InsightsError> {
    let mut tokens: Vec<Token> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        let tok = if c == '/' && regex_allowed(&tokens) {
            let (pattern, next) = read_regex(chars, i)?;
            i = next;
            Tok::Regex(pattern)
        } else if c == '"' || c == '\'' {
            let (text, next) = read_string(chars, i)?;
            i = next;
            Tok::Str(text)
        } else if c == '`' {
            let close = chars[i + 1..]
                .iter()
                .position(|&x| x == '`')
                .ok_or_else(|| InsightsError::syntax(i, 1, "unterminated quoted field name"))?;
            let name: String = chars[i + 1..i + 1 + close].iter().collect();
            if name.is_empty() {
                return Err(InsightsError::syntax(i, 2, "empty quoted field name"));
            }
            i += close + 2;
            Tok::Quoted(name)
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let (tok, next) = read_number(chars, i)?;
            i = next;
            tok
        } else if is_ident_start(c) {
            while i < chars.len() && is_ident_char(chars[i]) {
                i += 1;
            }
            Tok::Ident(chars[start..i].iter().collect())
        } else {
            let op = OPS.iter().find(|op| {
                op.chars()
                    .enumerate()
                    .all(|(k, oc)| chars.get(i + k) == Some(&oc))
            });
            match op {
                Some(op) if *op == "<" && chars.get(i + 1) == Some(&'>') => {
                    return Err(InsightsError::syntax(i, 2, "unexpected token '<>'"));
                }
                Some(op) => {
                    i += op.chars().count();
                    Tok::Op(if *op == "==" { "=" } else { op })
                }
                None => {
                    return Err(InsightsError::syntax(
                        i,
                        1,
                        format!("unexpected character '{c}'"),
                    ))
                }
            }
        };
        tokens.push(Token { tok, start, end: i });
    }
    tokens.push(Token {
        tok: Tok::Eof,
        start: chars.len(),
        end: chars.len() + 1,
    });
    Ok(tokens)
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '@' || c == '$'
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '@' | '$' | '.')
}

/// Whether a `/` here opens a regular expression rather than dividing.
fn regex_allowed(tokens: &[Token]) -> bool {
    match tokens {
        [.., last] if last.is_word("like") || last.is_op("=~") => true,
        // `parse /re/` (the source field defaults to `@message`).
        [.., kw]
            if kw.is_word("parse")
                && (tokens.len() == 1 || tokens[tokens.len() - 2].is_op("|")) =>
        {
            true
        }
        // `parse <field> /re/` at the start of the query or after a pipe.
        [.., kw, field]
            if kw.is_word("parse") && matches!(field.tok, Tok::Ident(_) | Tok::Quoted(_)) =>
        {
            let before = tokens.len() - 2;
            before == 0 || tokens[before - 1].is_op("|")
        }
        _ => false,
    }
}

fn read_regex(chars: &[char], start: usize) -> Result<(String, usize), InsightsError> {
    let mut out = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '/' => return Ok((out, i + 1)),
            '\\' if chars.get(i + 1) == Some(&'/') => {
                out.push('/');
                i += 2;
            }
            '\\' => {
                out.push('\\');
                if let Some(&n) = chars.get(i + 1) {
                    out.push(n);
                }
                i += 2;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Err(InsightsError::syntax(
        start,
        1,
        "unterminated regular expression",
    ))
}

fn read_string(chars: &[char], start: usize) -> Result<(String, usize), InsightsError> {
    let quote = chars[start];
    let mut out = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            c if c == quote => return Ok((out, i + 1)),
            '\\' => {
                match chars.get(i + 1) {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    Some(&c) if c == '"' || c == '\'' || c == '\\' => out.push(c),
                    // Unknown escapes stay as written, so `"\d+"` keeps its backslash.
                    Some(&c) => {
                        out.push('\\');
                        out.push(c);
                    }
                    None => break,
                }
                i += 2;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Err(InsightsError::syntax(start, 1, "unterminated string"))
}

fn read_number(chars: &[char], start: usize) -> Result<(Tok, usize), InsightsError> {
    let mut i = start;
    let digits = |i: &mut usize| {
        while *i < chars.len() && chars[*i].is_ascii_digit() {
            *i += 1;
        }
    };
    digits(&mut i);
    if chars.get(i) == Some(&'.') && chars.get(i + 1).is_some_and(|c| c.is_ascii_digit()) {
        i += 1;
        digits(&mut i);
    }
    if matches!(chars.get(i), Some('e' | 'E')) {
        let mut j = i + 1;
        if matches!(chars.get(j), Some('+' | '-')) {
            j += 1;
        }
        if chars.get(j).is_some_and(|c| c.is_ascii_digit()) {
            i = j;
            digits(&mut i);
        }
    }
    let text: String = chars[start..i].iter().collect();
    let value: f64 = text
        .parse()
        .map_err(|_| InsightsError::syntax(start, i - start, format!("invalid number '{text}'")))?;
    if !value.is_finite() {
        return Err(InsightsError::syntax(
            start,
            i - start,
            format!("invalid number '{text}'"),
        ));
    }
    if i < chars.len() && is_ident_char(chars[i]) {
        let unit_start = i;
        while i < chars.len() && is_ident_char(chars[i]) {
            i += 1;
        }
        let unit: String = chars[unit_start..i].iter().collect();
        let period = Period::new(value, &unit.to_ascii_lowercase()).ok_or_else(|| {
            InsightsError::syntax(
                start,
                i - start,
                format!("invalid time period '{text}{unit}'"),
            )
        })?;
        return Ok((Tok::Duration(period), i));
    }
    Ok((Tok::Num(value), i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<Tok> {
        let chars: Vec<char> = text.chars().collect();
        tokenize(&chars)
            .expect("tokenizes")
            .into_iter()
            .map(|t| t.tok)
            .collect()
    }

    #[test]
    fn words_strings_numbers_and_ops() {
        assert_eq!(
            toks("fields `a-b`, x.y | filter n>=2.5 # comment\n and s != 'q\\'x'"),
            vec![
                Tok::Ident("fields".into()),
                Tok::Quoted("a-b".into()),
                Tok::Op(","),
                Tok::Ident("x.y".into()),
                Tok::Op("|"),
                Tok::Ident("filter".into()),
                Tok::Ident("n".into()),
                Tok::Op(">="),
                Tok::Num(2.5),
                Tok::Ident("and".into()),
                Tok::Ident("s".into()),
                Tok::Op("!="),
                Tok::Str("q'x".into()),
                Tok::Eof,
            ]
        );
    }

    #[test]
    fn slash_is_regex_only_where_one_may_stand() {
        assert_eq!(
            toks("filter m like /a\\/b/ | fields x / 2"),
            vec![
                Tok::Ident("filter".into()),
                Tok::Ident("m".into()),
                Tok::Ident("like".into()),
                Tok::Regex("a/b".into()),
                Tok::Op("|"),
                Tok::Ident("fields".into()),
                Tok::Ident("x".into()),
                Tok::Op("/"),
                Tok::Num(2.0),
                Tok::Eof,
            ]
        );
        assert_eq!(
            toks("parse @message /(?<u>\\S+)/")[2],
            Tok::Regex("(?<u>\\S+)".into())
        );
        assert_eq!(toks("x =~ /y/")[2], Tok::Regex("y".into()));
    }

    #[test]
    fn durations() {
        assert_eq!(
            toks("5m")[0],
            Tok::Duration(Period::Fixed {
                ms: 300_000,
                offset: 0
            })
        );
        let chars: Vec<char> = "bin(5parsecs)".chars().collect();
        let err = tokenize(&chars).expect_err("bad unit");
        assert_eq!(
            err.to_string(),
            "invalid time period '5parsecs' at position 5"
        );
    }

    #[test]
    fn unterminated_things_report_their_start() {
        for (text, msg) in [
            ("filter a = \"x", "unterminated string at position 12"),
            (
                "filter a like /x",
                "unterminated regular expression at position 15",
            ),
            ("fields `a", "unterminated quoted field name at position 8"),
            ("fields a ! b", "unexpected character '!' at position 10"),
        ] {
            let chars: Vec<char> = text.chars().collect();
            assert_eq!(tokenize(&chars).expect_err(text).to_string(), msg);
        }
    }
}
