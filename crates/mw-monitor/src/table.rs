//! Input data sets: CSV (RFC 4180 quoting, optional header), JSON Lines
//! (one flat object per line) and Parquet ([`crate::parquet`]), streamed row by row into a [`RowSink`], and
//! [`Table`], an in-memory table (what a capture window rebuilds into).
//!
//! A value is null when its CSV field is empty, or when its JSON key is absent
//! or `null`. Without a header, columns are named positionally `_c0`, `_c1`, …
//! as Spark does. Every parse error names the line (and the field where known).

use crate::error::{Error, Result};
use std::io::BufRead;

/// Where rows go: the profiler, or a table being built.
pub trait RowSink {
    /// The source's columns so far; later calls only ever append names.
    fn columns(&mut self, names: &[String]) -> Result<()>;
    /// One row; `fields[i]` belongs to column i; missing trailing fields are null.
    fn row(&mut self, fields: &[Option<&str>]) -> Result<()>;
}

/// Something that can stream its rows into a [`RowSink`].
pub trait DataSource {
    /// Whether column names are positional (`_c0`, …) rather than from a header.
    fn positional_names(&self) -> bool;
    fn feed(&mut self, sink: &mut dyn RowSink) -> Result<()>;
}

/// The format of an input data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values; `header` says whether the first line names the columns.
    Csv { header: bool },
    /// JSON Lines: one flat JSON object per line.
    JsonLines,
    /// Apache Parquet with flat columns.
    Parquet,
}

/// An in-memory table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
    /// True when the names are positional (`_c0`, …), not from a header.
    pub positional: bool,
}

impl Table {
    /// Reads a whole data set into memory (tests and small windows).
    pub fn read(source: &mut dyn DataSource) -> Result<Table> {
        let mut t = Table {
            positional: source.positional_names(),
            ..Table::default()
        };
        source.feed(&mut t)?;
        Ok(t)
    }

    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }
}

impl RowSink for Table {
    fn columns(&mut self, names: &[String]) -> Result<()> {
        self.columns = names.to_vec();
        Ok(())
    }

    fn row(&mut self, fields: &[Option<&str>]) -> Result<()> {
        self.rows
            .push(fields.iter().map(|f| f.map(str::to_owned)).collect());
        Ok(())
    }
}

impl DataSource for &Table {
    fn positional_names(&self) -> bool {
        self.positional
    }

    fn feed(&mut self, sink: &mut dyn RowSink) -> Result<()> {
        sink.columns(&self.columns)?;
        let mut fields: Vec<Option<&str>> = Vec::with_capacity(self.columns.len());
        for row in &self.rows {
            fields.clear();
            fields.extend(row.iter().map(|f| f.as_deref()));
            sink.row(&fields)?;
        }
        Ok(())
    }
}

/// Positional column name i, as Spark names header-less CSV columns.
pub fn positional_name(i: usize) -> String {
    format!("_c{i}")
}

/// A CSV data set read from `reader`; `name` appears in error messages.
pub struct CsvSource<R> {
    reader: R,
    name: String,
    header: bool,
}

impl<R: BufRead> CsvSource<R> {
    pub fn new(reader: R, name: impl Into<String>, header: bool) -> CsvSource<R> {
        CsvSource {
            reader,
            name: name.into(),
            header,
        }
    }
}

/// Splits one CSV record into `out` (unescaped text) and `ends` (end offsets
/// of each field in `out`, with a flag for quoted fields). Returns false when
/// the record ends inside quotes (more lines are needed).
pub(crate) fn split_record(
    line: &str,
    out: &mut String,
    ends: &mut Vec<usize>,
) -> std::result::Result<(), usize> {
    out.clear();
    ends.clear();
    let b = line.as_bytes();
    let mut i = 0;
    loop {
        // At the start of a field.
        if i < b.len() && b[i] == b'"' {
            i += 1;
            let mut closed = false;
            while i < b.len() {
                let next = memchr_quote(&b[i..]);
                match next {
                    Some(off) => {
                        out.push_str(&line[i..i + off]);
                        i += off + 1;
                        if i < b.len() && b[i] == b'"' {
                            out.push('"');
                            i += 1;
                        } else {
                            closed = true;
                            break;
                        }
                    }
                    None => {
                        out.push_str(&line[i..]);
                        i = b.len();
                    }
                }
            }
            if !closed {
                return Err(ends.len() + 1);
            }
            // Text after the closing quote up to the comma is kept literally.
            let rest_end = b[i..]
                .iter()
                .position(|&c| c == b',')
                .map_or(b.len(), |p| i + p);
            out.push_str(&line[i..rest_end]);
            i = rest_end;
        } else {
            let end = b[i..]
                .iter()
                .position(|&c| c == b',')
                .map_or(b.len(), |p| i + p);
            out.push_str(&line[i..end]);
            i = end;
        }
        ends.push(out.len());
        if i >= b.len() {
            return Ok(());
        }
        i += 1; // the comma
    }
}

