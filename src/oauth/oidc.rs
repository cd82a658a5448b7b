//! OAUTHBEARER tokens from an OpenID Connect / OAuth 2 token endpoint with the client
//! credentials grant (KIP-768), as the Java client's `OAuthBearerLoginCallbackHandler`
//! and librdkafka's `sasl.oauthbearer.method=oidc` get them. Feature `oauth-oidc`.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;

use super::{OAuthToken, TokenProvider};
use crate::config::{parse_properties, ConfigError};

/// Where and as whom [`OidcTokenProvider`] asks for tokens.
///
/// # Examples
/// ```
/// use kafka_sync::oauth::OidcConfig;
/// let config = OidcConfig::from_properties(
///     "sasl.oauthbearer.token.endpoint.url=https://idp.example/oauth2/token\n\
///      sasl.oauthbearer.client.id=my-app\n\
///      sasl.oauthbearer.client.secret=s3cret\n\
///      sasl.oauthbearer.scope=kafka\n",
/// )
/// .unwrap();
/// assert_eq!(config.client_id, "my-app");
/// assert_eq!(config.scope.as_deref(), Some("kafka"));
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct OidcConfig {
    /// The token endpoint (`sasl.oauthbearer.token.endpoint.url`).
    pub token_endpoint_url: String,
    /// The client id (`sasl.oauthbearer.client.id`; Java 4.1+
    /// `sasl.oauthbearer.client.credentials.client.id`).
    pub client_id: String,
    /// The client secret (`sasl.oauthbearer.client.secret`; Java 4.1+
    /// `sasl.oauthbearer.client.credentials.client.secret`).
    pub client_secret: String,
    /// The scope asked for (`sasl.oauthbearer.scope`). Default: none.
    pub scope: Option<String>,
    /// The limit on one token request, connection included. Default: 10 s (the Java
    /// client's `sasl.login.connect.timeout.ms` + `sasl.login.read.timeout.ms` order).
    pub timeout: Duration,
}

