//! The SEARCH query language: [`SearchExpr`] parses `{Namespace,Dim,...} terms` and
//! decides whether one [`MetricKey`] matches.
//!
//! - The optional schema `{Namespace, DimName, ...}` keeps only metrics of that
//!   namespace whose dimension names are exactly the listed ones. Names may be
//!   double-quoted (`{"My Space", "Dim Name"}`).
//! - A bare term matches the metric name, the namespace, a dimension name or a
//!   dimension value when it equals one of its tokens ignoring case (see
//!   [`tokenize`]), or when it occurs in it with the same case, starting and ending
//!   at token boundaries (so `CustomCount` matches `CustomCount1` but
//!   `customCount` does not).
//! - `"exact phrase"` must equal a whole name or value; `\"`, `\\`, `\(` and `\)`
//!   are escapes.
//! - `MetricName=`, `Namespace=` and `<DimName>=` restrict a term to one property;
//!   the value may be bare (token match) or quoted (exact).
//! - `AND` (also implicit between terms), `OR`, `NOT` (all case-sensitive) and
//!   parentheses combine terms; `NOT` binds tightest, then `AND`, then `OR`.

use mw_model::MetricKey;

use crate::error::QueryError;

/// Longest search query accepted.
pub const MAX_SEARCH_CHARS: usize = 1024;

/// Deepest nesting of parentheses and `NOT` accepted.
const MAX_DEPTH: usize = 100;

/// A parsed SEARCH query.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchExpr {
    text: String,
    schema: Option<Schema>,
    filter: Option<Node>,
}

#[derive(Debug, Clone, PartialEq)]
struct Schema {
    namespace: String,
    /// Sorted and without duplicates.
    dimensions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
    Term(Target, Pattern),
}

/// Which part of a metric a term looks at.
#[derive(Debug, Clone, PartialEq)]
enum Target {
    Any,
    MetricName,
    Namespace,
    Dimension(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Pattern {
    /// A bare term: token match.
    Partial(String),
    /// A quoted term: the whole text.
    Exact(String),
}

impl SearchExpr {
    /// Parses a search query. Errors name the 1-based character position.
    pub fn parse(s: &str) -> Result<SearchExpr, QueryError> {
        let chars: Vec<char> = s.chars().collect();
        if chars.len() > MAX_SEARCH_CHARS {
            return Err(QueryError::TooLong {
                what: "a search query",
                max: MAX_SEARCH_CHARS,
            });
        }
        let mut i = skip_ws(&chars, 0);
        let schema = if chars.get(i) == Some(&'{') {
            let (schema, next) = parse_schema(&chars, i)?;
            i = next;
            Some(schema)
        } else {
            None
        };
        let toks = lex(&chars, i)?;
        let mut parser = Parser {
            toks,
            at: 0,
            depth: 0,
            end: chars.len() + 1,
        };
        let filter = if parser.toks.is_empty() {
            None
        } else {
            let node = parser.or()?;
            if let Some(t) = parser.toks.get(parser.at) {
                return Err(QueryError::search_syntax(
                    t.pos,
                    format!("unexpected {}", t.tok.describe()),
                ));
            }
            Some(node)
        };
        if schema.is_none() && filter.is_none() {
            return Err(QueryError::search_syntax(1, "empty search expression"));
        }
        Ok(SearchExpr {
            text: s.to_string(),
            schema,
            filter,
        })
    }

    /// Whether the metric is in the schema (when there is one) and satisfies the terms.
    pub fn matches(&self, key: &MetricKey) -> bool {
        if let Some(schema) = &self.schema {
            if key.namespace != schema.namespace
                || key.dimensions().len() != schema.dimensions.len()
                || key
                    .dimensions()
                    .iter()
                    .zip(&schema.dimensions)
                    .any(|(d, name)| d.name != *name)
            {
                return false;
            }
        }
        self.filter.as_ref().is_none_or(|f| f.matches(key))
    }

    /// The query text as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The schema's namespace, when the query has a schema.
    pub fn namespace(&self) -> Option<&str> {
        self.schema.as_ref().map(|s| s.namespace.as_str())
    }

    /// The schema's dimension names, sorted, when the query has a schema.
    pub fn schema_dimensions(&self) -> Option<&[String]> {
        self.schema.as_ref().map(|s| s.dimensions.as_slice())
    }
}

impl Node {
    fn matches(&self, key: &MetricKey) -> bool {
        match self {
            Node::And(a, b) => a.matches(key) && b.matches(key),
            Node::Or(a, b) => a.matches(key) || b.matches(key),
            Node::Not(a) => !a.matches(key),
            Node::Term(target, pattern) => match target {
                Target::Any => {
                    pattern.matches(&key.name)
                        || pattern.matches(&key.namespace)
                        || key
                            .dimensions()
                            .iter()
                            .any(|d| pattern.matches(&d.name) || pattern.matches(&d.value))
                }
                Target::MetricName => pattern.matches(&key.name),
                Target::Namespace => pattern.matches(&key.namespace),
                Target::Dimension(name) => key.dimension(name).is_some_and(|v| pattern.matches(v)),
            },
        }
    }
}

impl Pattern {
    fn matches(&self, text: &str) -> bool {
        match self {
            Pattern::Exact(s) => s == text,
            Pattern::Partial(term) => partial_match(term, text),
        }
    }
}

/// A range of character indices, end excluded.
type Span = (usize, usize);

/// Splits text into alphanumeric words, and each word into parts at camel-case
/// boundaries (`aB`, `ABc`) and digit runs.
fn words_and_parts(chars: &[char]) -> Vec<(Span, Vec<Span>)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_alphanumeric() {
            i += 1;
        }
        let mut parts = Vec::new();
        let mut part_start = start;
        for j in start + 1..i {
            let (prev, cur) = (chars[j - 1], chars[j]);
            let next = chars.get(j + 1).copied().filter(|_| j + 1 < i);
            let boundary = (prev.is_lowercase() && cur.is_uppercase())
                || (prev.is_numeric() != cur.is_numeric())
                || (prev.is_uppercase()
                    && cur.is_uppercase()
                    && next.is_some_and(char::is_lowercase));
            if boundary {
                parts.push((part_start, j));
                part_start = j;
            }
        }
        parts.push((part_start, i));
        out.push(((start, i), parts));
    }
    out
}

