//! Server configuration: flags, then `MODELWATCH_*` environment variables, then
//! an optional TOML file, then defaults. `read_toml` (errors that name the
//! file, line and column) is shared with `proxy_config`.

use anyhow::{bail, Context};
use clap::Args;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Args, Debug, Default)]
pub struct ServerArgs {
    /// Address to listen on [default: 127.0.0.1:9600]
    #[arg(long, env = "MODELWATCH_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Data directory [default: ./modelwatch-data]
    #[arg(long, env = "MODELWATCH_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// TOML configuration file
    #[arg(long, env = "MODELWATCH_CONFIG")]
    pub config: Option<PathBuf>,
    /// Access key that must sign requests, as ACCESS_KEY_ID:SECRET (repeatable;
    /// the environment variable takes a comma-separated list). Without any,
    /// every request is accepted.
    #[arg(long = "auth-key", env = "MODELWATCH_AUTH_KEYS", value_delimiter = ',')]
    pub auth_keys: Vec<String>,
    /// When an acknowledged write is durable: `always` (fsync, group-committed)
    /// or `none` (handed to the OS: survives a crash of the process, not of the
    /// machine) [default: always]
    #[arg(long, env = "MODELWATCH_WAL_SYNC")]
    pub wal_sync: Option<String>,
    /// Seconds between checkpoints of the in-memory head into the database [default: 30]
    #[arg(long, env = "MODELWATCH_CHECKPOINT_SECS")]
    pub checkpoint_secs: Option<u64>,
    /// Most metric series accepted [default: 1000000]
    #[arg(long, env = "MODELWATCH_MAX_SERIES")]
    pub max_series: Option<usize>,
    /// Log filter, e.g. `info` or `modelwatch=debug` [default: info]
    #[arg(long, env = "MODELWATCH_LOG")]
    pub log: Option<String>,
    /// Milliseconds to wait after a period closes before evaluating alarms on
    /// it, for late data [default: 1000]
    #[arg(long, env = "MODELWATCH_ALARM_DELAY_MS")]
    pub alarm_delay_ms: Option<u64>,
}

/// The `[server]` table of the TOML file.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileServer {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    wal_sync: Option<String>,
    checkpoint_secs: Option<u64>,
    max_series: Option<usize>,
    log: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct FileKey {
    access_key_id: String,
    secret_access_key: String,
}

/// The `[alarms]` table.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileAlarms {
    delay_ms: Option<u64>,
    max_alarms: Option<usize>,
    region: Option<String>,
    account: Option<String>,
    /// Tries per action delivery before it is `failed`.
    max_attempts: Option<u32>,
}

/// One `[[hooks]]` entry: a named command or webhook alarm actions can name
/// as `arn:modelwatch:hook:<name>`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct FileHook {
    name: String,
    /// Program and arguments, run without a shell.
    command: Option<Vec<String>>,
    /// URL the alarm JSON is POSTed to.
    url: Option<String>,
}

/// The `[smtp]` table: the relay e-mail subscriptions go through.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct FileSmtp {
    host: String,
    #[serde(default = "default_smtp_port")]
    port: u16,
    from: String,
}

fn default_smtp_port() -> u16 {
    25
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    server: FileServer,
    #[serde(default)]
    auth_keys: Vec<FileKey>,
    #[serde(default)]
    alarms: FileAlarms,
    #[serde(default)]
    hooks: Vec<FileHook>,
    smtp: Option<FileSmtp>,
}

/// Alarm and action settings.
#[derive(Debug, Clone)]
pub struct AlarmSettings {
    pub delay_ms: u64,
    pub max_alarms: usize,
    pub region: String,
    pub account: String,
    pub max_attempts: u32,
    pub hooks: Vec<mw_notify::HookDef>,
    pub smtp: Option<mw_notify::SmtpConfig>,
}

/// The resolved server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub keys: Vec<(String, String)>,
    pub wal_sync: mw_tsdb::SyncMode,
    pub checkpoint_secs: u64,
    pub max_series: usize,
    pub log: String,
    pub alarms: AlarmSettings,
}

fn hooks(file: Vec<FileHook>) -> anyhow::Result<Vec<mw_notify::HookDef>> {
    let mut out = Vec::with_capacity(file.len());
    for h in file {
        let def = match (h.command, h.url) {
            (Some(cmd), None) => {
                let mut parts = cmd.into_iter();
                let program = parts
                    .next()
                    .filter(|p| !p.is_empty())
                    .with_context(|| format!("hook {:?}: `command` must name a program", h.name))?;
                mw_notify::HookDef::Command {
                    name: h.name,
                    program,
                    args: parts.collect(),
                }
            }
            (None, Some(url)) => mw_notify::HookDef::Webhook { name: h.name, url },
            _ => bail!(
                "hook {:?}: give exactly one of `command` (a list: program and arguments) or `url`",
                h.name
            ),
        };
        out.push(def);
    }
    Ok(out)
}

fn parse_key(s: &str) -> anyhow::Result<(String, String)> {
    match s.split_once(':') {
        Some((id, secret)) if !id.is_empty() && !secret.is_empty() => {
            Ok((id.to_string(), secret.to_string()))
        }
        _ => bail!("an auth key must look like ACCESS_KEY_ID:SECRET"),
    }
}

