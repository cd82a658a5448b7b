//! SASL PLAIN (RFC 4616): one message, `authzid NUL authcid NUL password`, with an empty
//! authorization id as the Java client sends. The password travels as it is, so PLAIN
//! belongs on SASL_SSL listeners.

use super::{SaslError, SaslMechanism};

/// One PLAIN exchange.
pub(crate) struct PlainClient {
    message: Vec<u8>,
    sent: bool,
}

impl PlainClient {
    pub(crate) fn new(username: &str, password: &str) -> Self {
        let mut message = Vec::with_capacity(2 + username.len() + password.len());
        message.push(0);
        message.extend_from_slice(username.as_bytes());
        message.push(0);
        message.extend_from_slice(password.as_bytes());
        PlainClient {
            message,
            sent: false,
        }
    }
}

impl std::fmt::Debug for PlainClient {
    // The message holds the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlainClient")
            .field("sent", &self.sent)
            .finish()
    }
}

impl SaslMechanism for PlainClient {
    fn name(&self) -> &'static str {
        "PLAIN"
    }

    fn start(&mut self) -> Result<Vec<u8>, SaslError> {
        self.sent = true;
        Ok(std::mem::take(&mut self.message))
    }

    fn step(&mut self, server: &[u8]) -> Result<Option<Vec<u8>>, SaslError> {
        // The broker answers a PLAIN message with nothing; anything else is not PLAIN.
        if !self.sent {
            return Err(SaslError::Protocol("PLAIN step before start".into()));
        }
        if !server.is_empty() {
            return Err(SaslError::Protocol(format!(
                "PLAIN expects an empty answer, got {} bytes",
                server.len()
            )));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_message_then_done() {
        let mut m = PlainClient::new("alice", "alice-secret");
        assert_eq!(m.start().unwrap(), b"\0alice\0alice-secret");
        assert_eq!(m.step(b"").unwrap(), None);
        assert!(!format!("{m:?}").contains("secret"));
        let mut m = PlainClient::new("a", "b");
        assert!(m.step(b"").is_err(), "no step before start");
        m.start().unwrap();
        assert!(m.step(b"x").is_err());
    }
}
