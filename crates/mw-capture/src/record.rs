//! The SageMaker data-capture record: one JSON object per line.
//!
//! ```json
//! {"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT",
//!                                  "data":"1,2,3","encoding":"CSV"},
//!                 "endpointOutput":{"observedContentType":"text/csv","mode":"OUTPUT",
//!                                   "data":"0.5","encoding":"CSV"}},
//!  "eventMetadata":{"eventId":"<uuid>","inferenceId":"42","inferenceTime":"2022-04-18T00:21:48Z"},
//!  "eventVersion":"0"}
//! ```
//!
//! [`encode_event`] writes a record from what the sidecar observed (borrowing
//! the bodies, so nothing is copied before it is escaped); [`CaptureRecord`]
//! is the owned form that readers and the server's ingest validate and parse.
//! [`ContentTypes`] decides the encoding: payloads whose media type is listed
//! as CSV or JSON are kept as text, everything else (and text that is not
//! UTF-8) is base64.

use crate::error::{Error, Result};
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

mod canonical;

/// The only record version SageMaker writes.
pub const EVENT_VERSION: &str = "0";

/// How `data` holds the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Csv,
    Json,
    Base64,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Csv => "CSV",
            Encoding::Json => "JSON",
            Encoding::Base64 => "BASE64",
        }
    }

    pub fn parse(s: &str) -> Option<Encoding> {
        match s {
            "CSV" => Some(Encoding::Csv),
            "JSON" => Some(Encoding::Json),
            "BASE64" => Some(Encoding::Base64),
            _ => None,
        }
    }
}

/// The content types captured as text (`CaptureContentTypeHeader`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentTypes {
    csv: Vec<String>,
    json: Vec<String>,
}

impl Default for ContentTypes {
    /// SageMaker's defaults: `text/csv` and `application/json`.
    fn default() -> Self {
        ContentTypes {
            csv: vec!["text/csv".into()],
            json: vec!["application/json".into()],
        }
    }
}

/// `text/CSV; charset=utf-8` → `text/csv`.
pub fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

impl ContentTypes {
    /// At most 10 of each, as SageMaker allows; each a `type/subtype`.
    pub fn new(csv: Vec<String>, json: Vec<String>) -> Result<ContentTypes> {
        for (what, list) in [("CSV", &csv), ("JSON", &json)] {
            if list.is_empty() || list.len() > 10 {
                return Err(Error::invalid(format!(
                    "{what} content types: between 1 and 10 are allowed, got {}",
                    list.len()
                )));
            }
            for t in list {
                let m = media_type(t);
                if m.len() > 256 || m.split('/').count() != 2 || m.split('/').any(str::is_empty) {
                    return Err(Error::invalid(format!(
                        "{what} content type {t:?} is not of the form type/subtype"
                    )));
                }
            }
        }
        let norm = |l: Vec<String>| l.iter().map(|t| media_type(t)).collect();
        Ok(ContentTypes {
            csv: norm(csv),
            json: norm(json),
        })
    }

    /// The encoding a payload of this content type is captured in (before
    /// the UTF-8 check).
    pub fn classify(&self, content_type: &str) -> Encoding {
        // `media_type` without its allocation: the listed types are lowercase.
        let m = content_type.split(';').next().unwrap_or("").trim();
        let listed = |l: &[String]| l.iter().any(|t| t.eq_ignore_ascii_case(m));
        if listed(&self.csv) {
            Encoding::Csv
        } else if listed(&self.json) {
            Encoding::Json
        } else {
            Encoding::Base64
        }
    }

    pub fn csv(&self) -> &[String] {
        &self.csv
    }

    pub fn json(&self) -> &[String] {
        &self.json
    }
}

/// A payload as the sidecar saw it.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    pub content_type: &'a str,
    pub body: &'a [u8],
}

/// One invocation as the sidecar saw it.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    pub input: Option<Observed<'a>>,
    pub output: Option<Observed<'a>>,
    pub event_id: &'a str,
    pub inference_id: Option<&'a str>,
    pub custom_attributes: Option<&'a str>,
    /// Epoch milliseconds; written with second precision, as SageMaker does.
    pub inference_time_ms: i64,
}

#[cfg(test)]
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RecordOut<'a> {
    capture_data: DataOut<'a>,
    event_metadata: MetaOut<'a>,
    event_version: &'static str,
}

