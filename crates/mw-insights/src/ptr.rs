//! `@ptr`: the opaque per-row pointer GetQueryResults returns for non-aggregated rows,
//! and which GetLogRecord takes back ([`encode_ptr`], [`decode_ptr`], [`RecordPtr`]).
//!
//! The pointer is the lowercase hex of `group \n stream \n timestamp \n ingestion \n
//! fnv64(message)`, enough for the storage layer to find the one event again (the hash
//! tells apart events that share stream and timestamp).

/// What a `@ptr` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordPtr {
    pub log_group: String,
    pub log_stream: String,
    /// Epoch milliseconds.
    pub timestamp: i64,
    /// Epoch milliseconds.
    pub ingestion_time: i64,
    /// [`message_hash`] of the event's message.
    pub message_hash: u64,
}

/// FNV-1a (64-bit) of a message, as stored in a `@ptr`.
pub fn message_hash(message: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in message.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The `@ptr` of one event.
pub fn encode_ptr(
    log_group: &str,
    log_stream: &str,
    timestamp: i64,
    ingestion_time: i64,
    message: &str,
) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let tail = format!(
        "\n{timestamp}\n{ingestion_time}\n{:016x}",
        message_hash(message)
    );
    let raw = [
        log_group.as_bytes(),
        b"\n",
        log_stream.as_bytes(),
        tail.as_bytes(),
    ];
    let len: usize = raw.iter().map(|p| p.len()).sum();
    let mut out = String::with_capacity(len * 2);
    for b in raw.iter().flat_map(|p| p.iter()) {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    out
}

/// Reads a `@ptr` back; `None` if it is not one this crate made.
pub fn decode_ptr(ptr: &str) -> Option<RecordPtr> {
    if ptr.len() & 1 == 1 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..ptr.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(ptr.get(i..i + 2)?, 16).ok())
        .collect();
    let raw = String::from_utf8(bytes?).ok()?;
    // Group and stream names cannot contain newlines (AWS name rules), so split from
    // the right to be safe anyway.
    let mut parts = raw.rsplitn(4, '\n');
    let hash = u64::from_str_radix(parts.next()?, 16).ok()?;
    let ingestion_time = parts.next()?.parse().ok()?;
    let timestamp = parts.next()?.parse().ok()?;
    let (log_group, log_stream) = parts.next()?.split_once('\n')?;
    Some(RecordPtr {
        log_group: log_group.to_owned(),
        log_stream: log_stream.to_owned(),
        timestamp,
        ingestion_time,
        message_hash: hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let p = encode_ptr(
            "/aws/app",
            "stream-1",
            1_700_000_000_123,
            1_700_000_000_200,
            "hello",
        );
        assert!(p.bytes().all(|b| b.is_ascii_hexdigit()));
        let r = decode_ptr(&p).expect("decodes");
        assert_eq!(
            r,
            RecordPtr {
                log_group: "/aws/app".into(),
                log_stream: "stream-1".into(),
                timestamp: 1_700_000_000_123,
                ingestion_time: 1_700_000_000_200,
                message_hash: message_hash("hello"),
            }
        );
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "zz", "abc", "68656c6c6f"] {
            assert_eq!(decode_ptr(bad), None, "{bad}");
        }
    }
}
