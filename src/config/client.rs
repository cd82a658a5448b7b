//! [`ClientConfig`]: the settings every client shares (brokers, timeouts, backoffs,
//! sockets), and `bootstrap.servers` parsing.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::keys::{self, Explicit};
use super::properties::{cap, check_positive, parse_int, parse_ms, parse_properties, parse_size};
use super::security::{self, SecurityConfig};
use super::ConfigError;
use crate::broker_version::BrokerVersion;

/// The port kafka-python assumes when a bootstrap server has none.
const DEFAULT_PORT: u16 = 9092;

/// The settings every client shares: where the brokers are, how long to wait for them, how
/// to back off, and socket options.
///
/// Embedded as `client` in [`ProducerConfig`](super::ProducerConfig),
/// [`ConsumerConfig`](super::ConsumerConfig) and [`AdminConfig`](super::AdminConfig).
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use kafka_sync::config::{ClientConfig, ConfigError};
/// # fn main() -> Result<(), ConfigError> {
/// let mut config = ClientConfig::default();
/// assert_eq!(config.bootstrap_servers, ["localhost:9092"]);
/// config.set("bootstrap.servers", "k1:9092,[::1]:9093")?;
/// config.set("request_timeout_ms", "5000")?; // kafka-python's name
/// let config = config.validated()?;
/// assert_eq!(config.bootstrap_servers, ["k1:9092", "[::1]:9093"]);
/// assert_eq!(config.request_timeout, Duration::from_secs(5));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Brokers to bootstrap from, as `host:port` (`[v6 address]:port` for IPv6; a missing
    /// port means 9092, as in kafka-python). Any one that answers is enough; the client
    /// learns the rest of the cluster from it. Default `["localhost:9092"]`. Java:
    /// `bootstrap.servers`.
    pub bootstrap_servers: Vec<String>,
    /// Name sent with every request, for broker logs and quotas; the I/O thread is named
    /// `kafka-io-<client_id>`. Default `"kafka-sync"`. Java: `client.id`.
    pub client_id: String,
    /// How long to wait for a broker's response before failing the request and closing
    /// the connection. Default 30 s. Java: `request.timeout.ms`.
    pub request_timeout: Duration,
    /// Close connections idle for this long. Default 9 min. Java:
    /// `connections.max.idle.ms`.
    pub connections_max_idle: Duration,
    /// First wait before reconnecting to a broker; it doubles per failure up to
    /// `reconnect_backoff_max`. Default 50 ms. Java: `reconnect.backoff.ms`.
    pub reconnect_backoff: Duration,
    /// Cap on the reconnect backoff. Default 1 s. Java: `reconnect.backoff.max.ms`.
    pub reconnect_backoff_max: Duration,
    /// First wait before retrying a failed request; it doubles per attempt up to
    /// `retry_backoff_max`. Default 100 ms. Java: `retry.backoff.ms`.
    pub retry_backoff: Duration,
    /// Cap on the retry backoff. Default 1 s. Java: `retry.backoff.max.ms`.
    pub retry_backoff_max: Duration,
    /// Refresh metadata at least this often, to see new brokers and partitions. Default
    /// 5 min. Java: `metadata.max.age.ms`.
    pub metadata_max_age: Duration,
    /// Requests in flight per broker connection, at least 1. Default 5. Java:
    /// `max.in.flight.requests.per.connection`.
    pub max_in_flight_requests_per_connection: usize,
    /// SO_SNDBUF of broker sockets; `None` keeps the OS default. Default `None`. Java:
    /// `send.buffer.bytes` (-1 for the OS default).
    pub send_buffer_bytes: Option<usize>,
    /// SO_RCVBUF of broker sockets; `None` keeps the OS default. Default `None`. Java:
    /// `receive.buffer.bytes` (-1 for the OS default).
    pub receive_buffer_bytes: Option<usize>,
    /// How long a TCP connect may take before the next address is tried. Default 10 s.
    /// Java: `socket.connection.setup.timeout.ms`.
    pub socket_connection_setup_timeout: Duration,
    /// How to talk to brokers: plain TCP, TLS, SASL, or SASL over TLS. Default
    /// `Plaintext`. Java: `security.protocol`.
    pub security_protocol: SecurityProtocol,
    /// The rack this client runs in, so consumers can fetch from a replica in the same
    /// rack (KIP-392). Default `None`. Java: `client.rack`.
    pub client_rack: Option<String>,
    /// Largest response frame accepted from a broker, in bytes; a larger frame closes the
    /// connection. Default 128 MiB. kafka-sync: `max.response.size` (Java has none).
    pub max_response_size: usize,
    /// TLS and SASL settings, used as `security_protocol` asks.
    pub security: SecurityConfig,
    /// Pins the client to the request versions of this Kafka release (kafka-python's
    /// `api_version`, such as `(2, 8)`): no request goes out at a version the release does
    /// not support, whatever the broker offers. A release without a table of its own uses
    /// the newest one before it. `None` (or `"auto"`) uses the newest version both sides
    /// support. Default `None`. kafka-python: `api_version` (Java has none).
    pub api_version: Option<BrokerVersion>,
    /// How long `check_version()` waits for a broker connection to learn the broker's
    /// versions. Default 2 s. kafka-python: `api_version_auto_timeout_ms` (Java has none).
    pub api_version_auto_timeout: Duration,
    /// Keys given through `set`, so `validated` can tell a choice from a default.
    pub(super) explicit: Explicit,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            bootstrap_servers: vec![format!("localhost:{DEFAULT_PORT}")],
            client_id: "kafka-sync".to_string(),
            request_timeout: Duration::from_secs(30),
            connections_max_idle: Duration::from_secs(540),
            reconnect_backoff: Duration::from_millis(50),
            reconnect_backoff_max: Duration::from_secs(1),
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_secs(1),
            metadata_max_age: Duration::from_secs(300),
            max_in_flight_requests_per_connection: 5,
            send_buffer_bytes: None,
            receive_buffer_bytes: None,
            socket_connection_setup_timeout: Duration::from_secs(10),
            security_protocol: SecurityProtocol::Plaintext,
            client_rack: None,
            max_response_size: 128 * 1024 * 1024,
            security: SecurityConfig::default(),
            api_version: None,
            api_version_auto_timeout: Duration::from_secs(2),
            explicit: Explicit::default(),
        }
    }
}

