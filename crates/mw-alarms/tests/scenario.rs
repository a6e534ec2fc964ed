//! A small text language for alarm scenarios, in the spirit of Prometheus'
//! promqltest, and the test that runs every `tests/scenarios/*.txt`.
//!
//! ```text
//! # a comment; also after a directive: `expect OK   # why`
//! alarm period=60 n=3 m=2 op=GreaterThanThreshold threshold=4 missing=missing stat=Average low=ignore
//! state ALARM                 # current state before the next evaluation
//! data 0 - X - X              # one symbol per period, oldest first:
//!                             # X breaching, 0 not breaching, - missing
//! values 5 3.5 - 7@1000       # numeric values; `-` missing; `@N` sample count
//! samples 20                  # default sample count for data/values (1)
//! expect OK                   # evaluate; OK / ALARM / INSUFFICIENT_DATA / keep
//! expect-reason "Threshold Crossed: ..."
//! expect-reason-contains "out of the last 3"
//! expect-data-contains "\"recentDatapoints\":[5.0"
//! expect-error InvalidCombination "86400"  # the last `alarm` was rejected
//!
//! alarm math=true nostat=1 n=3 threshold=5   # a metric-math alarm
//! series errors 1 - 12        # an input metric of the math, one value per period
//! series requests 100 100 100
//! math 100 * FILL(errors, 0) / requests  # evaluates with metric math (mw-query) into
//!                                        # the alarm's values, as a math alarm's
//!                                        # returned series
//! expect-math-error "unknown"  # the last `math` failed with this text
//!
//! composite ALARM(cpu) AND NOT OK("disk")  # a composite alarm; rest of line is the rule
//! child cpu ALARM                          # a child's state (unset: missing child)
//! expect ALARM
//! expect-parse-error 12 "end of rule"      # the last `composite` rule failed at position 12
//! ```
//!
//! The last period of `data`/`values` is the last complete period when the
//! alarm is evaluated (`now` is 1.234 s after it ends); the series starts at
//! 2026-11-28T21:00:00Z. `alarm` defaults: period=60 n=1 op=GreaterThanThreshold
//! threshold=0 stat=Average; a new `alarm` or `composite` starts in
//! INSUFFICIENT_DATA, and after each `expect` the alarm is in the new state.
//! `keep` means the state did not change. `X`/`0` become threshold ± 1 on the
//! breaching / non-breaching side of the operator.

use std::collections::HashMap;

use mw_alarms::{
    evaluate, evaluate_composite, AlarmDef, AlarmParams, AlarmRule, ChildState, Datapoint, Error,
    Evaluation, PeriodValue, StateValue,
};

/// 2026-11-28T21:00:00Z, aligned to every period up to one hour.
const T0: i64 = 1_795_899_600;

#[derive(Default)]
pub struct Outcome {
    pub checks: usize,
    pub failures: Vec<String>,
}

enum Subject {
    None,
    Metric(Result<AlarmDef, Error>),
    Composite(Result<AlarmRule, Error>),
}

struct Runner {
    subject: Subject,
    current: StateValue,
    series: Vec<Option<PeriodValue>>,
    inputs: HashMap<String, Vec<Option<f64>>>,
    math_error: Option<String>,
    samples: f64,
    children: HashMap<String, StateValue>,
    last: Option<Evaluation>,
    out: Outcome,
}

/// Runs one scenario text; `name` prefixes failure messages.
pub fn run(name: &str, text: &str) -> Outcome {
    let mut r = Runner {
        subject: Subject::None,
        current: StateValue::InsufficientData,
        series: Vec::new(),
        inputs: HashMap::new(),
        math_error: None,
        samples: 1.0,
        children: HashMap::new(),
        last: None,
        out: Outcome::default(),
    };
    for (i, raw) in text.lines().enumerate() {
        let line = strip_comment(raw).trim();
        if line.is_empty() {
            continue;
        }
        let (directive, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        if let Err(msg) = r.step(directive, rest.trim()) {
            r.out
                .failures
                .push(format!("{name}:{}: {line}\n    {msg}", i + 1));
        }
    }
    r.out
}

/// Drops a `#` comment that starts the line or follows whitespace, outside
/// double quotes.
fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    let mut prev_ws = true;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '#' if !quoted && prev_ws => return &line[..i],
            _ => {}
        }
        prev_ws = c.is_whitespace();
    }
    line
}

/// `"text"` → `text`, with `\"` and `\\` escapes.
fn unquote(s: &str) -> Result<String, String> {
    let inner = s
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .ok_or_else(|| format!("expected a double-quoted string, got {s}"))?;
    Ok(inner.replace("\\\"", "\"").replace("\\\\", "\\"))
}

fn parse_state(s: &str) -> Result<StateValue, String> {
    StateValue::parse(s).map_err(|e| e.to_string())
}

