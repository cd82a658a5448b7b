//! [`RecordBatchBuilder`]: encodes a v2 record batch as records arrive.
//!
//! Built for the producer's hot path: one builder per open partition batch, each
//! append writes the record straight into one growing buffer (no allocation per
//! record once the buffer has room), and `finish` fills in the 61-byte header that was
//! reserved up front, compresses the records if asked, and computes the CRC.

use bytes::Bytes;

use super::batch::{ATTRIBUTES_OFFSET, CRC_OFFSET};
use super::{LOG_OVERHEAD, RECORD_BATCH_OVERHEAD};
use crate::protocol::codec::{varint_len, varlong_len};
use crate::protocol::compression::{self, Compression, CompressionError};

/// The most a record takes besides its key, value and headers: length (5), attributes
/// (1), timestamp delta (10) and offset delta (5), as the Java client reckons it.
const MAX_RECORD_OVERHEAD: usize = 21;
const TRANSACTIONAL_FLAG: i16 = 0x10;

/// Encodes one v2 record batch.
///
/// # Examples
/// ```
/// # #[cfg(feature = "protocol")] {
/// use kafka_sync::Compression;
/// use kafka_sync::protocol::records::{batches, RecordBatchBuilder};
///
/// let mut builder = RecordBatchBuilder::new(16 * 1024);
/// let headers: &[(&str, Option<&[u8]>)] = &[("source", Some(b"sensor-7"))];
/// // Check against the batch size before appending, as a producer does.
/// assert!(builder.estimated_size_after(3, 5, headers) <= 16 * 1024);
/// builder.append(1_700_000_000_000, Some(b"key"), Some(b"hello"), headers);
/// assert_eq!(builder.record_count(), 1);
///
/// let batch = builder.finish(Compression::Gzip, None, -1, -1, -1, false).unwrap();
/// let decoded = batches(batch, true).next().unwrap().unwrap();
/// let record = &decoded.records(1 << 20).unwrap()[0];
/// assert_eq!(record.headers[0].key, "source");
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct RecordBatchBuilder {
    /// The reserved header, then the encoded records.
    buf: Vec<u8>,
    count: u32,
    first_timestamp: i64,
    max_timestamp: i64,
}

/// The encoded size of a varint-length byte field (-1 for null takes one byte, as an
/// empty field does).
#[inline]
fn bytes_field(len: usize) -> usize {
    varint_len(len as i32) + len
}

/// The encoded size of a record's key, value and headers.
#[inline]
fn fields_size(key_len: usize, value_len: usize, headers: &[(&str, Option<&[u8]>)]) -> usize {
    let mut size = bytes_field(key_len) + bytes_field(value_len) + varint_len(headers.len() as i32);
    for (k, v) in headers {
        size += bytes_field(k.len()) + bytes_field(v.map_or(0, <[u8]>::len));
    }
    size
}

/// Writes a zigzag varint into `out` at `*at`.
#[inline(always)]
fn put_zigzag(out: &mut [u8; 32], at: &mut usize, v: i64) {
    let mut u = ((v << 1) ^ (v >> 63)) as u64;
    while u >= 0x80 {
        out[*at] = (u as u8) | 0x80;
        *at += 1;
        u >>= 7;
    }
    out[*at] = u as u8;
    *at += 1;
}

impl RecordBatchBuilder {
    /// A builder whose buffer starts with room for `capacity` bytes (header included);
    /// it grows past that if records need it. Pass the producer's `batch_size`.
    pub fn new(capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(capacity.max(RECORD_BATCH_OVERHEAD));
        buf.resize(RECORD_BATCH_OVERHEAD, 0);
        RecordBatchBuilder {
            buf,
            count: 0,
            first_timestamp: -1,
            max_timestamp: -1,
        }
    }

