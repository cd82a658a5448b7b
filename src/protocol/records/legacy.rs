//! Message format v0 and v1 (the "MessageSet" before Kafka 0.11), read-only.
//!
//! ```text
//! log entry: offset int64, size int32, message
//! message:   crc uint32 (CRC-32 of magic onwards), magic int8 (0 or 1), attributes int8,
//!            [timestamp int64, v1 only], key bytes (int32 length, -1 null), value bytes
//! ```
//!
//! A compressed message is a wrapper whose value, decompressed, is a message set of
//! uncompressed inner messages. In v1 the inner offsets are relative (0, 1, 2, ...) and
//! the wrapper carries the absolute offset of the last one; in v0 they are absolute.
//! Inner v1 messages take the wrapper's timestamp when the wrapper says LogAppendTime.
//!
//! An inner message that is itself compressed ("double compression", which
//! kafka-python's producer up to 1.2.4 wrote by mistake) is handed out as it is, with
//! its offset: its value is the still-compressed message set. That is kafka-python's
//! default; with `skip_double_compressed_messages` it is skipped instead.

use bytes::Bytes;

use super::batch::RecordBatch;
use super::budget::{Budget, RECORD_COST};
use super::{Record, TimestampType, LOG_OVERHEAD};
use crate::protocol::codec::DecodeError;
use crate::protocol::compression::{self, Compression};

/// The smallest message: crc, magic, attributes and two null lengths.
pub(super) const MIN_MESSAGE_SIZE: usize = 14;
/// The smallest v1 message, with its timestamp.
const MIN_MESSAGE_SIZE_V1: usize = 22;

fn be_i32(d: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]])
}
fn be_i64(d: &[u8], at: usize) -> i64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[at..at + 8]);
    i64::from_be_bytes(b)
}

/// Checks a message's magic and size: `m` starts at its CRC.
fn check_message(m: &[u8], offset: i64) -> Result<u8, DecodeError> {
    let magic = m[4];
    let min = match magic {
        0 => MIN_MESSAGE_SIZE,
        1 => MIN_MESSAGE_SIZE_V1,
        _ => {
            return Err(DecodeError::Malformed(format!(
                "message at offset {offset} has magic {magic} inside a legacy message set"
            )))
        }
    };
    if m.len() < min {
        return Err(DecodeError::Malformed(format!(
            "v{magic} message at offset {offset} is {} bytes, below the minimum of {min}",
            m.len()
        )));
    }
    Ok(magic)
}

/// Reads the batch-level view of the log entry `entry` (at least 26 bytes, magic < 2).
pub(super) fn parse(entry: Bytes, check_crcs: bool) -> Result<RecordBatch, DecodeError> {
    let offset = be_i64(&entry, 0);
    let magic = check_message(&entry[LOG_OVERHEAD..], offset)?;
    let attributes = entry[17] as i16;
    let compression = Compression::from_attributes(attributes)?;
    if compression == Compression::Zstd {
        return Err(DecodeError::Malformed(format!(
            "message at offset {offset} uses zstd, which formats v0 and v1 do not allow"
        )));
    }
    let timestamp = if magic == 1 { be_i64(&entry, 18) } else { -1 };
    let batch = RecordBatch {
        base_offset: offset,
        batch_length: (entry.len() - LOG_OVERHEAD) as i32,
        partition_leader_epoch: -1,
        magic: magic as i8,
        crc: be_i32(&entry, LOG_OVERHEAD) as u32,
        attributes,
        last_offset_delta: 0,
        base_timestamp: timestamp,
        max_timestamp: timestamp,
        producer_id: -1,
        producer_epoch: -1,
        base_sequence: -1,
        records_count: if compression == Compression::None {
            1
        } else {
            -1
        },
        compression,
        check_crcs,
        skip_double_compressed: false,
        data: entry,
    };
    if check_crcs {
        batch.verify_crc()?;
    }
    Ok(batch)
}

