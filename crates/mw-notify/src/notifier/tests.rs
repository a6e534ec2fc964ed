//! Notifier tests against real loopback endpoints: a tiny HTTP server, a
//! tiny SMTP server and `/bin/sh` command hooks.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::*;
use crate::{ErrorKind, SmtpConfig};

/// A scratch directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let dir = std::env::temp_dir().join(format!("mw-notify-{}", message::new_uuid()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn config(dir: &Path) -> NotifyConfig {
    NotifyConfig {
        dir: dir.to_path_buf(),
        max_attempts: 3,
        backoff_base_ms: 20,
        ..NotifyConfig::default()
    }
}

fn alarm(name: &str) -> AlarmMessage {
    AlarmMessage {
        alarm_name: name.to_string(),
        alarm_description: Some("cpu too high".to_string()),
        alarm_arn: format!("arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"),
        new_state: "ALARM".to_string(),
        old_state: "OK".to_string(),
        new_state_reason: "Threshold Crossed: 1 datapoint [91.0] was greater than 80.0".to_string(),
        state_change_time_ms: 1_714_564_800_123,
        trigger: json!({"MetricName": "CPUUtilization", "Namespace": "AWS/EC2", "Threshold": 80.0}),
    }
}

/// Waits until `alarm`'s deliveries all satisfy `done`, returning them.
fn wait_for(
    n: &Notifier,
    alarm: &str,
    count: usize,
    done: impl Fn(&Delivery) -> bool,
) -> Vec<Delivery> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let rows = n.deliveries(Some(alarm), 100);
        if rows.len() == count && rows.iter().all(&done) {
            return rows;
        }
        assert!(
            Instant::now() < deadline,
            "deliveries never settled: {rows:#?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[derive(Debug)]
struct Request {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: String,
}

/// An HTTP server on 127.0.0.1 answering request number i with
/// `statuses[min(i, len-1)]` after `delay`; every request comes out of the receiver.
fn http_server(statuses: Vec<u16>, delay: Duration) -> (String, Receiver<Request>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for (i, conn) in listener.incoming().enumerate() {
            let Ok(conn) = conn else { return };
            let status = statuses[i.min(statuses.len() - 1)];
            let tx = tx.clone();
            std::thread::spawn(move || {
                if let Some(req) = read_request(&conn) {
                    std::thread::sleep(delay);
                    let _ = tx.send(req);
                    let mut conn = conn;
                    let _ = write!(
                        conn,
                        "HTTP/1.1 {status} X\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope"
                    );
                }
            });
        }
    });
    (url, rx)
}

fn read_request(conn: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(conn);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
    }
    let len: usize = headers.get("content-length")?.parse().ok()?;
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path,
        headers,
        body: String::from_utf8(body).ok()?,
    })
}

/// An SMTP server on 127.0.0.1 for one session; the transcript of what the
/// client sent comes out of the receiver. `rcpt_reply` answers RCPT TO.
fn smtp_server(rcpt_reply: &'static str) -> (u16, Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let Ok((mut conn, _)) = listener.accept() else {
            return;
        };
        let mut reader = BufReader::new(conn.try_clone().expect("clone"));
        let mut transcript = String::new();
        let _ = conn.write_all(b"220 test ESMTP\r\n");
        let mut in_data = false;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            transcript.push_str(&line);
            let reply = if in_data {
                if line == ".\r\n" {
                    in_data = false;
                    "250 queued\r\n"
                } else {
                    continue;
                }
            } else {
                match line.get(..4).unwrap_or("").to_ascii_uppercase().as_str() {
                    "EHLO" => "250-test\r\n250 8BITMIME\r\n",
                    "MAIL" => "250 ok\r\n",
                    "RCPT" => rcpt_reply,
                    "DATA" => {
                        in_data = true;
                        "354 go ahead\r\n"
                    }
                    "QUIT" => {
                        let _ = conn.write_all(b"221 bye\r\n");
                        break;
                    }
                    _ => "502 unknown\r\n",
                }
            };
            if conn.write_all(reply.as_bytes()).is_err() {
                break;
            }
        }
        let _ = tx.send(transcript);
    });
    (port, rx)
}

