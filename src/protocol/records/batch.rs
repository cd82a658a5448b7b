//! [`RecordBatch`]: one decoded batch header, and the zero-copy record decoder.

use bytes::Bytes;

use super::budget::{Budget, RECORD_COST};
use super::record_codec::decode_record;
use super::{legacy, ControlRecord, ControlRecordType, Record, TimestampType};
use super::{LOG_OVERHEAD, RECORD_BATCH_OVERHEAD};
use crate::protocol::codec::DecodeError;
use crate::protocol::compression::{self, Compression};

/// Where the v2 CRC is stored, and where the bytes it covers start.
pub(super) const CRC_OFFSET: usize = 17;
pub(super) const ATTRIBUTES_OFFSET: usize = 21;

const TRANSACTIONAL_FLAG: i16 = 0x10;
const CONTROL_FLAG: i16 = 0x20;
const DELETE_HORIZON_FLAG: i16 = 0x40;

/// A control batch's records are a few bytes; this caps the (never expected)
/// decompression of one.
const CONTROL_BATCH_CAP: usize = 1 << 20;

/// One batch from [`batches`](super::batches): its header, decoded eagerly, and its
/// records, decoded on demand by [`RecordBatch::records`].
///
/// For format v0/v1 data, each message (or compressed wrapper message) is a batch of
/// its own, with the v2-only fields at their "none" values (producer id -1, ...).
///
/// # Examples
/// ```
/// # #[cfg(feature = "protocol")] {
/// use kafka_sync::Compression;
/// use kafka_sync::protocol::records::{batches, RecordBatchBuilder, TimestampType};
/// let mut b = RecordBatchBuilder::new(256);
/// b.append(1_000, Some(b"k"), Some(b"v"), &[]);
/// b.append(1_007, None, None, &[]);
/// let data = b.finish(Compression::Gzip, None, 42, 1, 10, true).unwrap();
///
/// let batch = batches(data, true).next().unwrap().unwrap();
/// assert_eq!(batch.magic(), 2);
/// assert_eq!(batch.compression(), Compression::Gzip);
/// assert_eq!((batch.base_offset(), batch.last_offset(), batch.next_offset()), (0, 1, 2));
/// assert_eq!((batch.producer_id(), batch.producer_epoch(), batch.base_sequence()), (42, 1, 10));
/// assert!(batch.is_transactional() && !batch.is_control());
/// assert_eq!(batch.timestamp_type(), TimestampType::CreateTime);
/// assert_eq!(batch.max_timestamp(), 1_007);
/// let records = batch.records(1 << 20).unwrap();
/// assert_eq!(records[1].offset, 1);
/// assert_eq!(records[1].value, None);
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordBatch {
    /// The whole log entry, from its base offset on.
    pub(super) data: Bytes,
    pub(super) base_offset: i64,
    pub(super) batch_length: i32,
    pub(super) partition_leader_epoch: i32,
    pub(super) magic: i8,
    pub(super) crc: u32,
    pub(super) attributes: i16,
    pub(super) last_offset_delta: i32,
    pub(super) base_timestamp: i64,
    pub(super) max_timestamp: i64,
    pub(super) producer_id: i64,
    pub(super) producer_epoch: i16,
    pub(super) base_sequence: i32,
    pub(super) records_count: i32,
    pub(super) compression: Compression,
    pub(super) check_crcs: bool,
    /// Legacy (v0/v1) only: drop inner messages that are themselves compressed instead
    /// of handing them out as they are (see [`Batches::skip_double_compressed`]).
    pub(super) skip_double_compressed: bool,
}

fn be_i16(d: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([d[at], d[at + 1]])
}
fn be_i32(d: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]])
}
fn be_i64(d: &[u8], at: usize) -> i64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[at..at + 8]);
    i64::from_be_bytes(b)
}