impl ClientConfig {
    /// Sets one shared setting by its Java name, librdkafka alias or kafka-python name.
    /// The value is trimmed. Keys only a producer, consumer or admin client takes are
    /// [`ConfigError::UnknownKey`] here; set them on that client's config.
    ///
    /// # Examples
    /// ```
    /// use kafka_sync::config::{ClientConfig, ConfigError};
    /// let mut config = ClientConfig::default();
    /// config.set("metadata.broker.list", "k1:9092").unwrap(); // librdkafka's name
    /// assert_eq!(config.bootstrap_servers, ["k1:9092"]);
    /// assert!(matches!(config.set("linger.ms", "5"), Err(ConfigError::UnknownKey { .. })));
    /// ```
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let name = keys::resolve(key, keys::ALL)?;
        self.apply(name, value.trim()).map_err(|e| e.with_key(key))
    }

    /// The default configuration with each `key=value` of a Java `.properties` text
    /// [`set`](Self::set), in order. Call [`validated`](Self::validated) before use.
    ///
    /// # Examples
    /// ```
    /// use kafka_sync::config::ClientConfig;
    /// let config = ClientConfig::from_properties("client.id=billing\nclient.rack: rack-1").unwrap();
    /// assert_eq!(config.client_id, "billing");
    /// assert_eq!(config.client_rack.as_deref(), Some("rack-1"));
    /// ```
    pub fn from_properties(text: &str) -> Result<Self, ConfigError> {
        let mut config = Self::default();
        for (key, value) in parse_properties(text) {
            config.set(&key, &value)?;
        }
        Ok(config)
    }

    /// Checks the configuration; `Ok` if [`validated`](Self::validated) would succeed.
    ///
    /// # Examples
    /// ```
    /// use kafka_sync::config::{ClientConfig, ConfigError, SecurityProtocol};
    /// let mut config = ClientConfig::default();
    /// assert!(config.validate().is_ok());
    /// config.security_protocol = SecurityProtocol::SaslSsl; // without credentials
    /// assert!(matches!(config.validate(), Err(ConfigError::Conflict { .. })));
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.clone().validated().map(drop)
    }

    /// Checks the configuration and returns the effective one: bootstrap servers
    /// normalized to `host:port`, durations capped at 2147483647 ms, an empty `client_rack`
    /// as `None`.
    ///
    /// # Examples
    /// ```
    /// use kafka_sync::config::ClientConfig;
    /// let mut config = ClientConfig::default();
    /// config.bootstrap_servers = vec!["broker1".into()];
    /// assert_eq!(config.validated().unwrap().bootstrap_servers, ["broker1:9092"]);
    /// ```
    pub fn validated(mut self) -> Result<Self, ConfigError> {
        self.bootstrap_servers = parse_bootstrap_servers(&self.bootstrap_servers)?;
        check_client_id(&self.client_id)?;
        for d in [
            &mut self.request_timeout,
            &mut self.connections_max_idle,
            &mut self.reconnect_backoff,
            &mut self.reconnect_backoff_max,
            &mut self.retry_backoff,
            &mut self.retry_backoff_max,
            &mut self.metadata_max_age,
            &mut self.socket_connection_setup_timeout,
            &mut self.api_version_auto_timeout,
        ] {
            cap(d);
        }
        check_positive("request.timeout.ms", self.request_timeout)?;
        check_positive(
            "socket.connection.setup.timeout.ms",
            self.socket_connection_setup_timeout,
        )?;
        if self.max_in_flight_requests_per_connection == 0 {
            return Err(ConfigError::invalid(
                "max.in.flight.requests.per.connection",
                0,
                "must be at least 1",
            ));
        }
        if self.max_response_size == 0 {
            return Err(ConfigError::invalid(
                "max.response.size",
                0,
                "must be at least 1",
            ));
        }
        self.security.validate(self.security_protocol.uses_sasl())?;
        if self.client_rack.as_deref() == Some("") {
            self.client_rack = None;
        }
        Ok(self)
    }

    /// Applies a shared setting by its canonical key (`name`).
    pub(super) fn apply(&mut self, name: &'static str, value: &str) -> Result<(), ConfigError> {
        match name {
            "bootstrap.servers" => self.bootstrap_servers = parse_bootstrap_servers([value])?,
            "client.id" => {
                check_client_id(value)?;
                self.client_id = value.to_string();
            }
            "request.timeout.ms" => self.request_timeout = parse_ms(name, value)?,
            "connections.max.idle.ms" => self.connections_max_idle = parse_ms(name, value)?,
            "reconnect.backoff.ms" => self.reconnect_backoff = parse_ms(name, value)?,
            "reconnect.backoff.max.ms" => self.reconnect_backoff_max = parse_ms(name, value)?,
            "retry.backoff.ms" => self.retry_backoff = parse_ms(name, value)?,
            "retry.backoff.max.ms" => self.retry_backoff_max = parse_ms(name, value)?,
            "metadata.max.age.ms" => self.metadata_max_age = parse_ms(name, value)?,
            "max.in.flight.requests.per.connection" => {
                self.max_in_flight_requests_per_connection = parse_size(name, value)?;
            }
            "send.buffer.bytes" => self.send_buffer_bytes = parse_socket_buffer(name, value)?,
            "receive.buffer.bytes" => {
                self.receive_buffer_bytes = parse_socket_buffer(name, value)?;
            }
            "socket.connection.setup.timeout.ms" => {
                self.socket_connection_setup_timeout = parse_ms(name, value)?;
            }
            "security.protocol" => self.security_protocol = value.parse()?,
            name if security::KEYS.contains(&name) => self.security.apply(name, value)?,
            "client.rack" => self.client_rack = (!value.is_empty()).then(|| value.to_string()),
            "max.response.size" => self.max_response_size = parse_size(name, value)?,
            "api.version" => self.api_version = parse_api_version(value)?,
            "api.version.auto.timeout.ms" => {
                self.api_version_auto_timeout = parse_ms(name, value)?;
            }
            _ => return Err(ConfigError::UnknownKey { key: name.into() }),
        }
        self.explicit.mark(name);
        Ok(())
    }

    /// Whether `name` (a canonical key) was given through `set`.
    pub(super) fn was_set(&self, name: &str) -> bool {
        self.explicit.contains(name)
    }
}

