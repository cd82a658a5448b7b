//! [`SecurityConfig`]: TLS and SASL settings, embedded in
//! [`ClientConfig`](super::ClientConfig) as `security`.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use super::properties::parse_bool;
use super::ConfigError;
use crate::oauth::{TokenProvider, UnsecuredJwtProvider};

/// TLS and SASL settings. They are used when `security_protocol` is `SSL`, `SASL_SSL`
/// (TLS) or `SASL_PLAINTEXT`, `SASL_SSL` (SASL); with other protocols they are ignored, as
/// in the Java client.
///
/// Files and inline PEM are read when the client is built, so a missing file or a bad key
/// is an error from `build()`.
///
/// # Examples
/// ```
/// use kafka_sync::config::{ClientConfig, SaslMechanismName};
/// let config = ClientConfig::from_properties(
///     "security.protocol=SASL_SSL\n\
///      sasl.mechanism=SCRAM-SHA-512\n\
///      sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \
///        username=\"alice\" password=\"alice-secret\";\n\
///      ssl.ca.location=/etc/kafka/ca.pem\n",
/// )
/// .unwrap();
/// assert_eq!(config.security.sasl_mechanism, SaslMechanismName::ScramSha512);
/// assert_eq!(config.security.sasl_username.as_deref(), Some("alice"));
/// assert_eq!(config.security.sasl_password.as_ref().unwrap().expose(), "alice-secret");
/// assert!(config.security.ssl_check_hostname);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityConfig {
    /// A PEM file of CA certificates, or a directory of them, that broker certificates
    /// must chain to; with neither this nor `ssl_ca_pem` the system trust store is used.
    /// Default `None`. Java: `ssl.truststore.location` (with `ssl.truststore.type=PEM`);
    /// librdkafka `ssl.ca.location`; kafka-python `ssl_cafile`.
    pub ssl_ca_location: Option<PathBuf>,
    /// CA certificates as PEM text. Default `None`. Java: `ssl.truststore.certificates`;
    /// librdkafka `ssl.ca.pem`.
    pub ssl_ca_pem: Option<String>,
    /// The client certificate chain (PEM file) for mutual TLS. Default `None`. librdkafka:
    /// `ssl.certificate.location`; kafka-python `ssl_certfile`. Java's PEM
    /// `ssl.keystore.location` (chain and key in one file) sets this and `ssl_key_location`.
    pub ssl_certificate_location: Option<PathBuf>,
    /// The client certificate chain as PEM text. Default `None`. Java:
    /// `ssl.keystore.certificate.chain`; librdkafka `ssl.certificate.pem`.
    pub ssl_certificate_pem: Option<String>,
    /// The client's private key (PEM file: PKCS#8, encrypted PKCS#8, PKCS#1 or SEC1).
    /// Default `None`. librdkafka: `ssl.key.location`; kafka-python `ssl_keyfile`.
    pub ssl_key_location: Option<PathBuf>,
    /// The client's private key as PEM text. Default `None`. Java: `ssl.keystore.key`;
    /// librdkafka `ssl.key.pem`.
    pub ssl_key_pem: Option<String>,
    /// Password of an encrypted PKCS#8 private key. Default `None`. Java and librdkafka:
    /// `ssl.key.password`; kafka-python `ssl_password`.
    pub ssl_key_password: Option<Password>,
    /// Check that the broker's certificate names the host connected to. Default `true`.
    /// Java: `ssl.endpoint.identification.algorithm` (`https`, or empty / `none` to turn
    /// it off); kafka-python `ssl_check_hostname`.
    pub ssl_check_hostname: bool,
    /// The SASL mechanism. Default [`SaslMechanismName::Plain`]. Java: `sasl.mechanism`;
    /// librdkafka `sasl.mechanisms`; kafka-python `sasl_mechanism`.
    pub sasl_mechanism: SaslMechanismName,
    /// User name for PLAIN and SCRAM. Default `None`. librdkafka: `sasl.username`;
    /// kafka-python `sasl_plain_username`; Java: `username="…"` in `sasl.jaas.config`.
    pub sasl_username: Option<String>,
    /// Password for PLAIN and SCRAM. Default `None`. librdkafka: `sasl.password`;
    /// kafka-python `sasl_plain_password`; Java: `password="…"` in `sasl.jaas.config`.
    pub sasl_password: Option<Password>,
    /// Where OAUTHBEARER tokens come from; set in code with the builders'
    /// `sasl_oauth_token_provider`. Default `None`.
    pub sasl_oauth_token_provider: Option<TokenProviderRef>,
    /// librdkafka's `enable.sasl.oauthbearer.unsecure.jwt`: make unsecured JWTs (for test
    /// brokers) from `sasl.oauthbearer.config` when no token provider is set. Default
    /// `false`.
    pub sasl_oauthbearer_unsecure_jwt: bool,
    /// librdkafka's `sasl.oauthbearer.config` for unsecured JWTs: `principal=NAME`
    /// (required), `lifeSeconds=N`, `scope=a,b`, `extension_KEY=VALUE`. Default `None`.
    pub sasl_oauthbearer_config: Option<String>,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        SecurityConfig {
            ssl_ca_location: None,
            ssl_ca_pem: None,
            ssl_certificate_location: None,
            ssl_certificate_pem: None,
            ssl_key_location: None,
            ssl_key_pem: None,
            ssl_key_password: None,
            ssl_check_hostname: true,
            sasl_mechanism: SaslMechanismName::Plain,
            sasl_username: None,
            sasl_password: None,
            sasl_oauth_token_provider: None,
            sasl_oauthbearer_unsecure_jwt: false,
            sasl_oauthbearer_config: None,
        }
    }
}

