//! `close(timeout)` and `Drop` keep to their time limits when the group coordinator
//! never answers: a "broker" that accepts connections and stays silent (a fault the real
//! broker will not produce on demand).

mod common;

use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use kafka_sync::{Consumer, TopicPartition};

/// Accepts connections and holds them open without a byte in reply.
fn silent_broker() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let held: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
    thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            held.lock().unwrap().push(conn);
        }
    });
    addr
}

/// A group consumer with a position to commit: assigned one partition and seeked, so
/// close has an auto-commit to make, which the silent coordinator never answers.
fn consumer_with_a_position(
    builder: kafka_sync::ConsumerBuilder<bytes::Bytes, bytes::Bytes>,
) -> Consumer {
    let mut c = builder
        .bootstrap_servers(silent_broker())
        .group_id(common::unique_name("silent-g"))
        .build()
        .unwrap();
    let tp = TopicPartition::new("t", 0);
    c.assign([tp.clone()]).unwrap();
    c.seek(&tp, 5).unwrap();
    c
}

#[test]
fn close_keeps_its_timeout_with_a_silent_coordinator() {
    let c =
        consumer_with_a_position(Consumer::builder().default_api_timeout(Duration::from_secs(20)));
    let started = Instant::now();
    c.close(Duration::from_millis(100));
    let took = started.elapsed();
    eprintln!("close(100 ms) took {took:?}");
    assert!(
        took < Duration::from_millis(100) + Duration::from_secs(1),
        "close(100 ms) took {took:?}"
    );
}

#[test]
fn drop_with_default_settings_keeps_its_bound() {
    let c = consumer_with_a_position(Consumer::builder());
    let started = Instant::now();
    drop(c);
    let took = started.elapsed();
    eprintln!("drop took {took:?}");
    // Drop closes with a 10 s limit; default_api_timeout (60 s) must not stretch it.
    assert!(
        took < Duration::from_secs(10) + Duration::from_secs(1),
        "drop took {took:?}"
    );
}
