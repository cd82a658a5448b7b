//! OAUTHBEARER (RFC 7628, KIP-255): placeholder, replaced by the full mechanism on merge.

use std::sync::Arc;

use super::{SaslError, SaslMechanism};
use crate::oauth::TokenProvider;

/// One OAUTHBEARER exchange.
#[derive(Debug)]
pub(crate) struct OAuthBearerClient {
    _provider: Arc<dyn TokenProvider>,
}

impl OAuthBearerClient {
    pub(crate) fn new(provider: Arc<dyn TokenProvider>) -> Self {
        OAuthBearerClient {
            _provider: provider,
        }
    }
}

impl SaslMechanism for OAuthBearerClient {
    fn name(&self) -> &'static str {
        "OAUTHBEARER"
    }

    fn start(&mut self) -> Result<Vec<u8>, SaslError> {
        Err(SaslError::Protocol(
            "OAUTHBEARER is not built in this branch".into(),
        ))
    }

    fn step(&mut self, _server: &[u8]) -> Result<Option<Vec<u8>>, SaslError> {
        Err(SaslError::Protocol(
            "OAUTHBEARER is not built in this branch".into(),
        ))
    }
}
