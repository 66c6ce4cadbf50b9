//! The built-in demo (feature `demo`, on by default): the sandbox's issuer and
//! data holders on loopback, so a new user can add a working ticket and use it
//! without any server of their own. The issuer signs with a key derived from a
//! random secret the profile keeps in the keyring (so demo tickets verify
//! after a restart and nobody else can make one), and its tickets name the
//! demo holders as their only audience: nothing it signs is presented or
//! trusted anywhere else.

use tauri::AppHandle;
#[cfg(feature = "demo")]
use tauri::Manager;

#[cfg(feature = "demo")]
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

    /// The demo issuer's signing key, which the demo holders trust: the
    /// conformance check signs its one-claim-changed tickets with it.
    pub fn test_issuer_key(&self) -> Option<wallet_core::check::IssuerKey> {
        wallet_core::check::IssuerKey::from_jwk(&self.sandbox.issuer.test_key_jwk().to_string())
            .ok()
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

    /// Signs from now on with this profile's demo key (published next to
    /// the keys used before, so every profile's demo tickets still verify).
    /// With `create`, the profile's first demo ticket makes the key; without,
    /// a profile that never used the demo changes nothing.
    pub fn use_profile_key(
        &self,
        wallet: &wallet_core::Wallet,
        create: bool,
    ) -> Result<(), wallet_core::ErrorPayload> {
        let payload =
            |e: wallet_core::vault::VaultError| wallet_core::WalletError::from(e).to_payload();
        match wallet.vault().demo_issuer_secret(create).map_err(payload)? {
            Some(secret) => self.sandbox.issuer.use_seed(&secret).map_err(demo_failed),
            None => Ok(()),
        }
    }

    /// A ticket for the demo patient, bound to this wallet's key, for the
    /// demo holders only.
    pub fn mint(
        &self,
        wallet: &wallet_core::Wallet,
        ticket_type: &str,
    ) -> Result<String, wallet_core::ErrorPayload> {
        self.use_profile_key(wallet, true)?;
        let jkt = wallet
            .vault()
            .signing_key()
            .map_err(|e| wallet_core::WalletError::from(e).to_payload())?
            .jkt();
        let mut req = sandbox::MintRequest::new(
            wallet_core::permission_ticket::TicketType::PatientSelfAccess,
            Some(jkt),
        );
        req.ticket_type = ticket_type.to_string();
        req.aud = Some(self.holders().into_iter().map(|(_, base)| base).collect());
        self.sandbox.issuer.mint(&req).map_err(demo_failed)
    }
}

#[cfg(feature = "demo")]
fn demo_failed(e: impl std::fmt::Display) -> wallet_core::ErrorPayload {
    wallet_core::ErrorPayload {
        code: "demo_failed".into(),
        message: e.to_string(),
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
        // The profile's own secret when it has used the demo before, so its
        // demo tickets verify; otherwise a random key until its first demo
        // ticket (nothing is written to the keyring at start-up).
        let seed = app
            .state::<AppState>()
            .wallet()
            .ok()
            .and_then(|w| w.vault().demo_issuer_secret(false).ok().flatten());
        let config = |port| sandbox::SandboxConfig {
            port,
            issuer_seed: seed.clone(),
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

    pub fn use_profile_key(
        &self,
        _wallet: &wallet_core::Wallet,
        _create: bool,
    ) -> Result<(), wallet_core::ErrorPayload> {
        Ok(())
    }

    pub fn mint(
        &self,
        _wallet: &wallet_core::Wallet,
        _ticket_type: &str,
    ) -> Result<String, wallet_core::ErrorPayload> {
        Err(wallet_core::ErrorPayload {
            code: "no_demo".into(),
            message: "this build has no demo issuer".into(),
        })
    }
}

#[cfg(not(feature = "demo"))]
pub fn start(_app: &AppHandle) {}
