//! OAUTHBEARER tokens (KIP-255, KIP-768): where a client configured with
//! `sasl_mechanism = OAUTHBEARER` gets the bearer token it authenticates with.
//!
//! The application implements [`TokenProvider`], or uses one of the providers here.

use std::collections::BTreeMap;
use std::fmt;
use std::time::SystemTime;

/// A bearer token and what the client needs to know about it.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthToken {
    /// The compact-serialized token sent to the broker.
    pub value: String,
    /// When the token stops being valid; the client gets a new one before then.
    pub expires_at: SystemTime,
    /// The principal the token names (its `sub` claim), for logs.
    pub principal: String,
    /// SASL extensions sent beside the token (KIP-342), such as `logicalCluster`.
    pub extensions: BTreeMap<String, String>,
}

impl fmt::Debug for OAuthToken {
    // The token is a credential: never print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthToken")
            .field("value", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("principal", &self.principal)
            .field("extensions", &self.extensions)
            .finish()
    }
}

/// Supplies OAUTHBEARER tokens. Called on the client's I/O thread whenever a connection
/// authenticates or re-authenticates, so it should answer quickly (cache the token and
/// refresh it ahead of its expiry).
pub trait TokenProvider: Send + Sync + fmt::Debug {
    /// A currently valid token.
    fn token(&self) -> Result<OAuthToken, Box<dyn std::error::Error + Send + Sync>>;
}

mod unsecured;
pub use unsecured::UnsecuredJwtProvider;

#[cfg(feature = "oauth-oidc")]
mod oidc;
#[cfg(feature = "oauth-oidc")]
pub use oidc::{OidcConfig, OidcTokenProvider};
