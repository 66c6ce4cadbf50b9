//! The wallet's P-256 signing key. The private half never leaves this type:
//! callers get signatures, the public JWK and its thumbprint.

use std::fmt;

use p256::ecdsa::SigningKey;
use permission_ticket::Jwk;
use permission_ticket::jws::Es256Signer;
use serde_json::{Map, Value};

use crate::VaultError;

pub struct WalletKey {
    signer: Es256Signer,
    public: Jwk,
}

impl WalletKey {
    pub(crate) fn generate() -> Self {
        Self::from_signing(SigningKey::random(&mut rand_core::OsRng))
    }

    pub(crate) fn from_secret(bytes: &[u8]) -> Result<Self, VaultError> {
        let signing = SigningKey::from_slice(bytes).map_err(|_| {
            VaultError::DamagedKey(format!("{} bytes, not a P-256 scalar", bytes.len()))
        })?;
        Ok(Self::from_signing(signing))
    }

    fn from_signing(signing: SigningKey) -> Self {
        let public = Jwk::from_p256(signing.verifying_key());
        Self {
            signer: Es256Signer::new(signing),
            public,
        }
    }

    pub(crate) fn secret_bytes(&self) -> Vec<u8> {
        self.signer.key().to_bytes().to_vec()
    }

    /// The public key as a JWK; its `kid` is the thumbprint.
    pub fn public_jwk(&self) -> &Jwk {
        &self.public
    }

    /// The RFC 7638 thumbprint: the `jkt` an issuer binds tickets to.
    pub fn jkt(&self) -> String {
        self.public.kid.clone().unwrap_or_default()
    }

    /// Signs `claims` as an ES256 compact JWS; `header` gets `alg` added.
    pub fn sign_jws(&self, header: Map<String, Value>, claims: &Value) -> String {
        self.signer.sign(header, claims)
    }
}

impl fmt::Debug for WalletKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WalletKey")
            .field("jkt", &self.jkt())
            .field("private", &"[redacted]")
            .finish()
    }
}
