//! Every record gets its outcome, by `delivery_timeout` + 1 s at the latest, and idempotent
//! sequences survive lost responses and broker refusals. A scripted fake broker plays the
//! faults a real one will not produce (an InitProducerId that never comes back, a garbage
//! answer, a lost Produce response, a sequence gap); the 3-node cluster plays a partition
//! leader killed with `kill -9` (nothing else may kill or restart cluster nodes meanwhile).

mod common;

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use kafka_sync::protocol::api::api_versions::{ApiVersion, ApiVersionsResponse};
use kafka_sync::protocol::api::init_producer_id::{InitProducerIdRequest, InitProducerIdResponse};
use kafka_sync::protocol::api::metadata::{
    MetadataResponse, MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_sync::protocol::api::produce::{
    PartitionProduceResponse, ProduceRequest, ProduceResponse, TopicProduceResponse,
};
use kafka_sync::protocol::api::{self, ApiKey, Message};
use kafka_sync::protocol::codec::Reader;
use kafka_sync::{Acks, Error, ErrorCode, Producer, ProducerRecord};

const TOPIC: &str = "fake-topic";
const PRODUCER_ID: i64 = 1000;

/// What the fake broker does with one InitProducerId or Produce request.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Reply {
    /// A correct answer (Produce: written at the next offset).
    Normal,
    /// No answer, ever (Produce: written all the same, the answer is what got lost).
    Silent,
    /// Produce: no answer and nothing written, as a request lost on the way.
    Drop,
    /// A frame with the right correlation id and a body that does not decode.
    Garbage,
    /// Close the connection without answering (after the request was read, as a broker
    /// that crashed after writing).
    Close,
    /// Produce answered with this error code.
    Error(ErrorCode),
    /// Produce answered with this error code after 200 ms.
    SlowError(ErrorCode),
}

/// What the fake broker received.
#[derive(Debug, Default)]
struct Seen {
    /// (producer id, epoch) of each InitProducerId.
    inits: Vec<(i64, i16)>,
    /// (producer id, epoch, base sequence, records) of each produced batch.
    batches: Vec<(i64, i16, i32, i32)>,
}

/// Replies to take in order; `Normal` once a list runs out.
#[derive(Default)]
struct Script {
    /// The partition has no leader (Metadata says -1).
    no_leader: bool,
    init: VecDeque<Reply>,
    produce: VecDeque<Reply>,
}

/// The partition's log as the fake broker keeps it.
#[derive(Debug, Default)]
struct Log {
    /// The next offset.
    end: i64,
    /// The producer id, epoch and last sequence written.
    producer: Option<(i64, i16, i32)>,
    /// (epoch, first sequence, records) of each batch written, in order.
    appended: Vec<(i16, i32, i32)>,
}

/// A broker's sequence check: the next sequence is written, the first sequence of a
/// written batch is a duplicate, any other is out of order; a new epoch starts at 0; a producer the
/// partition does not know may start anywhere.
fn check_sequence(log: &Log, pid: i64, epoch: i16, seq: i32) -> ErrorCode {
    match log.producer {
        Some((p, e, last)) if p == pid && e == epoch => {
            if seq == last + 1 {
                ErrorCode::NONE
            } else if log.appended.iter().any(|a| (a.0, a.1) == (epoch, seq)) {
                ErrorCode::DUPLICATE_SEQUENCE_NUMBER
            } else {
                ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER
            }
        }
        Some((p, e, _)) if p == pid && epoch < e => ErrorCode::INVALID_PRODUCER_EPOCH,
        Some((p, _, _)) if p == pid && seq != 0 => ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
        _ => ErrorCode::NONE,
    }
}

