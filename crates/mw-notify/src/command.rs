//! Runs a command hook: `program args...` straight from the config, never
//! through a shell, with the alarm JSON on stdin and the alarm in
//! `MODELWATCH_*` environment variables.
//!
//! Exit status 0 is a delivery. A command that runs past its timeout (60 s)
//! is killed and fails; the first KiB of its stderr becomes the error. A
//! stop of the notifier kills it too, and the delivery stays pending.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Most stderr bytes kept for `last_error`.
const MAX_STDERR: usize = 1024;
const POLL: Duration = Duration::from_millis(20);
/// How long to wait for the end of stderr once the command is gone.
const STDERR_GRACE: Duration = Duration::from_millis(200);

/// The alarm as the hook sees it.
pub(crate) struct Invocation<'a> {
    pub program: &'a str,
    pub args: &'a [String],
    pub alarm_name: &'a str,
    pub new_state: &'a str,
    pub old_state: &'a str,
    pub alarm_arn: &'a str,
    pub stdin: &'a str,
}

/// Why a command hook did not deliver.
#[derive(Debug, PartialEq)]
pub(crate) enum CommandFailure {
    /// It failed (spawn error, non-zero exit, timeout); lowercase description.
    Failed(String),
    /// The notifier is stopping; the command was killed.
    Stopped,
}

pub(crate) fn run(
    inv: &Invocation<'_>,
    timeout: Duration,
    stop: &AtomicBool,
) -> Result<(), CommandFailure> {
    let mut child = Command::new(inv.program)
        .args(inv.args)
        .env("MODELWATCH_ALARM_NAME", inv.alarm_name)
        .env("MODELWATCH_ALARM_STATE", inv.new_state)
        .env("MODELWATCH_OLD_STATE", inv.old_state)
        .env("MODELWATCH_ALARM_ARN", inv.alarm_arn)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| CommandFailure::Failed(format!("cannot run {}: {e}", inv.program)))?;

    // Feed stdin and drain stderr on their own threads so a command that
    // reads or writes little cannot block us (or itself) on a full pipe. They
    // are not joined: a background grandchild may hold a pipe open forever.
    if let Some(mut pipe) = child.stdin.take() {
        let input = inv.stdin.as_bytes().to_vec();
        std::thread::spawn(move || {
            // A command that exits without reading stdin closes the pipe: fine.
            let _ = pipe.write_all(&input);
        });
    }
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let (stderr_done, stderr_eof) = mpsc::channel::<()>();
    if let Some(mut pipe) = child.stderr.take() {
        let kept = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let mut kept = kept.lock();
                        let room = MAX_STDERR.saturating_sub(kept.len());
                        kept.extend_from_slice(&buf[..n.min(room)]);
                    }
                }
            }
            let _ = stderr_done.send(());
        });
    }

    let started = Instant::now();
    let outcome = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) => {}
            Err(e) => break Err(CommandFailure::Failed(format!("waiting for command: {e}"))),
        }
        if stop.load(Ordering::SeqCst) {
            break Err(CommandFailure::Stopped);
        }
        if started.elapsed() >= timeout {
            break Err(CommandFailure::Failed(format!(
                "command timed out after {} s",
                timeout.as_secs_f64()
            )));
        }
        std::thread::sleep(POLL);
    };
    if outcome.is_err() {
        // Already exited or not killable: nothing more to do either way.
        let _ = child.kill();
        let _ = child.wait();
    }
    // Give the reader a moment to see the end of stderr.
    let _ = stderr_eof.recv_timeout(STDERR_GRACE);
    let stderr = String::from_utf8_lossy(&stderr.lock()).trim().to_string();
    let with_stderr = |what: String| {
        CommandFailure::Failed(if stderr.is_empty() {
            what
        } else {
            format!("{what}: {stderr}")
        })
    };
    let status = match outcome {
        Ok(status) => status,
        Err(CommandFailure::Failed(what)) => return Err(with_stderr(what)),
        Err(stopped) => return Err(stopped),
    };
    if status.success() {
        return Ok(());
    }
    Err(with_stderr(match status.code() {
        Some(code) => format!("command exited with status {code}"),
        None => "command was killed by a signal".to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv<'a>(args: &'a [String]) -> Invocation<'a> {
        Invocation {
            program: "/bin/sh",
            args,
            alarm_name: "a",
            new_state: "ALARM",
            old_state: "OK",
            alarm_arn: "arn",
            stdin: "{}",
        }
    }

    #[test]
    fn non_zero_exit_keeps_first_kib_of_stderr() {
        let args = vec![
            "-c".to_string(),
            "head -c 5000 /dev/zero | tr '\\0' x >&2; exit 3".to_string(),
        ];
        let stop = AtomicBool::new(false);
        let Err(CommandFailure::Failed(msg)) = run(&inv(&args), Duration::from_secs(10), &stop)
        else {
            panic!("command should fail");
        };
        assert!(
            msg.starts_with("command exited with status 3: xxx"),
            "{msg}"
        );
        let stderr = msg.split_once(": ").map(|(_, e)| e).unwrap_or_default();
        assert_eq!(stderr, "x".repeat(MAX_STDERR));
    }

    #[test]
    fn slow_command_is_killed_at_timeout() {
        let args = vec!["-c".to_string(), "exec sleep 30".to_string()];
        let stop = AtomicBool::new(false);
        let started = Instant::now();
        let got = run(&inv(&args), Duration::from_millis(300), &stop);
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(
            matches!(&got, Err(CommandFailure::Failed(m)) if m.contains("timed out")),
            "{got:?}"
        );
    }

    #[test]
    fn stop_interrupts_a_running_command() {
        let args = vec!["-c".to_string(), "exec sleep 30".to_string()];
        let stop = AtomicBool::new(true);
        assert_eq!(
            run(&inv(&args), Duration::from_secs(60), &stop),
            Err(CommandFailure::Stopped)
        );
    }

    #[test]
    fn missing_program_fails_cleanly() {
        let mut i = inv(&[]);
        i.program = "/nonexistent/hook";
        let got = run(&i, Duration::from_secs(1), &AtomicBool::new(false));
        assert!(
            matches!(&got, Err(CommandFailure::Failed(m)) if m.starts_with("cannot run /nonexistent/hook")),
            "{got:?}"
        );
    }
}
