//! Compact JWS: splitting, decoding, and ES256 signing.

use std::fmt;

#[cfg(feature = "ring")]
use ring::{
    rand::SystemRandom,
    signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair},
};
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

    /// Why this header may not carry a permission ticket, if it may not:
    /// `crit` names extensions this wallet must understand and does not
    /// (RFC 7515 §4.1.11), and a `typ` naming another kind of token (a DPoP
    /// proof, an access token) means a token is being passed off as a
    /// ticket (RFC 8725 §3.11). The spec sets no `typ`, so none is required.
    pub fn ticket_header_problem(&self) -> Option<String> {
        if let Some(crit) = self.header.get("crit") {
            return Some(format!(
                "its header lists extensions that must be understood (`crit`: {crit}), and this wallet understands none"
            ));
        }
        match self.header.get("typ") {
            None => None,
            Some(Value::String(typ)) if ticket_typ(typ) => None,
            Some(typ) => Some(format!(
                "its header says it is a {typ} (`typ`), not a permission ticket"
            )),
        }
    }
}

/// `typ` values a ticket may carry: plain JWT, or a ticket media type.
fn ticket_typ(typ: &str) -> bool {
    let typ = typ.to_ascii_lowercase();
    let typ = typ.strip_prefix("application/").unwrap_or(&typ);
    typ == "jwt" || (typ.ends_with("+jwt") && typ.contains("ticket"))
}

