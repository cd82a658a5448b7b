//! Splitting a byte stream into size-prefixed frames.

use std::io::{self, Read};

use bytes::{Buf, Bytes, BytesMut};

use super::codec::{DecodeError, Reader};
use super::header::ResponseHeader;

/// Why a frame cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The size prefix is negative.
    #[error("negative frame size {0}")]
    Negative(i32),
    /// The size prefix is over the limit.
    #[error("frame of {size} bytes exceeds the maximum of {max} bytes")]
    TooLarge {
        /// The announced size.
        size: usize,
        /// The limit.
        max: usize,
    },
}

/// The size of the frame at the start of `buf`: `Ok(None)` while the 4-byte prefix is
/// incomplete. The size is checked against `max` before anything is allocated for it.
///
/// # Examples
/// ```
/// # #[cfg(feature = "protocol")] {
/// use kafka_sync::protocol::frame::frame_size;
/// assert_eq!(frame_size(&[0, 0], 100), Ok(None));
/// assert_eq!(frame_size(&[0, 0, 0, 5], 100), Ok(Some(5)));
/// assert!(frame_size(&[0x7f, 0xff, 0xff, 0xff], 100).is_err());
/// # }
/// ```
pub fn frame_size(buf: &[u8], max: usize) -> Result<Option<usize>, FrameError> {
    let Some(prefix) = buf.get(..4) else {
        return Ok(None);
    };
    let size = i32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
    if size < 0 {
        return Err(FrameError::Negative(size));
    }
    let size = size as usize;
    if size > max {
        return Err(FrameError::TooLarge { size, max });
    }
    Ok(Some(size))
}

/// The complete frame at the start of `buf`, if there is one: its length and its bytes
/// (header and body, without the size prefix). `Ok(None)` while the prefix or the frame
/// is incomplete; a negative size or one over `max_size` is an error, found before
/// anything is allocated.
///
/// # Examples
/// ```
/// # #[cfg(feature = "protocol")] {
/// use kafka_sync::protocol::frame::parse_frame;
/// assert_eq!(parse_frame(&[0, 0, 0, 2, 7], 100), Ok(None));
/// assert_eq!(parse_frame(&[0, 0, 0, 2, 7, 8, 9], 100), Ok(Some((2, &[7u8, 8][..]))));
/// assert!(parse_frame(&[0xff, 0xff, 0xff, 0xff], 100).is_err());
/// # }
/// ```
pub fn parse_frame(buf: &[u8], max_size: usize) -> Result<Option<(usize, &[u8])>, FrameError> {
    let Some(size) = frame_size(buf, max_size)? else {
        return Ok(None);
    };
    Ok(buf.get(4..4 + size).map(|frame| (size, frame)))
}

/// Splits a response frame (from [`FrameDecoder::next_frame`]) into its header, of
/// `header_version` (see [`response_header_version`](super::api::response_header_version)),
/// and a reader over the body.
///
/// # Examples
/// ```
/// # #[cfg(feature = "protocol")] {
/// use bytes::Bytes;
/// use kafka_sync::protocol::frame::split_response;
/// let frame = Bytes::from_static(&[0, 0, 0, 7, 0, 0xab]);
/// let (header, body) = split_response(frame, 1).unwrap();
/// assert_eq!(header.correlation_id, 7);
/// assert_eq!(body.peek_rest(), &[0xab]);
/// # }
/// ```
pub fn split_response(
    frame: Bytes,
    header_version: i16,
) -> Result<(ResponseHeader, Reader), DecodeError> {
    let mut r = Reader::new(frame);
    let header = ResponseHeader::decode(&mut r, header_version)?;
    Ok((header, r))
}

/// Splits a byte stream into frames. Frames come out as zero-copy slices of the read
/// buffer.
///
/// The buffer is `[filled bytes | spare]`. Spare space is zeroed once when it is added
/// and reused by later reads, so a read that returns little (or `WouldBlock`, which every
/// readiness event ends with) costs no memset; each byte received is zeroed once.
///
/// # Examples
/// ```
/// # #[cfg(feature = "protocol")] {
/// use kafka_sync::protocol::frame::FrameDecoder;
/// let mut d = FrameDecoder::new(1024);
/// d.extend_from_slice(&[0, 0, 0, 2, 7]);
/// assert_eq!(d.next_frame().unwrap(), None);
/// d.extend_from_slice(&[8, 0]);
/// assert_eq!(d.next_frame().unwrap().as_deref(), Some(&[7u8, 8][..]));
/// # }
/// ```
#[derive(Debug)]
pub struct FrameDecoder {
    buf: BytesMut,
    /// Bytes of `buf` received and not yet split off as frames.
    filled: usize,
    max: usize,
}

