//! HTTP/1.1 on the request path, both sides, written for what a sidecar
//! needs and nothing more.
//!
//! A general-purpose HTTP stack pays per request for generality a sidecar
//! does not use: a dispatcher state machine per connection, a body stream
//! polled frame by frame, a response encoder that does not know the body is
//! already whole. Here a connection is a socket and a read buffer:
//!
//! - [`ServerConn`] reads a request head ([`httparse`], zero-copy: the URI
//!   and header values are slices of the bytes read), reads the body whole
//!   ([`ServerConn::read_body`]: `Content-Length` or chunked, bounded in
//!   bytes and time, `Expect: 100-continue` answered) and writes a response
//!   in one system call;
//! - [`ClientConn`] writes a request in one system call and reads the whole
//!   response (`Content-Length`, chunked, or up to the close), skipping
//!   `1xx` answers.
//!
//! Everything read is bounded: a head of at most [`MAX_HEAD_BYTES`] and
//! [`MAX_HEADERS`] fields, chunk-size lines and trailers, bodies at the
//! caller's limit. Malformed input is an error, never a panic.

use crate::fields::{Fields, Name};
use bytes::{Bytes, BytesMut};
use http::header::HeaderValue;
use http::{Method, StatusCode, Uri, Version};
use std::io;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Most bytes of a request or response head.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most header fields of a head.
pub const MAX_HEADERS: usize = 100;
/// Most bytes of a chunk-size line (with extensions) or of the trailers.
const MAX_CHUNK_LINE: usize = 4096;
const MAX_TRAILER_BYTES: usize = 16 * 1024;
/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 8 * 1024;
/// Bodies up to this size are copied behind the head and written with it.
const COPY_BODY_BELOW: usize = 16 * 1024;

/// How the body of a message is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body (or a body already read).
    None,
    /// `Content-Length` bytes, this many still to come.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Everything up to the close (responses only).
    Close,
}

/// Why a message could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// The peer closed the connection before anything of the message.
    Closed,
    /// The socket failed.
    Io(io::Error),
    /// The bytes are not HTTP/1.1 (with what is wrong).
    Malformed(String),
    /// The head is larger than [`MAX_HEAD_BYTES`] or has too many fields.
    HeadTooLarge,
    /// The body is larger than the caller's limit.
    TooLarge,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Closed => f.write_str("the connection was closed"),
            ReadError::Io(e) => write!(f, "{e}"),
            ReadError::Malformed(m) => f.write_str(m),
            ReadError::HeadTooLarge => write!(
                f,
                "the message head is larger than {MAX_HEAD_BYTES} bytes or has more than {MAX_HEADERS} fields"
            ),
            ReadError::TooLarge => f.write_str("the body is larger than the limit"),
        }
    }
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

/// A parsed request head.
#[derive(Debug)]
pub struct RequestHead {
    pub method: Method,
    pub uri: Uri,
    pub version: Version,
    pub headers: Fields,
    /// The connection may serve another request after this one.
    pub keep_alive: bool,
    pub framing: Framing,
    /// The client waits for `100 Continue` before sending the body.
    pub expect_continue: bool,
}

/// Offset of `part` (a slice of `base`) in `base`.
fn offset(base: &[u8], part: &[u8]) -> usize {
    part.as_ptr() as usize - base.as_ptr() as usize
}

