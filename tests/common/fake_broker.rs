//! A scriptable fake broker, built into the fault proxy: per API, a script replaces the
//! real broker's response with a misbehaving one. Everything not scripted reaches the
//! client from the real broker unchanged (apart from the proxy's address rewriting).
//!
//! ```ignore
//! proxy.script(ApiKey::FETCH, None, Misbehave::WrongCorrelationId);
//! proxy.script(ApiKey::API_VERSIONS, Some(1), Misbehave::api_versions_unsupported_v0(2));
//! proxy.script(ApiKey::METADATA, None, Misbehave::metadata(|m| m.brokers.clear()));
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_sync::protocol::api::{
    ApiKey, ApiVersionsResponse, FetchResponse, Message, MetadataResponse,
};

use super::kafka_frames::{decode_body, framed, replace_body, RequestInfo};

/// Builds a new response body from the request and the real response frame.
pub type BodyFn = Arc<dyn Fn(&RequestInfo, &[u8]) -> Vec<u8> + Send + Sync>;

/// What the fake broker sends instead of the real response.
#[derive(Clone)]
pub enum Misbehave {
    /// The real response under another correlation id.
    WrongCorrelationId,
    /// `n` bytes of noise, no framing.
    Garbage(usize),
    /// The first half of the real response, then a FIN.
    TruncateThenClose,
    /// No response at all; the connection stays open.
    Silence,
    /// The real response, `bytes` at a time, one chunk every `every`.
    SlowDrip { bytes: usize, every: Duration },
    /// An RST instead of the response.
    Reset,
    /// A size prefix announcing `size` bytes, then the start of the real response and
    /// silence.
    HugeSizePrefix(i32),
    /// A crafted body under the real response's header.
    Body(BodyFn),
}

impl fmt::Debug for Misbehave {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Misbehave::WrongCorrelationId => write!(f, "WrongCorrelationId"),
            Misbehave::Garbage(n) => write!(f, "Garbage({n})"),
            Misbehave::TruncateThenClose => write!(f, "TruncateThenClose"),
            Misbehave::Silence => write!(f, "Silence"),
            Misbehave::SlowDrip { bytes, every } => write!(f, "SlowDrip({bytes}/{every:?})"),
            Misbehave::Reset => write!(f, "Reset"),
            Misbehave::HugeSizePrefix(n) => write!(f, "HugeSizePrefix({n})"),
            Misbehave::Body(_) => write!(f, "Body"),
        }
    }
}

/// What the proxy writes to the client.
pub enum Reply {
    /// These bytes; the connection stays open.
    Bytes(Vec<u8>),
    /// These bytes, `chunk` at a time, one chunk every `every`.
    Drip {
        bytes: Vec<u8>,
        chunk: usize,
        every: Duration,
    },
    /// These bytes, then a FIN.
    Close(Vec<u8>),
    /// An RST.
    Reset,
    /// Nothing.
    Nothing,
}

impl Misbehave {
    /// The reply in place of the real response `frame` (header and body, no prefix).
    pub fn reply(&self, info: &RequestInfo, frame: &[u8]) -> Reply {
        match self {
            Misbehave::WrongCorrelationId => {
                let mut wrong = frame.to_vec();
                let id = info.correlation_id.wrapping_add(1_000_000);
                wrong[..4].copy_from_slice(&id.to_be_bytes());
                Reply::Bytes(framed(&wrong))
            }
            Misbehave::Garbage(n) => Reply::Bytes(noise(*n, info.correlation_id as u32)),
            Misbehave::TruncateThenClose => {
                let whole = framed(frame);
                Reply::Close(whole[..4 + frame.len() / 2].to_vec())
            }
            Misbehave::Silence => Reply::Nothing,
            Misbehave::SlowDrip { bytes, every } => Reply::Drip {
                bytes: framed(frame),
                chunk: *bytes,
                every: *every,
            },
            Misbehave::Reset => Reply::Reset,
            Misbehave::HugeSizePrefix(size) => {
                let mut out = size.to_be_bytes().to_vec();
                out.extend_from_slice(&frame[..frame.len().min(8)]);
                Reply::Bytes(out)
            }
            Misbehave::Body(build) => {
                Reply::Bytes(framed(&replace_body(frame, info, &build(info, frame))))
            }
        }
    }

