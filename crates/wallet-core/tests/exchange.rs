//! The exchange engine against the sandbox's data holders over real loopback
//! HTTP, with the wallet's key in the real keyring (run through `make test`).
//! Each test asks what a person syncing would check: which holders synced,
//! how many records came, what they are told when something goes wrong.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use permission_ticket::TicketType;
use sandbox::{Faults, MintRequest, Profile, Sandbox, SandboxConfig};
use serde_json::{Value, json};
use vault::Backend;
use wallet_core::engine::interaction::{BoxFuture, Interactor};
use wallet_core::engine::{Engine, ExchangeError, Limits, exchange};
use wallet_core::holders::{HolderRecord, discover};
use wallet_core::sync::SyncReport;
use wallet_core::{HolderOutcome, SyncOptions, Wallet, WalletOptions};

fn open(dir: &std::path::Path, profile: &str) -> Wallet {
    Wallet::open(WalletOptions {
        profile: format!("{profile}-{}", std::process::id()),
        data_dir: dir.into(),
        backend: Backend::SecretService,
    })
    .unwrap_or_else(|e| panic!("{e} (run through `make test`, which starts a keyring)"))
}

async fn sandbox(holders: usize, profile: Profile) -> Sandbox {
    Sandbox::start(SandboxConfig {
        holders,
        profile,
        ..Default::default()
    })
    .await
    .unwrap()
}

/// A wallet holding one ticket of `req`'s shape (bound to its key), knowing every holder.
async fn wallet_with(
    sb: &Sandbox,
    dir: &std::path::Path,
    profile: &str,
    mut req: MintRequest,
) -> (Wallet, String) {
    let w = open(dir, profile);
    req.jkt = Some(w.key_info().unwrap().jkt);
    let ticket = sb.issuer.mint(&req).unwrap();
    let imported = w.import(&ticket, "test").await.unwrap();
    for h in &sb.holders {
        w.add_holder(&h.fhir_base(), None, None).await.unwrap();
    }
    (w, imported.ticket.jti)
}

fn everything() -> MintRequest {
    let mut req = MintRequest::new(TicketType::PatientSelfAccess, None);
    req.smart_scopes = Some(vec!["patient/*.rs".into()]);
    req
}

fn at<'a>(report: &'a SyncReport, holder: &sandbox::Holder) -> &'a HolderOutcome {
    let base = holder.fhir_base();
    report
        .outcomes
        .iter()
        .find(|o| o.fhir_base == base)
        .unwrap_or_else(|| panic!("no outcome for {base}: {:?}", report.outcomes))
}

/// What the holder keeps for `patient`, counted from the sandbox's own data, not the wallet's.
fn expected(holder_index: usize, patient: &str) -> usize {
    let data = sandbox::data::holder_data(
        holder_index,
        SandboxConfig::default().seed,
        SandboxConfig::default().size,
    );
    let reference = format!("Patient/{patient}");
    data.resources
        .iter()
        .filter(|r| {
            wallet_core::sync::DEFAULT_TYPES
                .iter()
                .any(|t| r["resourceType"] == *t)
        })
        .filter(|r| {
            r["subject"]["reference"] == reference.as_str()
                || r["patient"]["reference"] == reference.as_str()
        })
        .count()
}

async fn sync(w: &Wallet, opts: SyncOptions) -> SyncReport {
    w.sync(opts, None).await.unwrap()
}

