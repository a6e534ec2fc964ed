//! Deterministic benchmark data and the request bodies that carry it.
//!
//! Every target (modelwatch over JSON or CBOR, VictoriaMetrics, moto) gets the
//! SAME datapoints: same series, same timestamps, same values, in the same
//! batches. Only the wire encoding differs.

use std::fmt::Write as _;

use ciborium::Value as Cbor;

/// Metric name used for every generated datapoint.
pub const METRIC_NAME: &str = "Latency";
/// Unit sent with every CloudWatch datapoint.
pub const UNIT: &str = "Milliseconds";
/// Timestamps of a series are spread over this many seconds (just under an hour).
pub const SPAN_SECONDS: i64 = 3540;

/// Tiny xorshift64 PRNG: deterministic, dependency free.
#[derive(Debug, Clone)]
pub struct XorShift64(u64);

impl XorShift64 {
    pub fn new(seed: u64) -> Self {
        // xorshift must not start at zero; also scramble small seeds a bit.
        let s = seed ^ 0x9E37_79B9_7F4A_7C15;
        Self(if s == 0 { 0x2545_F491_4F6C_DD1D } else { s })
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

/// One generated datapoint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub series: usize,
    /// Epoch seconds.
    pub ts: i64,
    pub value: f64,
}

/// The shape of the data set.
#[derive(Debug, Clone)]
pub struct Workload {
    pub namespace: String,
    pub series: usize,
    pub batch_size: usize,
    /// Epoch seconds of the first timestamp of every series.
    pub base_ts: i64,
    pub seed: u64,
}

/// Dimension values of series `s`: (Service, Host). Unique per series.
pub fn series_dims(s: usize) -> (String, String) {
    (format!("svc-{}", s % 10), format!("host-{}", s / 10))
}

impl Workload {
    /// Datapoints of batch `b`. Global point index g = b*batch_size + k goes to
    /// series g % series; that series' n-th point (n = g / series) gets
    /// timestamp base_ts + n % SPAN_SECONDS, so with batch_size == series every
    /// batch is one "scrape" of all series at one second.
    pub fn batch_points(&self, b: usize) -> Vec<Point> {
        let series = self.series.max(1);
        let mut rng = XorShift64::new(
            self.seed
                .wrapping_add((b as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93)),
        );
        (0..self.batch_size)
            .map(|k| {
                let g = b * self.batch_size + k;
                let n = (g / series) as i64;
                Point {
                    series: g % series,
                    ts: self.base_ts + n % SPAN_SECONDS,
                    // Two decimals, 0.00 ..= 999.99 ms.
                    value: (rng.next_u64() % 100_000) as f64 / 100.0,
                }
            })
            .collect()
    }
}

fn json_dims(out: &mut String, s: usize) {
    let (svc, host) = series_dims(s);
    let _ = write!(
        out,
        r#"[{{"Name":"Service","Value":"{svc}"}},{{"Name":"Host","Value":"{host}"}}]"#
    );
}

/// AWS JSON 1.0 PutMetricData body.
pub fn put_json(namespace: &str, metric: &str, points: &[Point]) -> Vec<u8> {
    let mut out = String::with_capacity(64 + points.len() * 180);
    let _ = write!(out, r#"{{"Namespace":"{namespace}","MetricData":["#);
    for (i, p) in points.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, r#"{{"MetricName":"{metric}","Dimensions":"#);
        json_dims(&mut out, p.series);
        let _ = write!(
            out,
            r#","Timestamp":{},"Value":{},"Unit":"{UNIT}"}}"#,
            p.ts, p.value
        );
    }
    out.push_str("]}");
    out.into_bytes()
}

fn text(s: &str) -> Cbor {
    Cbor::Text(s.to_string())
}

fn cbor_dims(s: usize) -> Cbor {
    let (svc, host) = series_dims(s);
    Cbor::Array(vec![
        Cbor::Map(vec![
            (text("Name"), text("Service")),
            (text("Value"), Cbor::Text(svc)),
        ]),
        Cbor::Map(vec![
            (text("Name"), text("Host")),
            (text("Value"), Cbor::Text(host)),
        ]),
    ])
}

fn cbor_time(ts: i64) -> Cbor {
    Cbor::Tag(1, Box::new(Cbor::Integer(ts.into())))
}

fn cbor_bytes(v: &Cbor) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    ciborium::into_writer(v, &mut out)?;
    Ok(out)
}

/// Smithy RPC v2 CBOR PutMetricData body (Timestamp = tag 1 epoch seconds).
pub fn put_cbor(namespace: &str, metric: &str, points: &[Point]) -> anyhow::Result<Vec<u8>> {
    let data = points
        .iter()
        .map(|p| {
            Cbor::Map(vec![
                (text("MetricName"), text(metric)),
                (text("Dimensions"), cbor_dims(p.series)),
                (text("Timestamp"), cbor_time(p.ts)),
                (text("Value"), Cbor::Float(p.value)),
                (text("Unit"), text(UNIT)),
            ])
        })
        .collect();
    cbor_bytes(&Cbor::Map(vec![
        (text("Namespace"), text(namespace)),
        (text("MetricData"), Cbor::Array(data)),
    ]))
}

