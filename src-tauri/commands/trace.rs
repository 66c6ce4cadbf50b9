//! The protocol trace, for testers: the last sync's exchanges (redacted when
//! they were saved), saved as HAR or as the wallet's own trace file where the
//! person chooses, and a saved trace opened back to look at later. Paths
//! come from native dialogs, never from the webview.

use tauri::{AppHandle, State};
use wallet_core::trace::{self, TraceView};

use super::exports::{choose_file, choose_path};
use super::{Res, fail, invalid};
use crate::state::AppState;

fn suggested_name(format: &str, profile: &str) -> (String, &'static str, &'static str) {
    match format {
        "har" => (format!("trace-{profile}.har"), "HTTP Archive", "har"),
        _ => (
            format!("trace-{profile}.json"),
            "Ticket Wallet trace",
            "json",
        ),
    }
}

#[tauri::command]
pub fn last_trace(state: State<'_, AppState>) -> Res<TraceView> {
    let wallet = state.wallet()?;
    Ok(TraceView::of(wallet.last_trace().map_err(fail)?, None))
}

/// Saves the last sync's trace as `har` or `trace`; `None` when cancelled.
#[tauri::command]
pub async fn save_trace(
    app: AppHandle,
    state: State<'_, AppState>,
    format: String,
) -> Res<Option<String>> {
    let wallet = state.wallet()?;
    let entries = wallet.last_trace().map_err(fail)?;
    if entries.is_empty() {
        return Err(invalid("no_trace", "there is no trace yet: sync first"));
    }
    let (name, filter, ext) = suggested_name(&format, wallet.vault().profile());
    let Some(path) = choose_path(&app, &name, filter, ext).await else {
        return Ok(None);
    };
    trace::write_file(&path, &entries, format == "har").map_err(fail)?;
    Ok(Some(path.display().to_string()))
}

/// A saved trace file, opened to look at; `None` when cancelled.
#[tauri::command]
pub async fn open_trace(app: AppHandle, state: State<'_, AppState>) -> Res<Option<TraceView>> {
    let profile = state.wallet()?.vault().profile().to_string();
    let (name, filter, ext) = suggested_name("trace", &profile);
    let Some(path) = choose_file(&app, &name, filter, ext).await else {
        return Ok(None);
    };
    let entries = tauri::async_runtime::spawn_blocking({
        let path = path.clone();
        move || trace::read_file(&path)
    })
    .await
    .map_err(|e| invalid("internal", e.to_string()))?
    .map_err(fail)?;
    let file = path.file_name().map(|n| n.to_string_lossy().into_owned());
    Ok(Some(TraceView::of(entries, file)))
}
