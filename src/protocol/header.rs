//! Request and response headers, and the framing of a whole request.

use bytes::BufMut;

use super::api::{request_header_version, ApiKey, Request};
use super::codec::{DecodeError, EncodeError, Reader, Writer};

/// The header in front of every request.
///
/// # Examples
/// ```
/// # #[cfg(feature = "protocol")] {
/// use kafka_sync::protocol::{api::ApiKey, header::RequestHeader};
/// let h = RequestHeader { api_key: ApiKey::METADATA, api_version: 12, correlation_id: 7, client_id: Some("c".into()) };
/// let mut out = Vec::new();
/// h.encode(&mut out, 2).unwrap();
/// assert_eq!(out, [0, 3, 0, 12, 0, 0, 0, 7, 0, 1, b'c', 0]);
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHeader {
    /// The API.
    pub api_key: ApiKey,
    /// The version of the request body.
    pub api_version: i16,
    /// Echoed in the response, to match it to the request.
    pub correlation_id: i32,
    /// The client's id; stays a classic (non-compact) string even in header v2.
    pub client_id: Option<String>,
}

impl RequestHeader {
    /// Appends the header in `header_version` (1, or 2 with a tagged-field section).
    pub fn encode(&self, out: &mut Vec<u8>, header_version: i16) -> Result<(), EncodeError> {
        out.put_i16(self.api_key.0);
        out.put_i16(self.api_version);
        out.put_i32(self.correlation_id);
        if header_version >= 1 {
            out.put_string(self.client_id.as_deref(), false, "ClientId")?;
        }
        if header_version >= 2 {
            out.put_uvarint(0);
        }
        Ok(())
    }

    /// Decodes a header of `header_version`.
    pub fn decode(r: &mut Reader, header_version: i16) -> Result<Self, DecodeError> {
        let api_key = ApiKey(r.i16()?);
        let api_version = r.i16()?;
        let correlation_id = r.i32()?;
        let client_id = if header_version >= 1 {
            r.nullable_string(false)?
        } else {
            None
        };
        if header_version >= 2 {
            r.tagged_fields(|_, _| Ok(()))?;
        }
        Ok(RequestHeader {
            api_key,
            api_version,
            correlation_id,
            client_id,
        })
    }
}

/// The header in front of every response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseHeader {
    /// The request's correlation id.
    pub correlation_id: i32,
}

impl ResponseHeader {
    /// Decodes a header of `header_version` (0, or 1 with a tagged-field section).
    pub fn decode(r: &mut Reader, header_version: i16) -> Result<Self, DecodeError> {
        let correlation_id = r.i32()?;
        if header_version >= 1 {
            r.tagged_fields(|_, _| Ok(()))?;
        }
        Ok(ResponseHeader { correlation_id })
    }

    /// Appends the header in `header_version`.
    pub fn encode(&self, out: &mut Vec<u8>, header_version: i16) {
        out.put_i32(self.correlation_id);
        if header_version >= 1 {
            out.put_uvarint(0);
        }
    }
}

