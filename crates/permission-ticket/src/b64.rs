//! base64url without padding, the only encoding JOSE uses.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub fn encode(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url exactly as JWS requires it: no `=` padding, no stray
/// bits, so one signed object has one spelling.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// Decodes base64url and tolerates trailing `=` padding, which some encoders
/// add to key members and status lists, where no signature covers the text.
pub fn decode_lenient(text: &str) -> Option<Vec<u8>> {
    decode(text.trim_end_matches('='))
}
