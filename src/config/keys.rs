//! The key registry: every property name kafka-sync takes and which clients take it, the
//! librdkafka and kafka-python spellings that map onto them, and the keys that are
//! recognised but not supported (each with what to do instead).

use std::borrow::Cow;
use std::collections::BTreeSet;

use super::ConfigError;

/// Keys the producer takes.
pub(crate) const PRODUCER: u8 = 1;
/// Keys the consumer takes.
pub(crate) const CONSUMER: u8 = 2;
/// Keys the admin client takes.
pub(crate) const ADMIN: u8 = 4;
/// Keys every client takes (the fields of `ClientConfig`).
pub(crate) const ALL: u8 = PRODUCER | CONSUMER | ADMIN;

/// The canonical keys (the Java name where Java has one) and the clients that take them.
const KEYS: &[(&str, u8)] = &[
    ("bootstrap.servers", ALL),
    ("client.id", ALL),
    ("request.timeout.ms", ALL),
    ("connections.max.idle.ms", ALL),
    ("reconnect.backoff.ms", ALL),
    ("reconnect.backoff.max.ms", ALL),
    ("retry.backoff.ms", ALL),
    ("retry.backoff.max.ms", ALL),
    ("metadata.max.age.ms", ALL),
    ("max.in.flight.requests.per.connection", ALL),
    ("send.buffer.bytes", ALL),
    ("receive.buffer.bytes", ALL),
    ("socket.connection.setup.timeout.ms", ALL),
    ("security.protocol", ALL),
    ("client.rack", ALL),
    ("max.response.size", ALL),
    ("api.version", ALL),
    ("api.version.auto.timeout.ms", ALL),
    ("acks", PRODUCER),
    ("compression.type", PRODUCER),
    ("compression.level", PRODUCER),
    ("compression.gzip.level", PRODUCER),
    ("compression.lz4.level", PRODUCER),
    ("compression.zstd.level", PRODUCER),
    ("linger.ms", PRODUCER),
    ("batch.size", PRODUCER),
    ("buffer.memory", PRODUCER),
    ("queue.buffering.max.kbytes", PRODUCER),
    ("max.block.ms", PRODUCER),
    ("max.request.size", PRODUCER),
    ("retries", PRODUCER),
    ("delivery.timeout.ms", PRODUCER),
    ("enable.idempotence", PRODUCER),
    ("transactional.id", PRODUCER),
    ("transaction.timeout.ms", PRODUCER),
    ("group.id", CONSUMER),
    ("group.instance.id", CONSUMER),
    ("group.protocol", CONSUMER),
    ("group.remote.assignor", CONSUMER),
    ("fetch.min.bytes", CONSUMER),
    ("fetch.max.wait.ms", CONSUMER),
    ("fetch.max.bytes", CONSUMER),
    ("max.partition.fetch.bytes", CONSUMER),
    ("max.poll.records", CONSUMER),
    ("max.poll.interval.ms", CONSUMER),
    ("auto.offset.reset", CONSUMER),
    ("reset.offset.on.start", CONSUMER),
    ("enable.auto.commit", CONSUMER),
    ("auto.commit.interval.ms", CONSUMER),
    ("check.crcs", CONSUMER),
    ("max.decoded.batch.bytes", CONSUMER),
    ("isolation.level", CONSUMER),
    ("session.timeout.ms", CONSUMER),
    ("heartbeat.interval.ms", CONSUMER),
    ("partition.assignment.strategy", CONSUMER),
    ("exclude.internal.topics", CONSUMER),
    ("allow.auto.create.topics", CONSUMER),
    ("consumer.timeout.ms", CONSUMER),
    ("default.api.timeout.ms", CONSUMER | ADMIN),
    ("skip.double.compressed.messages", CONSUMER),
];

