//! Header fields of one message on the request path.
//!
//! A request or response through a sidecar carries a handful of fields,
//! each looked at once or twice, and most are never forwarded. [`Fields`]
//! keeps a parsed head's fields as ranges into the head's bytes, shared
//! with the message rather than copied, with no `HeaderName` or
//! `HeaderValue` built for them. Each field's name is told apart once, as
//! it is read: one of the few [`Name`]s the request path looks for, or
//! [`Name::Other`]. A lookup is then a scan that compares one byte per
//! field: no hash, no index to build, no string compared. A value becomes
//! a `HeaderValue` only when a caller asks for one. Fields added by the
//! proxy itself are kept as `HeaderName` / `HeaderValue` beside them.
//! `http::HeaderMap` is used only at the HTTP/2 boundary (hyper), converted
//! both ways.
//!
//! The raw fields' names and values were checked by the HTTP/1.1 parser
//! (httparse: a name is token characters, a value is visible ASCII, spaces,
//! tabs and obs-text), the same rules `HeaderName` and `HeaderValue`
//! enforce, so every one of them converts. Names keep the case they came
//! in (HTTP/1.1 names are case-insensitive); `HeaderName`s are lowercase.

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;
use std::ops::Range;

/// The header fields the request path looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Name {
    ContentType,
    ContentLength,
    Accept,
    Host,
    Connection,
    TransferEncoding,
    Expect,
    KeepAlive,
    ProxyAuthenticate,
    ProxyAuthorization,
    ProxyConnection,
    Te,
    Trailer,
    Upgrade,
    Http2Settings,
    /// `X-Amzn-SageMaker-Custom-Attributes`
    CustomAttributes,
    /// `X-Amzn-SageMaker-Inference-Id`
    InferenceId,
    /// `X-Amzn-SageMaker-Target-Variant`
    TargetVariant,
    /// `X-Amzn-SageMaker-Target-Model`
    TargetModel,
    /// Any other name.
    Other,
}

/// Each [`Name`] but `Other`, in lowercase.
const KNOWN: [(&str, Name); 19] = [
    ("content-type", Name::ContentType),
    ("content-length", Name::ContentLength),
    ("accept", Name::Accept),
    ("host", Name::Host),
    ("connection", Name::Connection),
    ("transfer-encoding", Name::TransferEncoding),
    ("expect", Name::Expect),
    ("keep-alive", Name::KeepAlive),
    ("proxy-authenticate", Name::ProxyAuthenticate),
    ("proxy-authorization", Name::ProxyAuthorization),
    ("proxy-connection", Name::ProxyConnection),
    ("te", Name::Te),
    ("trailer", Name::Trailer),
    ("upgrade", Name::Upgrade),
    ("http2-settings", Name::Http2Settings),
    ("x-amzn-sagemaker-custom-attributes", Name::CustomAttributes),
    ("x-amzn-sagemaker-inference-id", Name::InferenceId),
    ("x-amzn-sagemaker-target-variant", Name::TargetVariant),
    ("x-amzn-sagemaker-target-model", Name::TargetModel),
];

/// For each name length, where in [`KNOWN`] the names of that length are
/// (at most two; `NONE` for none), so that a name is compared with those
/// only. Built from `KNOWN` when compiling (a longer name, or a third of
/// one length, fails the build).
const BY_LEN: [[u8; 2]; 35] = by_len();
const NONE: u8 = u8::MAX;

const fn by_len() -> [[u8; 2]; 35] {
    let mut out = [[NONE; 2]; 35];
    let mut i = 0;
    while i < KNOWN.len() {
        let slot = &mut out[KNOWN[i].0.len()];
        if slot[0] == NONE {
            slot[0] = i as u8;
        } else if slot[1] == NONE {
            slot[1] = i as u8;
        } else {
            panic!("more than two known names of one length");
        }
        i += 1;
    }
    out
}

