//! Minimal HTTP/1.1 keep-alive client over a raw `TcpStream`.
//!
//! Requests are pre-encoded byte strings; a round trip is one `write_all`
//! plus reading a response framed by Content-Length (chunked and
//! read-until-close are handled too, for servers like moto's).

use std::net::SocketAddr;

use anyhow::{bail, Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `http://host:port[/...]` -> (socket address, "host:port").
pub async fn parse_url(url: &str) -> Result<(SocketAddr, String)> {
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("only http:// URLs are supported, got {url:?}"))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let addr = tokio::net::lookup_host(authority)
        .await
        .with_context(|| format!("resolving {authority:?}"))?
        .next()
        .with_context(|| format!("no address for {authority:?}"))?;
    Ok((addr, authority.to_string()))
}

/// Encodes a complete POST request (head + body) once.
pub fn encode_post(host: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut head = format!("POST {path} HTTP/1.1\r\nHost: {host}\r\n");
    for (k, v) in headers {
        head.push_str(k);
        head.push_str(": ");
        head.push_str(v);
        head.push_str("\r\n");
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// One keep-alive connection; reconnects when the server closes it.
pub struct Conn {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl Conn {
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            stream: None,
            buf: Vec::with_capacity(16 * 1024),
        }
    }

    pub async fn connect(&mut self) -> Result<()> {
        if self.stream.is_none() {
            let s = TcpStream::connect(self.addr)
                .await
                .with_context(|| format!("connecting to {}", self.addr))?;
            s.set_nodelay(true)?;
            self.stream = Some(s);
            self.buf.clear();
        }
        Ok(())
    }

    /// Sends `req` and reads one response. A connection the server closed
    /// while idle (nothing read yet) is reopened and the request sent again.
    pub async fn roundtrip(&mut self, req: &[u8]) -> Result<Response> {
        let reused = self.stream.is_some();
        match self.try_roundtrip(req).await {
            Ok(r) => Ok(r),
            Err(RtError::Closed(e)) if reused => {
                self.stream = None;
                self.try_roundtrip(req)
                    .await
                    .map_err(|e2| e2.into_anyhow())
                    .with_context(|| format!("after reconnect (first error: {e})"))
            }
            Err(e) => {
                self.stream = None;
                Err(e.into_anyhow())
            }
        }
    }

    async fn fill(&mut self) -> Result<usize, std::io::Error> {
        let Some(stream) = self.stream.as_mut() else {
            return Ok(0);
        };
        let mut tmp = [0u8; 16 * 1024];
        let n = stream.read(&mut tmp).await?;
        self.buf.extend_from_slice(&tmp[..n]);
        Ok(n)
    }

    async fn try_roundtrip(&mut self, req: &[u8]) -> Result<Response, RtError> {
        self.connect().await.map_err(RtError::Other)?;
        self.buf.clear();
        let stream = self
            .stream
            .as_mut()
            .ok_or_else(|| RtError::Other(anyhow::anyhow!("not connected")))?;
        if let Err(e) = stream.write_all(req).await {
            return Err(RtError::Closed(e.into()));
        }
        // Head.
        let head_end = loop {
            if let Some(p) = find(&self.buf, b"\r\n\r\n") {
                break p;
            }
            match self.fill().await {
                Ok(0) if self.buf.is_empty() => {
                    return Err(RtError::Closed(anyhow::anyhow!("connection closed")))
                }
                Ok(0) => {
                    return Err(RtError::Other(anyhow::anyhow!(
                        "connection closed inside response head"
                    )))
                }
                Ok(_) => {}
                Err(e) if self.buf.is_empty() => return Err(RtError::Closed(e.into())),
                Err(e) => return Err(RtError::Other(e.into())),
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or("");
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| RtError::Other(anyhow::anyhow!("bad status line {status_line:?}")))?;
        let mut content_length: Option<usize> = None;
        let mut chunked = false;
        let mut close = version == "HTTP/1.0";
        for line in lines {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let v = v.trim();
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => content_length = v.parse().ok(),
                "transfer-encoding" => chunked = v.to_ascii_lowercase().contains("chunked"),
                "connection" => {
                    let v = v.to_ascii_lowercase();
                    if v.contains("close") {
                        close = true;
                    } else if v.contains("keep-alive") {
                        close = false;
                    }
                }
                _ => {}
            }
        }
        let body_start = head_end + 4;
        let no_body = status == 204 || status == 304 || (100..200).contains(&status);
        let body = if no_body {
            Vec::new()
        } else if chunked {
            self.read_chunked(body_start)
                .await
                .map_err(RtError::Other)?
        } else if let Some(len) = content_length {
            while self.buf.len() < body_start + len {
                if self.fill().await.map_err(|e| RtError::Other(e.into()))? == 0 {
                    return Err(RtError::Other(anyhow::anyhow!(
                        "connection closed inside response body"
                    )));
                }
            }
            self.buf[body_start..body_start + len].to_vec()
        } else {
            // No framing: body runs until the server closes.
            while self.fill().await.map_err(|e| RtError::Other(e.into()))? > 0 {}
            close = true;
            self.buf[body_start..].to_vec()
        };
        if close {
            self.stream = None;
        }
        Ok(Response { status, body })
    }

    async fn read_chunked(&mut self, mut pos: usize) -> Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(p) = find(&self.buf[pos..], b"\r\n") {
                    break pos + p;
                }
                if self.fill().await? == 0 {
                    bail!("connection closed inside chunked body");
                }
            };
            let size_text = String::from_utf8_lossy(&self.buf[pos..line_end]).into_owned();
            let size_hex = size_text.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_hex, 16)
                .with_context(|| format!("bad chunk size {size_text:?}"))?;
            pos = line_end + 2;
            if size == 0 {
                // Trailers end with an empty line.
                loop {
                    if let Some(p) = find(&self.buf[pos..], b"\r\n") {
                        if p == 0 {
                            return Ok(body);
                        }
                        pos += p + 2;
                        continue;
                    }
                    if self.fill().await? == 0 {
                        return Ok(body);
                    }
                }
            }
            while self.buf.len() < pos + size + 2 {
                if self.fill().await? == 0 {
                    bail!("connection closed inside chunk");
                }
            }
            body.extend_from_slice(&self.buf[pos..pos + size]);
            pos += size + 2;
        }
    }
}

