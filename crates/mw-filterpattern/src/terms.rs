//! Term patterns: `ERROR`, `"quoted phrase"`, `-excluded`, `?either ?or`.
//!
//! Every term is a case-sensitive substring test with a
//! [`memchr::memmem::Finder`] built once at parse time, so matching an event
//! allocates nothing. Plain terms must all occur (AND), `-` terms must not
//! occur, and `?` terms form one OR group that is used only when the pattern
//! has no plain or `-` terms (the documented quirk: `?A ?B C` behaves like `C`).
//! Unquoted terms may hold only letters, digits and `_`; anything else must be
//! quoted. Inside quotes `\"` and `\\` are escapes; other backslashes are literal.

use crate::cursor::Cursor;
use crate::error::PatternError;
use memchr::memmem::Finder;

#[derive(Debug, Clone)]
pub(crate) struct Terms {
    include: Vec<Finder<'static>>,
    exclude: Vec<Finder<'static>>,
    any: Vec<Finder<'static>>,
}

#[derive(Clone, Copy, PartialEq)]
enum Sign {
    Plain,
    Minus,
    Question,
}

impl Terms {
    /// The longest plain term: every matching message contains it, so a scan
    /// can search for it across many messages at once before testing each.
    pub(crate) fn required_literal(&self) -> Option<&[u8]> {
        self.include
            .iter()
            .map(|f| f.needle())
            .max_by_key(|n| n.len())
    }

    pub(crate) fn parse(chars: &[char]) -> Result<Terms, PatternError> {
        let mut cur = Cursor::new(chars, 0);
        let mut terms = Terms {
            include: Vec::new(),
            exclude: Vec::new(),
            any: Vec::new(),
        };
        loop {
            cur.skip_ws();
            let Some(c) = cur.peek() else { break };
            let sign = match c {
                '-' => Sign::Minus,
                '?' => Sign::Question,
                _ => Sign::Plain,
            };
            if sign != Sign::Plain {
                let at = cur.pos();
                cur.bump();
                // The old docs write `"ERROR" - "Exiting"`: allow space after the sign.
                cur.skip_ws();
                if cur.at_end() {
                    return Err(cur.err_at(at, format!("expected a term after '{c}'")));
                }
            }
            let term = parse_term(&mut cur)?;
            let finder = Finder::new(term.as_bytes()).into_owned();
            match sign {
                Sign::Plain => terms.include.push(finder),
                Sign::Minus => terms.exclude.push(finder),
                Sign::Question => terms.any.push(finder),
            }
        }
        if !terms.include.is_empty() || !terms.exclude.is_empty() {
            terms.any.clear();
        }
        Ok(terms)
    }

    pub(crate) fn matches(&self, message: &str) -> bool {
        let hay = message.as_bytes();
        self.include.iter().all(|f| f.find(hay).is_some())
            && !self.exclude.iter().any(|f| f.find(hay).is_some())
            && (self.any.is_empty() || self.any.iter().any(|f| f.find(hay).is_some()))
    }
}

/// One quoted or bare term; the cursor is on its first character.
fn parse_term(cur: &mut Cursor<'_>) -> Result<String, PatternError> {
    let open = cur.pos();
    if cur.eat('"') {
        let mut term = String::new();
        loop {
            match cur.bump() {
                None => {
                    return Err(cur.err(format!(
                        "expected '\"' to close the term at position {}",
                        open + 1
                    )))
                }
                Some('"') => break,
                Some('\\') if matches!(cur.peek(), Some('"' | '\\')) => {
                    term.extend(cur.bump());
                }
                Some(c) => term.push(c),
            }
        }
        if cur.peek().is_some_and(|c| !c.is_whitespace()) {
            return Err(cur.err("expected a space after the quoted term"));
        }
        return Ok(term);
    }
    let term = cur.take_while(|c| !c.is_whitespace());
    if let Some((i, c)) = term
        .chars()
        .enumerate()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
    {
        let hint = if c == '%' {
            "a regex pattern must stand alone".to_owned()
        } else {
            "quote terms with characters other than letters, digits and '_'".to_owned()
        };
        return Err(cur.err_at(
            open + i,
            format!("unexpected character '{c}' in term; {hint}"),
        ));
    }
    Ok(term)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(p: &str) -> Terms {
        let chars: Vec<char> = p.chars().collect();
        Terms::parse(&chars).expect("valid")
    }

    #[test]
    fn and_exclusion_and_or_groups() {
        assert!(t("ERROR ARGS").matches("ARGS then ERROR"));
        assert!(!t("ERROR ARGS").matches("ERROR"));
        assert!(!t("ERROR -ARGS").matches("ERROR ARGS"));
        assert!(t("ERROR - \"Exiting\"").matches("ERROR boom"));
        assert!(t("?A ?B").matches("xBx"));
        assert!(!t("?A ?B").matches("xCx"));
        assert!(t("?A ?B C").matches("C only"));
    }

    #[test]
    fn quoted_terms_keep_punctuation_and_escapes() {
        assert!(t("\"10.0.0.1\"").matches("from 10.0.0.1"));
        assert!(t(r#""say \"hi\"""#).matches(r#"they say "hi""#));
    }

    #[test]
    fn bad_terms_name_their_position() {
        let chars: Vec<char> = "ERROR user-id".chars().collect();
        assert_eq!(Terms::parse(&chars).expect_err("dash").position(), 11);
        let chars: Vec<char> = "a \"open".chars().collect();
        assert_eq!(Terms::parse(&chars).expect_err("quote").position(), 8);
        let chars: Vec<char> = "a -".chars().collect();
        assert_eq!(Terms::parse(&chars).expect_err("sign").position(), 3);
    }
}