#[cfg(test)]
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DataOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    endpoint_input: Option<PayloadOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    endpoint_output: Option<PayloadOut<'a>>,
}

#[cfg(test)]
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PayloadOut<'a> {
    observed_content_type: &'a str,
    mode: &'static str,
    data: Cow<'a, str>,
    encoding: &'static str,
}

#[cfg(test)]
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MetaOut<'a> {
    event_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    inference_id: Option<&'a str>,
    inference_time: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom_attributes: Option<&'a str>,
}

#[cfg(test)]
fn payload<'a>(o: &Observed<'a>, mode: &'static str, types: &ContentTypes) -> PayloadOut<'a> {
    let enc = types.classify(o.content_type);
    let text = match enc {
        Encoding::Base64 => None,
        _ => std::str::from_utf8(o.body).ok(),
    };
    let (data, encoding) = match text {
        Some(t) => (Cow::Borrowed(t), enc),
        None => (
            Cow::Owned(base64::engine::general_purpose::STANDARD.encode(o.body)),
            Encoding::Base64,
        ),
    };
    PayloadOut {
        observed_content_type: o.content_type,
        mode,
        data,
        encoding: encoding.as_str(),
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ`, second precision.
pub fn inference_time(ms: i64) -> String {
    mw_model::time::format_iso8601(ms.div_euclid(1000) * 1000)
}

/// Appends one record and its `\n` to `out`.
///
/// Written by hand, not through serde: the keys are constants, so only the
/// values need escaping, and a record costs the request path's thread about
/// half as much. The output is byte for byte what `serde_json` writes for the
/// same record (checked in the tests).
pub fn encode_event(out: &mut Vec<u8>, ev: &Event, types: &ContentTypes) {
    let time = mw_model::time::iso8601_secs_bytes(ev.inference_time_ms);
    out.extend_from_slice(b"{\"captureData\":{");
    if let Some(o) = &ev.input {
        out.extend_from_slice(b"\"endpointInput\":");
        encode_payload(out, o, "INPUT", types);
        if ev.output.is_some() {
            out.push(b',');
        }
    }
    if let Some(o) = &ev.output {
        out.extend_from_slice(b"\"endpointOutput\":");
        encode_payload(out, o, "OUTPUT", types);
    }
    out.extend_from_slice(b"},\"eventMetadata\":{\"eventId\":");
    json_str(out, ev.event_id);
    if let Some(id) = ev.inference_id {
        out.extend_from_slice(b",\"inferenceId\":");
        json_str(out, id);
    }
    out.extend_from_slice(b",\"inferenceTime\":\"");
    // ASCII digits and separators only.
    out.extend_from_slice(&time);
    out.push(b'"');
    if let Some(a) = ev.custom_attributes {
        out.extend_from_slice(b",\"customAttributes\":");
        json_str(out, a);
    }
    out.extend_from_slice(b"},\"eventVersion\":\"");
    out.extend_from_slice(EVENT_VERSION.as_bytes());
    out.extend_from_slice(b"\"}\n");
}

fn encode_payload(out: &mut Vec<u8>, o: &Observed, mode: &str, types: &ContentTypes) {
    out.extend_from_slice(b"{\"observedContentType\":");
    json_str(out, o.content_type);
    out.extend_from_slice(b",\"mode\":\"");
    out.extend_from_slice(mode.as_bytes());
    out.extend_from_slice(b"\",\"data\":");
    let enc = types.classify(o.content_type);
    let text = match enc {
        Encoding::Base64 => None,
        _ => std::str::from_utf8(o.body).ok(),
    };
    let enc = match text {
        Some(t) => {
            json_str(out, t);
            enc
        }
        None => {
            // Base64 needs no escaping.
            out.push(b'"');
            let at = out.len();
            let n = o.body.len().div_ceil(3) * 4;
            out.resize(at + n, 0);
            let written = base64::engine::general_purpose::STANDARD
                .encode_slice(o.body, &mut out[at..])
                .unwrap_or(0);
            out.truncate(at + written);
            out.push(b'"');
            Encoding::Base64
        }
    };
    out.extend_from_slice(b",\"encoding\":\"");
    out.extend_from_slice(enc.as_str().as_bytes());
    out.extend_from_slice(b"\"}");
}

/// Appends `s` as a JSON string, escaped as `serde_json` escapes: `"`, `\\`
/// and control characters; everything else (`/`, non-ASCII) as it is.
fn json_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let b = s.as_bytes();
    out.reserve(b.len() + 2);
    out.push(b'"');
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        if c >= 0x20 && c != b'"' && c != b'\\' {
            continue;
        }
        out.extend_from_slice(&b[start..i]);
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(c >> 4)],
                HEX[usize::from(c & 0xf)],
            ]),
        }
        start = i + 1;
    }
    out.extend_from_slice(&b[start..]);
    out.push(b'"');
}

