//! Compact JWS: splitting, decoding, and ES256 signing.

use serde_json::{Map, Value};

use crate::b64;
use crate::error::TicketError;

/// Tickets larger than this are refused before any decoding work.
pub const MAX_COMPACT_LEN: usize = 256 * 1024;

/// A compact JWS split into its parts. Nothing here is trusted yet.
#[derive(Debug, Clone)]
pub struct CompactJws {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    /// `BASE64URL(header) '.' BASE64URL(payload)`: the bytes the signature covers.
    pub signing_input: String,
    pub signature: Vec<u8>,
}

impl CompactJws {
    pub fn parse(text: &str) -> Result<Self, TicketError> {
        let text = text.trim();
        if text.len() > MAX_COMPACT_LEN {
            return Err(TicketError::TooLarge {
                len: text.len(),
                max: MAX_COMPACT_LEN,
            });
        }
        let parts: Vec<&str> = text.split('.').collect();
        if parts.len() != 3 {
            return Err(TicketError::NotCompactJws { parts: parts.len() });
        }
        let header = decode_object(parts[0], "header")?;
        let claims = decode_object(parts[1], "claims")?;
        let signature = b64::decode(parts[2]).ok_or(TicketError::Base64 { part: "signature" })?;
        Ok(Self {
            header,
            claims,
            signing_input: format!("{}.{}", parts[0], parts[1]),
            signature,
        })
    }

    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(Value::as_str)
    }
}

fn decode_object(part: &str, name: &'static str) -> Result<Map<String, Value>, TicketError> {
    let bytes = b64::decode(part).ok_or(TicketError::Base64 { part: name })?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(TicketError::Json {
            part: name,
            reason: "not a JSON object".into(),
        }),
        Err(e) => Err(TicketError::Json {
            part: name,
            reason: e.to_string(),
        }),
    }
}

/// Signs `claims` as a compact JWS with ES256. `header` gets `alg` set.
pub fn sign_es256(
    mut header: Map<String, Value>,
    claims: &Value,
    key: &p256::ecdsa::SigningKey,
) -> String {
    use p256::ecdsa::signature::Signer;
    header.insert("alg".into(), Value::String("ES256".into()));
    let input = format!(
        "{}.{}",
        b64::encode(Value::Object(header).to_string()),
        b64::encode(claims.to_string())
    );
    let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
    format!("{input}.{}", b64::encode(sig.to_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_wrong_part_count() {
        assert!(matches!(
            CompactJws::parse("a.b"),
            Err(TicketError::NotCompactJws { parts: 2 })
        ));
    }

    #[test]
    fn rejects_non_object_claims() {
        let text = format!("{}.{}.", b64::encode("{}"), b64::encode("[1]"));
        let err = CompactJws::parse(&text).unwrap_err();
        assert!(err.to_string().contains("claims"), "{err}");
    }
}
