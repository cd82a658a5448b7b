//! Entry points for the cargo-fuzz targets in `fuzz/`, each a one-line wrapper over a
//! function here. Every function must return normally on any input: a panic is a bug.
//! Not part of the public API.

use bytes::Bytes;

use super::codec::{Reader, Writer};
use super::compression::{self, Compression};
use super::records::{batches, next_offset, Record, RecordBatchBuilder};

/// Output cap for decompression while fuzzing.
const CAP: usize = 1 << 20;

/// Decodes every batch and record of `data` as a Fetch response's records, with CRC
/// checks on and off.
pub fn fuzz_record_batches(data: &[u8]) {
    let bytes = Bytes::copy_from_slice(data);
    for check_crcs in [true, false] {
        for batch in batches(bytes.clone(), check_crcs) {
            let Ok(batch) = batch else { continue };
            let _ = batch.control_record();
            let _ = batch.last_sequence();
            let _ = batch.delete_horizon_ms();
            if let Ok(iter) = batch.record_iter(CAP) {
                for record in iter {
                    if record.is_err() {
                        break;
                    }
                }
            }
        }
    }
    let _ = next_offset(data);
}

/// Decompresses `data` with the codec `codec_id % 5`; whatever decodes must compress
/// and decompress back to itself.
pub fn fuzz_decompress(codec_id: u8, data: &[u8]) {
    let Ok(codec) = Compression::from_id(codec_id % 5) else {
        return;
    };
    let Ok(plain) = compression::decompress(codec, data, CAP) else {
        return;
    };
    assert!(plain.len() <= CAP, "{codec}: cap exceeded");
    let mut packed = Vec::new();
    compression::compress(codec, None, &plain, &mut packed).expect("compress");
    let back = compression::decompress(codec, &packed, plain.len()).expect("decompress");
    assert_eq!(back, plain, "{codec} round trip");
}

/// Decodes varints and varlongs from `data` until it runs out; each must re-encode to
/// a form that decodes to the same value.
pub fn fuzz_varints(data: &[u8]) {
    let mut r = Reader::new(Bytes::copy_from_slice(data));
    let mut which = 0u8;
    while !r.is_empty() {
        which = which.wrapping_add(1);
        let before = r.remaining();
        let mut out = Vec::new();
        match which % 4 {
            0 => {
                let Ok(v) = r.varint() else { break };
                out.put_varint(v);
                assert_eq!(Reader::new(out.into()).varint(), Ok(v));
            }
            1 => {
                let Ok(v) = r.varlong() else { break };
                out.put_varlong(v);
                assert_eq!(Reader::new(out.into()).varlong(), Ok(v));
            }
            2 => {
                let Ok(v) = r.uvarint() else { break };
                out.put_uvarint(v);
                assert_eq!(Reader::new(out.into()).uvarint(), Ok(v));
            }
            _ => {
                let Ok(v) = r.varint_bytes() else { break };
                out.put_varint_bytes(v.as_deref());
                assert_eq!(Reader::new(out.into()).varint_bytes(), Ok(v));
            }
        }
        assert!(r.remaining() < before, "a successful read consumes input");
    }
}

/// Decodes `data` (CRCs unchecked); every v2 batch whose records all decode is rebuilt
/// with [`RecordBatchBuilder`] and decoded again, and must give the same records.
pub fn fuzz_record_round_trip(data: &[u8]) {
    for batch in batches(Bytes::copy_from_slice(data), false) {
        let Ok(batch) = batch else { break };
        if batch.magic() != 2 || batch.is_control() {
            continue;
        }
        let Ok(records) = batch.records(CAP) else {
            continue;
        };
        if records.is_empty() {
            continue;
        }
        let codec = if batch.compression().is_available() {
            batch.compression()
        } else {
            Compression::None
        };
        let mut builder = RecordBatchBuilder::new(batch.size_in_bytes());
        for r in &records {
            let headers: Vec<(&str, Option<&[u8]>)> = r
                .headers
                .iter()
                .map(|h| (h.key.as_str(), h.value.as_deref()))
                .collect();
            builder.append(r.timestamp, r.key.as_deref(), r.value.as_deref(), &headers);
        }
        let rebuilt = builder
            .finish(
                codec,
                None,
                batch.producer_id(),
                batch.producer_epoch(),
                batch.base_sequence(),
                batch.is_transactional(),
            )
            .expect("finish");
        let again = batches(rebuilt, true)
            .next()
            .expect("one batch")
            .expect("rebuilt batch decodes");
        assert_eq!(again.producer_id(), batch.producer_id());
        assert_eq!(again.is_transactional(), batch.is_transactional());
        let decoded = again.records(usize::MAX).expect("rebuilt records decode");
        // The builder numbers records 0, 1, 2, ...; compare everything else.
        let strip = |rs: &[Record]| -> Vec<Record> {
            rs.iter()
                .enumerate()
                .map(|(i, r)| Record {
                    offset: i as i64,
                    ..r.clone()
                })
                .collect()
        };
        assert_eq!(strip(&decoded), strip(&records));
    }
}