fn memchr_quote(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'"')
}

impl<R: BufRead> DataSource for CsvSource<R> {
    fn positional_names(&self) -> bool {
        !self.header
    }

    fn feed(&mut self, sink: &mut dyn RowSink) -> Result<()> {
        let mut raw = Vec::new();
        let mut record = String::new();
        let mut out = String::new();
        let mut ends: Vec<usize> = Vec::new();
        let mut line_no: u64 = 0;
        let mut columns: Option<usize> = None;
        let parse_err = |line: u64, column: Option<usize>, message: String| Error::Parse {
            source_name: self.name.clone(),
            line,
            column,
            message,
        };
        loop {
            record.clear();
            let start_line = line_no + 1;
            // Read one record, continuing over newlines inside quotes.
            loop {
                raw.clear();
                let n = self
                    .reader
                    .read_until(b'\n', &mut raw)
                    .map_err(|e| Error::io(&self.name, e))?;
                if n == 0 {
                    if record.is_empty() {
                        return Ok(());
                    }
                    return Err(parse_err(
                        start_line,
                        Some(ends.len() + 1),
                        "unterminated quoted field at end of file".into(),
                    ));
                }
                line_no += 1;
                let text = std::str::from_utf8(&raw)
                    .map_err(|e| parse_err(line_no, None, format!("not valid UTF-8 ({e})")))?;
                if !record.is_empty() {
                    record.push('\n');
                }
                record.push_str(text.trim_end_matches(['\n', '\r']));
                match split_record(&record, &mut out, &mut ends) {
                    Ok(()) => break,
                    Err(_) => continue,
                }
            }
            if record.is_empty() && columns.is_some() {
                continue; // blank line
            }
            let n = ends.len();
            match columns {
                None => {
                    let names: Vec<String> = if self.header {
                        let mut start = 0;
                        let mut names = Vec::with_capacity(n);
                        for (i, &end) in ends.iter().enumerate() {
                            let name = out[start..end].trim().to_string();
                            if name.is_empty() {
                                return Err(parse_err(
                                    start_line,
                                    Some(i + 1),
                                    "empty column name in header".into(),
                                ));
                            }
                            if names.contains(&name) {
                                return Err(parse_err(
                                    start_line,
                                    Some(i + 1),
                                    format!("duplicate column name {name:?} in header"),
                                ));
                            }
                            names.push(name);
                            start = end;
                        }
                        names
                    } else {
                        (0..n).map(positional_name).collect()
                    };
                    sink.columns(&names)?;
                    columns = Some(n);
                    if self.header {
                        continue;
                    }
                }
                Some(expected) if expected != n => {
                    return Err(parse_err(
                        start_line,
                        None,
                        format!("expected {expected} fields, found {n}"),
                    ));
                }
                Some(_) => {}
            }
            let mut fields: Vec<Option<&str>> = Vec::with_capacity(ends.len());
            let mut start = 0;
            for &end in &ends {
                let f = &out[start..end];
                fields.push(if f.is_empty() { None } else { Some(f) });
                start = end;
            }
            sink.row(&fields)?;
        }
    }
}

/// A JSON Lines data set: one flat object per line; columns in order of first appearance.
pub struct JsonLinesSource<R> {
    reader: R,
    name: String,
}

impl<R: BufRead> JsonLinesSource<R> {
    pub fn new(reader: R, name: impl Into<String>) -> JsonLinesSource<R> {
        JsonLinesSource {
            reader,
            name: name.into(),
        }
    }
}

/// The text of a scalar JSON value as a table cell (`None` for null);
/// `Err` for arrays and objects.
pub(crate) fn json_cell(
    v: &serde_json::Value,
) -> std::result::Result<Option<String>, &'static str> {
    match v {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::Bool(b) => Ok(Some(b.to_string())),
        serde_json::Value::Number(n) => Ok(Some(n.to_string())),
        serde_json::Value::String(s) if s.is_empty() => Ok(None),
        serde_json::Value::String(s) => Ok(Some(s.clone())),
        serde_json::Value::Array(_) => Err("an array"),
        serde_json::Value::Object(_) => Err("an object"),
    }
}

impl<R: BufRead> DataSource for JsonLinesSource<R> {
    fn positional_names(&self) -> bool {
        false
    }