#[test]
fn http_subscription_gets_an_sns_notification() {
    let dir = TempDir::new();
    let n = Arc::new(Notifier::open(config(dir.path())).expect("open"));
    n.start();
    let (url, requests) = http_server(vec![200], Duration::ZERO);
    let arn = n.create_topic("oncall").expect("topic");
    assert_eq!(arn, "arn:aws:sns:us-east-1:123456789012:oncall");
    n.subscribe("oncall", "http", &url).expect("subscribe");

    n.enqueue(&arn, &alarm("cpu-high")).expect("enqueue");
    let req = requests
        .recv_timeout(Duration::from_secs(10))
        .expect("notification posted");
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/hook");
    assert_eq!(req.headers["content-type"], "text/plain; charset=UTF-8");
    assert_eq!(req.headers["x-amz-sns-message-type"], "Notification");
    assert_eq!(req.headers["x-amz-sns-topic-arn"], arn);

    let body: Value = serde_json::from_str(&req.body).expect("json body");
    assert_eq!(body["Type"], "Notification");
    assert_eq!(body["TopicArn"], arn);
    assert_eq!(
        body["Subject"],
        "ALARM: \"cpu-high\" in US East (N. Virginia)"
    );
    assert_eq!(body["MessageId"].as_str().map(str::len), Some(36));
    assert_eq!(
        body["MessageId"].as_str(),
        req.headers.get("x-amz-sns-message-id").map(String::as_str)
    );
    assert!(body["Timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert_eq!(body["SignatureVersion"], "1");
    let inner: Value = serde_json::from_str(body["Message"].as_str().expect("message is a string"))
        .expect("message is json");
    assert_eq!(inner["AlarmName"], "cpu-high");
    assert_eq!(inner["AlarmDescription"], "cpu too high");
    assert_eq!(inner["AWSAccountId"], "123456789012");
    assert_eq!(inner["NewStateValue"], "ALARM");
    assert_eq!(inner["OldStateValue"], "OK");
    assert_eq!(inner["StateChangeTime"], "2024-05-01T12:00:00.123+0000");
    assert_eq!(inner["Region"], "US East (N. Virginia)");
    assert_eq!(
        inner["AlarmArn"],
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:cpu-high"
    );
    assert_eq!(inner["Trigger"]["MetricName"], "CPUUtilization");

    let rows = wait_for(&n, "cpu-high", 1, |d| d.status == "delivered");
    assert_eq!(rows[0].attempts, 1);
    assert_eq!(rows[0].endpoint, url);
    assert_eq!(rows[0].target, arn);
    assert_eq!(rows[0].last_error, None);
}

#[test]
fn failing_endpoint_is_retried_then_failed() {
    let dir = TempDir::new();
    let n = Arc::new(Notifier::open(config(dir.path())).expect("open"));
    n.start();
    let (url, requests) = http_server(vec![500], Duration::ZERO);
    let arn = n.create_topic("t").expect("topic");
    n.subscribe("t", "http", &url).expect("subscribe");
    n.enqueue(&arn, &alarm("flaky")).expect("enqueue");

    let rows = wait_for(&n, "flaky", 1, |d| d.status == "failed");
    assert_eq!(rows[0].attempts, 3);
    let err = rows[0].last_error.as_deref().unwrap_or_default();
    assert!(err.contains("500"), "{err}");
    assert_eq!(requests.try_iter().count(), 3);
}

#[test]
fn endpoint_recovering_is_delivered_on_retry() {
    let dir = TempDir::new();
    let n = Arc::new(Notifier::open(config(dir.path())).expect("open"));
    n.start();
    let (url, requests) = http_server(vec![503, 200], Duration::ZERO);
    let arn = n.create_topic("t").expect("topic");
    n.subscribe("t", "http", &url).expect("subscribe");
    n.enqueue(&arn, &alarm("recovers")).expect("enqueue");

    let rows = wait_for(&n, "recovers", 1, |d| d.status == "delivered");
    assert_eq!(rows[0].attempts, 2);
    let bodies: Vec<Value> = requests
        .try_iter()
        .map(|r| serde_json::from_str(&r.body).expect("json"))
        .collect();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[0]["MessageId"], bodies[1]["MessageId"]);
}

#[test]
fn backoff_doubles_and_is_capped() {
    let dir = TempDir::new();
    let n = Notifier::open(NotifyConfig {
        dir: dir.path().to_path_buf(),
        ..NotifyConfig::default()
    })
    .expect("open");
    let delays: Vec<u64> = (1..=9).map(|a| n.shared.backoff_ms(a)).collect();
    assert_eq!(
        delays,
        [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]
    );
    assert_eq!(n.shared.backoff_ms(200), 60000);
}

#[test]
fn email_subscription_is_sent_over_smtp() {
    let dir = TempDir::new();
    let (port, transcript) = smtp_server("250 ok\r\n");
    let mut cfg = config(dir.path());
    cfg.smtp = Some(SmtpConfig {
        host: "127.0.0.1".to_string(),
        port,
        from: "alarms@example.com".to_string(),
    });
    let n = Arc::new(Notifier::open(cfg).expect("open"));
    n.start();
    let arn = n.create_topic("mail").expect("topic");
    n.subscribe("mail", "email", "ops@example.com")
        .expect("subscribe");
    n.enqueue(&arn, &alarm("disk-full")).expect("enqueue");

    let text = transcript
        .recv_timeout(Duration::from_secs(10))
        .expect("smtp session");
    assert!(text.starts_with("EHLO "), "{text}");
    assert!(
        text.contains("MAIL FROM:<alarms@example.com>\r\n"),
        "{text}"
    );
    assert!(text.contains("RCPT TO:<ops@example.com>\r\n"), "{text}");
    assert!(
        text.contains("Subject: ALARM: \"disk-full\" in US East (N. Virginia)\r\n"),
        "{text}"
    );
    assert!(text.contains("To: ops@example.com\r\n"), "{text}");
    assert!(text.ends_with(".\r\nQUIT\r\n"), "{text}");
    let body_start = text.find("\r\n\r\n").expect("header end") + 4;
    let body_end = text.rfind("\r\n.\r\n").expect("data end");
    let body: Value = serde_json::from_str(&text[body_start..body_end]).expect("json body");
    assert_eq!(body["AlarmName"], "disk-full");
    assert_eq!(body["NewStateValue"], "ALARM");

    let rows = wait_for(&n, "disk-full", 1, |d| d.status == "delivered");
    assert_eq!(rows[0].endpoint, "ops@example.com");
}

#[test]
fn smtp_rejection_fails_with_the_server_line() {
    let dir = TempDir::new();
    let (port, _transcript) = smtp_server("550 no such user\r\n");
    let mut cfg = config(dir.path());
    cfg.max_attempts = 1;
    cfg.smtp = Some(SmtpConfig {
        host: "127.0.0.1".to_string(),
        port,
        from: "alarms@example.com".to_string(),
    });
    let n = Arc::new(Notifier::open(cfg).expect("open"));
    n.start();
    let arn = n.create_topic("mail").expect("topic");
    n.subscribe("mail", "email", "nobody@example.com")
        .expect("subscribe");
    n.enqueue(&arn, &alarm("rejected")).expect("enqueue");
    let rows = wait_for(&n, "rejected", 1, |d| d.status == "failed");
    assert_eq!(
        rows[0].last_error.as_deref(),
        Some("smtp server replied: 550 no such user")
    );
}

#[test]
fn command_hook_gets_the_alarm_on_stdin_and_in_env() {
    let dir = TempDir::new();
    let out = dir.path().join("hook.json");
    let script = format!(
        "cat > '{0}' && env | grep '^MODELWATCH_' | sort > '{0}.env'",
        out.display()
    );
    let mut cfg = config(dir.path());
    cfg.hooks = vec![HookDef::Command {
        name: "page".to_string(),
        program: "/bin/sh".to_string(),
        args: vec!["-c".to_string(), script],
    }];
    let n = Arc::new(Notifier::open(cfg).expect("open"));
    n.start();
    n.enqueue("arn:modelwatch:hook:page", &alarm("mem-high"))
        .expect("enqueue");
    let rows = wait_for(&n, "mem-high", 1, |d| d.status == "delivered");
    assert_eq!(rows[0].endpoint, "/bin/sh");
    assert_eq!(rows[0].target, "arn:modelwatch:hook:page");

    let stdin: Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("stdin file")).expect("json");
    assert_eq!(stdin["AlarmName"], "mem-high");
    assert_eq!(stdin["Trigger"]["Threshold"], 80.0);
    let env = std::fs::read_to_string(dir.path().join("hook.json.env")).expect("env file");
    assert_eq!(
        env,
        "MODELWATCH_ALARM_ARN=arn:aws:cloudwatch:us-east-1:123456789012:alarm:mem-high\n\
         MODELWATCH_ALARM_NAME=mem-high\n\
         MODELWATCH_ALARM_STATE=ALARM\n\
         MODELWATCH_OLD_STATE=OK\n"
    );
}

