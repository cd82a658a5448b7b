//! Turns one partition's ShareFetch data into records for the application, on the
//! user's thread: only records inside the acquired ranges are handed out, each with its
//! delivery count; acquired offsets with no record (control batches, compacted offsets)
//! become gaps, and acquired offsets past the data the broker cut off are released.

use crate::error::{Error, Result};
use crate::protocol::records;

use super::acknowledgements::GAP;
use super::fetch::FetchedPartition;
use super::record::{AcknowledgeType, ShareRecord};

/// Most memory one record batch may take decoded.
const DECODE_LIMIT: usize = 64 * 1024 * 1024;

#[derive(Debug, Default)]
pub(super) struct Decoded {
    pub records: Vec<ShareRecord>,
    /// `(first, last, acknowledge type code)` acknowledged without the application.
    pub unhanded: Vec<(i64, i64, i8)>,
}

/// Decodes `fetched`; a batch that does not decode is [`Error::CorruptRecords`].
pub(super) fn decode(fetched: &FetchedPartition, check_crcs: bool) -> Result<Decoded> {
    let mut acquired = fetched.acquired.clone();
    acquired.sort_unstable();
    let topic: std::sync::Arc<str> = fetched.tp.topic.as_str().into();
    let mut out = Decoded::default();
    let mut seen: Vec<i64> = Vec::new();
    // Offsets below this were covered by whole batches of the data.
    let mut data_end = i64::MIN;
    for batch in records::batches(fetched.records.clone(), check_crcs) {
        let batch = batch.map_err(|e| corrupt(fetched, data_end, e))?;
        data_end = data_end.max(batch.next_offset());
        if batch.is_control() {
            continue;
        }
        let (batch_records, _) = batch
            .records_with_size(DECODE_LIMIT)
            .map_err(|e| corrupt(fetched, batch.base_offset(), e))?;
        let timestamp_type = batch.timestamp_type();
        for r in batch_records {
            let i = acquired.partition_point(|a| a.1 < r.offset);
            let Some(&(first, _, delivery_count)) = acquired.get(i) else {
                continue;
            };
            if r.offset < first || seen.last().is_some_and(|s| *s >= r.offset) {
                continue;
            }
            seen.push(r.offset);
            out.records.push(ShareRecord {
                topic: topic.clone(),
                partition: fetched.tp.partition,
                offset: r.offset,
                timestamp: r.timestamp,
                timestamp_type,
                key: r.key,
                value: r.value,
                headers: r.headers,
                delivery_count,
            });
        }
    }
    for &(first, last, _) in &acquired {
        let mut next = first;
        let from = seen.partition_point(|s| *s < first);
        for &offset in seen[from..].iter().take_while(|s| **s <= last) {
            if offset > next {
                out.unhanded.push((next, offset - 1, GAP));
            }
            next = offset + 1;
        }
        if next <= last {
            // Up to the end of the data: no record there. Past it: the broker cut the
            // data short, so the records exist and go back for redelivery.
            let gap_end = last.min(data_end - 1);
            if next <= gap_end {
                out.unhanded.push((next, gap_end, GAP));
                next = gap_end + 1;
            }
            if next <= last {
                out.unhanded
                    .push((next, last, AcknowledgeType::Release.code()));
            }
        }
    }
    Ok(out)
}

fn corrupt(fetched: &FetchedPartition, offset: i64, error: crate::error::DecodeError) -> Error {
    Error::CorruptRecords {
        partition: fetched.tp.clone(),
        offset,
        error,
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use bytes::Bytes;

    use super::*;
    use crate::protocol::codec::Uuid;
    use crate::protocol::compression::Compression;
    use crate::protocol::records::RecordBatchBuilder;
    use crate::TopicPartition;

    fn fetched(records: Bytes, acquired: Vec<(i64, i64, i16)>) -> FetchedPartition {
        FetchedPartition {
            tp: TopicPartition::new("t", 0),
            topic_id: Uuid::ZERO,
            node: 1,
            records,
            acquired,
            lock_deadline: Instant::now() + Duration::from_secs(30),
            lock: Duration::from_secs(30),
        }
    }

    fn batch(base: i64, n: i64) -> Bytes {
        let mut b = RecordBatchBuilder::new(1024);
        for i in 0..n {
            b.append(i, Some(b"k"), Some(b"v"), &[]);
        }
        let bytes = b
            .finish(Compression::None, None, -1, -1, -1, false)
            .unwrap();
        // The base offset lies outside the CRC: set it as the broker would.
        let mut bytes = bytes.to_vec();
        bytes[..8].copy_from_slice(&base.to_be_bytes());
        bytes.into()
    }

    #[test]
    fn only_acquired_records_are_handed_out() {
        let data = batch(10, 6); // offsets 10..=15
        let out = decode(&fetched(data, vec![(11, 12, 1), (14, 17, 3)]), true).unwrap();
        let offsets: Vec<_> = out
            .records
            .iter()
            .map(|r| (r.offset, r.delivery_count))
            .collect();
        assert_eq!(offsets, [(11, 1), (12, 1), (14, 3), (15, 3)]);
        // 16 and 17 lie past the data: released, not gapped.
        assert_eq!(out.unhanded, [(16, 17, 2)]);
    }
}
