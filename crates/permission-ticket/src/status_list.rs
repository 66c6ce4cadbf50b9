//! Revocation status lists: `{"kid"?, "bits": base64url(gzip(bitstring))}`.
//! A set bit means revoked. Bit `i` is bit `i % 8` of byte `i / 8`, counted
//! from the least significant bit, as the reference implementation does (the
//! spec leaves the order open).

use std::io::Read;

use serde::Deserialize;

use crate::b64;
use crate::error::StatusListError;

/// Decompressed lists larger than this are refused (a gzip bomb defence).
pub const MAX_DECOMPRESSED: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusList {
    pub kid: Option<String>,
    bits: Vec<u8>,
}

#[derive(Deserialize)]
struct Wire {
    #[serde(default)]
    kid: Option<String>,
    bits: String,
}

impl StatusList {
    pub fn from_json(text: &[u8]) -> Result<Self, StatusListError> {
        let wire: Wire =
            serde_json::from_slice(text).map_err(|e| StatusListError::Json(e.to_string()))?;
        let gz = b64::decode_lenient(&wire.bits).ok_or(StatusListError::Base64)?;
        let mut bits = Vec::new();
        flate2::read::GzDecoder::new(gz.as_slice())
            .take(MAX_DECOMPRESSED as u64 + 1)
            .read_to_end(&mut bits)
            .map_err(|e| StatusListError::Gzip(e.to_string()))?;
        if bits.len() > MAX_DECOMPRESSED {
            return Err(StatusListError::TooLarge(MAX_DECOMPRESSED));
        }
        Ok(Self {
            kid: wire.kid,
            bits,
        })
    }

    /// A list of `len` entries, none revoked (for issuers).
    pub fn new(len: u64) -> Self {
        Self {
            kid: None,
            bits: vec![0; len.div_ceil(8) as usize],
        }
    }

    pub fn len(&self) -> u64 {
        self.bits.len() as u64 * 8
    }

    pub fn is_empty(&self) -> bool {
        self.bits.is_empty()
    }

    pub fn is_revoked(&self, index: u64) -> Result<bool, StatusListError> {
        let byte = self
            .bits
            .get((index / 8) as usize)
            .ok_or(StatusListError::OutOfRange {
                index,
                bits: self.len(),
            })?;
        Ok(byte >> (index % 8) & 1 == 1)
    }

    /// The revoked indices, in order. Zero bytes are skipped whole, so a
    /// long list with few entries is walked quickly.
    pub fn revoked(&self) -> impl Iterator<Item = u64> + '_ {
        self.bits
            .iter()
            .enumerate()
            .filter(|(_, b)| **b != 0)
            .flat_map(|(i, b)| {
                (0..8u64)
                    .filter(move |bit| b >> bit & 1 == 1)
                    .map(move |bit| i as u64 * 8 + bit)
            })
    }

    pub fn set_revoked(&mut self, index: u64) -> Result<(), StatusListError> {
        let bits = self.len();
        let byte = self
            .bits
            .get_mut((index / 8) as usize)
            .ok_or(StatusListError::OutOfRange { index, bits })?;
        *byte |= 1 << (index % 8);
        Ok(())
    }

    /// The wire form, for issuers.
    pub fn to_json(&self) -> serde_json::Value {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        // Writing to a Vec cannot fail.
        let _ = gz.write_all(&self.bits);
        let compressed = gz.finish().unwrap_or_default();
        let mut v = serde_json::json!({ "bits": b64::encode(compressed) });
        if let Some(kid) = &self.kid {
            v["kid"] = kid.clone().into();
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_counts_from_lsb() {
        let mut list = StatusList::new(64);
        list.set_revoked(9).unwrap();
        let wire = list.to_json().to_string();
        let back = StatusList::from_json(wire.as_bytes()).unwrap();
        assert!(back.is_revoked(9).unwrap());
        assert!(!back.is_revoked(8).unwrap());
        // Bit 9 is the second-lowest bit of byte 1.
        assert_eq!(back.bits[1], 0b0000_0010);
        assert!(matches!(
            back.is_revoked(64),
            Err(StatusListError::OutOfRange { .. })
        ));
    }

    #[test]
    fn lists_revoked_indices_in_order() {
        let mut list = StatusList::new(4096);
        assert_eq!(list.revoked().count(), 0);
        for i in [4095, 0, 9, 8] {
            list.set_revoked(i).unwrap();
        }
        assert_eq!(list.revoked().collect::<Vec<_>>(), [0, 8, 9, 4095]);
    }

    #[test]
    fn refuses_gzip_bomb() {
        let mut huge = StatusList::new((MAX_DECOMPRESSED as u64 + 8) * 8);
        huge.kid = Some("k".into());
        let wire = huge.to_json().to_string();
        assert_eq!(
            StatusList::from_json(wire.as_bytes()),
            Err(StatusListError::TooLarge(MAX_DECOMPRESSED))
        );
    }

    #[test]
    fn refuses_garbage() {
        assert!(matches!(
            StatusList::from_json(br#"{"bits":"!!"}"#),
            Err(StatusListError::Base64)
        ));
        assert!(matches!(
            StatusList::from_json(br#"{"bits":"AAAA"}"#),
            Err(StatusListError::Gzip(_))
        ));
    }
}
