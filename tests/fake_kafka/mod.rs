//! A local TCP server that speaks just enough Kafka to misbehave on purpose: a handler
//! decides, request by request, what goes back (a well-formed response, raw bytes, a
//! delay, a close). It counts the connections it accepts, for backoff tests.
//!
//! Only for faults a real broker will not produce; everything else runs against the real
//! broker.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_sync::protocol::api::api_versions::ApiVersion;
use kafka_sync::protocol::api::metadata::{
    MetadataRequest, MetadataResponse, MetadataResponseBroker, MetadataResponsePartition,
    MetadataResponseTopic,
};
use kafka_sync::protocol::api::{self, ApiKey, ApiVersionsResponse, Message};
use kafka_sync::protocol::codec::Reader;
use kafka_sync::protocol::header::RequestHeader;

/// One request as the fake broker read it.
pub struct Request {
    pub api_key: i16,
    pub api_version: i16,
    pub correlation_id: i32,
    /// The body, after the request header.
    pub body: Bytes,
    /// Which accepted connection it came on (0 for the first).
    pub connection: usize,
    /// The fake broker's own port, to advertise in Metadata.
    pub port: u16,
}

impl Request {
    /// Decodes the body as `M`.
    pub fn decode<M: Message>(&self) -> M {
        M::decode(&mut Reader::new(self.body.clone()), self.api_version).expect("request body")
    }
}

/// What the fake broker does with a request.
pub enum Reply {
    /// Sends this frame (without its size prefix, which is added).
    Frame(Vec<u8>),
    /// Waits, then does the inner reply.
    After(Duration, Box<Reply>),
    /// Closes the connection.
    Close,
    /// Sends nothing and keeps reading.
    Nothing,
}

mod answers;
mod broken;

// Each test binary uses its own subset of these.
#[allow(unused_imports)]
pub use answers::*;
#[allow(unused_imports)]
pub use broken::*;

type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

/// A running fake broker; it serves until the test process ends.
pub struct FakeKafka {
    pub addr: String,
    pub port: u16,
    accepted: Arc<Mutex<Vec<Instant>>>,
}

impl FakeKafka {
    /// Starts serving every connection with `handler`.
    pub fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> FakeKafka {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let times = accepted.clone();
        let count = Arc::new(AtomicUsize::new(0));
        thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                times.lock().unwrap().push(Instant::now());
                let index = count.fetch_add(1, Ordering::SeqCst);
                let handler = handler.clone();
                thread::spawn(move || serve(conn, index, port, &*handler));
            }
        });
        FakeKafka {
            addr: format!("127.0.0.1:{port}"),
            port,
            accepted,
        }
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.accepted.lock().unwrap().len()
    }

    /// When each connection was accepted.
    pub fn accept_times(&self) -> Vec<Instant> {
        self.accepted.lock().unwrap().clone()
    }
}

fn serve(mut conn: TcpStream, index: usize, port: u16, handler: &Handler) {
    loop {
        let mut size = [0u8; 4];
        if conn.read_exact(&mut size).is_err() {
            return;
        }
        let mut frame = vec![0u8; u32::from_be_bytes(size) as usize];
        if conn.read_exact(&mut frame).is_err() {
            return;
        }
        let mut r = Reader::new(Bytes::from(frame));
        let peek = r.peek_rest();
        let key = i16::from_be_bytes([peek[0], peek[1]]);
        let version = i16::from_be_bytes([peek[2], peek[3]]);
        let header_version = api::request_header_version(ApiKey(key), version);
        let header = RequestHeader::decode(&mut r, header_version).expect("request header");
        let request = Request {
            api_key: key,
            api_version: version,
            correlation_id: header.correlation_id,
            body: r.bytes_exact(r.remaining()).unwrap(),
            connection: index,
            port,
        };
        let mut reply = handler(&request);
        loop {
            match reply {
                Reply::After(wait, inner) => {
                    thread::sleep(wait);
                    reply = *inner;
                }
                Reply::Frame(bytes) => {
                    let mut out = (bytes.len() as u32).to_be_bytes().to_vec();
                    out.extend_from_slice(&bytes);
                    if conn.write_all(&out).is_err() {
                        return;
                    }
                    break;
                }
                Reply::Close => return,
                Reply::Nothing => break,
            }
        }
    }
}