/// librdkafka names for the same settings.
const ALIASES: &[(&str, &str)] = &[
    ("metadata.broker.list", "bootstrap.servers"),
    ("queue.buffering.max.ms", "linger.ms"),
    ("compression.codec", "compression.type"),
    ("request.required.acks", "acks"),
    ("message.timeout.ms", "delivery.timeout.ms"),
    ("message.send.max.retries", "retries"),
    ("max.in.flight", "max.in.flight.requests.per.connection"),
    ("message.max.bytes", "max.request.size"),
    ("socket.timeout.ms", "request.timeout.ms"),
    ("fetch.wait.max.ms", "fetch.max.wait.ms"),
    ("fetch.message.max.bytes", "max.partition.fetch.bytes"),
];

const TLS_SASL: &str = "this TLS or SASL setting is not supported; kafka-sync takes PEM \
                        files or PEM text (ssl.truststore.location, ssl.keystore.location, \
                        ssl.key.password) and sasl.mechanism with its credentials";
const NO_METRICS: &str = "metrics reporters are not supported; remove this key";
const SOCKETS: &str = "kafka-sync manages its sockets itself; remove this key \
                       (send.buffer.bytes and receive.buffer.bytes set socket buffers)";
const PARTITIONER: &str = "set a custom partitioner in code with the producer builder's \
                           partitioner method";

/// Keys other clients use that kafka-sync recognises but does not support.
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "key.serializer",
        "serializers are Rust code, not class names: use the builder's serializer methods",
    ),
    (
        "value.serializer",
        "serializers are Rust code, not class names: use the builder's serializer methods",
    ),
    (
        "key.deserializer",
        "deserializers are Rust code, not class names: use the builder's key_deserializer method",
    ),
    (
        "value.deserializer",
        "deserializers are Rust code, not class names: use the builder's value_deserializer method",
    ),
    (
        "interceptor.classes",
        "interceptors are not supported; wrap send and poll in your own code, or use the \
         builder's serializer methods",
    ),
    ("partitioner.class", PARTITIONER),
    ("partitioner", PARTITIONER),
    ("partitioner.ignore.keys", PARTITIONER),
    ("partitioner.adaptive.partitioning.enable", PARTITIONER),
    ("partitioner.availability.timeout.ms", PARTITIONER),
    (
        "batch.num.messages",
        "librdkafka's batch.num.messages counts records; kafka-sync sizes batches in bytes: \
         use batch.size",
    ),
    (
        "queue.buffering.max.messages",
        "kafka-sync bounds unsent records in bytes: use buffer.memory",
    ),
    (
        "enable.auto.offset.store",
        "kafka-sync stores each record's offset as it returns it; to choose what is \
         committed, set enable.auto.commit=false and commit offsets explicitly",
    ),
    ("metric.reporters", NO_METRICS),
    ("auto.include.jmx.reporter", NO_METRICS),
    ("enable.metrics.push", NO_METRICS),
    ("selector", SOCKETS),
    ("socket.options", SOCKETS),
    ("sock.chunk.bytes", SOCKETS),
    ("sock.chunk.buffer.count", SOCKETS),
    (
        "client.dns.lookup",
        "kafka-sync always tries every address a host name resolves to (use_all_dns_ips); \
         remove this key",
    ),
    (
        "socket.connection.setup.timeout.max.ms",
        "the connection setup timeout does not grow: set socket.connection.setup.timeout.ms",
    ),
    (
        "default.offset.commit.callback",
        "callbacks are set in code, not in configuration: pass one to commit",
    ),
];

/// Key prefixes of whole families that are not supported.
const UNSUPPORTED_PREFIXES: &[(&str, &str)] = &[
    ("ssl.", TLS_SASL),
    ("sasl.", TLS_SASL),
    ("metrics.", NO_METRICS),
];

/// kafka-python's underscore names become Java's dotted names (`linger_ms` → `linger.ms`).
/// No Java or librdkafka key contains an underscore.
fn normalize(key: &str) -> Cow<'_, str> {
    if key.contains('_') {
        Cow::Owned(key.replace('_', "."))
    } else {
        Cow::Borrowed(key)
    }
}

