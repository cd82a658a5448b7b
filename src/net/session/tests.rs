//! Every state and transition of a session, driven by a scripted broker in memory: no
//! socket, no clock.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::*;
use crate::config::SecurityConfig;
use crate::net::sasl::SaslMechanism;
use crate::protocol::api::api_versions::{ApiVersion, ApiVersionsResponse};
use crate::protocol::api::metadata::MetadataRequest;
use crate::protocol::api::sasl_authenticate::{SaslAuthenticateRequest, SaslAuthenticateResponse};
use crate::protocol::api::sasl_handshake::{SaslHandshakeRequest, SaslHandshakeResponse};
use crate::protocol::api::Message;
use crate::protocol::codec::Reader;
use crate::protocol::header::RequestHeader;

const CA: &str = include_str!("testdata/ca.pem");
const OTHER_CA: &str = include_str!("testdata/other-ca.pem");
const SERVER_CERT: &str = include_str!("testdata/server.pem");
const SERVER_KEY: &str = include_str!("testdata/server.key");

fn settings(sasl: bool, tls: Option<Arc<rustls::ClientConfig>>) -> Arc<SessionSettings> {
    let sasl = sasl.then(|| {
        let mut c = SecurityConfig::default();
        c.apply("sasl.username", "alice").unwrap();
        c.apply("sasl.password", "alice-secret").unwrap();
        SaslFactory::from_config(&c)
    });
    Arc::new(SessionSettings {
        client_id: "test".into(),
        max_frame: 1 << 20,
        request_timeout: Duration::from_secs(30),
        tls,
        sasl,
        api_version: None,
    })
}

fn connected(settings: Arc<SessionSettings>, host: &str, now: Instant) -> Session<u32> {
    let deadline = now + Duration::from_secs(10);
    let mut s = Session::new(settings, "1 (test:9092)".into(), host, deadline).unwrap();
    assert_eq!(s.state(), ConnState::Connecting);
    s.connected(now).unwrap();
    s
}

/// A request the client wrote: its header and body.
struct Sent {
    header: RequestHeader,
    body: Reader,
}

/// Takes every request frame the client has written.
fn sent(s: &mut Session<u32>) -> Vec<Sent> {
    let mut out = Vec::new();
    s.write_to(&mut out).unwrap();
    split_requests(&out)
}

fn split_requests(mut bytes: &[u8]) -> Vec<Sent> {
    let mut frames = Vec::new();
    while bytes.len() >= 4 {
        let size = i32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
        let frame = Bytes::copy_from_slice(&bytes[4..4 + size]);
        bytes = &bytes[4 + size..];
        let mut r = Reader::new(frame.clone());
        let key = i16::from_be_bytes([frame[0], frame[1]]);
        let version = i16::from_be_bytes([frame[2], frame[3]]);
        let hv = api::request_header_version(ApiKey(key), version);
        let header = RequestHeader::decode(&mut r, hv).unwrap();
        frames.push(Sent { header, body: r });
    }
    assert!(bytes.is_empty(), "a partial request frame");
    frames
}

/// The response frame (size prefix included) to `req`.
fn answer(req: &Sent, msg: &impl Message) -> Vec<u8> {
    let version = req.header.api_version;
    let mut body = req.header.correlation_id.to_be_bytes().to_vec();
    if api::response_header_version(req.header.api_key, version) >= 1 {
        body.push(0); // no tagged fields
    }
    msg.encode(&mut body, version).unwrap();
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    frame
}

fn api_versions_ok() -> ApiVersionsResponse {
    let api = |k: ApiKey, max| ApiVersion {
        api_key: k.0,
        min_version: 0,
        max_version: max,
    };
    ApiVersionsResponse {
        error_code: 0,
        api_keys: vec![
            api(ApiKey::API_VERSIONS, 3),
            api(ApiKey::METADATA, 12),
            api(ApiKey::SASL_HANDSHAKE, 1),
            api(ApiKey::SASL_AUTHENTICATE, 2),
        ],
        ..Default::default()
    }
}

fn feed(s: &mut Session<u32>, bytes: &[u8], now: Instant) -> Result<Vec<Event<u32>>, Error> {
    let mut events = Vec::new();
    s.receive(bytes, now, &mut events)?;
    Ok(events)
}

fn is_ready(events: &[Event<u32>]) -> bool {
    matches!(events, [Event::Ready])
}

