//! Turns one fetched record set into records for the user, on the user's thread: batch
//! decoding (zero-copy), CRC checks, skipping records before the position, and
//! read_committed filtering of aborted transactions and control batches.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use crate::error::{DecodeError, Error, Result};
use crate::protocol::records::{self, Batches, ControlRecordType, Record, TimestampType};
use crate::TopicPartition;

use super::buffer::{DecodedBytes, DecodedCharge, FetchedData};

/// A record with its batch's attributes, before deserialization.
pub(crate) struct RawRecord {
    pub record: Record,
    pub timestamp_type: TimestampType,
    pub leader_epoch: Option<i32>,
}

pub(crate) struct PartitionReader {
    pub tp: TopicPartition,
    pub topic: Arc<str>,
    pub epoch: u64,
    pub high_watermark: i64,
    batches: Batches,
    pending: VecDeque<Record>,
    pending_type: TimestampType,
    pending_epoch: Option<i32>,
    read_committed: bool,
    /// Aborted transactions not yet reached, by first offset.
    aborted: Vec<(i64, i64)>,
    /// Producers whose current transaction was aborted.
    aborting: HashSet<i64>,
    /// The offset after the last batch seen.
    pub end_offset: i64,
    /// Most memory one batch may take decoded.
    decode_limit: usize,
    /// Where decoded batches are counted against the prefetch bound.
    decoded: Arc<DecodedBytes>,
    /// The decoded size of `pending`'s batch, counted until the next batch or the end.
    charge: Option<DecodedCharge>,
}

impl PartitionReader {
    pub fn new(
        data: FetchedData,
        topic: Arc<str>,
        check_crcs: bool,
        read_committed: bool,
        skip_double_compressed: bool,
    ) -> Self {
        let mut aborted = data.aborted;
        // Sorted descending so the next one to reach is at the end.
        aborted.sort_by_key(|a| std::cmp::Reverse(a.1));
        PartitionReader {
            tp: data.tp,
            topic,
            epoch: data.epoch,
            high_watermark: data.high_watermark,
            batches: records::batches(data.records, check_crcs)
                .skip_double_compressed(skip_double_compressed),
            pending: VecDeque::new(),
            pending_type: TimestampType::CreateTime,
            pending_epoch: None,
            read_committed,
            aborted,
            aborting: HashSet::new(),
            end_offset: data.fetch_offset,
            decode_limit: data.decode_limit,
            decoded: data.decoded,
            charge: None,
        }
    }

    /// The next record at or after `position`, or `None` when the set is used up.
    pub fn next_record(&mut self, position: i64) -> Option<Result<RawRecord>> {
        loop {
            while let Some(record) = self.pending.pop_front() {
                if record.offset >= position {
                    return Some(Ok(RawRecord {
                        record,
                        timestamp_type: self.pending_type,
                        leader_epoch: self.pending_epoch,
                    }));
                }
            }
            let batch = match self.batches.next()? {
                Ok(b) => b,
                Err(e) => return Some(Err(self.corrupt(self.end_offset.max(position), e))),
            };
            self.end_offset = self.end_offset.max(batch.next_offset());
            if batch.next_offset() <= position {
                continue;
            }
            if self.read_committed && batch.is_transactional() {
                // Transactions aborted at or before this batch start aborting.
                while self
                    .aborted
                    .last()
                    .is_some_and(|(_, first)| *first <= batch.last_offset())
                {
                    if let Some((pid, _)) = self.aborted.pop() {
                        self.aborting.insert(pid);
                    }
                }
                if batch.is_control() {
                    if let Ok(Some(ControlRecordType::Abort)) = batch.control_type() {
                        self.aborting.remove(&batch.producer_id());
                    }
                    continue;
                }
                if self.aborting.contains(&batch.producer_id()) {
                    continue;
                }
            } else if batch.is_control() {
                continue;
            }
            self.pending = VecDeque::new();
            self.charge = None;
            match batch.records_with_size(self.decode_limit) {
                Ok((records, size)) => {
                    self.charge = Some(self.decoded.charge(size));
                    self.pending = records.into();
                    self.pending_type = batch.timestamp_type();
                    let e = batch.partition_leader_epoch();
                    self.pending_epoch = (e >= 0).then_some(e);
                }
                Err(e) => return Some(Err(self.corrupt(batch.base_offset(), e))),
            }
        }
    }

    /// The error for data of this partition that cannot be read from `offset` on.
    fn corrupt(&self, offset: i64, error: DecodeError) -> Error {
        Error::CorruptRecords {
            partition: self.tp.clone(),
            offset,
            error,
        }
    }
}