impl RecordBatch {
    /// Decodes a v2 header from a complete log entry (at least 17 bytes, magic >= 2).
    pub(super) fn parse_v2(data: Bytes, check_crcs: bool) -> Result<Self, DecodeError> {
        let d = &data[..];
        let base_offset = be_i64(d, 0);
        let magic = d[16] as i8;
        if magic != 2 {
            return Err(DecodeError::UnsupportedVersion {
                api: "record batch (magic)",
                version: magic as i16,
            });
        }
        if d.len() < RECORD_BATCH_OVERHEAD {
            return Err(DecodeError::Malformed(format!(
                "record batch at offset {base_offset} is {} bytes, below the {RECORD_BATCH_OVERHEAD}-byte header",
                d.len()
            )));
        }
        let attributes = be_i16(d, ATTRIBUTES_OFFSET);
        let batch = RecordBatch {
            base_offset,
            batch_length: be_i32(d, 8),
            partition_leader_epoch: be_i32(d, 12),
            magic,
            crc: be_i32(d, CRC_OFFSET) as u32,
            attributes,
            last_offset_delta: be_i32(d, 23),
            base_timestamp: be_i64(d, 27),
            max_timestamp: be_i64(d, 35),
            producer_id: be_i64(d, 43),
            producer_epoch: be_i16(d, 51),
            base_sequence: be_i32(d, 53),
            records_count: be_i32(d, 57),
            compression: Compression::from_attributes(attributes)?,
            check_crcs,
            skip_double_compressed: false,
            data,
        };
        if check_crcs {
            batch.verify_crc()?;
        }
        Ok(batch)
    }