/// The search tokens of a name or value, lowercased: each alphanumeric word, then
/// its camel-case and digit-run parts when there are several.
/// `CustomCount1` gives `customcount1`, `custom`, `count`, `1`.
pub fn tokenize(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let text = |(a, b): Span| chars[a..b].iter().collect::<String>().to_lowercase();
    let mut out: Vec<String> = Vec::new();
    for (word, parts) in words_and_parts(&chars) {
        let mut add = |t: String| {
            if !out.contains(&t) {
                out.push(t);
            }
        };
        add(text(word));
        if parts.len() > 1 {
            for part in parts {
                add(text(part));
            }
        }
    }
    out
}

/// A bare term against one name or value: equal to one of its tokens ignoring
/// case, or found in it with the same case from one token boundary to another.
fn partial_match(term: &str, text: &str) -> bool {
    let lower = term.to_lowercase();
    if tokenize(text).contains(&lower) {
        return true;
    }
    let t: Vec<char> = term.chars().collect();
    let c: Vec<char> = text.chars().collect();
    if t.is_empty() || t.len() > c.len() {
        return false;
    }
    let mut bounds = vec![false; c.len() + 1];
    for (_, parts) in words_and_parts(&c) {
        for (a, b) in parts {
            bounds[a] = true;
            bounds[b] = true;
        }
    }
    (0..=c.len() - t.len()).any(|i| bounds[i] && bounds[i + t.len()] && c[i..i + t.len()] == t[..])
}

fn skip_ws(chars: &[char], mut i: usize) -> usize {
    while chars.get(i).is_some_and(|c| c.is_whitespace()) {
        i += 1;
    }
    i
}

