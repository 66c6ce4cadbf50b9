//! The built-in demo issuer (feature `demo`, on by default): a new user can
//! add a working ticket without any server of their own. Its key is derived
//! from a fixed, public seed so demo tickets still verify after a restart;
//! nothing it signs is trusted anywhere but on this machine.

use tauri::{AppHandle, Manager};

use crate::state::AppState;

#[cfg(feature = "demo")]
pub struct Demo {
    issuer: sandbox::Issuer,
}

#[cfg(feature = "demo")]
impl Demo {
    pub fn issuer_url(&self) -> String {
        self.issuer.url()
    }

    pub fn mint(&self, ticket_type: &str, jkt: &str) -> Result<String, wallet_core::ErrorPayload> {
        let mut req = sandbox::MintRequest::new(
            wallet_core::permission_ticket::TicketType::PatientSelfAccess,
            Some(jkt.to_string()),
        );
        req.ticket_type = ticket_type.to_string();
        self.issuer
            .mint(&req)
            .map_err(|e| wallet_core::ErrorPayload {
                code: "demo_failed".into(),
                message: e.to_string(),
            })
    }
}

/// The demo issuer's port; another is picked when it is taken.
#[cfg(feature = "demo")]
const DEMO_PORT: u16 = 47291;

#[cfg(feature = "demo")]
pub fn start(app: &AppHandle) {
    if std::env::var("TW_DEMO").as_deref() == Ok("0") {
        return;
    }
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let seed = b"ticket-wallet demo issuer (public, not a secret)";
        let issuer = match sandbox::Issuer::start_seeded(DEMO_PORT, seed).await {
            Ok(i) => Ok(i),
            Err(_) => sandbox::Issuer::start_seeded(0, seed).await,
        };
        match issuer {
            Ok(issuer) => {
                tracing::info!(url = %issuer.url(), "demo issuer running");
                let _ = app.state::<AppState>().demo.set(Demo { issuer });
            }
            Err(e) => tracing::warn!("the demo issuer could not start: {e}"),
        }
    });
}

#[cfg(not(feature = "demo"))]
pub struct Demo;

#[cfg(not(feature = "demo"))]
impl Demo {
    pub fn issuer_url(&self) -> String {
        String::new()
    }

    pub fn mint(
        &self,
        _ticket_type: &str,
        _jkt: &str,
    ) -> Result<String, wallet_core::ErrorPayload> {
        Err(wallet_core::ErrorPayload {
            code: "no_demo".into(),
            message: "this build has no demo issuer".into(),
        })
    }
}

#[cfg(not(feature = "demo"))]
pub fn start(_app: &AppHandle) {}
