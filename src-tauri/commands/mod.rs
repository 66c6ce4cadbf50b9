//! Thin commands: each calls `wallet-core` and maps errors to `{code, message}`.
//! None sees the private key or a token; what crosses to the webview is views.
//! None takes a file path or a URL to open: files are chosen in native dialogs
//! on this side, and pages are opened only from what the wallet itself built.

pub mod check;
pub mod demo;
pub mod exports;
pub mod holders;
pub mod records;
pub mod settings;
pub mod sync;
pub mod tickets;
pub mod trace;

use wallet_core::{ErrorPayload, WalletError};

pub type Res<T> = Result<T, ErrorPayload>;

pub fn fail(e: impl Into<WalletError>) -> ErrorPayload {
    e.into().to_payload()
}

pub fn invalid(code: &str, message: impl Into<String>) -> ErrorPayload {
    ErrorPayload {
        code: code.into(),
        message: message.into(),
    }
}
