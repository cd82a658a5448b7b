//! The fault-injection suite: the network faults and the misbehaving brokers of issue 11,
//! each played by the fault proxy (`tests/common/fault_proxy.rs`) between a client and
//! the real broker.
//!
//! Every case asserts what the issue asks of it:
//! - a typed error (or the right result) within the configured timeout + 1 s;
//! - recovery of the same client within 2 s once the fault ends;
//! - no `kafka-io-*` thread left after the client is dropped;
//! - where memory is at stake, peak RSS under a stated bound, measured in a child process
//!   (see `fault_checks.rs`).
//!
//! Timeouts are short (request 1 s, calls and deliveries 2 s) so the file runs in a few
//! minutes at most.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::fake_broker::{Misbehave, Script};
use common::fault_checks::{
    assert_no_io_thread, child_end_fault, child_of_case, recovers, report_peak_rss, run_child,
    within, GRACE,
};
use common::fault_clients::{
    admin, assert_network_error, consumer, outcome_within, poll_error, poll_values, producer,
    send_outcome, topic_with, API_TIMEOUT, DELIVERY_TIMEOUT, REQUEST_TIMEOUT,
};
use common::fault_proxy::{Fault, FaultProxy};
use common::hostile_records::{colliding_topic_names, decompression_bomb, header_bomb};
use kafka_sync::admin::AdminClient;
use kafka_sync::protocol::api::ApiKey;
use kafka_sync::{Consumer, DeliveryFuture, Error, Producer, ProducerRecord, TopicPartition};

// ------------------------------------------------------------------ the proxy itself

/// Without faults the proxy is transparent, and the client reaches every broker of the
/// cluster through it, not only the bootstrap one: a round trip over every partition.
#[test]
fn through_the_proxy_without_faults_every_broker_is_reached_and_nothing_changes() {
    let bootstrap = common::cluster_bootstrap();
    let topic = common::unique_name("faults-proxy");
    common::kafka_python_create_topic(&bootstrap, &topic, 3, 3);
    let proxy = FaultProxy::start(&bootstrap);
    let admin = admin(&proxy.bootstrap(), "f00-admin");
    let cluster = admin.describe_cluster().unwrap();
    let real_ports = ["19092", "19093", "19094"];
    for b in &cluster.brokers {
        assert!(
            !real_ports.contains(&b.port.to_string().as_str()),
            "{b:?} bypasses the proxy"
        );
    }
    let p = producer(&proxy.bootstrap(), "f00-prod");
    for part in 0..3 {
        let rec = ProducerRecord::new(&topic)
            .partition(part)
            .value(format!("real-{part}"));
        p.send(rec).unwrap().wait().unwrap();
    }
    let mut c = consumer(&proxy.bootstrap(), "f00-cons", None);
    c.assign((0..3).map(|part| TopicPartition::new(&topic, part)))
        .unwrap();
    let mut values = poll_values(&mut c, 3, Duration::from_secs(15)).unwrap();
    values.sort();
    assert_eq!(values, ["real-0", "real-1", "real-2"]);
    let nodes = proxy.nodes();
    for b in &cluster.brokers {
        assert!(
            nodes.contains(&b.id),
            "node {} is not reached through the proxy",
            b.id
        );
    }
    drop((admin, p, c));
    for id in ["f00-admin", "f00-prod", "f00-cons"] {
        assert_no_io_thread(id);
    }
}

// ------------------------------------------------------------------ network faults

/// With `break_it` applied, an admin call fails with a network error within its timeout
/// + 1 s; once `heal` runs, the same client answers within 2 s.
fn admin_case(
    id: &str,
    what: &str,
    break_it: impl FnOnce(&FaultProxy),
    heal: impl FnOnce(&FaultProxy),
) {
    let proxy = FaultProxy::start(&common::bootstrap());
    let admin = admin(&proxy.bootstrap(), id);
    admin.list_topics().expect("topics through the proxy");
    break_it(&proxy);
    let err = within(what, API_TIMEOUT + GRACE, || admin.list_topics())
        .expect_err("no answer through the fault");
    assert_network_error(what, &err);
    heal(&proxy);
    recovers(what, || admin.list_topics());
    drop(admin);
    assert_no_io_thread(id);
}

/// `fault` on every broker, then none.
fn network_fault_case(id: &str, fault: Fault) {
    let what = format!("{fault:?}");
    admin_case(
        id,
        &what,
        |p| p.set_fault_all(fault),
        FaultProxy::clear_faults,
    );
}

