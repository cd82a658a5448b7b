//! Wire primitives: the [`Reader`] that decodes and the [`Writer`] helpers that encode.
//!
//! Every read checks the bytes remaining first, so a decoder built on these never panics,
//! and every length or count is checked against the remaining input before anything is
//! allocated. Byte fields are returned as [`Bytes`] slices of the input, not copies.

use bytes::{BufMut, Bytes};

/// Why a buffer could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before the value did.
    #[error("unexpected end of input: needed {needed} more bytes at offset {offset}")]
    Truncated { offset: usize, needed: usize },
    /// A length or count is negative (other than the null marker) or larger than the
    /// bytes that remain.
    #[error("invalid length {length} at offset {offset} ({remaining} bytes remain)")]
    InvalidLength {
        offset: usize,
        length: i64,
        remaining: usize,
    },
    /// A varint ran past its maximum width.
    #[error("varint too long at offset {offset}")]
    VarintTooLong { offset: usize },
    /// A string is not valid UTF-8.
    #[error("invalid UTF-8 in string at offset {offset}")]
    InvalidUtf8 { offset: usize },
    /// A non-nullable field was null.
    #[error("unexpected null for non-nullable field {field}")]
    UnexpectedNull { field: &'static str },
    /// The message version is outside what this library can decode.
    #[error("unsupported version {version} of {api}")]
    UnsupportedVersion { api: &'static str, version: i16 },
    /// A value is structurally invalid (bad magic byte, bad codec id, ...).
    #[error("{0}")]
    Malformed(String),
    /// A record batch or message failed its CRC check: the bytes were corrupted on the
    /// way or on disk.
    #[error("CRC mismatch in {what} at offset {offset}: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch {
        /// What was checked ("record batch", "message").
        what: &'static str,
        /// The batch's or message's log offset.
        offset: i64,
        /// The CRC the data carries.
        stored: u32,
        /// The CRC of the bytes received.
        computed: u32,
    },
    /// Compressed data uses a codec this build cannot decode (its cargo feature is off).
    #[error("unsupported compression {0}")]
    UnsupportedCompression(String),
    /// Decompressed data would exceed the output cap: a corrupt or hostile payload.
    #[error("decompressed data exceeds the limit of {limit} bytes")]
    DecompressedTooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
    /// A record batch would take more memory decoded (its decompressed bytes plus its
    /// records and headers) than the cap allows: a corrupt or hostile payload, or a cap
    /// set too low for the data.
    #[error("decoded record batch exceeds the limit of {limit} bytes (decompressed data plus records and headers)")]
    DecodedTooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
}