    /// Appends a record and returns the bytes it took. Its offset delta is the number
    /// of records before it; its timestamp is stored relative to the first record's.
    ///
    /// The caller bounds record sizes (the producer checks
    /// [`record_size_upper_bound`](Self::record_size_upper_bound) against
    /// `max_request_size`); keys, values and header fields must each be under 2 GiB.
    #[inline]
    pub fn append(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&str, Option<&[u8]>)],
    ) -> usize {
        if self.count == 0 {
            self.first_timestamp = timestamp;
            self.max_timestamp = timestamp;
        } else if timestamp > self.max_timestamp {
            self.max_timestamp = timestamp;
        }
        let timestamp_delta = timestamp.wrapping_sub(self.first_timestamp);
        let offset_delta = self.count as i32;
        let key_len = key.map_or(0, <[u8]>::len);
        let value_len = value.map_or(0, <[u8]>::len);
        let body = 1
            + varlong_len(timestamp_delta)
            + varint_len(offset_delta)
            + fields_size(key_len, value_len, headers);
        let total = varint_len(body as i32) + body;
        self.buf.reserve(total);

        // Length, attributes, deltas and the key length, in one write.
        let mut head = [0u8; 32];
        let mut n = 0;
        put_zigzag(&mut head, &mut n, body as i64);
        n += 1; // attributes 0
        put_zigzag(&mut head, &mut n, timestamp_delta);
        put_zigzag(&mut head, &mut n, offset_delta as i64);
        put_zigzag(&mut head, &mut n, key.map_or(-1, |k| k.len() as i64));
        self.buf.extend_from_slice(&head[..n]);
        if let Some(k) = key {
            self.buf.extend_from_slice(k);
        }
        self.put_bytes(value);
        n = 0;
        put_zigzag(&mut head, &mut n, headers.len() as i64);
        self.buf.extend_from_slice(&head[..n]);
        for (k, v) in headers {
            self.put_bytes(Some(k.as_bytes()));
            self.put_bytes(*v);
        }
        self.count += 1;
        total
    }

    #[inline(always)]
    fn put_bytes(&mut self, field: Option<&[u8]>) {
        let mut head = [0u8; 32];
        let mut n = 0;
        put_zigzag(&mut head, &mut n, field.map_or(-1, |f| f.len() as i64));
        self.buf.extend_from_slice(&head[..n]);
        if let Some(f) = field {
            self.buf.extend_from_slice(f);
        }
    }

    /// Records appended so far.
    pub fn record_count(&self) -> usize {
        self.count as usize
    }

    /// True before the first append.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The batch's size so far, uncompressed, header included.
    pub fn size_in_bytes(&self) -> usize {
        self.buf.len()
    }

    /// The first record's timestamp, once there is one.
    pub fn first_timestamp(&self) -> Option<i64> {
        (self.count > 0).then_some(self.first_timestamp)
    }

    /// An upper bound of [`size_in_bytes`](Self::size_in_bytes) after appending a
    /// record with these key and value lengths (0 for null) and headers.
    pub fn estimated_size_after(
        &self,
        key_len: usize,
        value_len: usize,
        headers: &[(&str, Option<&[u8]>)],
    ) -> usize {
        self.buf.len() + MAX_RECORD_OVERHEAD + fields_size(key_len, value_len, headers)
    }

    /// An upper bound of the size of a batch holding just this record, header
    /// included: what the Java client checks against `max.request.size`.
    pub fn record_size_upper_bound(
        key_len: usize,
        value_len: usize,
        headers: &[(&str, Option<&[u8]>)],
    ) -> usize {
        RECORD_BATCH_OVERHEAD + MAX_RECORD_OVERHEAD + fields_size(key_len, value_len, headers)
    }

    /// Completes the batch: compresses the records with `compression` (at `level`, or
    /// the codec's default), fills in the header (base offset 0, which the broker
    /// replaces; create-time timestamps; the producer fields) and computes the CRC.
    ///
    /// Pass -1 for `producer_id`, `producer_epoch` and `base_sequence` when the
    /// producer is not idempotent.
    pub fn finish(
        self,
        compression: Compression,
        level: Option<i32>,
        producer_id: i64,
        producer_epoch: i16,
        base_sequence: i32,
        transactional: bool,
    ) -> Result<Bytes, CompressionError> {
        let mut buf = match compression {
            Compression::None => self.buf,
            codec => {
                let records = &self.buf[RECORD_BATCH_OVERHEAD..];
                let mut out = Vec::with_capacity(RECORD_BATCH_OVERHEAD + records.len() / 2 + 64);
                out.resize(RECORD_BATCH_OVERHEAD, 0);
                compression::compress(codec, level, records, &mut out)?;
                out
            }
        };
        let mut attributes = compression.id() as i16;
        if transactional {
            attributes |= TRANSACTIONAL_FLAG;
        }
        let length = (buf.len() - LOG_OVERHEAD) as i32;
        let h = &mut buf[..RECORD_BATCH_OVERHEAD];
        h[0..8].copy_from_slice(&0i64.to_be_bytes());
        h[8..12].copy_from_slice(&length.to_be_bytes());
        h[12..16].copy_from_slice(&(-1i32).to_be_bytes());
        h[16] = 2;
        h[21..23].copy_from_slice(&attributes.to_be_bytes());
        let last_delta = self.count.saturating_sub(1) as i32;
        h[23..27].copy_from_slice(&last_delta.to_be_bytes());
        h[27..35].copy_from_slice(&self.first_timestamp.to_be_bytes());
        h[35..43].copy_from_slice(&self.max_timestamp.to_be_bytes());
        h[57..61].copy_from_slice(&(self.count as i32).to_be_bytes());
        set_producer_state(&mut buf, producer_id, producer_epoch, base_sequence);
        Ok(Bytes::from(buf))
    }
}

