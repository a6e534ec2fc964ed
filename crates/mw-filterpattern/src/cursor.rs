//! A character cursor over a pattern, shared by every pattern family's parser.
//!
//! Positions are 0-based indexes into the pattern's characters internally;
//! errors report them 1-based, as [`PatternError`] promises.

use crate::error::PatternError;

pub(crate) struct Cursor<'a> {
    chars: &'a [char],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(chars: &'a [char], pos: usize) -> Cursor<'a> {
        Cursor { chars, pos }
    }

    /// The 0-based index of the next character.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn set_pos(&mut self, pos: usize) {
        self.pos = pos;
    }

    pub(crate) fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    pub(crate) fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    pub(crate) fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub(crate) fn eat_str(&mut self, s: &str) -> bool {
        let n = s.chars().count();
        if self.pos + n <= self.chars.len()
            && s.chars()
                .zip(&self.chars[self.pos..self.pos + n])
                .all(|(a, b)| a == *b)
        {
            self.pos += n;
            true
        } else {
            false
        }
    }

    pub(crate) fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// Reads a run of characters accepted by `ok`.
    pub(crate) fn take_while(&mut self, ok: impl Fn(char) -> bool) -> String {
        let start = self.pos;
        while self.peek().is_some_and(&ok) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    /// An error at the current position.
    pub(crate) fn err(&self, message: impl Into<String>) -> PatternError {
        PatternError::syntax(self.pos + 1, message)
    }

    /// An error at a 0-based index.
    pub(crate) fn err_at(&self, index: usize, message: impl Into<String>) -> PatternError {
        PatternError::syntax(index + 1, message)
    }

    /// Consumes `c` or fails with `expected 'c'`.
    pub(crate) fn expect(&mut self, c: char) -> Result<(), PatternError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.err(format!("expected '{c}'")))
        }
    }

    /// Fails unless only whitespace is left.
    pub(crate) fn expect_end(&mut self, after: &str) -> Result<(), PatternError> {
        self.skip_ws();
        if self.at_end() {
            Ok(())
        } else {
            Err(self.err(format!("unexpected text after {after}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eats_and_reports_one_based_positions() {
        let chars: Vec<char> = "ab  &&c".chars().collect();
        let mut c = Cursor::new(&chars, 0);
        assert_eq!(c.take_while(|c| c.is_alphabetic()), "ab");
        c.skip_ws();
        assert!(c.eat_str("&&"));
        assert!(!c.eat_str("cd"));
        assert_eq!(c.err("x").position(), 7);
        assert!(c.expect('d').is_err());
        assert!(c.expect('c').is_ok());
        assert!(c.at_end());
        assert!(c.expect_end("x").is_ok());
    }
}
