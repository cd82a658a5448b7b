//! [`AdminConfig`]: the admin client's configuration.

use std::time::Duration;

use super::client::ClientConfig;
use super::keys;
use super::properties::{cap, check_positive, parse_ms, parse_properties};
use super::ConfigError;

/// The admin client's configuration: the shared [`ClientConfig`] plus the time limit of
/// each call.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use kafka_sync::config::{AdminConfig, ConfigError};
/// # fn main() -> Result<(), ConfigError> {
/// let config = AdminConfig::from_properties(
///     "bootstrap.servers=127.0.0.1:9092\ndefault.api.timeout.ms=30000",
/// )?
/// .validated()?;
/// assert_eq!(config.default_api_timeout, Duration::from_secs(30));
/// assert_eq!(config.client.request_timeout, Duration::from_secs(30));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    /// The settings every client shares; `client.request_timeout` bounds each request.
    pub client: ClientConfig,
    /// Time limit of each admin call, retries included, when the call takes no timeout of
    /// its own. Default 60 s. Java: `default.api.timeout.ms`.
    pub default_api_timeout: Duration,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            client: ClientConfig::default(),
            default_api_timeout: Duration::from_secs(60),
        }
    }
}

impl AdminConfig {
    /// Sets one setting by its Java name, librdkafka alias or kafka-python name; the
    /// shared client settings too. The value is trimmed.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use kafka_sync::config::AdminConfig;
    /// let mut config = AdminConfig::default();
    /// config.set("default_api_timeout_ms", "5000").unwrap();
    /// config.set("client.id", "provisioner").unwrap();
    /// assert_eq!(config.default_api_timeout, Duration::from_secs(5));
    /// assert!(config.set("group.id", "g").is_err()); // a consumer setting
    /// ```
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let name = keys::resolve(key, keys::ADMIN)?;
        let value = value.trim();
        match name {
            "default.api.timeout.ms" => {
                self.default_api_timeout = parse_ms(name, value).map_err(|e| e.with_key(key))?;
                Ok(())
            }
            _ => self.client.apply(name, value).map_err(|e| e.with_key(key)),
        }
    }

    /// The default configuration with each `key=value` of a Java `.properties` text
    /// [`set`](Self::set), in order. Call [`validated`](Self::validated) before use.
    ///
    /// # Examples
    /// ```
    /// use kafka_sync::config::AdminConfig;
    /// let config = AdminConfig::from_properties("# admin\nclient.id: ops\n").unwrap();
    /// assert_eq!(config.client.client_id, "ops");
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
    /// use std::time::Duration;
    /// use kafka_sync::config::AdminConfig;
    /// let mut config = AdminConfig::default();
    /// assert!(config.validate().is_ok());
    /// config.default_api_timeout = Duration::ZERO;
    /// assert!(config.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.clone().validated().map(drop)
    }

    /// Checks the configuration and returns the effective one (see
    /// [`ClientConfig::validated`]).
    ///
    /// # Examples
    /// ```
    /// use kafka_sync::config::AdminConfig;
    /// let config = AdminConfig::default().validated().unwrap();
    /// assert_eq!(config.client.bootstrap_servers, ["localhost:9092"]);
    /// ```
    pub fn validated(mut self) -> Result<Self, ConfigError> {
        self.client = self.client.validated()?;
        cap(&mut self.default_api_timeout);
        check_positive("default.api.timeout.ms", self.default_api_timeout)?;
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let c = AdminConfig::default();
        assert_eq!(c.default_api_timeout, Duration::from_secs(60));
        assert_eq!(c.client, ClientConfig::default());
        assert_eq!(c.clone().validated().unwrap(), c);
    }

    #[test]
    fn keys() {
        let mut c = AdminConfig::default();
        c.set("default.api.timeout.ms", "1000").unwrap();
        c.set("metadata.broker.list", "k:1").unwrap();
        c.set("request_timeout_ms", "2000").unwrap();
        assert_eq!(c.default_api_timeout, Duration::from_secs(1));
        assert_eq!(c.client.bootstrap_servers, ["k:1"]);
        assert_eq!(c.client.request_timeout, Duration::from_secs(2));
        let e = c.set("linger.ms", "1").unwrap_err();
        assert!(e.to_string().contains("is a producer setting"), "{e}");
        let e = c.set("defualt.api.timeout.ms", "1").unwrap_err();
        assert!(
            e.to_string()
                .contains(r#"did you mean "default.api.timeout.ms"?"#),
            "{e}"
        );
        let e = c.set("default_api_timeout_ms", "-1").unwrap_err();
        assert_eq!(
            e,
            ConfigError::invalid("default_api_timeout_ms", "-1", "must not be negative")
        );
        assert!(c.set("sasl.mechanism", "PLAIN").is_ok());
        assert!(matches!(
            c.set("sasl.kerberos.service.name", "kafka"),
            Err(ConfigError::Unsupported { .. })
        ));
    }

    #[test]
    fn properties_text() {
        let c = AdminConfig::from_properties("\n# x\n bootstrap.servers : [::1]:9092 \n").unwrap();
        assert_eq!(c.client.bootstrap_servers, ["[::1]:9092"]);
        assert!(AdminConfig::from_properties("bootstrap.servers=h:port").is_err());
    }
}