/// Whether `name` (token characters, any case) is `lower` (of the same
/// length, made of lowercase letters, digits and `-`). Setting bit 5 of a
/// token character gives `lower`'s byte only for that byte in either case:
/// the other byte that would match, `0x0d` for `-` or `0x10`–`0x19` for a
/// digit, is a control character, never part of a token.
fn eq_lower(name: &[u8], lower: &[u8]) -> bool {
    const BIT5: u64 = 0x2020_2020_2020_2020;
    let n = lower.len();
    if name.len() != n {
        return false;
    }
    if n < 8 {
        return name.iter().zip(lower).all(|(a, b)| a | 0x20 == *b);
    }
    let word = |s: &[u8], i: usize| u64::from_ne_bytes(s[i..i + 8].try_into().unwrap_or([0; 8]));
    let mut i = 0;
    while i + 8 < n {
        if word(name, i) | BIT5 != word(lower, i) {
            return false;
        }
        i += 8;
    }
    // The last eight bytes, overlapping the words before.
    word(name, n - 8) | BIT5 == word(lower, n - 8)
}

impl Name {
    /// The name `name` is: token characters (as a parser or `HeaderName`
    /// checked them), in any case.
    pub fn of(name: &[u8]) -> Name {
        // The candidates of this length, told apart by their last byte.
        let Some(candidates) = BY_LEN.get(name.len()) else {
            return Name::Other;
        };
        let Some(last) = name.last().map(|b| b | 0x20) else {
            return Name::Other;
        };
        for &i in candidates {
            let Some((k, n)) = KNOWN.get(usize::from(i)) else {
                break;
            };
            let k = k.as_bytes();
            if k[k.len() - 1] == last && eq_lower(name, k) {
                return *n;
            }
        }
        Name::Other
    }

    /// This name's bit in a set of names.
    fn bit(self) -> u32 {
        1 << self as u32
    }

