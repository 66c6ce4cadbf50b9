//! The wallet: its key, its tickets, and judging a ticket before it is kept.

use std::time::{SystemTime, UNIX_EPOCH};

use permission_ticket::{
    DEFAULT_CLOCK_SKEW, InspectOptions, IssuerKeys, Jwks, RevocationInput, TicketError,
    signature_verifies,
};
use serde::Serialize;
use serde_json::Value;
use ts_rs::TS;
use vault::{SaveOutcome, TicketRecord, Vault, VaultConfig};

use crate::http::Http;
use crate::issuer::{IssuerDirectory, status_list};
use crate::view::{TicketSummary, TicketView, summary, ticket_view};
use crate::{WalletError, WalletOptions, import};

/// How to judge a ticket.
#[derive(Debug, Clone, Default)]
pub struct InspectRequest {
    /// Verify against this key set instead of fetching the issuer's.
    pub jwks: Option<Jwks>,
    /// Judge at this time (seconds since 1970) instead of now.
    pub at: Option<i64>,
    /// Do not fetch anything: no issuer keys unless given, no status list.
    pub offline: bool,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct KeyInfo {
    pub profile: String,
    /// The RFC 7638 thumbprint issuers bind tickets to.
    pub jkt: String,
    pub public_jwk: Value,
    pub store: StoreView,
    /// The thumbprint as a QR code (SVG), to show to an issuer.
    pub qr_svg: String,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct StoreView {
    pub name: String,
    pub persistent: bool,
    pub notice: Option<String>,
}

impl From<&vault::StoreInfo> for StoreView {
    fn from(info: &vault::StoreInfo) -> Self {
        Self {
            name: info.name.clone(),
            persistent: info.persistent,
            notice: info.notice.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ImportResult {
    /// `added` or `already_present`.
    pub outcome: String,
    pub ticket: TicketView,
    /// Something to tell the person, e.g. that the signature could not be checked yet.
    pub notice: Option<String>,
}

/// A kept ticket in the list: what the index says, and its judgement now.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct TicketEntry {
    pub summary: TicketSummary,
    pub view: Option<TicketView>,
    /// Why it could not be judged (the keyring refused, the entry is gone).
    pub error: Option<crate::ErrorPayload>,
}

struct Judged {
    decoded: permission_ticket::DecodedTicket,
    report: permission_ticket::Report,
    jkt: Option<String>,
    /// The issuer's keys could not be fetched for a reason that may pass.
    keys_may_come: bool,
}

impl Judged {
    /// The only failure is that the issuer's keys could not be fetched.
    fn only_keys_missing(&self) -> bool {
        let failures = self.report.failures();
        !failures.is_empty()
            && failures
                .iter()
                .all(|f| matches!(f, TicketError::KeysUnavailable { .. }))
    }
}

pub struct Wallet {
    vault: Vault,
    http: Http,
    issuers: IssuerDirectory,
    /// Access tokens by (FHIR base, ticket jti), kept in memory only: a token
    /// is a secret, and presenting the ticket again is always possible.
    tokens: crate::engine::TokenCache,
    /// Store writers of syncs that said done and may still be folding
    /// their log into the database (`settle`).
    pub(crate) settling: std::sync::Mutex<Vec<std::thread::JoinHandle<()>>>,
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

impl Wallet {
    pub fn open(opts: WalletOptions) -> Result<Self, WalletError> {
        let vault = Vault::open(VaultConfig {
            profile: opts.profile,
            data_dir: opts.data_dir,
            backend: opts.backend,
        })?;
        Ok(Self {
            vault,
            http: Http::new()?,
            issuers: IssuerDirectory::default(),
            tokens: Default::default(),
            settling: Default::default(),
        })
    }

    /// Waits for what syncs left to do after saying done (folding the
    /// store's log into the database): a process about to exit calls it, so
    /// the next one does not start with a large log to fold.
    pub fn settle(&self) {
        let running = std::mem::take(&mut *self.settling.lock().unwrap_or_else(|p| p.into_inner()));
        for thread in running {
            if thread.join().is_err() {
                tracing::warn!("a store writer stopped with a panic");
            }
        }
    }

    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    pub(crate) fn tokens(&self) -> &crate::engine::TokenCache {
        &self.tokens
    }

    /// The profile's encrypted record store, opened with its key from the
    /// keyring; created with a new key on first use.
    pub fn record_store(&self) -> Result<crate::store::RecordStore, WalletError> {
        let path = self.vault.dir().join("records.db");
        // The app and `tw` may both open the store first: a lock file makes
        // "create the key, then the database" happen once, not race to two keys.
        let lock_path = self.vault.dir().join("records.lock");
        let lock = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| {
                WalletError::Invalid(format!("cannot open {}: {e}", lock_path.display()))
            })?;
        lock.lock().map_err(|e| {
            WalletError::Invalid(format!("cannot lock {}: {e}", lock_path.display()))
        })?;
        let key = self.vault.database_key(!path.exists())?;
        let store = crate::store::RecordStore::open(&path, &key)?;
        drop(lock);
        Ok(store)
    }

    /// Drops every cached access token: the next sync presents the tickets again.
    pub fn forget_tokens(&self) {
        self.tokens.clear();
    }

    pub fn http(&self) -> &Http {
        &self.http
    }

    fn holders_path(&self) -> std::path::PathBuf {
        self.vault.dir().join("holders.json")
    }

    pub fn holder_records(&self) -> Result<Vec<crate::holders::HolderRecord>, WalletError> {
        crate::jsonfile::load(&self.holders_path())
    }

    /// Adds or replaces a holder (by FHIR base).
    pub fn save_holder(&self, record: crate::holders::HolderRecord) -> Result<(), WalletError> {
        let mut all = self.holder_records()?;
        all.retain(|h| h.fhir_base != record.fhir_base);
        all.push(record);
        crate::jsonfile::store(&self.holders_path(), &all)
    }

    /// Adds a holder by its FHIR base URL: checks its SMART configuration and,
    /// unless a client id is given, registers this wallet there when it can.
    pub async fn add_holder(
        &self,
        fhir_base: &str,
        client_id: Option<String>,
        name: Option<String>,
    ) -> Result<crate::holders::HolderView, WalletError> {
        let mut template = crate::holders::HolderRecord::new(fhir_base.to_string());
        template.name = name;
        self.add_holder_record(template, client_id).await
    }

    /// As `add_holder`, keeping what `template` already knows (an issuer's hints).
    pub(crate) async fn add_holder_record(
        &self,
        template: crate::holders::HolderRecord,
        client_id: Option<String>,
    ) -> Result<crate::holders::HolderView, WalletError> {
        let base = crate::holders::normalise_base(&template.fhir_base)?;
        let config = crate::holders::discover(&self.http, &base).await?;
        let existing = self
            .holder_records()?
            .into_iter()
            .find(|h| h.fhir_base == base);
        // Unnamed by the person or a hint, and not named before: the holder's own name.
        let mut template = template;
        if template.name.is_none() && existing.as_ref().is_none_or(|e| e.name.is_none()) {
            template.name = crate::holders::own_name(&self.http, &base).await;
        }
        let mut record = match existing {
            Some(mut record) => {
                crate::holders::merge_into(&mut record, template);
                record
            }
            None => crate::holders::HolderRecord {
                fhir_base: base.clone(),
                ..template
            },
        };
        if let Some(id) = client_id {
            record.client_id = Some(id);
            record.client_id_source = Some("entered".into());
        } else if record.client_id.is_none() && config.registration_endpoint.is_some() {
            let engine = crate::engine::Engine::new(
                self.http.clone(),
                std::sync::Arc::new(self.vault.signing_key()?),
                crate::trace::Trace::new(false),
                Default::default(),
            );
            let redirect = "http://127.0.0.1/callback".to_string();
            let id = crate::engine::register(&engine, &record, &config, &redirect)
                .await
                .map_err(|e| WalletError::Invalid(format!("registration at {base} failed: {e}")))?;
            record.client_id = Some(id);
            record.client_id_source = Some("registered".into());
            record.redirect_uri = Some(redirect);
        }
        self.save_holder(record.clone())?;
        Ok(crate::holders::view(&record, Ok(&config)))
    }

    /// Every holder, with what its configuration says now.
    /// Every holder, with what its configuration says now and why any kept
    /// ticket cannot be used there.
    pub async fn holders(&self) -> Result<Vec<crate::holders::HolderView>, WalletError> {
        let mut tickets = Vec::new();
        for entry in self.vault.list_tickets()? {
            if let Ok(d) = self
                .vault
                .load_ticket(&entry.jti)
                .map_err(WalletError::from)
                .and_then(|t| Ok(permission_ticket::decode(&t)?))
            {
                tickets.push(d.ticket);
            }
        }
        let records = self.holder_records()?;
        let configs = futures_util::future::join_all(
            records
                .iter()
                .map(|r| crate::holders::discover(&self.http, &r.fhir_base)),
        )
        .await;
        let last = match self.existing_record_store() {
            Ok(Some(store)) => store.last_outcomes().unwrap_or_default(),
            _ => Vec::new(),
        };
        let mut out = Vec::new();
        for (record, config) in records.iter().zip(configs) {
            let mut view = crate::holders::view(record, config.as_ref());
            if let Ok(config) = &config {
                for t in &tickets {
                    let problems = crate::holders::ticket_problems(t, record, config);
                    for p in &problems {
                        view.problems.push(format!(
                            "{} ticket {}: {p}",
                            t.ticket_type.label(),
                            t.jti
                        ));
                    }
                    view.tickets.push(crate::holders::HolderTicket {
                        jti: t.jti.clone(),
                        label: t.ticket_type.label().to_string(),
                        problems,
                    });
                }
            }
            view.last_sync = last
                .iter()
                .filter(|o| o.holder == record.fhir_base)
                .cloned()
                .collect();
            out.push(view);
        }
        Ok(out)
    }

    /// Gives a holder the name the person chose (none: back to no name).
    pub fn rename_holder(&self, fhir_base: &str, name: Option<String>) -> Result<(), WalletError> {
        let base = crate::holders::normalise_base(fhir_base)?;
        let mut all = self.holder_records()?;
        let holder = all
            .iter_mut()
            .find(|h| h.fhir_base == base)
            .ok_or_else(|| {
                WalletError::Invalid(format!("{base} is not one of this wallet's holders"))
            })?;
        holder.name = name.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
        crate::jsonfile::store(&self.holders_path(), &all)
    }

    /// The record store when this profile has one; `None` before the first sync.
    pub fn existing_record_store(&self) -> Result<Option<crate::store::RecordStore>, WalletError> {
        if self.vault.dir().join("records.db").exists() {
            self.record_store().map(Some)
        } else {
            Ok(None)
        }
    }

    /// Deletes everything this profile keeps (see `Vault::destroy`): its
    /// records, holders, tickets and key, in the keyring and on disk. The
    /// wallet should be opened again afterwards.
    pub fn delete_everything(&self) -> Result<(), WalletError> {
        self.tokens.clear();
        // The log names the holders this profile used: it goes first, so
        // the line saying everything was deleted is all it keeps.
        if let Some(data_dir) = self.vault.dir().parent() {
            let opts = WalletOptions {
                profile: self.vault.profile().to_string(),
                data_dir: data_dir.into(),
                backend: vault::Backend::Auto,
            };
            crate::logging::remove_logs(&opts)
                .map_err(|e| WalletError::Invalid(format!("could not empty the log: {e}")))?;
        }
        Ok(self.vault.destroy()?)
    }

    pub fn remove_holder(&self, fhir_base: &str) -> Result<(), WalletError> {
        let base = crate::holders::normalise_base(fhir_base)?;
        let mut all = self.holder_records()?;
        let before = all.len();
        all.retain(|h| h.fhir_base != base);
        if all.len() == before {
            return Err(WalletError::Invalid(format!(
                "{base} is not one of this wallet's holders"
            )));
        }
        crate::jsonfile::store(&self.holders_path(), &all)
    }

    /// The last sync's protocol trace (already redacted when it was saved).
    pub fn last_trace(&self) -> Result<Vec<crate::trace::TraceEntry>, WalletError> {
        crate::jsonfile::load(&self.vault.dir().join("last-trace.json"))
    }

    pub(crate) fn save_trace(
        &self,
        entries: &[crate::trace::TraceEntry],
    ) -> Result<(), WalletError> {
        crate::jsonfile::store(&self.vault.dir().join("last-trace.json"), &entries)
    }

    pub fn key_info(&self) -> Result<KeyInfo, WalletError> {
        let key = self.vault.signing_key()?;
        let info = self.vault.store_info();
        let jkt = key.jkt();
        Ok(KeyInfo {
            profile: self.vault.profile().to_string(),
            qr_svg: qr_svg(&jkt),
            jkt,
            public_jwk: serde_json::to_value(key.public_jwk()).unwrap_or(Value::Null),
            store: StoreView::from(info),
        })
    }

    /// Decodes and judges a ticket (or a link carrying one) without keeping it.
    pub async fn inspect(
        &self,
        input: &str,
        req: &InspectRequest,
    ) -> Result<TicketView, WalletError> {
        let judged = self.judge(input, req).await?;
        Ok(ticket_view(
            &judged.decoded,
            &judged.report,
            judged.jkt.as_deref(),
        ))
    }

    async fn judge(&self, input: &str, req: &InspectRequest) -> Result<Judged, WalletError> {
        let text = import::extract_ticket(input)?;
        let decoded = permission_ticket::decode(&text)?;
        let t = &decoded.ticket;
        let (issuer_keys, keys_may_come) = match (&req.jwks, req.offline) {
            (Some(jwks), _) => (IssuerKeys::Keys(jwks.clone()), false),
            (None, true) => (
                IssuerKeys::Unavailable("not fetched (offline)".into()),
                false,
            ),
            (None, false) => self.issuers.keys(&self.http, &t.iss).await,
        };
        let revocation = match (&t.revocation, req.offline) {
            (Some(rev), false) if signature_verifies(&decoded, &issuer_keys) => {
                status_list(&self.http, &rev.url).await
            }
            _ => RevocationInput::NotChecked,
        };
        let jkt = match self.vault.signing_key() {
            Ok(k) => Some(k.jkt()),
            Err(e) => {
                tracing::warn!("the wallet key is unavailable, binding not judged: {e}");
                None
            }
        };
        let report = permission_ticket::inspect(
            &decoded,
            &InspectOptions {
                now: req.at.unwrap_or_else(now),
                clock_skew: DEFAULT_CLOCK_SKEW,
                issuer_keys,
                wallet_jkt: jkt.as_deref(),
                revocation,
            },
        );
        Ok(Judged {
            decoded,
            report,
            jkt,
            keys_may_come,
        })
    }

    /// Checks a kept ticket that was not verified again, before it is
    /// presented: `Ok(())` once its signature verifies (the index says so
    /// from then on), otherwise why it may not be presented yet.
    pub(crate) async fn verify_kept(&self, jti: &str) -> Result<(), String> {
        let text = self.vault.load_ticket(jti).map_err(|e| e.to_string())?;
        let judged = self
            .judge(&text, &InspectRequest::default())
            .await
            .map_err(|e| e.to_string())?;
        match judged.report.first_failure() {
            None => {
                if let Err(e) = self.vault.set_verified(jti, true) {
                    tracing::warn!("could not note a ticket as verified: {e}");
                }
                Ok(())
            }
            Some(reason) if judged.only_keys_missing() => Err(format!(
                "not yet verified, so not presented: {reason}; the next sync tries again"
            )),
            Some(reason) => Err(format!("refused when checked again: {reason}")),
        }
    }

    /// Judges a ticket and keeps it if this wallet can use it. A ticket whose
    /// issuer keys cannot be fetched right now for a reason that may pass (the
    /// network, the issuer's server down) is kept, marked as not yet
    /// verified, and checked again before it is presented. A refused issuer
    /// address, a 4xx or a malformed key set refuses it.
    pub async fn import(&self, input: &str, source: &str) -> Result<ImportResult, WalletError> {
        let judged = self.judge(input, &InspectRequest::default()).await?;
        let unverified = judged.only_keys_missing() && judged.keys_may_come;
        if let Some(reason) = judged.report.first_failure()
            && !unverified
        {
            return Err(WalletError::Unusable(reason.clone()));
        }
        let notice = judged
            .report
            .first_failure()
            .map(|reason| format!("kept, but not yet verified: {reason}"));
        let t = &judged.decoded.ticket;
        let outcome = self.vault.save_ticket(
            TicketRecord {
                jti: t.jti.clone(),
                ticket_type: t.ticket_type.uri(),
                issuer: t.iss.clone(),
                expires_at: t.exp,
                added_at: now(),
                source: source.to_string(),
                verified: !unverified,
            },
            &judged.decoded.compact,
        )?;
        Ok(ImportResult {
            outcome: match outcome {
                SaveOutcome::Added => "added".into(),
                SaveOutcome::AlreadyPresent => "already_present".into(),
            },
            ticket: ticket_view(&judged.decoded, &judged.report, judged.jkt.as_deref()),
            notice,
        })
    }

    pub fn list(&self) -> Result<Vec<TicketSummary>, WalletError> {
        let now = now();
        Ok(self
            .vault
            .list_tickets()?
            .iter()
            .map(|r| summary(r, now))
            .collect())
    }

    /// Every kept ticket judged again now (all at once), for the ticket list:
    /// who it is for and whether it can be used. A ticket that cannot be read
    /// from the keyring is listed with the reason, not left out.
    ///
    /// With `offline`, each ticket is decoded and judged without fetching its
    /// issuer's keys or revocation list: enough to say who it is for and who
    /// holds it, for screens that show only that.
    pub async fn ticket_entries(&self, offline: bool) -> Result<Vec<TicketEntry>, WalletError> {
        let summaries = self.list()?;
        let request = InspectRequest {
            offline,
            ..InspectRequest::default()
        };
        let views = futures_util::future::join_all(
            summaries.iter().map(|s| self.judge_kept(&s.jti, &request)),
        )
        .await;
        Ok(summaries
            .into_iter()
            .zip(views)
            .map(|(summary, view)| match view {
                Ok(view) => TicketEntry {
                    summary,
                    view: Some(view),
                    error: None,
                },
                Err(e) => TicketEntry {
                    summary,
                    view: None,
                    error: Some(e.to_payload()),
                },
            })
            .collect())
    }

    /// A kept ticket, judged again now.
    pub async fn ticket(&self, jti: &str) -> Result<TicketView, WalletError> {
        self.judge_kept(jti, &InspectRequest::default()).await
    }

    async fn judge_kept(&self, jti: &str, req: &InspectRequest) -> Result<TicketView, WalletError> {
        let text = self.vault.load_ticket(jti)?;
        self.inspect(&text, req).await
    }

    /// The kept ticket's compact JWS, for presenting to a data holder.
    pub fn ticket_text(&self, jti: &str) -> Result<String, WalletError> {
        Ok(self.vault.load_ticket(jti)?)
    }

    pub fn remove(&self, jti: &str) -> Result<(), WalletError> {
        Ok(self.vault.remove_ticket(jti)?)
    }
}

fn qr_svg(text: &str) -> String {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
        Err(_) => String::new(),
    }
}
