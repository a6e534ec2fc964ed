//! Proxy configuration: flags, then environment variables (`MODELWATCH_PROXY_*`,
//! and `MODELWATCH_SERVER`, `MODELWATCH_ACCESS_KEY`, `MODELWATCH_LOG` as the
//! server has them), then the `[proxy]` table of an optional TOML file
//! (`--config`), then defaults.
//!
//! `ProxyArgs` (in `proxy`) is what clap read, every setting optional;
//! `ProxySettings::resolve` puts the file under it, applies the defaults and
//! checks the values. A key of the `[proxy]` table is its flag's name with `_`
//! for `-`; the repeatable `--invocation-path` is the list `invocation_paths`,
//! and `access_key` is a table shaped like the server's `[[auth_keys]]`.
//! Values from the file are checked while it is read, so their errors name
//! the file, line and column; paths in it are relative to the working
//! directory, as the server's are.

use crate::config::read_toml;
use crate::proxy::{BackgroundPriority, CaptureMode, ProxyArgs};
use anyhow::{anyhow, bail, Context};
use mw_client::sigv4::Signer;
use serde::{Deserialize, Deserializer};
use std::net::SocketAddr;
use std::num::{NonZeroU64, NonZeroUsize};
use std::path::{Path, PathBuf};

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    proxy: FileProxy,
}

/// The `[proxy]` table.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileProxy {
    listen: Option<SocketAddr>,
    #[serde(default, deserialize_with = "upstream_url")]
    upstream: Option<String>,
    upstream_h2c: Option<bool>,
    #[serde(default, deserialize_with = "endpoint_name")]
    endpoint: Option<String>,
    #[serde(default, deserialize_with = "variant_name")]
    variant: Option<String>,
    #[serde(default, deserialize_with = "server_url")]
    server: Option<String>,
    #[serde(default, deserialize_with = "access_key")]
    access_key: Option<FileKey>,
    max_body_bytes: Option<NonZeroUsize>,
    max_response_bytes: Option<usize>,
    upstream_timeout_ms: Option<u64>,
    client_timeout_ms: Option<u64>,
    max_in_flight: Option<NonZeroUsize>,
    max_connections: Option<NonZeroUsize>,
    #[serde(default, deserialize_with = "invocation_paths")]
    invocation_paths: Option<Vec<String>>,
    high_resolution: Option<bool>,
    metrics_flush_ms: Option<NonZeroU64>,
    schema: Option<PathBuf>,
    #[serde(default, deserialize_with = "percent")]
    capture_percent: Option<f64>,
    capture_mode: Option<CaptureMode>,
    capture_dir: Option<PathBuf>,
    #[serde(default, deserialize_with = "csv_types")]
    capture_csv_types: Option<Vec<String>>,
    #[serde(default, deserialize_with = "json_types")]
    capture_json_types: Option<Vec<String>>,
    capture_queue_bytes: Option<usize>,
    capture_buffer_dir: Option<PathBuf>,
    capture_buffer_bytes: Option<u64>,
    capture_file_bytes: Option<u64>,
    capture_flush_ms: Option<u64>,
    capture_no_sync: Option<bool>,
    threads: Option<usize>,
    #[serde(default, deserialize_with = "busy_poll_us")]
    busy_poll_us: Option<u64>,
    background_priority: Option<BackgroundPriority>,
    #[serde(default, deserialize_with = "log_filter")]
    log: Option<String>,
}

/// `[proxy.access_key]`: the key requests to the server are signed with.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileKey {
    access_key_id: String,
    secret_access_key: String,
}

impl std::fmt::Debug for FileKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("FileKey")
            .field("access_key_id", &self.access_key_id)
            .finish()
    }
}

/// Reads a key that is present and checks its value; the error names the
/// key and is given the value's position in the file.
fn checked<'de, D, T>(
    d: D,
    key: &str,
    check: fn(&T) -> Result<(), String>,
) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let v = T::deserialize(d)?;
    check(&v).map_err(|e| serde::de::Error::custom(format!("{key}: {e}")))?;
    Ok(Some(v))
}

