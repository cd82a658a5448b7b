//! The SCRAM-SHA-256, SCRAM-SHA-512 and OAUTHBEARER mechanisms against the real secured
//! broker, over a raw socket (SaslHandshake + SaslAuthenticate frames from the crate's
//! protocol types), independent of the client's connection layer. A mechanism that
//! computed a wrong proof would be refused; one that accepted a wrong server signature
//! would not be caught here but is by the unit tests.

mod secured;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use kafka_sync::oauth::{OAuthToken, TokenProvider, UnsecuredJwtProvider};
use kafka_sync::protocol::api::MetadataRequest;
use kafka_sync::sasl_exchange::SaslExchange;
use kafka_sync::ErrorCode;
use secured::{sasl_plaintext_bootstrap, RawConnection};

fn authenticate(sasl: SaslExchange) -> Result<RawConnection, secured::Refused> {
    let mut conn = RawConnection::connect(&sasl_plaintext_bootstrap());
    conn.authenticate(sasl).map(|()| conn)
}

/// An authenticated connection serves requests: the broker answers Metadata with itself.
fn assert_serves_requests(conn: &mut RawConnection) {
    let metadata = conn.call(12, &MetadataRequest::default());
    assert!(!metadata.brokers.is_empty(), "{metadata:?}");
}

#[test]
fn scram_sha_256_authenticates_alice_and_admin() {
    for (user, password) in [("alice", "alice-secret"), ("admin", "admin-secret")] {
        let mut conn = authenticate(SaslExchange::scram(256, user, password))
            .unwrap_or_else(|e| panic!("SCRAM-SHA-256 as {user}: {e:?}"));
        assert_serves_requests(&mut conn);
    }
}

#[test]
fn scram_sha_512_authenticates_alice_and_admin() {
    for (user, password) in [("alice", "alice-secret"), ("admin", "admin-secret")] {
        let mut conn = authenticate(SaslExchange::scram(512, user, password))
            .unwrap_or_else(|e| panic!("SCRAM-SHA-512 as {user}: {e:?}"));
        assert_serves_requests(&mut conn);
    }
}

#[test]
fn a_wrong_scram_password_or_user_is_sasl_authentication_failed() {
    for bits in [256, 512] {
        // A wrong password is refused on client-final (the proof); an unknown user on
        // client-first.
        for (user, password, rounds) in [("alice", "not-alices-secret", 2), ("nobody-here", "x", 1)]
        {
            let refused = authenticate(SaslExchange::scram(bits, user, password))
                .err()
                .unwrap_or_else(|| panic!("SCRAM-SHA-{bits} as {user}/{password} was accepted"));
            assert_eq!(
                refused.code,
                ErrorCode::SASL_AUTHENTICATION_FAILED,
                "SCRAM-SHA-{bits} {user}: {refused:?}"
            );
            assert_eq!(
                refused.rounds, rounds,
                "SCRAM-SHA-{bits} {user}: {refused:?}"
            );
        }
    }
}

#[test]
fn oauthbearer_with_an_unsecured_jwt_authenticates_its_subject() {
    for principal in ["alice", "admin"] {
        let provider = UnsecuredJwtProvider::new(principal)
            .lifetime(Duration::from_secs(300))
            .scope("test");
        let mut conn = authenticate(SaslExchange::oauthbearer(Arc::new(provider)))
            .unwrap_or_else(|e| panic!("OAUTHBEARER as {principal}: {e:?}"));
        assert_serves_requests(&mut conn);
    }
}

/// A provider that hands out one fixed token value.
#[derive(Debug)]
struct FixedToken(&'static str);

impl TokenProvider for FixedToken {
    fn token(&self) -> Result<OAuthToken, Box<dyn std::error::Error + Send + Sync>> {
        Ok(OAuthToken {
            value: self.0.into(),
            expires_at: SystemTime::now() + Duration::from_secs(60),
            principal: "nobody".into(),
            extensions: Default::default(),
        })
    }
}

#[test]
fn a_refused_oauthbearer_token_ends_in_sasl_authentication_failed() {
    // {"alg":"none"} . {} : no subject, so the broker's validator refuses it, sends its
    // error document, and fails the exchange once the client answers it.
    let no_subject = "eyJhbGciOiJub25lIn0.e30.";
    // {"alg":"none"} . {"sub":"alice","exp":1} : expired in 1970.
    let expired = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSIsImV4cCI6MX0.";
    for token in [no_subject, expired, "not-a-jwt"] {
        let refused = authenticate(SaslExchange::oauthbearer(Arc::new(FixedToken(token))))
            .err()
            .unwrap_or_else(|| panic!("token {token} was accepted"));
        assert_eq!(
            refused.code,
            ErrorCode::SASL_AUTHENTICATION_FAILED,
            "{token}: {refused:?}"
        );
        // The broker sent its error document and failed the exchange on our answer.
        assert_eq!(refused.rounds, 2, "{token}: {refused:?}");
        // ... and its reason, the error document, reaches the client as the message.
        let message = refused.message.as_deref().unwrap_or_default();
        assert!(message.contains("invalid_token"), "{token}: {refused:?}");
    }
}

#[test]
fn an_expired_unsecured_jwt_is_refused() {
    let provider = UnsecuredJwtProvider::new("alice").lifetime(Duration::ZERO);
    std::thread::sleep(Duration::from_millis(1100));
    let refused = authenticate(SaslExchange::oauthbearer(Arc::new(provider)))
        .err()
        .expect("a token that expires as it is made was accepted");
    assert_eq!(
        refused.code,
        ErrorCode::SASL_AUTHENTICATION_FAILED,
        "{refused:?}"
    );
}
