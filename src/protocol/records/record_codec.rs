//! The record codec of batch format v2: varints, a record and its headers, decoded
//! straight from a buffer with slices for keys and values, on the consumer's hot path.

use bytes::Bytes;

use super::budget::{Budget, HEADER_COST};
use super::{Record, RecordHeader};
use crate::protocol::codec::DecodeError;

/// Why a record failed to decode, kept small so the hot path passes it in registers;
/// [`Fault::into_error`] turns it into a [`DecodeError`] off the hot path.
#[derive(Debug, Clone, Copy)]
pub(super) enum Fault {
    Truncated {
        at: usize,
    },
    VarintTooLong {
        at: usize,
    },
    InvalidLength {
        at: usize,
        length: i32,
        remaining: usize,
    },
    SizeMismatch {
        at: usize,
        declared: i32,
        used: usize,
    },
    NullHeaderKey,
    /// The batch's decoded records and headers would exceed its memory budget.
    OverBudget,
}

impl Fault {
    #[cold]
    #[inline(never)]
    pub(super) fn into_error(self, budget: &Budget) -> DecodeError {
        match self {
            Fault::Truncated { at } => DecodeError::Truncated {
                offset: at,
                needed: 1,
            },
            Fault::VarintTooLong { at } => DecodeError::VarintTooLong { offset: at },
            Fault::InvalidLength {
                at,
                length,
                remaining,
            } => DecodeError::InvalidLength {
                offset: at,
                length: length as i64,
                remaining,
            },
            Fault::SizeMismatch { at, declared, used } => DecodeError::Malformed(format!(
                "record at byte {at} declares {declared} bytes but its fields take {used}"
            )),
            Fault::NullHeaderKey => DecodeError::UnexpectedNull {
                field: "record header key",
            },
            Fault::OverBudget => budget.exceeded(),
        }
    }
}

/// Reads an unsigned LEB128 value of at most `max_bytes` bytes; the last byte may use
/// only the bits that fit `bits`.
#[inline(never)]
#[cold]
fn uvarint_slow(d: &[u8], pos: &mut usize, max_bytes: usize, bits: u32) -> Result<u64, Fault> {
    let start = *pos;
    let mut value: u64 = 0;
    for i in 0..max_bytes {
        let Some(&b) = d.get(start + i) else {
            return Err(Fault::Truncated { at: start + i });
        };
        if i == max_bytes - 1 && (b as u64) >> (bits - 7 * i as u32) != 0 {
            return Err(Fault::VarintTooLong { at: start });
        }
        value |= ((b & 0x7f) as u64) << (7 * i);
        if b & 0x80 == 0 {
            *pos = start + i + 1;
            return Ok(value);
        }
    }
    Err(Fault::VarintTooLong { at: start })
}

/// An unsigned varint of at most `max_bytes`, with fast paths for the one- and two-byte
/// values that record fields almost always are.
#[inline(always)]
fn uvarint(d: &[u8], pos: &mut usize, max_bytes: usize, bits: u32) -> Result<u64, Fault> {
    let p = *pos;
    match d.get(p..) {
        Some(&[b0, ..]) if b0 < 0x80 => {
            *pos = p + 1;
            Ok(b0 as u64)
        }
        Some(&[b0, b1, ..]) if b1 < 0x80 => {
            *pos = p + 2;
            Ok((b0 & 0x7f) as u64 | (b1 as u64) << 7)
        }
        _ => uvarint_slow(d, pos, max_bytes, bits),
    }
}

/// A zigzag varint (32 bits).
#[inline(always)]
fn varint(d: &[u8], pos: &mut usize) -> Result<i32, Fault> {
    let u = uvarint(d, pos, 5, 32)? as u32;
    Ok(((u >> 1) as i32) ^ -((u & 1) as i32))
}

/// A zigzag varlong (64 bits).
#[inline(always)]
fn varlong(d: &[u8], pos: &mut usize) -> Result<i64, Fault> {
    let u = uvarint(d, pos, 10, 64)?;
    Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
}

/// A varint length and that many bytes as a slice of `buf`; -1 is null. `d` is `buf`
/// cut at the end of the current record.
#[inline(always)]
fn nullable_bytes(buf: &Bytes, d: &[u8], pos: &mut usize) -> Result<Option<Bytes>, Fault> {
    let at = *pos;
    let len = varint(d, pos)?;
    if len == -1 {
        return Ok(None);
    }
    let remaining = d.len() - *pos;
    if len < 0 || len as usize > remaining {
        return Err(Fault::InvalidLength {
            at,
            length: len,
            remaining,
        });
    }
    let start = *pos;
    *pos += len as usize;
    Ok(Some(buf.slice(start..*pos)))
}

