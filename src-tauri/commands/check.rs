//! The conformance check of one of the wallet's holders, for testers. The
//! battery runs in the app process; the webview names a holder the wallet
//! keeps (no other URL is checked) and gets the report, whose evidence is
//! redacted like any saved trace. The demo's holders are checked with the
//! demo issuer's key, so the cases that change one claim of a ticket run too.

use std::sync::Mutex;

use tauri::{AppHandle, State};
use wallet_core::check::{CheckReport, IssuerKey};

use super::exports::choose_path;
use super::{Res, fail, invalid};
use crate::state::AppState;

/// The last report, for saving as HTML.
#[derive(Default)]
pub struct LastCheck(Mutex<Option<CheckReport>>);

#[cfg(feature = "demo")]
fn demo_key(state: &AppState, base: &str) -> Option<IssuerKey> {
    state
        .demo
        .get()
        .filter(|d| d.holders().iter().any(|(_, b)| b == base))
        .and_then(|d| d.test_issuer_key())
}

#[cfg(not(feature = "demo"))]
fn demo_key(_: &AppState, _: &str) -> Option<IssuerKey> {
    None
}

#[tauri::command]
pub async fn check_holder(
    state: State<'_, AppState>,
    last: State<'_, LastCheck>,
    fhir_base: String,
) -> Res<CheckReport> {
    let wallet = state.wallet()?;
    let base = wallet
        .holder_records()
        .map_err(fail)?
        .into_iter()
        .find(|h| h.fhir_base == fhir_base)
        .map(|h| h.fhir_base)
        .ok_or_else(|| {
            invalid(
                "unknown_holder",
                "only the wallet's own holders are checked: add it first",
            )
        })?;
    let key = demo_key(&state, &base);
    let report = wallet.check_holder(&base, None, key).await.map_err(fail)?;
    *last.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(report.clone());
    Ok(report)
}

/// Saves the last report as an HTML page where the person chooses; `None` when cancelled.
#[tauri::command]
pub async fn save_check_report(
    app: AppHandle,
    state: State<'_, AppState>,
    last: State<'_, LastCheck>,
) -> Res<Option<String>> {
    let report = last
        .0
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .ok_or_else(|| invalid("no_check", "no holder has been checked yet"))?;
    let profile = state.wallet()?.vault().profile().to_string();
    let name = format!("conformance-{profile}.html");
    let Some(path) = choose_path(&app, &name, "HTML page", "html").await else {
        return Ok(None);
    };
    let page = wallet_core::check::report::html(&report);
    wallet_core::atomic::write_file(&path, |f| std::io::Write::write_all(f, page.as_bytes()))
        .map_err(|e: std::io::Error| {
            invalid(
                "write_failed",
                format!("could not write {}: {e}", path.display()),
            )
        })?;
    Ok(Some(path.display().to_string()))
}
