//! Inspecting transactions and producers: DescribeTransactions (each transactional id's
//! coordinator), ListTransactions (every broker) and DescribeProducers (each partition's
//! leader), as `kafka-transactions.sh describe`, `list` and `describe-producers` do.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::error::Result;
use crate::net::metadata::BrokerMetadata;
use crate::protocol::api::describe_producers::{
    DescribeProducersRequest, DescribeProducersResponse, TopicRequest,
};
use crate::protocol::api::describe_transactions::{
    DescribeTransactionsRequest, DescribeTransactionsResponse, TransactionState,
};
use crate::protocol::api::list_transactions::{ListTransactionsRequest, ListTransactionsResponse};
use crate::TopicPartition;

use super::call::{check, check_code};
use super::coordinator::CoordinatorType;
use super::offsets::{by_topic, per_partition};
use super::AdminClient;

/// A transactional id's state, from [`AdminClient::describe_transactions`].
///
/// # Examples
/// ```no_run
/// # fn main() -> kafka_sync::Result<()> {
/// let admin = kafka_sync::admin::AdminClient::builder().build()?;
/// let t = admin.describe_transactions(&["payments-tx"])?["payments-tx"].clone()?;
/// println!("{} producer {} in {:?}", t.state, t.producer_id, t.partitions);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionDescription {
    /// The transactional id.
    pub transactional_id: String,
    /// `Empty`, `Ongoing`, `PrepareCommit`, `PrepareAbort`, `CompleteCommit`,
    /// `CompleteAbort`, `PrepareEpochFence` or `Dead`.
    pub state: String,
    /// The producer id the transactional id holds.
    pub producer_id: i64,
    /// Its epoch.
    pub producer_epoch: i16,
    /// The producer's `transaction.timeout.ms`.
    pub timeout: Duration,
    /// When the open transaction started (ms since the epoch), if one is open.
    pub start_time_ms: Option<i64>,
    /// The partitions the open transaction wrote to.
    pub partitions: BTreeSet<TopicPartition>,
    /// The broker coordinating the transactional id.
    pub coordinator: BrokerMetadata,
}

impl TransactionDescription {
    fn from_response(t: TransactionState, coordinator: &BrokerMetadata) -> Result<Self> {
        check_code(t.error_code, || {
            format!("describing transactional id {}", t.transactional_id)
        })?;
        Ok(TransactionDescription {
            transactional_id: t.transactional_id,
            state: t.transaction_state,
            producer_id: t.producer_id,
            producer_epoch: t.producer_epoch,
            timeout: Duration::from_millis(u64::try_from(t.transaction_timeout_ms).unwrap_or(0)),
            start_time_ms: (t.transaction_start_time_ms >= 0)
                .then_some(t.transaction_start_time_ms),
            partitions: per_partition(
                t.topics.into_iter().map(|d| (d.topic, d.partitions)),
                |p| *p,
                |_, _| (),
            )
            .into_iter()
            .map(|(tp, ())| tp)
            .collect(),
            coordinator: coordinator.clone(),
        })
    }
}

/// One transactional id from [`AdminClient::list_transactions`].
///
/// # Examples
/// ```
/// let t = kafka_sync::admin::TransactionListing { transactional_id: "tx".into(), producer_id: 7, state: "Ongoing".into() };
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TransactionListing {
    /// The transactional id.
    pub transactional_id: String,
    /// The producer id it holds.
    pub producer_id: i64,
    /// Its state (`Ongoing`, `CompleteCommit`, ...).
    pub state: String,
}

/// Filters of [`AdminClient::list_transactions`]; the default lists every transactional
/// id.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// // Transactions open for over five minutes: likely hanging.
/// let hanging = kafka_sync::admin::ListTransactionsOptions {
///     states: vec!["Ongoing".into()],
///     min_duration: Some(Duration::from_secs(300)),
///     ..Default::default()
/// };
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListTransactionsOptions {
    /// Only these states; all if empty.
    pub states: Vec<String>,
    /// Only these producer ids; all if empty.
    pub producer_ids: Vec<i64>,
    /// Only transactions running at least this long (brokers of Kafka 3.8 and later).
    pub min_duration: Option<Duration>,
}

/// A producer that wrote to a partition, from [`AdminClient::describe_producers`].
///
/// # Examples
/// ```
/// let p = kafka_sync::admin::ProducerState {
///     producer_id: 1000, producer_epoch: 0, last_sequence: 9, last_timestamp: 1_700_000_000_000,
///     coordinator_epoch: None, current_transaction_start_offset: None,
/// };
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerState {
    /// The producer id.
    pub producer_id: i64,
    /// Its epoch.
    pub producer_epoch: i32,
    /// The sequence number of its last record in the partition.
    pub last_sequence: i32,
    /// The timestamp of its last write (ms since the epoch).
    pub last_timestamp: i64,
    /// The epoch of the transaction coordinator that last wrote a marker for it.
    pub coordinator_epoch: Option<i32>,
    /// The first offset of its open transaction in the partition, if one is open.
    pub current_transaction_start_offset: Option<i64>,
}