#[test]
fn responses_delayed_past_the_timeout_give_a_typed_error_then_recover() {
    network_fault_case("f01-delay", Fault::Delay(Duration::from_secs(5)));
}

#[test]
fn dropped_connections_give_a_typed_error_then_recover() {
    network_fault_case("f02-drop", Fault::Drop);
}

#[test]
fn a_blackholed_broker_gives_a_typed_error_then_recovers() {
    network_fault_case("f03-blackhole", Fault::Blackhole);
}

#[test]
fn reset_connections_give_a_typed_error_then_recover() {
    network_fault_case("f04-reset", Fault::Reset);
}

#[test]
fn a_response_dripping_slower_than_the_timeout_gives_a_typed_error_then_recovers() {
    network_fault_case(
        "f05-drip",
        Fault::SlowDrip {
            bytes: 1,
            every: Duration::from_millis(200),
        },
    );
}

#[test]
fn a_slow_but_steady_drip_still_completes() {
    let topic = topic_with(1, 0);
    let proxy = FaultProxy::start(&common::bootstrap());
    proxy.set_fault_all(Fault::SlowDrip {
        bytes: 32,
        every: Duration::from_millis(10),
    });
    let p = producer(&proxy.bootstrap(), "f06-drip2");
    let parts = within("a slow drip", API_TIMEOUT + GRACE, || {
        p.partitions_for(&topic)
    })
    .expect("a drip within the timeout is an answer");
    assert_eq!(parts, [0]);
    drop(p);
    assert_no_io_thread("f06-drip2");
}

#[test]
fn requests_cut_on_the_way_to_the_broker_give_a_typed_error_then_recover() {
    network_fault_case("f07-cut-up", Fault::CutToBroker);
}

#[test]
fn responses_cut_on_the_way_back_give_a_typed_error_then_recover() {
    network_fault_case("f08-cut-down", Fault::CutToClient);
}

// ------------------------------------------------------------------ scripted broker

/// The broker answers Metadata with `act`, then properly again.
fn scripted_metadata_case(id: &str, act: Misbehave) {
    let what = format!("{act:?}");
    admin_case(
        id,
        &what,
        |p| p.script(ApiKey::METADATA, None, act),
        FaultProxy::clear_scripts,
    );
}

#[test]
fn garbage_instead_of_a_response_gives_a_typed_error_then_recovers() {
    scripted_metadata_case("f09-garbage", Misbehave::Garbage(4096));
}

#[test]
fn a_truncated_response_then_close_gives_a_typed_error_then_recovers() {
    scripted_metadata_case("f10-trunc", Misbehave::TruncateThenClose);
}

#[test]
fn a_silent_broker_gives_a_typed_error_then_recovers() {
    scripted_metadata_case("f11-silent", Misbehave::Silence);
}

#[test]
fn a_reset_instead_of_a_response_gives_a_typed_error_then_recovers() {
    scripted_metadata_case("f12-rst-api", Misbehave::Reset);
}

#[test]
fn a_huge_size_prefix_gives_a_typed_error_then_recovers() {
    scripted_metadata_case("f13-huge", Misbehave::HugeSizePrefix(i32::MAX));
}

#[test]
fn a_response_with_another_correlation_id_gives_a_typed_error_then_recovers() {
    scripted_metadata_case("f14-corr", Misbehave::WrongCorrelationId);
}

#[test]
fn a_response_dripped_byte_by_byte_gives_a_typed_error_then_recovers() {
    scripted_metadata_case(
        "f15-drip-api",
        Misbehave::SlowDrip {
            bytes: 1,
            every: Duration::from_millis(100),
        },
    );
}

#[test]
fn an_undecodable_response_gives_a_typed_error_then_recovers() {
    scripted_metadata_case("f16-badbody", Misbehave::garbage_body(13));
}

// ------------------------------------------------------------------ requests never dropped

/// One bad response to `api` must not lose the request: its owner retries it, and the
/// record is delivered within `delivery_timeout` + 1 s.
fn producer_survives_one_bad_response(id: &str, api: ApiKey, act: Misbehave) {
    let topic = topic_with(1, 0);
    let proxy = FaultProxy::start(&common::bootstrap());
    proxy.script(api, Some(1), act.clone());
    let p = producer(&proxy.bootstrap(), id);
    let meta = send_outcome(&p, &topic, "after-one-bad-response")
        .unwrap_or_else(|e| panic!("{api} {act:?}: the record was not delivered: {e}"));
    assert_eq!(meta.partition, 0);
    assert!(proxy.requests_seen(api) >= 2, "{api} was not retried");
    drop(p);
    assert_no_io_thread(id);
}

