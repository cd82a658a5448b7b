//! The record batch codecs: gzip, snappy, lz4 and zstd, in the framings Kafka clients use.
//!
//! [`compress`] appends to a buffer; [`decompress`] returns a fresh buffer and never writes
//! more than its `max_output` cap, so a small hostile payload that would expand to
//! gigabytes (a decompression bomb) is an error, not an out-of-memory abort.
//!
//! | codec  | written as                                   | read                          |
//! |--------|----------------------------------------------|-------------------------------|
//! | gzip   | one gzip member                              | one or more members           |
//! | snappy | xerial/snappy-java framing, 32 KiB blocks    | xerial framing or raw snappy  |
//! | lz4    | LZ4 frame, 64 KiB independent blocks, no checksums | any LZ4 frame           |
//! | zstd   | one zstd frame                               | one or more frames            |
//!
//! snappy, lz4 and zstd each sit behind a cargo feature of the same name (on by default).
//! Without it, that codec is an [`CompressionError::UnsupportedCompression`] when encoding
//! and a [`DecodeError::UnsupportedCompression`] when decoding.

use std::fmt;
use std::io::Read;
use std::str::FromStr;

use super::codec::DecodeError;

mod gzip;
#[cfg(feature = "lz4")]
mod lz4;
#[cfg(feature = "snappy")]
mod snappy;
#[cfg(feature = "zstd")]
mod zstd;

/// A record batch compression codec, as the low three bits of a batch's attributes.
///
/// # Examples
/// ```
/// use kafka_sync::Compression;
/// let c: Compression = "lz4".parse().unwrap();
/// assert_eq!(c, Compression::Lz4);
/// assert_eq!(c.id(), 3);
/// assert_eq!(Compression::from_attributes(0x0b).unwrap(), Compression::Lz4);
/// assert_eq!(Compression::default(), Compression::None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// No compression (id 0).
    #[default]
    None,
    /// gzip (id 1).
    Gzip,
    /// snappy (id 2).
    Snappy,
    /// lz4 (id 3).
    Lz4,
    /// zstd (id 4), from Kafka 2.1.
    Zstd,
}

impl Compression {
    /// Every codec, in id order.
    pub const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    /// The codec of a batch's (or legacy message's) attributes: their low three bits.
    ///
    /// # Examples
    /// ```
    /// use kafka_sync::Compression;
    /// assert_eq!(Compression::from_attributes(0x0012).unwrap(), Compression::Snappy);
    /// assert!(Compression::from_attributes(0x0007).is_err());
    /// ```
    pub fn from_attributes(attributes: i16) -> Result<Self, DecodeError> {
        Self::from_id((attributes & 0x07) as u8)
    }

    /// The codec with wire id `id` (0 to 4).
    ///
    /// # Examples
    /// ```
    /// use kafka_sync::Compression;
    /// assert_eq!(Compression::from_id(4).unwrap(), Compression::Zstd);
    /// assert!(Compression::from_id(5).is_err());
    /// ```
    pub fn from_id(id: u8) -> Result<Self, DecodeError> {
        match id {
            0 => Ok(Compression::None),
            1 => Ok(Compression::Gzip),
            2 => Ok(Compression::Snappy),
            3 => Ok(Compression::Lz4),
            4 => Ok(Compression::Zstd),
            _ => Err(DecodeError::Malformed(format!(
                "unknown compression codec id {id}"
            ))),
        }
    }

    /// The wire id: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd.
    ///
    /// # Examples
    /// ```
    /// use kafka_sync::Compression;
    /// assert_eq!(Compression::Gzip.id(), 1);
    /// ```
    pub fn id(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }

    /// The name Kafka's `compression.type` uses.
    ///
    /// # Examples
    /// ```
    /// use kafka_sync::Compression;
    /// assert_eq!(Compression::Snappy.name(), "snappy");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }

    /// True when this build can encode and decode the codec (its cargo feature is on).
    ///
    /// # Examples
    /// ```
    /// use kafka_sync::Compression;
    /// assert!(Compression::Gzip.is_available());
    /// ```
    pub fn is_available(self) -> bool {
        match self {
            Compression::None | Compression::Gzip => true,
            Compression::Snappy => cfg!(feature = "snappy"),
            Compression::Lz4 => cfg!(feature = "lz4"),
            Compression::Zstd => cfg!(feature = "zstd"),
        }
    }