#[tokio::test]
async fn several_dpop_holders_at_once() {
    let sb = sandbox(3, Profile::Dpop).await;
    let dir = tempfile::tempdir().unwrap();
    let (w, jti) = wallet_with(&sb, dir.path(), "several", everything()).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let report = w.sync(SyncOptions::default(), Some(tx)).await.unwrap();

    for (i, slug) in [(0, "h1"), (2, "h3")] {
        let o = at(&report, &sb.holders[i]);
        assert_eq!(o.status, "synced", "{o:?}");
        assert_eq!(o.ticket_jti.as_deref(), Some(jti.as_str()));
        let patient = format!("{slug}-ana");
        assert_eq!(o.patient_id.as_deref(), Some(patient.as_str()));
        // Every record of hers, plus the Patient itself; nobody else's.
        assert_eq!(o.resources, expected(i, &patient) + 1, "{o:?}");
        // What the record store kept from this holder.
        let bundle = w
            .record_store()
            .unwrap()
            .export_holder(&o.fhir_base)
            .unwrap();
        let bundle: Value = serde_json::from_str(&bundle).unwrap();
        let from_here: Vec<Value> = bundle["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["resource"].clone())
            .collect();
        let own = format!("Patient/{patient}");
        assert!(
            from_here
                .iter()
                .filter(|r| r["resourceType"] != "Patient")
                .all(|r| {
                    r["subject"]["reference"] == own.as_str()
                        || r["patient"]["reference"] == own.as_str()
                }),
            "only her records"
        );
        assert_eq!(from_here.len(), o.resources);
        assert!(
            from_here
                .iter()
                .any(|r| r["resourceType"] == "Patient" && r["name"][0]["family"] == "Rivera")
        );
        assert!(
            o.by_type
                .iter()
                .any(|t| t.resource_type == "Observation" && t.count > 10),
            "{o:?}"
        );
    }
    // The holder with two matching records waits for the patient, and says so.
    let h2 = at(&report, &sb.holders[1]);
    assert_eq!(h2.status, "needs_interaction");
    assert!(
        h2.message.contains("confirm which patient record"),
        "{}",
        h2.message
    );

    // Progress came for each holder, ending in `done`.
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    for h in &sb.holders {
        let mine: Vec<_> = events
            .iter()
            .filter(|e| e.holder == h.fhir_base())
            .collect();
        assert_eq!(mine.first().map(|e| e.stage.as_str()), Some("discovery"));
        assert_eq!(mine.last().map(|e| e.stage.as_str()), Some("done"));
        assert_eq!(
            mine.iter().filter(|e| e.stage == "done").count(),
            1,
            "one `done` per holder: {mine:?}"
        );
        // A holder whose records arrived says it is storing them, and how many, before `done`.
        let o = at(&report, h);
        let stages: Vec<&str> = mine.iter().map(|e| e.stage.as_str()).collect();
        if o.status == "synced" {
            assert_eq!(
                stages[stages.len() - 2..],
                ["storing", "done"],
                "{stages:?}"
            );
            assert_eq!(mine[mine.len() - 2].resources, o.resources);
        } else {
            assert!(!stages.contains(&"storing"), "{stages:?}");
        }
    }
    assert!(
        events
            .iter()
            .any(|e| e.stage == "download" && e.pages > 0 && e.resources > 0)
    );

    // DPoP throughout: the token endpoint's nonce challenge was answered, and
    // every FHIR call carried a proof.
    let token_calls: Vec<_> = report
        .trace
        .iter()
        .filter(|e| e.url.ends_with("/token"))
        .collect();
    assert!(token_calls.iter().any(
        |e| e.status == Some(400) && e.response.as_ref().unwrap()["error"] == "use_dpop_nonce"
    ));
    assert!(token_calls.iter().any(|e| e.status == Some(200)));
    let fhir_calls: Vec<_> = report
        .trace
        .iter()
        .filter(|e| e.step == wallet_core::trace::Step::Fhir)
        .collect();
    assert!(!fhir_calls.is_empty());
    for e in &fhir_calls {
        assert!(
            e.request_headers
                .iter()
                .any(|(k, v)| k == "Authorization" && v.starts_with("DPoP ")),
            "{e:?}"
        );
        let proof = e.jwts.iter().find(|j| j["role"] == "DPoP proof").unwrap();
        assert_eq!(proof["claims"]["htm"], "GET");
        assert!(proof["claims"]["ath"].is_string());
    }

    // A second sync reuses the cached tokens: no ticket is presented again.
    let again = sync(&w, SyncOptions::default()).await;
    assert_eq!(at(&again, &sb.holders[0]).status, "synced");
    assert!(
        !again
            .trace
            .iter()
            .any(|e| e.url.ends_with("/token") && e.status == Some(200))
    );

    // Without cached tokens the tickets are presented again, and the DPoP
    // nonce each token endpoint gave last time spares the challenge.
    w.forget_tokens();
    let fresh = sync(&w, SyncOptions::default()).await;
    assert_eq!(at(&fresh, &sb.holders[0]).status, "synced");
    let token_calls: Vec<_> = fresh
        .trace
        .iter()
        .filter(|e| e.url.ends_with("/token"))
        .collect();
    assert!(token_calls.iter().any(|e| e.status == Some(200)));
    assert!(
        token_calls.iter().all(|e| e.status == Some(200)
            || e.response.as_ref().unwrap()["error"] == "interaction_required"),
        "{token_calls:?}"
    );
}

#[tokio::test]
async fn bearer_and_reference_style_holders() {
    for profile in [Profile::Bearer, Profile::Reference] {
        let sb = sandbox(3, profile).await;
        let dir = tempfile::tempdir().unwrap();
        let (w, _) = wallet_with(&sb, dir.path(), &format!("{profile:?}"), everything()).await;
        let report = sync(&w, SyncOptions::default()).await;
        // The second holder asks the patient to pick a record (nobody to ask here).
        for (i, slug) in [(0, "h1"), (2, "h3")] {
            let o = at(&report, &sb.holders[i]);
            assert_eq!(o.status, "synced", "{profile:?}: {o:?}");
            let patient = format!("{slug}-ana");
            assert_eq!(o.resources, expected(i, &patient) + 1, "{profile:?}");
        }
        let jkt = w.key_info().unwrap().jkt;
        let reads: Vec<_> = report
            .trace
            .iter()
            .filter(|e| e.step == wallet_core::trace::Step::Fhir)
            .collect();
        let holders: std::collections::HashSet<_> = reads.iter().map(|e| &e.holder).collect();
        assert_eq!(holders.len(), 2, "{profile:?}: both holders read");
        for e in reads {
            assert!(
                e.request_headers
                    .iter()
                    .any(|(k, v)| k == "Authorization" && v.starts_with("Bearer "))
            );
            assert!(
                e.jwts.is_empty(),
                "no DPoP proofs where the holder gives Bearer"
            );
            // The reference server identifies a key-bound ticket's presenter by this header.
            if profile == Profile::Reference {
                assert!(
                    e.request_headers
                        .iter()
                        .any(|(k, v)| k == "x-client-jkt" && *v == jkt),
                    "{e:?}"
                );
            }
        }
    }
}

/// Plays the patient at the holder's page: picks `record` and follows the form
/// back to the wallet's redirect URI, as a browser would.
struct Patient {
    record: String,
    pages_seen: std::sync::Mutex<Vec<String>>,
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// `name`/`value` pairs of the hidden inputs in a page.
fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    html.split("<input type=\"hidden\" ")
        .skip(1)
        .filter_map(|rest| {
            let name = rest.split("name=\"").nth(1)?.split('"').next()?;
            let value = rest.split("value=\"").nth(1)?.split('"').next()?;
            Some((name.to_string(), unescape(value)))
        })
        .collect()
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// What a browser does with one of the sandbox's pages: shows it, submits its
/// form with `field` set to `value`, and follows the answer to the redirect.
/// Returns the page and where it redirected.
async fn fill_in(url: &str, field: &str, value: &str) -> Result<(String, String), String> {
    let client = no_redirects();
    let page = client
        .get(url)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .text()
        .await
        .map_err(|e| e.to_string())?;
    let mut form = hidden_inputs(&page);
    form.push((field.into(), value.into()));
    let action = url.split('?').next().unwrap().to_string();
    let resp = client
        .post(action)
        .form(&form)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let location = resp
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .map(str::to_string)
        .ok_or_else(|| format!("no redirect ({})", resp.status()))?;
    Ok((page, location))
}

impl Interactor for Patient {
    fn redirect_uri(&self) -> String {
        "http://127.0.0.1:9/callback".into()
    }
    fn authorize(&self, url: String) -> BoxFuture<'_, Result<String, String>> {
        Box::pin(async move {
            let (page, location) = fill_in(&url, "patient", &self.record).await?;
            self.pages_seen.lock().unwrap().push(page);
            Ok(location)
        })
    }
}

#[tokio::test]
async fn interaction_fallback_end_to_end() {
    let sb = sandbox(2, Profile::Dpop).await;
    let dir = tempfile::tempdir().unwrap();
    let (w, _) = wallet_with(&sb, dir.path(), "interaction", everything()).await;
    let patient = Arc::new(Patient {
        record: "h2-ana".into(),
        pages_seen: Default::default(),
    });
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<wallet_core::SyncEvent>();
    let report = w
        .sync(
            SyncOptions {
                interactor: Some(patient.clone()),
                ..Default::default()
            },
            Some(tx),
        )
        .await
        .unwrap();
    // The holder's row says it is waiting for her, and only that holder's.
    let mut waiting = Vec::new();
    while let Ok(e) = rx.try_recv() {
        if e.stage == "interaction" {
            waiting.push(e.holder);
        }
    }
    assert_eq!(waiting, [sb.holders[1].fhir_base()]);

    // She saw both records at the holder, picked hers, and the sync carried on there.
    let pages = patient.pages_seen.lock().unwrap().clone();
    assert_eq!(
        pages.len(),
        1,
        "one interaction, at the holder that needs it"
    );
    assert!(pages[0].contains("value=\"h2-ana\"") && pages[0].contains("value=\"h2-ana-2\""));
    let h2 = at(&report, &sb.holders[1]);
    assert_eq!(h2.status, "synced", "{h2:?}");
    assert_eq!(h2.patient_id.as_deref(), Some("h2-ana"));
    assert_eq!(h2.resources, expected(1, "h2-ana") + 1);
    assert_eq!(at(&report, &sb.holders[0]).status, "synced");

    // Later exchanges of the same ticket succeed without asking again (a
    // fresh wallet on the same profile, so no cached token helps).
    drop(w);
    let w = open(dir.path(), "interaction");
    let later = sync(&w, SyncOptions::default()).await;
    assert_eq!(
        at(&later, &sb.holders[1]).status,
        "synced",
        "{:?}",
        later.outcomes
    );
}

/// The engine alone against one holder, to see each OAuth error as the user would.
struct Direct {
    engine: Engine,
    holder: HolderRecord,
    config: wallet_core::holders::SmartConfig,
}

async fn direct(w: &Wallet, sb: &Sandbox, i: usize) -> Direct {
    let holder = w
        .holder_records()
        .unwrap()
        .into_iter()
        .find(|h| h.fhir_base == sb.holders[i].fhir_base())
        .unwrap();
    let config = discover(w.http(), &holder.fhir_base).await.unwrap();
    let engine = Engine::new(
        w.http().clone(),
        Arc::new(w.vault().signing_key().unwrap()),
        wallet_core::trace::Trace::new(false),
        Limits::default(),
    );
    Direct {
        engine,
        holder,
        config,
    }
}

impl Direct {
    async fn present(
        &self,
        ticket: &str,
        scope: Option<&str>,
    ) -> Result<wallet_core::engine::Session, ExchangeError> {
        exchange(
            &self.engine,
            &self.holder,
            &self.config,
            ticket,
            None,
            scope.map(str::to_string),
            None,
        )
        .await
    }
}

/// The same ticket with one signature character changed.
fn tampered(ticket: &str) -> String {
    let (head, sig) = ticket.rsplit_once('.').unwrap();
    let flipped = if sig.starts_with('A') { 'B' } else { 'A' };
    format!("{head}.{flipped}{}", &sig[1..])
}

fn oauth(r: Result<wallet_core::engine::Session, ExchangeError>) -> (String, String) {
    match r {
        Err(ExchangeError::OAuth { error, advice, .. }) => (error, advice.unwrap_or_default()),
        other => panic!("expected an OAuth error, got {:?}", other.map(|s| s.holder)),
    }
}

#[tokio::test]
async fn every_error_code_becomes_advice() {
    let sb = sandbox(2, Profile::Dpop).await;
    let dir = tempfile::tempdir().unwrap();
    let w = open(dir.path(), "errors");
    let jkt = w.key_info().unwrap().jkt;
    for h in &sb.holders {
        w.add_holder(&h.fhir_base(), None, None).await.unwrap();
    }
    let d = direct(&w, &sb, 0).await;
    let mint = |f: &dyn Fn(&mut MintRequest)| {
        let mut req = MintRequest::new(TicketType::PatientSelfAccess, Some(jkt.clone()));
        f(&mut req);
        sb.issuer.mint(&req).unwrap()
    };
    let good = mint(&|_| {});
    assert!(d.present(&good, None).await.is_ok());

    let cases: Vec<(&str, String, Option<&str>, &str, &str)> = vec![
        (
            "expired",
            mint(&|r| r.lifetime = Some(-60)),
            None,
            "invalid_grant",
            "expired",
        ),
        (
            "bound elsewhere",
            mint(&|r| r.jkt = Some("A".repeat(43))),
            None,
            "invalid_grant",
            "bound to another key",
        ),
        (
            "other audience",
            mint(&|r| r.aud = Some(vec!["https://elsewhere.example/fhir".into()])),
            None,
            "invalid_grant",
            "not meant for this holder",
        ),
        (
            "tampered",
            tampered(&good),
            None,
            "invalid_grant",
            "damaged or forged",
        ),
        (
            "unknown must_understand",
            mint(&|r| {
                r.extra_claims = Some(
                    json!({"must_understand": ["https://example.org/new-rule"]})
                        .as_object()
                        .unwrap()
                        .clone(),
                )
            }),
            None,
            "invalid_grant",
            "cannot enforce",
        ),
        (
            "unknown constraint",
            mint(&|r| {
                r.extra_access = Some(
                    json!({"https://example.org/geofence": {"radius": 5}})
                        .as_object()
                        .unwrap()
                        .clone(),
                )
            }),
            None,
            "invalid_grant",
            "cannot enforce",
        ),
        (
            "nobody matches",
            mint(&|r| {
                r.patient = Some(
                    json!({"resourceType": "Patient", "name": [{"family": "Nobody", "given": ["Nora"]}], "birthDate": "1950-01-01"}),
                )
            }),
            None,
            "invalid_grant",
            "No matching patient record",
        ),
        (
            "revocation list unreadable",
            mint(&|r| {
                r.extra_claims = Some(
                    json!({"revocation": {"url": format!("{}/status/1", sb.issuer.url()), "index": 10_000_000}})
                        .as_object()
                        .unwrap()
                        .clone(),
                )
            }),
            None,
            "invalid_grant",
            "could not check whether the ticket is revoked",
        ),
        (
            "unreadable identity evidence",
            mint(&|r| {
                r.extra_claims = Some(
                    json!({"subject_identity_evidence": {
                        "source": "https://idp.example",
                        "token_type": "urn:ietf:params:oauth:token-type:id_token",
                        "jwt": "not-a-token"
                    }})
                    .as_object()
                    .unwrap()
                    .clone(),
                )
            }),
            None,
            "invalid_grant",
            "rejected the identity evidence",
        ),
        (
            "scope outside the grant",
            mint(&|r| r.smart_scopes = Some(vec!["patient/Condition.rs".into()])),
            Some("patient/Immunization.rs"),
            "invalid_scope",
            "grants nothing this holder can share",
        ),
    ];
    for (what, ticket, scope, code, advice) in cases {
        let (error, said) = oauth(d.present(&ticket, scope).await);
        assert_eq!(error, code, "{what}");
        assert!(said.contains(advice), "{what}: {said}");
    }

    // Revoked after it was issued.
    let revoked = mint(&|_| {});
    sb.issuer
        .revoke(&permission_ticket::decode(&revoked).unwrap().ticket.jti)
        .unwrap();
    let (error, said) = oauth(d.present(&revoked, None).await);
    assert_eq!(
        (error.as_str(), said.contains("revoked")),
        ("invalid_grant", true),
        "{said}"
    );

    // A ticket from an issuer this holder does not trust.
    let stranger = sandbox::Issuer::start(0).await.unwrap();
    let foreign = stranger
        .mint(&MintRequest::new(
            TicketType::PatientSelfAccess,
            Some(jkt.clone()),
        ))
        .unwrap();
    let (error, said) = oauth(d.present(&foreign, None).await);
    assert_eq!(error, "invalid_grant");
    assert!(
        said.contains("does not accept this kind of ticket from this issuer"),
        "{said}"
    );

    // A type the holder does not take.
    sb.holders[0].accept_types(vec![TicketType::PatientSelfAccess]);
    let delegated = sb
        .issuer
        .mint(&MintRequest::new(
            TicketType::PatientDelegatedAccess,
            Some(jkt.clone()),
        ))
        .unwrap();
    let (error, said) = oauth(d.present(&delegated, None).await);
    assert_eq!(error, "invalid_grant");
    assert!(
        said.contains("does not accept this kind of ticket"),
        "{said}"
    );

    // A client id the holder does not know.
    let mut stranger_client = d.holder.clone();
    stranger_client.client_id = Some("no-such-client".into());
    let r = exchange(
        &d.engine,
        &stranger_client,
        &d.config,
        &good,
        None,
        None,
        None,
    )
    .await;
    let (error, said) = oauth(r);
    assert_eq!(error, "invalid_client");
    assert!(said.contains("register"), "{said}");

    // Errors the wallet's own requests never cause here, from a holder that
    // answers them anyway (a server without token exchange, one that reads
    // the request differently).
    for (code, description, advice) in [
        (
            "unsupported_grant_type",
            "Token exchange not supported for this grant type",
            "does not accept Permission Tickets",
        ),
        (
            "invalid_request",
            "Unsupported subject token type",
            "did not understand the request",
        ),
    ] {
        sb.holders[0].set_faults(sandbox::Faults {
            token_error: code.into(),
            token_error_description: description.into(),
            ..Default::default()
        });
        let (error, said) = oauth(d.present(&good, None).await);
        assert_eq!(error, code);
        assert!(said.contains(advice), "{code}: {said}");
    }
    sb.holders[0].set_faults(sandbox::Faults::default());

    // Two records match at the second holder: without someone to ask, it is reported.
    let d2 = direct(&w, &sb, 1).await;
    assert!(matches!(
        d2.present(&good, None).await,
        Err(ExchangeError::InteractionRequired { .. })
    ));
}

#[tokio::test]
async fn misbehaving_holder_still_syncs_everything() {
    let sb = sandbox(1, Profile::Dpop).await;
    let dir = tempfile::tempdir().unwrap();
    let (w, _) = wallet_with(&sb, dir.path(), "faults", everything()).await;
    sb.holders[0].set_faults(Faults {
        nonce_every_call: true,
        rate_limit_every: 9,
        fail_every: 7,
        drop_every: 11,
        truncate_every: 13,
        expire_tokens_after: 6,
        ..Default::default()
    });
    // One request at a time makes the fault pattern deterministic: no five
    // consecutive requests can all be hit (7, 9, 11, 13 each exceed 4), so five
    // tries always suffice, and nothing may be lost.
    let opts = SyncOptions {
        limits: Limits {
            page_size: 10,
            type_concurrency: 1,
            ..Limits::default()
        },
        ..Default::default()
    };
    let report = sync(&w, opts).await;
    let o = at(&report, &sb.holders[0]);
    assert_eq!(o.status, "synced", "{o:?}");
    assert_eq!(
        o.resources,
        expected(0, "h1-ana") + 1,
        "nothing lost to the faults"
    );
    let statuses: Vec<Option<u16>> = report.trace.iter().map(|e| e.status).collect();
    assert!(
        statuses.contains(&Some(429)) && statuses.contains(&Some(503)),
        "{statuses:?}"
    );
    assert!(
        report.trace.iter().any(|e| e.error.is_some()),
        "a dropped connection was retried"
    );
    assert!(report.trace.iter().any(|e| {
        e.status == Some(401)
            && e.response_headers
                .iter()
                .any(|(_, v)| v.contains("use_dpop_nonce"))
    }));
    // The token stopped working mid-sync and the ticket was presented again.
    let exchanges = report
        .trace
        .iter()
        .filter(|e| e.url.ends_with("/token") && e.status == Some(200))
        .count();
    assert!(exchanges >= 2, "{exchanges} token exchanges");
}

#[tokio::test]
async fn hostile_holders_are_stopped() {
    let sb = sandbox(1, Profile::Dpop).await;
    let dir = tempfile::tempdir().unwrap();
    let (w, _) = wallet_with(&sb, dir.path(), "hostile", everything()).await;
    sb.holders[0].set_faults(Faults {
        endless_next: true,
        ..Default::default()
    });
    let limits = Limits {
        max_pages: 40,
        ..Limits::default()
    };
    let report = sync(
        &w,
        SyncOptions {
            limits: limits.clone(),
            holder: Some(sb.holders[0].fhir_base()),
            ..Default::default()
        },
    )
    .await;
    let o = at(&report, &sb.holders[0]);
    assert_eq!(o.status, "failed");
    assert!(o.message.contains("more than 40 pages"), "{}", o.message);

    // A 1 GB answer: the wallet stops reading at its limit and says why.
    sb.holders[0].set_faults(Faults {
        huge_body_bytes: 1 << 30,
        ..Default::default()
    });
    let report = sync(
        &w,
        SyncOptions {
            holder: Some(sb.holders[0].fhir_base()),
            ..Default::default()
        },
    )
    .await;
    let o = at(&report, &sb.holders[0]);
    assert_eq!(o.status, "failed");
    assert!(o.message.contains("larger than"), "{}", o.message);
    let read: usize = report
        .trace
        .iter()
        .filter(|e| {
            e.error
                .as_deref()
                .is_some_and(|m| m.contains("larger than"))
        })
        .count();
    assert!(read >= 1);
    // The answer was not read to its end: the holder got out little more
    // than the limit (what the connection's buffers take), not 1 GB.
    let sent = sb.holders[0].huge_body_sent();
    let limit = Limits::default().max_page_bytes as u64;
    eprintln!(
        "the 1 GB answer: {} MiB handed to the connection",
        sent >> 20
    );
    assert!(sent >= limit && sent < 4 * limit, "{sent} bytes sent");
}

#[tokio::test]
async fn a_holder_gets_a_budget_and_no_more_than_it_was_asked() {
    let sb = sandbox(1, Profile::Dpop).await;
    let h = &sb.holders[0];
    let dir = tempfile::tempdir().unwrap();
    let (w, _) = wallet_with(&sb, dir.path(), "budget", everything()).await;
    let only_here = |limits: Limits| SyncOptions {
        limits,
        holder: Some(h.fhir_base()),
        ..Default::default()
    };
    let full = sync(&w, only_here(Limits::default())).await;
    let all = at(&full, h).resources;
    assert!(all > 20, "{:?}", at(&full, h));

    // Every record changed at the source, so even a sync that asks only for
    // changes is sent them all. Fewer records allowed than that: stopped, and
    // the reason says how to allow more.
    h.revise(h.resource_count());
    let few = Limits {
        max_holder_records: all / 2,
        ..Limits::default()
    };
    let o = at(&sync(&w, only_here(few)).await, h).clone();
    assert_eq!(o.status, "failed");
    assert!(
        o.message
            .contains(&format!("more than {} records", all / 2))
            && o.message.contains("TW_MAX_HOLDER_RECORDS"),
        "{}",
        o.message
    );

    // Fewer bytes allowed: the same, counted over every answer together.
    let small = Limits {
        max_holder_bytes: 4096,
        ..Limits::default()
    };
    let o = at(&sync(&w, only_here(small)).await, h).clone();
    assert_eq!(o.status, "failed");
    assert!(
        o.message.contains("more than 4096 bytes") && o.message.contains("TW_MAX_HOLDER_MIB"),
        "{}",
        o.message
    );
    // What the last full sync stored is still there.
    let kept: usize = w
        .record_store()
        .unwrap()
        .counts()
        .unwrap()
        .iter()
        .map(|c| c.count)
        .sum();
    assert_eq!(kept, all);

    // A holder that claims it granted more than the ticket asked: only what was asked is fetched.
    let mut narrow = MintRequest::new(TicketType::PatientSelfAccess, None);
    narrow.smart_scopes = Some(vec!["patient/Condition.rs".into()]);
    let dir2 = tempfile::tempdir().unwrap();
    let (w2, _) = wallet_with(&sb, dir2.path(), "narrow", narrow).await;
    h.set_faults(Faults {
        claim_wider_scope: true,
        ..Default::default()
    });
    let report = sync(&w2, SyncOptions::default()).await;
    assert_eq!(at(&report, h).status, "synced", "{:?}", at(&report, h));
    let searched: Vec<&str> = report
        .trace
        .iter()
        .filter(|e| e.method == "GET" && e.url.contains("?patient="))
        .map(|e| e.url.as_str())
        .collect();
    assert!(!searched.is_empty());
    assert!(
        searched.iter().all(|u| u.contains("/Condition?")),
        "{searched:?}"
    );

    // A Bearer token in answer to a DPoP request is not used (a new wallet,
    // so no token from before is reused).
    h.set_faults(Faults {
        bearer_token_type: true,
        ..Default::default()
    });
    let dir3 = tempfile::tempdir().unwrap();
    let (w3, _) = wallet_with(&sb, dir3.path(), "bearer", everything()).await;
    let report = sync(&w3, SyncOptions::default()).await;
    let o = at(&report, h);
    assert_eq!(o.status, "failed");
    assert!(o.message.contains("`Bearer` token"), "{}", o.message);
    assert!(
        !report
            .trace
            .iter()
            .any(|e| e.method == "GET" && e.url.contains("?patient=")),
        "a Bearer token was used"
    );
}

#[tokio::test]
async fn tickets_go_only_where_they_may() {
    let sb = sandbox(3, Profile::Dpop).await;
    let dir = tempfile::tempdir().unwrap();
    let mut req = everything();
    req.aud = Some(vec![sb.holders[0].fhir_base()]);
    let (w, _) = wallet_with(&sb, dir.path(), "aud", req).await;
    let report = sync(&w, SyncOptions::default()).await;
    assert_eq!(at(&report, &sb.holders[0]).status, "synced");
    for h in &sb.holders[1..] {
        let o = at(&report, h);
        assert_eq!(o.status, "skipped", "{o:?}");
        assert!(o.message.contains("not this holder"), "{}", o.message);
    }
    // Nothing was sent to the holders the ticket is not for.
    assert!(
        !report
            .trace
            .iter()
            .any(|e| e.url.starts_with(&sb.holders[1].fhir_base()) && e.url.ends_with("/token"))
    );
    // The holder list says the same before any sync.
    let views = w.holders().await.unwrap();
    assert!(views[0].problems.is_empty(), "{:?}", views[0].problems);
    assert!(
        views[1]
            .problems
            .iter()
            .any(|p| p.contains("not this holder")),
        "{:?}",
        views[1].problems
    );
}

#[tokio::test]
async fn an_expired_ticket_stops_its_holders_with_a_clear_message() {
    let sb = sandbox(1, Profile::Dpop).await;
    let dir = tempfile::tempdir().unwrap();
    let mut req = everything();
    req.lifetime = Some(2);
    let (w, _) = wallet_with(&sb, dir.path(), "expiry", req).await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let report = sync(&w, SyncOptions::default()).await;
    let o = at(&report, &sb.holders[0]);
    assert_eq!(o.status, "skipped");
    assert!(
        o.message.contains("expired") && o.message.contains("get a new one"),
        "{}",
        o.message
    );
}

#[tokio::test]
async fn the_saved_trace_holds_no_secrets() {
    let sb = sandbox(1, Profile::Dpop).await;
    let dir = tempfile::tempdir().unwrap();
    let (w, jti) = wallet_with(&sb, dir.path(), "trace", everything()).await;
    let ticket = w.ticket_text(&jti).unwrap();

    let report = sync(&w, SyncOptions::default()).await;
    assert_eq!(at(&report, &sb.holders[0]).status, "synced");
    // Tester mode shows the secrets (here the cached token), so it is the witness
    // of what must not leak.
    let shown = sync(
        &w,
        SyncOptions {
            tester_mode: true,
            ..Default::default()
        },
    )
    .await;
    let token = shown
        .trace
        .iter()
        .flat_map(|e| e.request_headers.iter())
        .find_map(|(k, v)| {
            (k == "Authorization").then(|| v.trim_start_matches("DPoP ").to_string())
        })
        .unwrap();
    assert!(token.len() > 10 && !token.contains("redacted"));

    let saved = std::fs::read_dir(dir.path())
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).into_iter().flatten())
        .map(|f| f.unwrap().path())
        .find(|p| p.ends_with("last-trace.json"))
        .unwrap();
    let text = std::fs::read_to_string(saved).unwrap();
    let signature = ticket.rsplit('.').next().unwrap();
    assert!(
        !text.contains(signature),
        "the ticket is not in the saved trace"
    );
    assert!(!text.contains(&token), "no access token in the saved trace");
    // Every signed thing the wallet sent (assertions, proofs, the ticket).
    let mut sent: Vec<String> = Vec::new();
    for e in &shown.trace {
        for (k, v) in &e.request_headers {
            if k.eq_ignore_ascii_case("dpop") {
                sent.push(v.clone());
            }
        }
        if let Some(form) = e.request_body.as_ref().and_then(Value::as_object) {
            for field in ["client_assertion", "subject_token"] {
                if let Some(v) = form.get(field).and_then(Value::as_str) {
                    sent.push(v.to_string());
                }
            }
        }
    }
    assert!(sent.len() >= 3, "{sent:?}");
    for jws in &sent {
        let signature = jws.rsplit('.').next().unwrap();
        assert!(!text.contains(signature), "a signed JWT in the saved trace");
    }
    // Who the records are about: the holder's id and record number for the
    // person (which the wallet's own search URLs carry), name, birth date.
    let witness = serde_json::to_string(&shown.trace).unwrap();
    assert!(
        witness.contains("patient=h1-ana"),
        "the searches name the patient"
    );
    for plain in ["h1-ana", "MRN-H1", "SB-1001", "Rivera", "1984-03-12"] {
        let at = text
            .find(plain)
            .map(|i| &text[i.saturating_sub(300)..i + 50]);
        assert_eq!(at, None, "{plain} is in the saved trace");
    }
    assert!(
        text.contains("patient=%5Bredacted%5D"),
        "the parameter's name stays"
    );
    // What is shown instead: decoded proofs and assertions, redacted tokens.
    let entries: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert!(entries.iter().any(|e| {
        e["jwts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["role"] == "client assertion")
    }));
    assert!(text.contains("[redacted]"));
    assert_eq!(w.last_trace().unwrap().len(), entries.len());
}

