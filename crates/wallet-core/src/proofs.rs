//! The JWTs the wallet signs with its key: client assertions (RFC 7523, as
//! SMART profiles them) and DPoP proofs (RFC 9449). One key signs both, the
//! key whose thumbprint tickets name in `presenter_binding.jkt`.

use serde_json::{Map, Value, json};
use sha2::Digest;
use vault::WalletKey;

use crate::wallet::now;

fn jti() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `iss` = `sub` = client id, `aud` = the token endpoint, valid two minutes.
pub fn client_assertion(key: &WalletKey, client_id: &str, token_endpoint: &str) -> String {
    let mut header = Map::new();
    header.insert("typ".into(), "JWT".into());
    header.insert("kid".into(), key.jkt().into());
    let now = now();
    key.sign_jws(
        header,
        &json!({ "iss": client_id, "sub": client_id, "aud": token_endpoint, "jti": jti(), "iat": now, "exp": now + 120 }),
    )
}

/// A DPoP proof for one request; `access_token` adds `ath` (resource requests).
pub fn dpop_proof(
    key: &WalletKey,
    method: &str,
    url: &str,
    nonce: Option<&str>,
    access_token: Option<&str>,
) -> String {
    let mut header = Map::new();
    header.insert("typ".into(), "dpop+jwt".into());
    header.insert(
        "jwk".into(),
        serde_json::to_value(public_only(key)).unwrap_or(Value::Null),
    );
    // htu is the URL without query and fragment (RFC 9449 §4.2).
    let htu = url.split(['?', '#']).next().unwrap_or(url);
    let mut claims = json!({ "htm": method, "htu": htu, "iat": now(), "jti": jti() });
    if let Some(n) = nonce {
        claims["nonce"] = json!(n);
    }
    if let Some(t) = access_token {
        claims["ath"] = json!(permission_ticket::base64url::encode(sha2::Sha256::digest(
            t.as_bytes()
        )));
    }
    key.sign_jws(header, &claims)
}

/// The public JWK without `kid`/`alg`/`use`: what a DPoP header carries.
fn public_only(key: &WalletKey) -> permission_ticket::Jwk {
    let mut jwk = key.public_jwk().clone();
    jwk.kid = None;
    jwk.alg = None;
    jwk.use_ = None;
    jwk
}
