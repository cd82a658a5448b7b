//! A consumer against a broker that hands out hostile or broken fetch responses:
//! decompression and header bombs, a partial batch alone, a response that does not
//! decode. Each case runs the consumer in a child process of this test binary, so its
//! peak memory (VmHWM) is the consumer's alone, and asserts a typed error naming the
//! partition and offset within the poll timeout + 1 s, peak memory under a bound,
//! refetches with backoff rather than at once, and no thread left after drop.
//!
//! A real broker will not send these, so the broker here is a fake one that speaks just
//! enough Kafka (ApiVersions, Metadata, ListOffsets, Fetch) for a consumer with an
//! assigned partition.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_sync::protocol::api::fetch::{FetchableTopicResponse, PartitionData};
use kafka_sync::protocol::api::list_offsets::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_sync::protocol::api::metadata::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_sync::protocol::api::{
    api_versions::ApiVersion, request_header_version, response_header_version, ApiKey,
    ApiVersionsResponse, FetchRequest, FetchResponse, ListOffsetsResponse, Message,
    MetadataResponse,
};
use kafka_sync::protocol::codec::Reader;
use kafka_sync::protocol::compression::Compression;
use kafka_sync::protocol::header::{RequestHeader, ResponseHeader};
use kafka_sync::protocol::records::RecordBatchBuilder;
use kafka_sync::{Consumer, Error, TopicPartition};

const TOPIC: &str = "hostile";
/// The fake topic's partitions; the hostile cases use partition 0 alone.
const PARTITIONS: i32 = 2;
/// The child's poll timeout; the error must come within it + 1 s.
const POLL_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the child goes on polling after the first error, to count refetches.
const KEEP_POLLING: Duration = Duration::from_secs(3);
/// Set in the child: the fake broker's address, and which case it serves.
const ADDR_VAR: &str = "HOSTILE_BROKER_ADDR";
const CASE_VAR: &str = "HOSTILE_BROKER_CASE";

/// The record bytes the fake broker sends for a partition and fetch offset.
type RecordsFor = Arc<dyn Fn(i32, i64) -> Bytes + Send + Sync>;

/// What the fake broker answers a Fetch with.
#[derive(Clone)]
enum FetchAnswer {
    /// For each partition asked for, these record bytes.
    Records(RecordsFor),
    /// A response body cut short, which does not decode.
    Undecodable,
    /// A size prefix just under the consumer's largest accepted response (128 MiB by
    /// default), a few bytes, then silence.
    HugeFrame,
}

impl FetchAnswer {
    /// The same bytes for every partition and offset.
    fn always(records: Bytes) -> Self {
        FetchAnswer::Records(Arc::new(move |_, _| records.clone()))
    }
}

/// Serves every connection until the test ends; returns its address and the count of
/// Fetch requests it received.
fn fake_broker(answer: FetchAnswer) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let (answer, counter) = (answer.clone(), counter.clone());
            thread::spawn(move || serve(conn, addr.port(), &answer, &counter));
        }
    });
    (addr.to_string(), fetches)
}