/// The canonical keys this file applies (Java names where Java has one).
pub(crate) const KEYS: &[&str] = &[
    "ssl.truststore.location",
    "ssl.truststore.type",
    "ssl.truststore.certificates",
    "ssl.keystore.location",
    "ssl.keystore.type",
    "ssl.certificate.location",
    "ssl.keystore.certificate.chain",
    "ssl.key.location",
    "ssl.keystore.key",
    "ssl.key.password",
    "ssl.endpoint.identification.algorithm",
    "ssl.check.hostname",
    "sasl.mechanism",
    "sasl.username",
    "sasl.password",
    "sasl.jaas.config",
    "enable.sasl.oauthbearer.unsecure.jwt",
    "sasl.oauthbearer.config",
];

/// librdkafka and kafka-python names (kafka-python's `ssl_cafile` arrives as `ssl.cafile`).
pub(crate) const ALIASES: &[(&str, &str)] = &[
    ("ssl.ca.location", "ssl.truststore.location"),
    ("ssl.cafile", "ssl.truststore.location"),
    ("ssl.ca.pem", "ssl.truststore.certificates"),
    ("ssl.certfile", "ssl.certificate.location"),
    ("ssl.certificate.pem", "ssl.keystore.certificate.chain"),
    ("ssl.keyfile", "ssl.key.location"),
    ("ssl.key.pem", "ssl.keystore.key"),
    ("ssl.password", "ssl.key.password"),
    ("sasl.mechanisms", "sasl.mechanism"),
    ("sasl.plain.username", "sasl.username"),
    ("sasl.plain.password", "sasl.password"),
];

