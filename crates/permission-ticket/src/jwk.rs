//! JSON Web Keys: the issuer's published keys, RFC 7638 thumbprints, and
//! signature verification for the algorithms the spec allows (ES256, RS256).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::b64;
use crate::error::KeyError;

/// A public JWK as published in a JWKS. Private members are never read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
}

/// A JSON Web Key Set, `{"keys": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

impl Jwks {
    /// Parses a JWKS; a single bare JWK is accepted too, as a set of one.
    pub fn from_json(text: &str) -> Result<Self, KeyError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| KeyError::Malformed(e.to_string()))?;
        if value.get("keys").is_some() {
            serde_json::from_value(value).map_err(|e| KeyError::Malformed(e.to_string()))
        } else {
            let key: Jwk =
                serde_json::from_value(value).map_err(|e| KeyError::Malformed(e.to_string()))?;
            Ok(Jwks { keys: vec![key] })
        }
    }
}

/// The signature algorithms a ticket may use. Anything else is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Es256,
    Rs256,
}

impl Algorithm {
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "ES256" => Some(Self::Es256),
            "RS256" => Some(Self::Rs256),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::Rs256 => "RS256",
        }
    }

    fn kty(self) -> &'static str {
        match self {
            Self::Es256 => "EC",
            Self::Rs256 => "RSA",
        }
    }
}

/// RSA keys shorter than this are refused (NIST SP 800-131A).
const MIN_RSA_BITS: usize = 2048;

impl Jwk {
    /// The RFC 7638 SHA-256 thumbprint, base64url: the `jkt` tickets bind to.
    pub fn thumbprint(&self) -> Result<String, KeyError> {
        // Members in lexicographic order, no whitespace (RFC 7638 §3.2).
        let canonical = match self.kty.as_str() {
            "EC" => format!(
                r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#,
                json_str(self.crv.as_deref(), "crv")?,
                json_str(self.x.as_deref(), "x")?,
                json_str(self.y.as_deref(), "y")?
            ),
            "RSA" => format!(
                r#"{{"e":{},"kty":"RSA","n":{}}}"#,
                json_str(self.e.as_deref(), "e")?,
                json_str(self.n.as_deref(), "n")?
            ),
            other => return Err(KeyError::UnsupportedKeyType(other.to_string())),
        };
        Ok(b64::encode(Sha256::digest(canonical.as_bytes())))
    }

    /// Whether this key can verify `alg` at all (type, curve, declared alg).
    pub fn suits(&self, alg: Algorithm) -> bool {
        self.kty == alg.kty()
            && self.alg.as_deref().is_none_or(|a| a == alg.name())
            && self.use_.as_deref().is_none_or(|u| u == "sig")
            && (alg != Algorithm::Es256 || self.crv.as_deref() == Some("P-256"))
    }