/// Why a message could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A field's value does not fit its wire type (a string over 32767 bytes, ...).
    #[error("field {field} is too large to encode: {len} bytes")]
    TooLarge { field: &'static str, len: usize },
    /// A non-nullable field was given no value.
    #[error("field {field} may not be null in version {version}")]
    NullNotAllowed { field: &'static str, version: i16 },
    /// The message version is outside what this library can encode.
    #[error("unsupported version {version} of {api}")]
    UnsupportedVersion { api: &'static str, version: i16 },
}

/// A cursor over a received buffer. Slices it hands out share the buffer's memory.
#[derive(Debug, Clone)]
pub struct Reader {
    buf: Bytes,
    pos: usize,
}

impl Reader {
    /// Starts reading `buf` from its first byte.
    pub fn new(buf: Bytes) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes not yet read.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Offset of the next byte to read.
    #[inline]
    pub fn position(&self) -> usize {
        self.pos
    }

    /// True once every byte has been read.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The unread bytes, without consuming them.
    #[inline]
    pub fn peek_rest(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    #[inline]
    fn need(&self, n: usize) -> Result<(), DecodeError> {
        if self.remaining() < n {
            Err(DecodeError::Truncated {
                offset: self.pos,
                needed: n - self.remaining(),
            })
        } else {
            Ok(())
        }
    }

    #[inline]
    fn take<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        self.need(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(&self.buf[self.pos..self.pos + N]);
        self.pos += N;
        Ok(out)
    }

    /// Reads a `bool` (any non-zero byte is true).
    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        Ok(self.take::<1>()?[0] != 0)
    }
    /// Reads an `int8`.
    pub fn i8(&mut self) -> Result<i8, DecodeError> {
        Ok(self.take::<1>()?[0] as i8)
    }
    /// Reads an `int16`.
    pub fn i16(&mut self) -> Result<i16, DecodeError> {
        Ok(i16::from_be_bytes(self.take()?))
    }
    /// Reads a `uint16`.
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.take()?))
    }
    /// Reads an `int32`.
    pub fn i32(&mut self) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.take()?))
    }
    /// Reads a `uint32`.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.take()?))
    }
    /// Reads an `int64`.
    pub fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.take()?))
    }
    /// Reads a `float64`.
    pub fn f64(&mut self) -> Result<f64, DecodeError> {
        Ok(f64::from_be_bytes(self.take()?))
    }
    /// Reads a `uuid`.
    pub fn uuid(&mut self) -> Result<Uuid, DecodeError> {
        Ok(Uuid(self.take()?))
    }

    /// Reads an unsigned LEB128 varint of at most 32 bits.
    pub fn uvarint(&mut self) -> Result<u32, DecodeError> {
        let start = self.pos;
        let mut value: u32 = 0;
        for i in 0..5 {
            let b = self.take::<1>()?[0];
            if i == 4 && b > 0x0f {
                return Err(DecodeError::VarintTooLong { offset: start });
            }
            value |= ((b & 0x7f) as u32) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError::VarintTooLong { offset: start })
    }

    /// Reads an unsigned LEB128 varint of at most 64 bits.
    pub fn uvarlong(&mut self) -> Result<u64, DecodeError> {
        let start = self.pos;
        let mut value: u64 = 0;
        for i in 0..10 {
            let b = self.take::<1>()?[0];
            if i == 9 && b > 0x01 {
                return Err(DecodeError::VarintTooLong { offset: start });
            }
            value |= ((b & 0x7f) as u64) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError::VarintTooLong { offset: start })
    }

    /// Reads a zigzag-encoded signed varint (32 bits).
    pub fn varint(&mut self) -> Result<i32, DecodeError> {
        let v = self.uvarint()?;
        Ok(((v >> 1) as i32) ^ -((v & 1) as i32))
    }

    /// Reads a zigzag-encoded signed varlong (64 bits).
    pub fn varlong(&mut self) -> Result<i64, DecodeError> {
        let v = self.uvarlong()?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    /// Checks a decoded length against the remaining input. `None` means null (-1).
    fn checked_len(&self, len: i64, nullable: bool) -> Result<Option<usize>, DecodeError> {
        if len == -1 && nullable {
            return Ok(None);
        }
        if len < 0 || len as u64 > self.remaining() as u64 {
            return Err(DecodeError::InvalidLength {
                offset: self.pos,
                length: len,
                remaining: self.remaining(),
            });
        }
        Ok(Some(len as usize))
    }

    /// Takes the next `n` bytes as a shared slice.
    pub fn bytes_exact(&mut self, n: usize) -> Result<Bytes, DecodeError> {
        self.need(n)?;
        let out = self.buf.slice(self.pos..self.pos + n);
        self.pos += n;
        Ok(out)
    }

    /// Takes the next `n` bytes as a borrowed slice.
    pub fn slice_exact(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        self.need(n)?;
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Skips `n` bytes.
    pub fn skip(&mut self, n: usize) -> Result<(), DecodeError> {
        self.need(n)?;
        self.pos += n;
        Ok(())
    }

    /// Splits off the next `n` bytes as a reader of their own.
    pub fn sub_reader(&mut self, n: usize) -> Result<Reader, DecodeError> {
        Ok(Reader::new(self.bytes_exact(n)?))
    }

    fn utf8(&self, bytes: Bytes, offset: usize) -> Result<String, DecodeError> {
        String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::InvalidUtf8 { offset })
    }

    /// Length of a classic or compact field. Compact lengths are stored plus one, with
    /// zero for null; classic ones as a signed integer with -1 for null.
    fn length(&mut self, compact: bool, wide: bool) -> Result<i64, DecodeError> {
        Ok(if compact {
            self.uvarint()? as i64 - 1
        } else if wide {
            self.i32()? as i64
        } else {
            self.i16()? as i64
        })
    }

    /// Reads a nullable string, classic (`int16` length) or compact.
    pub fn nullable_string(&mut self, compact: bool) -> Result<Option<String>, DecodeError> {
        let len = self.length(compact, false)?;
        match self.checked_len(len, true)? {
            None => Ok(None),
            Some(n) => {
                let offset = self.pos;
                let b = self.bytes_exact(n)?;
                self.utf8(b, offset).map(Some)
            }
        }
    }

    /// Reads a non-nullable string; null is an error naming `field`.
    pub fn string(&mut self, compact: bool, field: &'static str) -> Result<String, DecodeError> {
        self.nullable_string(compact)?
            .ok_or(DecodeError::UnexpectedNull { field })
    }

    /// Reads nullable bytes, classic (`int32` length) or compact.
    pub fn nullable_bytes(&mut self, compact: bool) -> Result<Option<Bytes>, DecodeError> {
        let len = self.length(compact, true)?;
        match self.checked_len(len, true)? {
            None => Ok(None),
            Some(n) => self.bytes_exact(n).map(Some),
        }
    }

    /// Reads non-nullable bytes; null is an error naming `field`.
    pub fn bytes(&mut self, compact: bool, field: &'static str) -> Result<Bytes, DecodeError> {
        self.nullable_bytes(compact)?
            .ok_or(DecodeError::UnexpectedNull { field })
    }

    /// Reads an array length, classic (`int32`) or compact. `None` is a null array.
    /// A count larger than the bytes remaining is an error, since every element takes at
    /// least one byte: this bounds both allocation and the decode loop.
    pub fn array_len(&mut self, compact: bool) -> Result<Option<usize>, DecodeError> {
        let len = self.length(compact, true)?;
        self.checked_len(len, true)
    }

    /// Reads an array of elements decoded by `elem`. A null array is an error naming
    /// `field`. The count is checked against the remaining input first.
    pub fn array<T>(
        &mut self,
        compact: bool,
        field: &'static str,
        elem: impl FnMut(&mut Reader) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        self.opt_array(compact, false, field, elem)?
            .ok_or(DecodeError::UnexpectedNull { field })
    }

    /// Reads an array that may be null when `nullable` (the field's nullable versions);
    /// null otherwise is an error naming `field`.
    pub fn opt_array<T>(
        &mut self,
        compact: bool,
        nullable: bool,
        field: &'static str,
        mut elem: impl FnMut(&mut Reader) -> Result<T, DecodeError>,
    ) -> Result<Option<Vec<T>>, DecodeError> {
        let Some(n) = self.array_len(compact)? else {
            return if nullable {
                Ok(None)
            } else {
                Err(DecodeError::UnexpectedNull { field })
            };
        };
        // Every element takes at least a byte on the wire but may take far more in
        // memory, so a hostile count only reserves a bounded amount up front.
        let mut out = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            out.push(elem(self)?);
        }
        Ok(Some(out))
    }

    /// Reads a string that may be null when `nullable`; null otherwise is an error.
    pub fn opt_string(
        &mut self,
        compact: bool,
        nullable: bool,
        field: &'static str,
    ) -> Result<Option<String>, DecodeError> {
        match self.nullable_string(compact)? {
            None if !nullable => Err(DecodeError::UnexpectedNull { field }),
            v => Ok(v),
        }
    }

    /// Reads bytes that may be null when `nullable`; null otherwise is an error.
    pub fn opt_bytes(
        &mut self,
        compact: bool,
        nullable: bool,
        field: &'static str,
    ) -> Result<Option<Bytes>, DecodeError> {
        match self.nullable_bytes(compact)? {
            None if !nullable => Err(DecodeError::UnexpectedNull { field }),
            v => Ok(v),
        }
    }

    /// Reads a struct field that may be null when `nullable`. A nullable struct starts
    /// with a presence marker: an `int8` (negative for null), or an unsigned varint (zero
    /// for null) when the field is tagged.
    pub fn opt_struct<T>(
        &mut self,
        nullable: bool,
        tagged: bool,
        read: impl FnOnce(&mut Reader) -> Result<T, DecodeError>,
    ) -> Result<Option<T>, DecodeError> {
        if nullable {
            let present = if tagged {
                self.uvarint()? > 0
            } else {
                self.i8()? >= 0
            };
            if !present {
                return Ok(None);
            }
        }
        read(self).map(Some)
    }

    /// Reads a varint-length byte field of a record (-1 is null).
    pub fn varint_bytes(&mut self) -> Result<Option<Bytes>, DecodeError> {
        let len = self.varint()? as i64;
        match self.checked_len(len, true)? {
            None => Ok(None),
            Some(n) => self.bytes_exact(n).map(Some),
        }
    }

    /// Reads the tagged-field section of a flexible struct, calling `on_tag` for every
    /// field with the tag number and a reader over its bytes. Unknown tags are skipped by
    /// returning `Ok(())` without reading.
    pub fn tagged_fields(
        &mut self,
        mut on_tag: impl FnMut(u32, &mut Reader) -> Result<(), DecodeError>,
    ) -> Result<(), DecodeError> {
        let count = self.uvarint()? as usize;
        if count > self.remaining() {
            return Err(DecodeError::InvalidLength {
                offset: self.pos,
                length: count as i64,
                remaining: self.remaining(),
            });
        }
        for _ in 0..count {
            let tag = self.uvarint()?;
            let size = self.uvarint()? as usize;
            let mut field = self.sub_reader(size)?;
            on_tag(tag, &mut field)?;
        }
        Ok(())
    }
}