/// Reads a double-quoted string at `start`; returns its text and the index after it.
fn read_quoted(chars: &[char], start: usize) -> Result<(String, usize), QueryError> {
    let mut s = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' if i + 1 < chars.len() => {
                s.push(chars[i + 1]);
                i += 2;
            }
            '"' => return Ok((s, i + 1)),
            c => {
                s.push(c);
                i += 1;
            }
        }
    }
    Err(QueryError::search_syntax(
        start + 1,
        "unterminated quoted string",
    ))
}

/// Parses `{Namespace, Dim, ...}` at `start`; returns it and the index after `}`.
fn parse_schema(chars: &[char], start: usize) -> Result<(Schema, usize), QueryError> {
    let mut names = Vec::new();
    let mut i = start + 1;
    loop {
        i = skip_ws(chars, i);
        let item_pos = i + 1;
        let name = if chars.get(i) == Some(&'"') {
            let (s, next) = read_quoted(chars, i)?;
            i = next;
            s
        } else {
            let mut s = String::new();
            while let Some(&c) = chars.get(i) {
                if c == ',' || c == '}' {
                    break;
                }
                if c == '\\' && i + 1 < chars.len() {
                    s.push(chars[i + 1]);
                    i += 2;
                    continue;
                }
                s.push(c);
                i += 1;
            }
            s.trim_end().to_string()
        };
        if name.is_empty() {
            return Err(QueryError::search_syntax(
                item_pos,
                "expected a name in the schema",
            ));
        }
        names.push(name);
        i = skip_ws(chars, i);
        match chars.get(i) {
            Some(',') => i += 1,
            Some('}') => break,
            Some(c) => {
                return Err(QueryError::search_syntax(
                    i + 1,
                    format!("expected ',' or '}}' in the schema, found '{c}'"),
                ))
            }
            None => {
                return Err(QueryError::search_syntax(
                    i + 1,
                    "expected '}' to close the schema",
                ))
            }
        }
    }
    let namespace = names.remove(0);
    names.sort();
    names.dedup();
    Ok((
        Schema {
            namespace,
            dimensions: names,
        },
        i + 1,
    ))
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    Eq,
    /// A bare word; `keyword` when it is an unescaped `AND`, `OR` or `NOT`.
    Word {
        text: String,
        keyword: bool,
    },
    Quoted(String),
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::LParen => "'('".to_string(),
            Tok::RParen => "')'".to_string(),
            Tok::Eq => "'='".to_string(),
            Tok::Word { text, .. } => format!("'{text}'"),
            Tok::Quoted(s) => format!("\"{s}\""),
        }
    }

    fn is_keyword(&self, k: &str) -> bool {
        matches!(self, Tok::Word { text, keyword: true } if text == k)
    }
}

struct Spanned {
    tok: Tok,
    pos: usize,
}

