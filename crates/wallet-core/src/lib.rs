//! Everything the wallet does without a screen. The app (`src-tauri`) and the
//! command line (`tw`) are thin shells over this crate.

pub mod about;
pub mod atomic;
pub mod check;
pub mod config;
pub mod engine;
pub mod error;
pub mod fuzzing;
pub mod holders;
pub mod http;
pub mod import;
pub mod issuer;
mod jsonfile;
pub mod logging;
pub mod onboard;
pub mod progress;
pub mod proofs;
// The record store is a crate of its own; `store` keeps its paths.
pub use record_store as store;
pub mod summary;
pub mod sync;
pub mod trace;
pub mod view;
pub mod wallet;
mod writer;

pub use config::WalletOptions;
pub use error::{ErrorPayload, WalletError};
pub use sync::{HolderOutcome, SyncEvent, SyncOptions, SyncReport};
pub use wallet::{ImportResult, InspectRequest, KeyInfo, StoreView, TicketEntry, Wallet, now};

pub use permission_ticket;
pub use vault;