/// Splits `data` into frames with a small size limit; must never panic or allocate past
/// the limit.
pub fn fuzz_frame(data: &[u8]) {
    let mut decoder = crate::protocol::frame::FrameDecoder::new(64 * 1024);
    for chunk in data.chunks(7) {
        decoder.extend_from_slice(chunk);
        while let Ok(Some(_)) = decoder.next_frame() {}
    }
}

/// Decodes a response body for the API key and version in the first four bytes, then
/// checks that decode → encode → decode gives the same message.
pub fn fuzz_response(data: &[u8]) {
    let Some((head, body)) = data.split_first_chunk::<4>() else {
        return;
    };
    let api_key = i16::from_be_bytes([head[0], head[1]]) & 0x3f;
    let version = i16::from_be_bytes([head[2], head[3]]) & 0x1f;
    let body = Bytes::copy_from_slice(body);
    let _ = crate::protocol::api::decode_response_any(api_key, version, body.clone());
    if let Ok(same) = crate::protocol::api::round_trip_response(api_key, version, body.clone()) {
        assert!(
            same,
            "response {api_key} v{version} changed in a round trip"
        );
    }
    if let Ok(same) = crate::protocol::api::round_trip_request(api_key, version, body) {
        assert!(same, "request {api_key} v{version} changed in a round trip");
    }
}

/// Runs a SASL client mechanism (first byte: SCRAM-SHA-256, SCRAM-SHA-512 or
/// OAUTHBEARER) against broker messages taken from the rest of `data` (split at 0xff
/// bytes); a hostile broker's messages must give errors, never panics.
pub fn fuzz_sasl(data: &[u8]) {
    use crate::net::sasl::oauthbearer::OAuthBearerClient;
    use crate::net::sasl::scram::{ScramClient, ScramHash};
    use crate::net::sasl::SaslMechanism;

    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let mut mechanism: Box<dyn SaslMechanism> = match which % 3 {
        0 => Box::new(ScramClient::new(ScramHash::Sha256, "user", "pencil")),
        1 => Box::new(ScramClient::new(ScramHash::Sha512, "user", "pencil")),
        _ => Box::new(OAuthBearerClient::new(std::sync::Arc::new(
            crate::oauth::UnsecuredJwtProvider::new("user"),
        ))),
    };
    if mechanism.start().is_err() {
        return;
    }
    for server in rest.split(|&b| b == 0xff) {
        match mechanism.step(server) {
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample_batches() -> Vec<u8> {
        let mut out = Vec::new();
        for codec in Compression::ALL.into_iter().filter(|c| c.is_available()) {
            let mut b = RecordBatchBuilder::new(256);
            b.append(10, Some(b"k"), Some(b"v"), &[("h", None)]);
            b.append(5, None, Some(b"second"), &[]);
            out.extend_from_slice(&b.finish(codec, None, 3, 1, 0, false).unwrap());
        }
        out
    }

    #[test]
    fn entry_points_accept_valid_input() {
        let data = sample_batches();
        fuzz_record_batches(&data);
        fuzz_record_round_trip(&data);
        fuzz_varints(&data);
        for id in 0..5 {
            fuzz_decompress(id, &data);
        }
        let mut gz = Vec::new();
        compression::compress(Compression::Gzip, None, b"hello", &mut gz).unwrap();
        fuzz_decompress(1, &gz);
    }

    proptest! {
        #[test]
        fn entry_points_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600), id: u8) {
            fuzz_record_batches(&data);
            fuzz_record_round_trip(&data);
            fuzz_varints(&data);
            fuzz_decompress(id, &data);
            fuzz_sasl(&data);
        }

        #[test]
        fn entry_points_never_panic_on_mutated_batches(
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..5),
        ) {
            let mut data = sample_batches();
            for (at, x) in flips {
                let n = data.len();
                data[at % n] ^= x;
            }
            fuzz_record_batches(&data);
            fuzz_record_round_trip(&data);
        }
    }
}