fn metadata() -> MetadataRequest {
    MetadataRequest::default()
}

/// Sends a metadata request of the owner's with context `ctx`.
fn send_user(s: &mut Session<u32>, ctx: u32, now: Instant) {
    s.send(&metadata(), 12, Some(ctx), Duration::from_secs(30), now)
        .unwrap();
}

#[test]
fn plaintext_handshake_with_the_answer_in_one_byte_pieces() {
    let now = Instant::now();
    let mut s = connected(settings(false, None), "127.0.0.1", now);
    assert_eq!(s.state(), ConnState::ApiVersions);
    let reqs = sent(&mut s);
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].header.api_key, ApiKey::API_VERSIONS);
    assert_eq!(reqs[0].header.api_version, API_VERSIONS_MAX_VERSION);
    let reply = answer(&reqs[0], &api_versions_ok());
    for (i, byte) in reply.iter().enumerate() {
        let events = feed(&mut s, &[*byte], now).unwrap();
        if i + 1 < reply.len() {
            assert!(
                events.is_empty(),
                "an event before the whole frame, at byte {i}"
            );
            assert_eq!(s.state(), ConnState::ApiVersions);
        } else {
            assert!(is_ready(&events));
        }
    }
    assert!(s.is_ready());
    assert_eq!(s.versions.pick(ApiKey::METADATA, 0, 12), Ok(12));
    assert_eq!(
        s.next_deadline(),
        None,
        "nothing to wait for once ready and idle"
    );
}

#[test]
fn an_older_broker_is_asked_again_at_the_version_it_lists() {
    let now = Instant::now();
    let mut s = connected(settings(false, None), "127.0.0.1", now);
    let reqs = sent(&mut s);
    // A broker that does not know v3 answers in v0 with UNSUPPORTED_VERSION.
    let mut body = reqs[0].header.correlation_id.to_be_bytes().to_vec();
    let refusal = ApiVersionsResponse {
        error_code: ErrorCode::UNSUPPORTED_VERSION.0,
        api_keys: vec![ApiVersion {
            api_key: ApiKey::API_VERSIONS.0,
            min_version: 0,
            max_version: 2,
        }],
        ..Default::default()
    };
    refusal.encode(&mut body, 0).unwrap();
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    assert!(feed(&mut s, &frame, now).unwrap().is_empty());
    let again = sent(&mut s);
    assert_eq!(again[0].header.api_key, ApiKey::API_VERSIONS);
    assert_eq!(again[0].header.api_version, 2);
    assert!(is_ready(
        &feed(&mut s, &answer(&again[0], &api_versions_ok()), now).unwrap()
    ));
}

use crate::protocol::error_code::ErrorCode;

/// Runs the handshake up to SaslAuthenticate; returns that request.
fn through_sasl_handshake(s: &mut Session<u32>, now: Instant) -> Sent {
    let reqs = sent(s);
    assert!(feed(s, &answer(&reqs[0], &api_versions_ok()), now)
        .unwrap()
        .is_empty());
    assert_eq!(s.state(), ConnState::SaslHandshake);
    let mut hs = sent(s);
    assert_eq!(hs.len(), 1);
    assert_eq!(hs[0].header.api_key, ApiKey::SASL_HANDSHAKE);
    assert_eq!(hs[0].header.api_version, 1);
    let req = SaslHandshakeRequest::decode(&mut hs[0].body, 1).unwrap();
    assert_eq!(req.mechanism, "PLAIN");
    let ok = SaslHandshakeResponse {
        error_code: 0,
        mechanisms: vec!["PLAIN".into()],
    };
    assert!(feed(s, &answer(&hs[0], &ok), now).unwrap().is_empty());
    assert_eq!(s.state(), ConnState::SaslAuthenticate);
    let mut auth = sent(s);
    assert_eq!(auth.len(), 1);
    assert_eq!(auth[0].header.api_key, ApiKey::SASL_AUTHENTICATE);
    let v = auth[0].header.api_version;
    let req = SaslAuthenticateRequest::decode(&mut auth[0].body, v).unwrap();
    assert_eq!(&req.auth_bytes[..], b"\0alice\0alice-secret");
    auth.remove(0)
}

fn authenticated(lifetime_ms: i64) -> SaslAuthenticateResponse {
    SaslAuthenticateResponse {
        error_code: 0,
        error_message: None,
        auth_bytes: Bytes::new(),
        session_lifetime_ms: lifetime_ms,
    }
}

