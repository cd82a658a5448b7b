//! What a decoded batch costs in memory, and the cap on it.
//!
//! A few compressed bytes can hold millions of tiny records, and each record or header
//! costs far more decoded than on the wire (a 7-byte record becomes a
//! [`Record`] of about 100 bytes, a 2-byte header a [`RecordHeader`] of about 60). So
//! the cap given to [`RecordBatch::records`](super::RecordBatch::records) counts the
//! decompressed buffer plus every record's and header's in-memory size, and a batch
//! over it is a [`DecodeError::DecodedTooLarge`] before the memory is taken.

use super::{Record, RecordHeader};
use crate::protocol::codec::DecodeError;

/// The in-memory size of one decoded record, headers aside.
pub(super) const RECORD_COST: usize = std::mem::size_of::<Record>();
/// The in-memory size of one decoded header, its key's bytes aside.
pub(super) const HEADER_COST: usize = std::mem::size_of::<RecordHeader>();

/// Bytes a batch's decoding may still take.
#[derive(Debug, Clone, Copy)]
pub(super) struct Budget {
    left: usize,
    limit: usize,
}

impl Budget {
    /// A budget of `limit` bytes, of which `buffer` (the decompressed records, if the
    /// batch was compressed) are already used.
    pub(super) fn new(limit: usize, buffer: usize) -> Result<Self, DecodeError> {
        let budget = Budget { left: limit, limit };
        budget.after(buffer)
    }

    /// Bytes taken so far.
    pub(super) fn used(&self) -> usize {
        self.limit - self.left
    }

    /// How many records fit, each at [`RECORD_COST`].
    #[inline]
    pub(super) fn records_that_fit(&self) -> usize {
        self.left / RECORD_COST
    }

    /// Takes `bytes`, or fails when fewer are left.
    #[inline]
    pub(super) fn take(&mut self, bytes: usize) -> bool {
        match self.left.checked_sub(bytes) {
            Some(left) => {
                self.left = left;
                true
            }
            None => false,
        }
    }

    fn after(mut self, bytes: usize) -> Result<Self, DecodeError> {
        if self.take(bytes) {
            Ok(self)
        } else {
            Err(self.exceeded())
        }
    }

    /// The error for a batch over the cap.
    #[cold]
    pub(super) fn exceeded(&self) -> DecodeError {
        DecodeError::DecodedTooLarge { limit: self.limit }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::super::{batches, RecordBatch, RecordBatchBuilder, RECORD_BATCH_OVERHEAD};
    use super::*;
    use crate::protocol::compression::{decompress, Compression};

    fn batch_of(records: usize, headers: usize, codec: Compression) -> RecordBatch {
        let names: Vec<(&str, Option<&[u8]>)> = vec![("", None); headers];
        let mut b = RecordBatchBuilder::new(1 << 20);
        for _ in 0..records {
            b.append(0, None, None, &names);
        }
        let data: Bytes = b.finish(codec, None, -1, -1, -1, false).unwrap();
        batches(data, true).next().unwrap().unwrap()
    }

    fn decoded_via_iter(batch: &RecordBatch, limit: usize) -> Result<usize, DecodeError> {
        let mut n = 0;
        for r in batch.record_iter(limit)? {
            r?;
            n += 1;
        }
        Ok(n)
    }

    #[test]
    fn many_tiny_records_count_their_decoded_size() {
        let n = 10_000;
        for codec in [Compression::None, Compression::Gzip] {
            let batch = batch_of(n, 0, codec);
            let plain = match codec {
                Compression::None => 0,
                _ => decompress(codec, &batch.as_bytes()[RECORD_BATCH_OVERHEAD..], 1 << 30)
                    .unwrap()
                    .len(),
            };
            let need = n * RECORD_COST + plain;
            let limit = need - RECORD_COST;
            let over = Err(DecodeError::DecodedTooLarge { limit });
            assert_eq!(batch.records(limit).map(|r| r.len()), over, "{codec}");
            assert_eq!(decoded_via_iter(&batch, limit), over, "{codec}");
            assert_eq!(batch.records(need + 100).map(|r| r.len()), Ok(n), "{codec}");
            assert_eq!(decoded_via_iter(&batch, need + 100), Ok(n), "{codec}");
        }
    }

    #[test]
    fn headers_count_their_decoded_size() {
        let headers = 50_000;
        let batch = batch_of(1, headers, Compression::Zstd);
        let limit = headers * HEADER_COST;
        let over = Err(DecodeError::DecodedTooLarge { limit });
        assert_eq!(batch.records(limit).map(|r| r.len()), over);
        assert_eq!(decoded_via_iter(&batch, limit), over);
        let fits = 2 * headers * HEADER_COST;
        let records = batch.records(fits).unwrap();
        assert_eq!(records[0].headers.len(), headers);
    }

    #[test]
    fn the_decompressed_buffer_counts_too() {
        let batch = batch_of(1000, 0, Compression::Gzip);
        // 1000 records of 7 bytes decompress to 7000 bytes: the budget is gone before
        // the first record.
        assert!(matches!(
            batch.records(7000),
            Err(DecodeError::DecompressedTooLarge { .. } | DecodeError::DecodedTooLarge { .. })
        ));
    }
}
