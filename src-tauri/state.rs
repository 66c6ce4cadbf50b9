//! What the commands share: the wallet (or why it could not be opened, shown
//! to the person rather than crashing), the running sync, the demo issuer
//! when running, and a ticket link waiting for confirmation.

use std::sync::{Arc, RwLock};

use tokio::sync::OnceCell;
use wallet_core::{ErrorPayload, Wallet, WalletError, WalletOptions};

pub struct AppState {
    wallet: RwLock<Result<Arc<Wallet>, ErrorPayload>>,
    pub demo: OnceCell<crate::demo::Demo>,
    pub pending_link: crate::links::PendingLink,
    pub sync: crate::sync::SyncRunner,
}

fn opened(wallet: Result<Wallet, WalletError>) -> Result<Arc<Wallet>, ErrorPayload> {
    wallet.map(Arc::new).map_err(|e| {
        tracing::error!("the wallet could not be opened: {e}");
        e.to_payload()
    })
}

impl AppState {
    pub fn new(wallet: Result<Wallet, WalletError>) -> Self {
        Self {
            wallet: RwLock::new(opened(wallet)),
            demo: OnceCell::new(),
            pending_link: crate::links::PendingLink::default(),
            sync: crate::sync::SyncRunner::default(),
        }
    }

    pub fn wallet(&self) -> Result<Arc<Wallet>, ErrorPayload> {
        self.wallet
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Opens `options`' wallet in place of the current one (another profile,
    /// or the same one afresh after everything was deleted).
    pub fn reopen(&self, options: WalletOptions) -> Result<Arc<Wallet>, ErrorPayload> {
        let next = opened(Wallet::open(options));
        *self.wallet.write().unwrap_or_else(|p| p.into_inner()) = next.clone();
        next
    }
}