/// VictoriaMetrics `/api/v1/import` body: one JSON line per series present in
/// the batch, timestamps in milliseconds, in batch order.
pub fn put_vm(metric: &str, points: &[Point]) -> Vec<u8> {
    let mut order: Vec<usize> = Vec::new();
    let mut per_series: std::collections::HashMap<usize, Vec<&Point>> =
        std::collections::HashMap::new();
    for p in points {
        per_series
            .entry(p.series)
            .or_insert_with(|| {
                order.push(p.series);
                Vec::new()
            })
            .push(p);
    }
    let mut out = String::with_capacity(points.len() * 80);
    for s in order {
        let pts = &per_series[&s];
        let (svc, host) = series_dims(s);
        let _ = write!(
            out,
            r#"{{"metric":{{"__name__":"{metric}","Service":"{svc}","Host":"{host}"}},"values":["#
        );
        for (i, p) in pts.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{}", p.value);
        }
        out.push_str(r#"],"timestamps":["#);
        for (i, p) in pts.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{}", p.ts * 1000);
        }
        out.push_str("]}\n");
    }
    out.into_bytes()
}

/// AWS JSON 1.0 GetMetricData body for one series (Average, Period 60).
pub fn get_json(namespace: &str, series: usize, start: i64, end: i64) -> Vec<u8> {
    let mut out = String::with_capacity(400);
    let _ = write!(
        out,
        r#"{{"MetricDataQueries":[{{"Id":"m1","MetricStat":{{"Metric":{{"Namespace":"{namespace}","MetricName":"{METRIC_NAME}","Dimensions":"#
    );
    json_dims(&mut out, series);
    let _ = write!(
        out,
        r#"}},"Period":60,"Stat":"Average"}}}}],"StartTime":{start},"EndTime":{end}}}"#
    );
    out.into_bytes()
}

/// Smithy RPC v2 CBOR GetMetricData body for one series (Average, Period 60).
pub fn get_cbor(namespace: &str, series: usize, start: i64, end: i64) -> anyhow::Result<Vec<u8>> {
    let metric = Cbor::Map(vec![
        (text("Namespace"), text(namespace)),
        (text("MetricName"), text(METRIC_NAME)),
        (text("Dimensions"), cbor_dims(series)),
    ]);
    let stat = Cbor::Map(vec![
        (text("Metric"), metric),
        (text("Period"), Cbor::Integer(60.into())),
        (text("Stat"), text("Average")),
    ]);
    let query = Cbor::Map(vec![(text("Id"), text("m1")), (text("MetricStat"), stat)]);
    cbor_bytes(&Cbor::Map(vec![
        (text("MetricDataQueries"), Cbor::Array(vec![query])),
        (text("StartTime"), cbor_time(start)),
        (text("EndTime"), cbor_time(end)),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wl(series: usize, batch_size: usize) -> Workload {
        Workload {
            namespace: "NS".into(),
            series,
            batch_size,
            base_ts: 1_735_787_045,
            seed: 42,
        }
    }

    #[test]
    fn deterministic_and_shaped() {
        let w = wl(4, 10);
        let a = w.batch_points(3);
        assert_eq!(a, w.batch_points(3));
        assert_ne!(a, w.batch_points(4));
        assert_eq!(a.len(), 10);
        // g = 30..40 -> series g % 4, n = g / 4
        assert_eq!(a[0].series, 2);
        assert_eq!(a[0].ts, w.base_ts + 7);
        assert!(a.iter().all(|p| (0.0..1000.0).contains(&p.value)));
    }

    #[test]
    fn json_body_is_valid_and_complete() -> anyhow::Result<()> {
        let w = wl(3, 5);
        let pts = w.batch_points(0);
        let v: serde_json::Value = serde_json::from_slice(&put_json("NS", METRIC_NAME, &pts))?;
        let data = v["MetricData"].as_array().map(Vec::len);
        assert_eq!(data, Some(5));
        assert_eq!(v["MetricData"][1]["Dimensions"][0]["Value"], "svc-1");
        assert_eq!(v["MetricData"][1]["Timestamp"], w.base_ts);
        assert_eq!(v["MetricData"][1]["Value"].as_f64(), Some(pts[1].value));
        let q: serde_json::Value = serde_json::from_slice(&get_json("NS", 12, 1, 2))?;
        assert_eq!(
            q["MetricDataQueries"][0]["MetricStat"]["Metric"]["Dimensions"][1]["Value"],
            "host-1"
        );
        Ok(())
    }

    #[test]
    fn cbor_timestamp_is_tag1_like_the_reference() -> anyhow::Result<()> {
        // From wire_examples.txt section C: "Timestamp" c1 1a 67760225.
        let pts = [Point {
            series: 0,
            ts: 1_735_787_045,
            value: 12.5,
        }];
        let body = put_cbor("MyApp/Test", METRIC_NAME, &pts)?;
        let needle = b"iTimestamp\xc1\x1a\x67\x76\x02\x25";
        assert!(body.windows(needle.len()).any(|w| w == needle));
        let v: Cbor = ciborium::from_reader(&body[..])?;
        let Cbor::Map(m) = v else {
            anyhow::bail!("not a map")
        };
        assert_eq!(m[0].0, text("Namespace"));
        get_cbor("NS", 0, 1, 2)?;
        Ok(())
    }

    #[test]
    fn vm_lines_carry_the_same_points() -> anyhow::Result<()> {
        let w = wl(3, 7);
        let pts = w.batch_points(1);
        let body = String::from_utf8(put_vm(METRIC_NAME, &pts))?;
        let lines: Vec<serde_json::Value> = body
            .lines()
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()?;
        assert_eq!(lines.len(), 3);
        let n: usize = lines
            .iter()
            .map(|l| l["values"].as_array().map_or(0, Vec::len))
            .sum();
        assert_eq!(n, 7);
        let first = &lines[0];
        assert_eq!(first["metric"]["__name__"], "Latency");
        assert_eq!(
            first["timestamps"][0].as_i64(),
            Some(pts[0].ts * 1000),
            "ms timestamps"
        );
        Ok(())
    }
}