#[test]
fn failing_command_hook_records_stderr() {
    let dir = TempDir::new();
    let mut cfg = config(dir.path());
    cfg.max_attempts = 2;
    cfg.hooks = vec![HookDef::Command {
        name: "broken".to_string(),
        program: "/bin/sh".to_string(),
        args: vec![
            "-c".to_string(),
            "echo 'pager down' >&2; exit 7".to_string(),
        ],
    }];
    let n = Arc::new(Notifier::open(cfg).expect("open"));
    n.start();
    n.enqueue("arn:modelwatch:hook:broken", &alarm("x"))
        .expect("enqueue");
    let rows = wait_for(&n, "x", 1, |d| d.status == "failed");
    assert_eq!(rows[0].attempts, 2);
    assert_eq!(
        rows[0].last_error.as_deref(),
        Some("command exited with status 7: pager down")
    );
}

#[test]
fn webhook_hook_posts_the_alarm_json() {
    let dir = TempDir::new();
    let (url, requests) = http_server(vec![204], Duration::ZERO);
    let mut cfg = config(dir.path());
    cfg.hooks = vec![HookDef::Webhook {
        name: "automation".to_string(),
        url: url.clone(),
    }];
    let n = Arc::new(Notifier::open(cfg).expect("open"));
    n.start();
    n.enqueue("arn:modelwatch:hook:automation", &alarm("latency"))
        .expect("enqueue");
    let req = requests
        .recv_timeout(Duration::from_secs(10))
        .expect("webhook posted");
    assert_eq!(req.headers["content-type"], "application/json");
    let body: Value = serde_json::from_str(&req.body).expect("json");
    assert_eq!(body["AlarmName"], "latency");
    assert!(body.get("Type").is_none(), "no sns envelope: {body}");
    wait_for(&n, "latency", 1, |d| d.status == "delivered");
}