/// The canonical key `key` names (through an alias or a kafka-python spelling), with the
/// clients that take it.
fn lookup(key: &str) -> Option<(&'static str, u8)> {
    let key = normalize(key);
    let key = ALIASES
        .iter()
        .chain(super::security::ALIASES)
        .find(|(alias, _)| *alias == key)
        .map_or(&*key, |(_, canonical)| canonical);
    KEYS.iter().find(|(k, _)| *k == key).copied().or_else(|| {
        super::security::KEYS
            .iter()
            .find(|k| **k == key)
            .map(|k| (*k, ALL))
    })
}

/// Why a recognised key is not supported, if it is one of those.
fn unsupported(key: &str) -> Option<&'static str> {
    let key = normalize(key);
    UNSUPPORTED
        .iter()
        .find(|(k, _)| *k == key)
        .or_else(|| {
            UNSUPPORTED_PREFIXES
                .iter()
                .find(|(p, _)| key.starts_with(p))
        })
        .map(|(_, reason)| *reason)
}

/// The canonical key for `key` if a client of kind `kind` (a mask of `PRODUCER`,
/// `CONSUMER`, `ADMIN`; `ALL` for keys every client shares) takes it.
pub(crate) fn resolve(key: &str, kind: u8) -> Result<&'static str, ConfigError> {
    match lookup(key) {
        Some((canonical, clients)) if clients & kind == kind => Ok(canonical),
        Some(_) => Err(ConfigError::UnknownKey { key: key.into() }),
        None => match unsupported(key) {
            Some(reason) => Err(ConfigError::Unsupported {
                key: key.into(),
                reason: reason.into(),
            }),
            None => Err(ConfigError::UnknownKey { key: key.into() }),
        },
    }
}

/// Which clients take a key, for messages.
fn clients_name(clients: u8) -> &'static str {
    match clients {
        PRODUCER => "a producer",
        CONSUMER => "a consumer",
        ADMIN => "an admin client",
        x if x == CONSUMER | ADMIN => "a consumer and admin client",
        _ => "a shared client",
    }
}

/// The message of [`ConfigError::UnknownKey`].
pub(crate) fn unknown_key_message(key: &str) -> String {
    if let Some((canonical, clients)) = lookup(key) {
        let java = if canonical == key {
            String::new()
        } else {
            format!(" ({canonical})")
        };
        return format!(
            "config key {key:?}{java} is {} setting, which this client does not take; \
             remove it here",
            clients_name(clients)
        );
    }
    match suggest(key) {
        Some(near) => format!("unknown config key {key:?}; did you mean {near:?}?"),
        None => format!(
            "unknown config key {key:?}; the kafka_sync::config documentation lists the keys \
             each client takes"
        ),
    }
}

