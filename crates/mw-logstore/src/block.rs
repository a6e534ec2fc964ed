//! Stored events and compressed blocks.
//!
//! A block holds one stream's events sorted by (timestamp, seq). Uncompressed it
//! is `[count u32]`, then `count` headers `[timestamp i64][ingestion i64][seq u64]
//! [offset u32][len u32]`, then all messages back to back; the whole is
//! LZ4-compressed with the raw length prepended. Keeping messages contiguous lets
//! a scan validate UTF-8 once per block and test patterns on borrowed slices, so
//! nothing is allocated for events that do not match. Format notes in
//! `docs/formats/log-store.md`.

use crate::error::{Error, Result};

/// One stored log event. `seq` is a store-wide ingestion counter: events order by
/// (timestamp, seq), which is the order AWS documents (timestamp, then ingestion).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub timestamp: i64,
    pub ingestion: i64,
    pub seq: u64,
    pub message: String,
}

impl Event {
    pub fn key(&self) -> (i64, u64) {
        (self.timestamp, self.seq)
    }
}

const HEADER: usize = 32;

/// Bytes of one event in a block before compression.
pub fn encoded_len(e: &Event) -> usize {
    HEADER + e.message.len()
}

/// Encodes and compresses events (already sorted by key).
pub fn encode(events: &[Event]) -> Vec<u8> {
    let text: usize = events.iter().map(|e| e.message.len()).sum();
    let mut raw = Vec::with_capacity(4 + events.len() * HEADER + text);
    raw.extend_from_slice(&(events.len() as u32).to_le_bytes());
    let mut offset = 0u32;
    for e in events {
        raw.extend_from_slice(&e.timestamp.to_le_bytes());
        raw.extend_from_slice(&e.ingestion.to_le_bytes());
        raw.extend_from_slice(&e.seq.to_le_bytes());
        raw.extend_from_slice(&offset.to_le_bytes());
        raw.extend_from_slice(&(e.message.len() as u32).to_le_bytes());
        offset += e.message.len() as u32;
    }
    for e in events {
        raw.extend_from_slice(e.message.as_bytes());
    }
    lz4_flex::compress_prepend_size(&raw)
}

/// Largest raw block accepted when decoding (a guard against corrupt lengths).
const MAX_RAW: usize = 256 << 20;

/// A decoded block: event headers plus the messages as one string.
pub struct Block {
    heads: Vec<(i64, i64, u64, u32, u32)>,
    text: String,
}

/// A borrowed view of one event of a [`Block`].
#[derive(Debug, Clone, Copy)]
pub struct EventRef<'a> {
    pub timestamp: i64,
    pub ingestion: i64,
    pub seq: u64,
    pub message: &'a str,
}

impl EventRef<'_> {
    pub fn to_event(&self) -> Event {
        Event {
            timestamp: self.timestamp,
            ingestion: self.ingestion,
            seq: self.seq,
            message: self.message.to_string(),
        }
    }
}

impl Block {
    pub fn len(&self) -> usize {
        self.heads.len()
    }
    pub fn is_empty(&self) -> bool {
        self.heads.is_empty()
    }
    pub fn get(&self, i: usize) -> EventRef<'_> {
        let (timestamp, ingestion, seq, off, len) = self.heads[i];
        EventRef {
            timestamp,
            ingestion,
            seq,
            message: self
                .text
                .get(off as usize..(off + len) as usize)
                .unwrap_or(""),
        }
    }
}

/// Decompresses and decodes a block.
pub fn decode(data: &[u8]) -> Result<Block> {
    let corrupt = |what: &str| Error::Internal(format!("corrupt log block: {what}"));
    if data.len() < 4 {
        return Err(corrupt("too short"));
    }
    let claimed = u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as usize;
    if claimed > MAX_RAW {
        return Err(corrupt("bad length"));
    }
    let raw = lz4_flex::decompress_size_prepended(data).map_err(|e| corrupt(&e.to_string()))?;
    if raw.len() < 4 {
        return Err(corrupt("no event count"));
    }
    let count = u32::from_le_bytes(raw[0..4].try_into().expect("4 bytes")) as usize;
    let text_start = count
        .checked_mul(HEADER)
        .and_then(|h| h.checked_add(4))
        .filter(|t| *t <= raw.len())
        .ok_or_else(|| corrupt("bad event count"))?;
    let text_len = raw.len() - text_start;
    let mut heads = Vec::with_capacity(count);
    for i in 0..count {
        let at = 4 + i * HEADER;
        let n64 =
            |o: usize| u64::from_le_bytes(raw[at + o..at + o + 8].try_into().expect("8 bytes"));
        let n32 =
            |o: usize| u32::from_le_bytes(raw[at + o..at + o + 4].try_into().expect("4 bytes"));
        let (off, len) = (n32(24), n32(28));
        if off as usize + len as usize > text_len {
            return Err(corrupt("message out of range"));
        }
        heads.push((n64(0) as i64, n64(8) as i64, n64(16), off, len));
    }
    let text = String::from_utf8(raw[text_start..].to_vec())
        .map_err(|_| corrupt("messages are not UTF-8"))?;
    for (_, _, _, off, len) in &heads {
        let (a, b) = (*off as usize, (*off + *len) as usize);
        if !text.is_char_boundary(a) || !text.is_char_boundary(b) {
            return Err(corrupt("message split inside a character"));
        }
    }
    Ok(Block { heads, text })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_round_trip_and_reject_corruption() {
        let events: Vec<Event> = (0..100)
            .map(|i| Event {
                timestamp: 1_000 + i,
                ingestion: 2_000 + i,
                seq: i as u64,
                message: format!("event {i} ✓ with some repeated text repeated text"),
            })
            .collect();
        let data = encode(&events);
        assert!(data.len() < events.iter().map(encoded_len).sum::<usize>());
        let block = decode(&data).unwrap();
        assert_eq!(block.len(), 100);
        let back: Vec<Event> = (0..block.len()).map(|i| block.get(i).to_event()).collect();
        assert_eq!(back, events);
        assert!(decode(&data[..data.len() / 2]).is_err());
        let mut bad = data.clone();
        bad[3] = 0xff;
        assert!(decode(&bad).is_err());
        assert!(decode(&[1, 2]).is_err());
    }
}
