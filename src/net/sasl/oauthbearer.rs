//! OAUTHBEARER (RFC 7628, KIP-255) with SASL extensions (KIP-342).
//!
//! The client sends one message, the GS2 header and the token:
//! `n,,\x01auth=Bearer <token>\x01<key>=<value>\x01...\x01\x01`. The broker answers with
//! nothing on success; on failure it sends an error JSON document (RFC 7628 section 3.2.2),
//! the client answers `\x01`, and the broker fails the SaslAuthenticate with its reason.

use std::sync::Arc;

use super::{SaslError, SaslMechanism};
use crate::oauth::TokenProvider;

/// RFC 7628's attribute separator (`kvsep`).
const SEPARATOR: u8 = 0x01;

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Initial,
    /// The initial response is sent; the broker's answer decides.
    Sent,
    /// The broker sent its error document and got our `\x01`; it fails the exchange next.
    ErrorAnswered,
    Done,
}

/// One OAUTHBEARER exchange, with a token fresh from the provider.
#[derive(Debug)]
pub(crate) struct OAuthBearerClient {
    provider: Arc<dyn TokenProvider>,
    state: State,
    /// The broker's error document, kept in case the broker does not end the exchange.
    /// (It normally does, with the same document as the SaslAuthenticate error message.)
    server_error: Option<String>,
}

impl OAuthBearerClient {
    /// A client that asks `provider` for the token when the exchange starts.
    pub(crate) fn new(provider: Arc<dyn TokenProvider>) -> OAuthBearerClient {
        OAuthBearerClient {
            provider,
            state: State::Initial,
            server_error: None,
        }
    }
}

/// KIP-342: extension keys are letters only, `auth` is reserved; values are printable
/// ASCII, space, tab, CR or LF (never the separator).
fn check_extension(key: &str, value: &str) -> Result<(), SaslError> {
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphabetic()) || key == "auth" {
        return Err(SaslError::Token(format!(
            "SASL extension name {key:?} is not allowed (letters only, not \"auth\")"
        )));
    }
    let value_ok = |b: u8| (0x21..=0x7e).contains(&b) || matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    if value.is_empty() || !value.bytes().all(value_ok) {
        return Err(SaslError::Token(format!(
            "SASL extension {key} has a value with characters RFC 7628 does not allow"
        )));
    }
    Ok(())
}