#[tokio::test]
async fn a_syncs_trace_reads_as_each_holders_steps_and_opens_as_har() {
    use wallet_core::trace::Step;
    let sb = sandbox(2, Profile::Dpop).await;
    let dir = tempfile::tempdir().unwrap();
    let (w, _) = wallet_with(&sb, dir.path(), "har", everything()).await;
    let report = sync(&w, SyncOptions::default()).await;
    let trace = w.last_trace().unwrap();
    assert_eq!(trace.len(), report.trace.len());
    for h in &sb.holders {
        // Entries are kept as answers come; pages are fetched side by side, so
        // a lane reads in the order requests left.
        let mut lane: Vec<_> = trace.iter().filter(|e| e.holder == h.fhir_base()).collect();
        lane.sort_by_key(|e| e.started_ms);
        let steps: Vec<Step> = lane.iter().map(|e| e.step).collect();
        // Discovery, the exchange (twice: the first answer asks for a DPoP
        // nonce), then the pages; the second holder asks the patient to
        // confirm who they are, which this sync does not do.
        assert_eq!(
            steps[..3],
            [Step::Discovery, Step::Exchange, Step::Exchange],
            "{steps:?}"
        );
        assert_eq!(lane[1].status, Some(400));
        assert!(
            lane[1]
                .response_headers
                .iter()
                .any(|(k, _)| k == "dpop-nonce")
        );
        if at(&report, h).status == "synced" {
            assert!(steps[3..].iter().all(|s| *s == Step::Fhir), "{steps:?}");
            let bundles = lane[3..]
                .iter()
                .filter(|e| e.response.as_ref().unwrap()["resourceType"] == "Bundle")
                .count();
            assert_eq!(bundles, at(&report, h).pages, "a search page each");
        } else {
            assert_eq!(steps.len(), 3);
            assert_eq!(
                lane[2].response.as_ref().unwrap()["error"],
                "interaction_required"
            );
        }
        // The discovery document is public, and shown whole.
        assert!(lane[0].response.as_ref().unwrap()["token_endpoint"].is_string());
        assert!(lane[0].started_ms > 0);
        assert!(lane.iter().all(|e| e.redacted));
    }

    let text = serde_json::to_string(&wallet_core::trace::har::document(&trace)).unwrap();
    let har::Spec::V1_2(log) = har::from_str(&text).unwrap().log else {
        panic!("not HAR 1.2")
    };
    assert_eq!(log.entries.len(), trace.len());
    assert_eq!(
        log.pages.as_ref().map(Vec::len),
        Some(2),
        "a page per holder"
    );
    let exchange = log
        .entries
        .iter()
        .find(|e| e.request.url.ends_with("/token") && e.response.status == 200)
        .unwrap();
    let params = exchange
        .request
        .post_data
        .as_ref()
        .unwrap()
        .params
        .as_ref()
        .unwrap();
    let grant = params.iter().find(|p| p.name == "grant_type").unwrap();
    assert_eq!(
        grant.value.as_deref(),
        Some("urn:ietf:params:oauth:grant-type:token-exchange")
    );
    let ticket = params.iter().find(|p| p.name == "subject_token").unwrap();
    assert_eq!(ticket.value.as_deref(), Some("[redacted]"));
}