    /// The compression levels the codec accepts, as the Java client's
    /// `compression.<codec>.level`, or `None` for codecs without levels.
    ///
    /// # Examples
    /// ```
    /// use kafka_sync::Compression;
    /// assert_eq!(Compression::Gzip.level_range(), Some(1..=9));
    /// assert_eq!(Compression::Snappy.level_range(), None);
    /// ```
    pub fn level_range(self) -> Option<std::ops::RangeInclusive<i32>> {
        match self {
            Compression::None | Compression::Snappy => None,
            Compression::Gzip => Some(1..=9),
            Compression::Lz4 => Some(1..=17),
            Compression::Zstd => Some(-131072..=22),
        }
    }

    fn unsupported(self) -> String {
        format!(
            "{name}: built without the `{name}` feature",
            name = self.name()
        )
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Compression {
    type Err = CompressionError;

    /// Parses `compression.type`: `none`, `gzip`, `snappy`, `lz4` or `zstd` (any case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Compression::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| CompressionError::UnknownName(s.to_string()))
    }
}

/// Why data could not be compressed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CompressionError {
    /// The codec's cargo feature is off in this build.
    #[error("unsupported compression {0}; enable the cargo feature or pick another codec")]
    UnsupportedCompression(String),
    /// The level is outside what the codec accepts.
    #[error("compression level {level} is invalid for {codec}; valid levels are {valid}")]
    InvalidLevel {
        /// The codec.
        codec: Compression,
        /// The level asked for.
        level: i32,
        /// The valid range, for the message.
        valid: String,
    },
    /// A `compression.type` name that is not one of the codecs.
    #[error("unknown compression type {0:?}; expected none, gzip, snappy, lz4 or zstd")]
    UnknownName(String),
    /// The codec library failed.
    #[error("{codec} compression failed: {message}")]
    Failed {
        /// The codec.
        codec: Compression,
        /// The library's message.
        message: String,
    },
}

/// Compresses `input` with `codec`, appending the result to `out`.
///
/// `level` is the codec's level (gzip 1–9, lz4 1–17, zstd -131072–22), or `None` for the
/// codec's default (gzip 6, zstd 3). snappy has no levels and ignores it; lz4 checks it
/// but always compresses at the fast level, which every lz4 reader accepts.
/// [`Compression::None`] copies `input`.
///
/// # Examples
/// ```
/// # #[cfg(feature = "protocol")] {
/// use kafka_sync::protocol::compression::{compress, decompress, Compression};
/// let mut packed = Vec::new();
/// compress(Compression::Gzip, None, b"hello hello hello", &mut packed).unwrap();
/// let unpacked = decompress(Compression::Gzip, &packed, 1 << 20).unwrap();
/// assert_eq!(unpacked, b"hello hello hello");
/// # }
/// ```
pub fn compress(
    codec: Compression,
    level: Option<i32>,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), CompressionError> {
    if !codec.is_available() {
        return Err(CompressionError::UnsupportedCompression(
            codec.unsupported(),
        ));
    }
    if let (Some(level), Some(valid)) = (level, codec.level_range()) {
        // The Java client's gzip also takes -1, zlib's "default".
        let java_default = codec == Compression::Gzip && level == -1;
        if !valid.contains(&level) && !java_default {
            return Err(CompressionError::InvalidLevel {
                codec,
                level,
                valid: format!("{}..={}", valid.start(), valid.end()),
            });
        }
    }
    match codec {
        Compression::None => {
            out.extend_from_slice(input);
            Ok(())
        }
        Compression::Gzip => gzip::compress(level, input, out),
        #[cfg(feature = "snappy")]
        Compression::Snappy => snappy::compress(input, out),
        #[cfg(feature = "lz4")]
        Compression::Lz4 => lz4::compress(input, out),
        #[cfg(feature = "zstd")]
        Compression::Zstd => zstd::compress(level, input, out),
        #[allow(unreachable_patterns)]
        _ => Err(CompressionError::UnsupportedCompression(
            codec.unsupported(),
        )),
    }
}