#[test]
fn check_target_accepts_only_known_topics_and_hooks() {
    let dir = TempDir::new();
    let mut cfg = config(dir.path());
    cfg.hooks = vec![HookDef::Webhook {
        name: "auto".to_string(),
        url: "https://example.com/x".to_string(),
    }];
    let n = Notifier::open(cfg).expect("open");
    let arn = n.create_topic("team").expect("topic");
    n.check_target(&arn).expect("topic accepted");
    n.check_target("arn:modelwatch:hook:auto")
        .expect("hook accepted");

    for bad in [
        "arn:modelwatch:hook:rm-rf",
        "arn:modelwatch:hook:",
        "arn:aws:sns:us-east-1:123456789012:nosuch",
        "arn:aws:sns:eu-west-1:123456789012:team",
        "arn:aws:sns:us-east-1:999999999999:team",
        "arn:aws:sns:us-east-1:123456789012:team:extra",
        "arn:aws:automate:us-east-1:ec2:stop",
        "arn:aws:lambda:us-east-1:123456789012:function:f",
        "",
    ] {
        let err = n.check_target(bad).expect_err(bad);
        assert_eq!(err.kind(), ErrorKind::InvalidParameter, "{bad}");
        assert!(err.to_string().contains("invalid action target"), "{err}");
        let enq = n.enqueue(bad, &alarm("a")).expect_err(bad);
        assert_eq!(enq.kind(), ErrorKind::InvalidParameter);
    }
    n.delete_topic("team").expect("delete");
    assert_eq!(
        n.check_target(&arn).map_err(|e| e.kind()),
        Err(ErrorKind::InvalidParameter)
    );
    assert!(n.deliveries(None, 10).is_empty());
}

#[test]
fn pending_deliveries_survive_a_restart() {
    let dir = TempDir::new();
    let (url, requests) = http_server(vec![200], Duration::ZERO);
    {
        let n = Notifier::open(config(dir.path())).expect("open");
        let arn = n.create_topic("t").expect("topic");
        n.subscribe("t", "http", &url).expect("subscribe");
        n.enqueue(&arn, &alarm("durable")).expect("enqueue");
        n.enqueue(&arn, &alarm("durable")).expect("enqueue");
        let rows = n.deliveries(Some("durable"), 10);
        assert_eq!(rows.len(), 2);
        assert!(rows
            .iter()
            .all(|d| d.status == "pending" && d.attempts == 0));
    }
    assert!(requests.try_recv().is_err(), "nothing delivered unstarted");

    let n = Arc::new(Notifier::open(config(dir.path())).expect("reopen"));
    n.start();
    n.start(); // idempotent
    assert_eq!(n.workers.lock().len(), WORKERS);
    let rows = wait_for(&n, "durable", 2, |d| d.status == "delivered");
    assert!(rows[0].id > rows[1].id, "newest first");
    assert_eq!(requests.try_iter().count(), 2);
}

