//! Header fields of one message on the request path.
//!
//! A request or response through a sidecar carries a handful of fields,
//! each looked at once or twice. [`Fields`] keeps them as they came, in a
//! vector, and finds one by a scan: no hash per field, no index to build,
//! one allocation. `http::HeaderMap` is used only at the HTTP/2 boundary
//! (hyper), converted both ways.

use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;

/// Header fields in the order they came; a name may repeat.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields(Vec<(HeaderName, HeaderValue)>);

impl Fields {
    pub fn new() -> Fields {
        Fields(Vec::new())
    }

    pub fn with_capacity(n: usize) -> Fields {
        Fields(Vec::with_capacity(n))
    }

    /// Adds a field after the others (another value of a name already
    /// present is kept beside it, as `HeaderMap::append`).
    pub fn append(&mut self, name: HeaderName, value: HeaderValue) {
        self.0.push((name, value));
    }

    /// The first value of `name`.
    pub fn get(&self, name: &HeaderName) -> Option<&HeaderValue> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The first value of `name` as text (`None` when absent or not visible ASCII).
    pub fn get_str(&self, name: &HeaderName) -> Option<&str> {
        self.get(name).and_then(|v| v.to_str().ok())
    }

    /// The first value of `name`, when it is text (visible ASCII), shared rather than copied.
    pub fn get_text(&self, name: &HeaderName) -> Option<HeaderValue> {
        self.get(name).filter(|v| v.to_str().is_ok()).cloned()
    }

    pub fn contains(&self, name: &HeaderName) -> bool {
        self.get(name).is_some()
    }

    /// Keeps the fields for which `keep` holds.
    pub fn retain(&mut self, mut keep: impl FnMut(&HeaderName) -> bool) {
        self.0.retain(|(n, _)| keep(n));
    }

    pub fn iter(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.0.iter().map(|(n, v)| (n, v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The same fields in a `HeaderMap` (values of a name stay in order).
    pub fn into_header_map(self) -> HeaderMap {
        let mut h = HeaderMap::with_capacity(self.0.len());
        for (n, v) in self.0 {
            h.append(n, v);
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
    use http::header::{CONTENT_TYPE, SET_COOKIE};

    fn v(s: &'static str) -> HeaderValue {
        HeaderValue::from_static(s)
    }

    #[test]
    fn fields_keep_order_and_repeated_names() {
        let mut f = Fields::new();
        f.append(SET_COOKIE, v("a=1"));
        f.append(CONTENT_TYPE, v("text/csv"));
        f.append(SET_COOKIE, v("b=2"));
        assert_eq!(f.get(&SET_COOKIE), Some(&v("a=1")));
        assert_eq!(f.get_str(&CONTENT_TYPE), Some("text/csv"));
        assert_eq!(f.get_text(&CONTENT_TYPE), Some(v("text/csv")));
        f.append(
            HeaderName::from_static("x-bin"),
            HeaderValue::from_bytes(b"caf\xe9").unwrap(),
        );
        assert_eq!(f.get_text(&HeaderName::from_static("x-bin")), None);
        f.retain(|n| n != "x-bin");
        let names: Vec<_> = f.iter().map(|(n, v)| (n.as_str(), v.clone())).collect();
        assert_eq!(
            names,
            [
                ("set-cookie", v("a=1")),
                ("content-type", v("text/csv")),
                ("set-cookie", v("b=2"))
            ]
        );
        f.retain(|n| n != CONTENT_TYPE);
        assert!(!f.contains(&CONTENT_TYPE) && f.len() == 2);
        assert_eq!(f.get(&SET_COOKIE), Some(&v("a=1")));
    }

    #[test]
    fn header_maps_convert_both_ways_with_every_value() {
        let mut h = HeaderMap::new();
        h.append(SET_COOKIE, v("a=1"));
        h.append(SET_COOKIE, v("b=2"));
        h.append(CONTENT_TYPE, v("text/csv"));
        let f = Fields::from(h.clone());
        assert_eq!(f.len(), 3);
        let back = f.into_header_map();
        assert_eq!(back, h);
        let cookies: Vec<_> = back.get_all(SET_COOKIE).iter().collect();
        assert_eq!(cookies, [&v("a=1"), &v("b=2")]);
    }
}