#[test]
fn a_produce_response_with_another_correlation_id_is_retried_not_lost() {
    producer_survives_one_bad_response(
        "f17-p-corr",
        ApiKey::PRODUCE,
        Misbehave::WrongCorrelationId,
    );
}

#[test]
fn an_undecodable_produce_response_is_retried_not_lost() {
    producer_survives_one_bad_response("f18-p-body", ApiKey::PRODUCE, Misbehave::garbage_body(9));
}

#[test]
fn an_init_producer_id_response_with_another_correlation_id_is_retried() {
    producer_survives_one_bad_response(
        "f19-pid-corr",
        ApiKey::INIT_PRODUCER_ID,
        Misbehave::WrongCorrelationId,
    );
}

#[test]
fn a_garbage_init_producer_id_response_is_retriable() {
    producer_survives_one_bad_response(
        "f20-pid-body",
        ApiKey::INIT_PRODUCER_ID,
        Misbehave::garbage_body(7),
    );
}

#[test]
fn a_fetch_response_with_another_correlation_id_does_not_stop_fetching() {
    let topic = topic_with(1, 1);
    let proxy = FaultProxy::start(&common::bootstrap());
    proxy.script(ApiKey::FETCH, Some(1), Misbehave::WrongCorrelationId);
    let mut c = consumer(&proxy.bootstrap(), "f21-f-corr", None);
    c.assign([TopicPartition::new(&topic, 0)]).unwrap();
    let values = within("fetching after a bad response", API_TIMEOUT + GRACE, || {
        poll_values(&mut c, 1, API_TIMEOUT)
    })
    .unwrap();
    assert_eq!(values, ["real-0"], "the fetch was never resumed");
    drop(c);
    assert_no_io_thread("f21-f-corr");
}

#[test]
fn a_metadata_refresh_asked_for_during_a_slow_one_is_not_lost() {
    let topics: Vec<String> = (0..3).map(|_| topic_with(1, 0)).collect();
    let proxy = FaultProxy::start(&common::bootstrap());
    // Replies take 1.5 s: well within the request timeout.
    let p = Producer::builder()
        .bootstrap_servers(proxy.bootstrap())
        .client_id("f22-md-slow")
        .request_timeout(Duration::from_secs(5))
        .max_block(Duration::from_secs(8))
        .build()
        .unwrap();
    p.partitions_for(&topics[0]).unwrap();
    proxy.set_fault_all(Fault::Delay(Duration::from_millis(1500)));
    // The second lookup asks for a refresh while the first one's is in flight.
    let p = Arc::new(p);
    let first = {
        let (p, t) = (p.clone(), topics[1].clone());
        thread::spawn(move || p.partitions_for(&t))
    };
    thread::sleep(Duration::from_millis(300));
    let second = within(
        "a lookup under slow metadata",
        Duration::from_secs(9),
        || p.partitions_for(&topics[2]),
    );
    assert_eq!(second.expect("the second lookup's refresh was lost"), [0]);
    assert_eq!(first.join().unwrap().expect("the first lookup"), [0]);
    drop(p);
    assert_no_io_thread("f22-md-slow");
}

// ------------------------------------------------------------------ delivery timeout

/// With `break_it` applied after the producer learnt the cluster, a record's outcome
/// comes within `delivery_timeout` (+ `max_block` + 1 s); once `heal` runs, the same
/// producer delivers within 2 s.
fn delivery_timeout_case(
    id: &str,
    break_it: impl FnOnce(&FaultProxy),
    heal: impl FnOnce(&FaultProxy),
) {
    let topic = topic_with(1, 0);
    let proxy = FaultProxy::start(&common::bootstrap());
    let p = producer(&proxy.bootstrap(), id);
    send_outcome(&p, &topic, "before").expect("delivery through the proxy");
    break_it(&proxy);
    let err = send_outcome(&p, &topic, "during").expect_err("nothing can be delivered");
    assert_network_error(id, &err);
    heal(&proxy);
    recovers(id, || send_outcome(&p, &topic, "after"));
    drop(p);
    assert_no_io_thread(id);
}

