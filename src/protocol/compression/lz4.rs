//! lz4 in the LZ4 frame format, which Kafka uses from message format v1 on.
//!
//! The Java client writes frames with 64 KiB independent blocks, no block checksums, no
//! content checksum and no content size (`Lz4BlockOutputStream`), and its reader rejects
//! linked blocks. We write exactly that, so Java, kafka-python and librdkafka all read
//! it. We read any standard frame: linked or independent blocks, any block size,
//! optional checksums (verified), content size (checked against the cap), skippable
//! frames and concatenated frames.
//!
//! Message format v0 wrote the frame descriptor checksum over the wrong bytes
//! (KAFKA-3160), so a descriptor checksum matching either form is accepted.

use std::cell::RefCell;

use lz4_flex::block::{
    compress_into_with_table, decompress_into, decompress_into_with_dict, get_maximum_output_size,
    CompressTable,
};

use super::{corrupt, Compression, CompressionError};
use crate::protocol::codec::DecodeError;

const MAGIC: u32 = 0x184D_2204;
const SKIPPABLE_MASK: u32 = 0xFFFF_FFF0;
const SKIPPABLE: u32 = 0x184D_2A50;
/// FLG: version 01, independent blocks, no checksums, no content size, no dictionary.
const FLG: u8 = 0x60;
/// BD: 64 KiB maximum block size.
const BD: u8 = 0x40;
const BLOCK: usize = 64 * 1024;
const UNCOMPRESSED_BIT: u32 = 0x8000_0000;
/// The window a linked block may reach back into.
const WINDOW: usize = 64 * 1024;
/// The largest scratch block kept between calls (frames with 1 and 4 MiB blocks get a
/// temporary one).
const MAX_KEPT_SCRATCH: usize = 256 * 1024;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

pub(super) fn compress(input: &[u8], out: &mut Vec<u8>) -> Result<(), CompressionError> {
    let blocks = input.len().div_ceil(BLOCK);
    out.reserve(7 + blocks * 4 + get_maximum_output_size(input.len()) + 4);
    out.extend_from_slice(&MAGIC.to_le_bytes());
    out.extend_from_slice(&[FLG, BD, header_checksum(&[FLG, BD])]);
    let mut table = CompressTable::small();
    for chunk in input.chunks(BLOCK) {
        let at = out.len();
        out.resize(at + 4 + get_maximum_output_size(chunk.len()), 0);
        let n = compress_into_with_table(chunk, &mut out[at + 4..], &mut table).map_err(|e| {
            CompressionError::Failed {
                codec: Compression::Lz4,
                message: e.to_string(),
            }
        })?;
        if n >= chunk.len() {
            // Incompressible: store the block as is, flagged by the high bit.
            out.truncate(at);
            out.extend_from_slice(&(chunk.len() as u32 | UNCOMPRESSED_BIT).to_le_bytes());
            out.extend_from_slice(chunk);
        } else {
            out[at..at + 4].copy_from_slice(&(n as u32).to_le_bytes());
            out.truncate(at + 4 + n);
        }
    }
    out.extend_from_slice(&0u32.to_le_bytes()); // end mark
    Ok(())
}

/// The frame descriptor checksum: the second byte of the xxHash32 of the descriptor.
fn header_checksum(descriptor: &[u8]) -> u8 {
    (xxh32(descriptor, 0) >> 8) as u8
}