/// The same record through serde: the reference [`encode_event`] is checked against.
#[cfg(test)]
fn encode_event_serde(out: &mut Vec<u8>, ev: &Event, types: &ContentTypes) {
    let time = mw_model::time::iso8601_secs_bytes(ev.inference_time_ms);
    let rec = RecordOut {
        capture_data: DataOut {
            endpoint_input: ev.input.as_ref().map(|o| payload(o, "INPUT", types)),
            endpoint_output: ev.output.as_ref().map(|o| payload(o, "OUTPUT", types)),
        },
        event_metadata: MetaOut {
            event_id: ev.event_id,
            inference_id: ev.inference_id,
            inference_time: std::str::from_utf8(&time).unwrap_or_default(),
            custom_attributes: ev.custom_attributes,
        },
        event_version: EVENT_VERSION,
    };
    if serde_json::to_writer(&mut *out, &rec).is_ok() {
        out.push(b'\n');
    }
}

/// One captured record, owned; fields SageMaker may add are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaptureRecord {
    pub capture_data: CaptureData,
    pub event_metadata: EventMetadata,
    pub event_version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaptureData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_input: Option<CapturedPayload>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_output: Option<CapturedPayload>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapturedPayload {
    pub observed_content_type: String,
    pub mode: String,
    pub data: String,
    pub encoding: String,
}