enum RtError {
    /// The connection was found closed before any response byte: retryable.
    Closed(anyhow::Error),
    Other(anyhow::Error),
}

impl RtError {
    fn into_anyhow(self) -> anyhow::Error {
        match self {
            RtError::Closed(e) | RtError::Other(e) => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// Serves canned responses, one per request, on one connection.
    async fn serve(responses: Vec<&'static [u8]>) -> Result<SocketAddr> {
        let l = TcpListener::bind("127.0.0.1:0").await?;
        let addr = l.local_addr()?;
        tokio::spawn(async move {
            let mut responses = responses.into_iter();
            while let Ok((mut s, _)) = l.accept().await {
                let mut buf = vec![0u8; 4096];
                loop {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                    let Some(r) = responses.next() else { return };
                    if s.write_all(r).await.is_err() {
                        break;
                    }
                    if r.starts_with(b"HTTP/1.0") {
                        break; // close-delimited
                    }
                }
            }
        });
        Ok(addr)
    }

    #[tokio::test]
    async fn frames_length_chunked_and_close() -> Result<()> {
        let addr = serve(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\n\r\n",
            b"HTTP/1.0 400 Bad\r\nContent-Type: text/plain\r\n\r\nboom",
            b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nnew",
        ])
        .await?;
        let req = encode_post("h", "/", &[("A", "b")], b"x");
        let mut c = Conn::new(addr);
        let r = c.roundtrip(&req).await?;
        assert_eq!((r.status, r.body.as_slice()), (200, &b"{}"[..]));
        let r = c.roundtrip(&req).await?;
        assert_eq!((r.status, r.body.as_slice()), (200, &b"abcde"[..]));
        let r = c.roundtrip(&req).await?;
        assert_eq!((r.status, r.body.len()), (204, 0));
        let r = c.roundtrip(&req).await?;
        assert_eq!((r.status, r.body.as_slice()), (400, &b"boom"[..]));
        // The server closed; the client reconnects transparently.
        let r = c.roundtrip(&req).await?;
        assert_eq!((r.status, r.body.as_slice()), (200, &b"new"[..]));
        Ok(())
    }

    #[test]
    fn encodes_head_and_body() {
        let r = encode_post("127.0.0.1:9", "/p", &[("X-Amz-Target", "T")], b"{}");
        assert_eq!(
            r,
            b"POST /p HTTP/1.1\r\nHost: 127.0.0.1:9\r\nX-Amz-Target: T\r\nContent-Length: 2\r\n\r\n{}"
        );
    }
}