fn has_token(v: &[u8], token: &str) -> bool {
    v.split(|b| *b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}

/// Header fields of a head: zero-copy values, the framing and the
/// connection tokens.
struct Parsed {
    headers: Fields,
    framing: Framing,
    /// A `Content-Length` was given (even 0).
    has_length: bool,
    close: bool,
    keep_alive: bool,
    expect_continue: bool,
}

/// The length of the head httparse read (`None`: more bytes needed).
fn head_len(
    parsed: httparse::Result<usize>,
    buffered: usize,
    what: &str,
) -> Result<Option<usize>, ReadError> {
    match parsed {
        Ok(httparse::Status::Complete(n)) if n <= MAX_HEAD_BYTES => Ok(Some(n)),
        Ok(httparse::Status::Partial) if buffered <= MAX_HEAD_BYTES => Ok(None),
        Ok(_) | Err(httparse::Error::TooManyHeaders) => Err(ReadError::HeadTooLarge),
        Err(e) => Err(ReadError::Malformed(format!("invalid {what} head: {e}"))),
    }
}

/// The framing and connection tokens of `headers`.
fn fields(headers: Fields) -> Result<Parsed, ReadError> {
    let mut f = Parsed {
        headers,
        framing: Framing::None,
        has_length: false,
        close: false,
        keep_alive: false,
        expect_continue: false,
    };
    let mut length: Option<u64> = None;
    let mut chunked = false;
    for (name, raw) in f.headers.iter_named() {
        if name == Name::ContentLength {
            // 1*DIGIT and nothing else (no sign, no list).
            let n = crate::fields::decimal(raw)
                .ok_or_else(|| ReadError::Malformed("invalid Content-Length".to_string()))?;
            if length.is_some_and(|l| l != n) {
                return Err(ReadError::Malformed(
                    "conflicting Content-Length headers".to_string(),
                ));
            }
            length = Some(n);
        } else if name == Name::TransferEncoding {
            // Only a single `chunked` is understood: a body under another
            // coding would be forwarded still encoded, as if plain.
            if chunked || !raw.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                return Err(ReadError::Malformed(format!(
                    "unsupported Transfer-Encoding {:?} (only chunked)",
                    String::from_utf8_lossy(raw)
                )));
            }
            chunked = true;
        } else if name == Name::Connection {
            f.close |= has_token(raw, "close");
            f.keep_alive |= has_token(raw, "keep-alive");
        } else if name == Name::Expect {
            f.expect_continue = raw.eq_ignore_ascii_case(b"100-continue");
        }
    }
    if chunked && length.is_some() {
        // Request smuggling territory: refuse rather than pick one.
        return Err(ReadError::Malformed(
            "both Content-Length and Transfer-Encoding".to_string(),
        ));
    }
    f.has_length = length.is_some();
    f.framing = if chunked {
        Framing::Chunked
    } else {
        match length {
            Some(0) | None => Framing::None,
            Some(n) => Framing::Length(n),
        }
    };
    Ok(f)
}

/// Longest request target [`LastTarget`] keeps.
const MAX_KEPT_TARGET: usize = 256;

/// A connection's last request target and its `Uri`. A keep-alive client
/// sends the same target request after request: the `Uri` (whose parse
/// checks every byte) is parsed again only when the target changes.
#[derive(Debug, Default)]
pub struct LastTarget(Option<(Bytes, Uri)>);

impl LastTarget {
    fn uri(
        &mut self,
        target: &[u8],
        head: &Bytes,
        at: std::ops::Range<usize>,
    ) -> Result<Uri, ReadError> {
        if let Some((t, uri)) = &self.0 {
            if t[..] == *target {
                return Ok(uri.clone());
            }
        }
        let invalid =
            |e: http::uri::InvalidUri| ReadError::Malformed(format!("invalid request target: {e}"));
        if target.len() > MAX_KEPT_TARGET {
            return Uri::from_maybe_shared(head.slice(at)).map_err(invalid);
        }
        // Kept in bytes of its own, not holding on to the head.
        let own = Bytes::copy_from_slice(target);
        let uri = Uri::from_maybe_shared(own.clone()).map_err(invalid)?;
        self.0 = Some((own, uri.clone()));
        Ok(uri)
    }
}

/// Parses a request head from the start of `buf`: `Ok(None)` when more
/// bytes are needed. On success the head's bytes are taken from `buf`.
/// `last`: the connection's last target.
pub fn parse_request(
    buf: &mut BytesMut,
    last: &mut LastTarget,
) -> Result<Option<RequestHead>, ReadError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut slots);
    let Some(len) = head_len(req.parse(buf), buf.len(), "request")? else {
        return Ok(None);
    };
    let version = match req.version {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    let method = Method::from_bytes(req.method.unwrap_or_default().as_bytes())
        .map_err(|_| ReadError::Malformed("invalid method".to_string()))?;
    let path = req.path.unwrap_or("/");
    // Offsets into the buffer, taken before the head is split off it.
    let path_at = offset(buf, path.as_bytes());
    let path_len = path.len();
    // Names and values were checked by httparse (token characters;
    // visible ASCII, spaces, tabs and obs-text), as `Fields` expects.
    let found = Fields::parsed(buf, req.headers);
    let f = fields(found.with_head(buf.split_to(len).freeze()))?;
    let head = f.headers.head();
    let target = path_at..path_at + path_len;
    let uri = last.uri(&head[target.clone()], head, target)?;
    let keep_alive = match version {
        Version::HTTP_10 => f.keep_alive && !f.close,
        _ => !f.close,
    };
    Ok(Some(RequestHead {
        method,
        uri,
        version,
        headers: f.headers,
        keep_alive,
        framing: f.framing,
        expect_continue: f.expect_continue && version == Version::HTTP_11,
    }))
}