/// The headers of a record, from their count on.
#[inline(never)]
fn decode_headers(
    buf: &Bytes,
    d: &[u8],
    pos: &mut usize,
    count: i32,
    budget: &mut Budget,
) -> Result<Vec<RecordHeader>, Fault> {
    let remaining = d.len() - *pos;
    // Each header takes at least two bytes.
    if count < 0 || count as usize > remaining / 2 {
        return Err(Fault::InvalidLength {
            at: *pos,
            length: count,
            remaining,
        });
    }
    if !budget.take(count as usize * HEADER_COST) {
        return Err(Fault::OverBudget);
    }
    let mut headers = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let key = nullable_bytes(buf, d, pos)?.ok_or(Fault::NullHeaderKey)?;
        let value = nullable_bytes(buf, d, pos)?;
        let key = String::from_utf8_lossy(&key).into_owned();
        if !budget.take(key.len()) {
            return Err(Fault::OverBudget);
        }
        headers.push(RecordHeader { key, value });
    }
    Ok(headers)
}

/// Decodes the record at `*pos` in `buf`, leaving `*pos` after it, and hands it to
/// `emit` (which lets the caller build it in place, say in a `Vec`). Its headers are
/// paid for from `budget`; the record itself the caller pays for.
#[inline(always)]
pub(super) fn decode_record<R>(
    buf: &Bytes,
    pos: &mut usize,
    base_offset: i64,
    base_timestamp: i64,
    log_append_time: Option<i64>,
    budget: &mut Budget,
    emit: impl FnOnce(Record) -> R,
) -> Result<R, Fault> {
    let all: &[u8] = buf;
    let at = *pos;
    let len = varint(all, pos)?;
    let remaining = all.len() - *pos;
    if len < 1 || len as usize > remaining {
        return Err(if len == 0 {
            Fault::Truncated { at: *pos }
        } else {
            Fault::InvalidLength {
                at,
                length: len,
                remaining,
            }
        });
    }
    let body = *pos;
    let end = body + len as usize;
    // Every read below stays within the record's declared length.
    let d = &all[..end];
    *pos += 1; // attributes: none defined for records
    let timestamp_delta = varlong(d, pos)?;
    let offset_delta = varint(d, pos)?;
    let key = nullable_bytes(buf, d, pos)?;
    let value = nullable_bytes(buf, d, pos)?;
    let count = varint(d, pos)?;
    let headers = if count == 0 {
        Vec::new()
    } else {
        decode_headers(buf, d, pos, count, budget)?
    };
    if *pos != end {
        return Err(Fault::SizeMismatch {
            at,
            declared: len,
            used: *pos - body,
        });
    }
    Ok(emit(Record {
        offset: base_offset.wrapping_add(offset_delta as i64),
        timestamp: match log_append_time {
            Some(t) => t,
            None => base_timestamp.wrapping_add(timestamp_delta),
        },
        key,
        value,
        headers,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_match_the_reader() {
        use crate::protocol::codec::{Reader, Writer};
        for v in [
            0i64,
            1,
            -1,
            63,
            -64,
            64,
            300,
            i32::MAX as i64,
            i32::MIN as i64,
            i64::MAX,
            i64::MIN,
        ] {
            let mut out = Vec::new();
            out.put_varlong(v);
            let mut pos = 0;
            assert_eq!(varlong(&out, &mut pos).unwrap(), v);
            assert_eq!(pos, out.len());
            if let Ok(v32) = i32::try_from(v) {
                let mut out = Vec::new();
                out.put_varint(v32);
                let mut pos = 0;
                assert_eq!(varint(&out, &mut pos).unwrap(), v32);
                assert_eq!(Reader::new(out.into()).varint().unwrap(), v32);
            }
        }
        // Overlong and truncated forms.
        let budget = Budget::new(1 << 20, 0).unwrap();
        let err = |r: Result<i64, Fault>| r.map_err(|f| f.into_error(&budget)).unwrap_err();
        assert!(matches!(
            err(varint(&[0xff, 0xff, 0xff, 0xff, 0x1f], &mut 0).map(i64::from)),
            DecodeError::VarintTooLong { .. }
        ));
        assert!(matches!(
            err(varint(&[0x80, 0x80], &mut 0).map(i64::from)),
            DecodeError::Truncated { .. }
        ));
        assert!(matches!(
            err(varlong(&[0xff; 10], &mut 0)),
            DecodeError::VarintTooLong { .. }
        ));
    }
}