/// A release such as `2.8` or `(2, 8)`; `auto`, `none` or empty for none.
fn parse_api_version(value: &str) -> Result<Option<BrokerVersion>, ConfigError> {
    if value.is_empty() || value.eq_ignore_ascii_case("auto") || value.eq_ignore_ascii_case("none")
    {
        return Ok(None);
    }
    value
        .parse()
        .map(Some)
        .map_err(|reason: String| ConfigError::invalid("api.version", value, reason))
}

/// A socket buffer size: -1 for the OS default, else 0 up to `i32::MAX`.
fn parse_socket_buffer(key: &str, value: &str) -> Result<Option<usize>, ConfigError> {
    let n = parse_int(key, value, -1, i32::MAX.into())?;
    Ok(usize::try_from(n).ok())
}

/// The client id goes into every request header (a protocol string) and the I/O thread's
/// name (no NUL bytes).
fn check_client_id(id: &str) -> Result<(), ConfigError> {
    if id.contains('\0') {
        return Err(ConfigError::invalid(
            "client.id",
            id,
            "must not contain NUL characters",
        ));
    }
    if id.len() > i16::MAX as usize {
        return Err(ConfigError::invalid(
            "client.id",
            id,
            format!("must be at most {} bytes", i16::MAX),
        ));
    }
    Ok(())
}