/// Signs in at the sandbox issuer's page and allows.
struct Allow;

impl Interactor for Allow {
    fn redirect_uri(&self) -> String {
        "http://127.0.0.1:9/callback".into()
    }
    fn authorize(&self, url: String) -> BoxFuture<'_, Result<String, String>> {
        Box::pin(async move { Ok(fill_in(&url, "decision", "allow").await?.1) })
    }
}

#[tokio::test]
async fn onboarding_from_an_issuer_brings_tickets_and_holders() {
    let sb = sandbox(3, Profile::Dpop).await;
    let dir = tempfile::tempdir().unwrap();
    let w = open(dir.path(), "onboard");
    let report = w.onboard(&sb.issuer.url(), &Allow).await.unwrap();
    assert_eq!(report.tickets.len(), 1);
    let ticket = &report.tickets[0].ticket;
    assert!(ticket.usable, "{:?}", ticket.checks);
    assert!(
        ticket.binding.method == "jkt" && ticket.binding.matches_wallet,
        "bound to this wallet's key: {:?}",
        ticket.binding
    );
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let names: Vec<_> = report
        .holders
        .iter()
        .filter_map(|h| h.name.clone())
        .collect();
    assert_eq!(
        names,
        [
            "Springfield General Hospital",
            "Lakeside Family Clinic",
            "Riverside Labs"
        ]
    );
    assert!(
        report.holders.iter().all(|h| h.client_id.is_some()),
        "registered at each"
    );

    let synced = sync(&w, SyncOptions::default()).await;
    assert_eq!(
        at(&synced, &sb.holders[0]).status,
        "synced",
        "{:?}",
        synced.outcomes
    );
}