#[test]
fn delivery_timeout_holds_when_no_broker_is_reachable() {
    delivery_timeout_case(
        "f23-dt-drop",
        |p| p.set_fault_all(Fault::Drop),
        |p| p.clear_faults(),
    );
}

#[test]
fn delivery_timeout_holds_when_the_known_leader_is_blackholed() {
    delivery_timeout_case(
        "f24-dt-hole",
        |p| p.set_fault_all(Fault::Blackhole),
        |p| p.clear_faults(),
    );
}

/// Metadata shaped by `act` from the start, so the producer never learns a usable
/// leader: the record's outcome comes within `max_block` + `delivery_timeout` + 1 s, and
/// once the metadata is right the same producer delivers within 2 s (not at the 5-minute
/// `metadata_max_age`).
fn unknown_leader_case(id: &str, act: Misbehave) {
    let topic = topic_with(1, 0);
    let proxy = FaultProxy::start(&common::bootstrap());
    proxy.script(ApiKey::METADATA, None, act);
    let p = producer(&proxy.bootstrap(), id);
    let err = send_outcome(&p, &topic, "no-leader").expect_err("no leader, no delivery");
    assert_network_error(id, &err);
    proxy.clear_scripts();
    recovers(id, || send_outcome(&p, &topic, "leader"));
    drop(p);
    assert_no_io_thread(id);
}

#[test]
fn delivery_timeout_holds_when_the_leader_is_not_in_the_broker_list() {
    unknown_leader_case(
        "f25-dt-lead",
        Misbehave::metadata_leader_not_in_broker_list(),
    );
}

#[test]
fn delivery_timeout_holds_when_the_broker_list_is_empty() {
    unknown_leader_case("f26-dt-nobr", Misbehave::metadata_without_brokers());
}

#[test]
fn delivery_timeout_holds_before_a_producer_id() {
    let topic = topic_with(1, 0);
    let proxy = FaultProxy::start(&common::bootstrap());
    proxy.script(ApiKey::INIT_PRODUCER_ID, None, Misbehave::Silence);
    let p = producer(&proxy.bootstrap(), "f27-dt-pid");
    let err = send_outcome(&p, &topic, "no-pid").expect_err("no producer id, no delivery");
    assert_network_error("no producer id", &err);
    proxy.clear_scripts();
    recovers("a producer id at last", || send_outcome(&p, &topic, "pid"));
    drop(p);
    assert_no_io_thread("f27-dt-pid");
}

// ------------------------------------------------------------------ per broker

/// A blackhole on one node of the cluster fails only the partitions it leads, within
/// `delivery_timeout` + 1 s; the others keep being delivered.
#[test]
fn a_blackholed_leader_fails_only_its_own_partitions() {
    let bootstrap = common::cluster_bootstrap();
    let topic = common::unique_name("faults-cluster");
    common::kafka_python_create_topic(&bootstrap, &topic, 3, 3);
    let proxy = FaultProxy::start(&bootstrap);
    let direct = admin(&bootstrap, "setup");
    let desc = direct.describe_topics(&[&topic]).unwrap();
    let leaders: HashMap<i32, i32> = desc[0]
        .partitions
        .iter()
        .map(|p| (p.partition, p.leader.expect("a leader")))
        .collect();
    let p = producer(&proxy.bootstrap(), "f28-cluster");
    for part in 0..3 {
        let rec = ProducerRecord::new(&topic).partition(part).value("warm");
        p.send(rec)
            .unwrap()
            .wait()
            .expect("delivery through the proxy");
    }
    let victim = leaders[&0];
    proxy.set_fault_node(victim, Fault::Blackhole);
    let futs: Vec<(i32, DeliveryFuture)> = (0..3)
        .map(|part| {
            let rec = ProducerRecord::new(&topic).partition(part).value("during");
            (part, p.send(rec).unwrap())
        })
        .collect();
    for (part, fut) in futs {
        let what = format!("partition {part} (led by {})", leaders[&part]);
        let r = outcome_within(&what, &fut, DELIVERY_TIMEOUT + GRACE);
        if leaders[&part] == victim {
            assert_network_error(&format!("partition {part}"), &r.unwrap_err());
        } else {
            r.unwrap_or_else(|e| panic!("partition {part} led by a healthy node: {e}"));
        }
    }
    proxy.clear_faults();
    recovers("the blackholed leader", || {
        send_outcome(&p, &topic, "after")
    });
    drop(p);
    assert_no_io_thread("f28-cluster");
}