#[test]
fn sasl_plain_then_ready_with_reauthentication_at_85_to_95_percent_of_the_lifetime() {
    let now = Instant::now();
    let mut s = connected(settings(true, None), "127.0.0.1", now);
    let auth = through_sasl_handshake(&mut s, now);
    assert_eq!(auth.header.api_version, 2);
    let events = feed(&mut s, &answer(&auth, &authenticated(10_000)), now).unwrap();
    assert!(is_ready(&events));
    assert_eq!(s.authentications, 1);
    let at = s.next_deadline().expect("a re-authentication is scheduled");
    let after = at - now;
    assert!(
        after >= Duration::from_millis(8_500) && after <= Duration::from_millis(9_500),
        "{after:?}"
    );
    // Nothing happens before it is due.
    s.handle_timeout(at - Duration::from_millis(1)).unwrap();
    assert!(sent(&mut s).is_empty());
}

#[test]
fn a_mechanism_the_broker_does_not_enable_names_the_enabled_ones() {
    let now = Instant::now();
    let mut s = connected(settings(true, None), "127.0.0.1", now);
    let reqs = sent(&mut s);
    feed(&mut s, &answer(&reqs[0], &api_versions_ok()), now).unwrap();
    let hs = sent(&mut s);
    let refusal = SaslHandshakeResponse {
        error_code: ErrorCode::UNSUPPORTED_SASL_MECHANISM.0,
        mechanisms: vec!["SCRAM-SHA-512".into(), "OAUTHBEARER".into()],
    };
    match feed(&mut s, &answer(&hs[0], &refusal), now) {
        Err(Error::SaslMechanismNotEnabled {
            mechanism, enabled, ..
        }) => {
            assert_eq!(mechanism, "PLAIN");
            assert_eq!(enabled, ["SCRAM-SHA-512", "OAUTHBEARER"]);
        }
        other => panic!("{:?}", other.err()),
    }
}

#[test]
fn a_wrong_password_is_an_authentication_error_with_the_brokers_message() {
    let now = Instant::now();
    let mut s = connected(settings(true, None), "127.0.0.1", now);
    let auth = through_sasl_handshake(&mut s, now);
    let refusal = SaslAuthenticateResponse {
        error_code: 58,
        error_message: Some("Authentication failed: Invalid username or password".into()),
        auth_bytes: Bytes::new(),
        session_lifetime_ms: 0,
    };
    let err = feed(&mut s, &answer(&auth, &refusal), now).err().unwrap();
    assert!(matches!(err, Error::SaslAuthentication { .. }), "{err}");
    assert!(err.is_fatal_handshake());
    assert!(
        err.to_string().contains("Invalid username or password"),
        "{err}"
    );
    assert!(!s.is_ready());
}

#[test]
fn reauthentication_amid_requests_in_flight_loses_and_reorders_nothing() {
    let now = Instant::now();
    let mut s = connected(settings(true, None), "127.0.0.1", now);
    let auth = through_sasl_handshake(&mut s, now);
    feed(&mut s, &answer(&auth, &authenticated(1_000)), now).unwrap();
    // Two requests in flight when the re-authentication becomes due.
    send_user(&mut s, 1, now);
    send_user(&mut s, 2, now);
    let first = sent(&mut s);
    assert_eq!(first.len(), 2);
    let due = s.next_deadline().unwrap();
    s.handle_timeout(due).unwrap();
    assert!(s.is_reauthenticating());
    assert!(s.is_ready(), "the owner may go on sending");
    // A request sent now waits behind the re-authentication.
    send_user(&mut s, 3, due);
    let hs = sent(&mut s);
    assert_eq!(hs.len(), 1, "only SaslHandshake goes out");
    assert_eq!(hs[0].header.api_key, ApiKey::SASL_HANDSHAKE);
    assert_eq!(s.in_flight_count(), 3);
    // The broker answers in order: the two requests, then the handshake, in pieces.
    let mut wire = answer(
        &first[0],
        &crate::protocol::api::metadata::MetadataResponse::default(),
    );
    wire.extend(answer(
        &first[1],
        &crate::protocol::api::metadata::MetadataResponse::default(),
    ));
    let ok = SaslHandshakeResponse {
        error_code: 0,
        mechanisms: vec!["PLAIN".into()],
    };
    wire.extend(answer(&hs[0], &ok));
    let mut got = Vec::new();
    for piece in wire.chunks(7) {
        got.extend(feed(&mut s, piece, due).unwrap());
    }
    let ctxs: Vec<u32> = got
        .iter()
        .map(|e| match e {
            Event::Response(a) => a.request.ctx,
            _ => panic!("only responses so far"),
        })
        .collect();
    assert_eq!(ctxs, [1, 2]);
    let auth = sent(&mut s);
    assert_eq!(auth.len(), 1, "request 3 still held");
    assert_eq!(auth[0].header.api_key, ApiKey::SASL_AUTHENTICATE);
    let events = feed(&mut s, &answer(&auth[0], &authenticated(1_000)), due).unwrap();
    assert!(matches!(events[..], [Event::Reauthenticated]));
    assert_eq!(s.authentications, 2);
    assert!(!s.is_reauthenticating());
    // The held request goes out now, and its answer reaches its owner.
    let third = sent(&mut s);
    assert_eq!(third.len(), 1);
    assert_eq!(third[0].header.api_key, ApiKey::METADATA);
    let events = feed(
        &mut s,
        &answer(
            &third[0],
            &crate::protocol::api::metadata::MetadataResponse::default(),
        ),
        due,
    )
    .unwrap();
    assert!(matches!(&events[..], [Event::Response(a)] if a.request.ctx == 3));
    assert!(
        s.next_deadline().unwrap() > due,
        "the next re-authentication is scheduled"
    );
}

