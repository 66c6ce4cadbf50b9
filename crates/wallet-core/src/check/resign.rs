//! Test tickets: a copy of a ticket's claims, changed, and signed again with
//! a test issuer key the tester holds (the sandbox's, or one imported as a
//! private JWK). A holder that trusts that issuer then judges the one change.
//! Such tickets are for checks only: the wallet never keeps or presents them
//! in a sync.

use p256::ecdsa::SigningKey;
use permission_ticket::jws::{CompactJws, Es256Signer};
use serde_json::{Map, Value};

use crate::WalletError;

/// A test issuer's private key, and the `kid` its published keys name it by.
pub struct IssuerKey {
    signer: Es256Signer,
    kid: Option<String>,
}

impl std::fmt::Debug for IssuerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerKey")
            .field("kid", &self.kid)
            .field("private", &"[redacted]")
            .finish()
    }
}

impl IssuerKey {
    /// From a private EC P-256 JWK (`kty`, `crv`, `x`, `y`, `d`, and its `kid`).
    pub fn from_jwk(text: &str) -> Result<Self, WalletError> {
        let bad = |why: &str| WalletError::Invalid(format!("not a test issuer key: {why}"));
        let jwk: Value = serde_json::from_str(text).map_err(|e| bad(&e.to_string()))?;
        if jwk["kty"] != "EC" || jwk["crv"] != "P-256" {
            return Err(bad("it must be an EC P-256 JWK"));
        }
        let d = jwk["d"]
            .as_str()
            .ok_or_else(|| bad("it has no private part (`d`)"))?;
        let bytes =
            permission_ticket::base64url::decode(d).ok_or_else(|| bad("`d` is not base64url"))?;
        let key = SigningKey::from_slice(&bytes).map_err(|_| bad("`d` is not a P-256 scalar"))?;
        Ok(Self {
            signer: Es256Signer::new(key),
            kid: jwk["kid"].as_str().map(str::to_string),
        })
    }

    pub fn from_signing_key(key: SigningKey, kid: Option<String>) -> Self {
        Self {
            signer: Es256Signer::new(key),
            kid,
        }
    }

    /// `ticket`'s claims changed by `edit`, signed with this key; the header
    /// keeps its `typ` and names this key's `kid`.
    pub fn resign(
        &self,
        ticket: &str,
        edit: impl FnOnce(&mut Map<String, Value>),
    ) -> Result<String, WalletError> {
        let jws = CompactJws::parse(ticket)?;
        let mut claims = jws.claims.clone();
        edit(&mut claims);
        let mut header = Map::new();
        if let Some(typ) = jws.header.get("typ") {
            header.insert("typ".into(), typ.clone());
        }
        let kid = self.kid.clone().or_else(|| {
            jws.header
                .get("kid")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
        if let Some(kid) = kid {
            header.insert("kid".into(), kid.into());
        }
        Ok(self.signer.sign(header, &Value::Object(claims)))
    }
}
