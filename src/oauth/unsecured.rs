//! Unsecured JWTs (`alg: none`), for development and test clusters whose brokers run
//! Kafka's `OAuthBearerUnsecuredValidatorCallbackHandler`; the same tokens the Java
//! client's `OAuthBearerUnsecuredLoginCallbackHandler` and librdkafka's
//! `enable.sasl.oauthbearer.unsecure.jwt` make.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::{OAuthToken, TokenProvider};

/// Makes a fresh unsigned token for one principal on every call: header `{"alg":"none"}`,
/// claims `sub`, `iat` and `exp` (and `scope` when set), no signature. Never use it
/// against a production cluster: anyone can forge such a token.
///
/// # Examples
/// ```
/// use kafka_sync::oauth::{TokenProvider, UnsecuredJwtProvider};
/// use std::time::Duration;
///
/// let provider = UnsecuredJwtProvider::new("alice").lifetime(Duration::from_secs(600));
/// let token = provider.token().unwrap();
/// assert_eq!(token.principal, "alice");
/// assert!(token.value.starts_with("eyJhbGciOiJub25lIn0.")); // {"alg":"none"}
/// ```
#[derive(Debug, Clone)]
pub struct UnsecuredJwtProvider {
    principal: String,
    lifetime: Duration,
    scope: Vec<String>,
    extensions: BTreeMap<String, String>,
}

impl UnsecuredJwtProvider {
    /// Tokens whose `sub` claim (the broker's principal name) is `principal`, valid for
    /// one hour (the Java handler's `unsecuredLoginLifetimeSeconds` default).
    pub fn new(principal: impl Into<String>) -> UnsecuredJwtProvider {
        UnsecuredJwtProvider {
            principal: principal.into(),
            lifetime: Duration::from_secs(3600),
            scope: Vec::new(),
            extensions: BTreeMap::new(),
        }
    }

    /// How long each token is valid from the moment it is made. Default: 1 hour.
    pub fn lifetime(mut self, lifetime: Duration) -> UnsecuredJwtProvider {
        self.lifetime = lifetime;
        self
    }

    /// Adds a value to the `scope` claim (a JSON array of strings). Default: no claim.
    pub fn scope(mut self, scope: impl Into<String>) -> UnsecuredJwtProvider {
        self.scope.push(scope.into());
        self
    }

    /// A SASL extension sent beside the token (KIP-342).
    pub fn extension(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.extensions.insert(key.into(), value.into());
        self
    }

    /// A provider from librdkafka's `sasl.oauthbearer.config` text, as used with
    /// `enable.sasl.oauthbearer.unsecure.jwt=true`: space-separated `principal=NAME`
    /// (required), `lifeSeconds=N`, `scope=a,b` and `extension_KEY=VALUE`.
    ///
    /// # Examples
    /// ```
    /// use kafka_sync::oauth::UnsecuredJwtProvider;
    /// assert!(UnsecuredJwtProvider::from_librdkafka_config("principal=admin lifeSeconds=60").is_ok());
    /// assert!(UnsecuredJwtProvider::from_librdkafka_config("lifeSeconds=60").is_err());
    /// ```
    pub fn from_librdkafka_config(text: &str) -> Result<UnsecuredJwtProvider, String> {
        let mut principal = None;
        let mut lifetime = None;
        let mut scopes = Vec::new();
        let mut extensions = Vec::new();
        for item in text.split_whitespace() {
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| format!("expected name=value, not {item:?}"))?;
            match key {
                "principal" => principal = Some(value.to_owned()),
                "lifeSeconds" => {
                    let secs: u64 = value
                        .parse()
                        .map_err(|_| format!("lifeSeconds must be a number, not {value:?}"))?;
                    lifetime = Some(Duration::from_secs(secs));
                }
                "scope" => {
                    scopes.extend(value.split(',').filter(|s| !s.is_empty()).map(String::from))
                }
                _ => match key.strip_prefix("extension_") {
                    Some(name) => extensions.push((name.to_owned(), value.to_owned())),
                    None => return Err(format!("unknown attribute {key:?}")),
                },
            }
        }
        let principal = principal.ok_or("principal=NAME is required")?;
        let mut provider = UnsecuredJwtProvider::new(principal);
        if let Some(lifetime) = lifetime {
            provider = provider.lifetime(lifetime);
        }
        for scope in scopes {
            provider = provider.scope(scope);
        }
        for (k, v) in extensions {
            provider = provider.extension(k, v);
        }
        Ok(provider)
    }

    /// The token as of `now`.
    fn token_at(&self, now: SystemTime) -> OAuthToken {
        let iat = now.duration_since(UNIX_EPOCH).unwrap_or_default();
        let exp = iat.saturating_add(self.lifetime);
        let mut claims = format!(
            "{{\"sub\":{},\"iat\":{},\"exp\":{}",
            json_string(&self.principal),
            seconds(iat),
            seconds(exp)
        );
        if !self.scope.is_empty() {
            let scopes: Vec<String> = self.scope.iter().map(|s| json_string(s)).collect();
            claims.push_str(&format!(",\"scope\":[{}]", scopes.join(",")));
        }
        claims.push('}');
        let value = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(claims)
        );
        OAuthToken {
            value,
            expires_at: UNIX_EPOCH + exp,
            principal: self.principal.clone(),
            extensions: self.extensions.clone(),
        }
    }
}

