//! The network engine's failure behaviour: a local TCP server that misbehaves on purpose
//! gives typed errors, never a panic or a hang; clients leave no thread behind; an idle
//! client uses no CPU.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use kafka_sync::admin::{AdminClient, ConfigResource};
use kafka_sync::{Error, Producer};

/// What the fake broker does after reading one request.
#[derive(Clone, Copy, Debug)]
enum Misbehaviour {
    /// Sends the start of a frame, then closes.
    TruncatedFrame,
    /// Announces a 2 GiB frame.
    HugeSizePrefix,
    /// Answers with another correlation id.
    WrongCorrelationId,
    /// Sends random bytes.
    RandomBytes,
    /// Closes in the middle of a response.
    ClosedMidResponse,
    /// Accepts and never answers.
    Silent,
}

/// Serves every connection with `how` until the test ends; returns its address.
fn fake_broker(how: Misbehaviour) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            thread::spawn(move || serve(conn, how));
        }
    });
    addr
}

fn serve(mut conn: TcpStream, how: Misbehaviour) {
    let mut size = [0u8; 4];
    if conn.read_exact(&mut size).is_err() {
        return;
    }
    let mut request = vec![0u8; u32::from_be_bytes(size) as usize];
    if conn.read_exact(&mut request).is_err() {
        return;
    }
    let correlation = &request[4..8];
    let _ = match how {
        Misbehaviour::TruncatedFrame => conn.write_all(&[0, 0, 0, 100, 0, 0]),
        Misbehaviour::HugeSizePrefix => conn.write_all(&[0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 1]),
        Misbehaviour::WrongCorrelationId => {
            let wrong = (i32::from_be_bytes(correlation.try_into().unwrap()) + 1000).to_be_bytes();
            conn.write_all(&[0, 0, 0, 6])
                .and_then(|_| conn.write_all(&wrong))
                .and_then(|_| conn.write_all(&[0, 0]))
        }
        Misbehaviour::RandomBytes => {
            let mut x: u32 = 0x9e37_79b9;
            let bytes: Vec<u8> = (0..4096)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            conn.write_all(&bytes)
        }
        Misbehaviour::ClosedMidResponse => conn
            .write_all(&[0, 0, 0, 40])
            .and_then(|_| conn.write_all(correlation))
            .and_then(|_| conn.write_all(&[0, 0, 0])),
        Misbehaviour::Silent => {
            thread::sleep(Duration::from_secs(30));
            Ok(())
        }
    };
    // Keep the socket open a little so the client sees the bytes before any close.
    thread::sleep(Duration::from_millis(200));
}

#[test]
fn misbehaving_servers_give_typed_errors_not_panics_or_hangs() {
    let cases = [
        Misbehaviour::TruncatedFrame,
        Misbehaviour::HugeSizePrefix,
        Misbehaviour::WrongCorrelationId,
        Misbehaviour::RandomBytes,
        Misbehaviour::ClosedMidResponse,
        Misbehaviour::Silent,
    ];
    let handles: Vec<_> = cases
        .into_iter()
        .map(|how| {
            thread::spawn(move || {
                let addr = fake_broker(how);
                let timeout = Duration::from_secs(3);
                let admin = AdminClient::builder()
                    .bootstrap_servers(&addr)
                    .request_timeout(Duration::from_secs(1))
                    .default_api_timeout(timeout)
                    .build()
                    .unwrap();
                let started = Instant::now();
                let err = admin
                    .list_topics()
                    .expect_err("a broken broker cannot list topics");
                let elapsed = started.elapsed();
                assert!(
                    elapsed < timeout + Duration::from_secs(3),
                    "{how:?}: took {elapsed:?}"
                );
                // The handshake never completes, so the client reports that no broker
                // could be used, or the timeout.
                assert!(
                    matches!(
                        err,
                        Error::NoBrokersAvailable { .. }
                            | Error::Timeout { .. }
                            | Error::Disconnected { .. }
                    ),
                    "{how:?}: {err}"
                );
                (how, err.to_string())
            })
        })
        .collect();
    for h in handles {
        let (how, err) = h.join().expect("no panic");
        eprintln!("{how:?}: {err}");
    }
}

