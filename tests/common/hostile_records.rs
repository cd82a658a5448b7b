//! Record data a hostile broker might send: tiny compressed batches that expand to
//! millions of records or headers. Built with the crate's own batch encoder, so only the
//! shape is hostile; CRCs and framing are valid.

use bytes::Bytes;
use kafka_sync::protocol::compression::{compress, Compression};
use kafka_sync::protocol::records::{set_producer_state, RecordBatchBuilder};

/// Size of a v2 record batch header.
const BATCH_HEADER: usize = 61;

/// A zstd batch at base offset 0 holding `records` empty records (null key and value):
/// a few KB on the wire.
pub fn decompression_bomb(records: usize) -> Bytes {
    let mut b = RecordBatchBuilder::new(BATCH_HEADER + records * 8);
    for _ in 0..records {
        b.append(1_700_000_000_000, None, None, &[]);
    }
    b.finish(Compression::Zstd, None, -1, -1, -1, false)
        .expect("zstd is built in")
}

/// A zstd batch at base offset 0 holding one record with `headers` headers (empty key,
/// null value each).
pub fn header_bomb(headers: usize) -> Bytes {
    // The record: attributes, timestamp delta, offset delta, null key, null value, the
    // header count, then each header as key length 0 and value length -1.
    let mut tail = vec![0u8, 0, 0, 1, 1];
    put_varint(&mut tail, headers as i64);
    let body_len = tail.len() + 2 * headers;
    let mut record = Vec::with_capacity(body_len + 5);
    put_varint(&mut record, body_len as i64);
    record.extend_from_slice(&tail);
    for _ in 0..headers {
        record.extend_from_slice(&[0, 1]);
    }
    let mut batch = vec![0u8; BATCH_HEADER];
    compress(Compression::Zstd, None, &record, &mut batch).expect("zstd is built in");
    let length = (batch.len() - 12) as i32;
    batch[8..12].copy_from_slice(&length.to_be_bytes());
    batch[12..16].copy_from_slice(&(-1i32).to_be_bytes());
    batch[16] = 2; // magic
    batch[21..23].copy_from_slice(&(Compression::Zstd.id() as i16).to_be_bytes());
    batch[27..35].copy_from_slice(&1_700_000_000_000i64.to_be_bytes());
    batch[35..43].copy_from_slice(&1_700_000_000_000i64.to_be_bytes());
    batch[57..61].copy_from_slice(&1i32.to_be_bytes());
    // Fills in the producer fields and the CRC.
    assert!(set_producer_state(&mut batch, -1, -1, -1));
    Bytes::from(batch)
}

/// A zigzag varint, as record fields use.
fn put_varint(out: &mut Vec<u8>, v: i64) {
    let mut u = ((v << 1) ^ (v >> 63)) as u64;
    while u >= 0x80 {
        out.push((u as u8) | 0x80);
        u >>= 7;
    }
    out.push(u as u8);
}

/// `n` distinct 16-byte ASCII (not all printable) topic names that all hash alike under the multiply-rotate
/// hash (FxHash's scheme over 8-byte words, with std's `0xff` string terminator) the
/// client once used for its topic maps: a map keyed by them degrades to a list.
pub fn colliding_topic_names(n: usize) -> Vec<String> {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;
    // Any target works: the second word cancels the first word's state into it.
    const TARGET: u64 = 0x2a2a_2a2a_2a2a_2a2a;
    let ascii = |w: u64| w.to_le_bytes().iter().all(|&b| (0x01..0x80).contains(&b));
    let mut names = Vec::with_capacity(n);
    let mut i: u64 = 0;
    while names.len() < n {
        i += 1;
        // A printable first word from the counter, 6 bits per byte.
        let w1 = (0..8).fold(0u64, |w, k| {
            w | ((0x30 + ((i >> (6 * k)) & 0x3f)) << (8 * k))
        });
        let w2 = TARGET ^ w1.wrapping_mul(SEED).rotate_left(5);
        if ascii(w2) {
            let mut name = w1.to_le_bytes().to_vec();
            name.extend_from_slice(&w2.to_le_bytes());
            names.push(String::from_utf8(name).expect("ASCII"));
        }
    }
    names
}
