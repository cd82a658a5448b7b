//! `Duration::MAX` (and other huge durations) mean "as long as it takes": every duration
//! setter accepts one without a panic (or `build()` rejects it with a config error), the
//! I/O thread never overflows a deadline computed from it, and every timed call given one
//! returns as soon as its work is done.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_sync::admin::{AdminClient, AdminClientBuilder, CreateTopicsOptions, NewTopic};
use kafka_sync::{
    Consumer, ConsumerBuilder, Error, OffsetReset, Producer, ProducerBuilder, ProducerRecord,
    TopicPartition,
};

const MAX: Duration = Duration::MAX;
/// A huge duration that is not `MAX`: additions to it overflow too.
const HUGE: Duration = Duration::from_secs(u64::MAX / 2);

type Setter<B> = (&'static str, fn(B, Duration) -> B);

fn client_setters<B: ClientSetters>() -> Vec<Setter<B>> {
    vec![
        ("request_timeout", B::request_timeout),
        ("retry_backoff", B::retry_backoff),
        ("reconnect_backoff", B::reconnect_backoff),
        ("reconnect_backoff_max", B::reconnect_backoff_max),
        ("metadata_max_age", B::metadata_max_age),
        ("connections_max_idle", B::connections_max_idle),
        (
            "socket_connection_setup_timeout",
            B::socket_connection_setup_timeout,
        ),
    ]
}

/// The setters every builder shares, so one list serves all three clients.
trait ClientSetters: Sized {
    fn request_timeout(self, d: Duration) -> Self;
    fn retry_backoff(self, d: Duration) -> Self;
    fn reconnect_backoff(self, d: Duration) -> Self;
    fn reconnect_backoff_max(self, d: Duration) -> Self;
    fn metadata_max_age(self, d: Duration) -> Self;
    fn connections_max_idle(self, d: Duration) -> Self;
    fn socket_connection_setup_timeout(self, d: Duration) -> Self;
}

macro_rules! client_setters {
    ($t:ty) => {
        impl ClientSetters for $t {
            fn request_timeout(self, d: Duration) -> Self {
                <$t>::request_timeout(self, d)
            }
            fn retry_backoff(self, d: Duration) -> Self {
                <$t>::retry_backoff(self, d)
            }
            fn reconnect_backoff(self, d: Duration) -> Self {
                <$t>::reconnect_backoff(self, d)
            }
            fn reconnect_backoff_max(self, d: Duration) -> Self {
                <$t>::reconnect_backoff_max(self, d)
            }
            fn metadata_max_age(self, d: Duration) -> Self {
                <$t>::metadata_max_age(self, d)
            }
            fn connections_max_idle(self, d: Duration) -> Self {
                <$t>::connections_max_idle(self, d)
            }
            fn socket_connection_setup_timeout(self, d: Duration) -> Self {
                <$t>::socket_connection_setup_timeout(self, d)
            }
        }
    };
}
client_setters!(ProducerBuilder);
client_setters!(ConsumerBuilder<Bytes, Bytes>);
client_setters!(AdminClientBuilder);

fn producer_setters() -> Vec<Setter<ProducerBuilder>> {
    let mut s: Vec<Setter<ProducerBuilder>> = vec![
        ("linger", ProducerBuilder::linger),
        ("max_block", ProducerBuilder::max_block),
        ("delivery_timeout", ProducerBuilder::delivery_timeout),
    ];
    s.extend(client_setters());
    s
}

fn consumer_setters() -> Vec<Setter<ConsumerBuilder<Bytes, Bytes>>> {
    type B = ConsumerBuilder<Bytes, Bytes>;
    let mut s: Vec<Setter<B>> = vec![
        ("auto_commit_interval", B::auto_commit_interval),
        ("consumer_timeout", B::consumer_timeout),
        ("session_timeout", B::session_timeout),
        ("heartbeat_interval", B::heartbeat_interval),
        ("max_poll_interval", B::max_poll_interval),
        ("fetch_max_wait", B::fetch_max_wait),
        ("default_api_timeout", B::default_api_timeout),
    ];
    s.extend(client_setters());
    s
}

fn admin_setters() -> Vec<Setter<AdminClientBuilder>> {
    let mut s: Vec<Setter<AdminClientBuilder>> = vec![(
        "default_api_timeout",
        AdminClientBuilder::default_api_timeout,
    )];
    s.extend(client_setters());
    s
}

/// Creates a topic, with a call timeout of `MAX`.
fn create_topic() -> String {
    let topic = common::unique_name("huge-durations");
    let admin = AdminClient::builder()
        .bootstrap_servers(common::bootstrap())
        .build()
        .unwrap();
    let options = CreateTopicsOptions {
        timeout: Some(MAX),
        ..Default::default()
    };
    admin
        .create_topics(&[NewTopic::new(&topic, 1, 1)], options)
        .unwrap()[&topic]
        .clone()
        .unwrap();
    topic
}

/// A topic holding exactly one record, for the consumers.
fn topic_with_a_record() -> String {
    let topic = create_topic();
    let producer = Producer::builder()
        .bootstrap_servers(common::bootstrap())
        .build()
        .unwrap();
    producer
        .send(ProducerRecord::new(&topic).value("v"))
        .unwrap()
        .wait_timeout(MAX)
        .unwrap();
    topic
}

/// Runs `case` and turns a panic (on this thread) into a failure message.
fn no_panic(what: String, case: impl FnOnce() -> Result<(), String>) -> Option<String> {
    match catch_unwind(AssertUnwindSafe(case)) {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(format!("{what}: {e}")),
        Err(_) => Some(format!("{what}: panicked")),
    }
}

/// A call that must not have killed the I/O thread and must have returned promptly.
fn check<T>(what: &str, started: Instant, r: kafka_sync::Result<T>) -> Result<T, String> {
    if started.elapsed() > Duration::from_secs(30) {
        return Err(format!("{what} took {:?}", started.elapsed()));
    }
    match r {
        Err(e @ Error::Internal(_)) => Err(format!("{what}: {e}")),
        Err(e) => Err(format!("{what}: {e}")),
        Ok(v) => Ok(v),
    }
}

fn producer_case(topic: &str, b: ProducerBuilder) -> Result<(), String> {
    let producer = match b.bootstrap_servers(common::bootstrap()).build() {
        Ok(p) => p,
        Err(Error::Config(e)) => return rejected(e),
        Err(e) => return Err(format!("build: {e}")),
    };
    let t = Instant::now();
    let delivery = check(
        "send",
        t,
        producer.send(ProducerRecord::new(topic).value("v")),
    )?;
    check("flush_timeout(MAX)", t, producer.flush_timeout(MAX))?;
    check("wait_timeout(MAX)", t, delivery.wait_timeout(MAX))?;
    check("partitions_for", t, producer.partitions_for(topic))?;
    producer.close(MAX);
    check("close(MAX)", t, Ok(()))
}

fn consumer_case(topic: &str, b: ConsumerBuilder<Bytes, Bytes>) -> Result<(), String> {
    let mut consumer = match b
        .bootstrap_servers(common::bootstrap())
        .auto_offset_reset(OffsetReset::Earliest)
        .build()
    {
        Ok(c) => c,
        Err(Error::Config(e)) => return rejected(e),
        Err(e) => return Err(format!("build: {e}")),
    };
    let t = Instant::now();
    let tp = TopicPartition::new(topic, 0);
    check("assign", t, consumer.assign([tp.clone()]))?;
    let records = check("poll(MAX)", t, consumer.poll(MAX))?;
    let count = records.values().map(Vec::len).sum::<usize>();
    if count != 1 {
        return Err(format!(
            "poll(MAX) returned {count} records, not the 1 there is"
        ));
    }
    check(
        "seek_to_beginning",
        t,
        consumer.seek_to_beginning(std::slice::from_ref(&tp)),
    )?;
    check("next_timeout(MAX)", t, consumer.next_timeout(Some(MAX)))?;
    check(
        "partitions_for_topic",
        t,
        consumer.partitions_for_topic(topic),
    )?;
    check("end_offsets", t, consumer.end_offsets(&[tp]))?;
    consumer.close(MAX);
    check("close(MAX)", t, Ok(()))
}

fn admin_case(b: AdminClientBuilder) -> Result<(), String> {
    let admin = match b.bootstrap_servers(common::bootstrap()).build() {
        Ok(a) => a,
        Err(Error::Config(e)) => return rejected(e),
        Err(e) => return Err(format!("build: {e}")),
    };
    let t = Instant::now();
    check("list_topics", t, admin.list_topics())?;
    check("describe_cluster", t, admin.describe_cluster()).map(drop)
}

/// Applies some settings to a builder.
type Configure<B> = Box<dyn Fn(B) -> B + Send>;

/// A combination `build()` refused with a config error (heartbeat over the session
/// timeout, say): a clear rejection, which is allowed.
fn rejected(e: kafka_sync::config::ConfigError) -> Result<(), String> {
    eprintln!("rejected at build: {e}");
    Ok(())
}

/// Every setter alone at `MAX` and at `HUGE`, then all of them at once.
fn cases<B: 'static>(setters: Vec<Setter<B>>) -> Vec<(String, Configure<B>)> {
    let mut out: Vec<(String, Configure<B>)> = Vec::new();
    for value in [MAX, HUGE] {
        for &(name, set) in &setters {
            out.push((
                format!("{name}({value:?})"),
                Box::new(move |b| set(b, value)),
            ));
        }
    }
    let all = setters.clone();
    out.push((
        "every setter at MAX".into(),
        Box::new(move |b| all.iter().fold(b, |b, (_, set)| set(b, MAX))),
    ));
    out
}

