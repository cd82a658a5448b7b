//! The transactional producer's calls: `init_transactions`, `begin_transaction`,
//! `send_offsets_to_transaction`, `commit_transaction` and `abort_transaction`, with the
//! Java client's names and error split.

use std::collections::BTreeMap;
use std::sync::mpsc::{sync_channel, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use crate::consumer::{ConsumerGroupMetadata, OffsetAndMetadata};
use crate::error::{Error, Result};
use crate::TopicPartition;

use super::handle::Producer;
use super::sender::ProducerCommand;
use super::transaction::{TxnCommand, TxnShared, TxnState};

/// # Transactions
///
/// With a `transactional_id`, the producer writes records (and consumer offsets) in
/// transactions that commit or abort as a whole; `read_committed` consumers see only
/// committed ones. Errors split as in the Java client:
/// - [`Error::is_fatal`] ([`Error::ProducerFenced`], [`Error::TransactionalIdAuthorization`],
///   [`Error::TransactionFatal`]): a newer producer with the same id took over, the
///   principal may not use the transactional id, or the producer is not allowed to go on.
///   Close the producer.
/// - [`Error::is_abortable`] ([`Error::TransactionAbortable`]): a record of the
///   transaction failed, the coordinator aborted it after `transaction_timeout`, the
///   group refused its offsets. Call `abort_transaction`, then go on with a new one.
/// - `Timeout`: the call may be repeated; it waits for the same operation.
/// - `IllegalState`: a call in the wrong state (`send` outside a transaction, say).
///
/// The producer stays `Clone + Send + Sync`; every call is bounded by its timeout.
///
/// # Examples
/// ```no_run
/// use std::time::Duration;
/// use kafka_sync::{Error, Producer, ProducerRecord};
/// # fn main() -> kafka_sync::Result<()> {
/// let producer = Producer::builder()
///     .bootstrap_servers("127.0.0.1:9092")
///     .transactional_id("orders-copier-1")
///     .build()?;
/// let timeout = Duration::from_secs(30);
/// producer.init_transactions(timeout)?;
/// for batch in [["a", "b"], ["c", "d"]] {
///     producer.begin_transaction()?;
///     let result = batch
///         .iter()
///         .try_for_each(|v| producer.send(ProducerRecord::new("orders").value(*v)).map(drop))
///         .and_then(|()| producer.commit_transaction(timeout));
///     match result {
///         Ok(()) => {}
///         // Abort, then go on with the next transaction.
///         Err(e) if e.is_abortable() => producer.abort_transaction(timeout)?,
///         // Fenced or not allowed: this producer is done.
///         Err(e) if e.is_fatal() => {
///             producer.close(Duration::ZERO);
///             return Err(e);
///         }
///         Err(e) => return Err(e),
///     }
/// }
/// # Ok(()) }
/// ```
impl Producer {
    fn transactions(&self, call: &str) -> Result<&Arc<TxnShared>> {
        self.inner.txn.as_ref().ok_or_else(|| {
            Error::IllegalState(format!(
                "{call} needs a transactional producer; set transactional_id"
            ))
        })
    }

    /// Sends a transaction command and waits for its outcome up to `timeout`. After a
    /// `Timeout` the operation goes on; the same call again waits for it.
    fn run(
        &self,
        cmd: TxnCommand,
        rx: std::sync::mpsc::Receiver<Result<()>>,
        timeout: Duration,
        what: &str,
    ) -> Result<()> {
        self.inner.io.send(ProducerCommand::Txn(cmd))?;
        match rx.recv_timeout(timeout) {
            Ok(r) => r,
            Err(RecvTimeoutError::Timeout) => Err(Error::timeout(what, timeout)),
            Err(RecvTimeoutError::Disconnected) => Err(Error::Closed),
        }
    }

    /// Registers the transactional id with its coordinator and fences any older
    /// producer with the same id; an open transaction of that producer is aborted (or
    /// completed) first. Call once, before the first transaction. Java:
    /// `initTransactions`.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// let producer = kafka_sync::Producer::builder().transactional_id("t1").build()?;
    /// producer.init_transactions(std::time::Duration::from_secs(30))?;
    /// # Ok(()) }
    /// ```
    pub fn init_transactions(&self, timeout: Duration) -> Result<()> {
        let txn = self.transactions("init_transactions")?;
        txn.transition(
            &[TxnState::Uninitialized, TxnState::Initializing],
            TxnState::Initializing,
            "init_transactions",
        )?;
        let (reply, rx) = sync_channel(1);
        self.run(TxnCommand::Init(reply), rx, timeout, "init_transactions")
    }

    /// Starts a transaction: records sent from now on belong to it. Java:
    /// `beginTransaction`.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// # let producer = kafka_sync::Producer::builder().transactional_id("t1").build()?;
    /// producer.begin_transaction()?;
    /// # Ok(()) }
    /// ```
    pub fn begin_transaction(&self) -> Result<()> {
        let txn = self.transactions("begin_transaction")?;
        txn.transition(
            &[TxnState::Ready],
            TxnState::InTransaction,
            "begin_transaction",
        )
        .map(drop)
    }

    /// Adds a consumer's offsets to the transaction: they commit with its records, or
    /// not at all. `group` comes from
    /// [`Consumer::group_metadata`](crate::Consumer::group_metadata); each offset is the
    /// next one to read. Java: `sendOffsetsToTransaction`.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// # let producer = kafka_sync::Producer::builder().transactional_id("t1").build()?;
    /// # let consumer = kafka_sync::Consumer::builder().group_id("g").build()?;
    /// use kafka_sync::{OffsetAndMetadata, TopicPartition};
    /// let mut offsets = std::collections::BTreeMap::new();
    /// offsets.insert(
    ///     TopicPartition::new("input", 0),
    ///     OffsetAndMetadata { offset: 42, metadata: String::new(), leader_epoch: None },
    /// );
    /// producer.send_offsets_to_transaction(
    ///     offsets,
    ///     &consumer.group_metadata()?,
    ///     std::time::Duration::from_secs(30),
    /// )?;
    /// # Ok(()) }
    /// ```
    pub fn send_offsets_to_transaction(
        &self,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
        group: &ConsumerGroupMetadata,
        timeout: Duration,
    ) -> Result<()> {
        let txn = self.transactions("send_offsets_to_transaction")?;
        let state = txn.state();
        if state != TxnState::InTransaction {
            return Err(txn.refusal(state, "send_offsets_to_transaction"));
        }
        if offsets.is_empty() {
            return Ok(());
        }
        let (reply, rx) = sync_channel(1);
        let cmd = TxnCommand::SendOffsets {
            group: group.clone(),
            offsets,
            reply,
        };
        self.run(cmd, rx, timeout, "send_offsets_to_transaction")
    }

    /// Sends every record of the transaction, then commits it. A record that failed
    /// makes this an abortable error. After a `Timeout` the commit goes on: call this
    /// again to wait for it (it then returns its outcome). Java: `commitTransaction`.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// # let producer = kafka_sync::Producer::builder().transactional_id("t1").build()?;
    /// producer.commit_transaction(std::time::Duration::from_secs(30))?;
    /// # Ok(()) }
    /// ```
    pub fn commit_transaction(&self, timeout: Duration) -> Result<()> {
        let txn = self.transactions("commit_transaction")?;
        if txn.timed_out_end_succeeded(true) {
            return Ok(());
        }
        txn.transition(
            &[TxnState::InTransaction, TxnState::Committing],
            TxnState::Committing,
            "commit_transaction",
        )?;
        self.inner.io.wake();
        let (reply, rx) = sync_channel(1);
        let cmd = TxnCommand::End {
            commit: true,
            reply,
        };
        let result = self.run(cmd, rx, timeout, "commit_transaction");
        if matches!(result, Err(Error::Timeout { .. })) {
            txn.end_timed_out(true);
        }
        result
    }

    /// Aborts the transaction: records not sent yet fail, records written are never
    /// seen by `read_committed` consumers, offsets are not committed. Java:
    /// `abortTransaction`.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// # let producer = kafka_sync::Producer::builder().transactional_id("t1").build()?;
    /// producer.abort_transaction(std::time::Duration::from_secs(30))?;
    /// # Ok(()) }
    /// ```
    pub fn abort_transaction(&self, timeout: Duration) -> Result<()> {
        let txn = self.transactions("abort_transaction")?;
        if txn.timed_out_end_succeeded(false) {
            return Ok(());
        }
        txn.transition(
            &[
                TxnState::InTransaction,
                TxnState::AbortableError,
                TxnState::Aborting,
            ],
            TxnState::Aborting,
            "abort_transaction",
        )?;
        self.inner.io.wake();
        let (reply, rx) = sync_channel(1);
        let cmd = TxnCommand::End {
            commit: false,
            reply,
        };
        let result = self.run(cmd, rx, timeout, "abort_transaction");
        if matches!(result, Err(Error::Timeout { .. })) {
            txn.end_timed_out(false);
        }
        result
    }
}