#[tokio::test]
async fn a_holder_that_is_not_there_fails_alone() {
    let sb = sandbox(1, Profile::Dpop).await;
    let dir = tempfile::tempdir().unwrap();
    let (w, _) = wallet_with(&sb, dir.path(), "gone", everything()).await;
    // A holder added while it was up, then gone: its port now refuses connections.
    let gone = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = gone.local_addr().unwrap().port();
    drop(gone);
    let mut record = HolderRecord::new(format!("http://127.0.0.1:{port}/fhir"));
    record.client_id = Some("c".into());
    w.save_holder(record).unwrap();
    let report = sync(&w, SyncOptions::default()).await;
    assert_eq!(at(&report, &sb.holders[0]).status, "synced");
    let o = report
        .outcomes
        .iter()
        .find(|o| o.fhir_base.contains(&port.to_string()))
        .unwrap();
    assert_eq!(o.status, "failed");
    assert!(o.message.contains("SMART configuration"), "{}", o.message);
}

/// Proposal 003 hints are advice from one issuer: they cannot send another
/// issuer's tickets anywhere, rename a holder the person added, or widen what a
/// holder is shown through `ticket_indices` that name no ticket.
#[tokio::test]
async fn a_hostile_issuers_hints_steer_no_other_issuers_tickets() {
    let honest = sandbox(1, Profile::Dpop).await;
    let hostile = sandbox(2, Profile::Dpop).await;
    let dir = tempfile::tempdir().unwrap();
    let w = open(dir.path(), "hostile-hints");
    // The honest issuer's ticket for its trust framework, and its holder added by hand.
    let mut req = everything();
    req.jkt = Some(w.key_info().unwrap().jkt);
    req.aud = Some(vec![sandbox::NETWORK.into()]);
    req.extra_claims = Some(
        json!({ "aud_type": "trust_framework" })
            .as_object()
            .unwrap()
            .clone(),
    );
    let honest_jti = w
        .import(&honest.issuer.mint(&req).unwrap(), "test")
        .await
        .unwrap()
        .ticket
        .jti;
    let mine = honest.holders[0].fhir_base();
    w.add_holder(&mine, None, Some("My clinic".into()))
        .await
        .unwrap();

    // The hostile issuer names its own holder with the honest one's identity,
    // renames the person's holder, and points a hint at a ticket it never gave.
    let lure = hostile.holders[0].fhir_base();
    let stray = hostile.holders[1].fhir_base();
    hostile.issuer.set_endpoint_hints(vec![
        json!({ "fhir_base_url": lure, "organization": { "resourceType": "Organization",
                "name": "Springfield General Hospital",
                "identifier": [{ "system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893" }] } }),
        json!({ "fhir_base_url": mine, "organization": { "resourceType": "Organization", "name": "Evil Clinic" },
                "ticket_indices": [0] }),
        json!({ "fhir_base_url": stray, "ticket_indices": [7] }),
    ]);
    let report = w.onboard(&hostile.issuer.url(), &Allow).await.unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains(&stray) && p.contains("ticket_indices")),
        "a hint naming no ticket is refused: {:?}",
        report.problems
    );
    let holders = w.holder_records().unwrap();
    assert!(
        !holders.iter().any(|h| h.fhir_base == stray),
        "the refused hint added nothing"
    );
    let kept = holders.iter().find(|h| h.fhir_base == mine).unwrap();
    assert_eq!(kept.name.as_deref(), Some("My clinic"), "not renamed");

    let synced = sync(&w, SyncOptions::default()).await;
    let outcome = |base: &str, jti: &str| {
        synced
            .outcomes
            .iter()
            .find(|o| o.fhir_base == base && o.ticket_jti.as_deref() == Some(jti))
            .unwrap_or_else(|| panic!("no outcome at {base}: {:?}", synced.outcomes))
            .clone()
    };
    // Still presented where the person wanted it, despite the other issuer's hint.
    let at_mine = outcome(&mine, &honest_jti);
    assert_eq!(at_mine.status, "synced", "{at_mine:?}");
    // Never presented to the holder the other issuer named.
    let at_lure = outcome(&lure, &honest_jti);
    assert_eq!(at_lure.status, "skipped", "{at_lure:?}");
    assert!(
        at_lure.message.contains("neither added by you"),
        "{}",
        at_lure.message
    );
    let leaked: Vec<_> = synced
        .trace
        .iter()
        .filter(|e| e.url.starts_with(&hostile.origin))
        .filter(|e| serde_json::to_string(e).unwrap().contains(&honest_jti))
        .collect();
    assert!(leaked.is_empty(), "the ticket went to the lure: {leaked:?}");
}

