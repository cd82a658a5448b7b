//! The handshake's own requests: ApiVersions (with the fallback to an older version a
//! broker asks for), SaslHandshake v1 and the SaslAuthenticate exchange, and
//! re-authentication before the broker's session lifetime ends (KIP-368).

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::error::Error;
use crate::protocol::api::api_versions::{ApiVersionsRequest, ApiVersionsResponse};
use crate::protocol::api::sasl_authenticate::{SaslAuthenticateRequest, SaslAuthenticateResponse};
use crate::protocol::api::sasl_handshake::{SaslHandshakeRequest, SaslHandshakeResponse};
use crate::protocol::api::{ApiKey, Message};
use crate::protocol::codec::{DecodeError, Reader};
use crate::protocol::error_code::ErrorCode;

use super::super::versions::ApiVersionTable;
use super::{ConnState, Event, Held, Owner, RequestBody, Session};

impl<X> Session<X> {
    pub(super) fn start_api_versions(&mut self, version: i16, now: Instant) -> Result<(), Error> {
        self.state = ConnState::ApiVersions;
        self.step = ConnState::ApiVersions;
        let req = ApiVersionsRequest {
            client_software_name: "kafka-sync".into(),
            client_software_version: env!("CARGO_PKG_VERSION").into(),
        };
        self.send_handshake(&req, version, now)
    }

    fn send_handshake(
        &mut self,
        body: &dyn RequestBody,
        version: i16,
        now: Instant,
    ) -> Result<(), Error> {
        let timeout = self.settings.request_timeout;
        self.encode(body, version, Some(Owner::Handshake), timeout, now, true)
            .map_err(Error::from)
    }

    /// A response to one of the handshake's requests; which one, the state says (the
    /// SASL step, while re-authenticating).
    pub(super) fn on_handshake_response(
        &mut self,
        version: i16,
        header_version: i16,
        frame: Bytes,
        now: Instant,
        out: &mut Vec<Event<X>>,
    ) -> Result<(), Error> {
        let mut body = Reader::new(frame);
        let header = body.i32().and_then(|_| {
            if header_version >= 1 {
                body.tagged_fields(|_, _| Ok(()))
            } else {
                Ok(())
            }
        });
        header.map_err(|e| Error::Protocol(format!("a handshake response header: {e}")))?;
        match self.step {
            ConnState::ApiVersions => self.on_api_versions(body, version, now, out),
            ConnState::SaslHandshake => self.on_sasl_handshake(body, version, now),
            ConnState::SaslAuthenticate => self.on_sasl_authenticate(body, version, now, out),
            s => Err(Error::Protocol(format!(
                "a handshake response in state {s:?}"
            ))),
        }
    }

    fn on_api_versions(
        &mut self,
        body: Reader,
        version: i16,
        now: Instant,
        out: &mut Vec<Event<X>>,
    ) -> Result<(), Error> {
        let resp = decode_api_versions(body, version)
            .map_err(|e| Error::Protocol(format!("ApiVersions v{version} response: {e}")))?;
        if resp.error_code == ErrorCode::UNSUPPORTED_VERSION.0 && version > 0 {
            // As the Java client: ask again at the highest version the broker lists for
            // ApiVersions (brokers from 2.4 list it), else at v0.
            let theirs = resp
                .api_keys
                .iter()
                .find(|k| k.api_key == ApiKey::API_VERSIONS.0)
                .map_or(0, |k| k.max_version);
            return self.start_api_versions(theirs.min(version - 1).max(0), now);
        }
        if resp.error_code != 0 {
            return Err(Error::broker(ErrorCode(resp.error_code), None));
        }
        let mut versions = ApiVersionTable::pinned(self.settings.api_version);
        for k in &resp.api_keys {
            versions.insert(k.api_key, k.min_version, k.max_version);
        }
        self.versions = versions;
        if self.settings.sasl.is_some() {
            return self.start_sasl(now);
        }
        self.become_ready(out);
        Ok(())
    }

    fn start_sasl(&mut self, now: Instant) -> Result<(), Error> {
        let name = self.mechanism_name();
        // SaslHandshake v0 is the pre-1.0 raw-bytes exchange; every supported broker has v1.
        let version = self
            .versions
            .pick(ApiKey::SASL_HANDSHAKE, 1, 1)
            .map_err(|(min, max)| {
                self.sasl_error(format!(
                    "the broker has SaslHandshake v{min}..=v{max}, not v1 (Kafka 1.0 or newer)"
                ))
            })?;
        self.set_step(ConnState::SaslHandshake);
        self.send_handshake(
            &SaslHandshakeRequest {
                mechanism: name.into(),
            },
            version,
            now,
        )
    }

    fn on_sasl_handshake(
        &mut self,
        mut body: Reader,
        version: i16,
        now: Instant,
    ) -> Result<(), Error> {
        let resp = SaslHandshakeResponse::decode(&mut body, version)
            .map_err(|e| Error::Protocol(format!("SaslHandshake response: {e}")))?;
        if resp.error_code == ErrorCode::UNSUPPORTED_SASL_MECHANISM.0 {
            return Err(Error::SaslMechanismNotEnabled {
                broker: self.label.clone(),
                mechanism: self.mechanism_name().into(),
                enabled: resp.mechanisms,
            });
        }
        if resp.error_code == ErrorCode::ILLEGAL_SASL_STATE.0 && self.held.is_none() {
            // A first SaslHandshake refused so: the listener does not do SASL.
            return Err(self.sasl_error(
                "the listener does not take SASL (ILLEGAL_SASL_STATE): it is probably a \
                 PLAINTEXT or SSL listener; check security.protocol and the port"
                    .into(),
            ));
        }
        if resp.error_code != 0 {
            let code = ErrorCode(resp.error_code);
            return Err(self.sasl_error(format!("SaslHandshake failed with {code}")));
        }
        let Some(factory) = &self.settings.sasl else {
            return Err(Error::Protocol(
                "SaslHandshake answered without SASL".into(),
            ));
        };
        let mut mechanism = factory.make();
        let first = mechanism
            .start()
            .map_err(|e| self.sasl_error(e.to_string()))?;
        self.mechanism = Some(mechanism);
        self.set_step(ConnState::SaslAuthenticate);
        self.send_authenticate(first, now)
    }