/// Parses and normalizes bootstrap servers: each item is one `host:port` or a
/// comma-separated list of them. IPv6 addresses go in brackets (`[::1]:9092`); a missing
/// port means 9092 (kafka-python's rule); a `scheme://` prefix such as `PLAINTEXT://` is
/// dropped. At least one server is required.
///
/// # Examples
/// ```
/// use kafka_sync::config::parse_bootstrap_servers;
/// assert_eq!(
///     parse_bootstrap_servers(["h1:9092,h2:9093", "[::1]:9094", "h3"]).unwrap(),
///     ["h1:9092", "h2:9093", "[::1]:9094", "h3:9092"]
/// );
/// assert!(parse_bootstrap_servers(["h1:99999"]).is_err());
/// assert!(parse_bootstrap_servers(["::1:9092"]).is_err()); // needs brackets
/// ```
pub fn parse_bootstrap_servers<I, S>(servers: I) -> Result<Vec<String>, ConfigError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut out = Vec::new();
    for item in servers {
        for entry in item.as_ref().split(',').map(str::trim) {
            if !entry.is_empty() {
                out.push(
                    host_port(entry).map_err(|reason| {
                        ConfigError::invalid("bootstrap.servers", entry, reason)
                    })?,
                );
            }
        }
    }
    if out.is_empty() {
        return Err(ConfigError::invalid(
            "bootstrap.servers",
            "",
            "at least one host:port is required, such as localhost:9092",
        ));
    }
    Ok(out)
}

/// One bootstrap server, normalized to `host:port` or `[v6]:port`.
fn host_port(entry: &str) -> Result<String, String> {
    let entry = match entry.split_once("://") {
        Some((scheme, rest))
            if scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_') =>
        {
            rest
        }
        _ => entry,
    };
    let (host, port, v6) = if let Some(rest) = entry.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or("an IPv6 address needs a closing bracket, as in [::1]:9092")?;
        let valid = host.contains(':')
            && host.chars().all(|c| {
                c.is_ascii_hexdigit() || matches!(c, ':' | '.' | '%') || c.is_ascii_alphanumeric()
            });
        if !valid {
            return Err(format!("{host:?} is not an IPv6 address"));
        }
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or("expected :port after the bracketed address, as in [::1]:9092")?,
            ),
        };
        (host, port, true)
    } else {
        match entry.split_once(':') {
            Some((_, port)) if port.contains(':') => {
                return Err("an IPv6 address goes in brackets, as in [::1]:9092".into())
            }
            Some((host, port)) => (host, Some(port), false),
            None => (entry, None, false),
        }
    };
    if host.is_empty() {
        return Err("the host is empty; expected host:port".into());
    }
    if !v6
        && !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
    {
        return Err(format!(
            "{host:?} is not a valid host name; expected host:port"
        ));
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => return Err(format!("port {p:?} is not a number from 1 to 65535")),
        },
    };
    Ok(if v6 {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    })
}

