//! Revoking a refresh token at Google (`[google] revoke_url`): `mailroom auth revoke`, and an
//! enrollment that will not store the token it was given.

use axum::http::StatusCode;
use secrecy::{ExposeSecret, SecretString};

use super::Enroller;
use crate::credentials::CredentialError;
use crate::google_http::error_chain;

/// What Google said to a revocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// The token is revoked now.
    Revoked,
    /// Google did not know the token any more (`invalid_token`): it was already revoked or
    /// expired.
    AlreadyInvalid,
}

/// Asks Google (`revoke_url`) to revoke `token`.
///
/// # Errors
/// [`CredentialError::Unavailable`] when the endpoint cannot be reached or fails (5xx, 429),
/// and [`CredentialError::BadKey`] for another refusal.
pub async fn revoke_token(
    http: &reqwest::Client,
    revoke_url: &str,
    token: &SecretString,
) -> Result<Revoked, CredentialError> {
    let response = http
        .post(revoke_url)
        .form(&[("token", token.expose_secret())])
        .send()
        .await
        .map_err(|e| CredentialError::Unavailable(error_chain(&e)))?;
    let status = response.status();
    if status.is_success() {
        return Ok(Revoked::Revoked);
    }
    // Google's refusal names its reason in `error`; any other body says nothing more than
    // the status.
    let error = response
        .json::<serde_json::Value>()
        .await
        .ok()
        .and_then(|body| body.get("error")?.as_str().map(str::to_owned));
    if status.is_client_error()
        && matches!(error.as_deref(), Some("invalid_token" | "invalid_grant"))
    {
        return Ok(Revoked::AlreadyInvalid);
    }
    let message = match error {
        Some(error) => format!("HTTP {status}: {error}"),
        None => format!("HTTP {status}"),
    };
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        Err(CredentialError::Unavailable(message))
    } else {
        Err(CredentialError::BadKey(message))
    }
}

impl Enroller {
    /// Gives back a token that will not be stored, so it does not linger; failures are only
    /// logged.
    pub(super) async fn revoke_quietly(&self, token: &SecretString) {
        if let Err(e) = revoke_token(&self.inner.http, &self.inner.revoke_url, token).await {
            tracing::warn!(error = %e, "could not revoke an unused refresh token");
        }
    }
}
