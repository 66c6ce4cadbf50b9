//! One resource as a holder sent it: what the engine downloads and the
//! store keeps, unparsed.

use serde_json::value::RawValue;

/// One resource as the holder sent it, with the two fields the wallet reads.
#[derive(Debug, Clone)]
pub struct Record {
    pub resource_type: String,
    pub id: Option<String>,
    pub json: Box<RawValue>,
    /// `record_digest` of the three above, worked out as its page is read
    /// (while the next one downloads): how a re-sync knows it unchanged.
    digest: [u8; 32],
}

/// SHA-256 of a resource as received: its type, id and JSON, each length-prefixed.
pub fn record_digest(resource_type: &str, id: Option<&str>, json: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field(resource_type.as_bytes());
    match id {
        Some(id) => field(id.as_bytes()),
        None => field(&[0xff]),
    }
    field(json.as_bytes());
    h.finalize().into()
}

impl Record {
    pub fn new(resource_type: String, id: Option<String>, json: Box<RawValue>) -> Self {
        let digest = record_digest(&resource_type, id.as_deref(), json.get());
        Self {
            resource_type,
            id,
            json,
            digest,
        }
    }

    /// `record_digest` of the record as it was made.
    pub fn digest(&self) -> &[u8; 32] {
        &self.digest
    }
}