fn lex(chars: &[char], from: usize) -> Result<Vec<Spanned>, QueryError> {
    let mut out = Vec::new();
    let mut i = from;
    while i < chars.len() {
        let c = chars[i];
        let pos = i + 1;
        let tok = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => {
                i += 1;
                Tok::LParen
            }
            ')' => {
                i += 1;
                Tok::RParen
            }
            '=' => {
                i += 1;
                Tok::Eq
            }
            '"' => {
                let (s, next) = read_quoted(chars, i)?;
                i = next;
                Tok::Quoted(s)
            }
            '{' | '}' => {
                return Err(QueryError::search_syntax(
                    pos,
                    format!("unexpected '{c}': the schema must come first"),
                ))
            }
            _ => {
                let mut text = String::new();
                let mut escaped = false;
                while let Some(&c) = chars.get(i) {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '"' | '=') {
                        break;
                    }
                    if c == '\\' && i + 1 < chars.len() {
                        text.push(chars[i + 1]);
                        escaped = true;
                        i += 2;
                        continue;
                    }
                    text.push(c);
                    i += 1;
                }
                let keyword = !escaped && matches!(text.as_str(), "AND" | "OR" | "NOT");
                Tok::Word { text, keyword }
            }
        };
        out.push(Spanned { tok, pos });
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Spanned>,
    at: usize,
    depth: usize,
    /// Position just past the text, for errors at the end.
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|t| &t.tok)
    }

    fn pos(&self) -> usize {
        self.toks.get(self.at).map_or(self.end, |t| t.pos)
    }

    fn or(&mut self) -> Result<Node, QueryError> {
        let mut left = self.and()?;
        while self.peek().is_some_and(|t| t.is_keyword("OR")) {
            self.at += 1;
            let right = self.and()?;
            left = Node::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Node, QueryError> {
        let mut left = self.not()?;
        loop {
            match self.peek() {
                Some(t) if t.is_keyword("AND") => self.at += 1,
                Some(Tok::LParen | Tok::Quoted(_)) => {}
                Some(Tok::Word { keyword: false, .. }) => {}
                Some(t) if t.is_keyword("NOT") => {}
                _ => return Ok(left),
            }
            let right = self.not()?;
            left = Node::And(Box::new(left), Box::new(right));
        }
    }

    fn not(&mut self) -> Result<Node, QueryError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(QueryError::search_syntax(
                self.pos(),
                "search expression nested too deeply",
            ));
        }
        let node = if self.peek().is_some_and(|t| t.is_keyword("NOT")) {
            self.at += 1;
            Node::Not(Box::new(self.not()?))
        } else {
            self.primary()?
        };
        self.depth -= 1;
        Ok(node)
    }

    fn primary(&mut self) -> Result<Node, QueryError> {
        let pos = self.pos();
        let Some(tok) = self.peek().cloned() else {
            return Err(QueryError::search_syntax(pos, "expected a search term"));
        };
        self.at += 1;
        let first = match tok {
            Tok::LParen => {
                let node = self.or()?;
                if self.peek() != Some(&Tok::RParen) {
                    return Err(QueryError::search_syntax(self.pos(), "expected ')'"));
                }
                self.at += 1;
                return Ok(node);
            }
            Tok::Word {
                text,
                keyword: false,
            } => Pattern::Partial(text),
            Tok::Quoted(s) => Pattern::Exact(s),
            other => {
                return Err(QueryError::search_syntax(
                    pos,
                    format!("expected a search term, found {}", other.describe()),
                ))
            }
        };
        if self.peek() != Some(&Tok::Eq) {
            return Ok(Node::Term(Target::Any, first));
        }
        self.at += 1;
        let value_pos = self.pos();
        let value = match self.peek().cloned() {
            Some(Tok::Word {
                text,
                keyword: false,
            }) => Pattern::Partial(text),
            Some(Tok::Quoted(s)) => Pattern::Exact(s),
            _ => {
                return Err(QueryError::search_syntax(
                    value_pos,
                    "expected a value after '='",
                ))
            }
        };
        self.at += 1;
        let (Pattern::Partial(key) | Pattern::Exact(key)) = first;
        let target = match key.as_str() {
            "MetricName" => Target::MetricName,
            "Namespace" => Target::Namespace,
            _ => Target::Dimension(key),
        };
        Ok(Node::Term(target, value))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use mw_model::Dimension;

    fn key(ns: &str, name: &str, dims: &[(&str, &str)]) -> MetricKey {
        MetricKey::from_parts(
            ns.to_string(),
            name.to_string(),
            dims.iter()
                .map(|(n, v)| Dimension {
                    name: n.to_string(),
                    value: v.to_string(),
                })
                .collect(),
        )
    }

    fn cpu1() -> MetricKey {
        key("AWS/EC2", "CPUUtilization", &[("InstanceId", "i-1234abcd")])
    }

    fn m(query: &str, k: &MetricKey) -> bool {
        SearchExpr::parse(query).unwrap().matches(k)
    }

    fn err(query: &str) -> String {
        SearchExpr::parse(query).unwrap_err().to_string()
    }

    #[test]
    fn tokenization() {
        assert_eq!(
            tokenize("CustomCount1"),
            vec!["customcount1", "custom", "count", "1"]
        );
        assert_eq!(
            tokenize("CPUUtilization"),
            vec!["cpuutilization", "cpu", "utilization"]
        );
        assert_eq!(tokenize("AWS/EC2"), vec!["aws", "ec2", "ec", "2"]);
        assert_eq!(
            tokenize("my-service_v2"),
            vec!["my", "service", "v2", "v", "2"]
        );
        assert_eq!(
            tokenize("i-1234abcd"),
            vec!["i", "1234abcd", "1234", "abcd"]
        );
        assert_eq!(tokenize("latency"), vec!["latency"]);
        assert_eq!(tokenize("--"), Vec::<String>::new());
    }

    #[test]
    fn single_tokens_match_ignoring_case() {
        let k = key("App", "CustomCount1", &[]);
        for term in [
            "custom",
            "Count",
            "COUNT",
            "1",
            "customcount1",
            "CustomCount1",
        ] {
            assert!(m(term, &k), "{term}");
        }
        for term in ["cust", "counts", "2", "ustomCount"] {
            assert!(!m(term, &k), "{term}");
        }
        assert!(m("cpu", &cpu1()));
        assert!(m("Utilization", &cpu1()));
        assert!(m("ec2", &cpu1()));
        assert!(m("abcd", &cpu1()));
        assert!(m("instanceid", &cpu1()));
        assert!(!m("util", &cpu1()));
    }

    #[test]
    fn composite_tokens_are_case_sensitive() {
        let k = key("App", "CustomCount1", &[]);
        assert!(m("CustomCount", &k));
        assert!(m("Count1", &k));
        assert!(!m("customCount", &k));
        assert!(!m("customcount", &k));
        assert!(m("AWS/EC2", &cpu1()));
        assert!(!m("aws/ec2", &cpu1()));
        assert!(m("i-1234abcd", &cpu1()));
        assert!(!m("S/EC2", &cpu1()));
    }

    #[test]
    fn exact_phrases() {
        let k = key(
            "My App",
            "Requests Count",
            &[("Path", "/api (v1)"), ("Dim \"Q\"", "x")],
        );
        assert!(m(r#""Requests Count""#, &k));
        assert!(!m(r#""Requests""#, &k));
        assert!(!m(r#""requests count""#, &k));
        assert!(m(r#""My App""#, &k));
        assert!(m(r#""/api \(v1\)""#, &k));
        assert!(m(r#""Dim \"Q\"""#, &k));
        assert!(m(r#""a\\b""#, &key("N", "a\\b", &[])));
    }

    #[test]
    fn property_designators() {
        let k = cpu1();
        assert!(m("MetricName=CPUUtilization", &k));
        assert!(m(r#"MetricName="CPUUtilization""#, &k));
        assert!(m("MetricName=cpu", &k));
        assert!(!m(r#"MetricName="CPU""#, &k));
        assert!(!m("MetricName=ec2", &k));
        assert!(m("Namespace=EC2", &k));
        assert!(m(r#"Namespace="AWS/EC2""#, &k));
        assert!(!m(r#"Namespace="AWS""#, &k));
        assert!(m("InstanceId=i-1234abcd", &k));
        assert!(m(r#"InstanceId="i-1234abcd""#, &k));
        assert!(!m("InstanceId=cpu", &k));
        assert!(!m("AutoScalingGroupName=abcd", &k));
        let spaced = key("N", "M", &[("Dim Name", "v 1")]);
        assert!(m(r#""Dim Name"="v 1""#, &spaced));
        assert!(!m(r#""Dim Name"="v""#, &spaced));
    }

    #[test]
    fn boolean_operators() {
        let cpu = cpu1();
        let net = key("AWS/EC2", "NetworkIn", &[("InstanceId", "i-1234abcd")]);
        let lambda = key("AWS/Lambda", "Errors", &[("FunctionName", "api")]);
        let all = [&cpu, &net, &lambda];
        let hits = |q: &str| -> Vec<bool> {
            let e = SearchExpr::parse(q).unwrap();
            all.iter().map(|k| e.matches(k)).collect()
        };
        assert_eq!(hits("EC2 Network"), vec![false, true, false]);
        assert_eq!(hits("EC2 AND Network"), vec![false, true, false]);
        assert_eq!(hits("cpu OR errors"), vec![true, false, true]);
        assert_eq!(hits("NOT cpu"), vec![false, true, true]);
        assert_eq!(hits("EC2 NOT cpu"), vec![false, true, false]);
        assert_eq!(
            hits("(cpu OR network) AND i-1234abcd"),
            vec![true, true, false]
        );
        assert_eq!(hits("cpu OR network AND lambda"), vec![true, false, false]);
        assert_eq!(hits("NOT (cpu OR network)"), vec![false, false, true]);
        assert_eq!(hits("NOT NOT cpu"), vec![true, false, false]);
        // Lowercase operators are plain terms.
        assert_eq!(hits("cpu or errors"), vec![false, false, false]);
        assert_eq!(hits("\\OR"), vec![false, false, false]);
    }

    #[test]
    fn schema_needs_exactly_those_dimensions() {
        let one = cpu1();
        let two = key(
            "AWS/EC2",
            "CPUUtilization",
            &[("InstanceId", "i-1"), ("ImageId", "ami-1")],
        );
        let none = key("AWS/EC2", "CPUUtilization", &[]);
        let other_ns = key("AWS/RDS", "CPUUtilization", &[("InstanceId", "i-1")]);
        let e = SearchExpr::parse("{AWS/EC2,InstanceId} MetricName=\"CPUUtilization\"").unwrap();
        assert_eq!(e.namespace(), Some("AWS/EC2"));
        assert_eq!(e.schema_dimensions(), Some(&["InstanceId".to_string()][..]));
        assert!(e.matches(&one));
        assert!(!e.matches(&two));
        assert!(!e.matches(&none));
        assert!(!e.matches(&other_ns));
        assert!(m("{AWS/EC2, ImageId, InstanceId}", &two));
        assert!(m("{ AWS/EC2 , InstanceId , ImageId } cpu", &two));
        assert!(!m("{AWS/EC2, ImageId, InstanceId} network", &two));
        assert!(m("{AWS/EC2}", &none));
        assert!(!m("{AWS/EC2}", &one));
        assert!(!m("{aws/ec2,InstanceId}", &one));
        let spaced = key("My App", "Latency", &[("Dim, Name", "v")]);
        assert!(m(r#"{"My App","Dim, Name"} Latency"#, &spaced));
        assert_eq!(SearchExpr::parse("cpu").unwrap().namespace(), None);
    }

    #[test]
    fn syntax_errors_name_positions() {
        assert_eq!(
            err("{AWS/EC2"),
            "search syntax error at position 9: expected '}' to close the schema"
        );
        assert_eq!(
            err("{,X} a"),
            "search syntax error at position 2: expected a name in the schema"
        );
        assert_eq!(
            err("{\"A\" B} a"),
            "search syntax error at position 6: expected ',' or '}' in the schema, found 'B'"
        );
        assert_eq!(
            err("(cpu OR net"),
            "search syntax error at position 12: expected ')'"
        );
        assert_eq!(
            err("cpu)"),
            "search syntax error at position 4: unexpected ')'"
        );
        assert_eq!(
            err("cpu OR"),
            "search syntax error at position 7: expected a search term"
        );
        assert_eq!(
            err("OR cpu"),
            "search syntax error at position 1: expected a search term, found 'OR'"
        );
        assert_eq!(
            err("cpu \"abc"),
            "search syntax error at position 5: unterminated quoted string"
        );
        assert_eq!(
            err("MetricName="),
            "search syntax error at position 12: expected a value after '='"
        );
        assert_eq!(
            err("MetricName=(a)"),
            "search syntax error at position 12: expected a value after '='"
        );
        assert!(m("MetricName= CPUUtilization", &cpu1()));
        assert_eq!(
            err("cpu {A}"),
            "search syntax error at position 5: unexpected '{': the schema must come first"
        );
        assert_eq!(
            err("   "),
            "search syntax error at position 1: empty search expression"
        );
        assert_eq!(
            err("=x"),
            "search syntax error at position 1: expected a search term, found '='"
        );
        let long = "a ".repeat(600);
        assert_eq!(
            SearchExpr::parse(&long).unwrap_err().kind(),
            crate::ErrorKind::LimitExceeded
        );
        let deep = "(".repeat(150) + "a" + &")".repeat(150);
        assert!(err(&deep).contains("nested too deeply"));
    }
}
