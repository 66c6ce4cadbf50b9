//! Servers that behave like the real thing, on loopback, for the wallet's
//! tests, its built-in demo, and testers: one Permission Ticket issuer and
//! several FHIR data holders in one process, with knobs to make them misbehave.

pub mod data;
pub mod holder;
pub mod issuer;
mod jose;
mod web;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use holder::{Faults, Holder, HolderInfo, Profile};
pub use issuer::{Issuer, IssuerError, MintRequest};

/// The sandbox's trust framework. Tickets minted without an explicit `aud`
/// name it (`aud_type: trust_framework`), and every sandbox holder is a member.
pub const NETWORK: &str = "https://sandbox.ticket-wallet.example/network";

#[derive(Debug, Clone)]
pub struct SandboxConfig {
    pub holders: usize,
    /// 0 picks a free port.
    pub port: u16,
    pub profile: Profile,
    /// Seeds the synthetic records.
    pub seed: u64,
    /// Roughly how many resources each holder keeps for the main patient.
    pub size: usize,
    /// Derive the issuer key from this seed (demo), or a fresh key (`None`).
    pub issuer_seed: Option<Vec<u8>>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            holders: 3,
            port: 0,
            profile: Profile::Dpop,
            seed: 1,
            size: 60,
            issuer_seed: None,
        }
    }
}

/// An issuer and its data holders on one loopback port. Dropping it stops the server.
pub struct Sandbox {
    pub issuer: Issuer,
    pub holders: Vec<Holder>,
    pub origin: String,
    task: Arc<JoinHandle<()>>,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The line `tw sandbox` prints when ready.
#[derive(Debug, Clone, Serialize)]
pub struct Ready {
    pub issuer: String,
    pub holders: Vec<HolderInfo>,
    /// The issuer's private signing key as a JWK, for `tw check --issuer-key`:
    /// a key made for this run of the sandbox, trusted by its holders only.
    pub issuer_test_key: serde_json::Value,
}

const NAMES: [&str; 6] = [
    "Springfield General Hospital",
    "Lakeside Family Clinic",
    "Riverside Labs",
    "Northside Cardiology",
    "Mercy Urgent Care",
    "Hilltop Pediatrics",
];

impl Sandbox {
    pub async fn start(config: SandboxConfig) -> Result<Self, IssuerError> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], config.port))).await?;
        let origin = format!("http://{}", listener.local_addr()?);
        let key = match &config.issuer_seed {
            Some(seed) => issuer::seeded_key(seed)?,
            None => Issuer::random_key(),
        };
        let (issuer, mut app) = Issuer::mounted(key, &origin);
        issuer.keep_one_revoked()?;
        let holders: Vec<Holder> = (0..config.holders)
            .map(|i| {
                let name = NAMES
                    .get(i)
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| format!("Data Holder {}", i + 1));
                Holder::new(
                    &name,
                    &format!("h{}", i + 1),
                    &origin,
                    config.profile,
                    data::holder_data(i, config.seed, config.size),
                    vec![issuer.clone()],
                )
            })
            .collect();
        for h in &holders {
            app = app.merge(h.router());
        }
        issuer.set_endpoints(
            holders
                .iter()
                .map(|h| (h.fhir_base(), h.info().name))
                .collect(),
        );
        let app: Router = app.layer(axum::middleware::from_fn(web::only_this_machine));
        // Answers go out as written, as a production server's would; Nagle's
        // algorithm would hold back the tail of every page.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!("sandbox stopped: {e}");
            }
        });
        Ok(Self {
            issuer,
            holders,
            origin,
            task: Arc::new(task),
        })
    }

    pub fn ready(&self) -> Ready {
        Ready {
            issuer: self.issuer.url(),
            holders: self.holders.iter().map(Holder::info).collect(),
            issuer_test_key: self.issuer.test_key_jwk(),
        }
    }
}