#[test]
fn stop_leaves_deliveries_pending() {
    let dir = TempDir::new();
    let mut cfg = config(dir.path());
    cfg.hooks = vec![HookDef::Command {
        name: "slow".to_string(),
        program: "/bin/sh".to_string(),
        args: vec!["-c".to_string(), "exec sleep 30".to_string()],
    }];
    let n = Arc::new(Notifier::open(cfg).expect("open"));
    n.start();
    n.enqueue("arn:modelwatch:hook:slow", &alarm("s"))
        .expect("enqueue");
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    n.stop();
    assert!(started.elapsed() < Duration::from_secs(5));
    let rows = n.deliveries(Some("s"), 10);
    assert_eq!(rows[0].status, "pending");
    assert_eq!(rows[0].attempts, 0);
}

#[test]
fn deliveries_run_concurrently() {
    let dir = TempDir::new();
    let n = Arc::new(Notifier::open(config(dir.path())).expect("open"));
    let (url, _requests) = http_server(vec![200], Duration::from_millis(800));
    let arn = n.create_topic("t").expect("topic");
    for i in 0..4 {
        n.subscribe("t", "http", &format!("{url}?n={i}"))
            .expect("subscribe");
    }
    let started = Instant::now();
    n.enqueue(&arn, &alarm("fanout")).expect("enqueue");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "enqueue does not wait"
    );
    n.start();
    wait_for(&n, "fanout", 4, |d| d.status == "delivered");
    // One at a time would take 3.2 s.
    assert!(
        started.elapsed() < Duration::from_millis(2600),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn topics_are_idempotent_validated_and_bounded() {
    let dir = TempDir::new();
    let n = Notifier::open(config(dir.path())).expect("open");
    let a = n.create_topic("alpha_1").expect("create");
    assert_eq!(n.create_topic("alpha_1").expect("again"), a);
    n.create_topic("beta").expect("create");
    assert_eq!(
        n.topics(),
        vec![
            ("alpha_1".to_string(), a),
            (
                "beta".to_string(),
                "arn:aws:sns:us-east-1:123456789012:beta".to_string()
            )
        ]
    );
    for bad in ["", "has space", "a:b", &"x".repeat(257)] {
        assert_eq!(
            n.create_topic(bad).map_err(|e| e.kind()),
            Err(ErrorKind::InvalidParameter),
            "{bad}"
        );
    }
    n.delete_topic("beta").expect("delete");
    n.delete_topic("beta").expect("delete again is fine");
    assert_eq!(n.topics().len(), 1);
    for i in 1..MAX_TOPICS {
        n.create_topic(&format!("t{i}")).expect("under the limit");
    }
    assert_eq!(
        n.create_topic("one-too-many").map_err(|e| e.kind()),
        Err(ErrorKind::LimitExceeded)
    );
}

#[test]
fn subscriptions_are_validated_and_bounded() {
    let dir = TempDir::new();
    let n = Notifier::open(config(dir.path())).expect("open");
    n.create_topic("t").expect("topic");
    let id = n
        .subscribe("t", "https", "https://example.com/a")
        .expect("subscribe");
    assert!(
        id.starts_with("arn:aws:sns:us-east-1:123456789012:t:"),
        "{id}"
    );
    assert_eq!(
        n.subscribe("t", "https", "https://example.com/a")
            .expect("same again"),
        id
    );
    for (protocol, endpoint) in [
        ("http", "https://example.com/a"),
        ("https", "http://example.com/a"),
        ("http", "ftp://example.com"),
        ("http", "http://"),
        ("http", "http://exa mple.com/"),
        ("email", "not-an-address"),
        ("email", "ops@example.com"), // no smtp configured
        ("sms", "+15550100"),
        ("lambda", "arn:aws:lambda:us-east-1:1:function:f"),
    ] {
        assert_eq!(
            n.subscribe("t", protocol, endpoint).map_err(|e| e.kind()),
            Err(ErrorKind::InvalidParameter),
            "{protocol} {endpoint}"
        );
    }
    assert_eq!(
        n.subscribe("missing", "http", "http://example.com/")
            .map_err(|e| e.kind()),
        Err(ErrorKind::NotFound)
    );
    assert_eq!(
        n.subscriptions("missing").map_err(|e| e.kind()),
        Err(ErrorKind::NotFound)
    );
    for i in 1..MAX_SUBSCRIPTIONS_PER_TOPIC {
        n.subscribe("t", "http", &format!("http://example.com/{i}"))
            .expect("under the limit");
    }
    assert_eq!(
        n.subscribe("t", "http", "http://example.com/last")
            .map_err(|e| e.kind()),
        Err(ErrorKind::LimitExceeded)
    );
    let subs = n.subscriptions("t").expect("list");
    assert_eq!(subs.len(), MAX_SUBSCRIPTIONS_PER_TOPIC);
    assert_eq!(subs[0].id, id);
    assert_eq!(subs[0].protocol, "https");
    n.unsubscribe(&id).expect("unsubscribe");
    assert_eq!(
        n.unsubscribe(&id).map_err(|e| e.kind()),
        Err(ErrorKind::NotFound)
    );
    assert_eq!(
        n.subscriptions("t").expect("list").len(),
        MAX_SUBSCRIPTIONS_PER_TOPIC - 1
    );
}

#[test]
fn bad_configs_are_refused() {
    let dir = TempDir::new();
    let hook = |name: &str| HookDef::Webhook {
        name: name.to_string(),
        url: "http://example.com/".to_string(),
    };
    type Edit<'a> = Box<dyn Fn(&mut NotifyConfig) + 'a>;
    let cases: Vec<Edit<'_>> = vec![
        Box::new(|c| c.hooks = vec![hook("a b")]),
        Box::new(|c| c.hooks = vec![hook("dup"), hook("dup")]),
        Box::new(|c| {
            c.hooks = vec![HookDef::Webhook {
                name: "w".to_string(),
                url: "file:///etc/passwd".to_string(),
            }]
        }),
        Box::new(|c| {
            c.hooks = vec![HookDef::Command {
                name: "c".to_string(),
                program: String::new(),
                args: Vec::new(),
            }]
        }),
        Box::new(|c| {
            c.smtp = Some(SmtpConfig {
                host: "localhost".to_string(),
                port: 25,
                from: "nobody".to_string(),
            })
        }),
        Box::new(|c| c.region = "us:east".to_string()),
    ];
    for (i, edit) in cases.iter().enumerate() {
        let mut cfg = config(dir.path());
        edit(&mut cfg);
        assert_eq!(
            Notifier::open(cfg).map(|_| ()).map_err(|e| e.kind()),
            Err(ErrorKind::InvalidParameter),
            "case {i}"
        );
    }
}

