//! zstd through the zstd crate (libzstd).
//!
//! Decoding streams through a capped reader, so the cap holds whatever a frame header
//! claims. When the first frame declares its size (our encoder writes it; the Java
//! client's streaming encoder does not) and that fits the cap, the frame is decoded in
//! one call into a buffer of exactly that size instead.

use std::cell::RefCell;
use std::io::Cursor;

use zstd::bulk::{Compressor, Decompressor};
use zstd::zstd_safe;

use super::{corrupt, read_capped, Compression, CompressionError};
use crate::protocol::codec::DecodeError;

/// The Java client's default level.
const DEFAULT_LEVEL: i32 = 3;

thread_local! {
    /// One compression context per thread and level: creating one costs more than
    /// compressing a small batch.
    static COMPRESSOR: RefCell<Option<(i32, Compressor<'static>)>> = const { RefCell::new(None) };
}

pub(super) fn compress(
    level: Option<i32>,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), CompressionError> {
    let level = level.unwrap_or(DEFAULT_LEVEL);
    let failed = |e: std::io::Error| CompressionError::Failed {
        codec: Compression::Zstd,
        message: e.to_string(),
    };
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let (level, mut compressor) = match slot.take() {
            Some((l, c)) if l == level => (l, c),
            _ => (level, Compressor::new(level).map_err(failed)?),
        };
        let start = out.len();
        out.reserve(zstd_safe::compress_bound(input.len()));
        let mut cursor = Cursor::new(&mut *out);
        cursor.set_position(start as u64);
        let written = compressor.compress_to_buffer(input, &mut cursor);
        *slot = Some((level, compressor));
        written.map(|_| ()).map_err(failed)
    })
}

pub(super) fn decompress(input: &[u8], max_output: usize) -> Result<Vec<u8>, DecodeError> {
    if let Ok(Some(size)) = zstd_safe::get_frame_content_size(input) {
        if size > max_output as u64 {
            return Err(DecodeError::DecompressedTooLarge { limit: max_output });
        }
        let mut out = Vec::with_capacity(size as usize);
        if let Ok(mut d) = Decompressor::new() {
            if d.decompress_to_buffer(input, &mut out).is_ok() && out.len() as u64 == size {
                return Ok(out);
            }
        }
        // Several frames, or a corrupt one: the streaming path sorts it out.
    }
    let decoder = zstd::stream::read::Decoder::with_buffer(input)
        .map_err(|e| corrupt(Compression::Zstd, e))?;
    read_capped(Compression::Zstd, decoder, max_output, input.len() * 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_frames_without_a_size_decode_under_the_cap() {
        // Like the Java client's ZstdOutputStream: no content size in the header.
        let input = vec![42u8; 1 << 20];
        let framed = zstd::stream::encode_all(&input[..], 3).unwrap();
        assert!(matches!(
            zstd_safe::get_frame_content_size(&framed),
            Ok(None)
        ));
        assert_eq!(decompress(&framed, input.len()).unwrap(), input);
        assert_eq!(
            decompress(&framed, 1000),
            Err(DecodeError::DecompressedTooLarge { limit: 1000 })
        );
    }

    #[test]
    fn a_declared_size_over_the_cap_fails_at_once() {
        let mut out = Vec::new();
        compress(None, &[1u8; 5000], &mut out).unwrap();
        assert!(matches!(
            zstd_safe::get_frame_content_size(&out),
            Ok(Some(5000))
        ));
        assert_eq!(
            decompress(&out, 4999),
            Err(DecodeError::DecompressedTooLarge { limit: 4999 })
        );
    }

    #[test]
    fn concatenated_frames_and_level_changes() {
        let mut out = Vec::new();
        compress(Some(1), b"abc", &mut out).unwrap();
        compress(Some(19), b"def", &mut out).unwrap();
        assert_eq!(decompress(&out, 100).unwrap(), b"abcdef");
    }
}