/// A length-prefixed byte field of a message; -1 is null.
fn sized(m: &Bytes, at: &mut usize) -> Result<Option<Bytes>, DecodeError> {
    if m.len() - *at < 4 {
        return Err(DecodeError::Truncated {
            offset: *at,
            needed: 4 - (m.len() - *at),
        });
    }
    let len = be_i32(m, *at);
    *at += 4;
    if len == -1 {
        return Ok(None);
    }
    let remaining = m.len() - *at;
    if len < 0 || len as usize > remaining {
        return Err(DecodeError::InvalidLength {
            offset: *at - 4,
            length: len as i64,
            remaining,
        });
    }
    let out = m.slice(*at..*at + len as usize);
    *at += len as usize;
    Ok(Some(out))
}

/// The key and value of a checked message `m` (starting at its CRC).
fn key_value(m: &Bytes, magic: u8) -> Result<(Option<Bytes>, Option<Bytes>), DecodeError> {
    let mut at = if magic == 0 { 6 } else { 14 };
    let key = sized(m, &mut at)?;
    let value = sized(m, &mut at)?;
    Ok((key, value))
}

/// The records of a legacy batch: the message itself, or a wrapper's inner messages.
pub(super) fn records(batch: &RecordBatch, max_bytes: usize) -> Result<Vec<Record>, DecodeError> {
    let message = batch.data.slice(LOG_OVERHEAD..);
    let magic = batch.magic as u8;
    let (key, value) = key_value(&message, magic)?;
    if batch.compression == Compression::None {
        return Ok(vec![Record {
            offset: batch.base_offset,
            timestamp: batch.base_timestamp,
            key,
            value,
            headers: Vec::new(),
        }]);
    }
    let value = value.ok_or_else(|| {
        DecodeError::Malformed(format!(
            "compressed message at offset {} has a null value",
            batch.base_offset
        ))
    })?;
    let inner: Bytes = compression::decompress(batch.compression, &value, max_bytes)?.into();
    let mut budget = Budget::new(max_bytes, inner.len())?;
    let log_append_time = batch.timestamp_type() == TimestampType::LogAppendTime;

    let mut records = Vec::new();
    let mut last_inner = None;
    let mut pos = 0;
    // A trailing partial entry ends the set, as in the Java client.
    while inner.len() - pos >= LOG_OVERHEAD {
        let offset = be_i64(&inner, pos);
        let size = be_i32(&inner, pos + 8);
        if size < MIN_MESSAGE_SIZE as i32 {
            return Err(DecodeError::Malformed(format!(
                "inner message at offset {offset} has size {size}"
            )));
        }
        let start = pos + LOG_OVERHEAD;
        if inner.len() - start < size as usize {
            break;
        }
        let m = inner.slice(start..start + size as usize);
        pos = start + size as usize;
        let inner_magic = check_message(&m, offset)?;
        last_inner = Some(offset);
        let double_compressed = m[5] & 0x07 != 0;
        if batch.check_crcs {
            let stored = be_i32(&m, 0) as u32;
            let computed = crc32fast::hash(&m[4..]);
            if stored != computed {
                return Err(DecodeError::CrcMismatch {
                    what: "message",
                    offset,
                    stored,
                    computed,
                });
            }
        }
        let timestamp = match inner_magic {
            0 => -1,
            _ if log_append_time => batch.base_timestamp,
            _ => be_i64(&m, 6),
        };
        let (key, value) = key_value(&m, inner_magic)?;
        if double_compressed && batch.skip_double_compressed {
            continue;
        }
        if !budget.take(RECORD_COST) {
            return Err(budget.exceeded());
        }
        records.push(Record {
            offset,
            timestamp,
            key,
            value,
            headers: Vec::new(),
        });
    }
    let Some(last_offset) = last_inner else {
        return Err(DecodeError::Malformed(format!(
            "compressed message at offset {} holds no messages",
            batch.base_offset
        )));
    };
    if magic == 1 {
        // Relative inner offsets; the wrapper has the absolute offset of the last. Some
        // librdkafka versions sent wrappers at offset 0, which the Java client accepts.
        let wrapper = batch.base_offset;
        let base = if wrapper == 0 {
            0
        } else if wrapper < last_offset {
            return Err(DecodeError::Malformed(format!(
                "compressed message at offset {wrapper} holds a message at relative offset {last_offset}"
            )));
        } else {
            wrapper - last_offset
        };
        for r in &mut records {
            r.offset = base.wrapping_add(r.offset);
        }
    }
    Ok(records)
}