/// A cursor over the compressed input.
struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Input<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], DecodeError> {
        if self.data.len() - self.pos < n {
            return Err(corrupt(Compression::Lz4, format!("truncated {what}")));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u32(&mut self, what: &str) -> Result<u32, DecodeError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

pub(super) fn decompress(input: &[u8], max_output: usize) -> Result<Vec<u8>, DecodeError> {
    let mut r = Input {
        data: input,
        pos: 0,
    };
    // Kafka batches usually compress 2:1 or better; the frame may also declare its size.
    let mut out = Vec::with_capacity(input.len().saturating_mul(2).min(max_output));
    let mut frames = 0;
    while r.pos < input.len() {
        let magic = r.u32("frame magic")?;
        if magic & SKIPPABLE_MASK == SKIPPABLE {
            let len = r.u32("skippable frame")? as usize;
            r.take(len, "skippable frame")?;
            continue;
        }
        if magic != MAGIC {
            return Err(corrupt(
                Compression::Lz4,
                format!("bad frame magic {magic:#010x}"),
            ));
        }
        decode_frame(&mut r, &mut out, max_output)?;
        frames += 1;
    }
    if frames == 0 {
        return Err(corrupt(Compression::Lz4, "no frame"));
    }
    Ok(out)
}

fn decode_frame(r: &mut Input, out: &mut Vec<u8>, max_output: usize) -> Result<(), DecodeError> {
    let descriptor_start = r.pos;
    let fd = r.take(2, "frame descriptor")?;
    let (flg, bd) = (fd[0], fd[1]);
    if flg >> 6 != 1 {
        return Err(corrupt(
            Compression::Lz4,
            format!("frame version {}", flg >> 6),
        ));
    }
    if flg & 0x02 != 0 || bd & 0x8f != 0 {
        return Err(corrupt(Compression::Lz4, "reserved descriptor bits set"));
    }
    let independent = flg & 0x20 != 0;
    let block_checksums = flg & 0x10 != 0;
    let content_checksum = flg & 0x04 != 0;
    let block_max = match (bd >> 4) & 0x07 {
        4 => 64 << 10,
        5 => 256 << 10,
        6 => 1 << 20,
        7 => 4 << 20,
        n => {
            return Err(corrupt(Compression::Lz4, format!("block size id {n}")));
        }
    };
    let frame_start = out.len();
    if flg & 0x08 != 0 {
        let b = r.take(8, "content size")?;
        let size = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        if size > (max_output - frame_start) as u64 {
            return Err(DecodeError::DecompressedTooLarge { limit: max_output });
        }
        out.reserve(size as usize);
    }
    if flg & 0x01 != 0 {
        return Err(corrupt(
            Compression::Lz4,
            "frames using a dictionary are not supported",
        ));
    }
    let descriptor = &r.data[descriptor_start..r.pos];
    let hc = r.take(1, "descriptor checksum")?[0];
    // Message format v0 hashed the magic too (KAFKA-3160); accept either.
    let broken = &r.data[descriptor_start - 4..descriptor_start + descriptor.len()];
    if hc != header_checksum(descriptor) && hc != header_checksum(broken) {
        return Err(corrupt(
            Compression::Lz4,
            "frame descriptor checksum mismatch",
        ));
    }

    loop {
        let word = r.u32("block size")?;
        if word == 0 {
            break; // end mark
        }
        let size = (word & !UNCOMPRESSED_BIT) as usize;
        if size > block_max {
            return Err(corrupt(
                Compression::Lz4,
                format!("block of {size} bytes over the frame's {block_max}"),
            ));
        }
        let block = r.take(size, "block")?;
        if block_checksums {
            let sum = r.u32("block checksum")?;
            if sum != xxh32(block, 0) {
                return Err(corrupt(Compression::Lz4, "block checksum mismatch"));
            }
        }
        let at = out.len();
        if word & UNCOMPRESSED_BIT != 0 {
            if size > max_output - at {
                return Err(DecodeError::DecompressedTooLarge { limit: max_output });
            }
            out.extend_from_slice(block);
            continue;
        }
        // Decompress into a per-thread scratch block, then copy what the block really
        // held: zeroing a fresh `block_max` of output per block costs more than the copy.
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            if scratch.len() < block_max {
                scratch.resize(block_max, 0);
            }
            let dst = &mut scratch[..block_max];
            let n = if independent || at == frame_start {
                decompress_into(block, dst)
            } else {
                let window = &out[frame_start.max(at.saturating_sub(WINDOW))..];
                decompress_into_with_dict(block, dst, window)
            }
            .map_err(|e| corrupt(Compression::Lz4, e))?;
            if n > max_output - at {
                return Err(DecodeError::DecompressedTooLarge { limit: max_output });
            }
            out.extend_from_slice(&dst[..n]);
            if scratch.len() > MAX_KEPT_SCRATCH {
                *scratch = Vec::new();
            }
            Ok::<(), DecodeError>(())
        })?;
    }
    if content_checksum {
        let sum = r.u32("content checksum")?;
        if sum != xxh32(&out[frame_start..], 0) {
            return Err(corrupt(Compression::Lz4, "content checksum mismatch"));
        }
    }
    Ok(())
}

const P1: u32 = 0x9E37_79B1;
const P2: u32 = 0x85EB_CA77;
const P3: u32 = 0xC2B2_AE3D;
const P4: u32 = 0x27D4_EB2F;
const P5: u32 = 0x1656_67B1;