/// A parsed response head.
#[derive(Debug)]
pub struct ResponseHead {
    pub status: StatusCode,
    pub headers: Fields,
    pub keep_alive: bool,
    pub framing: Framing,
}

/// Parses a response head from the start of `buf` (`Ok(None)`: more bytes
/// needed). `head_request`: the request was HEAD, so no body follows.
pub fn parse_response(
    buf: &mut BytesMut,
    head_request: bool,
) -> Result<Option<ResponseHead>, ReadError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut slots);
    let Some(len) = head_len(resp.parse(buf), buf.len(), "response")? else {
        return Ok(None);
    };
    let status = StatusCode::from_u16(resp.code.unwrap_or(0))
        .map_err(|_| ReadError::Malformed("invalid status code".to_string()))?;
    let http10 = resp.version == Some(0);
    let found = Fields::parsed(buf, resp.headers);
    let f = fields(found.with_head(buf.split_to(len).freeze()))?;
    let no_body = head_request
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let framing = if no_body {
        Framing::None
    } else if f.framing == Framing::None && !f.has_length {
        Framing::Close
    } else {
        f.framing
    };
    let keep_alive = framing != Framing::Close
        && if http10 {
            f.keep_alive && !f.close
        } else {
            !f.close
        };
    Ok(Some(ResponseHead {
        status,
        headers: f.headers,
        keep_alive,
        framing,
    }))
}

/// Reads more bytes into `buf`; `Ok(0)` at the end of the stream.
async fn fill(io: &mut TcpStream, buf: &mut BytesMut) -> io::Result<usize> {
    if buf.capacity() - buf.len() < 1024 {
        buf.reserve(READ_CHUNK);
    }
    io.read_buf(buf).await
}

/// One step of chunked decoding over what `buf` holds.
enum Chunk {
    /// Need more bytes.
    More,
    /// A chunk of `n` data bytes has begun; need more bytes to finish it.
    Partial { n: usize },
    /// `n` data bytes at `buf[at..at + n]`; `consumed` bytes of `buf` in all.
    Data {
        at: usize,
        n: usize,
        consumed: usize,
    },
    /// The last chunk and trailers: `consumed` bytes.
    End { consumed: usize },
}

/// Decodes the next chunk at the start of `buf` (RFC 9112 §7.1).
fn next_chunk(buf: &[u8]) -> Result<Chunk, ReadError> {
    let Some(eol) = memchr_crlf(buf) else {
        return if buf.len() > MAX_CHUNK_LINE {
            Err(ReadError::Malformed("chunk-size line too long".to_string()))
        } else {
            Ok(Chunk::More)
        };
    };
    if eol > MAX_CHUNK_LINE {
        return Err(ReadError::Malformed("chunk-size line too long".to_string()));
    }
    // chunk-size = 1*HEXDIG, then nothing or BWS ";" extensions (RFC 9112 §7.1).
    let line = &buf[..eol];
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    let rest = line[digits..].trim_ascii_start();
    if digits == 0 || digits > 15 || !(rest.is_empty() || rest[0] == b';') {
        return Err(ReadError::Malformed("invalid chunk size".to_string()));
    }
    let mut n: usize = 0;
    for &c in &line[..digits] {
        n = n * 16 + (c as char).to_digit(16).unwrap_or(0) as usize;
    }
    let at = eol + 2;
    if n == 0 {
        // Trailers: header lines up to an empty line.
        let mut pos = at;
        loop {
            let Some(e) = memchr_crlf(&buf[pos..]) else {
                return if buf.len() - at > MAX_TRAILER_BYTES {
                    Err(ReadError::Malformed("trailers too long".to_string()))
                } else {
                    Ok(Chunk::More)
                };
            };
            if e == 0 {
                return Ok(Chunk::End { consumed: pos + 2 });
            }
            pos += e + 2;
            if pos - at > MAX_TRAILER_BYTES {
                return Err(ReadError::Malformed("trailers too long".to_string()));
            }
        }
    }
    if buf.len() < at + n + 2 {
        return Ok(Chunk::Partial { n });
    }
    if &buf[at + n..at + n + 2] != b"\r\n" {
        return Err(ReadError::Malformed(
            "chunk data not followed by CRLF".to_string(),
        ));
    }
    Ok(Chunk::Data {
        at,
        n,
        consumed: at + n + 2,
    })
}

fn memchr_crlf(b: &[u8]) -> Option<usize> {
    b.windows(2).position(|w| w == b"\r\n")
}

