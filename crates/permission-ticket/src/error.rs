//! Errors, each worded for the person holding the ticket.

use thiserror::Error;

/// Why a ticket could not be read or cannot be used.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum TicketError {
    #[error(
        "this is not a ticket: a ticket is three base64url parts joined by dots, this has {parts}"
    )]
    NotCompactJws { parts: usize },
    #[error("this is not a ticket: it is {len} bytes, more than the {max} a ticket may have")]
    TooLarge { len: usize, max: usize },
    #[error("the ticket's {part} is not valid base64url")]
    Base64 { part: &'static str },
    #[error("the ticket's {part} is not valid JSON: {reason}")]
    Json { part: &'static str, reason: String },
    #[error("the ticket has no `{0}` claim, which every ticket must carry")]
    MissingClaim(&'static str),
    #[error("the ticket's `{claim}` claim is invalid: {reason}")]
    InvalidClaim { claim: String, reason: String },
    #[error(
        "the ticket is signed with `{alg}`, which is refused (only ES256 and RS256 are accepted)"
    )]
    AlgorithmRefused { alg: String },
    #[error("this is not a usable ticket: {0}")]
    HeaderRefused(String),
    #[error("no key with id `{kid}` is published by {iss}")]
    UnknownKey { kid: String, iss: String },
    #[error("the issuer's keys could not be obtained from {iss}: {reason}")]
    KeysUnavailable { iss: String, reason: String },
    #[error("signature does not match any key published by {iss}")]
    SignatureMismatch { iss: String },
    #[error("this ticket expired on {at}")]
    Expired { at: String },
    #[error("this ticket is not valid before {at}")]
    NotYetValid { at: String },
    #[error("this ticket claims to be issued in the future ({at}); check this device's clock")]
    IssuedInFuture { at: String },
    #[error(
        "the ticket requires understanding `{claim}`, which this wallet does not know, so it cannot be used"
    )]
    MustUnderstand { claim: String },
    #[error("{0}")]
    TypeRule(String),
    #[error("the issuer has revoked this ticket")]
    Revoked,
    #[error("the revocation status could not be determined: {0}")]
    RevocationUnknown(String),
    #[error(
        "this ticket is bound to a different key ({ticket_jkt}); this wallet's key is {wallet_jkt}"
    )]
    BoundToOtherKey {
        ticket_jkt: String,
        wallet_jkt: String,
    },
    #[error(
        "this ticket can only be presented by {entity_uri} ({framework_type} client of {trust_framework})"
    )]
    BoundToFrameworkClient {
        trust_framework: String,
        framework_type: String,
        entity_uri: String,
    },
}

/// Why a JWK or JWKS cannot be used.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("the key set is malformed: {0}")]
    Malformed(String),
    #[error("the key has no `{0}` member")]
    MissingMember(&'static str),
    #[error("key type `{0}` is not supported")]
    UnsupportedKeyType(String),
    #[error("a `{kty}` key cannot verify {alg}")]
    WrongKeyForAlgorithm { alg: &'static str, kty: String },
}

/// Why a revocation status list cannot be read.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum StatusListError {
    #[error("the status list is not valid JSON: {0}")]
    Json(String),
    #[error("the status list's `bits` are not base64url")]
    Base64,
    #[error("the status list's `bits` are not valid gzip: {0}")]
    Gzip(String),
    #[error("the status list is larger than {0} bytes when decompressed")]
    TooLarge(usize),
    #[error("index {index} is beyond the status list's {bits} entries")]
    OutOfRange { index: u64, bits: u64 },
}