fn serve(mut conn: TcpStream, port: u16, answer: &FetchAnswer, fetches: &AtomicUsize) {
    loop {
        let mut size = [0u8; 4];
        if conn.read_exact(&mut size).is_err() {
            return;
        }
        let mut request = vec![0u8; u32::from_be_bytes(size) as usize];
        if conn.read_exact(&mut request).is_err() || request.len() < 8 {
            return;
        }
        let request = Bytes::from(request);
        let api_key = ApiKey(i16::from_be_bytes([request[0], request[1]]));
        let version = i16::from_be_bytes([request[2], request[3]]);
        let correlation_id = i32::from_be_bytes([request[4], request[5], request[6], request[7]]);
        let mut body = Vec::new();
        match api_key {
            ApiKey::API_VERSIONS => api_versions().encode(&mut body, version).unwrap(),
            ApiKey::METADATA => metadata(port).encode(&mut body, version).unwrap(),
            ApiKey::LIST_OFFSETS => list_offsets().encode(&mut body, version).unwrap(),
            ApiKey::FETCH => {
                fetches.fetch_add(1, Ordering::Relaxed);
                let asked = fetched_partitions(request.clone(), version);
                match answer {
                    FetchAnswer::Records(records_for) => fetch(&asked, records_for.as_ref())
                        .encode(&mut body, version)
                        .unwrap(),
                    FetchAnswer::HugeFrame => {
                        let mut start = ((128 << 20) - 1u32).to_be_bytes().to_vec();
                        start.extend_from_slice(&correlation_id.to_be_bytes());
                        let _ = conn.write_all(&start);
                        thread::sleep(Duration::from_secs(30));
                        return;
                    }
                    FetchAnswer::Undecodable => {
                        fetch(&asked, &|_, _| Bytes::new())
                            .encode(&mut body, version)
                            .unwrap();
                        body.truncate(body.len() / 2);
                    }
                }
            }
            other => panic!("the fake broker does not serve {other}"),
        }
        let mut frame = Vec::new();
        ResponseHeader { correlation_id }
            .encode(&mut frame, response_header_version(api_key, version));
        frame.extend_from_slice(&body);
        let mut out = (frame.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(&frame);
        if conn.write_all(&out).is_err() {
            return;
        }
    }
}

fn api_versions() -> ApiVersionsResponse {
    let api = |key: ApiKey, min, max| ApiVersion {
        api_key: key.0,
        min_version: min,
        max_version: max,
    };
    ApiVersionsResponse {
        api_keys: vec![
            api(ApiKey::PRODUCE, 3, 9),
            api(ApiKey::FETCH, 4, 12),
            api(ApiKey::LIST_OFFSETS, 1, 7),
            api(ApiKey::METADATA, 1, 12),
            api(ApiKey::API_VERSIONS, 0, 3),
        ],
        ..Default::default()
    }
}

fn metadata(port: u16) -> MetadataResponse {
    MetadataResponse {
        brokers: vec![MetadataResponseBroker {
            node_id: 1,
            host: "127.0.0.1".into(),
            port: port.into(),
            rack: None,
        }],
        cluster_id: Some("fake".into()),
        controller_id: 1,
        topics: vec![MetadataResponseTopic {
            name: Some(TOPIC.into()),
            partitions: (0..PARTITIONS)
                .map(|partition_index| MetadataResponsePartition {
                    partition_index,
                    leader_id: 1,
                    leader_epoch: 0,
                    replica_nodes: vec![1],
                    isr_nodes: vec![1],
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn list_offsets() -> ListOffsetsResponse {
    ListOffsetsResponse {
        topics: vec![ListOffsetsTopicResponse {
            name: TOPIC.into(),
            partitions: (0..PARTITIONS)
                .map(|partition_index| ListOffsetsPartitionResponse {
                    partition_index,
                    offset: 0,
                    timestamp: -1,
                    leader_epoch: 0,
                    ..Default::default()
                })
                .collect(),
        }],
        ..Default::default()
    }
}

/// The partitions and fetch offsets a Fetch request asks for.
fn fetched_partitions(request: Bytes, version: i16) -> Vec<(i32, i64)> {
    let mut r = Reader::new(request);
    RequestHeader::decode(&mut r, request_header_version(ApiKey::FETCH, version)).unwrap();
    let req = FetchRequest::decode(&mut r, version).unwrap();
    req.topics
        .iter()
        .flat_map(|t| &t.partitions)
        .map(|p| (p.partition, p.fetch_offset))
        .collect()
}

fn fetch(asked: &[(i32, i64)], records_for: &dyn Fn(i32, i64) -> Bytes) -> FetchResponse {
    let partitions = asked
        .iter()
        .map(|&(partition, offset)| PartitionData {
            partition_index: partition,
            high_watermark: 1 << 40,
            last_stable_offset: 1 << 40,
            records: Some(records_for(partition, offset)),
            ..Default::default()
        })
        .collect();
    FetchResponse {
        responses: vec![FetchableTopicResponse {
            topic: TOPIC.into(),
            partitions,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// One batch of `records` records with null keys and values and `headers` empty
/// headers each, compressed with zstd: a few KiB that decode to far more.
fn bomb(records: usize, headers: usize) -> Bytes {
    let names: Vec<(&str, Option<&[u8]>)> = vec![("", None); headers];
    let mut b = RecordBatchBuilder::new(1 << 20);
    for _ in 0..records {
        b.append(0, None, None, &names);
    }
    let batch = b
        .finish(Compression::Zstd, None, -1, -1, -1, false)
        .unwrap();
    assert!(batch.len() < 4 << 20, "{} bytes", batch.len());
    batch
}

/// What the child reports.
struct Outcome {
    peak_rss_kib: u64,
    error: String,
    /// For the "mixed" case: records read from partition 0.
    records_p0: String,
}

/// Runs the consumer in a child process against a fake broker giving `answer`; returns
/// what the child saw and how many fetches the broker received.
fn run_child(case: &str, answer: FetchAnswer) -> (Outcome, usize) {
    let (addr, fetches) = fake_broker(answer);
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["consume_in_child", "--exact", "--ignored", "--nocapture"])
        .env(ADDR_VAR, &addr)
        .env(CASE_VAR, case)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{case}: child failed\n{stdout}\n{stderr}"
    );
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("{case}: no {name} in\n{stdout}\n{stderr}"))
            .to_string()
    };
    let outcome = Outcome {
        peak_rss_kib: field("peak_rss_kib=").parse().unwrap(),
        error: field("error="),
        records_p0: stdout
            .lines()
            .find_map(|l| l.strip_prefix("records_p0="))
            .unwrap_or_default()
            .to_string(),
    };
    eprintln!(
        "{case}: peak RSS {} MiB, {} fetches, {}",
        outcome.peak_rss_kib / 1024,
        fetches.load(Ordering::Relaxed),
        outcome.error
    );
    (outcome, fetches.load(Ordering::Relaxed))
}

/// Peak RSS allowed for the consumer's process, against a hostile batch: the
/// decompressed data is capped at 64 MiB by default.
const PEAK_RSS_BOUND_KIB: u64 = 160 * 1024;

/// Runs a bomb of `records` records of `headers` headers each: the consumer must
/// refuse it with a typed error and stay under the memory bound.
fn assert_bomb_refused(records: usize, headers: usize) {
    let (outcome, _) = run_child("bomb", FetchAnswer::always(bomb(records, headers)));
    let Outcome {
        error,
        peak_rss_kib,
        ..
    } = outcome;
    assert!(error.contains("DecodedTooLarge"), "{error}");
    assert!(peak_rss_kib < PEAK_RSS_BOUND_KIB, "{peak_rss_kib} KiB");
}

#[test]
fn a_zstd_batch_of_millions_of_tiny_records_is_a_typed_error_not_gigabytes() {
    // 4M records of 7 bytes: 28 MB decompressed, about 440 MB decoded at once.
    assert_bomb_refused(4_000_000, 0);
}

#[test]
fn a_record_with_millions_of_headers_is_a_typed_error_not_gigabytes() {
    // 4M empty headers: 8 MB decompressed, about 230 MB decoded.
    assert_bomb_refused(1, 4_000_000);
}

/// Fetches a well-behaved consumer may send in the child's run with retry backoff
/// (100 ms doubling to 1 s): about 10; without backoff it is thousands.
const MAX_FETCHES: usize = 40;

/// Runs a broker whose fetches never give usable data: the consumer must fail with an
/// error saying `why`, and fetch again only after a backoff.
fn assert_backs_off_then_fails(answer: FetchAnswer, why: &str) {
    let (Outcome { error, .. }, fetches) = run_child("broken", answer);
    assert!(error.contains(why), "{error}");
    assert!(fetches <= MAX_FETCHES, "{fetches} fetches");
}

#[test]
fn a_partial_batch_alone_is_refetched_with_backoff_then_a_typed_error() {
    let whole = bomb(1000, 0);
    let partial = whole.slice(..whole.len() / 2);
    assert_backs_off_then_fails(FetchAnswer::always(partial), "no complete record batch");
}

#[test]
fn an_undecodable_fetch_response_is_refetched_with_backoff_then_a_typed_error() {
    assert_backs_off_then_fails(FetchAnswer::Undecodable, "does not decode");
}

#[test]
fn a_huge_size_prefix_costs_only_the_bytes_that_arrive() {
    let (outcome, fetches) = run_child("stall", FetchAnswer::HugeFrame);
    assert!(fetches >= 1, "the consumer never fetched");
    // Zero-filling the announced 128 MiB up front took about 135 MB.
    assert!(
        outcome.peak_rss_kib < 32 * 1024,
        "{} KiB",
        outcome.peak_rss_kib
    );
}

#[test]
fn a_partial_batch_next_to_complete_batches_is_normal() {
    // Partition 0 always has a whole batch at the offset asked for; partition 1 only
    // ever the first half of one, as when the response's bytes ran out on it.
    let whole = bomb(10, 0);
    let partial = whole.slice(..whole.len() / 2);
    let answer = FetchAnswer::Records(Arc::new(move |partition, offset| {
        if partition != 0 {
            return partial.clone();
        }
        let mut batch = whole.to_vec();
        batch[..8].copy_from_slice(&offset.to_be_bytes()); // outside the CRC
        batch.into()
    }));
    let (outcome, _) = run_child("mixed", answer);
    assert_eq!(outcome.error, "none");
    let read: usize = outcome.records_p0.parse().unwrap();
    assert!(read >= 100, "{read} records from partition 0");
}

fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The consumer side of the cases above, run by them in a child process.
#[test]
#[ignore = "run in a child process by the other tests of this file"]
fn consume_in_child() {
    let addr = std::env::var(ADDR_VAR).expect("run by the other tests of this file");
    let case = std::env::var(CASE_VAR).unwrap();
    let threads_before = thread_count();
    let mut consumer = Consumer::builder()
        .bootstrap_servers(&addr)
        .default_api_timeout(POLL_TIMEOUT)
        .build()
        .unwrap();
    if case == "mixed" {
        read_past_partial_batches(&mut consumer);
    } else if case == "stall" {
        let tp = TopicPartition::new(TOPIC, 0);
        consumer.assign([tp.clone()]).unwrap();
        consumer.seek(&tp, 0).unwrap();
        let until = Instant::now() + KEEP_POLLING;
        while Instant::now() < until {
            let _ = consumer.poll(Duration::from_millis(200));
        }
        println!("error=none");
    } else {
        expect_a_typed_error(&mut consumer, &case);
    }
    println!("peak_rss_kib={}", peak_rss_kib());

    drop(consumer);
    let deadline = Instant::now() + Duration::from_secs(2);
    while thread_count() > threads_before && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        thread_count(),
        threads_before,
        "{case}: a thread outlived the consumer"
    );
}

/// Reads partition 0 until a poll fails, which must happen within the poll timeout
/// + 1 s with an error naming the partition and offset 0; then polls on for a while.
fn expect_a_typed_error(consumer: &mut Consumer, case: &str) {
    let tp = TopicPartition::new(TOPIC, 0);
    consumer.assign([tp.clone()]).unwrap();
    consumer.seek(&tp, 0).unwrap();
    let started = Instant::now();
    let error = loop {
        match consumer.poll(POLL_TIMEOUT) {
            Err(e) => break e,
            Ok(records) => assert!(
                started.elapsed() < POLL_TIMEOUT,
                "{case}: no error in {:?}; got {} partitions of records",
                started.elapsed(),
                records.len()
            ),
        }
    };
    let elapsed = started.elapsed();
    assert!(
        elapsed <= POLL_TIMEOUT + Duration::from_secs(1),
        "{case}: the error took {elapsed:?}"
    );
    let Error::CorruptRecords {
        partition,
        offset,
        error: reason,
        ..
    } = &error
    else {
        panic!("{case}: expected CorruptRecords, got {error:?}");
    };
    assert_eq!((partition, *offset), (&tp, 0), "{error}");
    println!("error={reason:?} / {error}");

    // Go on polling: the broken partition is fetched again only after a backoff.
    let until = Instant::now() + KEEP_POLLING;
    while Instant::now() < until {
        let _ = consumer.poll(Duration::from_millis(200));
    }
}

/// Reads both partitions for a while: every poll must succeed, and partition 0 must
/// deliver records.
fn read_past_partial_batches(consumer: &mut Consumer) {
    let tps: Vec<TopicPartition> = (0..PARTITIONS)
        .map(|p| TopicPartition::new(TOPIC, p))
        .collect();
    consumer.assign(tps.clone()).unwrap();
    for tp in &tps {
        consumer.seek(tp, 0).unwrap();
    }
    let mut read = 0;
    let until = Instant::now() + KEEP_POLLING;
    while Instant::now() < until {
        match consumer.poll(Duration::from_millis(200)) {
            Ok(records) => read += records.get(&tps[0]).map_or(0, Vec::len),
            Err(e) => panic!("mixed: poll failed: {e}"),
        }
    }
    println!("error=none");
    println!("records_p0={read}");
}