impl SecurityConfig {
    /// Applies one setting by its canonical key.
    pub(crate) fn apply(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let path = || (!value.is_empty()).then(|| PathBuf::from(value));
        let text = || (!value.is_empty()).then(|| value.to_owned());
        match name {
            "ssl.truststore.location" => self.ssl_ca_location = path(),
            "ssl.truststore.certificates" => self.ssl_ca_pem = text(),
            "ssl.truststore.type" | "ssl.keystore.type" => {
                if !value.eq_ignore_ascii_case("PEM") {
                    return Err(ConfigError::invalid(
                        name,
                        value,
                        "only PEM stores are supported; convert a JKS or PKCS12 store to PEM \
                         (keytool -exportcert -rfc, openssl pkcs12 -nodes)",
                    ));
                }
            }
            "ssl.keystore.location" => {
                self.ssl_certificate_location = path();
                self.ssl_key_location = path();
            }
            "ssl.certificate.location" => self.ssl_certificate_location = path(),
            "ssl.keystore.certificate.chain" => self.ssl_certificate_pem = text(),
            "ssl.key.location" => self.ssl_key_location = path(),
            "ssl.keystore.key" => self.ssl_key_pem = text(),
            "ssl.key.password" => self.ssl_key_password = text().map(Password::new),
            "ssl.endpoint.identification.algorithm" => {
                self.ssl_check_hostname = match value.to_ascii_lowercase().as_str() {
                    "https" => true,
                    "" | "none" => false,
                    _ => {
                        return Err(ConfigError::invalid(
                            name,
                            value,
                            "expected https, or none (or empty) to skip the host name check",
                        ))
                    }
                }
            }
            "ssl.check.hostname" => self.ssl_check_hostname = parse_bool(name, value)?,
            "sasl.mechanism" => self.sasl_mechanism = value.parse()?,
            "sasl.username" => self.sasl_username = text(),
            "sasl.password" => self.sasl_password = text().map(Password::new),
            "sasl.jaas.config" => {
                let (user, password) = parse_jaas(value)?;
                self.sasl_username = user.or(self.sasl_username.take());
                self.sasl_password = password.map(Password::new).or(self.sasl_password.take());
            }
            "enable.sasl.oauthbearer.unsecure.jwt" => {
                self.sasl_oauthbearer_unsecure_jwt = parse_bool(name, value)?
            }
            "sasl.oauthbearer.config" => {
                if !value.is_empty() {
                    // Checked now, so a typo is an error at the setting, not at connect.
                    UnsecuredJwtProvider::from_librdkafka_config(value)
                        .map_err(|e| ConfigError::invalid(name, value, e))?;
                }
                self.sasl_oauthbearer_config = text();
            }
            _ => return Err(ConfigError::UnknownKey { key: name.into() }),
        }
        Ok(())
    }

    /// The OAUTHBEARER token provider: the one set in code, else unsecured JWTs when
    /// `enable.sasl.oauthbearer.unsecure.jwt` is on.
    pub(crate) fn oauth_token_provider(&self) -> Option<Arc<dyn TokenProvider>> {
        if let Some(p) = &self.sasl_oauth_token_provider {
            return Some(p.0.clone());
        }
        let config = self.sasl_oauthbearer_config.as_deref()?;
        if !self.sasl_oauthbearer_unsecure_jwt {
            return None;
        }
        let provider = UnsecuredJwtProvider::from_librdkafka_config(config).ok()?;
        Some(Arc::new(provider))
    }