/// A read asks for at least this much room.
const MIN_READ: usize = 64 * 1024;

/// The most room a read adds beyond what has already arrived: a large announced frame
/// grows the buffer as its bytes come, not all at once on the strength of its prefix.
const GROW_STEP: usize = 1 << 20;

impl FrameDecoder {
    /// A decoder refusing frames over `max` bytes.
    pub fn new(max: usize) -> Self {
        FrameDecoder {
            buf: BytesMut::new(),
            filled: 0,
            max,
        }
    }

    /// Appends received bytes.
    pub fn extend_from_slice(&mut self, data: &[u8]) {
        self.buf.truncate(self.filled);
        self.buf.extend_from_slice(data);
        self.filled = self.buf.len();
    }

    /// Reads once from `src` into the buffer: as much as the current frame still needs,
    /// but no more than the growth step (1 MiB) or the bytes already buffered (so memory
    /// follows what has arrived, whatever the size prefix claims), and at least 64 KiB
    /// of room. Returns what `read` returned.
    pub fn read_from(&mut self, src: &mut impl Read) -> io::Result<usize> {
        let pending = frame_size(&self.buf[..self.filled], self.max)
            .ok()
            .flatten()
            .map_or(0, |size| (4 + size).saturating_sub(self.filled))
            .min(self.filled.max(GROW_STEP));
        // Grow only when the spare space is short of the pending frame or half a
        // MIN_READ: small responses then reuse the spare space many times over.
        if self.buf.len() - self.filled < pending.max(MIN_READ / 2) {
            self.buf.truncate(self.filled);
            self.buf.resize(self.filled + pending.max(MIN_READ), 0);
        }
        let n = src.read(&mut self.buf[self.filled..])?;
        self.filled += n;
        Ok(n)
    }