fn num<T: std::str::FromStr>(key: &str, v: &str) -> Result<T, String> {
    v.parse().map_err(|_| format!("{key}={v} is not a number"))
}

impl Runner {
    fn check(&mut self, ok: bool, msg: impl FnOnce() -> String) -> Result<(), String> {
        self.out.checks += 1;
        if ok {
            Ok(())
        } else {
            Err(msg())
        }
    }

    fn last(&self) -> Result<&Evaluation, String> {
        self.last
            .as_ref()
            .ok_or_else(|| "no evaluation yet: use `expect` first".to_owned())
    }

    fn step(&mut self, directive: &str, rest: &str) -> Result<(), String> {
        match directive {
            "alarm" => {
                let mut p = AlarmParams {
                    period: Some(60),
                    evaluation_periods: Some(1),
                    threshold: Some(0.0),
                    comparison_operator: Some("GreaterThanThreshold".to_owned()),
                    statistic: Some("Average".to_owned()),
                    ..AlarmParams::default()
                };
                for kv in rest.split_whitespace() {
                    let (k, v) = kv
                        .split_once('=')
                        .ok_or_else(|| format!("expected key=value, got {kv}"))?;
                    match k {
                        "period" => p.period = Some(num(k, v)?),
                        "n" => p.evaluation_periods = Some(num(k, v)?),
                        "m" => p.datapoints_to_alarm = Some(num(k, v)?),
                        "threshold" => p.threshold = Some(num(k, v)?),
                        "op" => p.comparison_operator = Some(v.to_owned()),
                        "missing" => p.treat_missing_data = Some(v.to_owned()),
                        "low" => p.evaluate_low_sample_count_percentile = Some(v.to_owned()),
                        // `stat` picks the field by name; `statistic` and
                        // `extended` force one; `nostat` leaves both out.
                        "stat" => {
                            let basic = ["SampleCount", "Average", "Sum", "Minimum", "Maximum"];
                            if basic.contains(&v) {
                                p.statistic = Some(v.to_owned());
                            } else {
                                p.statistic = None;
                                p.extended_statistic = Some(v.to_owned());
                            }
                        }
                        "statistic" => p.statistic = Some(v.to_owned()),
                        "extended" => p.extended_statistic = Some(v.to_owned()),
                        "nostat" => p.statistic = None,
                        "math" => p.metric_math = num(k, v)?,
                        "nothreshold" => p.threshold = None,
                        "noperiod" => p.period = None,
                        _ => return Err(format!("unknown alarm key {k}")),
                    }
                }
                self.subject = Subject::Metric(p.validate());
                self.current = StateValue::InsufficientData;
                self.series.clear();
                self.inputs.clear();
                self.last = None;
                Ok(())
            }
            "composite" => {
                self.subject = Subject::Composite(AlarmRule::parse(rest));
                self.current = StateValue::InsufficientData;
                self.children.clear();
                self.last = None;
                Ok(())
            }
            "child" => {
                let (name, state) = rest
                    .rsplit_once(char::is_whitespace)
                    .ok_or_else(|| "expected `child NAME STATE`".to_owned())?;
                self.children
                    .insert(name.trim().to_owned(), parse_state(state)?);
                Ok(())
            }
            "state" => {
                self.current = parse_state(rest)?;
                Ok(())
            }
            "samples" => {
                self.samples = num("samples", rest)?;
                Ok(())
            }
            "data" => {
                let def = self.metric()?.clone();
                let op = def.comparison_operator;
                let up = if op.breaches(def.threshold + 1.0, def.threshold) {
                    1.0
                } else {
                    -1.0
                };
                self.series = rest
                    .split_whitespace()
                    .map(|sym| match sym {
                        "X" => Ok(Some(PeriodValue::new(def.threshold + up, self.samples))),
                        "0" => Ok(Some(PeriodValue::new(def.threshold - up, self.samples))),
                        "-" => Ok(None),
                        _ => Err(format!("unknown data symbol {sym}: use X, 0 or -")),
                    })
                    .collect::<Result<_, _>>()?;
                Ok(())
            }
            "values" => {
                self.series = rest
                    .split_whitespace()
                    .map(|tok| {
                        if tok == "-" {
                            return Ok(None);
                        }
                        let (v, n) = match tok.split_once('@') {
                            Some((v, n)) => (v, num("sample count", n)?),
                            None => (tok, self.samples),
                        };
                        Ok(Some(PeriodValue::new(num("value", v)?, n)))
                    })
                    .collect::<Result<_, String>>()?;
                Ok(())
            }
            "series" => {
                let (id, vals) = rest
                    .split_once(char::is_whitespace)
                    .ok_or_else(|| "expected `series ID VALUES...`".to_owned())?;
                let vals = vals
                    .split_whitespace()
                    .map(|t| {
                        if t == "-" {
                            Ok(None)
                        } else {
                            num("value", t).map(Some)
                        }
                    })
                    .collect::<Result<_, String>>()?;
                self.inputs.insert(id.to_owned(), vals);
                Ok(())
            }
            "math" => {
                let period = i64::from(self.metric()?.period);
                match math(rest, &self.inputs, period) {
                    Ok(values) => {
                        self.series = values
                            .into_iter()
                            .map(|v| v.map(|v| PeriodValue::new(v, 1.0)))
                            .collect();
                        self.math_error = None;
                    }
                    Err(e) => {
                        self.series.clear();
                        self.math_error = Some(e);
                    }
                }
                Ok(())
            }
            "expect-math-error" => {
                let want = unquote(rest)?;
                let got = self.math_error.clone();
                self.check(got.as_ref().is_some_and(|g| g.contains(&want)), || {
                    format!("math error was {got:?}")
                })
            }
            "expect" => self.expect(rest),
            "expect-reason" => {
                let want = unquote(rest)?;
                let got = self.last()?.reason.clone();
                self.check(got == want, || format!("reason was\n    {got}"))
            }
            "expect-reason-contains" => {
                let want = unquote(rest)?;
                let got = self.last()?.reason.clone();
                self.check(got.contains(&want), || format!("reason was\n    {got}"))
            }
            "expect-data-contains" => {
                let want = unquote(rest)?;
                let got = self.last()?.reason_data_json();
                self.check(got.contains(&want), || {
                    format!("reason data was\n    {got}")
                })
            }
            "expect-error" => {
                let (kind, frag) = match rest.split_once(char::is_whitespace) {
                    Some((k, f)) => (k, Some(unquote(f.trim())?)),
                    None => (rest, None),
                };
                let err = match &self.subject {
                    Subject::Metric(Err(e)) => e.clone(),
                    Subject::Metric(Ok(_)) => {
                        let ok = false;
                        return self.check(ok, || "the alarm was accepted".to_owned());
                    }
                    _ => return Err("expect-error needs an `alarm` before it".to_owned()),
                };
                let got = format!("{:?}", err.kind());
                let text = err.to_string();
                let ok = got == kind && frag.as_ref().is_none_or(|f| text.contains(f.as_str()));
                self.check(ok, || format!("error was {got}: {text}"))
            }
            "expect-parse-error" => {
                let (pos, frag) = rest
                    .split_once(char::is_whitespace)
                    .ok_or_else(|| "expected `expect-parse-error POS \"text\"`".to_owned())?;
                let pos: usize = num("position", pos)?;
                let frag = unquote(frag.trim())?;
                let got = match &self.subject {
                    Subject::Composite(r) => r.clone(),
                    _ => return Err("expect-parse-error needs a `composite` before it".to_owned()),
                };
                let ok = matches!(&got, Err(e @ Error::Rule { position, .. })
                    if *position == pos && e.to_string().contains(&frag));
                self.check(ok, || format!("parse gave {got:?}"))
            }
            _ => Err(format!("unknown directive {directive}")),
        }
    }