    /// The offset of the first record (for a legacy compressed wrapper, the offset the
    /// wrapper carries: that of its last inner message).
    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }
    /// The length field: the entry's size less the 12 bytes of offset and length.
    pub fn batch_length(&self) -> i32 {
        self.batch_length
    }
    /// The leader epoch of the broker that appended the batch; -1 if unknown.
    pub fn partition_leader_epoch(&self) -> i32 {
        self.partition_leader_epoch
    }
    /// The format: 2 for record batches, 0 or 1 for legacy messages.
    pub fn magic(&self) -> i8 {
        self.magic
    }
    /// The stored CRC (CRC-32C for v2, CRC-32 for legacy messages).
    pub fn crc(&self) -> u32 {
        self.crc
    }
    /// The raw attributes (codec, timestamp type, transactional, control, ...).
    pub fn attributes(&self) -> i16 {
        self.attributes
    }
    /// `last_offset() - base_offset()`; 0 for legacy messages.
    pub fn last_offset_delta(&self) -> i32 {
        self.last_offset_delta
    }
    /// The first record's timestamp (-1 for an empty batch or a v0 message).
    pub fn base_timestamp(&self) -> i64 {
        self.base_timestamp
    }
    /// The largest record timestamp, or the append time for
    /// [`TimestampType::LogAppendTime`] batches.
    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp
    }
    /// The idempotent or transactional producer's id; -1 for none.
    pub fn producer_id(&self) -> i64 {
        self.producer_id
    }
    /// The producer's epoch; -1 for none.
    pub fn producer_epoch(&self) -> i16 {
        self.producer_epoch
    }
    /// The first record's sequence number; -1 for none.
    pub fn base_sequence(&self) -> i32 {
        self.base_sequence
    }
    /// The record count the header declares. For a legacy compressed wrapper, -1: the
    /// count is known only after decompressing.
    pub fn records_count(&self) -> i32 {
        self.records_count
    }
    /// The codec the records are compressed with.
    pub fn compression(&self) -> Compression {
        self.compression
    }
    /// True unless the codec is [`Compression::None`].
    pub fn is_compressed(&self) -> bool {
        self.compression != Compression::None
    }
    /// What the record timestamps mean.
    pub fn timestamp_type(&self) -> TimestampType {
        if self.magic == 0 {
            TimestampType::NoTimestamp
        } else {
            TimestampType::from_attributes(self.attributes)
        }
    }
    /// True for batches written inside a transaction.
    pub fn is_transactional(&self) -> bool {
        self.magic >= 2 && self.attributes & TRANSACTIONAL_FLAG != 0
    }
    /// True for control batches (transaction markers), which hold no user records.
    pub fn is_control(&self) -> bool {
        self.magic >= 2 && self.attributes & CONTROL_FLAG != 0
    }
    /// When the log cleaner may drop this batch's tombstones and markers, if it set
    /// a delete horizon (stored in place of the base timestamp).
    pub fn delete_horizon_ms(&self) -> Option<i64> {
        (self.magic >= 2 && self.attributes & DELETE_HORIZON_FLAG != 0)
            .then_some(self.base_timestamp)
    }
    /// The offset of the last record.
    pub fn last_offset(&self) -> i64 {
        self.base_offset.wrapping_add(self.last_offset_delta as i64)
    }
    /// The offset after this batch: where to fetch next.
    pub fn next_offset(&self) -> i64 {
        self.last_offset().wrapping_add(1)
    }
    /// The last record's sequence number, wrapping at `i32::MAX` as the broker does;
    /// -1 for none.
    pub fn last_sequence(&self) -> i32 {
        if self.base_sequence < 0 {
            return -1;
        }
        let next = self.base_sequence as i64 + self.last_offset_delta as i64;
        if next > i32::MAX as i64 {
            (next - i32::MAX as i64 - 1) as i32
        } else {
            next as i32
        }
    }
    /// The entry's size on the wire.
    pub fn size_in_bytes(&self) -> usize {
        self.data.len()
    }
    /// The entry's bytes, as received.
    pub fn as_bytes(&self) -> &Bytes {
        &self.data
    }

    /// The CRC of the bytes as received: CRC-32C of attributes onwards for v2, CRC-32
    /// of magic onwards for legacy messages.
    pub fn compute_crc(&self) -> u32 {
        if self.magic >= 2 {
            crc32c::crc32c(&self.data[ATTRIBUTES_OFFSET..])
        } else {
            crc32fast::hash(&self.data[LOG_OVERHEAD + 4..])
        }
    }

    /// Checks the stored CRC against the bytes, whatever `check_crcs` was.
    pub fn verify_crc(&self) -> Result<(), DecodeError> {
        let computed = self.compute_crc();
        if computed != self.crc {
            return Err(DecodeError::CrcMismatch {
                what: if self.magic >= 2 {
                    "record batch"
                } else {
                    "message"
                },
                offset: self.base_offset,
                stored: self.crc,
                computed,
            });
        }
        Ok(())
    }

    /// Decodes every record, within `max_bytes` of memory: the decompressed buffer (for
    /// a compressed batch) plus the in-memory size of every record and header. A batch
    /// that would take more is a [`DecodeError::DecompressedTooLarge`] or
    /// [`DecodeError::DecodedTooLarge`], found before the memory is taken. Keys and
    /// values are slices of the decompressed buffer, or for uncompressed batches of the
    /// fetched buffer itself.
    pub fn records(&self, max_bytes: usize) -> Result<Vec<Record>, DecodeError> {
        self.records_with_size(max_bytes)
            .map(|(records, _)| records)
    }

    /// [`records`](Self::records), with the memory the decoded batch takes, as counted
    /// against `max_bytes`.
    ///
    /// # Examples
    /// ```
    /// # #[cfg(feature = "protocol")] {
    /// use kafka_sync::Compression;
    /// use kafka_sync::protocol::records::{batches, RecordBatchBuilder};
    /// let mut b = RecordBatchBuilder::new(256);
    /// b.append(0, None, Some(b"v"), &[("h", None)]);
    /// let batch = batches(b.finish(Compression::None, None, -1, -1, -1, false).unwrap(), true)
    ///     .next()
    ///     .unwrap()
    ///     .unwrap();
    /// let (records, size) = batch.records_with_size(1 << 20).unwrap();
    /// assert_eq!(records.len(), 1);
    /// assert!(size >= std::mem::size_of_val(&records[0]));
    /// # }
    /// ```
    pub fn records_with_size(&self, max_bytes: usize) -> Result<(Vec<Record>, usize), DecodeError> {
        let iter = self.record_iter(max_bytes)?;
        let mut out = Vec::with_capacity(iter.capacity_hint());
        let size = match iter.0 {
            Inner::V2(v) => v.decode_all(&mut out)?,
            Inner::Legacy(v) => {
                out.extend(v);
                out.len() * RECORD_COST
            }
        };
        Ok((out, size))
    }

    /// Like [`records`](Self::records), but decodes one record per `next()`; the
    /// decompression (if any) happens here, up front. `max_bytes` bounds the memory of
    /// all the records the iterator yields, as in [`records`](Self::records).
    pub fn record_iter(&self, max_bytes: usize) -> Result<RecordIter, DecodeError> {
        if self.magic < 2 {
            return Ok(RecordIter(Inner::Legacy(
                legacy::records(self, max_bytes)?.into_iter(),
            )));
        }
        if self.records_count < 0 {
            return Err(DecodeError::Malformed(format!(
                "record batch at offset {} declares {} records",
                self.base_offset, self.records_count
            )));
        }
        let (records, budget) = if self.compression == Compression::None {
            let records = self.data.slice(RECORD_BATCH_OVERHEAD..);
            (records, Budget::new(max_bytes, 0)?)
        } else if self.records_count == 0 {
            (Bytes::new(), Budget::new(max_bytes, 0)?)
        } else {
            let compressed = &self.data[RECORD_BATCH_OVERHEAD..];
            let records: Bytes =
                compression::decompress(self.compression, compressed, max_bytes)?.into();
            let budget = Budget::new(max_bytes, records.len())?;
            (records, budget)
        };
        let log_append_time =
            (self.timestamp_type() == TimestampType::LogAppendTime).then_some(self.max_timestamp);
        Ok(RecordIter(Inner::V2(V2Records {
            buf: records,
            pos: 0,
            left: self.records_count as u32,
            count: self.records_count as u32,
            base_offset: self.base_offset,
            base_timestamp: self.base_timestamp,
            log_append_time,
            budget,
            done: false,
        })))
    }

    /// For a control batch, its control record; `None` for other batches.
    pub fn control_record(&self) -> Result<Option<ControlRecord>, DecodeError> {
        if !self.is_control() {
            return Ok(None);
        }
        let Some(first) = self.record_iter(CONTROL_BATCH_CAP)?.next() else {
            return Ok(None);
        };
        let first = first?;
        let key = first.key.ok_or(DecodeError::UnexpectedNull {
            field: "control record key",
        })?;
        ControlRecord::parse(&key, first.value.as_deref()).map(Some)
    }

    /// For a control batch, the kind of its control record (abort or commit for
    /// transaction markers); `None` for other batches.
    pub fn control_type(&self) -> Result<Option<ControlRecordType>, DecodeError> {
        Ok(self.control_record()?.map(|c| c.kind))
    }
}

