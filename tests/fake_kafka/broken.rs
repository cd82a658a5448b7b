//! Responses no real broker sends: a wrong correlation id, bytes that do not decode, and
//! the v0-format UNSUPPORTED_VERSION answer of a broker older than the request.

use kafka_sync::protocol::api::api_versions::ApiVersion;
use kafka_sync::protocol::api::{self, ApiKey, ApiVersionsResponse, Message};

use super::{Reply, Request};

/// A response frame whose header and body are good but whose correlation id is not
/// the request's.
pub fn wrong_correlation_id(req: &Request, good: Reply) -> Reply {
    match good {
        Reply::Frame(mut bytes) => {
            let wrong = req.correlation_id.wrapping_add(1000);
            bytes[..4].copy_from_slice(&wrong.to_be_bytes());
            Reply::Frame(bytes)
        }
        other => other,
    }
}

/// A response frame that carries `req`'s correlation id plus `0xff` bytes that decode
/// as neither a flexible header's tagged fields nor any body.
pub fn garbage_after_header(req: &Request) -> Reply {
    let mut out = req.correlation_id.to_be_bytes().to_vec();
    out.extend_from_slice(&[0xff; 3]);
    Reply::Frame(out)
}

/// A response frame with a good header and a body that does not decode.
pub fn garbage_body(req: &Request) -> Reply {
    let mut out = req.correlation_id.to_be_bytes().to_vec();
    if api::response_header_version(ApiKey(req.api_key), req.api_version) >= 1 {
        out.push(0);
    }
    out.extend_from_slice(&[0xff; 3]);
    Reply::Frame(out)
}

/// An ApiVersions answer in the v0 format with UNSUPPORTED_VERSION, as brokers send to a
/// version they do not know; `api_versions_max` is the ApiVersions range it lists, if any.
pub fn api_versions_unsupported(req: &Request, api_versions_max: Option<i16>) -> Reply {
    let mut out = req.correlation_id.to_be_bytes().to_vec();
    let body = ApiVersionsResponse {
        error_code: 35,
        api_keys: api_versions_max
            .map(|max| ApiVersion {
                api_key: 18,
                min_version: 0,
                max_version: max,
            })
            .into_iter()
            .collect(),
        ..Default::default()
    };
    body.encode(&mut out, 0).expect("v0 ApiVersions");
    Reply::Frame(out)
}