/// How a client talks to brokers. Only `Plaintext` is available in this version; the
/// others parse, and [`ClientConfig::validated`] rejects them.
///
/// # Examples
/// ```
/// use kafka_sync::config::SecurityProtocol;
/// let p: SecurityProtocol = "sasl_ssl".parse().unwrap();
/// assert_eq!(p, SecurityProtocol::SaslSsl);
/// assert_eq!(p.name(), "SASL_SSL");
/// assert_eq!(SecurityProtocol::default(), SecurityProtocol::Plaintext);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SecurityProtocol {
    /// Unencrypted, unauthenticated TCP.
    #[default]
    Plaintext,
    /// TLS.
    Ssl,
    /// SASL authentication over TCP.
    SaslPlaintext,
    /// SASL authentication over TLS.
    SaslSsl,
}

impl SecurityProtocol {
    /// The Java name: `PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(kafka_sync::config::SecurityProtocol::Ssl.name(), "SSL");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }
}

impl SecurityProtocol {
    /// True for `SSL` and `SASL_SSL`.
    ///
    /// # Examples
    /// ```
    /// assert!(kafka_sync::config::SecurityProtocol::SaslSsl.uses_tls());
    /// ```
    pub fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    /// True for `SASL_PLAINTEXT` and `SASL_SSL`.
    ///
    /// # Examples
    /// ```
    /// assert!(!kafka_sync::config::SecurityProtocol::Ssl.uses_sasl());
    /// ```
    pub fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

impl fmt::Display for SecurityProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SecurityProtocol {
    type Err = ConfigError;

    /// Parses the Java names, any case.
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        let all = [
            SecurityProtocol::Plaintext,
            SecurityProtocol::Ssl,
            SecurityProtocol::SaslPlaintext,
            SecurityProtocol::SaslSsl,
        ];
        all.into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                ConfigError::invalid(
                    "security.protocol",
                    s,
                    "expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let c = ClientConfig::default();
        assert_eq!(c.bootstrap_servers, ["localhost:9092"]);
        assert_eq!(c.client_id, "kafka-sync");
        assert_eq!(c.request_timeout, Duration::from_secs(30));
        assert_eq!(c.connections_max_idle, Duration::from_secs(540));
        assert_eq!(c.reconnect_backoff, Duration::from_millis(50));
        assert_eq!(c.reconnect_backoff_max, Duration::from_secs(1));
        assert_eq!(c.retry_backoff, Duration::from_millis(100));
        assert_eq!(c.retry_backoff_max, Duration::from_secs(1));
        assert_eq!(c.metadata_max_age, Duration::from_secs(300));
        assert_eq!(c.max_in_flight_requests_per_connection, 5);
        assert_eq!(c.send_buffer_bytes, None);
        assert_eq!(c.receive_buffer_bytes, None);
        assert_eq!(c.socket_connection_setup_timeout, Duration::from_secs(10));
        assert_eq!(c.security_protocol, SecurityProtocol::Plaintext);
        assert_eq!(c.client_rack, None);
        assert_eq!(c.max_response_size, 128 << 20);
        assert_eq!(c.clone().validated().unwrap(), c);
    }

    #[test]
    fn api_version_takes_kafka_python_spellings() {
        let mut c = ClientConfig::default();
        assert_eq!(c.api_version, None);
        assert_eq!(c.api_version_auto_timeout, Duration::from_secs(2));
        c.set("api_version", "(2, 8)").unwrap();
        assert_eq!(c.api_version, Some(BrokerVersion::new(2, 8)));
        c.set("api.version", "auto").unwrap();
        assert_eq!(c.api_version, None);
        c.set("api.version", "3.9").unwrap();
        assert_eq!(c.api_version, Some(BrokerVersion::new(3, 9)));
        assert!(matches!(
            c.set("api_version", "latest"),
            Err(ConfigError::InvalidValue { .. })
        ));
        c.set("api_version_auto_timeout_ms", "500").unwrap();
        assert_eq!(c.api_version_auto_timeout, Duration::from_millis(500));
    }