/// Encodes legacy messages, for tests and fuzzing fixtures.
#[cfg(test)]
pub(crate) mod encode {
    use crate::protocol::compression::{self, Compression};

    /// One message (from its CRC on), CRC included.
    pub fn message(
        magic: u8,
        attributes: u8,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Vec<u8> {
        let mut m = vec![0, 0, 0, 0, magic, attributes];
        if magic == 1 {
            m.extend_from_slice(&timestamp.to_be_bytes());
        }
        for field in [key, value] {
            match field {
                None => m.extend_from_slice(&(-1i32).to_be_bytes()),
                Some(f) => {
                    m.extend_from_slice(&(f.len() as i32).to_be_bytes());
                    m.extend_from_slice(f);
                }
            }
        }
        let crc = crc32fast::hash(&m[4..]);
        m[..4].copy_from_slice(&crc.to_be_bytes());
        m
    }

    /// A log entry: offset, size, message.
    pub fn entry(offset: i64, message: &[u8]) -> Vec<u8> {
        let mut e = offset.to_be_bytes().to_vec();
        e.extend_from_slice(&(message.len() as i32).to_be_bytes());
        e.extend_from_slice(message);
        e
    }

    /// A compressed wrapper entry around `inner` (a message set).
    pub fn wrapper(
        offset: i64,
        magic: u8,
        codec: Compression,
        log_append: bool,
        timestamp: i64,
        inner: &[u8],
    ) -> Vec<u8> {
        let mut packed = Vec::new();
        compression::compress(codec, None, inner, &mut packed).unwrap();
        let attributes = codec.id() | if log_append { 0x08 } else { 0 };
        entry(
            offset,
            &message(magic, attributes, timestamp, None, Some(&packed)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::{batches, RecordBatch};
    use super::encode::*;
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// A v0 and a v1 message, by hand; CRCs from zlib's CRC-32 over magic onwards.
    const MESSAGE_SET: &str = concat!(
        "0000000000000000",   // offset 0
        "00000010",           // size 16
        "1fecd70a",           // CRC-32
        "00",                 // magic 0
        "00",                 // attributes
        "000000016b",         // key "k"
        "0000000176",         // value "v"
        "0000000000000001",   // offset 1
        "0000001b",           // size 27
        "8ee30bba",           // CRC-32
        "01",                 // magic 1
        "00",                 // attributes: create time, no codec
        "0000018bcfe56800",   // timestamp 1_700_000_000_000
        "ffffffff",           // null key
        "0000000568656c6c6f", // value "hello"
    );

    fn all(data: Vec<u8>, check: bool) -> Vec<RecordBatch> {
        batches(data.into(), check).map(Result::unwrap).collect()
    }

    #[test]
    fn golden_v0_and_v1_messages() {
        let data = hex(MESSAGE_SET);
        // The test encoder writes the same bytes.
        assert_eq!(data[12..28], message(0, 0, 0, Some(b"k"), Some(b"v"))[..]);
        assert_eq!(
            data[40..],
            message(1, 0, 1_700_000_000_000, None, Some(b"hello"))[..]
        );
        let data = Bytes::from(data);
        let got: Vec<RecordBatch> = batches(data.clone(), true).map(Result::unwrap).collect();
        assert_eq!(got.len(), 2);
        let (v0, v1) = (&got[0], &got[1]);
        assert_eq!(
            (v0.magic(), v0.crc(), v0.timestamp_type()),
            (0, 0x1fec_d70a, TimestampType::NoTimestamp)
        );
        assert_eq!(
            (v1.magic(), v1.crc(), v1.timestamp_type()),
            (1, 0x8ee3_0bba, TimestampType::CreateTime)
        );
        assert_eq!(v0.producer_id(), -1);
        assert_eq!(v1.next_offset(), 2);
        let r0 = &v0.records(0).unwrap()[0];
        assert_eq!((r0.offset, r0.timestamp), (0, -1));
        assert_eq!(
            (r0.key.as_deref(), r0.value.as_deref()),
            (Some(&b"k"[..]), Some(&b"v"[..]))
        );
        let r1 = &v1.records(0).unwrap()[0];
        assert_eq!((r1.offset, r1.timestamp), (1, 1_700_000_000_000));
        assert_eq!(
            (r1.key.as_deref(), r1.value.as_deref()),
            (None, Some(&b"hello"[..]))
        );
        // Zero-copy here too.
        assert_eq!(
            r1.value.as_ref().unwrap().as_ptr(),
            data[data.len() - 5..].as_ptr()
        );
        assert_eq!(super::super::next_offset(&data), Some(2));
    }

    #[test]
    fn legacy_crc_mismatch() {
        let mut data = hex(MESSAGE_SET);
        let last = data.len() - 1;
        data[last] ^= 0x20;
        let mut it = batches(data.clone().into(), true);
        assert!(it.next().unwrap().is_ok());
        assert!(matches!(
            it.next().unwrap(),
            Err(DecodeError::CrcMismatch {
                what: "message",
                offset: 1,
                stored: 0x8ee3_0bba,
                ..
            })
        ));
        let got = all(data, false);
        assert_eq!(
            got[1].records(0).unwrap()[0].value.as_deref(),
            Some(&b"hellO"[..])
        );
    }

    fn inner_set(magic: u8, offsets: std::ops::Range<i64>) -> Vec<u8> {
        let mut set = Vec::new();
        for o in offsets {
            let v = format!("value-{o}");
            set.extend(entry(
                o,
                &message(magic, 0, 1000 + o, Some(b"key"), Some(v.as_bytes())),
            ));
        }
        set
    }

    #[test]
    fn v1_wrappers_expand_with_absolute_offsets() {
        for codec in [Compression::Gzip, Compression::Snappy, Compression::Lz4] {
            if !codec.is_available() {
                continue;
            }
            // Inner offsets 0..3 relative; the wrapper is at 102, the last one's offset.
            let data = wrapper(102, 1, codec, false, 5000, &inner_set(1, 0..3));
            let batch = &all(data, true)[0];
            assert_eq!(batch.compression(), codec);
            assert_eq!(batch.records_count(), -1);
            assert_eq!(batch.next_offset(), 103);
            let records = batch.records(1 << 20).unwrap();
            let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
            assert_eq!(offsets, [100, 101, 102], "{codec}");
            assert_eq!(records[2].value.as_deref(), Some(&b"value-2"[..]));
            assert_eq!(records[1].timestamp, 1001); // create time: the inner timestamp
        }
    }

    /// kafka-python <= 1.2.4 wrapped a compressed message in another: the inner set
    /// holds a plain message at relative offset 0 and a compressed one at 1.
    fn double_compressed(magic: u8, wrapper_offset: i64) -> Vec<u8> {
        let nested = wrapper(
            1,
            magic,
            Compression::Gzip,
            false,
            1001,
            &inner_set(magic, 0..2),
        );
        let mut set = inner_set(magic, 0..1);
        set.extend(nested);
        wrapper(wrapper_offset, magic, Compression::Gzip, false, 5000, &set)
    }

    #[test]
    fn double_compressed_messages_come_out_as_they_are_or_are_skipped() {
        for (magic, wrapper_offset) in [(1, 11), (0, 1)] {
            let data = double_compressed(magic, wrapper_offset);
            let records = all(data.clone(), true)[0].records(1 << 20).unwrap();
            assert_eq!(records.len(), 2, "v{magic}");
            assert_eq!(records[0].value.as_deref(), Some(&b"value-0"[..]));
            // The nested wrapper, one record at its own offset, its value still gzip.
            let base = if magic == 1 { 10 } else { 0 };
            assert_eq!(records[1].offset, base + 1, "v{magic}");
            let blob = records[1].value.as_deref().unwrap();
            assert_eq!(&blob[..2], &[0x1f, 0x8b], "v{magic}: a gzip stream");

            let skipped: Vec<_> = batches(data.into(), true)
                .skip_double_compressed(true)
                .map(Result::unwrap)
                .collect();
            let records = skipped[0].records(1 << 20).unwrap();
            let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
            // The wrapper's offset still places the kept message (v1 is relative).
            assert_eq!(offsets, [base], "v{magic}");
            assert_eq!(skipped[0].next_offset(), wrapper_offset + 1);
        }
    }

    #[test]
    fn v1_log_append_time_wrappers_stamp_their_inner_messages() {
        let data = wrapper(2, 1, Compression::Gzip, true, 7777, &inner_set(1, 0..3));
        let batch = &all(data, true)[0];
        assert_eq!(batch.timestamp_type(), TimestampType::LogAppendTime);
        let ts: Vec<i64> = batch
            .records(1 << 20)
            .unwrap()
            .iter()
            .map(|r| r.timestamp)
            .collect();
        assert_eq!(ts, [7777; 3]);
    }

    #[test]
    fn v0_wrappers_keep_absolute_offsets_and_zero_wrappers_are_accepted() {
        let data = wrapper(52, 0, Compression::Gzip, false, 0, &inner_set(0, 50..53));
        let offsets: Vec<i64> = all(data, true)[0]
            .records(1 << 20)
            .unwrap()
            .iter()
            .map(|r| r.offset)
            .collect();
        assert_eq!(offsets, [50, 51, 52]);

        let data = wrapper(0, 1, Compression::Gzip, false, 0, &inner_set(1, 0..2));
        let offsets: Vec<i64> = all(data, true)[0]
            .records(1 << 20)
            .unwrap()
            .iter()
            .map(|r| r.offset)
            .collect();
        assert_eq!(offsets, [0, 1]);
    }

    #[test]
    fn bad_wrappers_are_errors() {
        // Wrapper offset below the last relative inner offset.
        let data = wrapper(1, 1, Compression::Gzip, false, 0, &inner_set(1, 0..3));
        assert!(all(data, true)[0].records(1 << 20).is_err());
        // Empty inner set.
        let data = wrapper(1, 1, Compression::Gzip, false, 0, &[]);
        assert!(all(data, true)[0].records(1 << 20).is_err());
        // Null value.
        let data = entry(0, &message(1, 1, 0, None, None));
        assert!(all(data, true)[0].records(1 << 20).is_err());
        // (Nested compression is not an error: see the double-compressed test.)
        // Inner CRC corruption is caught when checking.
        let mut set = inner_set(1, 0..2);
        let n = set.len();
        set[n - 1] ^= 1;
        let data = wrapper(1, 1, Compression::Gzip, false, 0, &set);
        assert!(matches!(
            all(data.clone(), true)[0].records(1 << 20),
            Err(DecodeError::CrcMismatch { offset: 1, .. })
        ));
        assert!(all(data, false)[0].records(1 << 20).is_ok());
        // zstd is not a legacy codec.
        let data = entry(0, &message(1, 4, 0, None, Some(b"x")));
        assert!(batches(data.into(), true).next().unwrap().is_err());
        // A decompression bomb inside a wrapper.
        let zeros = vec![0u8; 1 << 20];
        let set = entry(0, &message(1, 0, 0, None, Some(&zeros)));
        let data = wrapper(0, 1, Compression::Gzip, false, 0, &set);
        assert!(matches!(
            all(data, true)[0].records(64 * 1024),
            Err(DecodeError::DecompressedTooLarge { .. })
        ));
    }

    #[test]
    fn legacy_and_v2_batches_mix_in_one_response() {
        let mut data = hex(MESSAGE_SET);
        let mut b = super::super::RecordBatchBuilder::new(64);
        b.append(0, None, Some(b"v2"), &[]);
        let mut v2 = b
            .finish(Compression::None, None, -1, -1, -1, false)
            .unwrap()
            .to_vec();
        v2[..8].copy_from_slice(&2i64.to_be_bytes());
        data.extend_from_slice(&v2);
        let got = all(data, true);
        assert_eq!(got.iter().map(|b| b.magic()).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(got[2].records(1 << 16).unwrap()[0].offset, 2);
    }
}
