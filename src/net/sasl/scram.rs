//! SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677): placeholder, replaced by the
//! full mechanism on merge.

use super::{SaslError, SaslMechanism};

/// The hash a SCRAM mechanism uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScramHash {
    Sha256,
    Sha512,
}

/// One SCRAM exchange.
#[derive(Debug)]
pub(crate) struct ScramClient {
    hash: ScramHash,
}

impl ScramClient {
    pub(crate) fn new(hash: ScramHash, _username: &str, _password: &str) -> Self {
        ScramClient { hash }
    }
}

impl SaslMechanism for ScramClient {
    fn name(&self) -> &'static str {
        match self.hash {
            ScramHash::Sha256 => "SCRAM-SHA-256",
            ScramHash::Sha512 => "SCRAM-SHA-512",
        }
    }

    fn start(&mut self) -> Result<Vec<u8>, SaslError> {
        Err(SaslError::Protocol(
            "SCRAM is not built in this branch".into(),
        ))
    }

    fn step(&mut self, _server: &[u8]) -> Result<Option<Vec<u8>>, SaslError> {
        Err(SaslError::Protocol(
            "SCRAM is not built in this branch".into(),
        ))
    }
}