    /// The next complete frame without its size prefix, `Ok(None)` if more bytes are
    /// needed, or an error for a bad size prefix.
    pub fn next_frame(&mut self) -> Result<Option<Bytes>, FrameError> {
        let Some(size) = frame_size(&self.buf[..self.filled], self.max)? else {
            return Ok(None);
        };
        if self.filled < 4 + size {
            return Ok(None);
        }
        self.buf.advance(4);
        self.filled -= 4 + size;
        Ok(Some(self.buf.split_to(size).freeze()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_and_oversized_prefixes_are_errors() {
        assert_eq!(
            frame_size(&[0xff, 0xff, 0xff, 0xff], 10),
            Err(FrameError::Negative(-1))
        );
        assert!(matches!(
            frame_size(&[0x7f, 0, 0, 0], 10),
            Err(FrameError::TooLarge { .. })
        ));
        let mut d = FrameDecoder::new(10);
        d.extend_from_slice(&[0x7f, 0xff, 0xff, 0xff]);
        assert!(d.next_frame().is_err());
    }

    #[test]
    fn parse_frame_waits_for_the_whole_frame() {
        let frame = [0, 0, 0, 3, 1, 2, 3, 0xee];
        for cut in 0..7 {
            assert_eq!(parse_frame(&frame[..cut], 10), Ok(None), "{cut}");
        }
        assert_eq!(parse_frame(&frame, 10), Ok(Some((3, &[1u8, 2, 3][..]))));
        assert_eq!(
            parse_frame(&[0x80, 0, 0, 0], usize::MAX),
            Err(FrameError::Negative(i32::MIN))
        );
        assert_eq!(
            parse_frame(&[0, 0, 0, 11], 10),
            Err(FrameError::TooLarge { size: 11, max: 10 })
        );
    }

    #[test]
    fn split_response_reads_header_v0_and_v1() {
        let (h, body) = split_response(Bytes::from_static(&[0, 0, 1, 0, 9]), 0).unwrap();
        assert_eq!((h.correlation_id, body.remaining()), (256, 1));
        // v1: a tagged-field section (one unknown field) before the body.
        let (h, body) =
            split_response(Bytes::from_static(&[0, 0, 0, 1, 1, 0, 1, 5, 9]), 1).unwrap();
        assert_eq!((h.correlation_id, body.peek_rest()), (1, &[9u8][..]));
        assert!(split_response(Bytes::from_static(&[0, 0, 0]), 0).is_err());
        assert!(split_response(Bytes::from_static(&[0, 0, 0, 1]), 1).is_err());
    }

    #[test]
    fn frames_are_slices_of_the_read_buffer() {
        let mut d = FrameDecoder::new(100);
        d.extend_from_slice(&[0, 0, 0, 3, 1, 2, 3]);
        let start = d.buf.as_ptr() as usize;
        let frame = d.next_frame().unwrap().unwrap();
        assert_eq!(frame.as_ptr() as usize, start + 4);
    }

    proptest::proptest! {
        #[test]
        fn any_stream_splits_without_panics(data: Vec<u8>, chunk in 1usize..50) {
            let mut d = FrameDecoder::new(64);
            let mut total = 0;
            for piece in data.chunks(chunk) {
                d.extend_from_slice(piece);
                loop {
                    match d.next_frame() {
                        Ok(Some(f)) => {
                            proptest::prop_assert!(f.len() <= 64);
                            total += 4 + f.len();
                        }
                        Ok(None) => break,
                        Err(_) => return Ok(()),
                    }
                }
            }
            proptest::prop_assert!(total <= data.len());
        }
    }

    #[test]
    fn a_large_announced_frame_costs_only_what_has_arrived() {
        let max = 128 << 20;
        let mut data = ((max - 1) as u32).to_be_bytes().to_vec();
        data.extend_from_slice(&[7; 10]);
        let mut src = Trickle {
            data,
            chunk: 1 << 20,
            offered: Vec::new(),
        };
        let mut d = FrameDecoder::new(max);
        while d.read_from(&mut src).is_ok() {}
        assert_eq!(d.next_frame().unwrap(), None);
        assert!(d.buf.capacity() <= 2 * GROW_STEP, "{}", d.buf.capacity());
        assert!(
            src.offered.iter().all(|&n| n <= 2 * GROW_STEP),
            "{:?}",
            src.offered
        );
    }

    #[test]
    fn splits_several_frames_from_one_read() {
        let mut d = FrameDecoder::new(100);
        d.extend_from_slice(&[0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 2, 2]);
        assert_eq!(d.next_frame().unwrap().as_deref(), Some(&[1u8][..]));
        assert_eq!(d.next_frame().unwrap().as_deref(), Some(&[][..]));
        assert_eq!(d.next_frame().unwrap(), None);
        d.extend_from_slice(&[3]);
        assert_eq!(d.next_frame().unwrap().as_deref(), Some(&[2u8, 3][..]));
    }

    /// Hands out its bytes in reads of at most `chunk`, recording how much room each
    /// read offered, then says `WouldBlock`.
    struct Trickle {
        data: Vec<u8>,
        chunk: usize,
        offered: Vec<usize>,
    }

    impl Read for Trickle {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            self.offered.push(out.len());
            if self.data.is_empty() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = self.chunk.min(out.len()).min(self.data.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data.drain(..n);
            Ok(n)
        }
    }

    #[test]
    fn reads_offer_room_for_the_whole_pending_frame() {
        let size = 300 * 1024;
        let mut data = (size as u32).to_be_bytes().to_vec();
        data.extend((0..size).map(|i| i as u8));
        data.extend_from_slice(&[0, 0, 0, 1, 42]);
        let mut src = Trickle {
            data,
            chunk: 100 * 1024,
            offered: Vec::new(),
        };
        let mut d = FrameDecoder::new(1 << 20);
        let mut frames = Vec::new();
        loop {
            match d.read_from(&mut src) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
            while let Some(f) = d.next_frame().unwrap() {
                frames.push(f);
            }
        }
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].len(), size);
        assert!(frames[0].iter().enumerate().all(|(i, &b)| b == i as u8));
        assert_eq!(&frames[1][..], &[42]);
        // Once the size prefix is known, a read offers room for all that is missing.
        assert!(src.offered[1] >= size + 4 - 100 * 1024, "{:?}", src.offered);
    }
}
