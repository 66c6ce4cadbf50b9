//! Thin commands: each one calls `wallet-core` and maps errors to `{code, message}`.
//! Nothing here sees the private key; tickets cross to the webview only as views.

use tauri::State;
use wallet_core::view::{TicketSummary, TicketView};
use wallet_core::{ErrorPayload, ImportResult, InspectRequest, KeyInfo};

use crate::state::AppState;

type Res<T> = Result<T, ErrorPayload>;

fn fail(e: wallet_core::WalletError) -> ErrorPayload {
    e.to_payload()
}

#[tauri::command]
pub fn key_info(state: State<'_, AppState>) -> Res<KeyInfo> {
    state.wallet()?.key_info().map_err(fail)
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

/// Whether the built-in demo issuer is running, and where.
#[tauri::command]
pub fn demo_status(state: State<'_, AppState>) -> Option<String> {
    state.demo.get().map(|d| d.issuer_url())
}

/// Mints a ticket of the given type from the demo issuer, bound to this wallet's key, and keeps it.
#[tauri::command]
pub async fn demo_ticket(state: State<'_, AppState>, ticket_type: String) -> Res<ImportResult> {
    let wallet = state.wallet()?;
    let demo = state.demo.get().ok_or_else(|| ErrorPayload {
        code: "no_demo".into(),
        message: "the demo issuer is not running in this build".into(),
    })?;
    let jkt = wallet.key_info().map_err(fail)?.jkt;
    let ticket = demo.mint(&ticket_type, &jkt)?;
    wallet.import(&ticket, "demo").await.map_err(fail)
}

/// A ticket link the app was opened with, once; the UI shows it for confirmation.
#[tauri::command]
pub fn take_pending_link(state: State<'_, AppState>) -> Option<String> {
    state.pending_link.take()
}