    fn metric(&self) -> Result<&AlarmDef, String> {
        match &self.subject {
            Subject::Metric(Ok(def)) => Ok(def),
            Subject::Metric(Err(e)) => Err(format!("the alarm was rejected: {e}")),
            _ => Err("no `alarm` yet".to_owned()),
        }
    }

    fn expect(&mut self, want: &str) -> Result<(), String> {
        let before = self.current;
        let e = match &self.subject {
            Subject::Metric(_) => {
                let def = self.metric()?;
                let period = i64::from(def.period);
                let points: Vec<Datapoint> = self
                    .series
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (T0 + period * i as i64, *v))
                    .collect();
                let len = i64::try_from(self.series.len()).unwrap_or(0);
                let now_ms = (T0 + period * len) * 1000 + 1234;
                evaluate(def, before, &points, now_ms)
            }
            Subject::Composite(Ok(rule)) => {
                let children = &self.children;
                let lookup = |name: &str| children.get(name).map(|s| ChildState::new(*s));
                evaluate_composite(rule, before, &lookup)
            }
            Subject::Composite(Err(e)) => return Err(format!("the rule was rejected: {e}")),
            Subject::None => return Err("no `alarm` or `composite` yet".to_owned()),
        };
        let consistent = e.changed == (e.new_state != before);
        let (ok, what) = if want == "keep" {
            (
                e.new_state == before && !e.changed,
                format!("keep ({before})"),
            )
        } else {
            let want = parse_state(want)?;
            (e.new_state == want, want.to_string())
        };
        let got = format!(
            "{} (changed={}) because {}",
            e.new_state, e.changed, e.reason
        );
        self.current = e.new_state;
        self.last = Some(e);
        self.check(ok && consistent, || format!("expected {what}, got {got}"))
    }
}

