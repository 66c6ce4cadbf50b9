//! Checking the client's JWTs: the client assertion (RFC 7523) and DPoP
//! proofs (RFC 9449), both ES256.

use permission_ticket::jws::CompactJws;
use permission_ticket::{Algorithm, Jwk};
use serde_json::Value;
use sha2::Digest;

use crate::holder::now;

/// How far a client's `iat` may be from ours.
const SKEW: i64 = 60;

pub fn verify_es256(jws: &CompactJws, key: &Jwk) -> bool {
    jws.header_str("alg") == Some("ES256")
        && key
            .verify(
                Algorithm::Es256,
                jws.signing_input.as_bytes(),
                &jws.signature,
            )
            .unwrap_or(false)
}

/// The thumbprint of the key a DPoP proof's header names, unchecked: only
/// for the `skip_dpop_checks` defect.
pub fn proof_key_thumbprint(header: &str) -> Option<String> {
    let jws = CompactJws::parse(header).ok()?;
    let jwk: Jwk = serde_json::from_value(jws.header.get("jwk")?.clone()).ok()?;
    jwk.thumbprint().ok()
}

pub struct DpopProof {
    pub jkt: String,
    pub jti: String,
    pub nonce: Option<String>,
}

/// Checks a DPoP proof for `method` and `url` (and `access_token` at the resource server).
pub fn check_dpop(
    header: Option<&str>,
    method: &str,
    url: &str,
    access_token: Option<&str>,
) -> Result<DpopProof, String> {
    let text = header.ok_or("a DPoP proof is required")?;
    let jws = CompactJws::parse(text).map_err(|e| format!("DPoP proof: {e}"))?;
    if jws.header_str("typ") != Some("dpop+jwt") {
        return Err("DPoP proof must have typ dpop+jwt".into());
    }
    let jwk: Jwk = jws
        .header
        .get("jwk")
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .ok_or("DPoP proof has no public jwk in its header")?;
    if !verify_es256(&jws, &jwk) {
        return Err("DPoP proof signature is invalid".into());
    }
    let claim = |k: &str| jws.claims.get(k).and_then(Value::as_str);
    if claim("htm") != Some(method) {
        return Err(format!("DPoP proof htm must be {method}"));
    }
    let htu = claim("htu").ok_or("DPoP proof has no htu")?;
    if htu.split(['?', '#']).next() != Some(url) {
        return Err(format!("DPoP proof htu must be {url}"));
    }
    let iat = jws
        .claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or("DPoP proof has no iat")?;
    if (iat - now()).abs() > SKEW {
        return Err("DPoP proof iat is too far from now".into());
    }
    let jti = claim("jti").ok_or("DPoP proof has no jti")?.to_string();
    if let Some(token) = access_token {
        let ath = permission_ticket::base64url::encode(sha2::Sha256::digest(token.as_bytes()));
        if claim("ath") != Some(ath.as_str()) {
            return Err("DPoP proof ath does not match the access token".into());
        }
    }
    Ok(DpopProof {
        jkt: jwk.thumbprint().map_err(|e| e.to_string())?,
        jti,
        nonce: claim("nonce").map(str::to_string),
    })
}