/// Cancelling keeps what finished, stops the rest at once, and leaves a run
/// that resumes with only the holders that had not finished.
#[tokio::test]
async fn a_cancelled_sync_keeps_what_finished_and_resumes_the_rest() {
    let sb = sandbox(3, Profile::Dpop).await;
    let dir = tempfile::tempdir().unwrap();
    let (w, _) = wallet_with(&sb, dir.path(), "cancel", everything()).await;
    sb.holders[2].set_faults(Faults {
        latency_ms: 30_000,
        ..Default::default()
    });
    let (stop, cancel) = tokio::sync::watch::channel(false);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<wallet_core::SyncEvent>();
    let first = sb.holders[0].fhir_base();
    let watcher = tokio::spawn(async move {
        while let Some(e) = rx.recv().await {
            if e.holder == first && e.stage == "done" {
                let _ = stop.send(true);
            }
        }
    });
    let started = std::time::Instant::now();
    let opts = SyncOptions {
        cancel: Some(cancel),
        ..Default::default()
    };
    let report = w.sync(opts, Some(tx)).await.unwrap();
    watcher.await.unwrap();
    assert!(report.cancelled);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "the slow holder was not waited for"
    );
    assert_eq!(at(&report, &sb.holders[0]).status, "synced");
    assert!(
        !report
            .outcomes
            .iter()
            .any(|o| o.fhir_base == sb.holders[2].fhir_base()),
        "{:?}",
        report.outcomes
    );
    let stored = |w: &Wallet, base: &str| {
        w.record_store()
            .unwrap()
            .counts()
            .unwrap()
            .iter()
            .filter(|c| c.holder == base)
            .map(|c| c.count)
            .sum::<usize>()
    };
    let kept = stored(&w, &sb.holders[0].fhir_base());
    assert!(kept > 0, "the finished holder's records are kept");
    assert!(
        w.record_store()
            .unwrap()
            .interrupted_run()
            .unwrap()
            .is_some()
    );

    sb.holders[2].set_faults(Faults::default());
    let resumed = sync(
        &w,
        SyncOptions {
            resume: true,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(at(&resumed, &sb.holders[2]).status, "synced");
    assert!(
        !resumed
            .outcomes
            .iter()
            .any(|o| o.fhir_base == sb.holders[0].fhir_base()),
        "the finished holder is not fetched again: {:?}",
        resumed.outcomes
    );
    assert!(stored(&w, &sb.holders[2].fhir_base()) > 0);
    assert!(
        w.record_store()
            .unwrap()
            .interrupted_run()
            .unwrap()
            .is_none()
    );
    // How each holder went is kept for the holder list.
    let last = w.record_store().unwrap().last_outcomes().unwrap();
    assert!(
        last.iter()
            .any(|o| o.holder == sb.holders[0].fhir_base() && o.status == "synced")
    );
}

/// A token endpoint that redirects (307 keeps the method and the body) would
/// have the ticket, the client assertion and the DPoP proof re-sent wherever
/// it points; the wallet does not follow, and says why.
#[tokio::test]
async fn a_redirect_from_the_token_endpoint_is_not_followed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sb = sandbox(1, Profile::Dpop).await;
    let dir = tempfile::tempdir().unwrap();
    let (w, _) = wallet_with(&sb, dir.path(), "redirect", everything()).await;
    let ticket = w.ticket_text(&w.list().unwrap()[0].jti).unwrap();

    // Where the redirect points: counts every connection it gets.
    let thief = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let thief_url = format!("http://{}/token", thief.local_addr().unwrap());
    let stolen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = stolen.clone();
    tokio::spawn(async move {
        while let Ok((_s, _)) = thief.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    // The holder's token endpoint: answers every request with a 307 to the thief.
    let redirector = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let token_url = format!("http://{}/token", redirector.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = redirector.accept().await {
            let mut buf = vec![0u8; 65536];
            let _ = s.read(&mut buf).await;
            let reply = format!(
                "HTTP/1.1 307 Temporary Redirect\r\nlocation: {thief_url}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            let _ = s.write_all(reply.as_bytes()).await;
        }
    });

    let mut d = direct(&w, &sb, 0).await;
    d.config.token_endpoint = token_url;
    let err = match d.present(&ticket, None).await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a redirect was taken for a token"),
    };
    assert!(err.contains("307") && err.contains("not followed"), "{err}");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(stolen.load(std::sync::atomic::Ordering::SeqCst), 0);
}

/// A holder's SMART configuration is a public document: a redirect to it is
/// followed (as when the holder was added), and the trace shows the read.
#[tokio::test]
async fn a_discovery_document_behind_a_redirect_is_read_and_traced() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sb = sandbox(1, Profile::Dpop).await;
    let real = format!(
        "{}/.well-known/smart-configuration",
        sb.holders[0].fhir_base()
    );
    let moved = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/fhir", moved.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = moved.accept().await {
            let mut buf = vec![0u8; 65536];
            let _ = s.read(&mut buf).await;
            let reply = format!(
                "HTTP/1.1 302 Found\r\nlocation: {real}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            let _ = s.write_all(reply.as_bytes()).await;
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let w = open(dir.path(), "discovery-redirect");
    let trace = wallet_core::trace::Trace::new(false);
    let engine = Engine::new(
        w.http().clone(),
        Arc::new(w.vault().signing_key().unwrap()),
        trace.clone(),
        Limits::default(),
    );
    let config = engine.discover(&base).await.unwrap();
    assert!(config.token_endpoint.ends_with("/holders/h1/token"));
    let entries = trace.entries();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].step, wallet_core::trace::Step::Discovery);
    assert_eq!(entries[0].status, Some(200));
}