/// A 128-bit UUID as Kafka sends it (topic ids, directory ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// The all-zero UUID, which Kafka uses for "no id".
    pub const ZERO: Uuid = Uuid([0; 16]);

    /// True for the all-zero UUID.
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 16]
    }
}

impl std::fmt::Display for Uuid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Encoding helpers over any growable buffer.
pub trait Writer: BufMut {
    /// Writes a `bool`.
    fn put_bool(&mut self, v: bool) {
        self.put_u8(v as u8);
    }

    /// Writes an unsigned LEB128 varint.
    fn put_uvarint(&mut self, mut v: u32) {
        while v >= 0x80 {
            self.put_u8((v as u8) | 0x80);
            v >>= 7;
        }
        self.put_u8(v as u8);
    }

    /// Writes an unsigned LEB128 varlong.
    fn put_uvarlong(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.put_u8((v as u8) | 0x80);
            v >>= 7;
        }
        self.put_u8(v as u8);
    }

    /// Writes a zigzag varint.
    fn put_varint(&mut self, v: i32) {
        self.put_uvarint(((v << 1) ^ (v >> 31)) as u32);
    }

    /// Writes a zigzag varlong.
    fn put_varlong(&mut self, v: i64) {
        self.put_uvarlong(((v << 1) ^ (v >> 63)) as u64);
    }

    /// Writes a UUID.
    fn put_uuid(&mut self, v: &Uuid) {
        self.put_slice(&v.0);
    }

    /// Writes the length prefix of a string, bytes or array; `None` writes null.
    /// `wide` selects `int32` over `int16` for the classic form.
    fn put_length(
        &mut self,
        len: Option<usize>,
        compact: bool,
        wide: bool,
        field: &'static str,
    ) -> Result<(), EncodeError> {
        let too_large = |len| EncodeError::TooLarge { field, len };
        match (len, compact) {
            (None, true) => self.put_uvarint(0),
            (None, false) if wide => self.put_i32(-1),
            (None, false) => self.put_i16(-1),
            (Some(n), true) => {
                let n1 = u32::try_from(n)
                    .ok()
                    .and_then(|n| n.checked_add(1))
                    .ok_or(too_large(n))?;
                self.put_uvarint(n1)
            }
            (Some(n), false) if wide => self.put_i32(i32::try_from(n).map_err(|_| too_large(n))?),
            (Some(n), false) => self.put_i16(i16::try_from(n).map_err(|_| too_large(n))?),
        }
        Ok(())
    }

    /// Writes a nullable string, classic or compact.
    fn put_string(
        &mut self,
        v: Option<&str>,
        compact: bool,
        field: &'static str,
    ) -> Result<(), EncodeError> {
        self.put_length(v.map(str::len), compact, false, field)?;
        if let Some(s) = v {
            self.put_slice(s.as_bytes());
        }
        Ok(())
    }

    /// Writes nullable bytes, classic or compact.
    fn put_nullable_bytes(
        &mut self,
        v: Option<&[u8]>,
        compact: bool,
        field: &'static str,
    ) -> Result<(), EncodeError> {
        self.put_length(v.map(<[u8]>::len), compact, true, field)?;
        if let Some(b) = v {
            self.put_slice(b);
        }
        Ok(())
    }

    /// Writes an array length, classic or compact; `None` writes a null array.
    fn put_array_len(
        &mut self,
        len: Option<usize>,
        compact: bool,
        field: &'static str,
    ) -> Result<(), EncodeError> {
        self.put_length(len, compact, true, field)
    }

    /// Writes varint-length bytes of a record (-1 for null).
    fn put_varint_bytes(&mut self, v: Option<&[u8]>) {
        match v {
            None => self.put_varint(-1),
            Some(b) => {
                self.put_varint(b.len() as i32);
                self.put_slice(b);
            }
        }
    }

    /// Writes a string that may be null only when `nullable` (the field's nullable
    /// versions of `version`).
    fn put_opt_string(
        &mut self,
        v: Option<&str>,
        compact: bool,
        nullable: bool,
        field: &'static str,
        version: i16,
    ) -> Result<(), EncodeError> {
        check_null(v.is_none(), nullable, field, version)?;
        self.put_string(v, compact, field)
    }

    /// Writes bytes that may be null only when `nullable`.
    fn put_opt_bytes(
        &mut self,
        v: Option<&[u8]>,
        compact: bool,
        nullable: bool,
        field: &'static str,
        version: i16,
    ) -> Result<(), EncodeError> {
        check_null(v.is_none(), nullable, field, version)?;
        self.put_nullable_bytes(v, compact, field)
    }

    /// Writes an array, each element with `elem`.
    fn put_array<T>(
        &mut self,
        v: &[T],
        compact: bool,
        field: &'static str,
        mut elem: impl FnMut(&mut Self, &T) -> Result<(), EncodeError>,
    ) -> Result<(), EncodeError> {
        self.put_array_len(Some(v.len()), compact, field)?;
        for e in v {
            elem(self, e)?;
        }
        Ok(())
    }

    /// Writes an array that may be null only when `nullable`.
    fn put_opt_array<T>(
        &mut self,
        v: Option<&[T]>,
        compact: bool,
        nullable: bool,
        field: &'static str,
        version: i16,
        elem: impl FnMut(&mut Self, &T) -> Result<(), EncodeError>,
    ) -> Result<(), EncodeError> {
        check_null(v.is_none(), nullable, field, version)?;
        match v {
            Some(v) => self.put_array(v, compact, field, elem),
            None => self.put_array_len(None, compact, field),
        }
    }

    /// Writes a struct field that may be null only when `nullable`, with the presence
    /// marker [`Reader::opt_struct`] reads.
    fn put_opt_struct<T>(
        &mut self,
        v: Option<&T>,
        nullable: bool,
        tagged: bool,
        field: &'static str,
        version: i16,
        write: impl FnOnce(&mut Self, &T) -> Result<(), EncodeError>,
    ) -> Result<(), EncodeError> {
        check_null(v.is_none(), nullable, field, version)?;
        if nullable {
            match (v.is_some(), tagged) {
                (true, true) => self.put_uvarint(1),
                (false, true) => self.put_uvarint(0),
                (true, false) => self.put_i8(1),
                (false, false) => self.put_i8(-1),
            }
        }
        match v {
            Some(v) => write(self, v),
            None => Ok(()),
        }
    }

    /// Writes one fixed-width value: the element writer of primitive arrays.
    fn put_fixed<T: Fixed>(&mut self, v: &T) -> Result<(), EncodeError> {
        v.put_into(self);
        Ok(())
    }
}