// ------------------------------------------------------------------ memory

/// Peak RSS of a consumer fed a hostile batch, with default fetch settings. Without
/// caps, the decompression bomb below costs about 0.6 GB and the header bomb about 1.1 GB.
const BOMB_RSS_MIB: u64 = 192;
/// Peak RSS of a client told a frame of almost 128 MiB is coming: zero-filling it
/// up front costs about 135 MB.
const HUGE_FRAME_RSS_MIB: u64 = 64;
/// The child's address-space limit: an unbounded allocation fails the child, not the
/// machine.
const CHILD_VM_MIB: u64 = 3072;

/// A consumer (in a child process) is fed `records` in place of its partition's data.
/// It gets records or a typed error, within 10 s (decoding millions of records in a
/// debug build takes a few seconds); it reads the real data again within 2 s once the
/// broker behaves; its peak RSS stays under [`BOMB_RSS_MIB`].
fn hostile_fetch_case(test: &str, id: &str, records: impl FnOnce() -> bytes::Bytes) {
    if let Some((bootstrap, topic)) = child_of_case() {
        let tp = TopicPartition::new(&topic, 0);
        let mut c = consumer(&bootstrap, id, None);
        c.assign([tp.clone()]).unwrap();
        let started = Instant::now();
        let limit = Duration::from_secs(10);
        let mut seen = 0usize;
        loop {
            match c.poll(Duration::from_millis(200)) {
                Ok(batch) => seen += batch.values().map(Vec::len).sum::<usize>(),
                Err(e) => {
                    eprintln!("{test}: typed error after {:?}: {e}", started.elapsed());
                    assert!(!matches!(e, Error::Closed), "{e}");
                    break;
                }
            }
            if seen > 0 {
                eprintln!("{test}: {seen} records after {:?}", started.elapsed());
                break;
            }
            assert!(
                started.elapsed() < limit,
                "neither records nor an error in {limit:?}"
            );
        }
        child_end_fault();
        c.seek(&tp, 0).unwrap();
        recovers("the real record", || {
            match poll_values(&mut c, 1, Duration::from_millis(300)) {
                Ok(v) if v.first().map(String::as_str) == Some("real-0") => Ok(()),
                other => Err(format!("{other:?}")),
            }
        });
        drop(c);
        assert_no_io_thread(id);
        report_peak_rss();
        return;
    }
    let topic = topic_with(1, 1);
    let proxy = Arc::new(FaultProxy::start(&common::bootstrap()));
    proxy.script(ApiKey::FETCH, None, Misbehave::fetch_records(records()));
    let healer = proxy.clone();
    let (peak, out) = run_child(
        test,
        &proxy.bootstrap(),
        &topic,
        CHILD_VM_MIB,
        Duration::from_secs(90),
        move || healer.clear_scripts(),
    );
    eprintln!("{out}\n{test}: peak RSS {peak} MiB");
    assert!(
        peak <= BOMB_RSS_MIB,
        "{test}: peak RSS {peak} MiB > {BOMB_RSS_MIB} MiB"
    );
}

#[test]
fn a_decompression_bomb_costs_bounded_memory() {
    hostile_fetch_case(
        "a_decompression_bomb_costs_bounded_memory",
        "f29-bomb",
        || decompression_bomb(5_000_000),
    );
}

#[test]
fn a_record_with_millions_of_headers_costs_bounded_memory() {
    hostile_fetch_case(
        "a_record_with_millions_of_headers_costs_bounded_memory",
        "f30-headers",
        || header_bomb(20_000_000),
    );
}

#[test]
fn a_huge_size_prefix_costs_no_memory_before_the_bytes_arrive() {
    const TEST: &str = "a_huge_size_prefix_costs_no_memory_before_the_bytes_arrive";
    if let Some((bootstrap, _)) = child_of_case() {
        let admin = admin(&bootstrap, "f31-huge-mem");
        let err = within("a frame that never comes", API_TIMEOUT + GRACE, || {
            admin.list_topics()
        })
        .expect_err("no answer");
        assert_network_error(TEST, &err);
        child_end_fault();
        recovers(TEST, || admin.list_topics());
        drop(admin);
        assert_no_io_thread("f31-huge-mem");
        report_peak_rss();
        return;
    }
    let proxy = Arc::new(FaultProxy::start(&common::bootstrap()));
    proxy.script(
        ApiKey::METADATA,
        None,
        Misbehave::HugeSizePrefix((128 << 20) - 1),
    );
    let healer = proxy.clone();
    let (peak, out) = run_child(
        TEST,
        &proxy.bootstrap(),
        "",
        CHILD_VM_MIB,
        Duration::from_secs(60),
        move || healer.clear_scripts(),
    );
    eprintln!("{out}\n{TEST}: peak RSS {peak} MiB");
    assert!(
        peak <= HUGE_FRAME_RSS_MIB,
        "peak RSS {peak} MiB > {HUGE_FRAME_RSS_MIB} MiB"
    );
}

