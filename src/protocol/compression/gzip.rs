//! gzip through flate2. Java's `GZIPInputStream` reads concatenated members, so we do too.

use std::io::Write;

use flate2::bufread::MultiGzDecoder;
use flate2::write::GzEncoder;

use super::{corrupt, read_capped, Compression, CompressionError};
use crate::protocol::codec::DecodeError;

/// zlib's default, which the Java client also uses when no level is set.
const DEFAULT_LEVEL: u32 = 6;

pub(super) fn compress(
    level: Option<i32>,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), CompressionError> {
    let level = match level {
        Some(l) if l >= 1 => l as u32,
        _ => DEFAULT_LEVEL,
    };
    let failed = |e: std::io::Error| CompressionError::Failed {
        codec: Compression::Gzip,
        message: e.to_string(),
    };
    let mut enc = GzEncoder::new(out, flate2::Compression::new(level));
    enc.write_all(input).map_err(failed)?;
    enc.finish().map_err(failed)?;
    Ok(())
}

pub(super) fn decompress(input: &[u8], max_output: usize) -> Result<Vec<u8>, DecodeError> {
    if input.is_empty() {
        return Err(corrupt(Compression::Gzip, "empty input"));
    }
    // gzip stores the size modulo 2^32 in its trailer; a good first guess for one member.
    let hint = match input.len() {
        n if n >= 18 => {
            u32::from_le_bytes([input[n - 4], input[n - 3], input[n - 2], input[n - 1]]) as usize
        }
        _ => 0,
    };
    read_capped(
        Compression::Gzip,
        MultiGzDecoder::new(input),
        max_output,
        hint,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concatenated_members_decode_as_one_stream() {
        let mut data = Vec::new();
        compress(None, b"hello ", &mut data).unwrap();
        compress(Some(1), b"world", &mut data).unwrap();
        assert_eq!(decompress(&data, 100).unwrap(), b"hello world");
    }

    #[test]
    fn a_lying_size_trailer_only_affects_the_first_allocation() {
        let mut data = Vec::new();
        compress(None, b"abc", &mut data).unwrap();
        let n = data.len();
        data[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
        // The trailer no longer matches the data: an error, and no 4 GiB allocation.
        assert!(decompress(&data, 100).is_err());
    }

    #[test]
    fn truncated_member_is_an_error() {
        let mut data = Vec::new();
        compress(None, &[7u8; 1000], &mut data).unwrap();
        data.truncate(data.len() - 5);
        assert!(decompress(&data, 10_000).is_err());
    }
}