impl TokenProvider for UnsecuredJwtProvider {
    fn token(&self) -> Result<OAuthToken, Box<dyn std::error::Error + Send + Sync>> {
        Ok(self.token_at(SystemTime::now()))
    }
}

/// NumericDate (RFC 7519): seconds, with milliseconds as a fraction as the Java handler
/// writes them.
fn seconds(d: Duration) -> String {
    match d.subsec_millis() {
        0 => d.as_secs().to_string(),
        ms => format!("{}.{ms:03}", d.as_secs()),
    }
}

/// `s` as a JSON string literal.
pub(crate) fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(token: &OAuthToken) -> String {
        let parts: Vec<&str> = token.value.split('.').collect();
        assert_eq!(parts.len(), 3, "{}", token.value);
        assert_eq!(parts[2], "", "an unsecured JWT has an empty signature");
        let header = URL_SAFE_NO_PAD.decode(parts[0]).unwrap();
        assert_eq!(header, br#"{"alg":"none"}"#);
        String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap()
    }

    #[test]
    fn claims_name_the_principal_and_the_lifetime() {
        let now = UNIX_EPOCH + Duration::from_millis(1_700_000_000_250);
        let t = UnsecuredJwtProvider::new("alice")
            .lifetime(Duration::from_secs(60))
            .token_at(now);
        assert_eq!(
            claims(&t),
            r#"{"sub":"alice","iat":1700000000.250,"exp":1700000060.250}"#
        );
        assert_eq!(t.expires_at, now + Duration::from_secs(60));
        assert_eq!(t.principal, "alice");
    }

    #[test]
    fn scope_and_extensions_are_carried() {
        let t = UnsecuredJwtProvider::new("a\"b")
            .scope("read")
            .scope("write")
            .extension("traceId", "1")
            .token_at(UNIX_EPOCH + Duration::from_secs(10));
        assert_eq!(
            claims(&t),
            r#"{"sub":"a\"b","iat":10,"exp":3610,"scope":["read","write"]}"#
        );
        assert_eq!(t.extensions.get("traceId").map(String::as_str), Some("1"));
    }

    #[test]
    fn each_call_makes_a_token_valid_from_now() {
        let p = UnsecuredJwtProvider::new("bob");
        let before = SystemTime::now();
        let t = p.token().unwrap();
        assert!(t.expires_at >= before + Duration::from_secs(3599));
        assert!(!format!("{t:?}").contains(&t.value));
    }

    #[test]
    fn json_strings_escape_control_characters() {
        assert_eq!(json_string("a\\b\n"), r#""a\\b\u000a""#);
    }
}
