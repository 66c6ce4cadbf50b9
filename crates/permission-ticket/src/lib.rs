//! The SMART Permission Ticket format, with no I/O: a typed model of every
//! ticket type (seed and current spec shapes), compact JWS decoding,
//! verification against an issuer key set the caller supplies, and
//! revocation status lists.
//!
//! ```text
//! decode(jwt) -> DecodedTicket --inspect(keys, status list, now)--> Report
//! ```

mod b64;
pub mod error;
pub mod fhir;
pub mod inspect;
pub mod jwk;
pub mod jws;
pub mod model;
pub mod scope;
pub mod status_list;
mod strict_json;
pub mod ticket_type;
mod time_fmt;

pub use error::{KeyError, StatusListError, TicketError};
pub use inspect::{
    Check, CheckStatus, DEFAULT_CLOCK_SKEW, DecodedTicket, InspectOptions, IssuerKeys, Report,
    RevocationInput, decode, inspect, signature_verifies,
};
pub use jwk::{Algorithm, Jwk, Jwks};
pub use model::{Generation, PermissionTicket, PresenterBinding};
pub use scope::SmartScope;
pub use status_list::StatusList;
pub use ticket_type::TicketType;
pub use time_fmt::human as human_time;

/// base64url without padding, for callers building JOSE objects.
pub mod base64url {
    pub use crate::b64::{decode, encode};
}