    fn feed(&mut self, sink: &mut dyn RowSink) -> Result<()> {
        let mut names: Vec<String> = Vec::new();
        let mut index: std::collections::HashMap<String, usize> = Default::default();
        let mut cells: Vec<Option<String>> = Vec::new();
        let mut line = String::new();
        let mut line_no = 0u64;
        loop {
            line.clear();
            let n = self
                .reader
                .read_line(&mut line)
                .map_err(|e| Error::io(&self.name, e))?;
            if n == 0 {
                if names.is_empty() {
                    sink.columns(&names)?;
                }
                return Ok(());
            }
            line_no += 1;
            let text = line.trim();
            if text.is_empty() {
                continue;
            }
            let err = |column: Option<usize>, message: String| Error::Parse {
                source_name: self.name.clone(),
                line: line_no,
                column,
                message,
            };
            let value: serde_json::Value = serde_json::from_str(text)
                .map_err(|e| err(Some(e.column()), format!("invalid JSON: {e}")))?;
            let serde_json::Value::Object(map) = value else {
                return Err(err(None, "expected a JSON object".into()));
            };
            let before = names.len();
            cells.clear();
            cells.resize(names.len(), None);
            for (k, v) in &map {
                let i = match index.get(k) {
                    Some(&i) => i,
                    None => {
                        index.insert(k.clone(), names.len());
                        names.push(k.clone());
                        cells.push(None);
                        names.len() - 1
                    }
                };
                cells[i] = json_cell(v).map_err(|what| {
                    err(
                        None,
                        format!("key {k:?} holds {what}; records must be flat"),
                    )
                })?;
            }
            if names.len() != before || line_no == 1 {
                sink.columns(&names)?;
            }
            let fields: Vec<Option<&str>> = cells.iter().map(|c| c.as_deref()).collect();
            sink.row(&fields)?;
        }
    }
}

/// Opens a data set file in `format`.
pub fn open(path: &std::path::Path, format: Format) -> Result<Box<dyn DataSource>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path.display(), e))?;
    let name = path.display().to_string();
    let buffered = |f| std::io::BufReader::with_capacity(1 << 20, f);
    Ok(match format {
        Format::Csv { header } => Box::new(CsvSource::new(buffered(file), name, header)),
        Format::JsonLines => Box::new(JsonLinesSource::new(buffered(file), name)),
        Format::Parquet => Box::new(crate::parquet::ParquetSource::new(file, name)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(text: &str, header: bool) -> Result<Table> {
        Table::read(&mut CsvSource::new(text.as_bytes(), "t.csv", header))
    }

    #[test]
    fn csv_quoting_and_nulls() {
        let t = csv("a,b,c\n1,\"x, \"\"y\"\"\",\n\"multi\nline\",,3\r\n", true).unwrap();
        assert_eq!(t.columns, ["a", "b", "c"]);
        assert_eq!(
            t.rows,
            vec![
                vec![Some("1".into()), Some("x, \"y\"".into()), None],
                vec![Some("multi\nline".into()), None, Some("3".into())],
            ]
        );
    }

    #[test]
    fn csv_without_header_is_positional() {
        let t = csv("1,2\n3,4\n", false).unwrap();
        assert_eq!(t.columns, ["_c0", "_c1"]);
        assert!(t.positional);
        assert_eq!(t.rows.len(), 2);
    }

    #[test]
    fn csv_errors_name_the_line() {
        let e = csv("a,b\n1,2\n3\n", true).unwrap_err();
        assert_eq!(e.to_string(), "t.csv: line 3: expected 2 fields, found 1");
        let e = csv("a,b\n1,\"open\n", true).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.csv: line 2, column 2: unterminated quoted field at end of file"
        );
        let e = csv("a,a\n", true).unwrap_err();
        assert!(e.to_string().contains("duplicate column name"), "{e}");
    }

    #[test]
    fn jsonl_flat_objects() {
        let text = "{\"a\": 1, \"b\": \"x\"}\n\n{\"b\": null, \"c\": true, \"a\": 2.5}\n";
        let t = Table::read(&mut JsonLinesSource::new(text.as_bytes(), "t.jsonl")).unwrap();
        assert_eq!(t.columns, ["a", "b", "c"]);
        assert_eq!(t.rows[0], vec![Some("1".into()), Some("x".into())]);
        assert_eq!(
            t.rows[1],
            vec![Some("2.5".into()), None, Some("true".into())]
        );
        let e = Table::read(&mut JsonLinesSource::new(
            "{\"a\":[1]}\n".as_bytes(),
            "t.jsonl",
        ))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.jsonl: line 1: key \"a\" holds an array; records must be flat"
        );
        let e =
            Table::read(&mut JsonLinesSource::new("{\"a\":\n".as_bytes(), "t.jsonl")).unwrap_err();
        assert!(e.to_string().starts_with("t.jsonl: line 1, column"), "{e}");
    }
}