/// Reads a whole body framed as `framing` from `io` (with what `buf` already
/// holds) into one buffer; more than `max` bytes is [`ReadError::TooLarge`]
/// (the rest is left unread). A body that is already whole in `buf` is
/// taken without a copy.
async fn read_framed(
    io: &mut TcpStream,
    buf: &mut BytesMut,
    framing: Framing,
    max: usize,
) -> Result<Bytes, ReadError> {
    match framing {
        Framing::None => Ok(Bytes::new()),
        Framing::Length(n) => {
            if n > max as u64 {
                return Err(ReadError::TooLarge);
            }
            let n = n as usize;
            if buf.len() < n && buf.capacity() < n {
                buf.reserve(n - buf.len());
            }
            while buf.len() < n {
                if fill(io, buf).await? == 0 {
                    return Err(ReadError::Malformed(format!(
                        "the body ended after {} of {n} bytes",
                        buf.len()
                    )));
                }
            }
            Ok(buf.split_to(n).freeze())
        }
        Framing::Chunked => {
            let mut out = BytesMut::new();
            loop {
                match next_chunk(buf)? {
                    // A chunk that would pass the limit is refused before its data is read.
                    Chunk::Partial { n } if out.len() + n > max => return Err(ReadError::TooLarge),
                    Chunk::More | Chunk::Partial { .. } => {
                        if fill(io, buf).await? == 0 {
                            return Err(ReadError::Malformed(
                                "the chunked body ended early".to_string(),
                            ));
                        }
                    }
                    Chunk::Data { at, n, consumed } => {
                        if out.len() + n > max {
                            return Err(ReadError::TooLarge);
                        }
                        out.extend_from_slice(&buf[at..at + n]);
                        let _ = buf.split_to(consumed);
                    }
                    Chunk::End { consumed } => {
                        let _ = buf.split_to(consumed);
                        return Ok(out.freeze());
                    }
                }
            }
        }
        Framing::Close => {
            loop {
                if buf.len() > max {
                    return Err(ReadError::TooLarge);
                }
                if fill(io, buf).await? == 0 {
                    break;
                }
            }
            Ok(buf.split().freeze())
        }
    }
}

/// Appends a `content-length: n` line.
fn push_content_length(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(b"content-length: ");
    push_decimal(out, n);
    out.extend_from_slice(b"\r\n");
}

/// Appends `n` in decimal (what `write!` does, without its formatting machinery).
fn push_decimal(out: &mut Vec<u8>, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Appends a response head and body to `out`.
pub fn encode_response(
    out: &mut Vec<u8>,
    status: StatusCode,
    headers: &Fields,
    body_len: usize,
    connection: Connection,
) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers.iter() {
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    // HEAD and 304 answers carry the length the model server gave, if any.
    if status != StatusCode::NO_CONTENT
        && status != StatusCode::NOT_MODIFIED
        && !status.is_informational()
        && !headers.contains(Name::ContentLength)
    {
        push_content_length(out, body_len);
    }
    match connection {
        Connection::Close => out.extend_from_slice(b"connection: close\r\n"),
        Connection::KeepAlive10 => out.extend_from_slice(b"connection: keep-alive\r\n"),
        Connection::KeepAlive => {}
    }
    out.extend_from_slice(b"\r\n");
}

/// What an answer says of its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    /// HTTP/1.1's default: nothing to say.
    KeepAlive,
    /// An HTTP/1.0 client that asked to keep the connection: say yes.
    KeepAlive10,
    Close,
}

/// Writes `head` then `body`, in one system call when the body is small.
async fn write_message(io: &mut TcpStream, head: &mut Vec<u8>, body: &[u8]) -> io::Result<()> {
    if body.len() < COPY_BODY_BELOW {
        head.extend_from_slice(body);
        io.write_all(head).await
    } else {
        io.write_all(head).await?;
        io.write_all(body).await
    }
}

/// The server side of one client connection.
pub struct ServerConn {
    pub io: TcpStream,
    buf: BytesMut,
    out: Vec<u8>,
    /// The body of the current request, not yet read.
    framing: Framing,
    /// `100 Continue` is owed before reading the body.
    continue_owed: bool,
    last_target: LastTarget,
}

impl ServerConn {
    pub fn new(io: TcpStream) -> ServerConn {
        ServerConn {
            io,
            // Allocated when the first request arrives.
            buf: BytesMut::new(),
            out: Vec::new(),
            framing: Framing::None,
            continue_owed: false,
            last_target: LastTarget::default(),
        }
    }