fn check_percent(p: &f64) -> Result<(), String> {
    if (0.0..=100.0).contains(p) {
        Ok(())
    } else {
        Err(format!("must be between 0 and 100, got {p}"))
    }
}

fn check_busy_poll_us(us: &u64) -> Result<(), String> {
    if *us <= MAX_BUSY_POLL_US {
        Ok(())
    } else {
        Err(format!("must be at most {MAX_BUSY_POLL_US} (µs), got {us}"))
    }
}

fn check_invocation_path(p: &String) -> Result<(), String> {
    if p.starts_with('/') {
        Ok(())
    } else {
        Err(format!("{p:?} must start with /"))
    }
}

fn check_name(what: &str, name: &str) -> Result<(), String> {
    mw_capture::layout::validate_name(what, name).map_err(|e| e.to_string())
}

fn check_url(what: &str, url: &str) -> Result<(), String> {
    mw_proxy::parse_base(what, url)
        .map(drop)
        .map_err(|e| e.to_string())
}

fn endpoint_name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    checked(d, "endpoint", |n: &String| check_name("endpoint name", n))
}

fn variant_name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    checked(d, "variant", |n: &String| check_name("variant name", n))
}

fn upstream_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    checked(d, "upstream", |u: &String| check_url("upstream", u))
}

fn server_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    checked(d, "server", |u: &String| check_url("server", u))
}

fn percent<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    checked(d, "capture_percent", check_percent)
}

fn busy_poll_us<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    checked(d, "busy_poll_us", check_busy_poll_us)
}

fn invocation_paths<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    checked(d, "invocation_paths", |paths: &Vec<String>| {
        paths.iter().try_for_each(check_invocation_path)
    })
}

fn csv_types<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    checked(d, "capture_csv_types", |types: &Vec<String>| {
        mw_capture::ContentTypes::new(types.clone(), vec![DEFAULT_JSON_TYPE.into()])
            .map(drop)
            .map_err(|e| e.to_string())
    })
}

fn json_types<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    checked(d, "capture_json_types", |types: &Vec<String>| {
        mw_capture::ContentTypes::new(vec![DEFAULT_CSV_TYPE.into()], types.clone())
            .map(drop)
            .map_err(|e| e.to_string())
    })
}

fn log_filter<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    checked(d, "log", |filter: &String| {
        tracing_subscriber::EnvFilter::try_new(filter)
            .map(drop)
            .map_err(|e| format!("bad log filter {filter:?}: {e}"))
    })
}

fn access_key<'de, D: Deserializer<'de>>(d: D) -> Result<Option<FileKey>, D::Error> {
    checked(d, "access_key", |k: &FileKey| {
        if k.access_key_id.is_empty() || k.access_key_id.contains(':') {
            Err("access_key_id must be non-empty, without `:`".to_string())
        } else if k.secret_access_key.is_empty() {
            Err("secret_access_key must be non-empty".to_string())
        } else {
            Ok(())
        }
    })
}

const DEFAULT_LISTEN: ([u8; 4], u16) = ([127, 0, 0, 1], 9610);
const DEFAULT_VARIANT: &str = "AllTraffic";
const DEFAULT_BODY_BYTES: usize = 6 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS: u64 = 60_000;
const DEFAULT_MAX_IN_FLIGHT: usize = 1024;
const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
const DEFAULT_CSV_TYPE: &str = "text/csv";
const DEFAULT_JSON_TYPE: &str = "application/json";
const DEFAULT_CAPTURE_QUEUE_BYTES: usize = 64 * 1024 * 1024;
const DEFAULT_CAPTURE_BUFFER_BYTES: u64 = 256 * 1024 * 1024;
const DEFAULT_CAPTURE_FILE_BYTES: u64 = 64 * 1024 * 1024;
const DEFAULT_CAPTURE_FLUSH_MS: u64 = 100;
/// How long a serving thread polls for an upstream answer before it sleeps.
const DEFAULT_BUSY_POLL_US: u64 = 200;
/// Polling longer than this would spend more CPU than a wakeup costs.
const MAX_BUSY_POLL_US: u64 = 10_000;

