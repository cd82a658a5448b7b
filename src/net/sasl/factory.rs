//! Makes the configured mechanism, fresh for each authentication and re-authentication.

use std::sync::Arc;

use crate::config::{SaslMechanismName, SecurityConfig};
use crate::oauth::TokenProvider;

use super::oauthbearer::OAuthBearerClient;
use super::plain::PlainClient;
use super::scram::{ScramClient, ScramHash};
use super::SaslMechanism;

/// The mechanism and credentials a connection authenticates with.
#[derive(Clone)]
pub(crate) struct SaslFactory {
    mechanism: SaslMechanismName,
    username: String,
    password: String,
    provider: Option<Arc<dyn TokenProvider>>,
    /// A scripted mechanism instead of the configured one, for the connection's tests.
    #[cfg(test)]
    scripted: Option<fn() -> Box<dyn SaslMechanism>>,
}

impl std::fmt::Debug for SaslFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaslFactory")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .finish()
    }
}

impl SaslFactory {
    /// The factory for a validated config (which checked the credentials are there).
    pub(crate) fn from_config(config: &SecurityConfig) -> Self {
        SaslFactory {
            mechanism: config.sasl_mechanism,
            username: config.sasl_username.clone().unwrap_or_default(),
            password: config
                .sasl_password
                .as_ref()
                .map(|p| p.expose().to_owned())
                .unwrap_or_default(),
            provider: config.oauth_token_provider(),
            #[cfg(test)]
            scripted: None,
        }
    }

    /// A factory making `make()`'s mechanism, named PLAIN in the handshake.
    #[cfg(test)]
    pub(crate) fn scripted(make: fn() -> Box<dyn SaslMechanism>) -> Self {
        SaslFactory {
            scripted: Some(make),
            ..Self::from_config(&SecurityConfig::default())
        }
    }

    /// The mechanism's name, as sent in SaslHandshake.
    pub(crate) fn name(&self) -> &'static str {
        self.mechanism.name()
    }

    /// A fresh exchange.
    pub(crate) fn make(&self) -> Box<dyn SaslMechanism> {
        #[cfg(test)]
        if let Some(make) = self.scripted {
            return make();
        }
        let (user, password) = (self.username.as_str(), self.password.as_str());
        match (self.mechanism, &self.provider) {
            (SaslMechanismName::ScramSha256, _) => {
                Box::new(ScramClient::new(ScramHash::Sha256, user, password))
            }
            (SaslMechanismName::ScramSha512, _) => {
                Box::new(ScramClient::new(ScramHash::Sha512, user, password))
            }
            (SaslMechanismName::OAuthBearer, Some(provider)) => {
                Box::new(OAuthBearerClient::new(provider.clone()))
            }
            // Validation refuses OAUTHBEARER without a provider; PLAIN otherwise.
            _ => Box::new(PlainClient::new(user, password)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makes_the_configured_mechanism_each_time() {
        let mut c = SecurityConfig::default();
        c.apply("sasl.username", "u").unwrap();
        c.apply("sasl.password", "p").unwrap();
        for (name, want) in [
            ("PLAIN", "PLAIN"),
            ("SCRAM-SHA-256", "SCRAM-SHA-256"),
            ("SCRAM-SHA-512", "SCRAM-SHA-512"),
        ] {
            c.apply("sasl.mechanism", name).unwrap();
            let f = SaslFactory::from_config(&c);
            assert_eq!(f.name(), want);
            assert_eq!(f.make().name(), want);
        }
        c.apply("sasl.password", "hunter2").unwrap();
        let f = SaslFactory::from_config(&c);
        assert!(!format!("{f:?}").contains("hunter2"));
    }
}