/// Appends a whole request: the size prefix, the header and the body.
///
/// # Examples
/// ```
/// # #[cfg(feature = "protocol")] {
/// use kafka_sync::protocol::{api::ApiVersionsRequest, header::encode_request};
/// let mut out = Vec::new();
/// encode_request(&mut out, 1, Some("c"), 0, &ApiVersionsRequest::default()).unwrap();
/// assert_eq!(out, [0, 0, 0, 11, 0, 18, 0, 0, 0, 0, 0, 1, 0, 1, b'c']);
/// # }
/// ```
pub fn encode_request<R: Request>(
    out: &mut Vec<u8>,
    correlation_id: i32,
    client_id: Option<&str>,
    version: i16,
    req: &R,
) -> Result<(), EncodeError> {
    let start = out.len();
    out.put_i32(0);
    let header = RequestHeader {
        api_key: R::API_KEY,
        api_version: version,
        correlation_id,
        client_id: client_id.map(str::to_owned),
    };
    let done = header
        .encode(out, request_header_version(R::API_KEY, version))
        .and_then(|()| req.encode(out, version));
    if let Err(e) = done {
        out.truncate(start);
        return Err(e);
    }
    let size = out.len() - start - 4;
    let size = i32::try_from(size).map_err(|_| EncodeError::TooLarge {
        field: "request",
        len: size,
    })?;
    out[start..start + 4].copy_from_slice(&size.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn header_v1_and_v2_round_trip() {
        let h = RequestHeader {
            api_key: ApiKey::FETCH,
            api_version: 12,
            correlation_id: -5,
            client_id: None,
        };
        for v in [1, 2] {
            let mut out = Vec::new();
            h.encode(&mut out, v).unwrap();
            assert_eq!(
                RequestHeader::decode(&mut Reader::new(Bytes::from(out)), v).unwrap(),
                h
            );
        }
    }

    #[test]
    fn request_header_fixtures() {
        let h = RequestHeader {
            api_key: ApiKey::METADATA,
            api_version: 12,
            correlation_id: 0x0102_0304,
            client_id: Some("kafka-sync".into()),
        };
        // v1: key, version, correlation id, int16-length client id.
        let v1 = [&[0, 3, 0, 12, 1, 2, 3, 4, 0, 10][..], b"kafka-sync"].concat();
        // v2: the client id stays a classic string; an empty tagged section follows.
        let v2 = [&v1[..], &[0]].concat();
        for (v, bytes) in [(1, &v1), (2, &v2)] {
            let mut out = Vec::new();
            h.encode(&mut out, v).unwrap();
            assert_eq!(&out, bytes, "v{v}");
            let mut r = Reader::new(Bytes::from(out));
            assert_eq!(RequestHeader::decode(&mut r, v).unwrap(), h);
            assert!(r.is_empty());
        }
        // A null client id is a -1 length.
        let mut out = Vec::new();
        RequestHeader {
            client_id: None,
            ..h
        }
        .encode(&mut out, 2)
        .unwrap();
        assert_eq!(out, [0, 3, 0, 12, 1, 2, 3, 4, 0xff, 0xff, 0]);
    }

    #[test]
    fn response_header_fixtures() {
        let h = ResponseHeader { correlation_id: 42 };
        for (v, bytes) in [(0, &[0u8, 0, 0, 42][..]), (1, &[0, 0, 0, 42, 0])] {
            let mut out = Vec::new();
            h.encode(&mut out, v);
            assert_eq!(out, bytes, "v{v}");
            let mut r = Reader::new(Bytes::from(out));
            assert_eq!(ResponseHeader::decode(&mut r, v).unwrap(), h);
            assert!(r.is_empty());
        }
    }

    #[test]
    fn encode_request_frames_header_and_body() {
        use crate::protocol::api::{ApiVersionsRequest, MetadataRequest};
        let mut out = vec![0xee];
        let req = ApiVersionsRequest {
            client_software_name: "ks".into(),
            client_software_version: "1".into(),
        };
        encode_request(&mut out, 7, Some("c"), 3, &req).unwrap();
        assert_eq!(
            out,
            [
                0xee, // what was in the buffer before
                0, 0, 0, 18, // size
                0, 18, 0, 3, 0, 0, 0, 7, 0, 1, b'c', 0, // header v2
                3, b'k', b's', 2, b'1', 0, // body
            ]
        );
        // Metadata v0 cannot send a null topic list: nothing is left in the buffer.
        let mut out = vec![1, 2];
        let all = MetadataRequest {
            topics: None,
            ..Default::default()
        };
        assert!(encode_request(&mut out, 1, None, 0, &all).is_err());
        assert_eq!(out, [1, 2]);
        // An unsupported version is refused the same way.
        assert!(encode_request(&mut out, 1, None, 99, &all).is_err());
        assert_eq!(out, [1, 2]);
    }

    #[test]
    fn response_header_v1_skips_tagged_fields() {
        // correlation id 9, one tagged field (tag 3, 2 bytes).
        let bytes = Bytes::from_static(&[0, 0, 0, 9, 1, 3, 2, 0xaa, 0xbb, 0x42]);
        let mut r = Reader::new(bytes);
        assert_eq!(ResponseHeader::decode(&mut r, 1).unwrap().correlation_id, 9);
        assert_eq!(r.remaining(), 1);
    }
}