/// The records of one batch, decoded one at a time. After an error it ends.
#[derive(Debug)]
pub struct RecordIter(Inner);

#[derive(Debug)]
enum Inner {
    V2(V2Records),
    Legacy(std::vec::IntoIter<Record>),
}

impl RecordIter {
    /// How many records to make room for: the declared count, bounded by the bytes
    /// present (every record takes at least 7) and by the memory budget.
    fn capacity_hint(&self) -> usize {
        match &self.0 {
            Inner::V2(v) => (v.left as usize)
                .min(v.buf.len() / 7 + 1)
                .min(v.budget.records_that_fit()),
            Inner::Legacy(v) => v.len(),
        }
    }
}

impl Iterator for RecordIter {
    type Item = Result<Record, DecodeError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            Inner::V2(v) => v.next(),
            Inner::Legacy(v) => v.next().map(Ok),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            Inner::V2(v) if v.done => (0, Some(0)),
            Inner::V2(v) => (0, Some(v.left as usize + 1)),
            Inner::Legacy(v) => v.size_hint(),
        }
    }
}

#[derive(Debug)]
struct V2Records {
    buf: Bytes,
    pos: usize,
    left: u32,
    count: u32,
    base_offset: i64,
    base_timestamp: i64,
    log_append_time: Option<i64>,
    budget: Budget,
    done: bool,
}

