//! The one interactive step (Proposal 001): the patient confirms their record
//! at the holder's authorize page, and the holder redirects back with a code.
//! On desktop the page opens in the system browser and the redirect comes to
//! a one-shot loopback listener (RFC 8252); a mobile shell supplies a deep link.

use std::future::Future;
use std::pin::Pin;

use sha2::Digest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub trait Interactor: Send + Sync {
    /// Where the holder should send the browser back to.
    fn redirect_uri(&self) -> String;
    /// Shows `authorize_url` to the person; resolves to the URL the holder redirected to.
    fn authorize(&self, authorize_url: String) -> BoxFuture<'_, Result<String, String>>;
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let challenge = permission_ticket::base64url::encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// What the authorization-code leg brings back, ready for the token request.
pub struct CodeGrant {
    pub code: String,
    pub verifier: String,
    pub redirect_uri: String,
}

pub enum CodeError {
    /// The page could not be shown, or the redirect is unusable.
    Transport(String),
    /// The server redirected back with an OAuth `error`.
    Denied { error: String, description: String },
}

/// Sends the person to `authorize_endpoint` (PKCE S256, a fresh `state`, plus
/// `extra` parameters) and reads the code from the redirect, refusing one
/// whose `state` is not ours. Used for a holder's confirmation and an
/// issuer's launch alike.
pub async fn authorization_code(
    interactor: &dyn Interactor,
    authorize_endpoint: &str,
    client_id: &str,
    scope: &str,
    extra: &[(&str, &str)],
) -> Result<CodeGrant, CodeError> {
    let (verifier, challenge) = pkce();
    let state = uuid::Uuid::new_v4().simple().to_string();
    let redirect_uri = interactor.redirect_uri();
    let mut url =
        url::Url::parse(authorize_endpoint).map_err(|e| CodeError::Transport(e.to_string()))?;
    crate::http::check_url(&url).map_err(CodeError::Transport)?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("scope", scope)
            .append_pair("state", &state)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        for (k, v) in extra {
            q.append_pair(k, v);
        }
    }
    let callback = interactor
        .authorize(url.to_string())
        .await
        .map_err(CodeError::Transport)?;
    let callback = url::Url::parse(&callback)
        .map_err(|e| CodeError::Transport(format!("bad redirect: {e}")))?;
    let param = |k: &str| {
        callback
            .query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
    };
    if param("state").as_deref() != Some(state.as_str()) {
        return Err(CodeError::Transport(
            "the redirect's state does not match: ignored".into(),
        ));
    }
    if let Some(error) = param("error") {
        return Err(CodeError::Denied {
            error,
            description: param("error_description").unwrap_or_default(),
        });
    }
    let code =
        param("code").ok_or_else(|| CodeError::Transport("the redirect carries no code".into()))?;
    Ok(CodeGrant {
        code,
        verifier,
        redirect_uri,
    })
}

/// Opens the system browser and waits for the redirect on 127.0.0.1.
pub struct LoopbackInteractor {
    listener: tokio::sync::Mutex<TcpListener>,
    port: u16,
    /// How long the person has to finish at the holder.
    pub timeout: std::time::Duration,
}

impl LoopbackInteractor {
    pub async fn bind() -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        Ok(Self {
            listener: tokio::sync::Mutex::new(listener),
            port,
            timeout: std::time::Duration::from_secs(300),
        })
    }
}

impl Interactor for LoopbackInteractor {
    fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}/callback", self.port)
    }

    fn authorize(&self, authorize_url: String) -> BoxFuture<'_, Result<String, String>> {
        Box::pin(async move {
            open_browser(&authorize_url)?;
            let wait = async {
                let listener = self.listener.lock().await;
                loop {
                    let (mut stream, _) = listener.accept().await.map_err(|e| e.to_string())?;
                    let mut buf = vec![0u8; 8192];
                    let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
                    let request = String::from_utf8_lossy(&buf[..n]);
                    let target = request
                        .lines()
                        .next()
                        .and_then(|l| l.split(' ').nth(1))
                        .unwrap_or("/");
                    if !target.starts_with("/callback") {
                        let _ = stream
                            .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                            .await;
                        continue;
                    }
                    let page = "<!doctype html><title>Ticket Wallet</title><p>Done. You can close this window and return to Ticket Wallet.</p>";
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                        page.len()
                    );
                    let _ = stream.write_all(reply.as_bytes()).await;
                    return Ok(format!("http://127.0.0.1:{}{target}", self.port));
                }
            };
            tokio::time::timeout(self.timeout, wait)
                .await
                .map_err(|_| {
                    "the confirmation at the holder was not finished in time".to_string()
                })?
        })
    }
}

fn open_browser(url: &str) -> Result<(), String> {
    #[cfg(target_os = "macos")]
    let mut cmd = std::process::Command::new("open");
    #[cfg(target_os = "windows")]
    let mut cmd = {
        let mut c = std::process::Command::new("cmd");
        c.args(["/C", "start", ""]);
        c
    };
    #[cfg(not(any(target_os = "macos", target_os = "windows")))]
    let mut cmd = std::process::Command::new("xdg-open");
    cmd.arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(|_| ())
        .map_err(|e| format!("could not open a browser ({e}); open this address yourself: {url}"))
}
