//! Builder setters shared by every client: the connection settings of [`ClientConfig`].
//!
//! Each typed setter goes through the builder's `set(key, value)` with the Java property
//! name, so typed and string configuration are validated by the same code.
//!
//! [`ClientConfig`]: crate::config::ClientConfig

/// Adds the shared client setters, and `properties`, to a builder that has
/// `fn set(self, &str, &str) -> Self`.
macro_rules! client_setters {
    () => {
        /// Brokers to bootstrap from: `"host1:9092,host2:9092"`. Default
        /// `localhost:9092`. Java: `bootstrap.servers`.
        pub fn bootstrap_servers(self, servers: impl AsRef<str>) -> Self {
            self.set("bootstrap.servers", servers.as_ref())
        }

        /// Name sent with every request, for broker logs and quotas; also names the I/O
        /// thread `kafka-io-<client_id>`. Default `kafka-sync`. Java: `client.id`.
        pub fn client_id(self, id: impl AsRef<str>) -> Self {
            self.set("client.id", id.as_ref())
        }

        /// How long to wait for a broker's response before failing the request and
        /// closing the connection. Default 30 s. Java: `request.timeout.ms`.
        pub fn request_timeout(self, timeout: std::time::Duration) -> Self {
            self.set("request.timeout.ms", &timeout.as_millis().to_string())
        }

        /// Wait before retrying a failed request. Default 100 ms. Java: `retry.backoff.ms`.
        pub fn retry_backoff(self, backoff: std::time::Duration) -> Self {
            self.set("retry.backoff.ms", &backoff.as_millis().to_string())
        }

        /// First wait before reconnecting to a broker; it doubles per failure up to
        /// `reconnect_backoff_max`, with ±20% jitter. Default 50 ms. Java:
        /// `reconnect.backoff.ms`.
        pub fn reconnect_backoff(self, backoff: std::time::Duration) -> Self {
            self.set("reconnect.backoff.ms", &backoff.as_millis().to_string())
        }

        /// Cap on the reconnect backoff. Default 1 s. Java: `reconnect.backoff.max.ms`.
        pub fn reconnect_backoff_max(self, backoff: std::time::Duration) -> Self {
            self.set("reconnect.backoff.max.ms", &backoff.as_millis().to_string())
        }

        /// Refresh metadata at least this often. Default 5 min. Java:
        /// `metadata.max.age.ms`.
        pub fn metadata_max_age(self, age: std::time::Duration) -> Self {
            self.set("metadata.max.age.ms", &age.as_millis().to_string())
        }

        /// Close connections idle for this long. Default 9 min. Java:
        /// `connections.max.idle.ms`.
        pub fn connections_max_idle(self, idle: std::time::Duration) -> Self {
            self.set("connections.max.idle.ms", &idle.as_millis().to_string())
        }

        /// Requests in flight per broker connection. Default 5. Java:
        /// `max.in.flight.requests.per.connection`.
        pub fn max_in_flight_requests_per_connection(self, n: usize) -> Self {
            self.set("max.in.flight.requests.per.connection", &n.to_string())
        }

        /// SO_SNDBUF of broker sockets; the OS default if unset. Java: `send.buffer.bytes`.
        pub fn send_buffer_bytes(self, bytes: usize) -> Self {
            self.set("send.buffer.bytes", &bytes.to_string())
        }

        /// SO_RCVBUF of broker sockets; the OS default if unset. Java:
        /// `receive.buffer.bytes`.
        pub fn receive_buffer_bytes(self, bytes: usize) -> Self {
            self.set("receive.buffer.bytes", &bytes.to_string())
        }

        /// How long a TCP connect may take. Default 10 s. Java:
        /// `socket.connection.setup.timeout.ms`.
        pub fn socket_connection_setup_timeout(self, timeout: std::time::Duration) -> Self {
            self.set(
                "socket.connection.setup.timeout.ms",
                &timeout.as_millis().to_string(),
            )
        }

        /// How to talk to brokers: `Plaintext`, `Ssl`, `SaslPlaintext` or `SaslSsl`.
        /// Default `Plaintext`. Java: `security.protocol`.
        pub fn security_protocol(self, protocol: crate::config::SecurityProtocol) -> Self {
            self.set("security.protocol", protocol.name())
        }

        /// A PEM file of CA certificates (or a directory of them) broker certificates
        /// must chain to. Default: the system trust store. Java: `ssl.truststore.location`
        /// (PEM); librdkafka `ssl.ca.location`; kafka-python `ssl_cafile`.
        pub fn ssl_cafile(self, path: impl AsRef<std::path::Path>) -> Self {
            self.set("ssl.truststore.location", &path.as_ref().to_string_lossy())
        }

        /// The client certificate chain (PEM file) for mutual TLS. Default none.
        /// librdkafka: `ssl.certificate.location`; kafka-python `ssl_certfile`.
        pub fn ssl_certfile(self, path: impl AsRef<std::path::Path>) -> Self {
            self.set("ssl.certificate.location", &path.as_ref().to_string_lossy())
        }

        /// The client's private key (PEM file) for mutual TLS. Default none. librdkafka:
        /// `ssl.key.location`; kafka-python `ssl_keyfile`.
        pub fn ssl_keyfile(self, path: impl AsRef<std::path::Path>) -> Self {
            self.set("ssl.key.location", &path.as_ref().to_string_lossy())
        }

        /// Password of an encrypted PKCS#8 client key. Default none. Java:
        /// `ssl.key.password`; kafka-python `ssl_password`.
        pub fn ssl_password(self, password: impl AsRef<str>) -> Self {
            self.set("ssl.key.password", password.as_ref())
        }

        /// Check that the broker's certificate names the host connected to. Default
        /// `true`. Java: `ssl.endpoint.identification.algorithm` (`https` / none);
        /// kafka-python `ssl_check_hostname`.
        pub fn ssl_check_hostname(self, check: bool) -> Self {
            self.set("ssl.check.hostname", if check { "true" } else { "false" })
        }

        /// The SASL mechanism. Default `Plain`. Java: `sasl.mechanism`; kafka-python
        /// `sasl_mechanism`.
        pub fn sasl_mechanism(self, mechanism: crate::config::SaslMechanismName) -> Self {
            self.set("sasl.mechanism", mechanism.name())
        }

        /// User name for PLAIN and SCRAM. Default none. librdkafka: `sasl.username`;
        /// kafka-python `sasl_plain_username`.
        pub fn sasl_plain_username(self, username: impl AsRef<str>) -> Self {
            self.set("sasl.username", username.as_ref())
        }

        /// Password for PLAIN and SCRAM. Default none. librdkafka: `sasl.password`;
        /// kafka-python `sasl_plain_password`.
        pub fn sasl_plain_password(self, password: impl AsRef<str>) -> Self {
            self.set("sasl.password", password.as_ref())
        }

        /// Where OAUTHBEARER tokens come from (`sasl_mechanism` `OAuthBearer`). Default
        /// none. Java: `sasl.login.callback.handler.class`.
        pub fn sasl_oauth_token_provider(
            mut self,
            provider: std::sync::Arc<dyn crate::oauth::TokenProvider>,
        ) -> Self {
            self.config.client.security.sasl_oauth_token_provider =
                Some(crate::config::TokenProviderRef(provider));
            self
        }

        /// Pins the client to the request versions of a Kafka release, such as
        /// `(2, 8)`: no request goes out at a version that release does not support.
        /// Default: none, the newest version both sides support. kafka-python:
        /// `api_version` (Java has none).
        pub fn api_version(self, version: impl Into<$crate::BrokerVersion>) -> Self {
            self.set("api.version", &version.into().to_string())
        }

        /// How long `check_version()` waits for the first broker connection. Default
        /// 2 s. kafka-python: `api_version_auto_timeout_ms` (Java has none).
        pub fn api_version_auto_timeout(self, timeout: std::time::Duration) -> Self {
            self.set(
                "api.version.auto.timeout.ms",
                &timeout.as_millis().to_string(),
            )
        }

        /// Applies a Java `.properties` text (`key=value` or `key: value` lines, `#` and
        /// `!` comments), one [`set`](Self::set) per key.
        pub fn properties(mut self, text: &str) -> Self {
            for (key, value) in $crate::config::parse_properties(text) {
                self = self.set(&key, &value);
            }
            self
        }
    };
}

pub(crate) use client_setters;