    /// Checks that SASL has what its mechanism needs, when `sasl` is in use.
    pub(crate) fn validate(&self, sasl: bool) -> Result<(), ConfigError> {
        if !sasl {
            return Ok(());
        }
        match self.sasl_mechanism {
            SaslMechanismName::OAuthBearer => {
                if self.oauth_token_provider().is_none() {
                    return Err(ConfigError::Conflict(
                        "sasl.mechanism=OAUTHBEARER needs a token provider: set one with the \
                         builder's sasl_oauth_token_provider (or, for test brokers, \
                         enable.sasl.oauthbearer.unsecure.jwt=true with \
                         sasl.oauthbearer.config=principal=NAME)"
                            .into(),
                    ));
                }
            }
            mechanism => {
                if self.sasl_username.is_none() || self.sasl_password.is_none() {
                    return Err(ConfigError::Conflict(format!(
                        "sasl.mechanism={mechanism} needs both sasl.username and sasl.password \
                         (kafka-python: sasl_plain_username, sasl_plain_password; Java: \
                         username and password in sasl.jaas.config)"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// `username="…"` and `password="…"` of a Java JAAS line such as
/// `org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";`.
fn parse_jaas(value: &str) -> Result<(Option<String>, Option<String>), ConfigError> {
    let mut user = None;
    let mut password = None;
    let mut rest = value;
    while let Some(eq) = rest.find('=') {
        let key = rest[..eq]
            .rsplit(|c: char| c.is_whitespace())
            .next()
            .unwrap_or("");
        let after = rest[eq + 1..].trim_start();
        let Some(quoted) = after.strip_prefix('"') else {
            rest = &rest[eq + 1..];
            continue;
        };
        let Some(end) = quoted.find('"') else {
            return Err(ConfigError::invalid(
                "sasl.jaas.config",
                "<redacted>",
                "a quoted value has no closing quote",
            ));
        };
        let v = quoted[..end].to_owned();
        match key {
            "username" => user = Some(v),
            "password" => password = Some(v),
            _ => {}
        }
        rest = &quoted[end + 1..];
    }
    Ok((user, password))
}

/// A SASL mechanism by its registered name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SaslMechanismName {
    /// `PLAIN` (RFC 4616): user name and password, sent as they are (use it over TLS).
    #[default]
    Plain,
    /// `SCRAM-SHA-256` (RFC 7677).
    ScramSha256,
    /// `SCRAM-SHA-512`.
    ScramSha512,
    /// `OAUTHBEARER` (RFC 7628, KIP-255).
    OAuthBearer,
}

impl SaslMechanismName {
    /// The name sent to the broker.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(kafka_sync::config::SaslMechanismName::ScramSha256.name(), "SCRAM-SHA-256");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            SaslMechanismName::Plain => "PLAIN",
            SaslMechanismName::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanismName::ScramSha512 => "SCRAM-SHA-512",
            SaslMechanismName::OAuthBearer => "OAUTHBEARER",
        }
    }
}

impl fmt::Display for SaslMechanismName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SaslMechanismName {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, ConfigError> {
        let all = [
            SaslMechanismName::Plain,
            SaslMechanismName::ScramSha256,
            SaslMechanismName::ScramSha512,
            SaslMechanismName::OAuthBearer,
        ];
        if let Some(m) = all.into_iter().find(|m| m.name().eq_ignore_ascii_case(s)) {
            return Ok(m);
        }
        let reason = match s.to_ascii_uppercase().as_str() {
            "GSSAPI" => {
                "GSSAPI (Kerberos) is not supported; use PLAIN, SCRAM-SHA-256, \
                         SCRAM-SHA-512 or OAUTHBEARER"
            }
            _ => "expected PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER",
        };
        Err(ConfigError::invalid("sasl.mechanism", s, reason))
    }
}

/// A password, kept out of `Debug` output and logs.
///
/// # Examples
/// ```
/// let p = kafka_sync::config::Password::new("s3cret");
/// assert_eq!(p.expose(), "s3cret");
/// assert_eq!(format!("{p:?}"), "<redacted>");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(password: impl Into<String>) -> Self {
        Password(password.into())
    }

    /// The password itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// An OAUTHBEARER [`TokenProvider`] in a config; two are equal when they are the same
/// provider.
#[derive(Clone, Debug)]
pub struct TokenProviderRef(pub Arc<dyn TokenProvider>);

impl PartialEq for TokenProviderRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for TokenProviderRef {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jaas_lines_give_user_and_password() {
        let line = r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="a b=c";"#;
        assert_eq!(
            parse_jaas(line).unwrap(),
            (Some("admin".into()), Some("a b=c".into()))
        );
        assert_eq!(parse_jaas("X required;").unwrap(), (None, None));
        assert!(parse_jaas(r#"X required username="open;"#).is_err());
    }

    #[test]
    fn hostname_check_and_store_types() {
        let mut c = SecurityConfig::default();
        c.apply("ssl.endpoint.identification.algorithm", "")
            .unwrap();
        assert!(!c.ssl_check_hostname);
        c.apply("ssl.endpoint.identification.algorithm", "HTTPS")
            .unwrap();
        assert!(c.ssl_check_hostname);
        c.apply("ssl.check.hostname", "false").unwrap();
        assert!(!c.ssl_check_hostname);
        assert!(c.apply("ssl.truststore.type", "PEM").is_ok());
        assert!(c.apply("ssl.truststore.type", "JKS").is_err());
        c.apply("ssl.keystore.location", "/k.pem").unwrap();
        assert_eq!(c.ssl_certificate_location, Some("/k.pem".into()));
        assert_eq!(c.ssl_key_location, Some("/k.pem".into()));
    }

    #[test]
    fn sasl_needs_credentials_or_a_provider() {
        let mut c = SecurityConfig::default();
        assert!(c.validate(false).is_ok());
        assert!(matches!(c.validate(true), Err(ConfigError::Conflict(_))));
        c.apply("sasl.username", "u").unwrap();
        assert!(c.validate(true).is_err());
        c.apply("sasl.password", "p").unwrap();
        assert!(c.validate(true).is_ok());
        c.apply("sasl.mechanism", "oauthbearer").unwrap();
        let e = c.validate(true).unwrap_err();
        assert!(e.to_string().contains("token provider"), "{e}");
        let e = c.apply("sasl.mechanism", "GSSAPI").unwrap_err();
        assert!(e.to_string().contains("Kerberos"), "{e}");
    }
}