/// A ticket kept while its issuer could not be reached is presented nowhere
/// until a sync has checked its signature; once the issuer answers, it is.
#[tokio::test]
async fn a_ticket_kept_unverified_is_checked_before_it_is_presented() {
    let seed = b"kept while the issuer was away".to_vec();
    let config = |port| SandboxConfig {
        holders: 1,
        port,
        issuer_seed: Some(seed.clone()),
        ..Default::default()
    };
    let sb = Sandbox::start(config(0)).await.unwrap();
    let port: u16 = sb.origin.rsplit(':').next().unwrap().parse().unwrap();
    let base = sb.holders[0].fhir_base();
    let dir = tempfile::tempdir().unwrap();
    let w = open(dir.path(), "reverify");
    let mut req = everything();
    req.jkt = Some(w.key_info().unwrap().jkt);
    let ticket = sb.issuer.mint(&req).unwrap();
    drop(sb);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;

    // The issuer is away: kept, not yet verified, and presented nowhere.
    let imported = w.import(&ticket, "test").await.unwrap();
    let jti = imported.ticket.jti;
    assert!(imported.notice.is_some());
    assert!(!w.list().unwrap()[0].verified);
    let mut away = HolderRecord::new(base.clone());
    away.client_id = Some("c".into());
    w.save_holder(away).unwrap();
    let report = sync(&w, SyncOptions::default()).await;
    let o = report
        .outcomes
        .iter()
        .find(|o| o.ticket_jti.as_deref() == Some(jti.as_str()))
        .unwrap();
    assert_eq!(o.status, "skipped", "{o:?}");
    assert!(o.message.contains("not yet verified"), "{}", o.message);
    assert!(
        !report.trace.iter().any(|e| e.url.contains("/token")),
        "nothing was presented"
    );

    // Back, with the same key: checked, noted, and presented.
    let sb = Sandbox::start(config(port)).await.unwrap();
    w.remove_holder(&base).unwrap();
    w.add_holder(&base, None, None).await.unwrap();
    let report = sync(&w, SyncOptions::default()).await;
    assert_eq!(
        at(&report, &sb.holders[0]).status,
        "synced",
        "{:?}",
        report.outcomes
    );
    assert!(w.list().unwrap()[0].verified);
}

/// Every record stored from `holder`, as JSON, sorted.
fn stored(w: &Wallet, holder: &sandbox::Holder) -> Vec<String> {
    let store = w.record_store().unwrap();
    let base = holder.fhir_base();
    let mut all: Vec<String> = wallet_core::sync::DEFAULT_TYPES
        .iter()
        .chain(&["Patient"])
        .flat_map(|t| store.records(&base, t).unwrap())
        .collect();
    all.sort();
    all
}