    /// Whether any bytes of a next request have arrived.
    pub fn has_buffered(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Reads the next request head. [`ReadError::Closed`] when the client
    /// closed the connection between requests.
    pub async fn read_head(&mut self) -> Result<RequestHead, ReadError> {
        loop {
            if !self.buf.is_empty() {
                if let Some(h) = parse_request(&mut self.buf, &mut self.last_target)? {
                    self.framing = h.framing;
                    self.continue_owed = h.expect_continue && h.framing != Framing::None;
                    return Ok(h);
                }
            }
            if fill(&mut self.io, &mut self.buf).await? == 0 {
                return Err(if self.buf.is_empty() {
                    ReadError::Closed
                } else {
                    ReadError::Malformed("the connection closed inside a request head".to_string())
                });
            }
        }
    }

    /// Waits until the first byte of a next request is here (or the end of
    /// the stream); it is then read with [`ServerConn::read_head`]. While
    /// waiting, a connection whose buffer has grown past the usual size
    /// gives it back, so idle connections hold little memory.
    pub async fn wait_request(&mut self) -> io::Result<bool> {
        if !self.buf.is_empty() {
            return Ok(true);
        }
        if self.buf.capacity() > 2 * READ_CHUNK {
            self.buf = BytesMut::new();
        }
        if self.out.capacity() > 2 * READ_CHUNK {
            self.out = Vec::new();
        }
        self.io.readable().await?;
        Ok(fill(&mut self.io, &mut self.buf).await? > 0)
    }

    /// Whether the current request's body has been read whole.
    pub fn body_done(&self) -> bool {
        self.framing == Framing::None
    }

    /// Reads the current request's body whole, at most `max` bytes.
    pub async fn read_body(&mut self, max: usize) -> Result<Bytes, ReadError> {
        if self.framing == Framing::None {
            return Ok(Bytes::new());
        }
        if self.continue_owed {
            self.continue_owed = false;
            self.io.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
        }
        let body = read_framed(&mut self.io, &mut self.buf, self.framing, max).await?;
        self.framing = Framing::None;
        Ok(body)
    }

    /// Reads and discards up to `max` bytes of what is left of the body, so
    /// that a client still sending receives the answer rather than a reset.
    /// Returns whether the body was read to its end.
    pub async fn discard_body(&mut self, max: usize) -> bool {
        if self.framing == Framing::None {
            return true;
        }
        if self.continue_owed {
            // The client has not sent the body and will not: nothing to read.
            return false;
        }
        let mut left = max;
        match self.framing {
            Framing::Length(mut n) => {
                while n > 0 && left > 0 {
                    if self.buf.is_empty() {
                        match fill(&mut self.io, &mut self.buf).await {
                            Ok(0) | Err(_) => return false,
                            Ok(_) => {}
                        }
                    }
                    let take = (self.buf.len() as u64).min(n) as usize;
                    let _ = self.buf.split_to(take);
                    n -= take as u64;
                    left = left.saturating_sub(take);
                    self.framing = Framing::Length(n);
                }
                if n == 0 {
                    self.framing = Framing::None;
                    true
                } else {
                    false
                }
            }
            _ => {
                // Chunked: read (and drop) chunks as they come.
                loop {
                    match next_chunk(&self.buf) {
                        Err(_) => return false,
                        Ok(Chunk::End { consumed }) => {
                            let _ = self.buf.split_to(consumed);
                            self.framing = Framing::None;
                            return true;
                        }
                        Ok(Chunk::Data { n, consumed, .. }) => {
                            let _ = self.buf.split_to(consumed);
                            if n >= left {
                                return false;
                            }
                            left -= n;
                        }
                        Ok(Chunk::Partial { n }) if n >= left => return false,
                        Ok(Chunk::More | Chunk::Partial { .. }) => {
                            if self.buf.len() > left {
                                return false;
                            }
                            match fill(&mut self.io, &mut self.buf).await {
                                Ok(0) | Err(_) => return false,
                                Ok(_) => {}
                            }
                        }
                    }
                }
            }
        }
    }

    /// Writes a response.
    pub async fn write_response(
        &mut self,
        status: StatusCode,
        headers: &Fields,
        body: &[u8],
        head_request: bool,
        connection: Connection,
    ) -> io::Result<()> {
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        encode_response(&mut out, status, headers, body.len(), connection);
        let body = if head_request { &[][..] } else { body };
        let res = write_message(&mut self.io, &mut out, body).await;
        if out.capacity() <= 64 * 1024 {
            self.out = out;
        }
        res
    }

    /// Writes a bare error answer (a head that could not be read).
    pub async fn write_error(&mut self, status: StatusCode, message: &str) -> io::Result<()> {
        let body = format!(
            "{{\"error\":{{\"code\":\"BadRequest\",\"message\":{}}}}}",
            serde_json::Value::String(message.to_string())
        );
        let mut h = Fields::with_capacity(1);
        h.append(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        self.write_response(status, &h, body.as_bytes(), false, Connection::Close)
            .await
    }
}

/// A response read whole.
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub headers: Fields,
    pub body: Bytes,
    /// The connection can carry another request.
    pub reusable: bool,
}

/// The client side of one connection to the model server.
pub struct ClientConn {
    io: TcpStream,
    buf: BytesMut,
    out: Vec<u8>,
    /// When the connection last finished a request (set by its pool).
    pub idle_since: std::time::Instant,
}

impl ClientConn {
    pub fn new(io: TcpStream) -> ClientConn {
        ClientConn {
            io,
            buf: BytesMut::with_capacity(READ_CHUNK),
            out: Vec::with_capacity(1024),
            idle_since: std::time::Instant::now(),
        }
    }