/// A well-formed response to `req`: its correlation id, the header version and body
/// encoded at the request's version.
pub fn respond(req: &Request, body: &impl Message) -> Reply {
    let mut out = req.correlation_id.to_be_bytes().to_vec();
    if api::response_header_version(ApiKey(req.api_key), req.api_version) >= 1 {
        out.push(0); // no tagged fields
    }
    body.encode(&mut out, req.api_version)
        .expect("response body");
    Reply::Frame(out)
}

/// Every API key this client knows, each as `0..=i16::MAX` (the client then speaks its
/// own newest version).
pub fn all_api_versions() -> Vec<ApiVersion> {
    (0..=80)
        .map(|k| ApiVersion {
            api_key: k,
            min_version: 0,
            max_version: i16::MAX,
        })
        .collect()
}

/// A successful ApiVersions response with `keys`, in the version asked for.
pub fn api_versions(req: &Request, keys: Vec<ApiVersion>) -> Reply {
    respond(
        req,
        &ApiVersionsResponse {
            api_keys: keys,
            ..Default::default()
        },
    )
}

/// The topics a Metadata request asks for (`None`: all).
pub fn requested_topics(req: &Request) -> Option<Vec<String>> {
    let m: MetadataRequest = req.decode();
    m.topics
        .map(|ts| ts.into_iter().filter_map(|t| t.name).collect())
}

/// One topic of a Metadata response: its name and each partition's leader.
pub struct FakeTopic {
    pub name: String,
    pub leaders: Vec<i32>,
}

/// A Metadata response listing `brokers` (node id, port on 127.0.0.1) and those of
/// `topics` the request asked for; other requested topics are UNKNOWN_TOPIC_OR_PARTITION.
pub fn metadata(req: &Request, brokers: &[(i32, u16)], topics: &[FakeTopic]) -> Reply {
    let wanted = requested_topics(req);
    let mut out = Vec::new();
    let names: Vec<String> = match &wanted {
        Some(w) => w.clone(),
        None => topics.iter().map(|t| t.name.clone()).collect(),
    };
    for name in names {
        match topics.iter().find(|t| t.name == name) {
            Some(t) => out.push(MetadataResponseTopic {
                name: Some(name),
                partitions: t
                    .leaders
                    .iter()
                    .enumerate()
                    .map(|(i, leader)| MetadataResponsePartition {
                        partition_index: i as i32,
                        leader_id: *leader,
                        leader_epoch: 0,
                        replica_nodes: vec![*leader],
                        isr_nodes: vec![*leader],
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }),
            None => out.push(MetadataResponseTopic {
                error_code: 3,
                name: Some(name),
                ..Default::default()
            }),
        }
    }
    respond(
        req,
        &MetadataResponse {
            brokers: brokers
                .iter()
                .map(|(id, port)| MetadataResponseBroker {
                    node_id: *id,
                    host: "127.0.0.1".into(),
                    port: i32::from(*port),
                    rack: None,
                })
                .collect(),
            cluster_id: Some("fake".into()),
            controller_id: brokers.first().map_or(-1, |b| b.0),
            topics: out,
            ..Default::default()
        },
    )
}

/// A handler for a healthy single-node cluster (node 0) holding `topics`; it closes the
/// connection on any other request.
pub fn healthy(topics: Vec<FakeTopic>) -> impl Fn(&Request) -> Reply + Send + Sync + 'static {
    move |req| match ApiKey(req.api_key) {
        ApiKey::API_VERSIONS => api_versions(req, all_api_versions()),
        ApiKey::METADATA => metadata(req, &[(0, req.port)], &topics),
        _ => Reply::Close,
    }
}

/// `name` with one partition led by node 0.
pub fn topic(name: &str) -> FakeTopic {
    FakeTopic {
        name: name.into(),
        leaders: vec![0],
    }
}