    /// The name in lowercase (`None` for `Other`).
    #[cfg(test)]
    fn as_str(self) -> Option<&'static str> {
        KNOWN.iter().find(|(_, n)| *n == self).map(|(k, _)| *k)
    }

    /// A field of one connection, never forwarded: the hop-by-hop fields,
    /// and the framing and host that each hop sets anew.
    pub fn hop_by_hop(self) -> bool {
        matches!(
            self,
            Name::Connection
                | Name::KeepAlive
                | Name::ProxyAuthenticate
                | Name::ProxyAuthorization
                | Name::ProxyConnection
                | Name::Te
                | Name::Trailer
                | Name::TransferEncoding
                | Name::Upgrade
                | Name::Host
                | Name::ContentLength
                | Name::Http2Settings
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Field {
    /// A field of the head: its name, and where name and value lie in it.
    At {
        id: Name,
        name: Range<u32>,
        value: Range<u32>,
    },
    /// A field given whole.
    Own(Name, HeaderName, HeaderValue),
    /// A short text value made by the proxy (a request id), kept inline:
    /// no allocation, no `HeaderValue` to build.
    Inline(Name, HeaderName, Inline),
}

/// Most bytes of an inline value.
const INLINE: usize = 40;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Inline {
    bytes: [u8; INLINE],
    len: u8,
}

/// Header fields in the order they came; a name may repeat.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields {
    /// The bytes that `Field::At` ranges point into.
    head: Bytes,
    list: Vec<Field>,
    /// The names present (bits of [`Name::bit`]): most lookups are of a
    /// field that is absent, answered without a scan.
    present: u32,
}

/// Whether `v` is what `HeaderValue::to_str` accepts: visible ASCII and tabs.
pub(crate) fn is_text(v: &[u8]) -> bool {
    // Every byte looked at, without a branch: a loop the compiler vectorizes.
    v.iter().fold(true, |ok, &b| {
        ok & ((b == b'\t') | (b.wrapping_sub(0x20) < 0x5f))
    })
}

/// A `Content-Length` value: 1 to 19 digits (no sign, no list), spaces
/// around them allowed.
pub fn decimal(v: &[u8]) -> Option<u64> {
    let v = v.trim_ascii();
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

impl Field {
    fn id(&self) -> Name {
        match self {
            Field::At { id, .. } | Field::Own(id, ..) | Field::Inline(id, ..) => *id,
        }
    }
}

impl Fields {
    pub fn new() -> Fields {
        Fields::default()
    }

    pub fn with_capacity(n: usize) -> Fields {
        Fields {
            head: Bytes::new(),
            list: Vec::with_capacity(n),
            present: 0,
        }
    }

    /// The fields httparse found in `base` (each name and value a slice
    /// of `base`), named, with room for two more. Their ranges point into
    /// `base`: the fields are of no use until [`Fields::with_head`] gives
    /// them those bytes (so that the head can be split off the read
    /// buffer after this, and shared without a copy). The parser checked
    /// names and values (see the module's notes).
    pub fn parsed(base: &[u8], found: &[httparse::Header<'_>]) -> Fields {
        // (A slice from elsewhere would give a range `with_head` drops.)
        let at = |part: &[u8]| (part.as_ptr() as usize).wrapping_sub(base.as_ptr() as usize);
        let mut list = Vec::with_capacity(found.len() + 2);
        let mut present = 0;
        for h in found {
            let (n, v) = (at(h.name.as_bytes()), at(h.value));
            let id = Name::of(h.name.as_bytes());
            present |= id.bit();
            let range = |start: usize, len: usize| {
                let start = u32::try_from(start).unwrap_or(u32::MAX);
                start..start.saturating_add(len as u32)
            };
            list.push(Field::At {
                id,
                name: range(n, h.name.len()),
                value: range(v, h.value.len()),
            });
        }
        Fields {
            head: Bytes::new(),
            list,
            present,
        }
    }

    /// These fields with `head` as the bytes their ranges point into; a
    /// field that does not lie inside it is dropped.
    pub fn with_head(mut self, head: Bytes) -> Fields {
        let end = head.len().min(u32::MAX as usize) as u32;
        let fits = |f: &Field| match f {
            Field::At { name, value, .. } => {
                name.start < name.end
                    && name.end <= end
                    && value.start <= value.end
                    && value.end <= end
            }
            _ => true,
        };
        // Checked first, so that fields that all fit (every parsed head's)
        // are not moved.
        if !self.list.iter().all(fits) {
            self.list.retain(fits);
            self.present = self.list.iter().fold(0, |p, f| p | f.id().bit());
        }
        self.head = head;
        self
    }

    /// The bytes the parsed fields lie in (the whole head they came in).
    pub fn head(&self) -> &Bytes {
        &self.head
    }

    fn name_of<'a>(&'a self, f: &'a Field) -> &'a [u8] {
        match f {
            Field::At { name, .. } => &self.head[name.start as usize..name.end as usize],
            Field::Own(_, n, _) | Field::Inline(_, n, _) => n.as_str().as_bytes(),
        }
    }

    fn value_of<'a>(&'a self, f: &'a Field) -> &'a [u8] {
        match f {
            Field::At { value, .. } => &self.head[value.start as usize..value.end as usize],
            Field::Own(_, _, v) => v.as_bytes(),
            Field::Inline(_, _, v) => &v.bytes[..v.len as usize],
        }
    }

    /// The field's value as a `HeaderValue`, sharing the head's bytes.
    fn header_value(&self, f: &Field) -> Option<HeaderValue> {
        match f {
            Field::At { value, .. } => HeaderValue::from_maybe_shared(
                self.head.slice(value.start as usize..value.end as usize),
            )
            .ok(),
            Field::Own(_, _, v) => Some(v.clone()),
            Field::Inline(_, _, v) => HeaderValue::from_bytes(&v.bytes[..v.len as usize]).ok(),
        }
    }

    fn find(&self, name: Name) -> Option<&Field> {
        if self.present & name.bit() == 0 {
            return None;
        }
        self.list.iter().find(|f| f.id() == name)
    }

    fn push(&mut self, f: Field) {
        self.present |= f.id().bit();
        self.list.push(f);
    }

    /// Adds a field after the others (another value of a name already
    /// present is kept beside it, as `HeaderMap::append`).
    pub fn append(&mut self, name: HeaderName, value: HeaderValue) {
        let id = Name::of(name.as_str().as_bytes());
        self.push(Field::Own(id, name, value));
    }

    /// Adds a field whose value is text (visible ASCII) made on the spot,
    /// kept inline when short. A value that is not text is not added
    /// (`false`).
    pub fn append_text(&mut self, name: HeaderName, value: &[u8]) -> bool {
        if !is_text(value) {
            return false;
        }
        let id = Name::of(name.as_str().as_bytes());
        if value.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..value.len()].copy_from_slice(value);
            let len = value.len() as u8;
            self.push(Field::Inline(id, name, Inline { bytes, len }));
        } else if let Ok(v) = HeaderValue::from_bytes(value) {
            self.push(Field::Own(id, name, v));
        }
        true
    }

    /// The first value of `name`, as it came.
    pub fn get(&self, name: Name) -> Option<&[u8]> {
        self.find(name).map(|f| self.value_of(f))
    }

    /// The first value of `name` as text (`None` when absent or not visible ASCII).
    pub fn get_str(&self, name: Name) -> Option<&str> {
        self.get(name)
            .filter(|v| is_text(v))
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The first value of `name`, shared rather than copied.
    pub fn get_value(&self, name: Name) -> Option<HeaderValue> {
        self.find(name).and_then(|f| self.header_value(f))
    }

    /// The first value of `name`, when it is text (visible ASCII), shared rather than copied.
    pub fn get_text(&self, name: Name) -> Option<HeaderValue> {
        self.find(name)
            .filter(|f| is_text(self.value_of(f)))
            .and_then(|f| self.header_value(f))
    }

    pub fn contains(&self, name: Name) -> bool {
        self.find(name).is_some()
    }

    /// Keeps only the first field of each of `names`.
    pub fn keep_first(&mut self, names: &[Name]) {
        let mut seen = 0u32;
        self.list.retain(|f| {
            let id = f.id();
            let keep = seen & id.bit() == 0 && names.contains(&id);
            if keep {
                seen |= id.bit();
            }
            keep
        });
        self.present = seen;
    }

    /// Keeps the fields for which `keep` holds of the name.
    pub fn retain(&mut self, mut keep: impl FnMut(Name) -> bool) {
        self.list.retain(|f| keep(f.id()));
        self.present = self.list.iter().fold(0, |p, f| p | f.id().bit());
    }

    /// Each field's name (as it came) and value.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.list
            .iter()
            .map(|f| (self.name_of(f), self.value_of(f)))
    }

    /// Each field's [`Name`] and value.
    pub fn iter_named(&self) -> impl Iterator<Item = (Name, &[u8])> {
        self.list.iter().map(|f| (f.id(), self.value_of(f)))
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The same fields in a `HeaderMap` (values of a name stay in order;
    /// names in lowercase). A field that would not convert is left out; the
    /// parser lets none through.
    pub fn into_header_map(self) -> HeaderMap {
        let mut h = HeaderMap::with_capacity(self.list.len());
        for f in &self.list {
            match f {
                Field::Own(_, n, v) => {
                    h.append(n.clone(), v.clone());
                }
                Field::Inline(_, n, _) => {
                    if let Some(v) = self.header_value(f) {
                        h.append(n.clone(), v);
                    }
                }
                Field::At { name, .. } => {
                    let n = &self.head[name.start as usize..name.end as usize];
                    if let (Ok(n), Some(v)) = (HeaderName::from_bytes(n), self.header_value(f)) {
                        h.append(n, v);
                    }
                }
            }
        }
        h
    }
}

impl From<HeaderMap> for Fields {
    fn from(h: HeaderMap) -> Fields {
        let mut out = Fields::with_capacity(h.len());
        let mut last: Option<HeaderName> = None;
        // `HeaderMap::into_iter` names only the first value of each name.
        for (n, v) in h {
            if let Some(n) = n {
                last = Some(n);
            }
            if let Some(n) = &last {
                out.append(n.clone(), v);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{CONTENT_LENGTH, CONTENT_TYPE, SET_COOKIE};

    fn v(s: &'static str) -> HeaderValue {
        HeaderValue::from_static(s)
    }

    /// Fields of a head given as text, as the parser finds them.
    fn parsed(lines: &[(&str, &str)]) -> Fields {
        let mut head = Vec::new();
        for (n, val) in lines {
            head.extend_from_slice(format!("{n}: {val}\r\n").as_bytes());
        }
        head.extend_from_slice(b"\r\n");
        let mut slots = [httparse::EMPTY_HEADER; 16];
        let found = match httparse::parse_headers(&head, &mut slots) {
            Ok(httparse::Status::Complete((_, found))) => found,
            other => panic!("{other:?}"),
        };
        let f = Fields::parsed(&head, found);
        f.with_head(Bytes::from(head))
    }

    fn pairs(f: &Fields) -> Vec<(String, String)> {
        f.iter()
            .map(|(n, v)| {
                let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                (s(n), s(v))
            })
            .collect()
    }

    #[test]
    fn names_are_told_apart_in_any_case() {
        for (k, n) in KNOWN {
            assert_eq!(Name::of(k.as_bytes()), n);
            assert_eq!(Name::of(k.to_uppercase().as_bytes()), n);
            assert_eq!(n.as_str(), Some(k));
        }
        assert_eq!(Name::of(b"Content-Type"), Name::ContentType);
        for other in [
            &b"content-typ"[..],
            b"content-types",
            b"x-amzn-requestid",
            b"",
            b"t",
        ] {
            assert_eq!(Name::of(other), Name::Other, "{other:?}");
        }
        assert_eq!(Name::Other.as_str(), None);
        // Every token character in every place of every name: only the
        // name's own letters, in either case, make it.
        let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        for (k, n) in KNOWN {
            for i in 0..k.len() {
                for b in (0..=255u8).filter(|b| token(*b)) {
                    let mut m = k.as_bytes().to_vec();
                    m[i] = b;
                    let same = b.to_ascii_lowercase() == k.as_bytes()[i];
                    assert_eq!(Name::of(&m) == n, same, "{k} with {:?} at {i}", b as char);
                }
            }
        }
        let hop: Vec<_> = KNOWN
            .iter()
            .filter(|(_, n)| n.hop_by_hop())
            .map(|(k, _)| *k)
            .collect();
        assert_eq!(
            hop,
            [
                "content-length",
                "host",
                "connection",
                "transfer-encoding",
                "keep-alive",
                "proxy-authenticate",
                "proxy-authorization",
                "proxy-connection",
                "te",
                "trailer",
                "upgrade",
                "http2-settings"
            ]
        );
    }

    #[test]
    fn text_is_what_header_values_call_text() {
        for b in 0..=255u8 {
            let to_str = HeaderValue::from_bytes(&[b]).is_ok_and(|v| v.to_str().is_ok());
            assert_eq!(is_text(&[b]), to_str, "{b:#x}");
            assert_eq!(is_text(&[b'a', b, b'z']), to_str, "{b:#x}");
        }
        assert!(is_text(b"") && is_text(b"text/csv; charset=utf-8\t"));
    }

    #[test]
    fn decimals_are_digits_only() {
        for (v, want) in [
            (&b"0"[..], Some(0)),
            (b"42", Some(42)),
            (b" 6291456 ", Some(6_291_456)),
            (b"9999999999999999999", Some(9_999_999_999_999_999_999)),
            (b"18446744073709551615", None),
            (b"", None),
            (b" ", None),
            (b"+5", None),
            (b"-1", None),
            (b"5, 5", None),
            (b"0x10", None),
            (b"1.0", None),
        ] {
            assert_eq!(decimal(v), want, "{:?}", String::from_utf8_lossy(v));
            if let Some(n) = want {
                assert_eq!(
                    std::str::from_utf8(v).unwrap().trim().parse::<u64>().ok(),
                    Some(n)
                );
            }
        }
    }

    #[test]
    fn fields_keep_order_and_repeated_names() {
        let mut f = Fields::new();
        f.append(SET_COOKIE, v("a=1"));
        f.append(CONTENT_TYPE, v("text/csv"));
        f.append(SET_COOKIE, v("b=2"));
        assert_eq!(f.get(Name::Other), Some(&b"a=1"[..]));
        assert_eq!(f.get_str(Name::ContentType), Some("text/csv"));
        assert_eq!(f.get_text(Name::ContentType), Some(v("text/csv")));
        assert_eq!(
            pairs(&f),
            [
                ("set-cookie".into(), "a=1".into()),
                ("content-type".into(), "text/csv".into()),
                ("set-cookie".into(), "b=2".into())
            ]
        );
        f.retain(|n| n != Name::ContentType);
        assert!(!f.contains(Name::ContentType) && f.len() == 2);
        assert_eq!(f.get(Name::Other), Some(&b"a=1"[..]));
    }

    #[test]
    fn parsed_fields_share_the_head_and_convert() {
        let mut f = parsed(&[
            ("Content-Type", "text/csv"),
            ("X-Amzn-SageMaker-Custom-Attributes", "a=1"),
            ("SET-COOKIE", "x=1"),
            ("set-cookie", "y=2"),
            ("Content-Length", "caf\u{e9}"),
        ]);
        assert_eq!(f.len(), 5);
        assert_eq!(f.get_str(Name::ContentType), Some("text/csv"));
        assert_eq!(f.get_text(Name::ContentType), Some(v("text/csv")));
        assert_eq!(f.get_value(Name::CustomAttributes), Some(v("a=1")));
        assert_eq!(f.get(Name::Other), Some(&b"x=1"[..]));
        // Not text: found, but not as text.
        let len = Name::ContentLength;
        assert!(f.get(len).is_some() && f.get_str(len).is_none() && f.get_text(len).is_none());
        assert!(f.get_value(len).is_some());
        assert!(!f.contains(Name::Accept) && f.get(Name::Accept).is_none());
        // Names as they came; values as they came.
        assert_eq!(pairs(&f)[0], ("Content-Type".into(), "text/csv".into()));
        assert!(f.head().starts_with(b"Content-Type: text/csv\r\n"));
        let named: Vec<_> = f.iter_named().map(|(n, _)| n).collect();
        assert_eq!(
            named,
            [
                Name::ContentType,
                Name::CustomAttributes,
                Name::Other,
                Name::Other,
                Name::ContentLength
            ]
        );

        // Keeping the first of some names shares the head, in the order they came.
        let mut p = f.clone();
        p.keep_first(&[Name::Other, Name::Accept, Name::ContentType]);
        assert_eq!(
            pairs(&p),
            [
                ("Content-Type".into(), "text/csv".into()),
                ("SET-COOKIE".into(), "x=1".into())
            ]
        );
        assert!(!p.contains(Name::CustomAttributes) && p.contains(Name::Other));

        // Own fields sit beside parsed ones.
        f.retain(|n| n != Name::ContentLength);
        f.append(CONTENT_LENGTH, v("3"));
        assert_eq!(f.get_str(Name::ContentLength), Some("3"));
        let id = HeaderName::from_static("x-amzn-requestid");
        let uuid = b"0f8fad5b-d9cb-469f-a165-70867728950e";
        assert!(f.append_text(id.clone(), uuid));
        assert!(!f.append_text(id.clone(), b"a\nb"));
        let long = "x".repeat(100);
        assert!(f.append_text(HeaderName::from_static("x-long"), long.as_bytes()));
        let tail: Vec<_> = pairs(&f).into_iter().skip(4).collect();
        assert_eq!(
            tail,
            [
                ("content-length".into(), "3".into()),
                (
                    "x-amzn-requestid".into(),
                    String::from_utf8(uuid.to_vec()).unwrap()
                ),
                ("x-long".into(), long.clone())
            ]
        );

        // Into a HeaderMap: lowercase names, every value.
        let h = f.into_header_map();
        assert_eq!(h.len(), 7);
        assert_eq!(h.get(&id).unwrap().as_bytes(), uuid);
        assert_eq!(h.get("x-long").unwrap().as_bytes(), long.as_bytes());
        assert_eq!(h.get("content-type").unwrap(), "text/csv");
        assert_eq!(h.get("x-amzn-sagemaker-custom-attributes").unwrap(), "a=1");
        let cookies: Vec<_> = h.get_all(SET_COOKIE).iter().collect();
        assert_eq!(cookies, [&v("x=1"), &v("y=2")]);
        assert_eq!(h.get(CONTENT_LENGTH).unwrap(), "3");
    }

    #[test]
    fn ranges_outside_the_head_are_skipped() {
        let text = b"A: b\r\nLong: value\r\n\r\n";
        let mut slots = [httparse::EMPTY_HEADER; 4];
        let Ok(httparse::Status::Complete((_, found))) = httparse::parse_headers(text, &mut slots)
        else {
            panic!("not parsed")
        };
        let f = Fields::parsed(text, found).with_head(Bytes::from_static(b"A: b\r\nLong: va"));
        assert_eq!(pairs(&f), [("A".into(), "b".into())]);
        assert_eq!(f.len(), 1);
    }

    #[test]
    fn header_maps_convert_both_ways_with_every_value() {
        let mut h = HeaderMap::new();
        h.append(SET_COOKIE, v("a=1"));
        h.append(SET_COOKIE, v("b=2"));
        h.append(CONTENT_TYPE, v("text/csv"));
        let f = Fields::from(h.clone());
        assert_eq!(f.len(), 3);
        assert_eq!(f.get_str(Name::ContentType), Some("text/csv"));
        let back = f.into_header_map();
        assert_eq!(back, h);
        let cookies: Vec<_> = back.get_all(SET_COOKIE).iter().collect();
        assert_eq!(cookies, [&v("a=1"), &v("b=2")]);
    }
}