impl fmt::Debug for OidcConfig {
    // The secret is a credential: never print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcConfig")
            .field("token_endpoint_url", &self.token_endpoint_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("scope", &self.scope)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl OidcConfig {
    /// A config for the client credentials grant at `token_endpoint_url`.
    pub fn new(
        token_endpoint_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> OidcConfig {
        OidcConfig {
            token_endpoint_url: token_endpoint_url.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            scope: None,
            timeout: Duration::from_secs(10),
        }
    }

    /// Sets the scope asked for. Default: none.
    pub fn scope(mut self, scope: impl Into<String>) -> OidcConfig {
        self.scope = Some(scope.into());
        self
    }

    /// Sets the limit on one token request. Default: 10 s.
    pub fn timeout(mut self, timeout: Duration) -> OidcConfig {
        self.timeout = timeout;
        self
    }

    /// Reads the OIDC settings out of a client properties text; other keys are left to
    /// the client's own `properties()`. The endpoint, client id and secret are required.
    pub fn from_properties(text: &str) -> Result<OidcConfig, ConfigError> {
        let mut c = OidcConfig::new("", "", "");
        for (key, value) in parse_properties(text) {
            match key.as_str() {
                "sasl.oauthbearer.token.endpoint.url" => c.token_endpoint_url = value,
                "sasl.oauthbearer.client.id" | "sasl.oauthbearer.client.credentials.client.id" => {
                    c.client_id = value
                }
                "sasl.oauthbearer.client.secret"
                | "sasl.oauthbearer.client.credentials.client.secret" => c.client_secret = value,
                "sasl.oauthbearer.scope" => c.scope = Some(value),
                _ => {}
            }
        }
        for (key, value) in [
            ("sasl.oauthbearer.token.endpoint.url", &c.token_endpoint_url),
            ("sasl.oauthbearer.client.id", &c.client_id),
            ("sasl.oauthbearer.client.secret", &c.client_secret),
        ] {
            if value.is_empty() {
                return Err(ConfigError::InvalidValue {
                    key: key.into(),
                    value: String::new(),
                    reason: "required for OAUTHBEARER tokens from an OIDC token endpoint".into(),
                });
            }
        }
        Ok(c)
    }
}

/// A token and when to fetch the next one.
struct Cached {
    token: OAuthToken,
    refresh_at: Instant,
    expires_at: Instant,
}

/// Gets tokens from an OIDC token endpoint (client credentials grant), caches each one
/// and fetches the next once 80% of its lifetime has passed (the Java client's
/// `sasl.login.refresh.window.factor` default). If the endpoint fails then, the cached
/// token is used until it expires.
///
/// Hand it to a client through its token-provider setter, as an
/// `Arc<dyn TokenProvider>`, with `sasl_mechanism` set to `OAUTHBEARER`.
///
/// # Examples
/// ```no_run
/// use kafka_sync::oauth::{OidcConfig, OidcTokenProvider, TokenProvider};
/// use std::sync::Arc;
///
/// let provider: Arc<dyn TokenProvider> = Arc::new(OidcTokenProvider::new(
///     OidcConfig::new("https://idp.example/oauth2/token", "my-app", "s3cret").scope("kafka"),
/// ));
/// let token = provider.token().unwrap();
/// println!("authenticating as {}", token.principal);
/// ```
pub struct OidcTokenProvider {
    config: OidcConfig,
    agent: ureq::Agent,
    cached: Mutex<Option<Cached>>,
}

impl fmt::Debug for OidcTokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcTokenProvider")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Why a token could not be had.
#[derive(Debug)]
struct OidcError(String);

impl fmt::Display for OidcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OidcError {}

/// A token response larger than this is refused (tokens are a few KiB).
const MAX_RESPONSE: u64 = 1 << 20;

impl OidcTokenProvider {
    /// A provider for `config`; the first token is fetched on the first call.
    pub fn new(config: OidcConfig) -> OidcTokenProvider {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            .build()
            .into();
        OidcTokenProvider {
            config,
            agent,
            cached: Mutex::new(None),
        }
    }

    fn fetch(&self) -> Result<(OAuthToken, Duration), OidcError> {
        let c = &self.config;
        let credentials = format!(
            "{}:{}",
            form_encode(&c.client_id),
            form_encode(&c.client_secret)
        );
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(scope) = &c.scope {
            form.push(("scope", scope));
        }
        let fail = |m: String| OidcError(format!("token endpoint {}: {m}", c.token_endpoint_url));
        let mut response = self
            .agent
            .post(&c.token_endpoint_url)
            .header(
                "Authorization",
                format!("Basic {}", STANDARD.encode(credentials)),
            )
            .header("Accept", "application/json")
            .send_form(form)
            .map_err(|e| fail(e.to_string()))?;
        let status = response.status();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE)
            .read_to_string()
            .map_err(|e| fail(e.to_string()))?;
        if !status.is_success() {
            return Err(fail(format!("HTTP {status}: {}", body.trim())));
        }
        parse_token_response(&body, &c.client_id).map_err(fail)
    }
}

impl TokenProvider for OidcTokenProvider {
    fn token(&self) -> Result<OAuthToken, Box<dyn std::error::Error + Send + Sync>> {
        // One fetch at a time: concurrent callers wait for it and share its token.
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if let Some(c) = cached.as_ref().filter(|c| now < c.refresh_at) {
            return Ok(c.token.clone());
        }
        match self.fetch() {
            Ok((token, lifetime)) => {
                let fetched = Instant::now();
                *cached = Some(Cached {
                    token: token.clone(),
                    refresh_at: fetched + lifetime.mul_f64(0.8),
                    expires_at: fetched + lifetime,
                });
                Ok(token)
            }
            Err(e) => match cached.as_ref().filter(|c| Instant::now() < c.expires_at) {
                Some(c) => {
                    log::warn!("{e}; using the cached token until it expires");
                    Ok(c.token.clone())
                }
                None => Err(Box::new(e)),
            },
        }
    }
}

/// `application/x-www-form-urlencoded` encoding, which the client credentials grant
/// applies to the id and secret before the Basic header (RFC 6749 section 2.3.1).
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The token and its lifetime from the endpoint's JSON: `expires_in` when given, else
/// the JWT's `exp` claim. The principal is the JWT's `sub`, else the client id.
fn parse_token_response(body: &str, client_id: &str) -> Result<(OAuthToken, Duration), String> {
    let json: serde_json::Value =
        serde_json::from_str(body).map_err(|e| format!("the answer is not JSON: {e}"))?;
    let value = json
        .get("access_token")
        .and_then(|v| v.as_str())
        .filter(|v| !v.is_empty())
        .ok_or("the answer has no access_token")?
        .to_owned();
    let claims = jwt_claims(&value);
    let now = SystemTime::now();
    let lifetime = match json.get("expires_in").and_then(|v| v.as_f64()) {
        Some(secs) if secs.is_finite() && secs > 0.0 => Duration::from_secs_f64(secs.min(1e9)),
        _ => claims
            .as_ref()
            .and_then(|c| c.get("exp")?.as_f64())
            .and_then(|exp| {
                let exp = SystemTime::UNIX_EPOCH + Duration::from_secs_f64(exp.clamp(0.0, 1e11));
                exp.duration_since(now).ok()
            })
            .ok_or("the answer has no expires_in and the token no future exp claim")?,
    };
    let principal = claims
        .as_ref()
        .and_then(|c| c.get("sub")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| client_id.to_owned());
    let token = OAuthToken {
        value,
        expires_at: now + lifetime,
        principal,
        extensions: Default::default(),
    };
    Ok((token, lifetime))
}

/// The claims of a JWT, if the token is one.
fn jwt_claims(token: &str) -> Option<serde_json::Value> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_responses_give_the_lifetime_and_the_principal() {
        let (t, life) =
            parse_token_response(r#"{"access_token":"abc","expires_in":300}"#, "app").unwrap();
        assert_eq!((t.value.as_str(), t.principal.as_str()), ("abc", "app"));
        assert_eq!(life, Duration::from_secs(300));

        let exp = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 600;
        let payload = URL_SAFE_NO_PAD.encode(format!(r#"{{"sub":"svc","exp":{exp}}}"#));
        let body = format!(r#"{{"access_token":"h.{payload}.s"}}"#);
        let (t, life) = parse_token_response(&body, "app").unwrap();
        assert_eq!(t.principal, "svc");
        assert!(life > Duration::from_secs(590) && life <= Duration::from_secs(600));
    }

    #[test]
    fn unusable_token_responses_are_errors() {
        for body in [
            "not json",
            "{}",
            r#"{"access_token":""}"#,
            r#"{"access_token":"abc"}"#,
            r#"{"access_token":"abc","expires_in":-5}"#,
        ] {
            assert!(parse_token_response(body, "app").is_err(), "{body}");
        }
    }

    #[test]
    fn credentials_are_form_encoded() {
        assert_eq!(form_encode("a b:c/é"), "a+b%3Ac%2F%C3%A9");
    }

    #[test]
    fn from_properties_needs_the_endpoint_and_the_credentials() {
        let err = OidcConfig::from_properties("sasl.oauthbearer.client.id=x\n").unwrap_err();
        assert!(err.to_string().contains("token.endpoint.url"), "{err}");
        let c = OidcConfig::from_properties(
            "sasl.oauthbearer.token.endpoint.url=http://h/t\n\
             sasl.oauthbearer.client.credentials.client.id=id\n\
             sasl.oauthbearer.client.credentials.client.secret=secret\n\
             bootstrap.servers=h:9092\n",
        )
        .unwrap();
        assert_eq!((c.client_id.as_str(), c.scope.as_deref()), ("id", None));
        assert!(!format!("{c:?}").contains("secret\""));
    }
}
