//! Clients and checks shared by the fault cases: every client has short timeouts
//! (request 1 s, calls and deliveries 2 s) and short backoffs, so a case shows a typed
//! error, or recovery, within seconds.

use std::thread;
use std::time::{Duration, Instant};

use kafka_sync::admin::{AdminClient, CreateTopicsOptions, NewTopic};
use kafka_sync::{
    Consumer, DeliveryFuture, Error, OffsetReset, Producer, ProducerRecord, RecordMetadata,
};

use super::fault_checks::GRACE;

/// Every request's own limit.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(1);
/// Admin calls, consumer lookups and `max_block`.
pub const API_TIMEOUT: Duration = Duration::from_secs(2);
/// The producer's `delivery_timeout`.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(2);

// ------------------------------------------------------------------ clients

pub fn admin(bootstrap: &str, id: &str) -> AdminClient {
    AdminClient::builder()
        .bootstrap_servers(bootstrap)
        .client_id(id)
        .request_timeout(REQUEST_TIMEOUT)
        .default_api_timeout(API_TIMEOUT)
        .retry_backoff(Duration::from_millis(50))
        .reconnect_backoff(Duration::from_millis(50))
        .reconnect_backoff_max(Duration::from_millis(500))
        .build()
        .unwrap()
}

pub fn producer(bootstrap: &str, id: &str) -> Producer {
    Producer::builder()
        .bootstrap_servers(bootstrap)
        .client_id(id)
        .request_timeout(REQUEST_TIMEOUT)
        .delivery_timeout(DELIVERY_TIMEOUT)
        .max_block(API_TIMEOUT)
        .linger(Duration::ZERO)
        .retry_backoff(Duration::from_millis(50))
        .reconnect_backoff(Duration::from_millis(50))
        .reconnect_backoff_max(Duration::from_millis(500))
        .build()
        .unwrap()
}

pub fn consumer(bootstrap: &str, id: &str, group: Option<&str>) -> Consumer {
    let mut b = Consumer::builder()
        .bootstrap_servers(bootstrap)
        .client_id(id)
        .request_timeout(REQUEST_TIMEOUT)
        .default_api_timeout(API_TIMEOUT)
        .auto_offset_reset(OffsetReset::Earliest)
        .retry_backoff(Duration::from_millis(100))
        .reconnect_backoff(Duration::from_millis(50))
        .reconnect_backoff_max(Duration::from_millis(500))
        .fetch_max_wait(Duration::from_millis(100));
    if let Some(g) = group {
        b = b.group_id(g).session_timeout(Duration::from_secs(6));
    }
    b.build().unwrap()
}

/// A fresh topic on the single broker (created directly, not through a proxy), holding
/// `records` records with values `real-0`, `real-1`, ...
pub fn topic_with(partitions: i32, records: usize) -> String {
    let name = super::unique_name("faults");
    let direct = admin(&super::bootstrap(), "setup");
    let created = direct
        .create_topics(
            &[NewTopic::new(&name, partitions, 1)],
            CreateTopicsOptions {
                timeout: Some(Duration::from_secs(30)),
                ..Default::default()
            },
        )
        .unwrap();
    created[&name].clone().unwrap();
    if records > 0 {
        let p = producer(&super::bootstrap(), "setup");
        for i in 0..records {
            let value = format!("real-{i}");
            let rec = ProducerRecord::new(&name)
                .partition(0)
                .value(value.as_bytes());
            p.send(rec).unwrap().wait().unwrap();
        }
    }
    name
}

// ------------------------------------------------------------------ outcomes

/// The outcome of a delivery future, which must come within `limit`.
pub fn outcome_within(
    what: &str,
    fut: &DeliveryFuture,
    limit: Duration,
) -> kafka_sync::Result<RecordMetadata> {
    let started = Instant::now();
    loop {
        if let Some(r) = fut.try_get() {
            return r;
        }
        assert!(
            started.elapsed() < limit,
            "{what}: no delivery outcome within {limit:?}"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// Sends one record and waits for its outcome; both steps together must end within
/// `max_block` + `delivery_timeout` + 1 s.
pub fn send_outcome(p: &Producer, topic: &str, value: &str) -> kafka_sync::Result<RecordMetadata> {
    let started = Instant::now();
    let rec = ProducerRecord::new(topic)
        .partition(0)
        .value(value.as_bytes());
    let fut = p.send(rec)?;
    let left = (API_TIMEOUT + DELIVERY_TIMEOUT + GRACE).saturating_sub(started.elapsed());
    outcome_within(value, &fut, left)
}

/// A network-level typed error: the kinds a client reports for a broker it cannot use.
pub fn assert_network_error(what: &str, err: &Error) {
    assert!(
        matches!(
            err,
            Error::Timeout { .. }
                | Error::Disconnected { .. }
                | Error::NoBrokersAvailable { .. }
                | Error::Protocol(_)
                | Error::Io(_)
        ),
        "{what}: not a network error: {err:?}"
    );
    eprintln!("{what}: {err}");
}

/// The values of records polled within `limit`, until `want` came.
pub fn poll_values(
    c: &mut Consumer,
    want: usize,
    limit: Duration,
) -> kafka_sync::Result<Vec<String>> {
    let started = Instant::now();
    let mut values = Vec::new();
    while values.len() < want && started.elapsed() < limit {
        for (_, records) in c.poll(Duration::from_millis(100))? {
            for r in records {
                let v = r.value.as_deref().unwrap_or_default();
                values.push(String::from_utf8_lossy(v).into_owned());
            }
        }
    }
    Ok(values)
}

/// The first error `poll` returns, which must come within `limit`; no records may come.
pub fn poll_error(c: &mut Consumer, limit: Duration) -> Error {
    let started = Instant::now();
    loop {
        match c.poll(Duration::from_millis(200)) {
            Ok(batch) => assert!(batch.is_empty(), "records from a broken broker"),
            Err(e) => return e,
        }
        assert!(
            started.elapsed() < limit,
            "no error from poll within {limit:?}"
        );
    }
}
