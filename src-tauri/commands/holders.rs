//! Data holders: list with what each supports and how its last sync went,
//! add by address, rename, remove; and onboarding at an issuer.

use tauri::{AppHandle, State};
use wallet_core::holders::HolderView;
use wallet_core::onboard::OnboardReport;

use super::{Res, fail};
use crate::state::AppState;

/// The holders as kept (names, addresses), without asking any of them
/// anything: for screens that only name holders.
#[tauri::command]
pub fn kept_holders(state: State<'_, AppState>) -> Res<Vec<wallet_core::holders::HolderRecord>> {
    state.wallet()?.holder_records().map_err(fail)
}

#[tauri::command]
pub async fn list_holders(state: State<'_, AppState>) -> Res<Vec<HolderView>> {
    state.wallet()?.holders().await.map_err(fail)
}

/// Adds a holder by its FHIR base URL: discovers it and registers this wallet
/// there, unless the person gives the client id the holder issued them.
#[tauri::command]
pub async fn add_holder(
    state: State<'_, AppState>,
    fhir_base: String,
    client_id: Option<String>,
    name: Option<String>,
) -> Res<HolderView> {
    let clean = |s: Option<String>| s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    state
        .wallet()?
        .add_holder(&fhir_base, clean(client_id), clean(name))
        .await
        .map_err(fail)
}

#[tauri::command]
pub fn rename_holder(
    state: State<'_, AppState>,
    fhir_base: String,
    name: Option<String>,
) -> Res<()> {
    state
        .wallet()?
        .rename_holder(&fhir_base, name)
        .map_err(fail)
}

#[tauri::command]
pub fn remove_holder(state: State<'_, AppState>, fhir_base: String) -> Res<()> {
    state.wallet()?.remove_holder(&fhir_base).map_err(fail)
}

/// Signs in at an issuer in the system browser (Proposal 003) and comes back
/// with its tickets, judged like any import, and the holders it names.
#[tauri::command]
pub async fn onboard(
    app: AppHandle,
    state: State<'_, AppState>,
    issuer: String,
) -> Res<OnboardReport> {
    let wallet = state.wallet()?;
    let interactor = crate::browser::interactor(app).await?;
    wallet
        .onboard(issuer.trim(), &interactor)
        .await
        .map_err(fail)
}
