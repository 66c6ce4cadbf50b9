//! The built-in demo: its issuer's tickets, and the whole chain set up at once.

use std::time::Duration;

use tauri::State;
use wallet_core::ImportResult;
use wallet_core::onboard::OnboardReport;

use super::{Res, fail, invalid};
use crate::state::AppState;

/// Whether the built-in demo issuer is running, and where.
#[tauri::command]
pub fn demo_status(state: State<'_, AppState>) -> Option<String> {
    state.demo.get().map(|d| d.issuer_url())
}

/// The demo once it has started (it starts with the app, off the first paint's path).
async fn demo(state: &AppState) -> Res<&crate::demo::Demo> {
    for _ in 0..100 {
        if let Some(d) = state.demo.get() {
            return Ok(d);
        }
        if !crate::demo::ENABLED {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(invalid(
        "no_demo",
        "the demo issuer is not running in this build",
    ))
}

/// Mints a ticket of the given type from the demo issuer, bound to this wallet's key, and keeps it.
#[tauri::command]
pub async fn demo_ticket(state: State<'_, AppState>, ticket_type: String) -> Res<ImportResult> {
    let wallet = state.wallet()?;
    let demo = demo(&state).await?;
    let ticket = demo.mint(&wallet, &ticket_type)?;
    wallet.import(&ticket, "demo").await.map_err(fail)
}

/// "Try it with demo data": a ticket for the demo patient bound to this
/// wallet's key, and the demo's data holders added (discovered and
/// registered). The window then starts a sync and shows the record.
#[tauri::command]
pub async fn demo_setup(state: State<'_, AppState>) -> Res<OnboardReport> {
    let wallet = state.wallet()?;
    let demo = demo(&state).await?;
    let ticket = demo.mint(&wallet, "patient-self-access-v1")?;
    let mut report = OnboardReport {
        tickets: vec![wallet.import(&ticket, "demo").await.map_err(fail)?],
        holders: Vec::new(),
        problems: Vec::new(),
    };
    for (name, base) in demo.holders() {
        match wallet.add_holder(&base, None, Some(name)).await {
            Ok(v) => report.holders.push(v),
            Err(e) => report.problems.push(format!("{base}: {e}")),
        }
    }
    Ok(report)
}