/// A Metadata response naming 50,000 extra topics whose names all collide under the
/// client's old topic-map hash must not keep the I/O thread busy: the lookup it answers
/// completes within `max_block` + 1 s (with colliding names it took minutes). Runs in a
/// child process, which is killed if the I/O thread never comes back.
#[test]
fn topic_names_that_collide_in_a_weak_hash_cost_no_cpu_storm() {
    const TEST: &str = "topic_names_that_collide_in_a_weak_hash_cost_no_cpu_storm";
    if let Some((bootstrap, topic)) = child_of_case() {
        let p = producer(&bootstrap, "f44-collide");
        let parts = within(
            "a lookup among colliding names",
            API_TIMEOUT + GRACE,
            || p.partitions_for(&topic),
        );
        assert_eq!(parts.expect("the lookup completes"), [0]);
        drop(p);
        assert_no_io_thread("f44-collide");
        report_peak_rss();
        return;
    }
    let topic = topic_with(1, 0);
    let names = Arc::new(colliding_topic_names(50_000));
    let proxy = Arc::new(FaultProxy::start(&common::bootstrap()));
    let extra = names.clone();
    proxy.script(
        ApiKey::METADATA,
        None,
        Misbehave::metadata(move |m| {
            let Some(real) = m.topics.first().cloned() else {
                return;
            };
            for name in extra.iter() {
                let mut t = real.clone();
                t.name = Some(name.clone());
                m.topics.push(t);
            }
        }),
    );
    let healer = proxy.clone();
    let (_, out) = run_child(
        TEST,
        &proxy.bootstrap(),
        &topic,
        CHILD_VM_MIB,
        Duration::from_secs(20),
        move || healer.clear_scripts(),
    );
    eprintln!("{out}");
}

// ------------------------------------------------------------------ backoff

/// Connections a client opens in 5 s to a broker that fails every connection the
/// same way. Exponential backoff from 50 ms up to 1 s makes about 8 (50, 100, 200,
/// 400, 800, 1000, 1000 ... ms apart); a flat 50 ms makes about 100.
fn connections_in_5s(id: &str, proxy: &FaultProxy) -> u64 {
    let admin = AdminClient::builder()
        .bootstrap_servers(proxy.bootstrap())
        .client_id(id)
        .request_timeout(REQUEST_TIMEOUT)
        .default_api_timeout(Duration::from_secs(5))
        .reconnect_backoff(Duration::from_millis(50))
        .reconnect_backoff_max(Duration::from_secs(1))
        .build()
        .unwrap();
    let before = proxy.connections_accepted();
    let err = within(
        "a broker failing every connection",
        Duration::from_secs(6),
        || admin.list_topics(),
    )
    .expect_err("no answer");
    assert_network_error(id, &err);
    let n = proxy.connections_accepted() - before;
    eprintln!("{id}: {n} connections in 5 s");
    proxy.clear_faults();
    proxy.clear_scripts();
    recovers(id, || admin.list_topics());
    drop(admin);
    assert_no_io_thread(id);
    n
}

#[test]
fn reconnect_backoff_grows_for_a_broker_that_handshakes_then_fails() {
    let proxy = FaultProxy::start(&common::bootstrap());
    proxy.script(ApiKey::METADATA, None, Misbehave::Reset);
    let n = connections_in_5s("f32-backoff1", &proxy);
    assert!(n <= 14, "{n} connections in 5 s: the backoff does not grow");
}

#[test]
fn reconnect_backoff_grows_for_connections_closed_at_once() {
    let proxy = FaultProxy::start(&common::bootstrap());
    proxy.set_fault_all(Fault::Drop);
    let n = connections_in_5s("f33-backoff2", &proxy);
    assert!(n <= 14, "{n} connections in 5 s: the backoff does not grow");
}

