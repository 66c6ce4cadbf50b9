//! The conformance check of one of the wallet's holders, for testers. The
//! battery runs in the app process; the webview names a holder the wallet
//! keeps (no other URL is checked) and gets the report, whose evidence is
//! redacted like any saved trace. The cases that change one claim of a
//! ticket run with a test issuer key the tester pastes, or, for the demo's
//! holders, the demo issuer's.

use std::sync::Mutex;

use tauri::{AppHandle, State};
use wallet_core::check::{CheckReport, IssuerKey};
use wallet_core::view::TicketSummary;

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

/// The demo issuer's key, for a ticket the demo issued.
#[cfg(feature = "demo")]
fn demo_issuer_key(state: &AppState, issuer: &str) -> Option<IssuerKey> {
    state
        .demo
        .get()
        .filter(|d| d.issuer_url() == issuer)
        .and_then(|d| d.test_issuer_key())
}

#[cfg(not(feature = "demo"))]
fn demo_issuer_key(_: &AppState, _: &str) -> Option<IssuerKey> {
    None
}

/// The ticket workbench: keeps a test copy of ticket `jti` with `claims`
/// (the whole claim set, as JSON), signed with `issuer_key` (a private JWK
/// the tester pasted) or, for a demo ticket, the demo issuer's key.
#[tauri::command]
pub fn make_test_ticket(
    state: State<'_, AppState>,
    jti: String,
    claims: String,
    issuer_key: Option<String>,
) -> Res<TicketSummary> {
    let wallet = state.wallet()?;
    let key = match issuer_key.filter(|k| !k.trim().is_empty()) {
        Some(jwk) => IssuerKey::from_jwk(&jwk).map_err(fail)?,
        None => {
            let issuer = wallet
                .list()
                .map_err(fail)?
                .into_iter()
                .find(|t| t.jti == jti)
                .map(|t| t.issuer)
                .unwrap_or_default();
            demo_issuer_key(&state, &issuer).ok_or_else(|| {
                invalid(
                    "no_issuer_key",
                    "paste the private key (a JWK) of a test issuer the holders trust",
                )
            })?
        }
    };
    wallet.keep_test_ticket(&jti, &claims, &key).map_err(fail)
}

#[tauri::command]
pub async fn check_holder(
    state: State<'_, AppState>,
    last: State<'_, LastCheck>,
    fhir_base: String,
    issuer_key: Option<String>,
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
    // A key the tester pasted, else the demo issuer's for a demo holder.
    let key = match issuer_key.filter(|k| !k.trim().is_empty()) {
        Some(jwk) => Some(IssuerKey::from_jwk(&jwk).map_err(fail)?),
        None => demo_key(&state, &base),
    };
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
