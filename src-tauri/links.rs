//! Ticket links (`web+ticket:…`, `ticketwallet://import?ticket=…`) that open
//! the app. A link is never imported silently: it is held until the UI takes
//! it and shows it on the "Add a ticket" screen for the person to confirm.

use std::sync::Mutex;

use tauri::{AppHandle, Emitter, Manager};
use tauri_plugin_deep_link::DeepLinkExt;

use crate::state::AppState;

/// The event the UI listens to when a link arrives while it is running.
pub const EVENT: &str = "ticket-link";

#[derive(Default)]
pub struct PendingLink(Mutex<Option<String>>);

impl PendingLink {
    pub fn put(&self, link: String) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(link);
        }
    }

    pub fn take(&self) -> Option<String> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

pub fn is_ticket_link(arg: &str) -> bool {
    let lower = arg.to_ascii_lowercase();
    wallet_core::import::SCHEMES
        .iter()
        .any(|scheme| lower.starts_with(&format!("{scheme}:")))
}

/// Links given on the command line (how Linux and Windows open the app for a URL).
pub fn from_args() -> Option<String> {
    std::env::args().skip(1).find(|a| is_ticket_link(a))
}

pub fn setup(app: &AppHandle) {
    if let Some(link) = from_args() {
        app.state::<AppState>().pending_link.put(link);
    }
    #[cfg(any(target_os = "linux", windows))]
    if let Err(e) = app.deep_link().register_all() {
        tracing::warn!("could not register as the handler of ticket links: {e}");
    }
    let handle = app.clone();
    app.deep_link().on_open_url(move |event| {
        if let Some(url) = event
            .urls()
            .into_iter()
            .find(|u| is_ticket_link(u.as_str()))
        {
            deliver(&handle, url.to_string());
        }
    });
}

/// A link for the running app: held for the UI, which is told it is there.
pub fn deliver<R: tauri::Runtime>(app: &AppHandle<R>, link: String) {
    app.state::<AppState>().pending_link.put(link);
    let _ = app.emit(EVENT, ());
}

#[cfg(test)]
mod tests {
    #[test]
    fn recognises_ticket_links_only() {
        assert!(super::is_ticket_link("web+ticket:eyJ.a.b"));
        assert!(super::is_ticket_link("WEB+TICKET:eyJ.a.b"));
        assert!(super::is_ticket_link("ticketwallet://import?ticket=x"));
        assert!(!super::is_ticket_link("--profile"));
        assert!(!super::is_ticket_link("https://example.org"));
    }
}