    #[test]
    fn every_key_sets_its_field() {
        let mut c = ClientConfig::default();
        for (k, v) in [
            ("bootstrap.servers", "a:1,b:2"),
            ("client.id", "me"),
            ("request.timeout.ms", "1001"),
            ("connections.max.idle.ms", "1002"),
            ("reconnect.backoff.ms", "1003"),
            ("reconnect.backoff.max.ms", "1004"),
            ("retry.backoff.ms", "1005"),
            ("retry.backoff.max.ms", "1006"),
            ("metadata.max.age.ms", "1007"),
            ("max.in.flight.requests.per.connection", "3"),
            ("send.buffer.bytes", "65536"),
            ("receive.buffer.bytes", "131072"),
            ("socket.connection.setup.timeout.ms", "1008"),
            ("security.protocol", "plaintext"),
            ("client.rack", "r1"),
            ("max.response.size", "1000000"),
        ] {
            c.set(k, v).unwrap_or_else(|e| panic!("{k}: {e}"));
        }
        let ms = Duration::from_millis;
        assert_eq!(c.bootstrap_servers, ["a:1", "b:2"]);
        assert_eq!(c.client_id, "me");
        assert_eq!(c.request_timeout, ms(1001));
        assert_eq!(c.connections_max_idle, ms(1002));
        assert_eq!(c.reconnect_backoff, ms(1003));
        assert_eq!(c.reconnect_backoff_max, ms(1004));
        assert_eq!(c.retry_backoff, ms(1005));
        assert_eq!(c.retry_backoff_max, ms(1006));
        assert_eq!(c.metadata_max_age, ms(1007));
        assert_eq!(c.max_in_flight_requests_per_connection, 3);
        assert_eq!(c.send_buffer_bytes, Some(65536));
        assert_eq!(c.receive_buffer_bytes, Some(131072));
        assert_eq!(c.socket_connection_setup_timeout, ms(1008));
        assert_eq!(c.client_rack.as_deref(), Some("r1"));
        assert_eq!(c.max_response_size, 1_000_000);
        assert!(c.was_set("client.id"));
        assert!(!c.was_set("client.rack.typo"));
        c.validate().unwrap();
    }

    #[test]
    fn aliases_and_kafka_python_names() {
        let mut c = ClientConfig::default();
        c.set("metadata.broker.list", "x:1").unwrap();
        assert_eq!(c.bootstrap_servers, ["x:1"]);
        c.set("socket.timeout.ms", "7000").unwrap();
        assert_eq!(c.request_timeout, Duration::from_secs(7));
        c.set("max.in.flight", "2").unwrap();
        assert_eq!(c.max_in_flight_requests_per_connection, 2);
        c.set("bootstrap_servers", "y:2").unwrap();
        assert_eq!(c.bootstrap_servers, ["y:2"]);
        c.set("max_in_flight_requests_per_connection", "4").unwrap();
        assert_eq!(c.max_in_flight_requests_per_connection, 4);
        c.set("security_protocol", "PLAINTEXT").unwrap();
        assert!(c.was_set("bootstrap.servers"));
    }