/// The resolved proxy settings: every value chosen and checked.
#[derive(Debug)]
pub struct ProxySettings {
    pub listen: SocketAddr,
    pub upstream: String,
    pub upstream_h2c: bool,
    pub endpoint: String,
    pub variant: String,
    pub server: Option<String>,
    pub access_key: Option<Signer>,
    pub max_body_bytes: usize,
    pub max_response_bytes: usize,
    pub upstream_timeout_ms: u64,
    pub client_timeout_ms: u64,
    pub max_in_flight: usize,
    pub max_connections: usize,
    pub invocation_paths: Vec<String>,
    pub high_resolution: bool,
    pub metrics_flush_ms: u64,
    pub schema: Option<PathBuf>,
    pub capture_percent: Option<f64>,
    pub capture_mode: CaptureMode,
    pub capture_dir: Option<PathBuf>,
    pub capture_csv_types: Vec<String>,
    pub capture_json_types: Vec<String>,
    pub capture_queue_bytes: usize,
    pub capture_buffer_dir: Option<PathBuf>,
    pub capture_buffer_bytes: u64,
    pub capture_file_bytes: u64,
    pub capture_flush_ms: u64,
    pub capture_no_sync: bool,
    /// None: one per CPU.
    pub threads: Option<usize>,
    pub busy_poll_us: u64,
    pub background_priority: BackgroundPriority,
    pub log: String,
    /// Warnings about the configuration, to log once logging is set up.
    pub warnings: Vec<String>,
}

/// The error for a required setting given nowhere.
fn missing(flag: &str, env: &str, key: &str, file: Option<&Path>) -> anyhow::Error {
    let file = match file {
        Some(p) => format!("config file {}", p.display()),
        None => "a config file (--config FILE)".to_string(),
    };
    anyhow!("--{flag} is required: give the flag, set {env}, or set `{key}` in the [proxy] table of {file}")
}

/// A list flag replaces the file's list; the default applies when neither has one.
fn list(flag: Vec<String>, file: Option<Vec<String>>, default: &[&str]) -> Vec<String> {
    if !flag.is_empty() {
        flag
    } else {
        file.unwrap_or_else(|| default.iter().map(|s| s.to_string()).collect())
    }
}

