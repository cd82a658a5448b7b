//! A panic on a client's I/O thread (a bug) must not leave any handle waiting: pending
//! calls, delivery futures and the consumer's polls get a typed error within their own
//! timeout + 1 s, and later calls fail at once. The panic is injected through a hook that
//! exists only with the `fuzzing` feature.

mod common;

use std::time::{Duration, Instant};

use kafka_sync::admin::{AdminClient, CreateTopicsOptions, NewTopic};
use kafka_sync::inject_io_thread_panic;
use kafka_sync::{Consumer, Error, OffsetReset, Producer, ProducerRecord, TopicPartition};

const GRACE: Duration = Duration::from_secs(1);

fn create_topic(admin: &AdminClient, name: &str) {
    let created = admin
        .create_topics(&[NewTopic::new(name, 1, 1)], CreateTopicsOptions::default())
        .unwrap();
    created[name].clone().unwrap();
}

/// The error a handle gets once its I/O thread is gone.
fn is_typed_shutdown(e: &Error) -> bool {
    matches!(e, Error::Internal(_) | Error::Closed)
}

#[test]
fn after_an_io_thread_panic_every_producer_call_fails_within_its_timeout() {
    let admin = AdminClient::builder()
        .bootstrap_servers(common::bootstrap())
        .build()
        .unwrap();
    let topic = common::unique_name("panic-producer");
    create_topic(&admin, &topic);
    let client_id = common::unique_name("panic-producer");
    let delivery_timeout = Duration::from_secs(10);
    let producer = Producer::builder()
        .bootstrap_servers(common::bootstrap())
        .client_id(&client_id)
        .linger(Duration::from_millis(200))
        .request_timeout(Duration::from_secs(5))
        .delivery_timeout(delivery_timeout)
        .build()
        .unwrap();
    producer
        .send(ProducerRecord::new(&topic).value("before"))
        .unwrap()
        .wait()
        .unwrap();
    inject_io_thread_panic(&client_id);
    // Queued behind the linger when the thread dies: its future must still complete.
    let pending = producer.send(ProducerRecord::new(&topic).value("pending"));
    let started = Instant::now();
    let outcome = pending.and_then(|f| f.wait());
    let err = outcome.expect_err("the record cannot be delivered");
    assert!(matches!(err, Error::Internal(_)), "names the cause: {err}");
    assert!(started.elapsed() < delivery_timeout + GRACE);
    let later = Instant::now();
    let err = producer
        .send(ProducerRecord::new(&topic).value("after"))
        .and_then(|f| f.wait())
        .unwrap_err();
    assert!(is_typed_shutdown(&err), "send after: {err}");
    // Nothing is pending any more (every record has its outcome): flush returns at once,
    // reporting the record that failed since the last flush, or the shutdown.
    let flushed = producer.flush_timeout(Duration::from_secs(5));
    let reported = |e: &Error| match e {
        Error::DeliveryFailed {
            failed: 1, first, ..
        } => matches!(**first, Error::Internal(_)),
        e => is_typed_shutdown(e),
    };
    assert!(flushed.as_ref().is_err_and(reported), "{flushed:?}");
    let err = producer
        .partitions_for(&common::unique_name("panic-unknown"))
        .unwrap_err();
    assert!(is_typed_shutdown(&err), "partitions_for after: {err}");
    assert!(
        later.elapsed() < GRACE,
        "calls after the panic fail at once"
    );
}

#[test]
fn after_an_io_thread_panic_the_consumer_poll_fails_within_its_timeout() {
    let admin = AdminClient::builder()
        .bootstrap_servers(common::bootstrap())
        .build()
        .unwrap();
    let topic = common::unique_name("panic-consumer");
    create_topic(&admin, &topic);
    let producer = Producer::builder()
        .bootstrap_servers(common::bootstrap())
        .build()
        .unwrap();
    producer
        .send(ProducerRecord::new(&topic).value("v"))
        .unwrap()
        .wait()
        .unwrap();
    let client_id = common::unique_name("panic-consumer");
    let mut consumer = Consumer::builder()
        .bootstrap_servers(common::bootstrap())
        .client_id(&client_id)
        .auto_offset_reset(OffsetReset::Earliest)
        .build()
        .unwrap();
    let tp = TopicPartition::new(&topic, 0);
    consumer.assign([tp.clone()]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while consumer
        .poll(Duration::from_millis(500))
        .unwrap()
        .is_empty()
    {
        assert!(Instant::now() < deadline, "the record arrives");
    }
    inject_io_thread_panic(&client_id);
    let timeout = Duration::from_secs(3);
    let started = Instant::now();
    let err = loop {
        match consumer.poll(timeout) {
            Err(e) => break e,
            Ok(records) => assert!(records.is_empty()),
        }
        assert!(started.elapsed() < timeout + GRACE, "poll still returns Ok");
    };
    assert!(is_typed_shutdown(&err), "{err}");
    assert!(started.elapsed() < timeout + GRACE);
    let later = Instant::now();
    assert!(
        consumer.seek_to_end(std::slice::from_ref(&tp)).is_err() || consumer.position(&tp).is_err()
    );
    let unknown = common::unique_name("panic-unknown");
    let err = consumer.partitions_for_topic(&unknown).unwrap_err();
    assert!(is_typed_shutdown(&err), "partitions_for_topic after: {err}");
    assert!(
        later.elapsed() < GRACE,
        "calls after the panic fail at once"
    );
}

#[test]
fn after_an_io_thread_panic_admin_calls_fail_within_their_timeout() {
    let client_id = common::unique_name("panic-admin");
    let timeout = Duration::from_secs(3);
    let admin = AdminClient::builder()
        .bootstrap_servers(common::bootstrap())
        .client_id(&client_id)
        .default_api_timeout(timeout)
        .build()
        .unwrap();
    admin.list_topics().unwrap();
    inject_io_thread_panic(&client_id);
    let started = Instant::now();
    let err = admin.list_topics().unwrap_err();
    // `Closed` if the thread died before the call reached it.
    assert!(is_typed_shutdown(&err), "{err}");
    assert!(started.elapsed() < timeout + GRACE);
    let err = admin.describe_cluster().unwrap_err();
    assert!(is_typed_shutdown(&err), "{err}");
}