/// The input series of a `math` directive, as metric math sees them.
struct MathInputs<'a> {
    series: &'a HashMap<String, Vec<Option<f64>>>,
    period: i64,
    len: i64,
}

impl mw_query::EvalContext for MathInputs<'_> {
    fn series(&self, id: &str) -> Option<Vec<mw_query::TimeSeries>> {
        let vals = self.series.get(id)?;
        Some(vec![mw_query::TimeSeries::from_points(
            id,
            vals.iter()
                .enumerate()
                .filter_map(|(i, v)| v.map(|v| (T0 + self.period * i as i64, v))),
        )])
    }
    fn metric_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.series.keys().cloned().collect();
        ids.sort();
        ids
    }
    fn search(
        &self,
        _query: &mw_query::SearchExpr,
        _stat: &str,
        _period: i64,
    ) -> Result<Vec<mw_query::TimeSeries>, mw_query::QueryError> {
        Ok(Vec::new())
    }
    fn period(&self) -> i64 {
        self.period
    }
    fn start(&self) -> i64 {
        T0
    }
    fn end(&self) -> i64 {
        T0 + self.period * self.len
    }
}

/// Evaluates `expr` over the named inputs; one value per period (`None`
/// where the result has no point). An alarm needs exactly one series back.
fn math(
    expr: &str,
    inputs: &HashMap<String, Vec<Option<f64>>>,
    period: i64,
) -> Result<Vec<Option<f64>>, String> {
    let len = inputs.values().map(Vec::len).max().unwrap_or(0);
    let parsed = mw_query::parse_expression(expr).map_err(|e| e.to_string())?;
    let ctx = MathInputs {
        series: inputs,
        period,
        len: i64::try_from(len).unwrap_or(0),
    };
    let out = mw_query::evaluate(&parsed, &ctx).map_err(|e| e.to_string())?;
    let [ts] = out.as_slice() else {
        return Err(format!(
            "the expression gave {} time series; an alarm needs exactly one",
            out.len()
        ));
    };
    Ok((0..len)
        .map(|i| ts.value_at(T0 + period * i as i64))
        .collect())
}

fn scenario_files() -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/scenarios is readable")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_scenario_file_passes() {
    let files = scenario_files();
    assert!(files.len() >= 7, "scenario files missing: {files:?}");
    let mut failures = Vec::new();
    let mut checks = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).expect("scenario readable");
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let out = run(&name, &text);
        assert!(out.checks > 0, "{name} checks nothing");
        checks += out.checks;
        failures.extend(out.failures);
    }
    assert!(
        failures.is_empty(),
        "{} of {checks} scenario checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checks >= 200, "only {checks} scenario checks ran");
}

/// The runner itself must be able to fail.
#[test]
fn the_runner_reports_wrong_expectations() {
    let cases = [
        ("alarm n=1 threshold=4\nvalues 5\nexpect OK\n", "expected OK, got ALARM"),
        ("alarm n=1 threshold=4\nvalues 3\nexpect OK\nexpect-reason-contains \"greater than\"\nexpect-reason \"nope\"\n", "reason was"),
        ("alarm n=3 threshold=4\nstate OK\ndata - - X - -\nexpect keep\n", "expected keep (OK), got ALARM"),
        ("alarm period=15\nexpect-error InvalidCombination\n", "error was InvalidParameter"),
        ("alarm n=1\nexpect-error InvalidParameter\n", "the alarm was accepted"),
        ("composite ALARM(a)\nchild a OK\nexpect ALARM\n", "expected ALARM, got OK"),
        ("composite ALARM(a) AND\nexpect-parse-error 3 \"end\"\n", "parse gave"),
        ("alarm bogus=1\n", "unknown alarm key"),
        ("frobnicate\n", "unknown directive"),
        ("alarm\ndata 1 2\n", "unknown data symbol"),
        (
            "alarm math=true nostat=1 threshold=5\nseries a 1 2\nmath a * 10\nexpect OK\n",
            "expected OK, got ALARM",
        ),
        (
            "alarm math=true nostat=1\nseries a 1\nmath nope * 2\nexpect-math-error \"zzz\"\n",
            "math error was",
        ),
    ];
    for (text, want) in cases {
        let out = run("inline", text);
        assert_eq!(out.failures.len(), 1, "{text}: {:?}", out.failures);
        assert!(
            out.failures[0].contains(want),
            "{text}: {}",
            out.failures[0]
        );
    }
    let ok = run(
        "inline",
        "alarm n=1 threshold=4 # trailing comment\nvalues 5\nexpect ALARM\n",
    );
    assert!(ok.failures.is_empty(), "{:?}", ok.failures);
    assert_eq!(ok.checks, 1);
}