struct FakeBroker {
    addr: String,
    log: Arc<Mutex<Log>>,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl FakeBroker {
    /// A one-node cluster that leads partition 0 of [`TOPIC`].
    fn start(script: Script) -> FakeBroker {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let broker = FakeBroker {
            addr: format!("127.0.0.1:{port}"),
            log: Arc::default(),
            seen: Arc::default(),
            stop: Arc::default(),
            conns: Arc::default(),
        };
        let (log, seen, stop, conns) = (
            broker.log.clone(),
            broker.seen.clone(),
            broker.stop.clone(),
            broker.conns.clone(),
        );
        let script = Arc::new(Mutex::new(script));
        thread::spawn(move || {
            let offset = log.clone();
            while !stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        conn.set_nonblocking(false).unwrap();
                        conns.lock().unwrap().push(conn.try_clone().unwrap());
                        let (seen, script, offset) = (seen.clone(), script.clone(), offset.clone());
                        thread::spawn(move || serve(conn, port, &seen, &script, &offset));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
            // The listener closes here: connection attempts are refused from now on.
        });
        broker
    }

    /// Stops listening and closes every connection: no broker is reachable.
    fn kill(&self) {
        self.stop.store(true, Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
        thread::sleep(Duration::from_millis(50));
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap()
    }
}

impl Drop for FakeBroker {
    fn drop(&mut self) {
        self.kill();
    }
}

fn serve(
    mut conn: TcpStream,
    port: u16,
    seen: &Mutex<Seen>,
    script: &Mutex<Script>,
    offset: &Mutex<Log>,
) {
    loop {
        let mut size = [0u8; 4];
        if conn.read_exact(&mut size).is_err() {
            return;
        }
        let mut frame = vec![0u8; u32::from_be_bytes(size) as usize];
        if conn.read_exact(&mut frame).is_err() {
            return;
        }
        let mut r = Reader::new(Bytes::from(frame));
        let key = ApiKey(r.i16().unwrap());
        let version = r.i16().unwrap();
        let correlation = r.i32().unwrap();
        r.nullable_string(false).unwrap();
        if api::request_header_version(key, version) >= 2 {
            r.tagged_fields(|_, _| Ok(())).unwrap();
        }
        let mut body = Vec::new();
        let reply = match key {
            ApiKey::API_VERSIONS => {
                let range = |k: ApiKey, min, max| ApiVersion {
                    api_key: k.0,
                    min_version: min,
                    max_version: max,
                };
                ApiVersionsResponse {
                    api_keys: vec![
                        range(ApiKey::PRODUCE, 3, 11),
                        range(ApiKey::METADATA, 1, 12),
                        range(ApiKey::API_VERSIONS, 0, 3),
                        range(ApiKey::INIT_PRODUCER_ID, 0, 4),
                    ],
                    ..Default::default()
                }
                .encode(&mut body, version)
                .unwrap();
                Reply::Normal
            }
            ApiKey::METADATA => {
                let leader = if script.lock().unwrap().no_leader {
                    -1
                } else {
                    0
                };
                metadata(port, leader).encode(&mut body, version).unwrap();
                Reply::Normal
            }
            ApiKey::INIT_PRODUCER_ID => {
                let req = InitProducerIdRequest::decode(&mut r, version).unwrap();
                seen.lock()
                    .unwrap()
                    .inits
                    .push((req.producer_id, req.producer_epoch));
                let reply = script.lock().unwrap().init.pop_front();
                // KIP-360: the current id and epoch get the next epoch.
                let epoch = if req.producer_id == PRODUCER_ID {
                    req.producer_epoch + 1
                } else {
                    0
                };
                InitProducerIdResponse {
                    producer_id: PRODUCER_ID,
                    producer_epoch: epoch,
                    ..Default::default()
                }
                .encode(&mut body, version)
                .unwrap();
                reply.unwrap_or(Reply::Normal)
            }
            ApiKey::PRODUCE => {
                let req = ProduceRequest::decode(&mut r, version).unwrap();
                let batch = req.topic_data[0].partition_data[0].records.clone().unwrap();
                let records = i32::from_be_bytes(batch[57..61].try_into().unwrap());
                seen.lock().unwrap().batches.push((
                    i64::from_be_bytes(batch[43..51].try_into().unwrap()),
                    i16::from_be_bytes(batch[51..53].try_into().unwrap()),
                    i32::from_be_bytes(batch[53..57].try_into().unwrap()),
                    records,
                ));
                let reply = script
                    .lock()
                    .unwrap()
                    .produce
                    .pop_front()
                    .unwrap_or(Reply::Normal);
                let (pid, epoch, seq, _) = *seen.lock().unwrap().batches.last().unwrap();
                let (code, base_offset) = match reply {
                    Reply::Drop => (ErrorCode::NONE, -1),
                    Reply::Error(code) => (code, -1),
                    Reply::SlowError(code) => {
                        thread::sleep(Duration::from_millis(200));
                        (code, -1)
                    }
                    _ => {
                        let mut log = offset.lock().unwrap();
                        match check_sequence(&log, pid, epoch, seq) {
                            ErrorCode::NONE => {
                                let base = log.end;
                                log.end += records as i64;
                                log.producer = Some((pid, epoch, seq + records - 1));
                                log.appended.push((epoch, seq, records));
                                (ErrorCode::NONE, base)
                            }
                            refused => (refused, -1),
                        }
                    }
                };
                ProduceResponse {
                    responses: vec![TopicProduceResponse {
                        name: TOPIC.into(),
                        partition_responses: vec![PartitionProduceResponse {
                            index: 0,
                            error_code: code.0,
                            base_offset,
                            log_append_time_ms: -1,
                            ..Default::default()
                        }],
                    }],
                    ..Default::default()
                }
                .encode(&mut body, version)
                .unwrap();
                reply
            }
            other => panic!("the fake broker got an unexpected {other:?}"),
        };
        match reply {
            Reply::Silent | Reply::Drop => continue,
            Reply::Close => return drop(conn.shutdown(Shutdown::Both)),
            Reply::Garbage => body = vec![0xff; 7],
            Reply::Normal | Reply::Error(_) | Reply::SlowError(_) => {}
        }
        let mut out = correlation.to_be_bytes().to_vec();
        if api::response_header_version(key, version) >= 1 {
            out.push(0);
        }
        out.extend_from_slice(&body);
        let mut framed = (out.len() as u32).to_be_bytes().to_vec();
        framed.extend_from_slice(&out);
        if conn.write_all(&framed).is_err() {
            return;
        }
    }
}

fn metadata(port: u16, leader: i32) -> MetadataResponse {
    MetadataResponse {
        brokers: vec![MetadataResponseBroker {
            node_id: 0,
            host: "127.0.0.1".into(),
            port: port as i32,
            rack: None,
        }],
        cluster_id: Some("fake".into()),
        controller_id: 0,
        topics: vec![MetadataResponseTopic {
            name: Some(TOPIC.into()),
            partitions: vec![MetadataResponsePartition {
                partition_index: 0,
                leader_id: leader,
                replica_nodes: vec![0],
                isr_nodes: vec![0],
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// An idempotent producer with short timeouts: delivery_timeout 3 s.
fn producer(bootstrap: &str) -> Producer {
    Producer::builder()
        .bootstrap_servers(bootstrap)
        .acks(Acks::All)
        .enable_idempotence(true)
        .linger(Duration::from_millis(0))
        .request_timeout(Duration::from_secs(2))
        .delivery_timeout(Duration::from_secs(3))
        .retry_backoff(Duration::from_millis(20))
        .build()
        .unwrap()
}

const DELIVERY_TIMEOUT: Duration = Duration::from_secs(3);

/// Sends one record and waits for its outcome, which must come by delivery_timeout + 1 s.
fn outcome(
    p: &Producer,
    value: &str,
) -> (kafka_sync::Result<kafka_sync::RecordMetadata>, Duration) {
    let start = Instant::now();
    let future = p
        .send(
            ProducerRecord::new(TOPIC)
                .partition(0)
                .value(value.to_string()),
        )
        .unwrap();
    let result = future.wait_timeout(DELIVERY_TIMEOUT + Duration::from_secs(10));
    let took = start.elapsed();
    if let Err(Error::Timeout { what, .. }) = &result {
        assert_ne!(what, "record delivery", "no outcome at all after {took:?}");
    }
    assert!(
        took <= DELIVERY_TIMEOUT + Duration::from_secs(1),
        "the outcome took {took:?}: {result:?}"
    );
    (result, took)
}

#[test]
fn no_producer_id_yet_fails_the_record_at_delivery_timeout() {
    let broker = FakeBroker::start(Script {
        init: [Reply::Silent; 64].into(),
        ..Script::default()
    });
    let p = producer(&broker.addr);
    let (result, _) = outcome(&p, "v");
    assert!(matches!(result, Err(Error::Timeout { .. })), "{result:?}");
    assert!(broker.seen().batches.is_empty(), "nothing could be sent");
    assert!(
        matches!(p.flush(), Err(Error::DeliveryFailed { failed: 1, .. })),
        "a checked flush reports the failed record"
    );
    p.flush().expect("the next flush starts counting again");
    assert_eq!(p.metrics().records_failed, 1);
}

#[test]
fn no_broker_reachable_fails_the_record_at_delivery_timeout() {
    let broker = FakeBroker::start(Script::default());
    let p = producer(&broker.addr);
    let (first, _) = outcome(&p, "before");
    assert_eq!(first.unwrap().offset, 0);
    // The leader is known; now it and every other broker are gone.
    broker.kill();
    let (result, _) = outcome(&p, "during");
    assert!(matches!(result, Err(Error::Timeout { .. })), "{result:?}");
}

#[test]
fn a_garbage_init_producer_id_answer_is_retried() {
    let broker = FakeBroker::start(Script {
        init: [Reply::Garbage].into(),
        ..Script::default()
    });
    let p = producer(&broker.addr);
    let (result, _) = outcome(&p, "v");
    assert_eq!(result.unwrap().offset, 0);
    assert_eq!(broker.seen().inits.len(), 2);
    p.flush().unwrap();
}

#[test]
fn a_lost_produce_response_is_resent_with_the_same_sequence() {
    let broker = FakeBroker::start(Script {
        produce: [Reply::Close, Reply::Garbage].into(),
        ..Script::default()
    });
    let p = producer(&broker.addr);
    let (result, _) = outcome(&p, "v");
    result.unwrap();
    assert_eq!(broker.log.lock().unwrap().appended.len(), 1, "written once");
    let seen = broker.seen();
    assert_eq!(seen.batches.len(), 3, "{seen:?}");
    assert!(
        seen.batches.iter().all(|b| *b == (PRODUCER_ID, 0, 0, 1)),
        "every attempt keeps producer id, epoch and sequence: {seen:?}"
    );
}

#[test]
fn duplicate_sequence_number_is_success() {
    let broker = FakeBroker::start(Script {
        produce: [Reply::Error(ErrorCode::DUPLICATE_SEQUENCE_NUMBER)].into(),
        ..Script::default()
    });
    let p = producer(&broker.addr);
    let (result, _) = outcome(&p, "v");
    assert_eq!(result.unwrap().offset, -1);
    p.flush().unwrap();
}

/// OUT_OF_ORDER_SEQUENCE_NUMBER for the next expected batch: the broker misses
/// sequences nothing will fill, so the producer takes the next epoch (InitProducerId
/// with its current id and epoch) and sends the batch again from sequence 0.
#[test]
fn an_unfillable_sequence_gap_bumps_the_epoch_instead_of_failing() {
    let broker = FakeBroker::start(Script {
        produce: [Reply::Error(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)].into(),
        ..Script::default()
    });
    let p = producer(&broker.addr);
    let (result, _) = outcome(&p, "v");
    assert_eq!(result.unwrap().offset, 0);
    let (second, _) = outcome(&p, "w");
    assert_eq!(second.unwrap().offset, 1);
    let seen = broker.seen();
    assert_eq!(seen.inits, [(-1, -1), (PRODUCER_ID, 0)], "{seen:?}");
    assert_eq!(
        seen.batches,
        [
            (PRODUCER_ID, 0, 0, 1),
            (PRODUCER_ID, 1, 0, 1),
            (PRODUCER_ID, 1, 1, 1)
        ]
    );
}

/// UNKNOWN_PRODUCER_ID: the broker lost the producer's state; a new epoch, not a
/// failed record.
#[test]
fn unknown_producer_id_is_retried_under_a_new_epoch() {
    let broker = FakeBroker::start(Script {
        produce: [Reply::Error(ErrorCode::UNKNOWN_PRODUCER_ID)].into(),
        ..Script::default()
    });
    let p = producer(&broker.addr);
    let (result, _) = outcome(&p, "v");
    result.unwrap();
    assert_eq!(broker.seen().batches.last(), Some(&(PRODUCER_ID, 1, 0, 1)));
}

/// A partition whose leader is known but unreachable (killed with `kill -9`; the topic has
/// one replica, so no other broker takes over): its records fail at delivery_timeout.
#[test]
fn a_killed_leader_fails_its_records_at_delivery_timeout() {
    let _fault = cluster_fault_lock();
    let bootstrap = cluster_bootstrap();
    let topic = unique_name("unreachable-leader");
    kafka_python_create_topic(&bootstrap, &topic, 1, 1);
    // A node still settling after an earlier fault test may refuse a connection.
    let leader = retry(
        "describing the topic",
        Duration::from_secs(30),
        Duration::from_secs(1),
        || try_kafka_python_describe_topic(&bootstrap, &topic),
    )[0]
    .leader;
    let p = producer(&bootstrap);
    let send = |v: &str| {
        let start = Instant::now();
        let future = p
            .send(
                ProducerRecord::new(topic.as_str())
                    .partition(0)
                    .value(v.to_string()),
            )
            .unwrap();
        let result = future.wait_timeout(DELIVERY_TIMEOUT + Duration::from_secs(10));
        (result, start.elapsed())
    };
    let (before, _) = send("before");
    assert_eq!(before.unwrap().offset, 0);
    let down = NodeDown::kill(&leader.to_string());
    let (result, took) = send("during");
    down.restart();
    assert!(
        matches!(&result, Err(Error::Timeout { what, .. }) if what != "record delivery"),
        "{result:?} after {took:?}"
    );
    assert!(
        took <= DELIVERY_TIMEOUT + Duration::from_secs(1),
        "took {took:?}"
    );
}

/// Sends 60 records to partition 0, 5 ms apart, with `replies` for the first Produce
/// requests; every record must be written once, in order, with contiguous sequences.
fn sixty_records_in_order(replies: &[Reply]) {
    let broker = FakeBroker::start(Script {
        produce: replies.iter().copied().collect(),
        ..Script::default()
    });
    let p = Producer::builder()
        .bootstrap_servers(&broker.addr)
        .batch_size(200)
        .linger(Duration::from_millis(0))
        .request_timeout(Duration::from_secs(2))
        .delivery_timeout(DELIVERY_TIMEOUT)
        .retry_backoff(Duration::from_millis(20))
        .build()
        .unwrap();
    p.partitions_for(TOPIC).unwrap();
    let futures: Vec<_> = (0..60)
        .map(|i| {
            p.send(
                ProducerRecord::new(TOPIC)
                    .partition(0)
                    .value(format!("record {i:04}")),
            )
            .unwrap()
        })
        .collect();
    let flushed = p.flush();
    let outcomes: Vec<_> = futures
        .into_iter()
        .map(|f| f.wait().map(|m| m.offset))
        .collect();
    assert!(flushed.is_ok(), "{flushed:?}: {outcomes:?}");
    let offsets: Vec<i64> = outcomes.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        offsets,
        (0..60).collect::<Vec<i64>>(),
        "written once, in order"
    );
    let log = broker.log.lock().unwrap();
    let mut next = 0;
    for (epoch, seq, records) in &log.appended {
        assert_eq!((*epoch, *seq), (0, next), "{:?}", log.appended);
        next += records;
    }
    assert_eq!(next, 60);
    let seen = broker.seen();
    assert!(
        seen.batches.len() > log.appended.len(),
        "the refused batch went twice: {seen:?}"
    );
}

/// A batch refused with NOT_LEADER_OR_FOLLOWER while later ones are in flight: those are
/// refused as out of order, and all go again in sequence order.
#[test]
fn a_retried_batch_goes_before_the_later_ones_in_flight() {
    sixty_records_in_order(&[
        Reply::Normal,
        Reply::Error(ErrorCode::NOT_LEADER_OR_FOLLOWER),
    ]);
}

/// The first batch refused (as a new topic's leader does for a moment): a broker takes
/// any sequence from a producer it does not know, so no later batch may overtake it.
#[test]
fn the_refused_first_batch_is_not_overtaken() {
    sixty_records_in_order(&[Reply::SlowError(ErrorCode::NOT_LEADER_OR_FOLLOWER)]);
}

/// `retries(0)`: a refused batch is not sent again, and its error says what the broker
/// answered (nothing was written).
#[test]
fn retries_zero_sends_a_batch_once() {
    let broker = FakeBroker::start(Script {
        produce: [Reply::Error(ErrorCode::NOT_LEADER_OR_FOLLOWER)].into(),
        ..Script::default()
    });
    let p = Producer::builder()
        .bootstrap_servers(&broker.addr)
        .enable_idempotence(false)
        .retries(0)
        .build()
        .unwrap();
    let (result, _) = outcome(&p, "v");
    assert_eq!(
        result.unwrap_err().code(),
        Some(ErrorCode::NOT_LEADER_OR_FOLLOWER)
    );
    assert_eq!(broker.seen().batches.len(), 1);
}

#[test]
fn no_leader_fails_the_record_at_delivery_timeout() {
    let broker = FakeBroker::start(Script {
        no_leader: true,
        ..Script::default()
    });
    let p = producer(&broker.addr);
    let (result, _) = outcome(&p, "v");
    assert!(matches!(result, Err(Error::Timeout { .. })), "{result:?}");
    assert!(broker.seen().batches.is_empty());
}

/// A batch that expires unanswered and unwritten leaves a hole in the sequences: the next
/// batch is refused as out of order until the partition takes a new epoch, instead of
/// failing (and every batch after it) for good.
#[test]
fn an_expired_batch_does_not_poison_the_next_ones() {
    let broker = FakeBroker::start(Script {
        // The lost batch goes twice: at once, and after its first request times out.
        produce: [Reply::Normal, Reply::Drop, Reply::Drop].into(),
        ..Script::default()
    });
    let p = producer(&broker.addr);
    let (first, _) = outcome(&p, "first");
    assert_eq!(first.unwrap().offset, 0);
    let (lost, _) = outcome(&p, "lost");
    let err = lost.unwrap_err();
    assert!(err.to_string().contains("may have written"), "{err}");
    for (i, v) in ["next", "and next"].into_iter().enumerate() {
        let (result, _) = outcome(&p, v);
        assert_eq!(result.unwrap().offset, 1 + i as i64);
    }
    let log = broker.log.lock().unwrap();
    assert_eq!(log.appended, [(0, 0, 1), (1, 0, 1), (1, 1, 1)]);
}