impl AdminClient {
    /// Describes transactional ids, each asked of its transaction coordinator, as the
    /// Java admin's `describeTransactions`. Each id has its own result;
    /// `TRANSACTIONAL_ID_NOT_FOUND` for one the cluster does not know.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// let admin = kafka_sync::admin::AdminClient::builder().build()?;
    /// for (id, t) in admin.describe_transactions(&["payments-tx", "audit-tx"])? {
    ///     match t {
    ///         Ok(t) => println!("{id}: {} since {:?}", t.state, t.start_time_ms),
    ///         Err(e) => println!("{id}: {e}"),
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn describe_transactions(
        &self,
        transactional_ids: &[&str],
    ) -> Result<BTreeMap<String, Result<TransactionDescription>>> {
        let deadline = self.deadline(None);
        let ids = transactional_ids.iter().map(|t| t.to_string());
        self.retry_items(
            "describing transactions",
            deadline,
            ids,
            |pending, deadline| {
                self.per_coordinator_of(
                    CoordinatorType::Transaction,
                    pending,
                    deadline,
                    |target, ids| {
                        let req = DescribeTransactionsRequest {
                            transactional_ids: ids.to_vec(),
                        };
                        self.send(
                            target,
                            req,
                            None,
                            deadline,
                            "a DescribeTransactions response",
                        )
                    },
                    |coordinator, resp: DescribeTransactionsResponse| {
                        resp.transaction_states
                            .into_iter()
                            .map(|t| {
                                let id = t.transactional_id.clone();
                                (id, TransactionDescription::from_response(t, coordinator))
                            })
                            .collect()
                    },
                )
            },
        )
    }

    /// Lists the transactional ids every broker coordinates, sorted by id, as the Java
    /// admin's `listTransactions` and kafka-python's `list_transactions`. Fails if a
    /// broker keeps failing until the timeout (a partial list could hide a hanging
    /// transaction).
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// use kafka_sync::admin::ListTransactionsOptions;
    /// let admin = kafka_sync::admin::AdminClient::builder().build()?;
    /// for t in admin.list_transactions(ListTransactionsOptions::default())? {
    ///     println!("{} ({}): {}", t.transactional_id, t.producer_id, t.state);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn list_transactions(
        &self,
        options: ListTransactionsOptions,
    ) -> Result<Vec<TransactionListing>> {
        let deadline = self.deadline(None);
        let duration_ms = options
            .min_duration
            .map_or(-1, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let results = self.each_broker(
            "listing transactions",
            None,
            deadline,
            |_| ListTransactionsRequest {
                state_filters: options.states.clone(),
                producer_id_filters: options.producer_ids.clone(),
                duration_filter: duration_ms,
                transactional_id_pattern: None,
            },
            |id, resp: ListTransactionsResponse| {
                check_code(resp.error_code, || {
                    format!("listing the transactions of broker {id}")
                })?;
                Ok(resp.transaction_states)
            },
        )?;
        let mut out = BTreeSet::new();
        for (_, listed) in results {
            out.extend(listed?.into_iter().map(|t| TransactionListing {
                transactional_id: t.transactional_id,
                producer_id: t.producer_id,
                state: t.transaction_state,
            }));
        }
        Ok(out.into_iter().collect())
    }

    /// The producers with state in each partition (idempotent and transactional ones
    /// that wrote within `transactional.id.expiration.ms`), asked of each partition's
    /// leader, as the Java admin's `describeProducers` and kafka-python's
    /// `describe_producers`. Each partition has its own result.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// use kafka_sync::TopicPartition;
    /// let admin = kafka_sync::admin::AdminClient::builder().build()?;
    /// let tp = TopicPartition::new("orders", 0);
    /// for p in admin.describe_producers(&[tp.clone()])?[&tp].clone()? {
    ///     println!("producer {} last wrote sequence {}", p.producer_id, p.last_sequence);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn describe_producers(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, Result<Vec<ProducerState>>>> {
        self.leader_call(
            "describing producers",
            partitions.iter().cloned(),
            |target, asked, deadline| {
                let req = DescribeProducersRequest {
                    topics: by_topic(asked)
                        .into_iter()
                        .map(|(t, ps)| TopicRequest {
                            name: t.to_owned(),
                            partition_indexes: ps,
                        })
                        .collect(),
                };
                self.send(target, req, None, deadline, "a DescribeProducers response")
            },
            parse_producers,
        )
    }
}

fn parse_producers(
    resp: DescribeProducersResponse,
) -> Vec<(TopicPartition, Result<Vec<ProducerState>>)> {
    per_partition(
        resp.topics.into_iter().map(|t| (t.name, t.partitions)),
        |p| p.partition_index,
        |_, p| {
            check(p.error_code, p.error_message.as_deref()).map(|()| {
                p.active_producers
                    .into_iter()
                    .map(|s| ProducerState {
                        producer_id: s.producer_id,
                        producer_epoch: s.producer_epoch,
                        last_sequence: s.last_sequence,
                        last_timestamp: s.last_timestamp,
                        coordinator_epoch: (s.coordinator_epoch >= 0)
                            .then_some(s.coordinator_epoch),
                        current_transaction_start_offset: (s.current_txn_start_offset >= 0)
                            .then_some(s.current_txn_start_offset),
                    })
                    .collect()
            })
        },
    )
}
