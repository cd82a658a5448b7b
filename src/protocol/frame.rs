//! Splitting a byte stream into size-prefixed frames.

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
/// use kafka_sync::protocol::frame::frame_size;
/// assert_eq!(frame_size(&[0, 0], 100), Ok(None));
/// assert_eq!(frame_size(&[0, 0, 0, 5], 100), Ok(Some(5)));
/// assert!(frame_size(&[0x7f, 0xff, 0xff, 0xff], 100).is_err());
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
/// use kafka_sync::protocol::frame::parse_frame;
/// assert_eq!(parse_frame(&[0, 0, 0, 2, 7], 100), Ok(None));
/// assert_eq!(parse_frame(&[0, 0, 0, 2, 7, 8, 9], 100), Ok(Some((2, &[7u8, 8][..]))));
/// assert!(parse_frame(&[0xff, 0xff, 0xff, 0xff], 100).is_err());
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
/// use bytes::Bytes;
/// use kafka_sync::protocol::frame::split_response;
/// let frame = Bytes::from_static(&[0, 0, 0, 7, 0, 0xab]);
/// let (header, body) = split_response(frame, 1).unwrap();
/// assert_eq!(header.correlation_id, 7);
/// assert_eq!(body.peek_rest(), &[0xab]);
/// ```
pub fn split_response(
    frame: Bytes,
    header_version: i16,
) -> Result<(ResponseHeader, Reader), DecodeError> {
    let mut r = Reader::new(frame);
    let header = ResponseHeader::decode(&mut r, header_version)?;
    Ok((header, r))
}

/// Accumulates bytes read from a socket and splits off complete frames without copying.
///
/// # Examples
/// ```
/// use kafka_sync::protocol::frame::FrameDecoder;
/// let mut d = FrameDecoder::new(1024);
/// d.buffer_mut().extend_from_slice(&[0, 0, 0, 2, 7]);
/// assert_eq!(d.next_frame().unwrap(), None);
/// d.buffer_mut().extend_from_slice(&[8, 0]);
/// assert_eq!(d.next_frame().unwrap().as_deref(), Some(&[7u8, 8][..]));
/// ```
#[derive(Debug)]
pub struct FrameDecoder {
    buf: BytesMut,
    max: usize,
}

impl FrameDecoder {
    /// A decoder accepting frames up to `max` bytes.
    pub fn new(max: usize) -> Self {
        FrameDecoder {
            buf: BytesMut::with_capacity(64 * 1024),
            max,
        }
    }

    /// The buffer to append received bytes to.
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// The next complete frame's body (without the size prefix), if one is buffered.
    pub fn next_frame(&mut self) -> Result<Option<Bytes>, FrameError> {
        let Some(size) = frame_size(&self.buf, self.max)? else {
            return Ok(None);
        };
        if self.buf.len() < 4 + size {
            // Make room for the rest of the frame in one allocation.
            self.buf.reserve(4 + size - self.buf.len());
            return Ok(None);
        }
        self.buf.advance(4);
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
        d.buffer_mut().extend_from_slice(&[0x7f, 0xff, 0xff, 0xff]);
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
        d.buffer_mut().extend_from_slice(&[0, 0, 0, 3, 1, 2, 3]);
        let start = d.buffer_mut().as_ptr() as usize;
        let frame = d.next_frame().unwrap().unwrap();
        assert_eq!(frame.as_ptr() as usize, start + 4);
    }

    proptest::proptest! {
        #[test]
        fn any_stream_splits_without_panics(data: Vec<u8>, chunk in 1usize..50) {
            let mut d = FrameDecoder::new(64);
            let mut total = 0;
            for piece in data.chunks(chunk) {
                d.buffer_mut().extend_from_slice(piece);
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
    fn splits_several_frames_from_one_read() {
        let mut d = FrameDecoder::new(100);
        d.buffer_mut()
            .extend_from_slice(&[0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 2, 2]);
        assert_eq!(d.next_frame().unwrap().as_deref(), Some(&[1u8][..]));
        assert_eq!(d.next_frame().unwrap().as_deref(), Some(&[][..]));
        assert_eq!(d.next_frame().unwrap(), None);
        d.buffer_mut().extend_from_slice(&[3]);
        assert_eq!(d.next_frame().unwrap().as_deref(), Some(&[2u8, 3][..]));
    }
}
