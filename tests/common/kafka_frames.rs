//! Kafka framing for the fault proxy: size-prefixed frames, the request header fields it
//! needs, and the rewriting of broker addresses in responses that carry them, so that a
//! client reaches every broker through the proxy and not only the bootstrap one.
//!
//! Responses are decoded and re-encoded with the crate's own generated protocol types,
//! so the proxy and the client share one codec.

use std::io::{self, Read, Write};

use bytes::Bytes;
use kafka_sync::protocol::api::{
    response_header_version, ApiKey, DescribeClusterResponse, FetchResponse,
    FindCoordinatorResponse, Message, MetadataResponse, ProduceResponse,
};
use kafka_sync::protocol::codec::Reader;
use kafka_sync::protocol::header::ResponseHeader;

/// Frames larger than this are treated as a broken stream (the real brokers' default
/// `socket.request.max.bytes` is 100 MiB).
pub const MAX_FRAME: usize = 256 << 20;

/// Reads one frame and returns its bytes without the size prefix; `Ok(None)` at a clean
/// end of stream.
pub fn read_frame(src: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut prefix = [0u8; 4];
    match src.read_exact(&mut prefix) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let size = i32::from_be_bytes(prefix);
    if size < 0 || size as usize > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame size {size}"),
        ));
    }
    let mut body = vec![0u8; size as usize];
    src.read_exact(&mut body)?;
    Ok(Some(body))
}

/// The frame with its size prefix, ready to write.
pub fn framed(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend_from_slice(&(body.len() as i32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// Writes `body` as one frame.
pub fn write_frame(dst: &mut impl Write, body: &[u8]) -> io::Result<()> {
    dst.write_all(&framed(body))
}

/// What the proxy learns from a request header: enough to decode the response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestInfo {
    pub api_key: ApiKey,
    pub api_version: i16,
    pub correlation_id: i32,
}

impl RequestInfo {
    /// Parses the fixed start of a request header (api key, version, correlation id).
    pub fn parse(frame: &[u8]) -> Option<RequestInfo> {
        let f = frame.get(..8)?;
        Some(RequestInfo {
            api_key: ApiKey(i16::from_be_bytes([f[0], f[1]])),
            api_version: i16::from_be_bytes([f[2], f[3]]),
            correlation_id: i32::from_be_bytes([f[4], f[5], f[6], f[7]]),
        })
    }

    /// The response header version the client expects for this request.
    pub fn response_header_version(&self) -> i16 {
        response_header_version(self.api_key, self.api_version)
    }
}

/// The correlation id at the start of a response frame.
pub fn response_correlation_id(frame: &[u8]) -> Option<i32> {
    let f = frame.get(..4)?;
    Some(i32::from_be_bytes([f[0], f[1], f[2], f[3]]))
}

/// Splits a response frame into its header length and decodes nothing else.
fn header_len(frame: &[u8], header_version: i16) -> Option<usize> {
    let mut r = Reader::new(Bytes::copy_from_slice(frame));
    ResponseHeader::decode(&mut r, header_version).ok()?;
    Some(frame.len() - r.remaining())
}

/// A response frame (header and body) with `body` in place of the original body, under
/// the same header.
pub fn replace_body(frame: &[u8], info: &RequestInfo, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    ResponseHeader {
        correlation_id: response_correlation_id(frame).unwrap_or(info.correlation_id),
    }
    .encode(&mut out, info.response_header_version());
    out.extend_from_slice(body);
    out
}

/// Decodes the body of a response frame as `M`.
pub fn decode_body<M: Message>(frame: &[u8], info: &RequestInfo) -> Option<M> {
    let start = header_len(frame, info.response_header_version())?;
    let bytes = Bytes::copy_from_slice(&frame[start..]);
    M::decode(&mut Reader::new(bytes), info.api_version).ok()
}

/// Encodes `message` as the body of a response to `info`, under a header with its
/// correlation id.
pub fn encode_response<M: Message>(message: &M, info: &RequestInfo) -> Vec<u8> {
    let mut out = Vec::new();
    ResponseHeader {
        correlation_id: info.correlation_id,
    }
    .encode(&mut out, info.response_header_version());
    message
        .encode(&mut out, info.api_version)
        .expect("a decoded response encodes at its own version");
    out
}

/// Maps a broker's advertised `(host, port)` to the address the client should use.
pub type AddressMap<'a> = &'a dyn Fn(i32, &str, i32) -> (String, i32);

/// Rewrites every broker address in a Metadata, FindCoordinator, DescribeCluster,
/// Produce or Fetch response through `map` (called with node id, host and port).
/// Other responses, and responses that do not decode, are returned unchanged.
pub fn rewrite_addresses(frame: Vec<u8>, info: &RequestInfo, map: AddressMap) -> Vec<u8> {
    match info.api_key {
        ApiKey::METADATA => rewrite::<MetadataResponse>(frame, info, |m| {
            for b in &mut m.brokers {
                (b.host, b.port) = map(b.node_id, &b.host, b.port);
            }
            true
        }),
        ApiKey::FIND_COORDINATOR => rewrite::<FindCoordinatorResponse>(frame, info, |m| {
            if m.node_id >= 0 && !m.host.is_empty() {
                (m.host, m.port) = map(m.node_id, &m.host, m.port);
            }
            for c in &mut m.coordinators {
                if c.node_id >= 0 && !c.host.is_empty() {
                    (c.host, c.port) = map(c.node_id, &c.host, c.port);
                }
            }
            true
        }),
        ApiKey::DESCRIBE_CLUSTER => rewrite::<DescribeClusterResponse>(frame, info, |m| {
            for b in &mut m.brokers {
                (b.host, b.port) = map(b.broker_id, &b.host, b.port);
            }
            true
        }),
        // Leader hints (KIP-951) after NOT_LEADER errors: rare, so re-encode only then.
        ApiKey::FETCH => rewrite::<FetchResponse>(frame, info, |m| {
            for e in &mut m.node_endpoints {
                (e.host, e.port) = map(e.node_id, &e.host, e.port);
            }
            !m.node_endpoints.is_empty()
        }),
        ApiKey::PRODUCE => rewrite::<ProduceResponse>(frame, info, |m| {
            for e in &mut m.node_endpoints {
                (e.host, e.port) = map(e.node_id, &e.host, e.port);
            }
            !m.node_endpoints.is_empty()
        }),
        _ => frame,
    }
}

/// Decodes the response, lets `edit` change it (returning whether it did), and
/// re-encodes it when it changed.
fn rewrite<M: Message>(
    frame: Vec<u8>,
    info: &RequestInfo,
    edit: impl FnOnce(&mut M) -> bool,
) -> Vec<u8> {
    let Some(mut message) = decode_body::<M>(&frame, info) else {
        return frame;
    };
    if !edit(&mut message) {
        return frame;
    }
    let mut info = *info;
    info.correlation_id = response_correlation_id(&frame).unwrap_or(info.correlation_id);
    encode_response(&message, &info)
}
