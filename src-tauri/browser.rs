//! Pages the person must see outside the app (a holder's confirmation, an
//! issuer's sign-in) open in the system browser through Tauri's opener
//! plugin, which hands the URL to the platform without a shell.

use std::sync::Arc;

use tauri::AppHandle;
use tauri_plugin_opener::OpenerExt;
use wallet_core::engine::interaction::{LoopbackInteractor, Opener};

pub fn opener(app: AppHandle) -> Opener {
    Arc::new(move |url: &str| {
        app.opener().open_url(url, None::<&str>).map_err(|e| {
            format!("could not open the browser ({e}); open this address yourself: {url}")
        })
    })
}

/// A loopback listener for the redirect back (RFC 8252), pages opened by the plugin.
pub async fn interactor(app: AppHandle) -> Result<LoopbackInteractor, wallet_core::ErrorPayload> {
    LoopbackInteractor::bind_with(opener(app))
        .await
        .map_err(|e| {
            super::commands::invalid(
                "no_listener",
                format!("cannot listen for the browser's return: {e}"),
            )
        })
}