/// Every record `holder` gives the wallet's ticket now, fetched whole (a dry run), sorted.
async fn holder_now(w: &Wallet, holder: &sandbox::Holder) -> Vec<String> {
    let dry = sync(
        w,
        SyncOptions {
            dry_run: true,
            holder: Some(holder.fhir_base()),
            ..Default::default()
        },
    )
    .await;
    assert!(
        !dry.trace.iter().any(|e| e.url.contains("_lastUpdated")),
        "a dry run fetches everything"
    );
    let mut all: Vec<String> = dry
        .records
        .iter()
        .map(|r| r.resource.json.get().to_string())
        .collect();
    all.sort();
    all
}

/// How many requests of the sync's trace have `part` in their URL.
fn requests_with(report: &SyncReport, part: &str) -> usize {
    report.trace.iter().filter(|e| e.url.contains(part)).count()
}

/// Requests of a sync that asked for changes only.
fn change_searches(report: &SyncReport) -> usize {
    requests_with(report, "_lastUpdated=ge")
}

#[tokio::test]
async fn a_resync_asks_only_for_what_changed_and_misses_nothing() {
    let sb = sandbox(1, Profile::Dpop).await;
    let h = &sb.holders[0];
    let dir = tempfile::tempdir().unwrap();
    let (w, _) = wallet_with(&sb, dir.path(), "since", everything()).await;
    let first = sync(&w, SyncOptions::default()).await;
    assert_eq!(
        change_searches(&first),
        0,
        "a first sync fetches everything"
    );
    let all = at(&first, h).resources;

    // Revised records: only they come, and the store ends as a whole fetch would.
    h.revise(20);
    let again = sync(&w, SyncOptions::default()).await;
    let o = at(&again, h);
    assert_eq!(o.status, "synced", "{o:?}");
    assert!(change_searches(&again) > 0, "asked only for changes");
    // The trace shows each count's total: what the decision rested on.
    for e in again
        .trace
        .iter()
        .filter(|e| e.url.contains("_summary=count"))
    {
        let shown = e.response.as_ref().expect("a count answer is summarised");
        assert!(shown["total"].is_u64(), "{shown}");
    }
    assert_eq!(o.resources, all, "the row counts what the holder has");
    assert!(o.written > 0, "{o:?}");
    assert_eq!(
        o.fetched,
        o.written + 1,
        "only the changed records and the Patient came: {o:?}"
    );
    assert!(
        o.message.contains(&format!(
            "({} sent: the holder was asked only for what changed)",
            o.fetched
        )),
        "{}",
        o.message
    );
    assert_eq!(stored(&w, h), holder_now(&w, h).await);

    // Records deleted at the source: the counts disagree, the type is fetched whole.
    h.forget_last(7);
    let after = holder_now(&w, h).await;
    let gone = sync(&w, SyncOptions::default()).await;
    let o = at(&gone, h);
    assert_eq!(o.status, "synced", "{o:?}");
    assert_eq!(o.removed, all - after.len(), "{o:?}");
    assert!(o.removed > 0, "some deleted records were the ticket's");
    assert_eq!(stored(&w, h), after);

    // A holder that ignores the search for changes sends everything: still right.
    h.set_faults(sandbox::Faults {
        ignore_change_searches: true,
        ..Default::default()
    });
    h.revise(5);
    let ignored = sync(&w, SyncOptions::default()).await;
    assert_eq!(at(&ignored, h).status, "synced");
    assert_eq!(stored(&w, h), holder_now(&w, h).await);
    assert_eq!(
        w.record_store().unwrap().check().unwrap(),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn a_holder_that_cannot_count_is_asked_for_changes_once_then_fetched_whole() {
    let sb = sandbox(1, Profile::Dpop).await;
    let h = &sb.holders[0];
    h.set_faults(sandbox::Faults {
        omit_total: true,
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let (w, _) = wallet_with(&sb, dir.path(), "uncounted", everything()).await;
    let first = sync(&w, SyncOptions::default()).await;
    assert_eq!(at(&first, h).status, "synced");

    // Asked for changes, the holder's count has no total: it cannot say
    // whether anything was deleted, so the types are fetched whole, and the
    // trace shows the count answer without a total.
    h.forget_last(3);
    h.revise(5);
    let second = sync(&w, SyncOptions::default()).await;
    let o = at(&second, h);
    assert_eq!(o.status, "synced", "{o:?}");
    assert!(
        requests_with(&second, "_summary=count") > 0,
        "the holder was asked to count"
    );
    let counts: Vec<_> = second
        .trace
        .iter()
        .filter(|e| e.url.contains("_summary=count") && e.status == Some(200))
        .collect();
    assert!(!counts.is_empty());
    for e in &counts {
        let shown = e.response.as_ref().expect("a count answer is summarised");
        assert_eq!(shown["resourceType"], "Bundle", "{shown}");
        assert!(shown["total"].is_null(), "{shown}");
    }
    assert_eq!(
        stored(&w, h),
        holder_now(&w, h).await,
        "deletions not missed"
    );

    // The next sync remembers: no search for changes and no count, only whole fetches.
    h.revise(5);
    let third = sync(&w, SyncOptions::default()).await;
    assert_eq!(at(&third, h).status, "synced");
    assert_eq!(
        requests_with(&third, "_summary=count"),
        0,
        "not asked to count again"
    );
    assert_eq!(change_searches(&third), 0, "not asked for changes again");
    assert_eq!(stored(&w, h), holder_now(&w, h).await);

    // Counting again (a server upgraded): a count with a total clears the
    // memory once a week has passed; until then, whole fetches stay right.
    h.set_faults(sandbox::Faults::default());
    let fourth = sync(&w, SyncOptions::default()).await;
    assert_eq!(
        change_searches(&fourth),
        0,
        "within the week, still fetched whole"
    );
    assert_eq!(stored(&w, h), holder_now(&w, h).await);
}

#[tokio::test]
async fn a_resync_writes_only_the_records_that_changed_at_the_holder() {
    let sb = sandbox(1, Profile::Dpop).await;
    let dir = tempfile::tempdir().unwrap();
    let (w, _) = wallet_with(&sb, dir.path(), "changes", everything()).await;
    let first = sync(&w, SyncOptions::default()).await;
    let o = at(&first, &sb.holders[0]);
    assert_eq!(o.status, "synced", "{o:?}");
    assert_eq!(o.written, o.resources, "a first sync writes everything");

    // Twenty records get a new version at the source: those the ticket
    // reaches are written, and the store holds their new versions.
    sb.holders[0].revise(20);
    let again = sync(&w, SyncOptions::default()).await;
    let o = at(&again, &sb.holders[0]);
    assert_eq!(o.status, "synced", "{o:?}");
    let store = w.record_store().unwrap();
    let base = sb.holders[0].fhir_base();
    let new_versions: usize = wallet_core::sync::DEFAULT_TYPES
        .iter()
        .map(|t| {
            store
                .records(&base, t)
                .unwrap()
                .iter()
                .filter(|j| j.contains(r#""versionId":"2""#))
                .count()
        })
        .sum();
    assert!(new_versions > 0, "some revised records are the ticket's");
    assert_eq!(o.written, new_versions, "{o:?}");
    assert!(
        o.message
            .ends_with(&format!("; {new_versions} new or changed")),
        "{}",
        o.message
    );
    assert_eq!(store.check().unwrap(), Vec::<String>::new());
    drop(store);

    // Nothing changed since: nothing written, and the holder's row says so.
    let third = sync(&w, SyncOptions::default()).await;
    let o = at(&third, &sb.holders[0]);
    assert_eq!(o.written, 0);
    assert!(
        o.message.ends_with("nothing new since the last sync"),
        "{}",
        o.message
    );
}