/// Rewrites the producer id, epoch and base sequence of a finished v2 batch and
/// recomputes its CRC, for an idempotent batch retried under a new epoch. Returns
/// false (and changes nothing) if `batch` is not a v2 batch.
///
/// # Examples
/// ```
/// # #[cfg(feature = "protocol")] {
/// use kafka_sync::Compression;
/// use kafka_sync::protocol::records::{batches, set_producer_state, RecordBatchBuilder};
/// let mut b = RecordBatchBuilder::new(128);
/// b.append(0, None, Some(b"v"), &[]);
/// let mut bytes = b.finish(Compression::None, None, 1, 0, 0, false).unwrap().to_vec();
/// assert!(set_producer_state(&mut bytes, 1, 1, 40));
/// let batch = batches(bytes.into(), true).next().unwrap().unwrap();
/// assert_eq!((batch.producer_epoch(), batch.base_sequence()), (1, 40));
/// # }
/// ```
pub fn set_producer_state(
    batch: &mut [u8],
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
) -> bool {
    if batch.len() < RECORD_BATCH_OVERHEAD || batch[16] != 2 {
        return false;
    }
    batch[43..51].copy_from_slice(&producer_id.to_be_bytes());
    batch[51..53].copy_from_slice(&producer_epoch.to_be_bytes());
    batch[53..57].copy_from_slice(&base_sequence.to_be_bytes());
    let crc = crc32c::crc32c(&batch[ATTRIBUTES_OFFSET..]);
    batch[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    true
}

#[cfg(test)]
mod tests {
    use super::super::{batches, Record, RecordHeader};
    use super::*;
    use proptest::prelude::*;

    type Input = (
        i64,
        Option<Vec<u8>>,
        Option<Vec<u8>>,
        Vec<(String, Option<Vec<u8>>)>,
    );

    fn build(records: &[Input], codec: Compression) -> Bytes {
        let mut b = RecordBatchBuilder::new(64);
        for (ts, k, v, h) in records {
            let headers: Vec<(&str, Option<&[u8]>)> =
                h.iter().map(|(k, v)| (k.as_str(), v.as_deref())).collect();
            let before = b.size_in_bytes();
            let estimate = b.estimated_size_after(
                k.as_ref().map_or(0, Vec::len),
                v.as_ref().map_or(0, Vec::len),
                &headers,
            );
            let added = b.append(*ts, k.as_deref(), v.as_deref(), &headers);
            assert_eq!(b.size_in_bytes(), before + added);
            assert!(b.size_in_bytes() <= estimate);
        }
        b.finish(codec, None, 77, 3, 1000, false).unwrap()
    }

    fn expected(records: &[Input]) -> Vec<Record> {
        records
            .iter()
            .enumerate()
            .map(|(i, (ts, k, v, h))| Record {
                offset: i as i64,
                timestamp: *ts,
                key: k.clone().map(Bytes::from),
                value: v.clone().map(Bytes::from),
                headers: h
                    .iter()
                    .map(|(k, v)| RecordHeader {
                        key: k.clone(),
                        value: v.clone().map(Bytes::from),
                    })
                    .collect(),
            })
            .collect()
    }

    fn arb_record() -> impl Strategy<Value = Input> {
        let bytes = || proptest::option::of(proptest::collection::vec(any::<u8>(), 0..300));
        (
            prop_oneof![any::<i64>(), 1_600_000_000_000i64..1_800_000_000_000],
            bytes(),
            bytes(),
            proptest::collection::vec(
                (
                    ".{0,12}",
                    proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20)),
                ),
                0..4,
            ),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn round_trip_every_codec(records in proptest::collection::vec(arb_record(), 1..40)) {
            for codec in Compression::ALL.into_iter().filter(|c| c.is_available()) {
                let data = build(&records, codec);
                let mut it = batches(data.clone(), true);
                let batch = it.next().unwrap().unwrap();
                prop_assert!(it.next().is_none());
                prop_assert_eq!(batch.compression(), codec);
                prop_assert_eq!(batch.records_count() as usize, records.len());
                prop_assert_eq!(batch.last_offset(), records.len() as i64 - 1);
                prop_assert_eq!(batch.base_timestamp(), records[0].0);
                prop_assert_eq!(batch.max_timestamp(), records.iter().map(|r| r.0).max().unwrap());
                prop_assert_eq!((batch.producer_id(), batch.producer_epoch(), batch.base_sequence()), (77, 3, 1000));
                prop_assert_eq!(batch.records(usize::MAX).unwrap(), expected(&records));
            }
        }

        #[test]
        fn upper_bound_holds(record in arb_record()) {
            let (ts, k, v, h) = record;
            let headers: Vec<(&str, Option<&[u8]>)> =
                h.iter().map(|(k, v)| (k.as_str(), v.as_deref())).collect();
            let bound = RecordBatchBuilder::record_size_upper_bound(
                k.as_ref().map_or(0, Vec::len),
                v.as_ref().map_or(0, Vec::len),
                &headers,
            );
            let mut b = RecordBatchBuilder::new(0);
            b.append(ts, k.as_deref(), v.as_deref(), &headers);
            prop_assert!(b.size_in_bytes() <= bound);
        }
    }

    #[test]
    fn header_fields() {
        let mut b = RecordBatchBuilder::new(0);
        assert!(b.is_empty() && b.first_timestamp().is_none());
        b.append(500, None, Some(b"x"), &[]);
        b.append(400, None, Some(b"y"), &[]); // out of order: negative delta
        b.append(900, None, Some(b"z"), &[]);
        assert_eq!(b.first_timestamp(), Some(500));
        let data = b.finish(Compression::Gzip, None, -1, -1, -1, true).unwrap();
        assert_eq!(data[..8], [0; 8]);
        assert_eq!(
            i32::from_be_bytes(data[8..12].try_into().unwrap()) as usize,
            data.len() - 12
        );
        assert_eq!(data[12..17], [0xff, 0xff, 0xff, 0xff, 2]);
        assert_eq!(data[21..23], [0x00, 0x11]); // transactional | gzip
        let batch = batches(data, true).next().unwrap().unwrap();
        assert_eq!((batch.base_timestamp(), batch.max_timestamp()), (500, 900));
        assert_eq!(batch.last_offset_delta(), 2);
        let ts: Vec<i64> = batch
            .records(1024)
            .unwrap()
            .iter()
            .map(|r| r.timestamp)
            .collect();
        assert_eq!(ts, [500, 400, 900]);
    }

    #[test]
    fn set_producer_state_rewrites_and_recomputes_the_crc() {
        let mut b = RecordBatchBuilder::new(0);
        b.append(1, Some(b"k"), Some(b"v"), &[]);
        let original = b.finish(Compression::Snappy, None, 5, 0, 17, false);
        let Ok(original) = original else {
            return; // snappy feature off
        };
        let mut bytes = original.to_vec();
        assert!(set_producer_state(&mut bytes, 6, 2, 0));
        let batch = batches(bytes.clone().into(), true).next().unwrap().unwrap();
        assert_eq!(
            (
                batch.producer_id(),
                batch.producer_epoch(),
                batch.base_sequence()
            ),
            (6, 2, 0)
        );
        // Only the producer fields and the CRC changed.
        for (i, (a, b)) in original.iter().zip(&bytes).enumerate() {
            if a != b {
                assert!((17..21).contains(&i) || (43..57).contains(&i), "byte {i}");
            }
        }
        // Not a v2 batch: untouched.
        let mut short = vec![0u8; 40];
        assert!(!set_producer_state(&mut short, 1, 1, 1));
        assert_eq!(short, vec![0u8; 40]);
    }

    #[test]
    fn invalid_levels_surface_from_finish() {
        let mut b = RecordBatchBuilder::new(0);
        b.append(1, None, Some(b"v"), &[]);
        assert!(matches!(
            b.finish(Compression::Gzip, Some(42), -1, -1, -1, false),
            Err(CompressionError::InvalidLevel { .. })
        ));
    }

    #[test]
    fn appends_reuse_the_buffer() {
        let mut b = RecordBatchBuilder::new(16 * 1024);
        let start = b.buf.as_ptr();
        for i in 0..100u32 {
            b.append(i as i64, Some(&i.to_be_bytes()), Some(&[7u8; 100]), &[]);
        }
        assert_eq!(b.buf.as_ptr(), start, "no reallocation within the capacity");
        assert!(b.size_in_bytes() < 16 * 1024);
    }
}