impl ProxySettings {
    pub fn resolve(args: ProxyArgs) -> anyhow::Result<ProxySettings> {
        let path = args.config.as_deref();
        let file = match path {
            None => FileProxy::default(),
            Some(p) => read_toml::<FileConfig>(p)?.proxy,
        };
        let mut warnings = Vec::new();
        let access_key = match (&args.access_key, file.access_key) {
            (Some(k), _) => Some(Signer::parse(k).map_err(|e| anyhow!("--access-key: {e}"))?),
            (None, Some(k)) => {
                if let Some(p) = path {
                    warnings.extend(readable_by_others(p));
                }
                Some(
                    Signer::parse(&format!("{}:{}", k.access_key_id, k.secret_access_key))
                        .context("access_key in the config file")?,
                )
            }
            (None, None) => None,
        };
        let high_resolution = args
            .high_resolution
            .or(file.high_resolution)
            .unwrap_or(false);
        let s = ProxySettings {
            listen: args
                .listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(DEFAULT_LISTEN)),
            upstream: args.upstream.or(file.upstream).ok_or_else(|| {
                missing("upstream", "MODELWATCH_PROXY_UPSTREAM", "upstream", path)
            })?,
            upstream_h2c: args.upstream_h2c.or(file.upstream_h2c).unwrap_or(false),
            endpoint: args.endpoint.or(file.endpoint).ok_or_else(|| {
                missing("endpoint", "MODELWATCH_PROXY_ENDPOINT", "endpoint", path)
            })?,
            variant: args
                .variant
                .or(file.variant)
                .unwrap_or_else(|| DEFAULT_VARIANT.to_string()),
            server: args.server.or(file.server),
            access_key,
            max_body_bytes: args
                .max_body_bytes
                .or(file.max_body_bytes.map(NonZeroUsize::get))
                .unwrap_or(DEFAULT_BODY_BYTES),
            max_response_bytes: args
                .max_response_bytes
                .or(file.max_response_bytes)
                .unwrap_or(DEFAULT_BODY_BYTES),
            upstream_timeout_ms: args
                .upstream_timeout_ms
                .or(file.upstream_timeout_ms)
                .unwrap_or(DEFAULT_TIMEOUT_MS),
            client_timeout_ms: args
                .client_timeout_ms
                .or(file.client_timeout_ms)
                .unwrap_or(DEFAULT_TIMEOUT_MS),
            max_in_flight: args
                .max_in_flight
                .or(file.max_in_flight.map(NonZeroUsize::get))
                .unwrap_or(DEFAULT_MAX_IN_FLIGHT),
            max_connections: args
                .max_connections
                .or(file.max_connections.map(NonZeroUsize::get))
                .unwrap_or(DEFAULT_MAX_CONNECTIONS),
            invocation_paths: list(args.invocation_paths, file.invocation_paths, &[]),
            high_resolution,
            metrics_flush_ms: args
                .metrics_flush_ms
                .or(file.metrics_flush_ms.map(NonZeroU64::get))
                .unwrap_or(if high_resolution { 1000 } else { 10_000 }),
            schema: args.schema.or(file.schema),
            capture_percent: args.capture_percent.or(file.capture_percent),
            capture_mode: args
                .capture_mode
                .or(file.capture_mode)
                .unwrap_or(CaptureMode::InputAndOutput),
            capture_dir: args.capture_dir.or(file.capture_dir),
            capture_csv_types: list(
                args.capture_csv_types,
                file.capture_csv_types,
                &[DEFAULT_CSV_TYPE],
            ),
            capture_json_types: list(
                args.capture_json_types,
                file.capture_json_types,
                &[DEFAULT_JSON_TYPE],
            ),
            capture_queue_bytes: args
                .capture_queue_bytes
                .or(file.capture_queue_bytes)
                .unwrap_or(DEFAULT_CAPTURE_QUEUE_BYTES),
            capture_buffer_dir: args.capture_buffer_dir.or(file.capture_buffer_dir),
            capture_buffer_bytes: args
                .capture_buffer_bytes
                .or(file.capture_buffer_bytes)
                .unwrap_or(DEFAULT_CAPTURE_BUFFER_BYTES),
            capture_file_bytes: args
                .capture_file_bytes
                .or(file.capture_file_bytes)
                .unwrap_or(DEFAULT_CAPTURE_FILE_BYTES),
            capture_flush_ms: args
                .capture_flush_ms
                .or(file.capture_flush_ms)
                .unwrap_or(DEFAULT_CAPTURE_FLUSH_MS),
            capture_no_sync: args
                .capture_no_sync
                .or(file.capture_no_sync)
                .unwrap_or(false),
            threads: args.threads.or(file.threads),
            busy_poll_us: args
                .busy_poll_us
                .or(file.busy_poll_us)
                .unwrap_or(DEFAULT_BUSY_POLL_US),
            background_priority: args
                .background_priority
                .or(file.background_priority)
                .unwrap_or(BackgroundPriority::Idle),
            log: args.log.or(file.log).unwrap_or_else(|| "info".to_string()),
            warnings,
        };
        // The file's values were checked as it was read: what fails here
        // came from a flag or an environment variable.
        if s.max_body_bytes == 0 || s.max_in_flight == 0 || s.max_connections == 0 {
            bail!("--max-body-bytes, --max-in-flight and --max-connections must be positive");
        }
        for p in &s.invocation_paths {
            check_invocation_path(p).map_err(|e| anyhow!("--invocation-path {e}"))?;
        }
        check_busy_poll_us(&s.busy_poll_us).map_err(|e| anyhow!("--busy-poll-us {e}"))?;
        if let Some(p) = &s.capture_percent {
            check_percent(p).map_err(|e| anyhow!("--capture-percent {e}"))?;
        }
        if s.metrics_flush_ms == 0 {
            bail!("--metrics-flush-ms must be positive");
        }
        check_name("endpoint name", &s.endpoint).map_err(|e| anyhow!("--endpoint: {e}"))?;
        check_name("variant name", &s.variant).map_err(|e| anyhow!("--variant: {e}"))?;
        check_url("upstream", &s.upstream).map_err(|e| anyhow!("--upstream: {e}"))?;
        if let Some(u) = &s.server {
            check_url("server", u).map_err(|e| anyhow!("--server: {e}"))?;
        }
        Ok(s)
    }
}