    /// Whether an idle connection is still usable: nothing arrived on it
    /// (neither bytes nor the close). Costs no system call while the socket
    /// has not been reported readable.
    pub fn still_open(&mut self) -> bool {
        let mut probe = [0u8; 1];
        match self.io.try_read(&mut probe) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.buf.is_empty(),
            _ => false,
        }
    }

    /// Sends a request: Host first, then `headers` (which must not hold
    /// Host or Content-Length; Content-Length is added).
    pub async fn send(
        &mut self,
        method: &Method,
        path_and_query: &str,
        host: &HeaderValue,
        headers: &Fields,
        body: &[u8],
    ) -> io::Result<()> {
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        out.extend_from_slice(method.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(path_and_query.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
        out.extend_from_slice(host.as_bytes());
        out.extend_from_slice(b"\r\n");
        for (name, value) in headers.iter() {
            out.extend_from_slice(name);
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        if !body.is_empty() || method == Method::POST || method == Method::PUT {
            push_content_length(&mut out, body.len());
        }
        out.extend_from_slice(b"\r\n");
        let res = write_message(&mut self.io, &mut out, body).await;
        if out.capacity() <= 64 * 1024 {
            self.out = out;
        }
        res
    }

    /// Reads the whole response to a request sent with [`ClientConn::send`]
    /// (`1xx` answers are skipped), at most `max` body bytes.
    pub async fn read_response(
        &mut self,
        head_request: bool,
        max: usize,
    ) -> Result<Response, ReadError> {
        let head = loop {
            if !self.buf.is_empty() {
                if let Some(h) = parse_response(&mut self.buf, head_request)? {
                    if h.status.is_informational() {
                        continue;
                    }
                    break h;
                }
            }
            if fill(&mut self.io, &mut self.buf).await? == 0 {
                return Err(if self.buf.is_empty() {
                    ReadError::Closed
                } else {
                    ReadError::Malformed("the connection closed inside a response head".to_string())
                });
            }
        };
        let body = read_framed(&mut self.io, &mut self.buf, head.framing, max).await?;
        Ok(Response {
            status: head.status,
            headers: head.headers,
            body,
            reusable: head.keep_alive && self.buf.is_empty(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(s: &[u8]) -> Result<Option<RequestHead>, ReadError> {
        let mut b = BytesMut::from(s);
        parse_request(&mut b, &mut LastTarget::default())
    }

    #[test]
    fn request_heads_are_parsed_with_their_framing() {
        let h = req(b"POST /endpoints/m/invocations?x=1 HTTP/1.1\r\nHost: a\r\nContent-Type: text/csv\r\nContent-Length: 3\r\n\r\n1,2")
            .unwrap()
            .unwrap();
        assert_eq!(h.method, Method::POST);
        assert_eq!(h.uri.path(), "/endpoints/m/invocations");
        assert_eq!(h.uri.query(), Some("x=1"));
        assert_eq!(h.headers.get_str(Name::ContentType), Some("text/csv"));
        assert_eq!(h.framing, Framing::Length(3));
        assert!(h.keep_alive);
        let h = req(b"POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\nConnection: close\r\nExpect: 100-continue\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(h.framing, Framing::Chunked);
        assert!(!h.keep_alive && h.expect_continue);
        let h = req(b"GET /ping HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert!(!h.keep_alive);
        let h = req(b"GET /ping HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(h.keep_alive);
        assert!(req(b"POST / HTTP/1.1\r\nHost: a\r\n").unwrap().is_none());
    }

    #[test]
    fn bad_request_heads_are_errors() {
        for bad in [
            &b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n"[..],
            b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n",
            b"POST / HTTP/1.1\r\nBad Header: 1\r\n\r\n",
            b"\x00\x01\x02 / HTTP/1.1\r\n\r\n",
            b"POST / HTTP/9.9\r\n\r\n",
        ] {
            assert!(
                matches!(req(bad), Err(ReadError::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("x-{i}: 1\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert!(matches!(req(&many), Err(ReadError::HeadTooLarge)));
        let mut long = b"GET / HTTP/1.1\r\nx: ".to_vec();
        long.resize(MAX_HEAD_BYTES + 10, b'a');
        assert!(matches!(req(&long), Err(ReadError::HeadTooLarge)));
    }

    #[test]
    fn response_heads_choose_their_framing() {
        let parse = |s: &[u8], head: bool| {
            let mut b = BytesMut::from(s);
            parse_response(&mut b, head).unwrap().unwrap()
        };
        let r = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false);
        assert_eq!(
            (r.status, r.framing, r.keep_alive),
            (StatusCode::OK, Framing::Length(5), true)
        );
        let r = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true);
        assert_eq!(r.framing, Framing::None);
        let r = parse(b"HTTP/1.1 200 OK\r\n\r\n", false);
        assert_eq!((r.framing, r.keep_alive), (Framing::Close, false));
        let r = parse(b"HTTP/1.1 204 No Content\r\n\r\n", false);
        assert_eq!((r.framing, r.keep_alive), (Framing::None, true));
        let r = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false);
        assert_eq!((r.framing, r.keep_alive), (Framing::None, true));
        let r = parse(b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", false);
        assert!(!r.keep_alive);
        let r = parse(
            b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
            false,
        );
        assert_eq!((r.framing, r.keep_alive), (Framing::Chunked, false));
        let mut b = BytesMut::from(&b"garbage\r\n\r\n"[..]);
        assert!(matches!(
            parse_response(&mut b, false),
            Err(ReadError::Malformed(_))
        ));
    }

    #[test]
    fn chunks_are_decoded_and_bounded() {
        let body =
            b"4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        let mut buf = &body[..];
        let mut out = Vec::new();
        loop {
            match next_chunk(buf).unwrap() {
                Chunk::Data { at, n, consumed } => {
                    out.extend_from_slice(&buf[at..at + n]);
                    buf = &buf[consumed..];
                }
                Chunk::End { consumed } => {
                    assert_eq!(&buf[consumed..], b"NEXT");
                    break;
                }
                Chunk::More | Chunk::Partial { .. } => panic!("whole body given"),
            }
        }
        assert_eq!(out, b"Wikipedia in\r\n\r\nchunks.");
        // Extensions may follow whitespace.
        assert!(matches!(
            next_chunk(b"4 ;a=b\r\nWiki\r\n"),
            Ok(Chunk::Data { n: 4, .. })
        ));
        // Incomplete input asks for more; bad input is an error.
        assert!(matches!(
            next_chunk(b"4\r\nWi"),
            Ok(Chunk::Partial { n: 4 })
        ));
        assert!(matches!(
            next_chunk(b"fffffff\r\nxx"),
            Ok(Chunk::Partial { n: 0xfffffff })
        ));
        assert!(matches!(next_chunk(b"4"), Ok(Chunk::More)));
        assert!(matches!(next_chunk(b"0\r\nX: 1\r\n"), Ok(Chunk::More)));
        for bad in [
            &b"zz\r\n"[..],
            b"\r\n",
            b"4\r\nWikiXX",
            b"ffffffffffffffffff\r\n",
        ] {
            assert!(
                next_chunk(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let long = vec![b'1'; MAX_CHUNK_LINE + 10];
        assert!(next_chunk(&long).is_err());
    }

    #[test]
    fn responses_are_encoded_with_their_length() {
        let mut out = Vec::new();
        let mut h = Fields::new();
        h.append(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv"),
        );
        encode_response(&mut out, StatusCode::OK, &h, 6, Connection::KeepAlive);
        assert_eq!(
            out,
            b"HTTP/1.1 200 OK\r\ncontent-type: text/csv\r\ncontent-length: 6\r\n\r\n"
        );
        out.clear();
        encode_response(
            &mut out,
            StatusCode::NO_CONTENT,
            &Fields::new(),
            0,
            Connection::Close,
        );
        assert_eq!(out, b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n");
        // A length already given (HEAD) is kept, not doubled; HTTP/1.0 keep-alive is acknowledged.
        out.clear();
        h.append(http::header::CONTENT_LENGTH, HeaderValue::from_static("42"));
        encode_response(&mut out, StatusCode::OK, &h, 0, Connection::KeepAlive10);
        assert_eq!(
            out,
            b"HTTP/1.1 200 OK\r\ncontent-type: text/csv\r\ncontent-length: 42\r\nconnection: keep-alive\r\n\r\n"
        );
    }

    #[test]
    fn decimals_are_written_as_write_does() {
        for n in [0, 7, 10, 99, 1000, 6_291_456, usize::MAX] {
            let mut out = b"x".to_vec();
            push_decimal(&mut out, n);
            assert_eq!(out, format!("x{n}").into_bytes());
        }
    }

    #[test]
    fn a_repeated_target_reuses_its_uri_and_a_new_one_is_checked() {
        let mut last = LastTarget::default();
        let mut parse = |m: &[u8]| parse_request(&mut BytesMut::from(m), &mut last);
        let a = b"POST /endpoints/m/invocations?x=1 HTTP/1.1\r\nHost: a\r\n\r\n";
        for _ in 0..3 {
            let h = parse(a).unwrap().unwrap();
            assert_eq!(h.uri.path(), "/endpoints/m/invocations");
            assert_eq!(h.uri.query(), Some("x=1"));
        }
        let h = parse(b"GET /ping HTTP/1.1\r\n\r\n").unwrap().unwrap();
        assert_eq!((h.uri.path(), h.uri.query()), ("/ping", None));
        // A target the Uri parser refuses is refused after a kept one too.
        let bad = b"GET http://[::1 HTTP/1.1\r\n\r\n";
        assert!(matches!(parse(bad), Err(ReadError::Malformed(_))));
        assert!(matches!(parse(bad), Err(ReadError::Malformed(_))));
        let h = parse(a).unwrap().unwrap();
        assert_eq!(h.uri.path(), "/endpoints/m/invocations");
        // A long target is parsed each time, not kept.
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "x".repeat(MAX_KEPT_TARGET));
        let h = parse(long.as_bytes()).unwrap().unwrap();
        assert_eq!(h.uri.path().len(), MAX_KEPT_TARGET + 1);
        assert_eq!(
            last.0.as_ref().map(|(t, _)| t.clone()),
            Some(Bytes::from_static(b"/endpoints/m/invocations?x=1"))
        );
    }

    /// Every field the parser lets through is a valid `HeaderName` and
    /// `HeaderValue`, as `Fields` relies on.
    fn assert_converts(f: &Fields) {
        assert_eq!(f.clone().into_header_map().len(), f.len(), "{f:?}");
        for (n, v) in f.iter() {
            assert!(http::header::HeaderName::from_bytes(n).is_ok(), "{n:?}");
            assert!(HeaderValue::from_bytes(v).is_ok(), "{v:?}");
        }
    }

    /// Each byte in a field's name and in its value: refused, or kept as a
    /// field that converts.
    #[test]
    fn every_byte_in_a_field_is_refused_or_valid() {
        let mut kept = 0;
        for b in 0..=255u8 {
            let in_name = [b"x-".as_slice(), &[b], b"a: 1"].concat();
            let in_value = [b"x-a: 1".as_slice(), &[b], b"2"].concat();
            for field in [in_name, in_value] {
                let request = [b"POST / HTTP/1.1\r\n".as_slice(), &field, b"\r\n\r\n"].concat();
                let response = [b"HTTP/1.1 200 OK\r\n".as_slice(), &field, b"\r\n\r\n"].concat();
                if let Ok(Some(h)) = req(&request) {
                    assert_converts(&h.headers);
                    kept += 1;
                }
                if let Ok(Some(h)) = parse_response(&mut BytesMut::from(&response[..]), false) {
                    assert_converts(&h.headers);
                    kept += 1;
                }
            }
        }
        // Token characters in names; visible ASCII, tabs and obs-text in values.
        assert!(kept > 2 * (70 + 200), "{kept}");
    }

    /// Every prefix and every one-byte change of real messages: an answer or
    /// an error, never a panic.
    #[test]
    fn mutated_messages_never_panic() {
        let msgs: [&[u8]; 3] = [
            b"POST /endpoints/m/invocations HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n1,2",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            b"5\r\nhello\r\n0\r\n\r\n",
        ];
        for m in msgs {
            for cut in 0..=m.len() {
                for flip in 0..m.len() {
                    let mut v = m[..cut].to_vec();
                    if flip < v.len() {
                        v[flip] ^= 0x5a;
                    }
                    let mut last = LastTarget::default();
                    if let Ok(Some(h)) = parse_request(&mut BytesMut::from(&v[..]), &mut last) {
                        assert_converts(&h.headers);
                    }
                    if let Ok(Some(h)) = parse_response(&mut BytesMut::from(&v[..]), false) {
                        assert_converts(&h.headers);
                    }
                    let _ = next_chunk(&v);
                }
            }
        }
    }
}