    /// Verifies a JWS signature over `signing_input` with this key.
    pub fn verify(
        &self,
        alg: Algorithm,
        signing_input: &[u8],
        signature: &[u8],
    ) -> Result<bool, KeyError> {
        if !self.suits(alg) {
            return Err(KeyError::WrongKeyForAlgorithm {
                alg: alg.name(),
                kty: self.kty.clone(),
            });
        }
        match alg {
            Algorithm::Es256 => {
                let key = self.p256_verifying_key()?;
                Ok(verify_p256(&key, signing_input, signature))
            }
            Algorithm::Rs256 => {
                use rsa::signature::Verifier;
                let key = self.rsa_public_key()?;
                let key = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key);
                let Ok(sig) = rsa::pkcs1v15::Signature::try_from(signature) else {
                    return Ok(false);
                };
                Ok(key.verify(signing_input, &sig).is_ok())
            }
        }
    }

    /// The P-256 public key this JWK describes.
    pub fn p256_verifying_key(&self) -> Result<p256::ecdsa::VerifyingKey, KeyError> {
        let x = decode_member(self.x.as_deref(), "x")?;
        let y = decode_member(self.y.as_deref(), "y")?;
        if x.len() != 32 || y.len() != 32 {
            return Err(KeyError::Malformed(
                "P-256 coordinates must be 32 bytes".into(),
            ));
        }
        let mut sec1 = Vec::with_capacity(65);
        sec1.push(0x04);
        sec1.extend_from_slice(&x);
        sec1.extend_from_slice(&y);
        p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
            .map_err(|_| KeyError::Malformed("the point is not on the P-256 curve".into()))
    }

    fn rsa_public_key(&self) -> Result<rsa::RsaPublicKey, KeyError> {
        use rsa::traits::PublicKeyParts;
        let n = decode_member(self.n.as_deref(), "n")?;
        let e = decode_member(self.e.as_deref(), "e")?;
        let key = rsa::RsaPublicKey::new(
            rsa::BigUint::from_bytes_be(&n),
            rsa::BigUint::from_bytes_be(&e),
        )
        .map_err(|e| KeyError::Malformed(e.to_string()))?;
        if key.size() * 8 < MIN_RSA_BITS {
            return Err(KeyError::Malformed(format!(
                "RSA key of {} bits is too short",
                key.size() * 8
            )));
        }
        Ok(key)
    }

    /// The public JWK of a P-256 key, with its thumbprint as `kid`.
    pub fn from_p256(key: &p256::ecdsa::VerifyingKey) -> Jwk {
        let point = key.to_encoded_point(false);
        // An uncompressed point always carries both coordinates.
        let coord = |c: Option<&p256::FieldBytes>| c.map(b64::encode);
        let mut jwk = Jwk {
            kty: "EC".into(),
            kid: None,
            alg: Some("ES256".into()),
            use_: Some("sig".into()),
            crv: Some("P-256".into()),
            x: coord(point.x()),
            y: coord(point.y()),
            n: None,
            e: None,
        };
        jwk.kid = jwk.thumbprint().ok();
        jwk
    }
}

fn json_str(value: Option<&str>, member: &'static str) -> Result<String, KeyError> {
    let value = value.ok_or(KeyError::MissingMember(member))?;
    serde_json::to_string(value).map_err(|e| KeyError::Malformed(e.to_string()))
}

/// With the `ring` feature, `ring` verifies, about five times faster than
/// `p256` (a holder checks a DPoP proof on every request).
#[cfg(feature = "ring")]
fn verify_p256(key: &p256::ecdsa::VerifyingKey, input: &[u8], signature: &[u8]) -> bool {
    let point = key.to_encoded_point(false);
    ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, point)
        .verify(input, signature)
        .is_ok()
}

#[cfg(not(feature = "ring"))]
fn verify_p256(key: &p256::ecdsa::VerifyingKey, input: &[u8], signature: &[u8]) -> bool {
    use p256::ecdsa::signature::Verifier;
    p256::ecdsa::Signature::from_slice(signature).is_ok_and(|sig| key.verify(input, &sig).is_ok())
}

fn decode_member(value: Option<&str>, member: &'static str) -> Result<Vec<u8>, KeyError> {
    let value = value.ok_or(KeyError::MissingMember(member))?;
    b64::decode_lenient(value).ok_or(KeyError::Malformed(format!("`{member}` is not base64url")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7638_example_thumbprint() {
        // RFC 7638 §3.1.
        let jwk = Jwk {
            kty: "RSA".into(),
            kid: Some("2011-04-29".into()),
            alg: Some("RS256".into()),
            use_: None,
            crv: None,
            x: None,
            y: None,
            n: Some("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw".into()),
            e: Some("AQAB".into()),
        };
        assert_eq!(
            jwk.thumbprint().unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn unknown_key_type_has_no_thumbprint() {
        let jwk = Jwk {
            kty: "oct".into(),
            kid: None,
            alg: None,
            use_: None,
            crv: None,
            x: None,
            y: None,
            n: None,
            e: None,
        };
        assert!(matches!(
            jwk.thumbprint(),
            Err(KeyError::UnsupportedKeyType(_))
        ));
    }
}