/// A warning when the file that holds a secret can be read by other users.
#[cfg(unix)]
fn readable_by_others(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o044 != 0).then(|| {
        format!(
            "config file {} holds a secret access key and other users can read it (mode {:o}); \
             make it private (chmod 600)",
            path.display(),
            mode & 0o777
        )
    })
}

#[cfg(not(unix))]
fn readable_by_others(_path: &Path) -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    /// `modelwatch proxy`'s arguments alone, to parse flags and the
    /// environment as the binary does.
    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        args: ProxyArgs,
    }

    /// Writes `text` to a file of its own and returns its path.
    fn file(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("mw-proxy-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        path
    }

    fn from_file(name: &str, text: &str) -> anyhow::Result<ProxySettings> {
        ProxySettings::resolve(ProxyArgs {
            config: Some(file(name, text)),
            ..Default::default()
        })
    }

    /// The error as the binary prints it, causes included.
    fn error(r: anyhow::Result<ProxySettings>) -> String {
        format!("{:#}", r.unwrap_err())
    }

    const REQUIRED: &str = "[proxy]\nupstream = \"http://127.0.0.1:8080\"\nendpoint = \"churn\"\n";

    #[test]
    fn clap_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_setting_can_come_from_the_file() {
        let s = from_file(
            "all",
            r#"[proxy]
listen = "127.0.0.1:9700"
upstream = "http://127.0.0.1:5000"
upstream_h2c = true
endpoint = "iris"
variant = "Blue"
server = "http://127.0.0.1:9600"
max_body_bytes = 1000
max_response_bytes = 2000
upstream_timeout_ms = 3000
client_timeout_ms = 4000
max_in_flight = 5
max_connections = 6
invocation_paths = ["/predict", "/score"]
high_resolution = true
metrics_flush_ms = 250
schema = "iris-schema.json"
capture_percent = 20
capture_mode = "input"
capture_dir = "/var/lib/capture"
capture_csv_types = ["text/csv", "text/plain"]
capture_json_types = ["application/jsonlines"]
capture_queue_bytes = 7
capture_buffer_dir = "/var/lib/buffer"
capture_buffer_bytes = 8
capture_file_bytes = 9
capture_flush_ms = 10
capture_no_sync = true
threads = 3
busy_poll_us = 250
background_priority = "normal"
log = "mw_proxy=debug"

[proxy.access_key]
access_key_id = "AKIDEXAMPLE"
secret_access_key = "secret"
"#,
        )
        .unwrap();
        assert_eq!(s.listen, "127.0.0.1:9700".parse().unwrap());
        assert_eq!(s.upstream, "http://127.0.0.1:5000");
        assert!(s.upstream_h2c);
        assert_eq!((s.endpoint.as_str(), s.variant.as_str()), ("iris", "Blue"));
        assert_eq!(s.server.as_deref(), Some("http://127.0.0.1:9600"));
        assert!(format!("{:?}", s.access_key).contains("AKIDEXAMPLE"));
        assert_eq!((s.max_body_bytes, s.max_response_bytes), (1000, 2000));
        assert_eq!((s.upstream_timeout_ms, s.client_timeout_ms), (3000, 4000));
        assert_eq!((s.max_in_flight, s.max_connections), (5, 6));
        assert_eq!(s.invocation_paths, ["/predict", "/score"]);
        assert!(s.high_resolution);
        assert_eq!(s.metrics_flush_ms, 250);
        assert_eq!(s.schema, Some(PathBuf::from("iris-schema.json")));
        assert_eq!(s.capture_percent, Some(20.0));
        assert_eq!(s.capture_mode, CaptureMode::Input);
        assert_eq!(s.capture_dir, Some(PathBuf::from("/var/lib/capture")));
        assert_eq!(s.capture_csv_types, ["text/csv", "text/plain"]);
        assert_eq!(s.capture_json_types, ["application/jsonlines"]);
        assert_eq!(s.capture_queue_bytes, 7);
        assert_eq!(s.capture_buffer_dir, Some(PathBuf::from("/var/lib/buffer")));
        assert_eq!((s.capture_buffer_bytes, s.capture_file_bytes), (8, 9));
        assert_eq!(s.capture_flush_ms, 10);
        assert!(s.capture_no_sync);
        assert_eq!(s.threads, Some(3));
        assert_eq!(s.busy_poll_us, 250);
        assert_eq!(s.background_priority, BackgroundPriority::Normal);
        assert_eq!(s.log, "mw_proxy=debug");
    }

    #[test]
    fn defaults_apply_without_a_file() {
        let s = ProxySettings::resolve(ProxyArgs {
            upstream: Some("http://127.0.0.1:8080".into()),
            endpoint: Some("churn".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(s.listen, "127.0.0.1:9610".parse().unwrap());
        assert_eq!(s.variant, "AllTraffic");
        assert!(!s.upstream_h2c && !s.high_resolution && !s.capture_no_sync);
        assert!(s.access_key.is_none() && s.server.is_none());
        assert_eq!((s.max_body_bytes, s.max_response_bytes), (6 << 20, 6 << 20));
        assert_eq!(
            (s.upstream_timeout_ms, s.client_timeout_ms),
            (60_000, 60_000)
        );
        assert_eq!((s.max_in_flight, s.max_connections), (1024, 10_000));
        assert!(s.invocation_paths.is_empty());
        assert_eq!(s.metrics_flush_ms, 10_000);
        assert_eq!(s.capture_mode, CaptureMode::InputAndOutput);
        assert_eq!(s.background_priority, BackgroundPriority::Idle);
        assert_eq!(s.capture_csv_types, ["text/csv"]);
        assert_eq!(s.capture_json_types, ["application/json"]);
        assert_eq!(s.capture_queue_bytes, 64 << 20);
        assert_eq!(s.capture_buffer_bytes, 256 << 20);
        assert_eq!(s.capture_file_bytes, 64 << 20);
        assert_eq!(s.capture_flush_ms, 100);
        assert_eq!(s.busy_poll_us, 200);
        assert_eq!(s.log, "info");
        assert!(s.warnings.is_empty());
    }

    /// The only test that sets `MODELWATCH_PROXY_*` variables; the others
    /// build `ProxyArgs` without reading the environment.
    #[test]
    fn flags_win_over_environment_over_file_over_defaults() {
        let path = file(
            "precedence",
            &format!(
                "{REQUIRED}variant = \"FromFile\"\nmax_in_flight = 22\nmax_connections = 33\n\
                 high_resolution = true\ninvocation_paths = [\"/file\"]\ncapture_mode = \"output\"\n"
            ),
        );
        let env = [
            ("MODELWATCH_PROXY_VARIANT", "FromEnv"),
            ("MODELWATCH_PROXY_MAX_IN_FLIGHT", "11"),
            ("MODELWATCH_PROXY_HIGH_RESOLUTION", "false"),
            ("MODELWATCH_PROXY_CONFIG", path.to_str().unwrap()),
        ];
        for (k, v) in env {
            std::env::set_var(k, v);
        }
        let parsed = Cli::try_parse_from([
            "proxy",
            "--max-in-flight",
            "7",
            "--upstream-h2c",
            "--invocation-path",
            "/flag",
        ]);
        for (k, _) in env {
            std::env::remove_var(k);
        }
        let s = ProxySettings::resolve(parsed.unwrap().args).unwrap();
        // flag over environment over file
        assert_eq!(s.max_in_flight, 7);
        assert!(s.upstream_h2c);
        assert_eq!(s.invocation_paths, ["/flag"]);
        // environment over file, `false` included
        assert_eq!(s.variant, "FromEnv");
        assert!(!s.high_resolution);
        assert_eq!(s.metrics_flush_ms, 10_000);
        // file over default
        assert_eq!(s.max_connections, 33);
        assert_eq!(s.capture_mode, CaptureMode::Output);
        assert_eq!(s.upstream, "http://127.0.0.1:8080");
        // default
        assert_eq!(s.client_timeout_ms, 60_000);
        assert_eq!(s.listen.port(), 9610);

        // A flag can turn off what the file turns on.
        let parsed = Cli::try_parse_from([
            "proxy",
            "--config",
            path.to_str().unwrap(),
            "--high-resolution=false",
        ])
        .unwrap();
        assert!(!ProxySettings::resolve(parsed.args).unwrap().high_resolution);
    }

    #[test]
    fn unknown_keys_are_refused_with_their_position() {
        let e = error(from_file(
            "unknown",
            &format!("{REQUIRED}capture_percnt = 5\n"),
        ));
        assert!(e.contains("line 4, column 1"), "{e}");
        assert!(e.contains("capture_percnt"), "{e}");
        assert!(e.contains("unknown.toml"), "{e}");
        // The server's tables are not the proxy's.
        let e = error(from_file(
            "server-table",
            "[server]\nlisten = \"127.0.0.1:1\"\n",
        ));
        assert!(e.contains("line 1"), "{e}");
    }

    #[test]
    fn malformed_files_name_the_file_line_and_column() {
        let e = error(from_file(
            "malformed",
            "[proxy]\nupstream = \"http://a:1\nendpoint = \"x\"\n",
        ));
        assert!(e.contains("in config file "), "{e}");
        assert!(e.contains("malformed.toml"), "{e}");
        assert!(e.contains("line 2, column"), "{e}");
        let e = error(from_file("unclosed", "[proxy\n"));
        assert!(e.contains("unclosed.toml: line 1, column"), "{e}");
        let e = error(ProxySettings::resolve(ProxyArgs {
            config: Some("/nonexistent/modelwatch-proxy.toml".into()),
            ..Default::default()
        }));
        assert!(
            e.contains("reading config file /nonexistent/modelwatch-proxy.toml"),
            "{e}"
        );
    }

    #[test]
    fn bad_values_in_the_file_name_their_position() {
        for (name, line, want) in [
            ("listen", "listen = \"nowhere\"", "line 4, column 10"),
            ("type", "max_response_bytes = \"big\"", "line 4, column 22"),
            ("zero", "max_in_flight = 0", "line 4, column 17"),
            ("negative", "threads = -1", "line 4, column 11"),
            (
                "percent",
                "capture_percent = 150",
                "capture_percent: must be between 0 and 100",
            ),
            ("mode", "capture_mode = \"both\"", "line 4, column 16"),
            (
                "busy",
                "busy_poll_us = 20000",
                "busy_poll_us: must be at most 10000 (µs), got 20000",
            ),
            (
                "path",
                "invocation_paths = [\"predict\"]",
                "invocation_paths: \"predict\" must start with /",
            ),
            (
                "csv",
                "capture_csv_types = [\"csv\"]",
                "not of the form type/subtype",
            ),
            ("json", "capture_json_types = []", "between 1 and 10"),
            ("log", "log = \"mw_proxy=loud\"", "log: bad log filter"),
            ("bool", "upstream_h2c = \"yes\"", "line 4, column 16"),
            (
                "variant",
                "variant = \"A B\"",
                "variant: variant name \"A B\" is not valid",
            ),
            (
                "server",
                "server = \"ftp://x:1\"",
                "server: server URL \"ftp://x:1\" must be http://host:port",
            ),
        ] {
            let e = error(from_file(name, &format!("{REQUIRED}{line}\n")));
            assert!(e.contains(want), "{name}: {e}");
            assert!(e.contains("line 4, column"), "{name}: {e}");
            assert!(e.contains(&format!("{name}.toml")), "{name}: {e}");
        }
        let e = error(from_file(
            "key",
            &format!("{REQUIRED}[proxy.access_key]\naccess_key_id = \"AK\"\n"),
        ));
        assert!(e.contains("secret_access_key"), "{e}");
        let e = error(from_file(
            "empty-key",
            &format!(
                "{REQUIRED}access_key = {{ access_key_id = \"\", secret_access_key = \"s\" }}\n"
            ),
        ));
        assert!(
            e.contains("line 4, column 14") && e.contains("access_key_id"),
            "{e}"
        );
    }

    #[test]
    fn bad_names_and_urls_in_the_file_name_their_position() {
        let e = error(from_file(
            "bad-endpoint",
            "[proxy]\nupstream = \"http://127.0.0.1:8080\"\nendpoint = \"my model\"\n",
        ));
        assert!(e.contains("line 3, column 12"), "{e}");
        assert!(
            e.contains("endpoint: endpoint name \"my model\" is not valid"),
            "{e}"
        );
        let e = error(from_file(
            "bad-upstream",
            "[proxy]\nupstream = \"127.0.0.1:8080\"\nendpoint = \"churn\"\n",
        ));
        assert!(e.contains("line 2, column 12"), "{e}");
        assert!(e.contains("upstream: upstream URL"), "{e}");
    }

    #[test]
    fn missing_required_settings_say_where_to_give_them() {
        let e = error(from_file("no-upstream", "[proxy]\nendpoint = \"churn\"\n"));
        for want in [
            "--upstream",
            "MODELWATCH_PROXY_UPSTREAM",
            "`upstream`",
            "no-upstream.toml",
        ] {
            assert!(e.contains(want), "{want}: {e}");
        }
        let e = error(ProxySettings::resolve(ProxyArgs {
            upstream: Some("http://127.0.0.1:8080".into()),
            ..Default::default()
        }));
        for want in [
            "--endpoint",
            "MODELWATCH_PROXY_ENDPOINT",
            "`endpoint`",
            "--config",
        ] {
            assert!(e.contains(want), "{want}: {e}");
        }
    }

    #[test]
    fn bad_flag_values_name_the_flag() {
        let base = || ProxyArgs {
            upstream: Some("http://127.0.0.1:8080".into()),
            endpoint: Some("churn".into()),
            ..Default::default()
        };
        let e = error(ProxySettings::resolve(ProxyArgs {
            capture_percent: Some(150.0),
            ..base()
        }));
        assert_eq!(e, "--capture-percent must be between 0 and 100, got 150");
        let e = error(ProxySettings::resolve(ProxyArgs {
            busy_poll_us: Some(10_001),
            ..base()
        }));
        assert_eq!(e, "--busy-poll-us must be at most 10000 (µs), got 10001");
        let e = error(ProxySettings::resolve(ProxyArgs {
            invocation_paths: vec!["predict".into()],
            ..base()
        }));
        assert_eq!(e, "--invocation-path \"predict\" must start with /");
        let e = error(ProxySettings::resolve(ProxyArgs {
            max_in_flight: Some(0),
            ..base()
        }));
        assert!(e.contains("--max-in-flight"), "{e}");
        let e = error(ProxySettings::resolve(ProxyArgs {
            endpoint: Some("my_model".into()),
            ..base()
        }));
        assert!(
            e.starts_with("--endpoint: endpoint name \"my_model\""),
            "{e}"
        );
        let e = error(ProxySettings::resolve(ProxyArgs {
            upstream: Some("http://127.0.0.1:8080/v1".into()),
            ..base()
        }));
        assert!(
            e.starts_with("--upstream: ") && e.contains("must not have a path"),
            "{e}"
        );
        let e = error(ProxySettings::resolve(ProxyArgs {
            access_key: Some("nocolon".into()),
            ..base()
        }));
        assert!(e.starts_with("--access-key"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn a_secret_in_a_file_others_can_read_is_warned_about() {
        use std::os::unix::fs::PermissionsExt;
        let text = format!(
            "{REQUIRED}[proxy.access_key]\naccess_key_id = \"AK\"\nsecret_access_key = \"S\"\n"
        );
        let path = file("secret", &text);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let args = || ProxyArgs {
            config: Some(path.clone()),
            ..Default::default()
        };
        let s = ProxySettings::resolve(args()).unwrap();
        assert!(s.access_key.is_some());
        assert!(s.warnings[0].contains("chmod 600"), "{:?}", s.warnings);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(ProxySettings::resolve(args()).unwrap().warnings.is_empty());
    }
}
