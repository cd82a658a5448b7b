//! snappy in the xerial (snappy-java) framing that the Java client writes, and raw snappy.
//!
//! The Java client wraps its output in snappy-java's `SnappyOutputStream`: the header
//! `\x82SNAPPY\0`, a version and a compatible version (both int32 1), then blocks of
//! [int32 compressed length][raw snappy], each holding up to 32 KiB of input. kafka-python
//! writes the same framing and recognises it by the full 16-byte header; some other
//! clients write one raw snappy block. We write the framing and read both.

use snap::raw::{decompress_len, max_compress_len, Decoder, Encoder};

use super::{corrupt, Compression, CompressionError};
use crate::protocol::codec::DecodeError;

const MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
/// Magic, version 1, compatible version 1: what kafka-python checks for.
const HEADER: [u8; 16] = [
    0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1,
];
/// snappy-java's default block size.
const BLOCK: usize = 32 * 1024;

pub(super) fn compress(input: &[u8], out: &mut Vec<u8>) -> Result<(), CompressionError> {
    let mut enc = Encoder::new();
    out.reserve(
        HEADER.len() + input.len() / BLOCK * 4 + max_compress_len(input.len().min(BLOCK)) + 8,
    );
    out.extend_from_slice(&HEADER);
    // An empty input still gets one (empty) block, so the output is longer than the
    // header alone; kafka-python only recognises the framing when it is.
    let mut chunks = input.chunks(BLOCK);
    let first = chunks.next().unwrap_or(&[]);
    for chunk in std::iter::once(first).chain(chunks) {
        let at = out.len();
        out.resize(at + 4 + max_compress_len(chunk.len()), 0);
        let n = enc
            .compress(chunk, &mut out[at + 4..])
            .map_err(|e| CompressionError::Failed {
                codec: Compression::Snappy,
                message: e.to_string(),
            })?;
        out[at..at + 4].copy_from_slice(&(n as u32).to_be_bytes());
        out.truncate(at + 4 + n);
    }
    Ok(())
}

pub(super) fn decompress(input: &[u8], max_output: usize) -> Result<Vec<u8>, DecodeError> {
    let mut dec = Decoder::new();
    let mut out = Vec::new();
    if input.len() >= HEADER.len() && input[..8] == MAGIC {
        // Versions are not checked: snappy-java itself accepts any.
        let mut rest = &input[HEADER.len()..];
        while !rest.is_empty() {
            if rest.len() < 4 {
                return Err(corrupt(Compression::Snappy, "truncated block length"));
            }
            let len = i32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
            rest = &rest[4..];
            if len < 0 || len as usize > rest.len() {
                return Err(corrupt(
                    Compression::Snappy,
                    format!("block length {len} with {} bytes left", rest.len()),
                ));
            }
            let (block, tail) = rest.split_at(len as usize);
            decode_block(&mut dec, block, &mut out, max_output)?;
            rest = tail;
        }
    } else {
        decode_block(&mut dec, input, &mut out, max_output)?;
    }
    Ok(out)
}

/// Appends one raw snappy block to `out`, checking its declared length against the cap
/// before allocating.
fn decode_block(
    dec: &mut Decoder,
    block: &[u8],
    out: &mut Vec<u8>,
    max_output: usize,
) -> Result<(), DecodeError> {
    let n = decompress_len(block).map_err(|e| corrupt(Compression::Snappy, e))?;
    let at = out.len();
    if n > max_output - at {
        return Err(DecodeError::DecompressedTooLarge { limit: max_output });
    }
    out.resize(at + n, 0);
    let written = dec
        .decompress(block, &mut out[at..])
        .map_err(|e| corrupt(Compression::Snappy, e))?;
    out.truncate(at + written);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_xerial_framing() {
        let mut out = Vec::new();
        compress(b"abcabcabcabc", &mut out).unwrap();
        assert_eq!(out[..16], HEADER);
        let len = u32::from_be_bytes([out[16], out[17], out[18], out[19]]) as usize;
        assert_eq!(out.len(), 20 + len);
        // The block is plain raw snappy.
        assert_eq!(
            Decoder::new().decompress_vec(&out[20..]).unwrap(),
            b"abcabcabcabc"
        );
        // Empty input: header plus one empty block, longer than the header.
        let mut empty = Vec::new();
        compress(b"", &mut empty).unwrap();
        assert!(empty.len() > 16);
        assert_eq!(decompress(&empty, 0).unwrap(), b"");
    }

    #[test]
    fn reads_raw_snappy_and_multi_block_framing() {
        let raw = Encoder::new()
            .compress_vec(b"raw snappy raw snappy")
            .unwrap();
        assert_eq!(decompress(&raw, 100).unwrap(), b"raw snappy raw snappy");

        // Framing with two hand-made blocks and another version number.
        let mut framed = MAGIC.to_vec();
        framed.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 1]);
        for part in [&b"first "[..], b"second"] {
            let block = Encoder::new().compress_vec(part).unwrap();
            framed.extend_from_slice(&(block.len() as u32).to_be_bytes());
            framed.extend_from_slice(&block);
        }
        assert_eq!(decompress(&framed, 100).unwrap(), b"first second");
        assert_eq!(
            decompress(&framed, 8),
            Err(DecodeError::DecompressedTooLarge { limit: 8 })
        );
        // A block length running past the end.
        framed.truncate(framed.len() - 1);
        assert!(decompress(&framed, 100).is_err());
    }

    #[test]
    fn a_huge_declared_length_is_refused_before_allocating() {
        // Raw snappy preamble claiming 4 GiB - 1.
        let bomb = [0xff, 0xff, 0xff, 0xff, 0x0f, 0x00];
        assert_eq!(
            decompress(&bomb, 1 << 20),
            Err(DecodeError::DecompressedTooLarge { limit: 1 << 20 })
        );
    }
}