impl V2Records {
    /// The error for bytes left after the declared records, if any.
    #[cold]
    fn trailing(&self) -> Option<DecodeError> {
        let extra = self.buf.len() - self.pos;
        (extra != 0).then(|| {
            DecodeError::Malformed(format!(
                "{extra} bytes follow the last of the {} records the batch at offset {} declares",
                self.count, self.base_offset
            ))
        })
    }

    #[inline]
    fn decode_one(&mut self) -> Result<Record, DecodeError> {
        decode_record(
            &self.buf,
            &mut self.pos,
            self.base_offset,
            self.base_timestamp,
            self.log_append_time,
            &mut self.budget,
            |r| r,
        )
        .map_err(|f| f.into_error(&self.budget))
    }

    #[inline]
    fn next(&mut self) -> Option<Result<Record, DecodeError>> {
        if self.done {
            return None;
        }
        if self.left == 0 {
            self.done = true;
            return self.trailing().map(Err);
        }
        self.left -= 1;
        if !self.budget.take(RECORD_COST) {
            self.done = true;
            return Some(Err(self.budget.exceeded()));
        }
        let r = self.decode_one();
        if r.is_err() {
            self.done = true;
        }
        Some(r)
    }

    /// Decodes every remaining record into `out`: the hot loop of a consumer. Returns
    /// the memory the batch takes decoded.
    fn decode_all(mut self, out: &mut Vec<Record>) -> Result<usize, DecodeError> {
        let (buf, base_offset, base_timestamp, log_append_time) = (
            &self.buf,
            self.base_offset,
            self.base_timestamp,
            self.log_append_time,
        );
        let mut pos = self.pos;
        let mut budget = self.budget;
        // Every record's struct is paid for up front, keeping the loop free of the
        // check; a batch cannot hold more records than its bytes allow (7 each).
        let records = (self.left as usize).min((buf.len() - pos) / 7 + 1);
        if !budget.take(records.saturating_mul(RECORD_COST)) {
            return Err(budget.exceeded());
        }
        for _ in 0..self.left {
            let pushed = decode_record(
                buf,
                &mut pos,
                base_offset,
                base_timestamp,
                log_append_time,
                &mut budget,
                |r| out.push(r),
            );
            if let Err(f) = pushed {
                return Err(f.into_error(&budget));
            }
        }
        self.pos = pos;
        match self.trailing() {
            Some(e) => Err(e),
            None => Ok(budget.used()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{batches, RecordBatchBuilder};
    use super::*;

    /// A batch with one record, laid out by hand field by field.
    ///
    /// The CRC (0xe99b8dd8) was computed with a bit-at-a-time CRC-32C (reflected
    /// polynomial 0x82F63B78, init and final xor 0xFFFFFFFF) over bytes 21..70,
    /// independently of the `crc32c` crate.
    pub(crate) const ONE_RECORD_V2: &str = concat!(
        "0000000000000000", // base offset 0
        "0000003a",         // batch length 58 (70 - 12)
        "ffffffff",         // partition leader epoch -1
        "02",               // magic 2
        "e99b8dd8",         // CRC-32C
        "0000",             // attributes: no codec, create time
        "00000000",         // last offset delta 0
        "0000018bcfe56800", // base timestamp 1_700_000_000_000
        "0000018bcfe56800", // max timestamp
        "ffffffffffffffff", // producer id -1
        "ffff",             // producer epoch -1
        "ffffffff",         // base sequence -1
        "00000001",         // 1 record
        "10",               // record length 8
        "00",               // attributes
        "00",               // timestamp delta 0
        "00",               // offset delta 0
        "026b",             // key "k"
        "0276",             // value "v"
        "00",               // no headers
    );

    pub(crate) fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn golden_v2_batch_decodes() {
        let data = Bytes::from(hex(ONE_RECORD_V2));
        assert_eq!(data.len(), 70);
        let batch = batches(data.clone(), true).next().unwrap().unwrap();
        assert_eq!(batch.crc(), 0xe99b_8dd8);
        assert_eq!(batch.compute_crc(), 0xe99b_8dd8);
        assert_eq!(batch.batch_length(), 58);
        assert_eq!(batch.partition_leader_epoch(), -1);
        assert_eq!(batch.records_count(), 1);
        assert_eq!(batch.base_timestamp(), 1_700_000_000_000);
        let records = batch.records(1024).unwrap();
        assert_eq!(
            records,
            vec![Record {
                offset: 0,
                timestamp: 1_700_000_000_000,
                key: Some(Bytes::from_static(b"k")),
                value: Some(Bytes::from_static(b"v")),
                headers: vec![],
            }]
        );
    }

    #[test]
    fn golden_v2_batch_is_what_the_builder_writes() {
        let mut b = RecordBatchBuilder::new(128);
        b.append(1_700_000_000_000, Some(b"k"), Some(b"v"), &[]);
        let out = b
            .finish(Compression::None, None, -1, -1, -1, false)
            .unwrap();
        assert_eq!(out[..], hex(ONE_RECORD_V2)[..]);
    }

    #[test]
    fn uncompressed_keys_and_values_are_slices_of_the_input() {
        let mut b = RecordBatchBuilder::new(256);
        b.append(5, Some(b"key-1"), Some(b"value-1"), &[("h", Some(b"hv"))]);
        b.append(6, Some(b"key-2"), Some(b"value-2"), &[]);
        let data = b
            .finish(Compression::None, None, -1, -1, -1, false)
            .unwrap();
        let range = data.as_ptr_range();
        let batch = batches(data.clone(), true).next().unwrap().unwrap();
        for r in batch.records(1 << 16).unwrap() {
            let key = r.key.unwrap();
            let value = r.value.unwrap();
            let at = data.windows(key.len()).position(|w| w == &key[..]).unwrap();
            assert_eq!(key.as_ptr(), data[at..].as_ptr());
            assert!(range.contains(&value.as_ptr()));
            for h in r.headers {
                assert!(range.contains(&h.value.unwrap().as_ptr()));
            }
        }
    }

    #[test]
    fn compressed_records_share_one_decompressed_buffer() {
        let mut b = RecordBatchBuilder::new(256);
        for i in 0..10u8 {
            b.append(0, Some(&[i; 3]), Some(&[i; 30]), &[]);
        }
        let data = b
            .finish(Compression::Gzip, None, -1, -1, -1, false)
            .unwrap();
        let records = batches(data, true)
            .next()
            .unwrap()
            .unwrap()
            .records(1 << 20)
            .unwrap();
        let base = records[0].key.as_ref().unwrap().as_ptr() as usize;
        let last = records[9].value.as_ref().unwrap().as_ptr() as usize;
        // Ten records of 3 + 30 bytes plus framing, all in one allocation.
        assert!(last > base && last - base < 10 * 40);
    }

    #[test]
    fn crc_mismatch_is_an_error_unless_unchecked() {
        let mut data = hex(ONE_RECORD_V2);
        data[69] ^= 0x01; // flip a bit in the last record byte
        let err = batches(data.clone().into(), true)
            .next()
            .unwrap()
            .unwrap_err();
        assert!(matches!(
            err,
            DecodeError::CrcMismatch {
                stored: 0xe99b_8dd8,
                ..
            }
        ));
        assert!(err.to_string().contains("CRC mismatch"), "{err}");
        let batch = batches(data.into(), false).next().unwrap().unwrap();
        assert!(batch.verify_crc().is_err());
        // The flipped byte was the header count: 0x00 -> 0x01, now too few bytes.
        assert!(batch.records(1024).is_err());
    }

    #[test]
    fn partition_leader_epoch_is_outside_the_crc() {
        let mut data = hex(ONE_RECORD_V2);
        data[12..16].copy_from_slice(&7i32.to_be_bytes());
        let batch = batches(data.into(), true).next().unwrap().unwrap();
        assert_eq!(batch.partition_leader_epoch(), 7);
    }

    #[test]
    fn log_append_time_batches_report_the_max_timestamp() {
        let mut b = RecordBatchBuilder::new(128);
        b.append(100, None, Some(b"a"), &[]);
        b.append(150, None, Some(b"b"), &[]);
        let mut data = b
            .finish(Compression::None, None, -1, -1, -1, false)
            .unwrap()
            .to_vec();
        // As a broker with LogAppendTime rewrites it: attribute bit 3, max timestamp.
        data[22] |= 0x08;
        data[35..43].copy_from_slice(&999i64.to_be_bytes());
        let batch = batches(data.into(), false).next().unwrap().unwrap();
        assert_eq!(batch.timestamp_type(), TimestampType::LogAppendTime);
        let ts: Vec<i64> = batch
            .records(1024)
            .unwrap()
            .iter()
            .map(|r| r.timestamp)
            .collect();
        assert_eq!(ts, [999, 999]);
    }

    #[test]
    fn control_batches_decode_their_marker() {
        // A commit marker as a transaction coordinator writes it.
        let mut b = RecordBatchBuilder::new(128);
        b.append(1, Some(&[0, 0, 0, 1]), Some(&[0, 0, 0, 0, 0, 3]), &[]);
        let mut data = b
            .finish(Compression::None, None, 9, 0, -1, true)
            .unwrap()
            .to_vec();
        data[22] |= 0x20; // control flag
        let crc = crc32c::crc32c(&data[21..]);
        data[17..21].copy_from_slice(&crc.to_be_bytes());
        let batch = batches(data.into(), true).next().unwrap().unwrap();
        assert!(batch.is_control() && batch.is_transactional());
        assert_eq!(
            batch.control_record().unwrap(),
            Some(ControlRecord {
                kind: ControlRecordType::Commit,
                version: 0,
                coordinator_epoch: Some(3)
            })
        );
        assert_eq!(
            batch.control_type().unwrap(),
            Some(ControlRecordType::Commit)
        );

        // An ordinary batch has none.
        let plain = batches(hex(ONE_RECORD_V2).into(), true)
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(plain.control_record().unwrap(), None);
    }

    #[test]
    fn record_length_mismatches_are_errors() {
        // Record length says 9 where the fields take 8 (and the batch has one more byte).
        let mut data = hex(ONE_RECORD_V2);
        data[61] = 0x12;
        data.push(0);
        data[8..12].copy_from_slice(&59i32.to_be_bytes());
        let batch = batches(data.into(), false).next().unwrap().unwrap();
        assert!(matches!(
            batch.records(1024),
            Err(DecodeError::Malformed(_))
        ));

        // Trailing bytes after the declared record count.
        let mut data = hex(ONE_RECORD_V2);
        data.push(0);
        data[8..12].copy_from_slice(&59i32.to_be_bytes());
        let batch = batches(data.into(), false).next().unwrap().unwrap();
        assert!(batch.records(1024).is_err());

        // A negative count.
        let mut data = hex(ONE_RECORD_V2);
        data[57..61].copy_from_slice(&(-1i32).to_be_bytes());
        let batch = batches(data.into(), false).next().unwrap().unwrap();
        assert!(batch.records(1024).is_err());

        // A count of 2 with one record present.
        let mut data = hex(ONE_RECORD_V2);
        data[60] = 2;
        let batch = batches(data.into(), false).next().unwrap().unwrap();
        assert!(batch.records(1024).is_err());
    }

    #[test]
    fn unknown_magic_and_codec_are_errors() {
        let mut data = hex(ONE_RECORD_V2);
        data[16] = 3;
        assert!(matches!(
            batches(data.into(), false).next().unwrap(),
            Err(DecodeError::UnsupportedVersion { version: 3, .. })
        ));
        let mut data = hex(ONE_RECORD_V2);
        data[22] = 0x06;
        assert!(batches(data.into(), false).next().unwrap().is_err());
    }

    #[test]
    fn sequences_wrap_like_the_broker() {
        let mut data = hex(ONE_RECORD_V2);
        data[23..27].copy_from_slice(&5i32.to_be_bytes());
        data[53..57].copy_from_slice(&(i32::MAX - 2).to_be_bytes());
        let batch = batches(data.into(), false).next().unwrap().unwrap();
        assert_eq!(batch.last_sequence(), 2);
        assert_eq!(batch.last_offset(), 5);
    }
}
