//! Stored events and compressed blocks.
//!
//! A block holds one stream's events sorted by (timestamp, seq). Uncompressed it
//! is all messages back to back, then `count` headers `[timestamp i64]
//! [ingestion i64][seq u64][offset u32][len u32]`, then `[count u32][text_len
//! u32]`; the whole is LZ4-compressed with the raw length prepended. Keeping the
//! messages contiguous and first lets a scan take them as one string without a
//! copy, validate UTF-8 once, search a literal across the whole block at once,
//! and test patterns on borrowed slices, so nothing is allocated for events that
//! do not match. Format notes in `docs/formats/log-store.md`.

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
    let mut raw = Vec::with_capacity(text + events.len() * HEADER + 8);
    for e in events {
        raw.extend_from_slice(e.message.as_bytes());
    }
    let mut offset = 0u32;
    for e in events {
        raw.extend_from_slice(&e.timestamp.to_le_bytes());
        raw.extend_from_slice(&e.ingestion.to_le_bytes());
        raw.extend_from_slice(&e.seq.to_le_bytes());
        raw.extend_from_slice(&offset.to_le_bytes());
        raw.extend_from_slice(&(e.message.len() as u32).to_le_bytes());
        offset += e.message.len() as u32;
    }
    raw.extend_from_slice(&(events.len() as u32).to_le_bytes());
    raw.extend_from_slice(&(text as u32).to_le_bytes());
    lz4_flex::compress_prepend_size(&raw)
}

/// A block's skip index: a one-hash Bloom filter over every 4-byte window of
/// its messages, one bit per message byte (rounded to a power of two). A
/// literal of four or more bytes can only occur in the block if all of its
/// windows' bits are set, so a scan for a rare term reads the filter and skips
/// most blocks without decompressing them.
pub fn ngram_filter(events: &[Event]) -> Vec<u8> {
    let text: usize = events.iter().map(|e| e.message.len()).sum();
    let bits = text.next_power_of_two().clamp(1 << 12, 1 << 24);
    let mut filter = vec![0u8; bits / 8];
    let shift = 64 - bits.trailing_zeros();
    for e in events {
        for w in e.message.as_bytes().windows(4) {
            let i = gram_bit(w, shift);
            filter[i / 8] |= 1 << (i % 8);
        }
    }
    filter
}

#[inline]
fn gram_bit(w: &[u8], shift: u32) -> usize {
    let g = u64::from(u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
    (g.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> shift) as usize
}

/// False when `literal` (4+ bytes) cannot occur in the block `filter` indexes.
pub fn may_contain(filter: &[u8], literal: &[u8]) -> bool {
    let bits = filter.len() * 8;
    if literal.len() < 4 || !bits.is_power_of_two() {
        return true;
    }
    let shift = 64 - bits.trailing_zeros();
    literal.windows(4).all(|w| {
        let i = gram_bit(w, shift);
        filter[i / 8] & (1 << (i % 8)) != 0
    })
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

    /// Indices of the events whose text contains a match of `finder`, found by
    /// one search over the whole block (ascending, without repeats). A match
    /// that straddles two messages names the first; callers test candidates.
    pub fn candidates(&self, finder: &memchr::memmem::Finder) -> Vec<usize> {
        let mut out: Vec<usize> = Vec::new();
        let mut from = 0usize;
        let hay = self.text.as_bytes();
        while let Some(p) = finder.find(&hay[from..]) {
            let pos = from + p;
            // The last event whose offset is <= pos.
            let i = self
                .heads
                .partition_point(|h| h.3 as usize <= pos)
                .saturating_sub(1);
            if out.last() != Some(&i) {
                out.push(i);
            }
            // Resume at the next message: one hit per event is enough.
            let (_, _, _, off, len) = self.heads[i];
            from = ((off + len) as usize).max(pos + 1);
            if from >= hay.len() {
                break;
            }
        }
        out
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
    let mut raw = lz4_flex::decompress_size_prepended(data).map_err(|e| corrupt(&e.to_string()))?;
    if raw.len() < 8 {
        return Err(corrupt("no trailer"));
    }
    let n = raw.len();
    let count = u32::from_le_bytes(raw[n - 8..n - 4].try_into().expect("4 bytes")) as usize;
    let text_len = u32::from_le_bytes(raw[n - 4..].try_into().expect("4 bytes")) as usize;
    let heads_len = count
        .checked_mul(HEADER)
        .ok_or_else(|| corrupt("bad event count"))?;
    if text_len
        .checked_add(heads_len)
        .and_then(|x| x.checked_add(8))
        != Some(n)
    {
        return Err(corrupt("bad layout"));
    }
    let mut heads = Vec::with_capacity(count);
    for i in 0..count {
        let at = text_len + i * HEADER;
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
    raw.truncate(text_len);
    let text = String::from_utf8(raw).map_err(|_| corrupt("messages are not UTF-8"))?;
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

    #[test]
    fn the_ngram_filter_never_misses_and_mostly_rejects() {
        let events: Vec<Event> = (0..2000)
            .map(|i| Event {
                timestamp: i,
                ingestion: 0,
                seq: i as u64,
                message: format!(
                    "2026-11-28T12:00:{:02}Z INFO request id={i:08x} status=200 latency_ms={}",
                    i % 60,
                    i % 97
                ),
            })
            .collect();
        let f = ngram_filter(&events);
        for e in &events[..50] {
            for lit in [&e.message[..12], &e.message[20..40], "status=200"] {
                assert!(may_contain(&f, lit.as_bytes()), "{lit}");
            }
        }
        assert!(
            may_contain(&f, b"abc"),
            "short literals cannot be ruled out"
        );
        let absent = ["ZQXJVTRACE", "OutOfMemoryError", "panicked at", "WARN disk"];
        assert!(absent.iter().all(|a| !may_contain(&f, a.as_bytes())));
    }

    #[test]
    fn candidates_find_each_event_with_the_literal_once() {
        let msgs = ["no", "ERROR a ERROR", "x", "pre ERROR", "ERRO", "R"];
        let events: Vec<Event> = msgs
            .iter()
            .enumerate()
            .map(|(i, m)| Event {
                timestamp: i as i64,
                ingestion: 0,
                seq: i as u64,
                message: m.to_string(),
            })
            .collect();
        let block = decode(&encode(&events)).unwrap();
        let f = memchr::memmem::Finder::new("ERROR");
        // "ERRO" + "R" straddles two messages: a candidate that the caller rejects.
        assert_eq!(block.candidates(&f), vec![1, 3, 4]);
        assert!(block
            .candidates(&memchr::memmem::Finder::new("zzz"))
            .is_empty());
    }
}
