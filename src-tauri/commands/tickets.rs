//! The key and the tickets: import, inspect, list, remove, and ticket links.

use tauri::State;
use wallet_core::view::{TicketSummary, TicketView};
use wallet_core::{ImportResult, InspectRequest, KeyInfo};

use super::{Res, fail};
use crate::state::AppState;

#[tauri::command]
pub fn key_info(state: State<'_, AppState>) -> Res<KeyInfo> {
    state.wallet()?.key_info().map_err(fail)
}

/// Every ticket judged again now, for the list grouped by person with its status.
#[tauri::command]
pub async fn ticket_entries(
    state: State<'_, AppState>,
    offline: bool,
) -> Res<Vec<wallet_core::TicketEntry>> {
    state.wallet()?.ticket_entries(offline).await.map_err(fail)
}

#[tauri::command]
pub fn list_tickets(state: State<'_, AppState>) -> Res<Vec<TicketSummary>> {
    state.wallet()?.list().map_err(fail)
}

/// Decodes and checks pasted text without keeping it.
#[tauri::command]
pub async fn inspect_ticket(state: State<'_, AppState>, text: String) -> Res<TicketView> {
    state
        .wallet()?
        .inspect(&text, &InspectRequest::default())
        .await
        .map_err(fail)
}

#[tauri::command]
pub async fn import_ticket(
    state: State<'_, AppState>,
    text: String,
    source: String,
) -> Res<ImportResult> {
    let source = match source.as_str() {
        "paste" | "file" | "link" | "demo" => source,
        _ => "paste".to_string(),
    };
    state.wallet()?.import(&text, &source).await.map_err(fail)
}

#[tauri::command]
pub async fn get_ticket(state: State<'_, AppState>, jti: String) -> Res<TicketView> {
    state.wallet()?.ticket(&jti).await.map_err(fail)
}

#[tauri::command]
pub fn remove_ticket(state: State<'_, AppState>, jti: String) -> Res<()> {
    state.wallet()?.remove(&jti).map_err(fail)
}

/// A ticket link the app was opened with, once; the UI shows it for confirmation.
#[tauri::command]
pub fn take_pending_link(state: State<'_, AppState>) -> Option<String> {
    state.pending_link.take()
}