    #[test]
    fn security_keys_under_java_librdkafka_and_kafka_python_names() {
        use std::path::PathBuf;
        let p = |s: &str| Some(PathBuf::from(s));
        for (key, field) in [
            ("ssl.truststore.location", "ca"),
            ("ssl.ca.location", "ca"),
            ("ssl_cafile", "ca"),
            ("ssl.certificate.location", "cert"),
            ("ssl_certfile", "cert"),
            ("ssl.key.location", "key"),
            ("ssl_keyfile", "key"),
        ] {
            let mut c = ClientConfig::default();
            c.set(key, "/x.pem").unwrap();
            let got = match field {
                "ca" => &c.security.ssl_ca_location,
                "cert" => &c.security.ssl_certificate_location,
                _ => &c.security.ssl_key_location,
            };
            assert_eq!(*got, p("/x.pem"), "{key}");
        }
        for (key, which) in [
            ("ssl.truststore.certificates", 0),
            ("ssl.ca.pem", 0),
            ("ssl.keystore.certificate.chain", 1),
            ("ssl.certificate.pem", 1),
            ("ssl.keystore.key", 2),
            ("ssl.key.pem", 2),
        ] {
            let mut c = ClientConfig::default();
            c.set(key, "PEM").unwrap();
            let s = &c.security;
            let got = [&s.ssl_ca_pem, &s.ssl_certificate_pem, &s.ssl_key_pem][which];
            assert_eq!(got.as_deref(), Some("PEM"), "{key}");
        }
        for key in ["ssl.key.password", "ssl_password"] {
            let mut c = ClientConfig::default();
            c.set(key, "pw").unwrap();
            assert_eq!(c.security.ssl_key_password.unwrap().expose(), "pw");
        }
        let mut c = ClientConfig::default();
        c.set("ssl_check_hostname", "False").unwrap();
        assert!(!c.security.ssl_check_hostname);
        c.set("ssl.endpoint.identification.algorithm", "https")
            .unwrap();
        assert!(c.security.ssl_check_hostname);
        for key in ["sasl.mechanism", "sasl.mechanisms", "sasl_mechanism"] {
            let mut c = ClientConfig::default();
            c.set(key, "SCRAM-SHA-256").unwrap();
            assert_eq!(
                c.security.sasl_mechanism,
                crate::config::SaslMechanismName::ScramSha256
            );
        }
        for (user, pass) in [
            ("sasl.username", "sasl.password"),
            ("sasl_plain_username", "sasl_plain_password"),
        ] {
            let mut c = ClientConfig::default();
            c.set(user, "u").unwrap();
            c.set(pass, "p").unwrap();
            assert_eq!(c.security.sasl_username.as_deref(), Some("u"));
            assert_eq!(c.security.sasl_password.as_ref().unwrap().expose(), "p");
        }
        let c = ClientConfig::from_properties(
            "security.protocol=SASL_SSL\n\
             sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"a\" password=\"b\";\n",
        )
        .unwrap();
        assert_eq!(c.security.sasl_username.as_deref(), Some("a"));
        assert!(c.validate().is_ok());
        assert!(
            !format!("{c:?}").contains("\"b\""),
            "passwords stay out of Debug"
        );
    }

    #[test]
    fn socket_buffers() {
        let mut c = ClientConfig::default();
        c.set("send.buffer.bytes", "1024").unwrap();
        c.set("send.buffer.bytes", "-1").unwrap();
        assert_eq!(c.send_buffer_bytes, None);
        let e = c.set("receive.buffer.bytes", "-2").unwrap_err();
        assert_eq!(
            e,
            ConfigError::invalid("receive.buffer.bytes", "-2", "must be at least -1")
        );
    }

    #[test]
    fn invalid_values_name_the_key_given() {
        let mut c = ClientConfig::default();
        let e = c.set("socket.timeout.ms", "abc").unwrap_err();
        assert_eq!(
            e,
            ConfigError::invalid(
                "socket.timeout.ms",
                "abc",
                "expected a whole number of milliseconds"
            )
        );
        let e = c.set("request_timeout_ms", "-5").unwrap_err();
        assert_eq!(
            e,
            ConfigError::invalid("request_timeout_ms", "-5", "must not be negative")
        );
        assert!(c.set("max.in.flight.requests.per.connection", "0").is_err());
        assert!(c.set("client.id", "a\0b").is_err());
        let e = c.set("security.protocol", "tls").unwrap_err();
        assert!(e.to_string().contains("expected PLAINTEXT"), "{e}");
        // A failed set leaves the field as it was.
        assert_eq!(c.request_timeout, Duration::from_secs(30));
    }