/// Decompresses `input`, which `codec` compressed, writing at most `max_output` bytes.
///
/// Output that would pass `max_output` is a [`DecodeError::DecompressedTooLarge`]; the
/// memory used stays within a small bound over the cap whatever the input claims.
/// [`Compression::None`] copies `input` (subject to the same cap).
///
/// # Examples
/// ```
/// # #[cfg(feature = "protocol")] {
/// use kafka_sync::DecodeError;
/// use kafka_sync::protocol::compression::{compress, decompress, Compression};
/// let mut packed = Vec::new();
/// compress(Compression::Gzip, None, &[0u8; 100_000], &mut packed).unwrap();
/// assert!(packed.len() < 1000);
/// assert_eq!(
///     decompress(Compression::Gzip, &packed, 10_000),
///     Err(DecodeError::DecompressedTooLarge { limit: 10_000 })
/// );
/// # }
/// ```
pub fn decompress(
    codec: Compression,
    input: &[u8],
    max_output: usize,
) -> Result<Vec<u8>, DecodeError> {
    match codec {
        Compression::None => {
            if input.len() > max_output {
                return Err(DecodeError::DecompressedTooLarge { limit: max_output });
            }
            Ok(input.to_vec())
        }
        Compression::Gzip => gzip::decompress(input, max_output),
        #[cfg(feature = "snappy")]
        Compression::Snappy => snappy::decompress(input, max_output),
        #[cfg(feature = "lz4")]
        Compression::Lz4 => lz4::decompress(input, max_output),
        #[cfg(feature = "zstd")]
        Compression::Zstd => zstd::decompress(input, max_output),
        #[allow(unreachable_patterns)]
        _ => Err(DecodeError::UnsupportedCompression(codec.unsupported())),
    }
}

/// Reads a decompressing stream to its end, failing once it passes `max_output` bytes.
/// `size_hint` pre-sizes the buffer (clamped to the cap).
fn read_capped(
    codec: Compression,
    reader: impl Read,
    max_output: usize,
    size_hint: usize,
) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::with_capacity(size_hint.min(max_output));
    let limit = (max_output as u64).saturating_add(1);
    reader
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| corrupt(codec, e))?;
    if out.len() > max_output {
        return Err(DecodeError::DecompressedTooLarge { limit: max_output });
    }
    Ok(out)
}