impl CapturedPayload {
    /// The payload bytes (base64 decoded when so encoded).
    pub fn bytes(&self) -> Result<Vec<u8>> {
        match Encoding::parse(&self.encoding) {
            Some(Encoding::Base64) => base64::engine::general_purpose::STANDARD
                .decode(&self.data)
                .map_err(|e| Error::invalid(format!("data is not valid base64: {e}"))),
            _ => Ok(self.data.clone().into_bytes()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventMetadata {
    pub event_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inference_id: Option<String>,
    pub inference_time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_attributes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocation_source: Option<String>,
}

/// Longest event id or inference id accepted on ingest.
const MAX_ID: usize = 128;

/// A capture record as read for checking: strings borrowed from the line
/// where they hold no escapes, so ingest allocates nothing per record.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RecordView<'a> {
    #[serde(borrow)]
    capture_data: DataView<'a>,
    #[serde(borrow)]
    event_metadata: MetaView<'a>,
    #[serde(borrow)]
    event_version: Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DataView<'a> {
    #[serde(default, borrow)]
    endpoint_input: Option<PayloadView<'a>>,
    #[serde(default, borrow)]
    endpoint_output: Option<PayloadView<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PayloadView<'a> {
    #[serde(borrow)]
    observed_content_type: Cow<'a, str>,
    #[serde(borrow)]
    mode: Cow<'a, str>,
    #[serde(borrow)]
    data: Cow<'a, str>,
    #[serde(borrow)]
    encoding: Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetaView<'a> {
    #[serde(borrow)]
    event_id: Cow<'a, str>,
    #[serde(default, borrow)]
    inference_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    inference_time: Cow<'a, str>,
    // Read only to be type-checked, as the owned record would.
    #[serde(default, borrow, rename = "customAttributes")]
    _custom_attributes: Option<Cow<'a, str>>,
    #[serde(default, borrow, rename = "invocationSource")]
    _invocation_source: Option<Cow<'a, str>>,
}

impl RecordView<'_> {
    /// The record's rules; `Ok` holds `inferenceTime` in epoch milliseconds.
    fn validate(&self) -> Result<i64> {
        if self.event_version != EVENT_VERSION {
            return Err(Error::invalid(format!(
                "eventVersion must be \"0\", got {:?}",
                self.event_version
            )));
        }
        let d = &self.capture_data;
        if d.endpoint_input.is_none() && d.endpoint_output.is_none() {
            return Err(Error::invalid(
                "captureData must hold endpointInput, endpointOutput or both",
            ));
        }
        for (slot, mode, p) in [
            ("endpointInput", "INPUT", &d.endpoint_input),
            ("endpointOutput", "OUTPUT", &d.endpoint_output),
        ] {
            let Some(p) = p else { continue };
            if p.mode != mode {
                return Err(Error::invalid(format!(
                    "captureData.{slot}.mode must be {mode:?}, got {:?}",
                    p.mode
                )));
            }
            let Some(enc) = Encoding::parse(&p.encoding) else {
                return Err(Error::invalid(format!(
                    "captureData.{slot}.encoding must be CSV, JSON or BASE64, got {:?}",
                    p.encoding
                )));
            };
            if enc == Encoding::Base64 {
                base64::engine::general_purpose::STANDARD
                    .decode(p.data.as_bytes())
                    .map_err(|e| {
                        Error::invalid(format!("captureData.{slot}.data is not valid base64: {e}"))
                    })?;
            }
            if p.observed_content_type.len() > 1024 {
                return Err(Error::invalid(format!(
                    "captureData.{slot}.observedContentType is longer than 1024 bytes"
                )));
            }
        }
        let m = &self.event_metadata;
        if m.event_id.is_empty() || m.event_id.len() > MAX_ID {
            return Err(Error::invalid(format!(
                "eventMetadata.eventId must be 1 to {MAX_ID} characters"
            )));
        }
        if let Some(id) = &m.inference_id {
            if id.is_empty() || id.len() > MAX_ID {
                return Err(Error::invalid(format!(
                    "eventMetadata.inferenceId must be 1 to {MAX_ID} characters"
                )));
            }
        }
        mw_model::time::parse_iso8601(&m.inference_time).ok_or_else(|| {
            Error::invalid(format!(
                "eventMetadata.inferenceTime {:?} is not an ISO-8601 time",
                m.inference_time
            ))
        })
    }
}

impl CaptureRecord {
    /// Validates one line without keeping it; returns its
    /// `eventMetadata.inferenceTime` in epoch milliseconds.
    pub fn check(line: &[u8]) -> Result<i64> {
        // Records as the sidecar writes them take the fast path; any other
        // line gets the full parser (and its errors).
        match canonical::check(line) {
            Some(t) => Ok(t),
            None => Self::check_full(line),
        }
    }

    /// [`CaptureRecord::check`] by the general parser.
    fn check_full(line: &[u8]) -> Result<i64> {
        let view: RecordView<'_> = serde_json::from_slice(line)
            .map_err(|e| Error::invalid(format!("not a capture record: {e}")))?;
        view.validate()
    }

    /// Parses and validates one line.
    pub fn parse(line: &[u8]) -> Result<CaptureRecord> {
        Self::check(line)?;
        serde_json::from_slice(line)
            .map_err(|e| Error::invalid(format!("not a capture record: {e}")))
    }

    /// `eventMetadata.inferenceTime` as epoch milliseconds (validated on parse).
    pub fn inference_time_ms(&self) -> i64 {
        mw_model::time::parse_iso8601(&self.event_metadata.inference_time).unwrap_or(0)
    }
}

/// One ground-truth record (the label of one inference).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroundTruthRecord {
    pub ground_truth_data: GroundTruthData,
    pub event_metadata: GroundTruthMetadata,
    pub event_version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroundTruthData {
    pub data: String,
    pub encoding: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroundTruthMetadata {
    /// The `inferenceId` of the captured record when it had one, else its `eventId`.
    pub event_id: String,
}

impl GroundTruthRecord {
    /// Parses and validates one line. Only CSV labels are accepted, as in SageMaker.
    pub fn parse(line: &[u8]) -> Result<GroundTruthRecord> {
        let rec: GroundTruthRecord = serde_json::from_slice(line)
            .map_err(|e| Error::invalid(format!("not a ground-truth record: {e}")))?;
        if rec.event_version != EVENT_VERSION {
            return Err(Error::invalid(format!(
                "eventVersion must be \"0\", got {:?}",
                rec.event_version
            )));
        }
        if rec.ground_truth_data.encoding != "CSV" {
            return Err(Error::invalid(format!(
                "groundTruthData.encoding must be \"CSV\" (the only encoding model-quality monitoring reads), got {:?}",
                rec.ground_truth_data.encoding
            )));
        }
        let id = &rec.event_metadata.event_id;
        if id.is_empty() || id.len() > MAX_ID {
            return Err(Error::invalid(format!(
                "eventMetadata.eventId must be 1 to {MAX_ID} characters"
            )));
        }
        Ok(rec)
    }
}

#[cfg(test)]
mod tests;
