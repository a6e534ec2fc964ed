//! Parquet input: flat columns of any primitive type, read row group by row
//! group and streamed into a [`RowSink`] as text cells, so the profiler infers
//! types as it does for CSV (an `int64` column is Integral, `double`
//! Fractional, `string` String).
//!
//! Cells: integers and floats in their shortest decimal form, booleans as
//! `true`/`false`, strings as they are, binary as UTF-8 when it is, base64
//! otherwise, dates as `YYYY-MM-DD`, times and timestamps and decimals as the
//! parquet crate prints them; a null (or a NaN / infinite float) is a missing
//! value. Nested columns (groups, lists, maps) are refused with the column's
//! name. Compression: uncompressed, Snappy, gzip and LZ4 (pyarrow and Spark
//! default to Snappy); Zstandard and Brotli files are refused with a clear
//! error.

use crate::error::{Error, Result};
use crate::table::{DataSource, RowSink};
use base64::Engine as _;
use parquet::file::reader::{ChunkReader, FileReader, SerializedFileReader};
use parquet::record::Field;

/// A Parquet file (or its bytes) as a [`DataSource`].
pub struct ParquetSource<R> {
    reader: Option<R>,
    name: String,
}

impl<R: ChunkReader + 'static> ParquetSource<R> {
    /// `reader` is a `std::fs::File` or the whole file's `bytes::Bytes`.
    pub fn new(reader: R, name: impl Into<String>) -> ParquetSource<R> {
        ParquetSource {
            reader: Some(reader),
            name: name.into(),
        }
    }
}

fn days_to_date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}

/// The text cell of one value; `Err` names what is not flat.
fn cell(field: &Field) -> std::result::Result<Option<String>, &'static str> {
    Ok(Some(match field {
        Field::Null => return Ok(None),
        Field::Bool(b) => b.to_string(),
        Field::Byte(v) => v.to_string(),
        Field::Short(v) => v.to_string(),
        Field::Int(v) => v.to_string(),
        Field::Long(v) => v.to_string(),
        Field::UByte(v) => v.to_string(),
        Field::UShort(v) => v.to_string(),
        Field::UInt(v) => v.to_string(),
        Field::ULong(v) => v.to_string(),
        // The f32's own shortest form, not the digits of its f64 widening.
        Field::Float(v) if v.is_finite() => v.to_string(),
        Field::Double(v) if v.is_finite() => v.to_string(),
        Field::Float(_) | Field::Double(_) => return Ok(None),
        Field::Str(s) => s.clone(),
        Field::Bytes(b) => match std::str::from_utf8(b.data()) {
            Ok(s) => s.to_owned(),
            Err(_) => base64::engine::general_purpose::STANDARD.encode(b.data()),
        },
        Field::Date(d) => days_to_date(i64::from(*d)),
        Field::Group(_) => return Err("a group (struct)"),
        Field::ListInternal(_) => return Err("a list"),
        Field::MapInternal(_) => return Err("a map"),
        other => other.to_string(),
    }))
}

impl<R: ChunkReader + 'static> DataSource for ParquetSource<R> {
    fn positional_names(&self) -> bool {
        false
    }

    fn feed(&mut self, sink: &mut dyn RowSink) -> Result<()> {
        // The parquet crate can panic on some corrupt pages (an index out of
        // bounds in a decoder) instead of returning an error: contain that
        // here, so a damaged file is an error like any other. The sink's
        // partial state is dropped by the caller with the error.
        let name = self.name.clone();
        let run = std::panic::AssertUnwindSafe(|| self.read_all(sink));
        match std::panic::catch_unwind(run) {
            Ok(r) => r,
            Err(panic) => {
                let why = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("a decoder failed");
                Err(Error::Dataset(format!(
                    "{name}: the Parquet file is corrupt ({why})"
                )))
            }
        }
    }
}

impl<R: ChunkReader + 'static> ParquetSource<R> {
    fn read_all(&mut self, sink: &mut dyn RowSink) -> Result<()> {
        let name = self.name.clone();
        let bad = |msg: String| Error::Dataset(format!("{name}: {msg}"));
        let reader = self
            .reader
            .take()
            .ok_or_else(|| bad("the Parquet file was already read".to_owned()))?;
        let file = SerializedFileReader::new(reader)
            .map_err(|e| bad(format!("not a readable Parquet file: {e}")))?;
        let root = file.metadata().file_metadata().schema_descr().root_schema();
        let mut names = Vec::new();
        for f in root.get_fields() {
            if f.is_group() {
                return Err(bad(format!(
                    "column {:?} is nested (a group, list or map); only flat columns can be profiled",
                    f.name()
                )));
            }
            names.push(f.name().to_owned());
        }
        if names.is_empty() {
            return Err(bad("the Parquet file has no columns".to_owned()));
        }
        sink.columns(&names)?;
        let rows = file
            .get_row_iter(None)
            .map_err(|e| bad(format!("reading rows failed: {e}")))?;
        let mut cells: Vec<Option<String>> = Vec::with_capacity(names.len());
        for (i, row) in rows.enumerate() {
            let row = row.map_err(|e| bad(format!("row {}: {e}", i + 1)))?;
            cells.clear();
            for (col, field) in row.get_column_iter() {
                cells.push(
                    cell(field).map_err(|what| {
                        bad(format!("row {}: column {col:?} holds {what}", i + 1))
                    })?,
                );
            }
            let refs: Vec<Option<&str>> = cells.iter().map(|c| c.as_deref()).collect();
            sink.row(&refs)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(days_to_date(0), "1970-01-01");
        assert_eq!(days_to_date(11_016), "2000-02-29");
        assert_eq!(days_to_date(-1), "1969-12-31");
    }

    #[test]
    fn cells() {
        assert_eq!(cell(&Field::Null), Ok(None));
        assert_eq!(cell(&Field::Long(-42)), Ok(Some("-42".into())));
        assert_eq!(cell(&Field::Double(0.1)), Ok(Some("0.1".into())));
        assert_eq!(cell(&Field::Float(0.1)), Ok(Some("0.1".into())));
        assert_eq!(cell(&Field::Double(f64::NAN)), Ok(None));
        assert_eq!(cell(&Field::Bool(true)), Ok(Some("true".into())));
        assert_eq!(cell(&Field::Str("a,b".into())), Ok(Some("a,b".into())));
        assert_eq!(cell(&Field::Date(0)), Ok(Some("1970-01-01".into())));
        assert_eq!(
            cell(&Field::Bytes(vec![0xff, 0x00].into())),
            Ok(Some("/wA=".into()))
        );
    }
}
