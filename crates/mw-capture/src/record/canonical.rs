//! The ingest fast path: a capture record exactly as [`super::encode_event`]
//! writes it (keys in that order, no whitespace) is checked by one pass over
//! its bytes, without building any value or unescaping any string.
//!
//! [`check`] answers `Some(time)` only for a line that is canonical *and*
//! obeys every rule of [`super::CaptureRecord::check`]; for anything else
//! (another key order, whitespace, an unknown field, an escape it does not
//! decode, a broken rule) it answers `None` and the caller falls back to the
//! full parser, which accepts or refuses the line with its own error. So the
//! fast path can only make ingest quicker, never change what it accepts.

use super::{Encoding, EVENT_VERSION, MAX_ID};
use base64::Engine;

/// `Some(inferenceTime in epoch ms)` when `line` is a canonical, valid record.
pub(super) fn check(line: &[u8]) -> Option<i64> {
    // Outside strings a canonical line is ASCII, so this is the strings' UTF-8 check.
    std::str::from_utf8(line).ok()?;
    let mut c = Cursor { b: line, i: 0 };
    c.lit(b"{\"captureData\":{")?;
    let mut any = false;
    if c.peek_lit(b"\"endpointInput\":{") {
        c.lit(b"\"endpointInput\":{")?;
        payload(&mut c, b"INPUT")?;
        any = true;
    }
    if c.peek_lit(b"\"endpointOutput\":{") || (any && c.peek_lit(b",\"endpointOutput\":{")) {
        if any {
            c.lit(b",")?;
        }
        c.lit(b"\"endpointOutput\":{")?;
        payload(&mut c, b"OUTPUT")?;
        any = true;
    }
    if !any {
        return None;
    }
    c.lit(b"},\"eventMetadata\":{\"eventId\":")?;
    let id = c.plain_string()?;
    if id.is_empty() || id.len() > MAX_ID {
        return None;
    }
    if c.peek_lit(b",\"inferenceId\":") {
        c.lit(b",\"inferenceId\":")?;
        let id = c.plain_string()?;
        if id.is_empty() || id.len() > MAX_ID {
            return None;
        }
    }
    c.lit(b",\"inferenceTime\":")?;
    let time = c.plain_string()?;
    let ms = mw_model::time::parse_iso8601(std::str::from_utf8(time).ok()?)?;
    if c.peek_lit(b",\"customAttributes\":") {
        c.lit(b",\"customAttributes\":")?;
        c.string()?;
    }
    c.lit(b"},\"eventVersion\":\"")?;
    c.lit(EVENT_VERSION.as_bytes())?;
    c.lit(b"\"}")?;
    (c.i == line.len()).then_some(ms)
}

/// `"observedContentType":S,"mode":M,"data":S,"encoding":E}` of one slot.
fn payload(c: &mut Cursor<'_>, mode: &[u8]) -> Option<()> {
    c.lit(b"\"observedContentType\":")?;
    if c.plain_string()?.len() > 1024 {
        return None;
    }
    c.lit(b",\"mode\":\"")?;
    c.lit(mode)?;
    c.lit(b"\",\"data\":")?;
    let data = c.string()?;
    c.lit(b",\"encoding\":")?;
    let enc = Encoding::parse(std::str::from_utf8(c.plain_string()?).ok()?)?;
    if enc == Encoding::Base64 {
        // Base64 never needs an escape; one here is left to the full parser.
        let raw = data.raw.then_some(data.bytes)?;
        base64::engine::general_purpose::STANDARD.decode(raw).ok()?;
    }
    c.lit(b"}")
}

struct Str<'a> {
    bytes: &'a [u8],
    /// Holds no escape: `bytes` is the string's value.
    raw: bool,
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn peek_lit(&self, s: &[u8]) -> bool {
        self.b[self.i..].starts_with(s)
    }

    fn lit(&mut self, s: &[u8]) -> Option<()> {
        self.peek_lit(s).then(|| self.i += s.len())
    }

    /// A JSON string; escapes are checked, not decoded. `\u` escapes of
    /// surrogates (which must pair up) are left to the full parser.
    fn string(&mut self) -> Option<Str<'a>> {
        self.lit(b"\"")?;
        let start = self.i;
        let mut raw = true;
        loop {
            let &ch = self.b.get(self.i)?;
            match ch {
                b'"' => break,
                b'\\' => {
                    raw = false;
                    match *self.b.get(self.i + 1)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 2,
                        b'u' => {
                            let hex = self.b.get(self.i + 2..self.i + 6)?;
                            let v = u16::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
                            if !hex.iter().all(u8::is_ascii_hexdigit)
                                || (0xD800..0xE000).contains(&v)
                            {
                                return None;
                            }
                            self.i += 6;
                        }
                        _ => return None,
                    }
                }
                0..=0x1F => return None,
                _ => self.i += 1,
            }
        }
        let bytes = &self.b[start..self.i];
        self.i += 1;
        Some(Str { bytes, raw })
    }

    /// A string without escapes, as its value.
    fn plain_string(&mut self) -> Option<&'a [u8]> {
        let s = self.string()?;
        s.raw.then_some(s.bytes)
    }
}
