//! Servers that behave like the real thing, on loopback, for tests, the
//! app's demo mode and testers: a Permission Ticket issuer (data holders follow).

pub mod issuer;

pub use issuer::{Issuer, IssuerError, MintRequest};
