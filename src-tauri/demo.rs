//! The built-in demo (feature `demo`, on by default): the sandbox's issuer and
//! data holders on loopback, so a new user can add a working ticket and use it
//! without any server of their own. The issuer's key is derived from a fixed,
//! public seed so demo tickets still verify after a restart; nothing it signs
//! is trusted anywhere but by the demo holders on this machine.

use tauri::{AppHandle, Manager};

use crate::state::AppState;

/// Whether this build has the demo.
pub const ENABLED: bool = cfg!(feature = "demo");

#[cfg(feature = "demo")]
pub struct Demo {
    sandbox: sandbox::Sandbox,
}

#[cfg(feature = "demo")]
impl Demo {
    pub fn issuer_url(&self) -> String {
        self.sandbox.issuer.url()
    }

    /// The demo's data holders: (name, FHIR base).
    pub fn holders(&self) -> Vec<(String, String)> {
        self.sandbox
            .holders
            .iter()
            .map(|h| {
                let info = h.info();
                (info.name, info.fhir_base)
            })
            .collect()
    }

    pub fn mint(&self, ticket_type: &str, jkt: &str) -> Result<String, wallet_core::ErrorPayload> {
        let mut req = sandbox::MintRequest::new(
            wallet_core::permission_ticket::TicketType::PatientSelfAccess,
            Some(jkt.to_string()),
        );
        req.ticket_type = ticket_type.to_string();
        self.sandbox
            .issuer
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
        let config = |port| sandbox::SandboxConfig {
            port,
            issuer_seed: Some(b"ticket-wallet demo issuer (public, not a secret)".to_vec()),
            ..Default::default()
        };
        let started = match sandbox::Sandbox::start(config(DEMO_PORT)).await {
            Ok(sb) => Ok(sb),
            Err(_) => sandbox::Sandbox::start(config(0)).await,
        };
        match started {
            Ok(sandbox) => {
                tracing::info!(origin = %sandbox.origin, "demo issuer and data holders running");
                let _ = app.state::<AppState>().demo.set(Demo { sandbox });
            }
            Err(e) => tracing::warn!("the demo could not start: {e}"),
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

    pub fn holders(&self) -> Vec<(String, String)> {
        Vec::new()
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