/// A decode error for corrupt compressed data.
fn corrupt(codec: Compression, detail: impl fmt::Display) -> DecodeError {
    DecodeError::Malformed(format!("corrupt {codec} data: {detail}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Something compressible but not trivially so.
    pub(crate) fn sample(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| b"kafka records compress well "[i % 28] ^ ((i / 1000) as u8))
            .collect()
    }

    #[test]
    fn ids_names_and_attributes() {
        for (i, c) in Compression::ALL.into_iter().enumerate() {
            assert_eq!(c.id() as usize, i);
            assert_eq!(Compression::from_id(i as u8).unwrap(), c);
            assert_eq!(c.name().parse::<Compression>().unwrap(), c);
            assert_eq!(c.to_string(), c.name());
            // Higher attribute bits (timestamp type, transactional, control) are ignored.
            assert_eq!(Compression::from_attributes(0x78 | i as i16).unwrap(), c);
        }
        assert_eq!("GZIP".parse::<Compression>().unwrap(), Compression::Gzip);
        assert!(matches!(
            "brotli".parse::<Compression>(),
            Err(CompressionError::UnknownName(_))
        ));
        for bad in 5..8 {
            assert!(matches!(
                Compression::from_attributes(bad),
                Err(DecodeError::Malformed(_))
            ));
        }
    }

    /// The codecs this build has.
    fn available() -> impl Iterator<Item = Compression> {
        Compression::ALL.into_iter().filter(|c| c.is_available())
    }

    #[test]
    fn codecs_built_without_their_feature_are_typed_errors() {
        for codec in Compression::ALL.into_iter().filter(|c| !c.is_available()) {
            let msg = format!("{}: built without the `{}` feature", codec, codec);
            assert_eq!(
                compress(codec, None, b"x", &mut Vec::new()),
                Err(CompressionError::UnsupportedCompression(msg.clone()))
            );
            assert_eq!(
                decompress(codec, b"x", 10),
                Err(DecodeError::UnsupportedCompression(msg))
            );
        }
    }

    #[test]
    fn every_codec_round_trips_small_empty_and_multi_block_input() {
        for codec in available() {
            for len in [0, 1, 100, 65_536, 65_537, 300_000] {
                let input = sample(len);
                let mut out = vec![0xaa]; // compress appends
                compress(codec, None, &input, &mut out).unwrap();
                assert_eq!(out[0], 0xaa);
                let back = decompress(codec, &out[1..], len).unwrap();
                assert_eq!(back, input, "{codec} len {len}");
            }
        }
    }

    #[test]
    fn levels_are_checked() {
        let mut out = Vec::new();
        let cases = [
            (Compression::Gzip, 9, 10),
            (Compression::Gzip, -1, 0),
            (Compression::Lz4, 17, 0),
            (Compression::Zstd, 22, 23),
            (Compression::Zstd, -5, -200_000),
        ];
        for (codec, good, bad) in cases.into_iter().filter(|c| c.0.is_available()) {
            compress(codec, Some(good), b"abc", &mut out).unwrap();
            assert!(matches!(
                compress(codec, Some(bad), b"abc", &mut out),
                Err(CompressionError::InvalidLevel { .. })
            ));
        }
        // Codecs without levels ignore them.
        if Compression::Snappy.is_available() {
            compress(Compression::Snappy, Some(100), b"abc", &mut out).unwrap();
        }
        compress(Compression::None, Some(100), b"abc", &mut out).unwrap();
    }

    #[test]
    fn decompression_bombs_are_errors() {
        // 8 MiB of zeros compresses to a few hundred KiB at most in every codec.
        let zeros = vec![0u8; 8 << 20];
        for codec in available() {
            let mut packed = Vec::new();
            compress(codec, None, &zeros, &mut packed).unwrap();
            if codec != Compression::None {
                assert!(packed.len() < 1 << 20, "{codec}: {}", packed.len());
            }
            let cap = 1 << 20;
            assert_eq!(
                decompress(codec, &packed, cap),
                Err(DecodeError::DecompressedTooLarge { limit: cap }),
                "{codec}"
            );
            // At exactly the size, it fits.
            assert_eq!(
                decompress(codec, &packed, zeros.len()).unwrap().len(),
                zeros.len()
            );
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for codec in available().skip(1) {
            for input in [&b""[..], b"\x00", b"garbage garbage garbage", &[0xff; 64]] {
                let r = decompress(codec, input, 1 << 20);
                // Raw snappy can legitimately decode some short inputs.
                if codec != Compression::Snappy || input.len() > 1 {
                    assert!(r.is_err(), "{codec} {input:?} -> {r:?}");
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn round_trip_any_bytes(data in proptest::collection::vec(any::<u8>(), 0..5000), id in 0u8..5) {
            let codec = Compression::from_id(id).unwrap();
            prop_assume!(codec.is_available());
            let mut out = Vec::new();
            compress(codec, None, &data, &mut out).unwrap();
            prop_assert_eq!(decompress(codec, &out, data.len()).unwrap(), data);
        }

        #[test]
        fn decompress_never_panics(data in proptest::collection::vec(any::<u8>(), 0..2000), id in 0u8..5) {
            let codec = Compression::from_id(id).unwrap();
            let _ = decompress(codec, &data, 1 << 16);
        }

        #[test]
        fn corrupted_streams_never_panic(
            data in proptest::collection::vec(any::<u8>(), 1..3000),
            id in 1u8..5,
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        ) {
            let codec = Compression::from_id(id).unwrap();
            prop_assume!(codec.is_available());
            let mut out = Vec::new();
            compress(codec, None, &data, &mut out).unwrap();
            for (at, x) in flips {
                let n = out.len();
                out[at % n] ^= x;
            }
            let _ = decompress(codec, &out, 1 << 16);
        }
    }
}