#[test]
fn a_failed_reauthentication_hands_back_every_request_in_flight_or_held() {
    let now = Instant::now();
    let mut s = connected(settings(true, None), "127.0.0.1", now);
    let auth = through_sasl_handshake(&mut s, now);
    feed(&mut s, &answer(&auth, &authenticated(1_000)), now).unwrap();
    send_user(&mut s, 1, now);
    let due = s.next_deadline().unwrap();
    s.handle_timeout(due).unwrap();
    send_user(&mut s, 2, due);
    let out = sent(&mut s);
    let refusal = SaslHandshakeResponse {
        error_code: ErrorCode::UNSUPPORTED_SASL_MECHANISM.0,
        mechanisms: vec![],
    };
    let mut wire = answer(
        &out[0],
        &crate::protocol::api::metadata::MetadataResponse::default(),
    );
    wire.extend(answer(&out[1], &refusal));
    let mut events = Vec::new();
    let err = s.receive(&wire, due, &mut events).err().unwrap();
    assert!(matches!(err, Error::SaslMechanismNotEnabled { .. }));
    assert!(matches!(&events[..], [Event::Response(a)] if a.request.ctx == 1));
    let left: Vec<u32> = s.drain_in_flight().into_iter().map(|r| r.ctx).collect();
    assert_eq!(left, [2], "the held request is handed back to fail");
}

#[test]
fn a_mismatched_or_headerless_response_leaves_every_request_in_flight_to_fail() {
    for reply in [&[0, 0, 0, 4, 0, 0, 0, 9][..], &[0, 0, 0, 2, 0, 7][..]] {
        let now = Instant::now();
        let mut s = connected(settings(false, None), "127.0.0.1", now);
        let reqs = sent(&mut s);
        feed(&mut s, &answer(&reqs[0], &api_versions_ok()), now).unwrap();
        send_user(&mut s, 10, now);
        send_user(&mut s, 20, now);
        let err = feed(&mut s, reply, now).err().unwrap();
        assert!(matches!(err, Error::Protocol(_)), "{err}");
        let left: Vec<u32> = s.drain_in_flight().into_iter().map(|r| r.ctx).collect();
        assert_eq!(left, [10, 20], "no request is dropped");
    }
}

#[test]
fn plaintext_against_a_tls_listener_is_recognised_by_its_alert() {
    let now = Instant::now();
    let mut s = connected(settings(false, None), "127.0.0.1", now);
    sent(&mut s);
    // A TLS alert record: content type 21, version 3.3, length 2, fatal, decode_error.
    let err = feed(&mut s, &[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32], now)
        .err()
        .unwrap();
    assert!(matches!(err, Error::TlsListener { .. }), "{err}");
}

