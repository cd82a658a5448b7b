//! Splitting a byte stream into size-prefixed frames.

use bytes::{Buf, Bytes, BytesMut};

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