impl<T: BufMut + ?Sized> Writer for T {}

fn check_null(
    is_null: bool,
    nullable: bool,
    field: &'static str,
    version: i16,
) -> Result<(), EncodeError> {
    if is_null && !nullable {
        Err(EncodeError::NullNotAllowed { field, version })
    } else {
        Ok(())
    }
}

/// A fixed-width wire value (`bool`, the integers, `f64`, [`Uuid`]).
pub trait Fixed {
    /// Appends the value, big-endian.
    fn put_into<B: BufMut + ?Sized>(&self, out: &mut B);
}

macro_rules! fixed {
    ($($t:ty => $put:ident),*) => {
        $(impl Fixed for $t {
            fn put_into<B: BufMut + ?Sized>(&self, out: &mut B) {
                out.$put(*self);
            }
        })*
    };
}

fixed!(i8 => put_i8, i16 => put_i16, u16 => put_u16, i32 => put_i32, u32 => put_u32,
    i64 => put_i64, f64 => put_f64, bool => put_bool);

impl Fixed for Uuid {
    fn put_into<B: BufMut + ?Sized>(&self, out: &mut B) {
        out.put_slice(&self.0);
    }
}

/// Collects the tagged fields of a flexible struct, then writes the section: the field
/// count, and per field its tag, size and bytes.
#[derive(Debug, Default)]
pub struct TaggedWriter {
    count: u32,
    buf: Vec<u8>,
}