fn decode_object(part: &str, name: &'static str) -> Result<Map<String, Value>, TicketError> {
    let bytes = b64::decode(part).ok_or(TicketError::Base64 { part: name })?;
    match crate::strict_json::from_slice(&bytes) {
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

/// An ES256 signing key.
///
/// With the `ring` feature, signatures come from `ring`, whose P-256 code
/// multiplies the base point with precomputed tables and signs about ten times
/// faster than `p256` 0.13: a wallet signs a DPoP proof for every request it
/// makes. `p256` signs otherwise, and also if `ring` fails, which it does only
/// when the system's random numbers do (RFC 6979 nonces need none), so
/// signing never fails.
pub struct Es256Signer {
    key: p256::ecdsa::SigningKey,
    #[cfg(feature = "ring")]
    fast: Option<(EcdsaKeyPair, SystemRandom)>,
}

impl Es256Signer {
    pub fn new(key: p256::ecdsa::SigningKey) -> Self {
        #[cfg(feature = "ring")]
        let fast = {
            let rng = SystemRandom::new();
            let public = key.verifying_key().to_encoded_point(false);
            EcdsaKeyPair::from_private_key_and_public_key(
                &ECDSA_P256_SHA256_FIXED_SIGNING,
                &key.to_bytes(),
                public.as_bytes(),
                &rng,
            )
            .ok()
            .map(|pair| (pair, rng))
        };
        Self {
            key,
            #[cfg(feature = "ring")]
            fast,
        }
    }

    pub fn key(&self) -> &p256::ecdsa::SigningKey {
        &self.key
    }

    /// Signs `claims` as a compact JWS. `header` gets `alg` set.
    pub fn sign(&self, mut header: Map<String, Value>, claims: &Value) -> String {
        header.insert("alg".into(), Value::String("ES256".into()));
        let input = format!(
            "{}.{}",
            b64::encode(Value::Object(header).to_string()),
            b64::encode(claims.to_string())
        );
        let signature = self.sign_fast(&input).unwrap_or_else(|| {
            use p256::ecdsa::signature::Signer;
            let sig: p256::ecdsa::Signature = self.key.sign(input.as_bytes());
            b64::encode(sig.to_bytes())
        });
        format!("{input}.{signature}")
    }

    #[cfg(feature = "ring")]
    fn sign_fast(&self, input: &str) -> Option<String> {
        let (pair, rng) = self.fast.as_ref()?;
        let sig = pair.sign(rng, input.as_bytes()).ok()?;
        Some(b64::encode(sig.as_ref()))
    }

    #[cfg(not(feature = "ring"))]
    fn sign_fast(&self, _input: &str) -> Option<String> {
        None
    }
}

impl fmt::Debug for Es256Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Es256Signer")
            .field("key", &"[redacted]")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh_key() -> p256::ecdsa::SigningKey {
        p256::ecdsa::SigningKey::random(&mut rand_core::OsRng)
    }

    // With the `ring` feature, signing and verifying go through `ring`; what it
    // signs must verify with `p256`, and what `p256` signs must verify with it.
    #[test]
    fn signatures_interoperate_with_another_es256_implementation() {
        use p256::ecdsa::signature::{Signer, Verifier};
        let key = fresh_key();
        let jwk = crate::Jwk::from_p256(key.verifying_key());
        let signer = Es256Signer::new(key.clone());
        let text = signer.sign(Map::new(), &serde_json::json!({"sub": "x"}));
        let jws = CompactJws::parse(&text).unwrap();
        assert_eq!(jws.header_str("alg"), Some("ES256"));
        let sig = p256::ecdsa::Signature::from_slice(&jws.signature).unwrap();
        assert!(
            key.verifying_key()
                .verify(jws.signing_input.as_bytes(), &sig)
                .is_ok()
        );

        let theirs: p256::ecdsa::Signature = key.sign(b"a.b");
        let es256 = crate::Algorithm::Es256;
        assert_eq!(jwk.verify(es256, b"a.b", &theirs.to_bytes()), Ok(true));
        assert_eq!(jwk.verify(es256, b"a.c", &theirs.to_bytes()), Ok(false));
        assert_eq!(
            jwk.verify(es256, b"a.b", &theirs.to_bytes()[..63]),
            Ok(false)
        );
    }

    #[test]
    fn a_tampered_payload_fails() {
        let key = fresh_key();
        let jwk = crate::Jwk::from_p256(key.verifying_key());
        let text = Es256Signer::new(key).sign(Map::new(), &serde_json::json!({"n": 1}));
        let jws = CompactJws::parse(&text).unwrap();
        let es256 = crate::Algorithm::Es256;
        assert_eq!(
            jwk.verify(es256, jws.signing_input.as_bytes(), &jws.signature),
            Ok(true)
        );
        let forged = format!(
            "{}.{}",
            text.split('.').next().unwrap(),
            b64::encode("{\"n\":2}")
        );
        assert_eq!(
            jwk.verify(es256, forged.as_bytes(), &jws.signature),
            Ok(false)
        );
    }

    #[test]
    fn rejects_wrong_part_count() {
        assert!(matches!(
            CompactJws::parse("a.b"),
            Err(TicketError::NotCompactJws { parts: 2 })
        ));
    }

    fn compact(header: &str, claims: &str) -> String {
        format!("{}.{}.AAAA", b64::encode(header), b64::encode(claims))
    }

    #[test]
    fn padding_is_refused_in_every_part() {
        let good = compact(r#"{"alg":"ES256"}"#, r#"{"a":1}"#);
        assert!(CompactJws::parse(&good).is_ok());
        let parts: Vec<&str> = good.split('.').collect();
        for i in 0..3 {
            let mut padded: Vec<String> = parts.iter().map(|p| p.to_string()).collect();
            padded[i].push('=');
            let err = CompactJws::parse(&padded.join(".")).unwrap_err();
            assert!(matches!(err, TicketError::Base64 { .. }), "{i}: {err}");
        }
    }

    #[test]
    fn a_claim_named_twice_is_refused() {
        let text = compact(r#"{"alg":"ES256"}"#, r#"{"sub":"a","sub":"b"}"#);
        let err = CompactJws::parse(&text).unwrap_err();
        assert!(err.to_string().contains("`sub` appears twice"), "{err}");
        let text = compact(r#"{"alg":"ES256","alg":"none"}"#, "{}");
        assert!(CompactJws::parse(&text).is_err());
    }

    #[test]
    fn crit_and_foreign_typ_are_refused_and_plain_headers_pass() {
        let problem = |header: &str| {
            CompactJws::parse(&compact(header, "{}"))
                .unwrap()
                .ticket_header_problem()
        };
        assert_eq!(problem(r#"{"alg":"ES256","kid":"k"}"#), None);
        assert_eq!(problem(r#"{"alg":"ES256","typ":"JWT"}"#), None);
        assert_eq!(problem(r#"{"alg":"ES256","typ":"application/jwt"}"#), None);
        assert_eq!(
            problem(r#"{"alg":"ES256","typ":"permission-ticket+jwt"}"#),
            None
        );
        let crit = problem(r#"{"alg":"ES256","crit":["exp"],"exp":1}"#).unwrap();
        assert!(crit.contains("`crit`"), "{crit}");
        let dpop = problem(r#"{"alg":"ES256","typ":"dpop+jwt"}"#).unwrap();
        assert!(dpop.contains("\"dpop+jwt\""), "{dpop}");
        assert!(problem(r#"{"alg":"ES256","typ":"at+jwt"}"#).is_some());
        assert!(problem(r#"{"alg":"ES256","typ":7}"#).is_some());
    }

    #[test]
    fn rejects_non_object_claims() {
        let text = format!("{}.{}.", b64::encode("{}"), b64::encode("[1]"));
        let err = CompactJws::parse(&text).unwrap_err();
        assert!(err.to_string().contains("claims"), "{err}");
    }
}