impl SaslMechanism for OAuthBearerClient {
    fn name(&self) -> &'static str {
        "OAUTHBEARER"
    }

    fn start(&mut self) -> Result<Vec<u8>, SaslError> {
        if self.state != State::Initial {
            return Err(SaslError::Protocol(
                "OAUTHBEARER exchange already started".into(),
            ));
        }
        let token = self
            .provider
            .token()
            .map_err(|e| SaslError::Token(e.to_string()))?;
        // A token is a base64url JWT: anything else would break the message's framing.
        if token.value.is_empty() || !token.value.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(SaslError::Token(
                "the token provider returned an empty token or one with spaces or control characters"
                    .into(),
            ));
        }
        let mut out = Vec::with_capacity(token.value.len() + 32);
        out.extend_from_slice(b"n,,");
        out.push(SEPARATOR);
        out.extend_from_slice(b"auth=Bearer ");
        out.extend_from_slice(token.value.as_bytes());
        for (key, value) in &token.extensions {
            check_extension(key, value)?;
            out.push(SEPARATOR);
            out.extend_from_slice(key.as_bytes());
            out.push(b'=');
            out.extend_from_slice(value.as_bytes());
        }
        out.extend_from_slice(&[SEPARATOR, SEPARATOR]);
        self.state = State::Sent;
        Ok(out)
    }

    fn step(&mut self, server: &[u8]) -> Result<Option<Vec<u8>>, SaslError> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Sent if server.is_empty() => Ok(None),
            State::Sent => {
                // The broker's error document: answer with the separator so that it ends
                // the exchange with an error code and its reason.
                let error = String::from_utf8_lossy(server).into_owned();
                log::warn!("the broker refused the OAUTHBEARER token: {error}");
                self.server_error = Some(error);
                self.state = State::ErrorAnswered;
                Ok(Some(vec![SEPARATOR]))
            }
            State::ErrorAnswered => Err(SaslError::Protocol(format!(
                "the broker refused the OAUTHBEARER token ({}) but did not fail the exchange",
                self.server_error.as_deref().unwrap_or("")
            ))),
            State::Initial | State::Done => Err(SaslError::Protocol(
                "OAUTHBEARER message from the broker outside the exchange".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::OAuthToken;
    use std::collections::BTreeMap;
    use std::time::{Duration, SystemTime};

    #[derive(Debug)]
    struct Fixed(Result<OAuthToken, String>);

    impl TokenProvider for Fixed {
        fn token(&self) -> Result<OAuthToken, Box<dyn std::error::Error + Send + Sync>> {
            self.0.clone().map_err(Into::into)
        }
    }

    fn token(value: &str, extensions: &[(&str, &str)]) -> OAuthToken {
        OAuthToken {
            value: value.into(),
            expires_at: SystemTime::now() + Duration::from_secs(60),
            principal: "alice".into(),
            extensions: extensions
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    fn client(t: Result<OAuthToken, String>) -> OAuthBearerClient {
        OAuthBearerClient::new(Arc::new(Fixed(t)))
    }

    #[test]
    fn initial_response_is_the_gs2_header_and_the_token() {
        let mut c = client(Ok(token("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.", &[])));
        assert_eq!(c.name(), "OAUTHBEARER");
        assert_eq!(
            c.start().unwrap(),
            b"n,,\x01auth=Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.\x01\x01"
        );
        assert_eq!(c.step(b""), Ok(None));
        assert!(c.step(b"").is_err());
    }

    #[test]
    fn extensions_follow_the_token_in_key_order() {
        let mut c = client(Ok(token(
            "t",
            &[("traceId", "123"), ("logicalCluster", "lkc-1")],
        )));
        assert_eq!(
            c.start().unwrap(),
            b"n,,\x01auth=Bearer t\x01logicalCluster=lkc-1\x01traceId=123\x01\x01"
        );
    }

    #[test]
    fn bad_extensions_and_tokens_are_refused_before_sending() {
        for ext in [
            ("auth", "x"),
            ("a1", "x"),
            ("", "x"),
            ("k", "a\x01b"),
            ("k", ""),
        ] {
            let err = client(Ok(token("t", &[ext]))).start().unwrap_err();
            assert!(matches!(err, SaslError::Token(_)), "{ext:?}: {err:?}");
        }
        for value in ["", "a b", "a\x01b"] {
            let err = client(Ok(token(value, &[]))).start().unwrap_err();
            assert!(matches!(err, SaslError::Token(_)), "{value:?}: {err:?}");
        }
    }

    #[test]
    fn a_provider_failure_is_a_token_error() {
        let err = client(Err("endpoint said 401".into())).start().unwrap_err();
        assert_eq!(err, SaslError::Token("endpoint said 401".into()));
    }

    #[test]
    fn the_servers_error_document_is_answered_with_the_separator_and_kept() {
        let mut c = client(Ok(token("t", &[])));
        c.start().unwrap();
        let doc = br#"{"status":"invalid_token"}"#;
        assert_eq!(c.step(doc), Ok(Some(vec![0x01])));
        let err = c.step(b"").unwrap_err();
        assert!(
            matches!(&err, SaslError::Protocol(m) if m.contains("invalid_token")),
            "{err:?}"
        );
    }

    #[test]
    fn steps_out_of_order_are_errors() {
        let mut c = client(Ok(token("t", &[])));
        assert!(c.step(b"").is_err());
        let mut c = client(Ok(token("t", &[])));
        c.start().unwrap();
        assert!(c.start().is_err());
    }
}