impl TaggedWriter {
    /// Adds the field `tag`, written by `write`. Tags must be added in increasing order.
    pub fn field(
        &mut self,
        tag: u32,
        write: impl FnOnce(&mut Vec<u8>) -> Result<(), EncodeError>,
    ) -> Result<(), EncodeError> {
        let mut data = Vec::new();
        write(&mut data)?;
        let len = u32::try_from(data.len()).map_err(|_| EncodeError::TooLarge {
            field: "tagged field",
            len: data.len(),
        })?;
        self.buf.put_uvarint(tag);
        self.buf.put_uvarint(len);
        self.buf.extend_from_slice(&data);
        self.count += 1;
        Ok(())
    }

    /// Appends the section to `out`.
    pub fn finish(self, out: &mut Vec<u8>) {
        out.put_uvarint(self.count);
        out.extend_from_slice(&self.buf);
    }
}

/// The encoded width of an unsigned varint.
#[inline]
pub fn uvarint_len(v: u32) -> usize {
    match v {
        0..=0x7f => 1,
        0x80..=0x3fff => 2,
        0x4000..=0x1f_ffff => 3,
        0x20_0000..=0x0fff_ffff => 4,
        _ => 5,
    }
}

/// The encoded width of a zigzag varint.
#[inline]
pub fn varint_len(v: i32) -> usize {
    uvarint_len(((v << 1) ^ (v >> 31)) as u32)
}