    fn send_authenticate(&mut self, bytes: Vec<u8>, now: Instant) -> Result<(), Error> {
        let version = self
            .versions
            .pick(ApiKey::SASL_AUTHENTICATE, 0, 2)
            .map_err(|_| self.sasl_error("the broker has no SaslAuthenticate".into()))?;
        let req = SaslAuthenticateRequest {
            auth_bytes: Bytes::from(bytes),
        };
        self.send_handshake(&req, version, now)
    }

    fn on_sasl_authenticate(
        &mut self,
        mut body: Reader,
        version: i16,
        now: Instant,
        out: &mut Vec<Event<X>>,
    ) -> Result<(), Error> {
        let resp = SaslAuthenticateResponse::decode(&mut body, version)
            .map_err(|e| Error::Protocol(format!("SaslAuthenticate response: {e}")))?;
        if resp.error_code != 0 {
            let code = ErrorCode(resp.error_code);
            let reason = match resp.error_message.filter(|m| !m.is_empty()) {
                Some(m) => format!("{m} ({}); check the credentials", code.name()),
                None => format!("{code}; check the credentials"),
            };
            return Err(self.sasl_error(reason));
        }
        let Some(mechanism) = self.mechanism.as_mut() else {
            return Err(Error::Protocol(
                "SaslAuthenticate answered with no exchange".into(),
            ));
        };
        let next = mechanism
            .step(&resp.auth_bytes)
            .map_err(|e| self.sasl_error(e.to_string()))?;
        if let Some(next) = next {
            return self.send_authenticate(next, now);
        }
        self.mechanism = None;
        self.authentications += 1;
        self.reauth_at = (resp.session_lifetime_ms > 0).then(|| {
            let lifetime = Duration::from_millis(resp.session_lifetime_ms as u64);
            crate::deadline::after(now, lifetime.mul_f64(reauth_fraction()))
        });
        if let Some(held) = self.held.take() {
            self.resume_held(held);
            log::debug!(
                "re-authenticated with {} ({} authentications on this connection)",
                self.label,
                self.authentications
            );
            out.push(Event::Reauthenticated);
        } else {
            self.become_ready(out);
        }
        Ok(())
    }

    fn become_ready(&mut self, out: &mut Vec<Event<X>>) {
        self.state = ConnState::Ready;
        self.step = ConnState::Ready;
        out.push(Event::Ready);
    }

    /// Begins a re-authentication: SaslHandshake goes out behind every request already
    /// sent; requests sent from now on are held until it completes.
    pub(super) fn start_reauthentication(&mut self, now: Instant) -> Result<(), Error> {
        self.reauth_at = None;
        self.held = Some(Held {
            bytes: Vec::new(),
            in_flight: Default::default(),
        });
        self.start_sasl(now)
    }

    fn resume_held(&mut self, held: Held<X>) {
        self.step = ConnState::Ready;
        if self.write_pos == self.write_buf.len() {
            self.write_buf.clear();
            self.write_pos = 0;
        }
        self.write_buf.extend_from_slice(&held.bytes);
        self.in_flight.extend(held.in_flight);
    }

    /// Moves the SASL step on; before the first Ready the state follows it.
    fn set_step(&mut self, step: ConnState) {
        self.step = step;
        if self.state != ConnState::Ready {
            self.state = step;
        }
    }

    fn sasl_error(&self, reason: String) -> Error {
        Error::SaslAuthentication {
            broker: self.label.clone(),
            mechanism: self.mechanism_name().into(),
            reason,
        }
    }
}

/// A random point in 85-95% of the session lifetime, as the Java client picks, so the
/// connections of many clients do not re-authenticate all at once.
fn reauth_fraction() -> f64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x5eed);
    0.85 + (h.finish() % 10_001) as f64 / 100_000.0
}

/// Decodes an ApiVersions response. A broker that does not know the version asked for
/// answers in v0 with UNSUPPORTED_VERSION (KIP-511), so a body that does not decode in
/// the version asked for is read again as v0.
fn decode_api_versions(body: Reader, version: i16) -> Result<ApiVersionsResponse, DecodeError> {
    let first = ApiVersionsResponse::decode(&mut body.clone(), version);
    match first {
        Err(_) if version > 0 => match ApiVersionsResponse::decode(&mut body.clone(), 0) {
            Ok(v0) if v0.error_code == ErrorCode::UNSUPPORTED_VERSION.0 => Ok(v0),
            _ => first,
        },
        other => other,
    }
}

#[cfg(test)]
#[test]
fn reauth_fraction_stays_in_85_to_95_percent() {
    for _ in 0..200 {
        let f = reauth_fraction();
        assert!((0.85..=0.95).contains(&f), "{f}");
    }
}