    /// The real response of type `M`, changed by `edit` and re-encoded.
    pub fn edit<M: Message + 'static>(edit: impl Fn(&mut M) + Send + Sync + 'static) -> Self {
        Misbehave::Body(Arc::new(move |info, frame| {
            let mut m: M = decode_body(frame, info).expect("the real response decodes");
            edit(&mut m);
            let mut out = Vec::new();
            m.encode(&mut out, info.api_version)
                .expect("an edited response encodes");
            out
        }))
    }

    /// A Metadata response changed by `edit`, e.g. `|m| m.brokers.clear()`.
    pub fn metadata(edit: impl Fn(&mut MetadataResponse) + Send + Sync + 'static) -> Self {
        Self::edit(edit)
    }

    /// Metadata whose partition leaders are a node that is not in the broker list.
    pub fn metadata_leader_not_in_broker_list() -> Self {
        Self::metadata(|m| {
            for t in &mut m.topics {
                for p in &mut t.partitions {
                    p.leader_id = 4242;
                }
            }
        })
    }

    /// Metadata with an empty broker list.
    pub fn metadata_without_brokers() -> Self {
        Self::metadata(|m| m.brokers.clear())
    }

    /// A Fetch response whose every partition holds `records` (with a high watermark
    /// past them) instead of what the broker sent.
    pub fn fetch_records(records: Bytes) -> Self {
        Self::edit(move |m: &mut FetchResponse| {
            for t in &mut m.responses {
                for p in &mut t.partitions {
                    p.error_code = 0;
                    p.high_watermark = p.high_watermark.max(1 << 40);
                    p.last_stable_offset = p.high_watermark;
                    p.records = Some(records.clone());
                }
            }
        })
    }

    /// ApiVersions answered UNSUPPORTED_VERSION in the v0 format, as a broker that does
    /// not know the requested version does, listing ApiVersions up to `max_version`.
    pub fn api_versions_unsupported_v0(max_version: i16) -> Self {
        Misbehave::Body(Arc::new(move |_, _| {
            let mut out = Vec::new();
            out.extend_from_slice(&35i16.to_be_bytes()); // UNSUPPORTED_VERSION
            out.extend_from_slice(&1i32.to_be_bytes()); // one api_keys entry
            out.extend_from_slice(&ApiKey::API_VERSIONS.0.to_be_bytes());
            out.extend_from_slice(&0i16.to_be_bytes());
            out.extend_from_slice(&max_version.to_be_bytes());
            out
        }))
    }

    /// ApiVersions with `keep` deciding which of the real broker's APIs stay listed
    /// (`|_| false`: an empty list).
    pub fn api_versions_keeping(keep: impl Fn(ApiKey) -> bool + Send + Sync + 'static) -> Self {
        Self::edit(move |m: &mut ApiVersionsResponse| {
            m.api_keys.retain(|k| keep(ApiKey(k.api_key)));
        })
    }

    /// A valid response header over a body of `n` bytes of noise.
    pub fn garbage_body(n: usize) -> Self {
        Misbehave::Body(Arc::new(move |info, _| {
            noise(n, info.correlation_id as u32)
        }))
    }
}

/// Deterministic noise (xorshift).
pub fn noise(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// One scripted misbehaviour: which API, how often, on which node.
pub struct Script {
    api: ApiKey,
    remaining: Option<usize>,
    /// Only on this node (None: every node).
    node: Option<i32>,
    /// Only for requests of a version above this one.
    above_version: Option<i16>,
    act: Misbehave,
}

impl Script {
    /// Replaces responses to `api`, at most `times` times (`None`: always).
    pub fn new(api: ApiKey, times: Option<usize>, act: Misbehave) -> Script {
        Script {
            api,
            remaining: times,
            node: None,
            above_version: None,
            act,
        }
    }

    /// Limits the script to one node.
    pub fn on_node(mut self, node: i32) -> Script {
        self.node = Some(node);
        self
    }

    /// Limits the script to requests of a version above `version`.
    pub fn above_version(mut self, version: i16) -> Script {
        self.above_version = Some(version);
        self
    }

    /// The misbehaviour for the response to `info` from `node`, if this script applies
    /// (and counts the use).
    pub fn take(&mut self, info: &RequestInfo, node: Option<i32>) -> Option<Misbehave> {
        if info.api_key != self.api
            || (self.node.is_some() && self.node != node)
            || self.above_version.is_some_and(|v| info.api_version <= v)
        {
            return None;
        }
        match &mut self.remaining {
            Some(0) => None,
            Some(n) => {
                *n -= 1;
                Some(self.act.clone())
            }
            None => Some(self.act.clone()),
        }
    }
}