#[test]
fn unreachable_bootstrap_is_no_brokers_available_within_the_timeout() {
    // Nothing listens on port 1.
    let timeout = Duration::from_secs(2);
    let producer = Producer::builder()
        .bootstrap_servers("127.0.0.1:1")
        .max_block(timeout)
        .build()
        .unwrap();
    let started = Instant::now();
    let err = producer
        .send(kafka_sync::ProducerRecord::new("t").value("v"))
        .unwrap_err();
    assert!(started.elapsed() < timeout + Duration::from_secs(2));
    assert!(matches!(err, Error::NoBrokersAvailable { .. }), "{err}");
}

fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
}

#[test]
fn creating_and_dropping_100_clients_leaks_no_thread() {
    // Against an address with nothing behind it: the clients start, try to connect and
    // are dropped.
    let before = thread_count();
    for i in 0..100 {
        let p = Producer::builder()
            .bootstrap_servers("127.0.0.1:1")
            .client_id(format!("leak-{i}"))
            .build()
            .unwrap();
        drop(p);
    }
    // Other tests in this binary run threads of their own; ours must all be gone.
    let deadline = Instant::now() + Duration::from_secs(5);
    while thread_count() > before + 8 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    assert!(
        thread_count() <= before + 8,
        "{} threads before, {} after",
        before,
        thread_count()
    );
    let names: Vec<String> = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
        .filter(|n| n.starts_with("kafka-io-leak"))
        .collect();
    assert!(names.is_empty(), "I/O threads still running: {names:?}");
}

/// CPU seconds (user + system) used so far by the thread with this name.
fn thread_cpu(name_prefix: &str) -> Option<f64> {
    for t in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).ok()?;
        if comm.trim_end().starts_with(name_prefix) {
            let stat = std::fs::read_to_string(t.path().join("stat")).ok()?;
            // Fields after the command name: utime and stime are the 12th and 13th.
            let after = &stat[stat.rfind(')')? + 2..];
            let f: Vec<&str> = after.split_whitespace().collect();
            let ticks: f64 = f[11].parse::<f64>().ok()? + f[12].parse::<f64>().ok()?;
            return Some(ticks / 100.0);
        }
    }
    None
}

#[test]
fn an_idle_client_uses_no_cpu() {
    let bootstrap = std::env::var("KAFKA_BOOTSTRAP_SERVERS")
        .expect("KAFKA_BOOTSTRAP_SERVERS is not set: run the tests with tests/run");
    let producer = Producer::builder()
        .bootstrap_servers(bootstrap)
        .client_id("idle-check")
        .build()
        .unwrap();
    // Connect and learn the cluster, then go idle.
    let _ = producer.partitions_for("idle-check-topic");
    let start = thread_cpu("kafka-io-idle").expect("the I/O thread runs");
    thread::sleep(Duration::from_secs(10));
    let used = thread_cpu("kafka-io-idle").unwrap() - start;
    eprintln!("idle I/O thread CPU over 10 s: {used:.3} s");
    // A busy loop or a short polling timer would burn seconds; allow scheduler noise.
    assert!(used < 0.05, "idle I/O thread used {used} s of CPU in 10 s");
}

/// A broker killed while it is being asked gives a typed error; once it is back, the
/// same client gets answers again without being recreated.
#[test]
fn a_killed_broker_gives_a_typed_error_then_the_client_recovers() {
    let _faults = common::cluster_fault_lock();
    let admin = AdminClient::builder()
        .bootstrap_servers(common::cluster_bootstrap())
        .request_timeout(Duration::from_secs(2))
        .default_api_timeout(Duration::from_secs(4))
        .build()
        .unwrap();
    let node3 = ConfigResource::broker(3);
    let ask = || {
        admin
            .describe_configs(std::slice::from_ref(&node3))
            .and_then(|mut m| m.remove(&node3).expect("an answer for node 3"))
    };
    common::retry(
        "node 3 answering",
        Duration::from_secs(60),
        Duration::from_millis(500),
        || ask().map_err(|e| e.to_string()),
    );
    common::broker_ctl(&["kill", "3"]);
    let err = ask().expect_err("node 3 is down");
    assert!(
        matches!(
            err,
            Error::Timeout { .. } | Error::Disconnected { .. } | Error::NoBrokersAvailable { .. }
        ),
        "{err}"
    );
    common::broker_ctl(&["restart", "3"]);
    let recovered = common::retry(
        "node 3 answering again",
        Duration::from_secs(60),
        Duration::from_millis(500),
        || ask().map_err(|e| e.to_string()),
    );
    assert!(!recovered.is_empty());
}