#[test]
fn oversized_messages_are_refused() {
    let dir = TempDir::new();
    let mut cfg = config(dir.path());
    cfg.hooks = vec![HookDef::Webhook {
        name: "w".to_string(),
        url: "http://127.0.0.1:9/".to_string(),
    }];
    let n = Notifier::open(cfg).expect("open");
    let mut msg = alarm("big");
    msg.trigger = json!({"Blob": "x".repeat(MAX_MESSAGE_BYTES)});
    assert_eq!(
        n.enqueue("arn:modelwatch:hook:w", &msg)
            .map_err(|e| e.kind()),
        Err(ErrorKind::LimitExceeded)
    );
    // Long reasons are cut, not refused.
    msg = alarm("long-reason");
    msg.new_state_reason = "r".repeat(10_000);
    n.enqueue("arn:modelwatch:hook:w", &msg).expect("enqueue");
}

#[test]
fn delivery_table_is_pruned_to_the_newest_rows() {
    let dir = TempDir::new();
    let mut cfg = config(dir.path());
    cfg.hooks = vec![HookDef::Webhook {
        name: "w".to_string(),
        url: "http://127.0.0.1:9/".to_string(),
    }];
    let n = Notifier::open(cfg).expect("open");
    for i in 0..30 {
        n.enqueue("arn:modelwatch:hook:w", &alarm(&format!("a{i}")))
            .expect("enqueue");
    }
    let pruned = n.shared.store.lock().prune(10).expect("prune");
    assert_eq!(pruned, 20);
    let rows = n.deliveries(None, 100);
    assert_eq!(rows.len(), 10);
    assert_eq!(rows[0].alarm_name, "a29");
    assert_eq!(rows[9].alarm_name, "a20");
}