impl ServerConfig {
    pub fn resolve(args: ServerArgs) -> anyhow::Result<ServerConfig> {
        let file: FileConfig = match &args.config {
            None => FileConfig::default(),
            Some(path) => read_toml(path)?,
        };
        let wal_sync = match args
            .wal_sync
            .or(file.server.wal_sync)
            .as_deref()
            .unwrap_or("always")
        {
            "always" => mw_tsdb::SyncMode::Always,
            "none" => mw_tsdb::SyncMode::None,
            other => bail!("--wal-sync must be `always` or `none`, not `{other}`"),
        };
        let mut keys = Vec::new();
        for k in &args.auth_keys {
            keys.push(parse_key(k)?);
        }
        if keys.is_empty() {
            keys = file
                .auth_keys
                .into_iter()
                .map(|k| (k.access_key_id, k.secret_access_key))
                .collect();
        }
        let checkpoint_secs = args
            .checkpoint_secs
            .or(file.server.checkpoint_secs)
            .unwrap_or(30);
        if checkpoint_secs == 0 {
            bail!("checkpoint_secs must be at least 1");
        }
        let alarms = AlarmSettings {
            delay_ms: args.alarm_delay_ms.or(file.alarms.delay_ms).unwrap_or(1000),
            max_alarms: file.alarms.max_alarms.unwrap_or(100_000),
            region: file.alarms.region.unwrap_or_else(|| "us-east-1".into()),
            account: file.alarms.account.unwrap_or_else(|| "123456789012".into()),
            max_attempts: file.alarms.max_attempts.unwrap_or(5),
            hooks: hooks(file.hooks)?,
            smtp: file.smtp.map(|s| mw_notify::SmtpConfig {
                host: s.host,
                port: s.port,
                from: s.from,
            }),
        };
        if alarms.delay_ms > 60_000 {
            bail!("alarm delay must be at most 60000 ms");
        }
        Ok(ServerConfig {
            alarms,
            listen: args
                .listen
                .or(file.server.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 9600))),
            data_dir: args
                .data_dir
                .or(file.server.data_dir)
                .unwrap_or_else(|| PathBuf::from("modelwatch-data")),
            keys,
            wal_sync,
            checkpoint_secs,
            max_series: args
                .max_series
                .or(file.server.max_series)
                .unwrap_or(1_000_000),
            log: args
                .log
                .or(file.server.log)
                .unwrap_or_else(|| "info".to_string()),
        })
    }
}

/// Reads and parses a TOML configuration file; errors name the file, and
/// the line and column where the text is wrong.
pub(crate) fn read_toml<T: DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config file {}", path.display()))?;
    parse_toml(&text).with_context(|| format!("in config file {}", path.display()))
}

/// Parses TOML text; errors name the line and column.
pub(crate) fn parse_toml<T: DeserializeOwned>(text: &str) -> anyhow::Result<T> {
    toml::from_str(text).map_err(|e| {
        let (line, col) = e
            .span()
            .map(|s| {
                let before = &text[..s.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                (line, col)
            })
            .unwrap_or((0, 0));
        anyhow::anyhow!("line {line}, column {col}: {}", e.message())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_file(text: &str) -> anyhow::Result<FileConfig> {
        parse_toml(text)
    }

    #[test]
    fn file_values_apply_below_flags() {
        let dir = std::env::temp_dir().join(format!("mw-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.toml");
        std::fs::write(
            &path,
            "[server]\nlisten = \"127.0.0.1:9700\"\nwal_sync = \"none\"\n\n[[auth_keys]]\naccess_key_id = \"AK\"\nsecret_access_key = \"S\"\n",
        )
        .unwrap();
        let cfg = ServerConfig::resolve(ServerArgs {
            config: Some(path.clone()),
            data_dir: Some("/tmp/x".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(cfg.listen.port(), 9700);
        assert_eq!(cfg.wal_sync, mw_tsdb::SyncMode::None);
        assert_eq!(cfg.keys, vec![("AK".to_string(), "S".to_string())]);
        let cfg = ServerConfig::resolve(ServerArgs {
            config: Some(path),
            listen: Some("127.0.0.1:1".parse().unwrap()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(cfg.listen.port(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_files_name_line_and_column() {
        let e = parse_file("[server]\nlisten = 12\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("line 2, column 10"), "{e}");
        let e = parse_file("[server]\nbogus = 1\n").unwrap_err().to_string();
        assert!(e.contains("line 2"), "{e}");
        assert!(parse_file("[server\n").is_err());
    }

    #[test]
    fn hooks_and_smtp_are_read() {
        let file = parse_file(
            "[alarms]\ndelay_ms = 250\n\n[[hooks]]\nname = \"redeploy\"\ncommand = [\"/usr/bin/env\", \"true\"]\n\n[[hooks]]\nname = \"retrain\"\nurl = \"http://127.0.0.1:9/x\"\n\n[smtp]\nhost = \"127.0.0.1\"\nfrom = \"mw@example.com\"\n",
        )
        .unwrap();
        assert_eq!(file.alarms.delay_ms, Some(250));
        let h = hooks(file.hooks).unwrap();
        assert_eq!(
            h[0],
            mw_notify::HookDef::Command {
                name: "redeploy".into(),
                program: "/usr/bin/env".into(),
                args: vec!["true".into()],
            }
        );
        assert_eq!(h[1].name(), "retrain");
        assert_eq!(file.smtp.unwrap().port, 25);
        let both =
            parse_file("[[hooks]]\nname = \"x\"\ncommand = [\"a\"]\nurl = \"http://a\"\n").unwrap();
        assert!(hooks(both.hooks).is_err());
        let neither = parse_file("[[hooks]]\nname = \"x\"\n").unwrap();
        assert!(hooks(neither.hooks).is_err());
        let empty = parse_file("[[hooks]]\nname = \"x\"\ncommand = []\n").unwrap();
        assert!(hooks(empty.hooks).is_err());
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(parse_key("nocolon").is_err());
        assert!(ServerConfig::resolve(ServerArgs {
            wal_sync: Some("sometimes".into()),
            ..Default::default()
        })
        .is_err());
    }
}