    #[test]
    fn bootstrap_parsing() {
        let ok = |s: &str| parse_bootstrap_servers([s]).unwrap();
        assert_eq!(ok("h1:9092,h2:9093"), ["h1:9092", "h2:9093"]);
        assert_eq!(ok(" h1:9092 , h2:9093 ,"), ["h1:9092", "h2:9093"]);
        assert_eq!(ok("[::1]:9092"), ["[::1]:9092"]);
        assert_eq!(ok("[fe80::1%eth0]:9092"), ["[fe80::1%eth0]:9092"]);
        assert_eq!(ok("[::1]"), ["[::1]:9092"]);
        assert_eq!(ok("broker"), ["broker:9092"]);
        assert_eq!(ok("10.0.0.1:19092"), ["10.0.0.1:19092"]);
        assert_eq!(ok("PLAINTEXT://kafka-0.kafka:9092"), ["kafka-0.kafka:9092"]);
        assert_eq!(
            parse_bootstrap_servers(vec!["a:1".to_string(), "b:2".to_string()]).unwrap(),
            ["a:1", "b:2"]
        );
        for (bad, needle) in [
            ("h:0", "not a number from 1 to 65535"),
            ("h:65536", "not a number from 1 to 65535"),
            ("h:abc", "not a number from 1 to 65535"),
            ("h:", "not a number from 1 to 65535"),
            (":9092", "host is empty"),
            ("::1:9092", "brackets"),
            ("[::1:9092", "closing bracket"),
            ("[::1]9092", "expected :port"),
            ("[nothost]:9092", "not an IPv6 address"),
            ("bad host:9092", "not a valid host name"),
            ("", "at least one host:port"),
            (" , ", "at least one host:port"),
        ] {
            let e = parse_bootstrap_servers([bad]).unwrap_err();
            match &e {
                ConfigError::InvalidValue { key, reason, .. } => {
                    assert_eq!(key, "bootstrap.servers");
                    assert!(reason.contains(needle), "{bad:?}: {reason}");
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        let mut c = ClientConfig::default();
        let e = c.set("metadata.broker.list", "h:70000").unwrap_err();
        assert!(
            matches!(e, ConfigError::InvalidValue { ref key, ref value, .. }
            if key == "metadata.broker.list" && value == "h:70000")
        );
    }

    #[test]
    fn validation() {
        let mut c = ClientConfig::default();
        c.bootstrap_servers.clear();
        assert!(matches!(
            c.validate(),
            Err(ConfigError::InvalidValue { .. })
        ));

        let c = ClientConfig {
            request_timeout: Duration::ZERO,
            ..Default::default()
        };
        assert!(c.validate().is_err());

        let c = ClientConfig {
            max_in_flight_requests_per_connection: 0,
            ..Default::default()
        };
        assert!(c.validate().is_err());

        let mut c = ClientConfig::default();
        c.set("security.protocol", "SSL").unwrap();
        assert!(c.validate().is_ok());
        for p in ["SASL_PLAINTEXT", "SASL_SSL"] {
            let mut c = ClientConfig::default();
            c.set("security.protocol", p).unwrap();
            // SASL needs its credentials.
            assert!(matches!(c.validate(), Err(ConfigError::Conflict(_))));
            c.set("sasl_plain_username", "alice").unwrap();
            c.set("sasl_plain_password", "alice-secret").unwrap();
            assert!(c.validate().is_ok());
        }

        let c = ClientConfig {
            metadata_max_age: Duration::MAX,
            client_rack: Some(String::new()),
            ..Default::default()
        };
        let c = c.validated().unwrap();
        assert_eq!(c.metadata_max_age, crate::config::MAX_DURATION);
        assert_eq!(c.client_rack, None);
    }

    #[test]
    fn properties_text() {
        let c = ClientConfig::from_properties(
            "# shared\n\n  bootstrap.servers = a:1 , b:2\n! x\nclient.id:  app  \nclient.rack=\n",
        )
        .unwrap();
        assert_eq!(c.bootstrap_servers, ["a:1", "b:2"]);
        assert_eq!(c.client_id, "app");
        assert_eq!(c.client_rack, None);
        let e = ClientConfig::from_properties("bootstrap.servers=a:1\nacks=all").unwrap_err();
        assert_eq!(e, ConfigError::UnknownKey { key: "acks".into() });
    }
}
