//! What the commands share: the wallet, or why it could not be opened (shown
//! to the user rather than crashing), and the demo issuer when running.

use std::sync::Arc;

use tokio::sync::OnceCell;
use wallet_core::{ErrorPayload, Wallet, WalletError};

pub struct AppState {
    wallet: Result<Arc<Wallet>, ErrorPayload>,
    pub demo: OnceCell<crate::demo::Demo>,
    pub pending_link: crate::links::PendingLink,
}

impl AppState {
    pub fn new(wallet: Result<Wallet, WalletError>) -> Self {
        Self {
            wallet: wallet.map(Arc::new).map_err(|e| {
                tracing::error!("the wallet could not be opened: {e}");
                e.to_payload()
            }),
            demo: OnceCell::new(),
            pending_link: crate::links::PendingLink::default(),
        }
    }

    pub fn wallet(&self) -> Result<Arc<Wallet>, ErrorPayload> {
        self.wallet.clone()
    }
}