#[test]
fn every_client_takes_duration_max_in_every_setter_and_timed_call() {
    let topic = topic_with_a_record();
    let producer_topic = create_topic();
    let mut threads = Vec::new();
    for (what, set) in cases(producer_setters()) {
        let topic = producer_topic.clone();
        threads.push(thread::spawn(move || {
            no_panic(format!("producer {what}"), || {
                producer_case(&topic, set(Producer::builder()))
            })
        }));
    }
    for (what, set) in cases(consumer_setters()) {
        let topic = topic.clone();
        threads.push(thread::spawn(move || {
            no_panic(format!("consumer {what}"), || {
                consumer_case(&topic, set(Consumer::builder()))
            })
        }));
    }
    for (what, set) in cases(admin_setters()) {
        threads.push(thread::spawn(move || {
            no_panic(format!("admin {what}"), || {
                admin_case(set(AdminClient::builder()))
            })
        }));
    }
    let failures: Vec<String> = threads
        .into_iter()
        .filter_map(|t| t.join().expect("no panic escapes"))
        .collect();
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// `linger.ms` counts whole milliseconds: a non-zero linger under 1 ms is rejected at
/// `build()`, not silently turned into 0.
#[test]
fn a_sub_millisecond_linger_is_rejected_at_build() {
    let err = Producer::builder()
        .linger(Duration::from_micros(500))
        .build()
        .unwrap_err();
    assert!(
        matches!(err, Error::Config(_)) && err.to_string().contains("linger.ms"),
        "{err}"
    );
    assert!(Producer::builder().linger(Duration::ZERO).build().is_ok());
}