fn word(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn round(acc: u32, input: u32) -> u32 {
    acc.wrapping_add(input.wrapping_mul(P2))
        .rotate_left(13)
        .wrapping_mul(P1)
}

/// xxHash32, which the LZ4 frame format uses for its checksums.
fn xxh32(data: &[u8], seed: u32) -> u32 {
    let mut stripes = data.chunks_exact(16);
    let mut h = if data.len() >= 16 {
        let mut v = [
            seed.wrapping_add(P1).wrapping_add(P2),
            seed.wrapping_add(P2),
            seed,
            seed.wrapping_sub(P1),
        ];
        for s in &mut stripes {
            for (i, acc) in v.iter_mut().enumerate() {
                *acc = round(*acc, word(&s[i * 4..]));
            }
        }
        v[0].rotate_left(1)
            .wrapping_add(v[1].rotate_left(7))
            .wrapping_add(v[2].rotate_left(12))
            .wrapping_add(v[3].rotate_left(18))
    } else {
        seed.wrapping_add(P5)
    };
    h = h.wrapping_add(data.len() as u32);
    let mut words = stripes.remainder().chunks_exact(4);
    for w in &mut words {
        h = h
            .wrapping_add(word(w).wrapping_mul(P3))
            .rotate_left(17)
            .wrapping_mul(P4);
    }
    for &b in words.remainder() {
        h = h
            .wrapping_add((b as u32).wrapping_mul(P5))
            .rotate_left(11)
            .wrapping_mul(P1);
    }
    h ^= h >> 15;
    h = h.wrapping_mul(P2);
    h ^= h >> 13;
    h = h.wrapping_mul(P3);
    h ^ (h >> 16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lz4_flex::frame::{BlockMode, BlockSize, FrameDecoder, FrameEncoder, FrameInfo};
    use std::io::{Read, Write};

    fn sample(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| ((i * 7) % 251) as u8 ^ (i / 4096) as u8)
            .collect()
    }

    #[test]
    fn xxh32_reference_values() {
        // From the xxHash reference implementation's test suite.
        assert_eq!(xxh32(b"", 0), 0x02CC_5D05);
        assert_eq!(xxh32(b"a", 0), 0x550D_7456);
        assert_eq!(xxh32(b"abc", 0), 0x32D1_53FF);
        assert_eq!(
            xxh32(b"Nobody inspects the spammish repetition", 0),
            0xE229_3B2F
        );
    }

    #[test]
    fn output_is_what_the_java_client_writes() {
        let input = sample(200_000);
        let mut out = Vec::new();
        compress(&input, &mut out).unwrap();
        // Magic, FLG 0x60 (v1, independent blocks), BD 0x40 (64 KiB), descriptor checksum.
        assert_eq!(out[..6], [0x04, 0x22, 0x4d, 0x18, 0x60, 0x40]);
        assert_eq!(out[6], header_checksum(&[0x60, 0x40]));
        assert_eq!(out[out.len() - 4..], [0, 0, 0, 0]);
        // A standard frame decoder (which checks the descriptor checksum) agrees.
        let mut back = Vec::new();
        FrameDecoder::new(&out[..]).read_to_end(&mut back).unwrap();
        assert_eq!(back, input);
    }

    #[test]
    fn incompressible_blocks_are_stored() {
        let mut x: u32 = 1;
        let noise: Vec<u8> = (0..70_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let mut out = Vec::new();
        compress(&noise, &mut out).unwrap();
        let first = u32::from_le_bytes([out[7], out[8], out[9], out[10]]);
        assert_eq!(first, 65_536 | UNCOMPRESSED_BIT);
        assert_eq!(decompress(&out, noise.len()).unwrap(), noise);
    }

    #[test]
    fn reads_every_standard_frame_variant() {
        let input = sample(600_000);
        for (mode, size, checksums, content_size) in [
            (BlockMode::Linked, BlockSize::Max64KB, false, false),
            (BlockMode::Linked, BlockSize::Max256KB, true, true),
            (BlockMode::Independent, BlockSize::Max1MB, true, false),
            (BlockMode::Independent, BlockSize::Max4MB, false, true),
        ] {
            let mut info = FrameInfo::new()
                .block_mode(mode)
                .block_size(size)
                .block_checksums(checksums)
                .content_checksum(checksums);
            if content_size {
                info = info.content_size(Some(input.len() as u64));
            }
            let mut enc = FrameEncoder::with_frame_info(info, Vec::new());
            enc.write_all(&input).unwrap();
            let framed = enc.finish().unwrap();
            assert_eq!(
                decompress(&framed, input.len()).unwrap(),
                input,
                "{mode:?} {size:?}"
            );
            assert_eq!(
                decompress(&framed, input.len() - 1),
                Err(DecodeError::DecompressedTooLarge {
                    limit: input.len() - 1
                })
            );
            if checksums {
                let mut bad = framed.clone();
                let n = bad.len();
                bad[n - 1] ^= 1; // content checksum
                assert!(decompress(&bad, input.len()).is_err());
            }
        }
    }

    #[test]
    fn concatenated_and_skippable_frames() {
        let mut data = Vec::new();
        compress(b"one ", &mut data).unwrap();
        data.extend_from_slice(&0x184D_2A5Fu32.to_le_bytes());
        data.extend_from_slice(&3u32.to_le_bytes());
        data.extend_from_slice(b"xyz");
        compress(b"two", &mut data).unwrap();
        assert_eq!(decompress(&data, 100).unwrap(), b"one two");
    }

    #[test]
    fn the_v0_descriptor_checksum_is_accepted() {
        let mut data = Vec::new();
        compress(b"legacy lz4", &mut data).unwrap();
        data[6] = header_checksum(&data[..6]);
        assert_eq!(decompress(&data, 100).unwrap(), b"legacy lz4");
        data[6] ^= 0x55;
        assert!(decompress(&data, 100).is_err());
    }

    #[test]
    fn malformed_frames_are_errors() {
        let mut good = Vec::new();
        compress(&sample(1000), &mut good).unwrap();
        for cut in 0..good.len() {
            assert!(decompress(&good[..cut], 10_000).is_err(), "cut at {cut}");
        }
        let mut bad_bd = good.clone();
        bad_bd[5] = 0x30;
        assert!(decompress(&bad_bd, 10_000).is_err());
    }
}