#[test]
fn the_whole_handshake_must_finish_within_the_setup_timeout() {
    let now = Instant::now();
    let mut s = connected(settings(true, None), "127.0.0.1", now);
    sent(&mut s);
    let limit = Duration::from_secs(10);
    assert!(s.timed_out(now + Duration::from_secs(9), limit).is_none());
    let err = s.timed_out(now + limit, limit).unwrap();
    assert!(err.to_string().contains("ApiVersions"), "{err}");
}

// TLS, against a rustls server in memory.

fn tls_client(ca: &str) -> Arc<rustls::ClientConfig> {
    let c = SecurityConfig {
        ssl_ca_pem: Some(ca.into()),
        ..Default::default()
    };
    super::super::tls::client_config(&c).unwrap()
}

fn tls_server() -> rustls::ServerConnection {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_slice_iter(SERVER_CERT.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(SERVER_KEY.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(super::super::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    rustls::ServerConnection::new(Arc::new(config)).unwrap()
}

/// Moves bytes both ways until neither side has anything to send; returns the client's
/// events and the plaintext the server received.
fn pump(
    s: &mut Session<u32>,
    server: &mut rustls::ServerConnection,
    now: Instant,
) -> Result<(Vec<Event<u32>>, Vec<u8>), Error> {
    let mut events = Vec::new();
    let mut plain = Vec::new();
    for _ in 0..20 {
        let mut to_server = Vec::new();
        s.write_to(&mut to_server).unwrap();
        server.read_tls(&mut &to_server[..]).unwrap();
        server.process_new_packets().unwrap();
        let _ = std::io::Read::read_to_end(&mut server.reader(), &mut plain);
        let mut to_client = Vec::new();
        server.write_tls(&mut to_client).unwrap();
        // Deliver in small pieces, as a slow network would.
        for piece in to_client.chunks(100) {
            s.receive(piece, now, &mut events)?;
        }
        if to_server.is_empty() && to_client.is_empty() {
            break;
        }
    }
    Ok((events, plain))
}

#[test]
fn tls_handshake_then_api_versions_inside_tls() {
    let now = Instant::now();
    let mut s = connected(settings(false, Some(tls_client(CA))), "localhost", now);
    assert_eq!(s.state(), ConnState::Tls);
    let mut server = tls_server();
    let (events, plain) = pump(&mut s, &mut server, now).unwrap();
    assert!(events.is_empty());
    assert_eq!(s.state(), ConnState::ApiVersions);
    let reqs = split_requests(&plain);
    assert_eq!(reqs[0].header.api_key, ApiKey::API_VERSIONS);
    server
        .writer()
        .write_all(&answer(&reqs[0], &api_versions_ok()))
        .unwrap();
    let (events, _) = pump(&mut s, &mut server, now).unwrap();
    assert!(is_ready(&events));
    // Requests and responses go through TLS in order.
    send_user(&mut s, 7, now);
    let (_, plain) = pump(&mut s, &mut server, now).unwrap();
    let reqs = split_requests(&plain);
    assert_eq!(reqs[0].header.api_key, ApiKey::METADATA);
    server
        .writer()
        .write_all(&answer(
            &reqs[0],
            &crate::protocol::api::metadata::MetadataResponse::default(),
        ))
        .unwrap();
    let (events, _) = pump(&mut s, &mut server, now).unwrap();
    assert!(matches!(&events[..], [Event::Response(a)] if a.request.ctx == 7));
}

#[test]
fn tls_errors_are_typed() {
    let now = Instant::now();
    let mut s = connected(
        settings(false, Some(tls_client(OTHER_CA))),
        "localhost",
        now,
    );
    let err = pump(&mut s, &mut tls_server(), now).err().unwrap();
    assert!(matches!(err, Error::CertificateNotTrusted { .. }), "{err}");
    assert!(err.is_fatal_handshake());

    let mut s = connected(settings(false, Some(tls_client(CA))), "other.example", now);
    let err = pump(&mut s, &mut tls_server(), now).err().unwrap();
    assert!(
        matches!(err, Error::CertificateHostnameMismatch { .. }),
        "{err}"
    );

    // Without the host name check the same certificate is accepted.
    let c = SecurityConfig {
        ssl_ca_pem: Some(CA.into()),
        ssl_check_hostname: false,
        ..Default::default()
    };
    let tls = super::super::tls::client_config(&c).unwrap();
    let mut s = connected(settings(false, Some(tls)), "other.example", now);
    pump(&mut s, &mut tls_server(), now).unwrap();
    assert_eq!(s.state(), ConnState::ApiVersions);
}

#[test]
fn tls_against_a_listener_that_closes_or_answers_plain_kafka() {
    let now = Instant::now();
    let mut s = connected(settings(false, Some(tls_client(CA))), "localhost", now);
    s.write_to(&mut Vec::new()).unwrap(); // the ClientHello
    let mut events = Vec::new();
    let err = s.read_from(&mut &[][..], now, &mut events).err().unwrap();
    assert!(matches!(err, Error::NotTlsListener { .. }), "{err}");

    let mut s = connected(settings(false, Some(tls_client(CA))), "localhost", now);
    s.write_to(&mut Vec::new()).unwrap();
    let err = feed(&mut s, &[0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0], now)
        .err()
        .unwrap();
    assert!(matches!(err, Error::NotTlsListener { .. }), "{err}");
}

/// A mechanism of two round trips, as SCRAM has: `c1`, then `c2` after `s1`, done after `s2`.
#[derive(Debug, Default)]
struct TwoSteps {
    step: u8,
}

impl SaslMechanism for TwoSteps {
    fn name(&self) -> &'static str {
        "PLAIN"
    }
    fn start(&mut self) -> Result<Vec<u8>, crate::net::sasl::SaslError> {
        Ok(b"c1".to_vec())
    }
    fn step(&mut self, server: &[u8]) -> Result<Option<Vec<u8>>, crate::net::sasl::SaslError> {
        self.step += 1;
        match (self.step, server) {
            (1, b"s1") => Ok(Some(b"c2".to_vec())),
            (2, b"s2") => Ok(None),
            _ => Err(crate::net::sasl::SaslError::ServerNotVerified),
        }
    }
}

fn two_step_settings() -> Arc<SessionSettings> {
    Arc::new(SessionSettings {
        sasl: Some(SaslFactory::scripted(|| Box::<TwoSteps>::default())),
        ..Arc::unwrap_or_clone(settings(false, None))
    })
}

fn server_says(bytes: &[u8]) -> SaslAuthenticateResponse {
    SaslAuthenticateResponse {
        auth_bytes: Bytes::copy_from_slice(bytes),
        ..authenticated(0)
    }
}

/// Runs the handshake up to the first SaslAuthenticate of the two-step mechanism.
fn two_steps_started(now: Instant) -> (Session<u32>, Sent) {
    let mut s = connected(two_step_settings(), "127.0.0.1", now);
    let reqs = sent(&mut s);
    feed(&mut s, &answer(&reqs[0], &api_versions_ok()), now).unwrap();
    let hs = sent(&mut s);
    let ok = SaslHandshakeResponse {
        error_code: 0,
        mechanisms: vec!["PLAIN".into()],
    };
    feed(&mut s, &answer(&hs[0], &ok), now).unwrap();
    let mut first = sent(&mut s).remove(0);
    let v = first.header.api_version;
    let req = SaslAuthenticateRequest::decode(&mut first.body, v).unwrap();
    assert_eq!(&req.auth_bytes[..], b"c1");
    (s, first)
}

#[test]
fn a_mechanism_of_several_round_trips_sends_each_message_in_turn() {
    let now = Instant::now();
    let (mut s, first) = two_steps_started(now);
    assert!(feed(&mut s, &answer(&first, &server_says(b"s1")), now)
        .unwrap()
        .is_empty());
    assert_eq!(s.state(), ConnState::SaslAuthenticate);
    let mut second = sent(&mut s).remove(0);
    let v = second.header.api_version;
    let req = SaslAuthenticateRequest::decode(&mut second.body, v).unwrap();
    assert_eq!(&req.auth_bytes[..], b"c2");
    let events = feed(&mut s, &answer(&second, &server_says(b"s2")), now).unwrap();
    assert!(is_ready(&events));
    assert_eq!(
        s.next_deadline(),
        None,
        "no session lifetime, no re-authentication"
    );
}

#[test]
fn a_server_the_mechanism_cannot_verify_fails_the_handshake() {
    let now = Instant::now();
    let (mut s, first) = two_steps_started(now);
    let err = feed(&mut s, &answer(&first, &server_says(b"forged")), now)
        .err()
        .unwrap();
    assert!(matches!(err, Error::SaslAuthentication { .. }), "{err}");
    assert!(err.to_string().contains("server signature"), "{err}");
}
