//! The one byte layout every stored value is wrapped in: `[len u32 LE][crc32 u32 LE][payload]`.
//!
//! `len` is the payload length and `crc32` (crc32fast, IEEE) covers the payload. Both are checked
//! on every read, so a truncated, extended or bit-flipped value is reported, never decoded.
//! Writers build a frame in place: [`start`] reserves the header, the payload is appended, and
//! [`seal`] fills the header in, so no payload is ever copied to be framed.

use std::fmt;

/// Bytes before the payload.
pub const HEADER_LEN: usize = 8;

/// Why a frame was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// Fewer bytes than a header.
    Truncated { len: usize },
    /// The header's length does not match the bytes present.
    LengthMismatch { declared: usize, actual: usize },
    /// The payload does not have the checksum the header promises.
    ChecksumMismatch { stored: u32, computed: u32 },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Truncated { len } => {
                write!(f, "frame of {len} bytes is shorter than its header")
            }
            FrameError::LengthMismatch { declared, actual } => {
                write!(
                    f,
                    "frame declares {declared} payload bytes but holds {actual}"
                )
            }
            FrameError::ChecksumMismatch { stored, computed } => {
                write!(
                    f,
                    "checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
                )
            }
        }
    }
}

/// Clears `buf` and reserves room for a header; append the payload, then call [`seal`].
pub fn start(buf: &mut Vec<u8>) {
    buf.clear();
    buf.extend_from_slice(&[0; HEADER_LEN]);
}

/// Fills in the header of a frame begun with [`start`].
pub fn seal(buf: &mut [u8]) {
    let payload = &buf[HEADER_LEN..];
    let len = u32::try_from(payload.len()).expect("a frame payload is smaller than 4 GiB");
    let crc = crc32fast::hash(payload);
    buf[0..4].copy_from_slice(&len.to_le_bytes());
    buf[4..8].copy_from_slice(&crc.to_le_bytes());
}

/// Frames a payload into a new buffer.
pub fn encode(payload: &[u8]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(HEADER_LEN + payload.len());
    start(&mut buf);
    buf.extend_from_slice(payload);
    seal(&mut buf);
    buf
}

/// Checks a frame and returns its payload.
pub fn decode(bytes: &[u8]) -> Result<&[u8], FrameError> {
    if bytes.len() < HEADER_LEN {
        return Err(FrameError::Truncated { len: bytes.len() });
    }
    let declared = u32::from_le_bytes(bytes[0..4].try_into().expect("4 bytes")) as usize;
    let stored = u32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes"));
    let payload = &bytes[HEADER_LEN..];
    if declared != payload.len() {
        return Err(FrameError::LengthMismatch {
            declared,
            actual: payload.len(),
        });
    }
    let computed = crc32fast::hash(payload);
    if computed != stored {
        return Err(FrameError::ChecksumMismatch { stored, computed });
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_round_trips_its_payload() {
        for payload in [&b""[..], b"x", b"hello, world", &[0u8; 1000]] {
            assert_eq!(decode(&encode(payload)).unwrap(), payload);
        }
    }

    #[test]
    fn every_flipped_bit_is_detected() {
        let framed = encode(b"an immutable event, checked on every read");
        for byte in 0..framed.len() {
            for bit in 0..8 {
                let mut damaged = framed.clone();
                damaged[byte] ^= 1 << bit;
                assert!(
                    decode(&damaged).is_err(),
                    "flip of bit {bit} in byte {byte} went unnoticed"
                );
            }
        }
    }

    #[test]
    fn truncation_and_extension_are_detected() {
        let framed = encode(b"payload");
        for len in 0..framed.len() {
            assert!(
                decode(&framed[..len]).is_err(),
                "truncation to {len} bytes went unnoticed"
            );
        }
        let mut longer = framed.clone();
        longer.push(0);
        assert!(matches!(
            decode(&longer),
            Err(FrameError::LengthMismatch { .. })
        ));
    }
}