/// The encoded width of a zigzag varlong.
#[inline]
pub fn varlong_len(v: i64) -> usize {
    let mut u = ((v << 1) ^ (v >> 63)) as u64;
    let mut n = 1;
    while u >= 0x80 {
        u >>= 7;
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reader(bytes: &[u8]) -> Reader {
        Reader::new(Bytes::copy_from_slice(bytes))
    }

    #[test]
    fn varint_fixtures_from_the_protocol_guide() {
        // zigzag: 0 -> 00, -1 -> 01, 1 -> 02, -2 -> 03, 300 -> d8 04
        for (v, hex) in [
            (0, &[0x00][..]),
            (-1, &[0x01]),
            (1, &[0x02]),
            (-2, &[0x03]),
            (300, &[0xd8, 0x04]),
        ] {
            let mut out = Vec::new();
            out.put_varint(v);
            assert_eq!(out, hex, "encode {v}");
            assert_eq!(reader(hex).varint().unwrap(), v, "decode {v}");
            assert_eq!(varint_len(v), hex.len());
        }
    }

    #[test]
    fn truncated_and_overlong_varints_are_errors() {
        assert!(matches!(
            reader(&[0x80]).uvarint(),
            Err(DecodeError::Truncated { .. })
        ));
        assert!(matches!(
            reader(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]).uvarint(),
            Err(DecodeError::VarintTooLong { .. })
        ));
        assert!(matches!(
            reader(&[0xff; 11]).uvarlong(),
            Err(DecodeError::VarintTooLong { .. })
        ));
    }

    #[test]
    fn lengths_are_checked_before_allocation() {
        // A string claiming 32767 bytes with 2 present.
        assert!(matches!(
            reader(&[0x7f, 0xff, b'a', b'b']).nullable_string(false),
            Err(DecodeError::InvalidLength { .. })
        ));
        // An array claiming 2^31-1 elements.
        assert!(matches!(
            reader(&[0x7f, 0xff, 0xff, 0xff]).array_len(false),
            Err(DecodeError::InvalidLength { .. })
        ));
        // Negative non-null length.
        assert!(matches!(
            reader(&[0xff, 0xfe]).nullable_string(false),
            Err(DecodeError::InvalidLength { .. })
        ));
        assert_eq!(reader(&[0xff, 0xff]).nullable_string(false).unwrap(), None);
        assert_eq!(reader(&[0x00]).nullable_string(true).unwrap(), None);
    }

    #[test]
    fn bytes_are_slices_of_the_input() {
        let input = Bytes::from_static(&[0, 0, 0, 3, b'x', b'y', b'z']);
        let mut r = Reader::new(input.clone());
        let b = r.bytes(false, "f").unwrap();
        assert_eq!(&b[..], b"xyz");
        assert_eq!(b.as_ptr(), input[4..].as_ptr());
    }

    #[test]
    fn arrays_and_nullable_fields_follow_their_versions() {
        let mut out = Vec::new();
        out.put_array(&[1i32, 2], true, "a", |o, e| o.put_fixed(e))
            .unwrap();
        out.put_opt_array::<i32>(None, false, true, "b", 3, |o, e| o.put_fixed(e))
            .unwrap();
        out.put_opt_string(None, true, true, "c", 3).unwrap();
        out.put_opt_struct(Some(&7i8), true, false, "d", 3, |o, v| o.put_fixed(v))
            .unwrap();
        out.put_opt_struct::<i8>(None, true, true, "e", 3, |o, v| o.put_fixed(v))
            .unwrap();
        assert_eq!(
            out,
            [3, 0, 0, 0, 1, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff, 0, 1, 7, 0]
        );
        assert_eq!(
            out.put_opt_string(None, true, false, "f", 2),
            Err(EncodeError::NullNotAllowed {
                field: "f",
                version: 2
            })
        );

        let mut r = reader(&out);
        assert_eq!(r.array(true, "a", Reader::i32).unwrap(), [1, 2]);
        assert_eq!(r.opt_array(false, true, "b", Reader::i32).unwrap(), None);
        assert_eq!(r.opt_string(true, true, "c").unwrap(), None);
        assert_eq!(r.opt_struct(true, false, Reader::i8).unwrap(), Some(7));
        assert_eq!(r.opt_struct(true, true, Reader::i8).unwrap(), None);
        assert!(r.is_empty());
        assert_eq!(
            reader(&[0]).opt_string(true, false, "g"),
            Err(DecodeError::UnexpectedNull { field: "g" })
        );
        assert!(reader(&[0]).array(true, "h", Reader::i8).is_err());
    }

    #[test]
    fn tagged_writer_writes_count_tags_and_sizes() {
        let mut t = TaggedWriter::default();
        t.field(0, |o| {
            o.put_i16(5);
            Ok(())
        })
        .unwrap();
        t.field(300, |_| Ok(())).unwrap();
        let mut out = Vec::new();
        t.finish(&mut out);
        assert_eq!(out, [2, 0, 2, 0, 5, 0xac, 0x02, 0]);
        let mut seen = Vec::new();
        reader(&out)
            .tagged_fields(|tag, r| {
                seen.push((tag, r.remaining()));
                Ok(())
            })
            .unwrap();
        assert_eq!(seen, [(0, 2), (300, 0)]);
    }

    proptest! {
        #[test]
        fn varlong_round_trip(v: i64) {
            let mut out = Vec::new();
            out.put_varlong(v);
            prop_assert_eq!(out.len(), varlong_len(v));
            prop_assert_eq!(reader(&out).varlong().unwrap(), v);
        }

        #[test]
        fn varint_round_trip(v: i32) {
            let mut out = Vec::new();
            out.put_varint(v);
            prop_assert_eq!(out.len(), varint_len(v));
            prop_assert_eq!(reader(&out).varint().unwrap(), v);
        }

        #[test]
        fn compact_string_round_trip(s in proptest::option::of(".{0,200}")) {
            let mut out = Vec::new();
            out.put_string(s.as_deref(), true, "s").unwrap();
            prop_assert_eq!(reader(&out).nullable_string(true).unwrap(), s);
        }

        #[test]
        fn reader_never_panics(data: Vec<u8>) {
            let mut r = reader(&data);
            let _ = r.nullable_string(true);
            let _ = r.nullable_bytes(false);
            let _ = r.array_len(true);
            let _ = r.varlong();
            let _ = r.tagged_fields(|_, _| Ok(()));
        }
    }
}
