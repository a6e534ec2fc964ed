//! A minimal SMTP client for `email` subscriptions, written over
//! [`std::net::TcpStream`]: greeting, EHLO (HELO as fallback), MAIL FROM,
//! RCPT TO, DATA, QUIT. No TLS and no authentication: it is meant for a
//! local relay (postfix, a mail gateway) that does the rest.
//!
//! Any reply outside 2xx/3xx fails the delivery with the server's reply line
//! as the error.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::message::{new_uuid, rfc5322_date};
use crate::SmtpConfig;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest reply line read from the server.
const MAX_REPLY_LINE: usize = 4096;
/// Most lines in one multi-line reply.
const MAX_REPLY_LINES: usize = 100;

/// One email to send.
pub(crate) struct Mail<'a> {
    pub to: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    pub date_ms: i64,
}

/// Sends one mail; `Err` holds a lowercase description or the server's line.
pub(crate) fn send(cfg: &SmtpConfig, mail: &Mail<'_>) -> Result<(), String> {
    let stream = connect(&cfg.host, cfg.port)?;
    let mut session = Session::new(stream).map_err(|e| format!("smtp i/o failed: {e}"))?;
    session.expect(None)?;
    if session.expect(Some("EHLO modelwatch")).is_err() {
        session.expect(Some("HELO modelwatch"))?;
    }
    session.expect(Some(&format!("MAIL FROM:<{}>", cfg.from)))?;
    session.expect(Some(&format!("RCPT TO:<{}>", mail.to)))?;
    session.expect(Some("DATA"))?;
    session.send_raw(&render(cfg, mail))?;
    session.expect(None)?;
    // The mail is accepted; a failed QUIT changes nothing.
    let _ = session.expect(Some("QUIT"));
    Ok(())
}

fn connect(host: &str, port: u16) -> Result<TcpStream, String> {
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve smtp host {host}: {e}"))?;
    let mut last = format!("smtp host {host} has no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(s) => return Ok(s),
            Err(e) => last = format!("cannot connect to smtp server {addr}: {e}"),
        }
    }
    Err(last)
}

/// The message text after DATA: headers, body with CRLF line ends and
/// dot-stuffing, and the terminating `.` line.
fn render(cfg: &SmtpConfig, mail: &Mail<'_>) -> String {
    let mut out = String::new();
    out.push_str(&format!("From: {}\r\n", cfg.from));
    out.push_str(&format!("To: {}\r\n", mail.to));
    out.push_str(&format!("Subject: {}\r\n", encode_header(mail.subject)));
    out.push_str(&format!("Date: {}\r\n", rfc5322_date(mail.date_ms)));
    let domain = cfg.from.rsplit('@').next().unwrap_or("modelwatch");
    out.push_str(&format!("Message-ID: <{}@{}>\r\n", new_uuid(), domain));
    out.push_str("MIME-Version: 1.0\r\n");
    out.push_str("Content-Type: text/plain; charset=UTF-8\r\n");
    out.push_str("Content-Transfer-Encoding: 8bit\r\n\r\n");
    for line in mail.body.lines() {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str(".\r\n");
    out
}

/// A header value on one line; non-ASCII text as an RFC 2047 encoded word.
fn encode_header(value: &str) -> String {
    let clean: String = value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.is_ascii() {
        clean
    } else {
        format!("=?UTF-8?B?{}?=", base64(clean.as_bytes()))
    }
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

struct Session {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Session {
    fn new(stream: TcpStream) -> std::io::Result<Session> {
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        let writer = stream.try_clone()?;
        Ok(Session {
            reader: BufReader::new(stream),
            writer,
        })
    }

    fn send_raw(&mut self, text: &str) -> Result<(), String> {
        self.writer
            .write_all(text.as_bytes())
            .and_then(|()| self.writer.flush())
            .map_err(|e| format!("smtp write failed: {e}"))
    }

    /// Sends `command` (if any), reads the reply, and fails unless it is 2xx/3xx.
    fn expect(&mut self, command: Option<&str>) -> Result<String, String> {
        if let Some(command) = command {
            self.send_raw(&format!("{command}\r\n"))?;
        }
        let mut last = String::new();
        for _ in 0..MAX_REPLY_LINES {
            let mut line = Vec::new();
            let n = (&mut self.reader)
                .take(MAX_REPLY_LINE as u64)
                .read_until(b'\n', &mut line)
                .map_err(|e| format!("smtp read failed: {e}"))?;
            if n == 0 {
                return Err("smtp server closed the connection".to_string());
            }
            last = String::from_utf8_lossy(&line).trim_end().to_string();
            // "250-more follows" continues a reply; "250 done" ends it.
            if last.as_bytes().get(3) != Some(&b'-') {
                break;
            }
        }
        match last.as_bytes().first() {
            Some(b'2' | b'3') if last.len() >= 3 => Ok(last),
            _ => Err(format!("smtp server replied: {last}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), want);
        }
    }

    #[test]
    fn header_values_stay_on_one_line() {
        assert_eq!(encode_header("a\r\nBcc: x"), "a  Bcc: x");
        assert_eq!(encode_header("é"), "=?UTF-8?B?w6k=?=");
    }

    #[test]
    fn body_is_dot_stuffed_with_crlf() {
        let cfg = SmtpConfig {
            host: "localhost".into(),
            port: 25,
            from: "alarms@example.com".into(),
        };
        let text = render(
            &cfg,
            &Mail {
                to: "ops@example.com",
                subject: "s",
                body: "line1\n.hidden\nend",
                date_ms: 0,
            },
        );
        assert!(
            text.contains("\r\n\r\nline1\r\n..hidden\r\nend\r\n.\r\n"),
            "{text}"
        );
        assert!(text.starts_with("From: alarms@example.com\r\nTo: ops@example.com\r\n"));
    }
}
