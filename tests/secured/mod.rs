//! A raw authenticated connection to the secured broker: SaslHandshake and
//! SaslAuthenticate frames written with the crate's protocol types over a plain TCP
//! socket, driven by the crate's SASL mechanisms. It checks a mechanism against the real
//! broker without the client's connection layer, and then sends requests as the
//! authenticated principal.
#![allow(dead_code)]

use std::env;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::Bytes;
use kafka_sync::protocol::api::{
    response_header_version, Request, SaslAuthenticateRequest, SaslHandshakeRequest,
};
use kafka_sync::protocol::frame::split_response;
use kafka_sync::protocol::header::encode_request;
use kafka_sync::sasl_exchange::SaslExchange;
use kafka_sync::ErrorCode;

/// Every read and write on the raw socket ends within this.
const IO_TIMEOUT: Duration = Duration::from_secs(15);

/// The SASL_PLAINTEXT listener of the secured single broker.
pub fn sasl_plaintext_bootstrap() -> String {
    match env::var("KAFKA_SASL_PLAINTEXT_BOOTSTRAP_SERVERS") {
        Ok(v) if !v.trim().is_empty() => v.split(',').next().unwrap_or_default().to_owned(),
        _ => panic!(
            "KAFKA_SASL_PLAINTEXT_BOOTSTRAP_SERVERS is not set: these tests need the secured \
             broker. Start it with `tests/kafka/broker start --secure` and export what it \
             prints (or run `tests/run`)."
        ),
    }
}

/// Why the broker refused an authentication.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused {
    pub code: ErrorCode,
    pub message: Option<String>,
    /// SaslAuthenticate requests sent, the refused one included (0: the handshake).
    pub rounds: usize,
}

/// One TCP connection speaking Kafka frames.
pub struct RawConnection {
    stream: TcpStream,
    correlation_id: i32,
}

impl RawConnection {
    pub fn connect(addr: &str) -> RawConnection {
        let stream = TcpStream::connect(addr).unwrap_or_else(|e| {
            panic!("cannot connect to the secured broker at {addr}: {e}; is it running?")
        });
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        RawConnection {
            stream,
            correlation_id: 0,
        }
    }

    /// Sends `req` at `version` and decodes the answer; panics on I/O or decode errors.
    pub fn call<R: Request>(&mut self, version: i16, req: &R) -> R::Response {
        self.correlation_id += 1;
        let mut out = Vec::new();
        encode_request(
            &mut out,
            self.correlation_id,
            Some("kafka-sync-test"),
            version,
            req,
        )
        .unwrap();
        self.stream.write_all(&out).expect("write a request");
        let mut size = [0u8; 4];
        self.stream
            .read_exact(&mut size)
            .unwrap_or_else(|e| panic!("read the answer to {}: {e}", R::API_KEY.name()));
        let size = i32::from_be_bytes(size);
        assert!((0..64 << 20).contains(&size), "frame size {size}");
        let mut frame = vec![0u8; size as usize];
        self.stream.read_exact(&mut frame).expect("read a frame");
        let (header, mut body) = split_response(
            Bytes::from(frame),
            response_header_version(R::API_KEY, version),
        )
        .unwrap();
        assert_eq!(header.correlation_id, self.correlation_id);
        <R::Response as kafka_sync::protocol::api::Message>::decode(&mut body, version)
            .unwrap_or_else(|e| panic!("decode {}: {e}", R::API_KEY.name()))
    }

    /// Runs the SASL exchange: SaslHandshake v1, then SaslAuthenticate v2 rounds until the
    /// mechanism is done. A mechanism error (a server signature that does not verify)
    /// panics; the broker's refusal is `Err`.
    pub fn authenticate(&mut self, mut sasl: SaslExchange) -> Result<(), Refused> {
        let handshake = self.call(
            1,
            &SaslHandshakeRequest {
                mechanism: sasl.name().into(),
            },
        );
        if handshake.error_code != 0 {
            return Err(Refused {
                code: ErrorCode(handshake.error_code),
                message: Some(format!("enabled: {:?}", handshake.mechanisms)),
                rounds: 0,
            });
        }
        let mut message = sasl.start().expect("the first client message");
        for round in 1..=8 {
            let answer = self.call(
                2,
                &SaslAuthenticateRequest {
                    auth_bytes: Bytes::from(message),
                },
            );
            if answer.error_code != 0 {
                return Err(Refused {
                    code: ErrorCode(answer.error_code),
                    message: answer.error_message,
                    rounds: round,
                });
            }
            match sasl
                .step(&answer.auth_bytes)
                .expect("the mechanism's next step")
            {
                Some(next) => message = next,
                None => return Ok(()),
            }
        }
        panic!("the SASL exchange did not end in 8 rounds");
    }
}

/// A connection authenticated as `user` with SCRAM-SHA-512; panics if refused.
pub fn scram_connection(user: &str, password: &str) -> RawConnection {
    let mut conn = RawConnection::connect(&sasl_plaintext_bootstrap());
    conn.authenticate(SaslExchange::scram(512, user, password))
        .unwrap_or_else(|e| panic!("SCRAM-SHA-512 as {user}: {e:?}"));
    conn
}