/// Fetch responses shaped by `act` never give records: the consumer retries them with
/// backoff (`retry_backoff` 100 ms, so at most about 30 fetches in 3 s; 16.7k/s was
/// seen), and a poll within 3 s + 1 s gets a typed error naming the topic. Once the
/// broker behaves, the same consumer reads within 2 s.
fn failing_fetch_case(id: &str, act: Misbehave) {
    let topic = topic_with(1, 1);
    let proxy = FaultProxy::start(&common::bootstrap());
    proxy.script(ApiKey::FETCH, None, act);
    let tp = TopicPartition::new(&topic, 0);
    let mut c = consumer(&proxy.bootstrap(), id, None);
    c.assign([tp.clone()]).unwrap();
    let started = Instant::now();
    let first = proxy.requests_seen(ApiKey::FETCH);
    let mut error = None;
    while started.elapsed() < Duration::from_secs(3) {
        match c.poll(Duration::from_millis(100)) {
            Ok(batch) => assert!(batch.is_empty(), "records from a broken fetch"),
            Err(e) => error = error.or(Some((started.elapsed(), e))),
        }
    }
    let fetches = proxy.requests_seen(ApiKey::FETCH) - first;
    eprintln!("{id}: {fetches} fetches in 3 s; first error {error:?}");
    assert!(fetches <= 60, "{fetches} fetches in 3 s: no backoff");
    let (at, err) = error.expect("a persistent fetch failure must reach poll");
    assert!(at <= API_TIMEOUT + GRACE, "the error came after {at:?}");
    assert!(
        err.to_string().contains(&topic),
        "the error names no partition: {err}"
    );
    proxy.clear_scripts();
    c.seek(&tp, 0).unwrap();
    recovers(id, || {
        match poll_values(&mut c, 1, Duration::from_millis(300)) {
            Ok(v) if !v.is_empty() => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
    drop(c);
    assert_no_io_thread(id);
}

#[test]
fn undecodable_fetch_responses_are_retried_with_backoff_and_reach_poll() {
    failing_fetch_case("f34-fetch-bad", Misbehave::garbage_body(11));
}

#[test]
fn fetch_responses_holding_only_a_partial_batch_are_retried_with_backoff() {
    let mut b = kafka_sync::protocol::records::RecordBatchBuilder::new(256);
    b.append(1_700_000_000_000, None, Some(&[7u8; 200]), &[]);
    let whole = b
        .finish(kafka_sync::Compression::None, None, -1, -1, -1, false)
        .unwrap();
    failing_fetch_case(
        "f35-fetch-part",
        Misbehave::fetch_records(whole.slice(..100)),
    );
}

// ------------------------------------------------------------------ handshake

/// The error a client gives for a broker lacking the versions it needs.
fn assert_version_error(what: &str, err: &Error) {
    let text = err.to_string().to_lowercase();
    assert!(
        matches!(err, Error::UnsupportedVersion { .. }) || text.contains("version"),
        "{what}: not a version error: {err:?}"
    );
    eprintln!("{what}: {err}");
}

#[test]
fn api_versions_answered_unsupported_in_the_v0_format_falls_back() {
    let proxy = FaultProxy::start(&common::bootstrap());
    // A broker that knows ApiVersions only up to v2 answers anything newer this way.
    let old_broker = Misbehave::api_versions_unsupported_v0(2);
    proxy.add_script(Script::new(ApiKey::API_VERSIONS, None, old_broker).above_version(2));
    let admin = admin(&proxy.bootstrap(), "f36-av-v0");
    within("a handshake with fallback", API_TIMEOUT + GRACE, || {
        admin.list_topics()
    })
    .expect("the client falls back to an older ApiVersions");
    assert!(proxy.requests_seen(ApiKey::API_VERSIONS) >= 2);
    drop(admin);
    assert_no_io_thread("f36-av-v0");
}

#[test]
fn an_empty_api_versions_list_is_a_typed_error_then_recovers() {
    let proxy = FaultProxy::start(&common::bootstrap());
    proxy.script(
        ApiKey::API_VERSIONS,
        None,
        Misbehave::api_versions_keeping(|_| false),
    );
    let admin = admin(&proxy.bootstrap(), "f37-av-empty");
    let err = within("an empty ApiVersions", API_TIMEOUT + GRACE, || {
        admin.list_topics()
    })
    .expect_err("no usable broker");
    assert_version_error("empty ApiVersions", &err);
    proxy.clear_scripts();
    recovers("empty ApiVersions", || admin.list_topics());
    drop(admin);
    assert_no_io_thread("f37-av-empty");
}

#[test]
fn a_broker_without_fetch_gives_poll_a_typed_error() {
    let topic = topic_with(1, 1);
    let proxy = FaultProxy::start(&common::bootstrap());
    let keep = |k| k != ApiKey::FETCH;
    proxy.script(
        ApiKey::API_VERSIONS,
        None,
        Misbehave::api_versions_keeping(keep),
    );
    let tp = TopicPartition::new(&topic, 0);
    let mut c = consumer(&proxy.bootstrap(), "f38-av-fetch", None);
    c.assign([tp.clone()]).unwrap();
    let err = poll_error(&mut c, API_TIMEOUT + GRACE);
    assert_version_error("no Fetch", &err);
    proxy.clear_scripts();
    recovers("Fetch is back", || {
        match poll_values(&mut c, 1, Duration::from_millis(300)) {
            Ok(v) if !v.is_empty() => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
    drop(c);
    assert_no_io_thread("f38-av-fetch");
}

#[test]
fn a_broker_without_produce_gives_send_a_typed_error() {
    let topic = topic_with(1, 0);
    let proxy = FaultProxy::start(&common::bootstrap());
    let keep = |k| k != ApiKey::PRODUCE;
    proxy.script(
        ApiKey::API_VERSIONS,
        None,
        Misbehave::api_versions_keeping(keep),
    );
    let p = producer(&proxy.bootstrap(), "f39-av-prod");
    let err = send_outcome(&p, &topic, "no-produce").expect_err("no Produce, no delivery");
    assert_version_error("no Produce", &err);
    proxy.clear_scripts();
    proxy.close_all_connections();
    recovers("Produce is back", || send_outcome(&p, &topic, "produce"));
    drop(p);
    assert_no_io_thread("f39-av-prod");
}

// ------------------------------------------------------------------ consumer groups

/// A group member subscribed to a fresh one-record topic through `proxy`, after it
/// read that record.
fn member(proxy: &FaultProxy, id: &str) -> (Consumer, String) {
    let topic = topic_with(1, 1);
    let group = common::unique_name("faults-group");
    let mut c = consumer(&proxy.bootstrap(), id, Some(&group));
    c.subscribe([topic.as_str()]).unwrap();
    let values = poll_values(&mut c, 1, Duration::from_secs(20)).unwrap();
    assert_eq!(values, ["real-0"], "the member never read its partition");
    (c, topic)
}

#[test]
fn consumer_close_keeps_to_its_timeout_when_the_broker_goes_silent() {
    let proxy = FaultProxy::start(&common::bootstrap());
    let (c, _) = member(&proxy, "f40-close");
    proxy.set_fault_all(Fault::Blackhole);
    let timeout = Duration::from_millis(100);
    within("close(100 ms)", timeout + GRACE, || c.close(timeout));
    assert_no_io_thread("f40-close");
}

/// After an outage longer than the session timeout (6 s), the member rejoins and reads
/// new records within 5 s of the broker's return (about 45 s was seen).
#[test]
fn a_consumer_resumes_soon_after_an_outage_longer_than_the_session_timeout() {
    let proxy = FaultProxy::start(&common::bootstrap());
    let (mut c, topic) = member(&proxy, "f41-outage");
    proxy.set_fault_all(Fault::Blackhole);
    let outage = Instant::now();
    while outage.elapsed() < Duration::from_secs(8) {
        let polled = within("poll during the outage", API_TIMEOUT + GRACE, || {
            c.poll(Duration::from_millis(200))
        });
        if let Ok(batch) = polled {
            assert!(batch.is_empty(), "records during a blackhole");
        }
    }
    proxy.clear_faults();
    let back = Instant::now();
    let p = producer(&common::bootstrap(), "f42-outage-p");
    send_outcome(&p, &topic, "after-outage").unwrap();
    let mut values = Vec::new();
    while !values.iter().any(|v| v == "after-outage") {
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "not resumed 5 s after the outage: {values:?}"
        );
        if let Ok(v) = poll_values(&mut c, 1, Duration::from_millis(300)) {
            values.extend(v);
        }
    }
    eprintln!("resumed {:?} after the outage", back.elapsed());
    drop(c);
    assert_no_io_thread("f41-outage");
}
