//! Test-only: the SASL mechanisms driven by hand, so that tests can authenticate over a
//! plain TCP socket with the crate's protocol types. Exists only with the `fuzzing`
//! feature; not part of the API.

use std::sync::Arc;

use crate::net::sasl::oauthbearer::OAuthBearerClient;
use crate::net::sasl::scram::{ScramClient, ScramHash};
use crate::net::sasl::SaslMechanism;
use crate::oauth::TokenProvider;

/// One SASL exchange of one mechanism.
#[derive(Debug)]
pub struct SaslExchange(Box<dyn SaslMechanism>);

impl SaslExchange {
    /// SCRAM-SHA-256 or SCRAM-SHA-512 (`bits` 256 or 512).
    pub fn scram(bits: u16, username: &str, password: &str) -> SaslExchange {
        let hash = if bits == 512 {
            ScramHash::Sha512
        } else {
            ScramHash::Sha256
        };
        SaslExchange(Box::new(ScramClient::new(hash, username, password)))
    }

    /// OAUTHBEARER with the provider's token.
    pub fn oauthbearer(provider: Arc<dyn TokenProvider>) -> SaslExchange {
        SaslExchange(Box::new(OAuthBearerClient::new(provider)))
    }

    /// The mechanism's name for SaslHandshake.
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// The first client message.
    pub fn start(&mut self) -> Result<Vec<u8>, String> {
        self.0.start().map_err(|e| e.to_string())
    }

    /// The next client message after the broker's, or `None` when complete.
    pub fn step(&mut self, server: &[u8]) -> Result<Option<Vec<u8>>, String> {
        self.0.step(server).map_err(|e| e.to_string())
    }
}
