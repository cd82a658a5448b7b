//! SASL authentication (KIP-152): each mechanism is a sans-IO exchange of messages. The
//! connection sends every client message in a SaslAuthenticate request and hands the
//! broker's answer back, until the mechanism says the exchange is complete.

use std::fmt;

mod factory;
pub(crate) mod oauthbearer;
mod plain;
pub(crate) mod scram;

pub(crate) use factory::SaslFactory;

/// One SASL exchange on one connection. A connection makes a fresh one for every
/// authentication, including each re-authentication (KIP-368), so nonces are never reused.
pub(crate) trait SaslMechanism: Send + fmt::Debug {
    /// The name sent in SaslHandshake, such as `"SCRAM-SHA-512"`.
    fn name(&self) -> &'static str;

    /// The first client message.
    fn start(&mut self) -> Result<Vec<u8>, SaslError>;

    /// Takes the broker's message (the `auth_bytes` of a successful SaslAuthenticate
    /// response). Returns the next client message, or `None` once the exchange is complete
    /// and, where the mechanism allows, the broker verified.
    fn step(&mut self, server: &[u8]) -> Result<Option<Vec<u8>>, SaslError>;
}

/// Why a mechanism could not go on. The broker's own refusals (a wrong password) arrive as
/// SaslAuthenticate error codes instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SaslError {
    /// The broker's message broke the mechanism's rules (a SCRAM nonce that does not
    /// extend ours, a malformed attribute).
    Protocol(String),
    /// The broker could not prove it knows the credentials (a SCRAM server signature that
    /// does not match): it may not be the broker we meant to reach.
    ServerNotVerified,
    /// The application's token provider gave no token.
    Token(String),
}

impl fmt::Display for SaslError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SaslError::Protocol(m) => write!(f, "the broker broke the SASL exchange: {m}"),
            SaslError::ServerNotVerified => {
                write!(f, "the broker's SASL server signature did not verify")
            }
            SaslError::Token(m) => write!(f, "no OAUTHBEARER token: {m}"),
        }
    }
}
