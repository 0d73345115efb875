//! The JWT bearer grant (RFC 7523) a service account makes for each sender: an assertion
//! signed with the account's key, asking for `gmail.send` as `sub = sender`, exchanged at the
//! key file's `token_uri`; and what the answer means (a token with its lifetime, clamped to
//! [`MAX_TOKEN_LIFETIME`], or a classified [`CredentialError`]).

use std::time::Duration;

use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

use super::{AccessToken, CredentialError};
use crate::google_http::error_chain;

/// Longest lifetime believed of an access token, whatever `expires_in` says (Google's are
/// an hour).
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Who asks, where, and with which key.
pub(crate) struct JwtGrant<'a> {
    /// The service account's address (`iss`).
    pub issuer: &'a str,
    /// The token endpoint (`aud`, and where the assertion goes).
    pub token_uri: &'a str,
    /// The key's id (`kid`), when the key file names it.
    pub key_id: Option<&'a str>,
    /// The account's private key.
    pub signer: &'a EncodingKey,
    /// The scopes asked for, space-separated (`gmail.send`, and `gmail.metadata` with
    /// `gmail.check_before_resend`).
    pub scope: &'a str,
}

/// The claims of the JWT assertion.
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

/// The token endpoint's answer, success or OAuth error.
#[derive(Deserialize)]
struct Answer {
    access_token: Option<String>,
    expires_in: Option<serde_json::Value>,
    error: Option<String>,
    error_description: Option<String>,
}

impl JwtGrant<'_> {
    /// The signed assertion asking for a token with the grant's scopes as `sender`.
    fn assertion(&self, sender: &str) -> Result<String, CredentialError> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            iss: self.issuer,
            sub: sender,
            scope: self.scope,
            aud: self.token_uri,
            iat: now,
            exp: now + 3600,
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = self.key_id.map(str::to_owned);
        jsonwebtoken::encode(&header, &claims, self.signer)
            .map_err(|e| CredentialError::BadKey(format!("cannot sign the assertion: {e}")))
    }

    /// Exchanges an assertion for `sender` for an access token and its lifetime.
    pub(crate) async fn exchange(
        &self,
        http: &reqwest::Client,
        sender: &str,
    ) -> Result<(AccessToken, Duration), CredentialError> {
        let assertion = self.assertion(sender)?;
        let response = http
            .post(self.token_uri)
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ])
            .send()
            .await
            .map_err(|e| CredentialError::Unavailable(error_chain(&e)))?;
        let status = response.status().as_u16();
        let answer: Option<Answer> = response.json().await.ok();
        let Some(answer) = answer else {
            return Err(CredentialError::Unavailable(format!(
                "HTTP {status}: the token endpoint's answer is not OAuth JSON"
            )));
        };
        if let Some(code) = answer.error.as_deref() {
            let text = answer.error_description.as_deref().unwrap_or(code);
            return Err(classify_mint_error(status, code, text));
        }
        let token = answer
            .access_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                CredentialError::Unavailable(format!(
                    "HTTP {status}: no access token in the answer"
                ))
            })?;
        let lifetime = lifetime(answer.expires_in.as_ref());
        let expires_at = chrono::Duration::from_std(lifetime)
            .ok()
            .and_then(|d| Utc::now().checked_add_signed(d));
        Ok((AccessToken::new(token, expires_at), lifetime))
    }
}

/// An `expires_in` as a lifetime, clamped to [`MAX_TOKEN_LIFETIME`]: a number or a string of
/// seconds, an hour when absent or unreadable.
fn lifetime(expires_in: Option<&serde_json::Value>) -> Duration {
    let seconds = expires_in.and_then(|v| {
        v.as_u64()
            .or_else(|| {
                v.as_f64()
                    .filter(|f| *f >= 0.0)
                    .map(|f| f.min(u64::MAX as f64) as u64)
            })
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
    });
    seconds.map_or(Duration::from_secs(3600), |s| {
        Duration::from_secs(s).min(MAX_TOKEN_LIFETIME)
    })
}

/// What a refused assertion (an OAuth error `code` with its `text`, at HTTP `status`) means
/// for the sender.
fn classify_mint_error(status: u16, code: &str, text: &str) -> CredentialError {
    let text = text.to_owned();
    match code {
        "invalid_grant" if text.to_ascii_lowercase().contains("signature") => {
            CredentialError::BadKey(text)
        }
        "invalid_grant" => CredentialError::Revoked(text),
        "unauthorized_client" | "invalid_scope" | "access_denied" => {
            CredentialError::DelegationDenied(text)
        }
        "invalid_client" | "invalid_request" => CredentialError::BadKey(text),
        _ if status >= 500 || status == 429 => {
            CredentialError::Unavailable(format!("HTTP {status}: {code}: {text}"))
        }
        _ => CredentialError::BadKey(format!("HTTP {status}: {code}: {text}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_in_is_clamped_and_read_in_any_form() {
        use serde_json::json;
        assert_eq!(lifetime(None), Duration::from_secs(3600));
        assert_eq!(lifetime(Some(&json!(3599))), Duration::from_secs(3599));
        assert_eq!(lifetime(Some(&json!("120"))), Duration::from_secs(120));
        assert_eq!(lifetime(Some(&json!(u64::MAX))), MAX_TOKEN_LIFETIME);
        assert_eq!(lifetime(Some(&json!(1e300))), MAX_TOKEN_LIFETIME);
        assert_eq!(lifetime(Some(&json!(-5))), Duration::from_secs(3600));
    }
}