/// The known key nearest to `key` by edit distance, if it is near enough to be a typo.
fn suggest(key: &str) -> Option<&'static str> {
    let key = normalize(key);
    let limit = (key.chars().count() / 4).clamp(1, 3);
    KEYS.iter()
        .map(|(k, _)| *k)
        .chain(ALIASES.iter().map(|(alias, _)| *alias))
        .map(|k| (edit_distance(&key, k), k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

/// The canonical keys the user set explicitly (through `set`), so `validated` can tell a
/// default from a choice, as the Java client does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Explicit(BTreeSet<&'static str>);

impl Explicit {
    pub(crate) fn mark(&mut self, key: &'static str) {
        self.0.insert(key);
    }

    pub(crate) fn contains(&self, key: &str) -> bool {
        self.0.contains(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_alias_targets_a_key() {
        for (alias, target) in ALIASES {
            assert!(KEYS.iter().any(|(k, _)| k == target), "{alias} -> {target}");
            assert!(
                !KEYS.iter().any(|(k, _)| k == alias),
                "{alias} is also a key"
            );
        }
        for (k, _) in UNSUPPORTED {
            assert!(lookup(k).is_none(), "{k} is both supported and not");
        }
    }

    #[test]
    fn resolves_java_librdkafka_and_kafka_python_names() {
        assert_eq!(resolve("linger.ms", PRODUCER), Ok("linger.ms"));
        assert_eq!(resolve("linger_ms", PRODUCER), Ok("linger.ms"));
        assert_eq!(resolve("queue.buffering.max.ms", PRODUCER), Ok("linger.ms"));
        assert_eq!(
            resolve("metadata.broker.list", ALL),
            Ok("bootstrap.servers")
        );
        assert_eq!(
            resolve("consumer_timeout_ms", CONSUMER),
            Ok("consumer.timeout.ms")
        );
        assert_eq!(
            resolve("default.api.timeout.ms", ADMIN),
            Ok("default.api.timeout.ms")
        );
    }

    #[test]
    fn keys_are_case_sensitive() {
        assert!(matches!(
            resolve("Linger.ms", PRODUCER),
            Err(ConfigError::UnknownKey { .. })
        ));
        assert_eq!(
            unknown_key_message("Linger.ms"),
            r#"unknown config key "Linger.ms"; did you mean "linger.ms"?"#
        );
    }

    #[test]
    fn another_clients_key_names_that_client() {
        let err = resolve("linger.ms", CONSUMER).unwrap_err();
        assert_eq!(
            err,
            ConfigError::UnknownKey {
                key: "linger.ms".into()
            }
        );
        assert!(err.to_string().contains("is a producer setting"), "{err}");
        let err = resolve("group_id", PRODUCER).unwrap_err();
        assert!(
            err.to_string().contains("(group.id) is a consumer setting"),
            "{err}"
        );
        let err = resolve("default.api.timeout.ms", PRODUCER).unwrap_err();
        assert!(
            err.to_string().contains("consumer and admin client"),
            "{err}"
        );
        // ClientConfig alone takes only the shared keys.
        assert!(resolve("acks", ALL).is_err());
        assert_eq!(resolve("client.id", ALL), Ok("client.id"));
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("lingr.ms"), Some("linger.ms"));
        assert_eq!(suggest("bootstrap.server"), Some("bootstrap.servers"));
        assert_eq!(suggest("bootstrap_server"), Some("bootstrap.servers"));
        assert_eq!(suggest("enable.idempotency"), Some("enable.idempotence"));
        assert_eq!(suggest("sesion.timeout.ms"), Some("session.timeout.ms"));
        assert_eq!(suggest("zzz"), None);
        assert_eq!(suggest("completely.different"), None);
        let msg = unknown_key_message("zzz");
        assert!(msg.starts_with(r#"unknown config key "zzz"; the kafka_sync::config"#));
    }

    #[test]
    fn unsupported_keys_say_why() {
        for (key, needle) in [
            ("ssl.keystore.password", "PEM"),
            ("sasl_kerberos_service_name", "sasl.mechanism"),
            ("key.serializer", "serializer methods"),
            ("value_deserializer", "value_deserializer"),
            ("interceptor.classes", "serializer methods"),
            ("batch.num.messages", "batch.size"),
            ("enable.auto.offset.store", "enable.auto.commit=false"),
            ("metric_reporters", "reporters"),
        ] {
            match resolve(key, ALL) {
                Err(ConfigError::Unsupported { key: k, reason }) => {
                    assert_eq!(k, key);
                    assert!(reason.contains(needle), "{key}: {reason}");
                }
                other => panic!("{key}: {other:?}"),
            }
        }
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("linger.ms", "linger.ms"), 0);
        assert_eq!(edit_distance("lingr.ms", "linger.ms"), 1);
    }

    #[test]
    fn explicit_tracks_keys() {
        let mut e = Explicit::default();
        assert!(!e.contains("acks"));
        e.mark("acks");
        assert!(e.contains("acks"));
    }
}
