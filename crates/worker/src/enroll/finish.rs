//! The step both flows share once Google has redirected the browser back, with the `state`
//! checked by the flow: read the redirect, exchange the code (with the PKCE verifier), check the
//! granted scopes (asking tokeninfo when the answer names none), read the account's address
//! (verified, of the hosted domain when one is set), check it against the allowlist, store the
//! refresh token, revoke the one it replaces, and lift the sender's quarantine. A refresh token
//! that is not stored is revoked, so it does not linger.

use std::borrow::Cow;
use std::collections::HashMap;

use mailroom_jobs::Address;
use oauth2::{AuthorizationCode, PkceCodeVerifier, RedirectUrl, TokenResponse};
use secrecy::{ExposeSecret, SecretString};

use super::{EnrollError, Enrolled, Enroller, config_error};
use crate::credentials::{GMAIL_SEND_SCOPE, classify_token_error};
use crate::google_http::{StatusRecorder, error_chain};

/// The query of Google's redirect: `state`, and `code` or `error` (with
/// `error_description`).
#[derive(Debug, Clone, Default)]
pub struct Redirect(HashMap<String, String>);

impl Redirect {
    /// The redirect with these query parameters.
    #[must_use]
    pub fn new(params: HashMap<String, String>) -> Self {
        Self(params)
    }

    /// A parameter, when present and not empty.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The `state` it carries.
    #[must_use]
    pub fn state(&self) -> Option<&str> {
        self.param("state")
    }
}

/// What the code exchange granted; `scopes` is `None` when the answer did not say.
struct Granted {
    access: SecretString,
    refresh: SecretString,
    scopes: Option<Vec<String>>,
}

/// The scopes that let a token send mail.
fn sends(scopes: &[String]) -> bool {
    scopes
        .iter()
        .any(|s| s == GMAIL_SEND_SCOPE || s == "https://mail.google.com/")
}

/// `error` and `error_description` of a refused sign-in, for a message.
#[must_use]
pub fn describe_denial(error: &str, description: Option<&str>) -> String {
    let what = if error == "access_denied" {
        "the account did not grant access (access_denied)".to_owned()
    } else {
        error.to_owned()
    };
    match description {
        Some(d) => format!("{what}: {d}"),
        None => what,
    }
}

impl Enroller {
    /// Finishes a flow whose `state` the caller has checked: reads `redirect`, exchanges its
    /// code (with the PKCE `verifier`, at the same `redirect_uri`), reads the account's
    /// address, checks it against the allowlist (unless `force`), stores the refresh token and
    /// lifts the sender's quarantine.
    ///
    /// # Errors
    /// [`EnrollError`] saying which step failed.
    pub async fn finish(
        &self,
        redirect: &Redirect,
        verifier: PkceCodeVerifier,
        redirect_uri: &str,
        force: bool,
    ) -> Result<Enrolled, EnrollError> {
        if let Some(error) = redirect.param("error") {
            let description = redirect.param("error_description");
            return Err(EnrollError::Denied(describe_denial(error, description)));
        }
        let code = redirect.param("code").ok_or(EnrollError::NoCode)?;
        let mut granted = self.exchange(code, verifier, redirect_uri).await?;
        let kept = match self.admit(&mut granted, force).await {
            Ok(email) => self.keep(&email, &granted).await.map(|()| email),
            Err(e) => Err(e),
        };
        let email = match kept {
            Ok(email) => email,
            Err(e) => {
                self.revoke_quietly(&granted.refresh).await;
                return Err(e);
            }
        };
        let (released, release_error) = match self.store().queue().release_sender(&email).await {
            Ok(released) => (released, None),
            Err(e) => (false, Some(e.to_string())),
        };
        tracing::info!(sender = %email, released, "sender enrolled: stored a refresh token");
        Ok(Enrolled {
            email,
            released,
            release_error,
        })
    }

    /// Exchanges `code` for tokens.
    async fn exchange(
        &self,
        code: &str,
        verifier: PkceCodeVerifier,
        redirect_uri: &str,
    ) -> Result<Granted, EnrollError> {
        let client = self.client(redirect_uri)?;
        let redirect =
            RedirectUrl::new(redirect_uri.to_owned()).map_err(config_error("redirect_uri"))?;
        let recorder = StatusRecorder::new(&self.inner.http);
        let answer = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(verifier)
            .set_redirect_uri(Cow::Owned(redirect))
            .request_async(&recorder)
            .await
            .map_err(|e| EnrollError::Exchange(classify_token_error(&e, recorder.status())))?;
        let scopes = answer
            .scopes()
            .map(|granted| granted.iter().map(|s| s.to_string()).collect());
        let refresh = answer.refresh_token().ok_or(EnrollError::NoRefreshToken)?;
        Ok(Granted {
            access: SecretString::from(answer.access_token().secret().clone()),
            refresh: SecretString::from(refresh.secret().clone()),
            scopes,
        })
    }

    /// The account's address, when the grant may send mail and the account may enroll. An
    /// answer that names no scope is not taken to grant `gmail.send`: tokeninfo says.
    async fn admit(&self, granted: &mut Granted, force: bool) -> Result<String, EnrollError> {
        if granted.scopes.is_none() {
            granted.scopes = Some(self.tokeninfo_scopes(&granted.access).await?);
        }
        if !granted.scopes.as_deref().is_some_and(sends) {
            return Err(EnrollError::ScopeNotGranted);
        }
        let email = self.userinfo(&granted.access).await?;
        if !force && !self.allowed(&email) {
            return Err(EnrollError::NotAllowed(email));
        }
        Ok(email)
    }

    /// The scopes Google's tokeninfo endpoint says `access` has.
    async fn tokeninfo_scopes(&self, access: &SecretString) -> Result<Vec<String>, EnrollError> {
        let failed = |m: String| EnrollError::Userinfo(format!("tokeninfo: {m}"));
        let response = self
            .inner
            .http
            .post(&self.inner.tokeninfo_url)
            .form(&[("access_token", access.expose_secret())])
            .send()
            .await
            .map_err(|e| failed(error_chain(&e)))?;
        let status = response.status();
        if !status.is_success() {
            return Err(failed(format!("HTTP {status}")));
        }
        let body: serde_json::Value = response
            .json()
            .await
            .map_err(|_| failed("the answer is not JSON".to_owned()))?;
        Ok(body
            .get("scope")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect())
    }

    /// Stores the refresh token of `email`, then revokes the one it replaces, if any.
    async fn keep(&self, email: &str, granted: &Granted) -> Result<(), EnrollError> {
        let replaced = match self.store().get(email).await {
            Ok(old) => old.map(|old| old.refresh_token),
            Err(e) => {
                tracing::warn!(sender = %email, error = %e, "could not read the token being replaced");
                None
            }
        };
        let scopes = granted.scopes.clone().unwrap_or_default();
        self.store()
            .put(email, &granted.refresh, self.client_id(), &scopes)
            .await
            .map_err(|e| EnrollError::Store(e.to_string()))?;
        if let Some(old) = replaced
            && old.expose_secret() != granted.refresh.expose_secret()
        {
            self.revoke_quietly(&old).await;
        }
        Ok(())
    }

    fn allowed(&self, email: &str) -> bool {
        match &self.inner.allowlist {
            None => true,
            Some(list) => Address::parse(email).is_ok_and(|a| list.allows(&a)),
        }
    }

    async fn userinfo(&self, access: &SecretString) -> Result<String, EnrollError> {
        let response = self
            .inner
            .http
            .get(&self.inner.userinfo_url)
            .bearer_auth(access.expose_secret())
            .send()
            .await
            .map_err(|e| EnrollError::Userinfo(error_chain(&e)))?;
        let status = response.status();
        if !status.is_success() {
            return Err(EnrollError::Userinfo(format!("HTTP {status}")));
        }
        let body: serde_json::Value = response
            .json()
            .await
            .map_err(|_| EnrollError::Userinfo("the answer is not JSON".to_owned()))?;
        let email = body
            .get("email")
            .and_then(serde_json::Value::as_str)
            .filter(|e| e.contains('@'))
            .map(|e| e.trim().to_ascii_lowercase())
            .ok_or_else(|| EnrollError::Userinfo("the answer has no email".to_owned()))?;
        let verified = match body.get("email_verified") {
            Some(serde_json::Value::Bool(b)) => *b,
            Some(serde_json::Value::String(s)) => s == "true",
            _ => false,
        };
        if !verified {
            return Err(EnrollError::Unverified(email));
        }
        if let Some(expected) = &self.inner.hosted_domain {
            let hd = body.get("hd").and_then(serde_json::Value::as_str);
            if !hd.is_some_and(|hd| hd.eq_ignore_ascii_case(expected)) {
                return Err(EnrollError::WrongDomain {
                    email,
                    expected: expected.clone(),
                });
            }
        }
        Ok(email)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denials_read_well() {
        assert_eq!(
            describe_denial("access_denied", None),
            "the account did not grant access (access_denied)"
        );
        assert_eq!(
            describe_denial("invalid_scope", Some("bad")),
            "invalid_scope: bad"
        );
    }

    #[test]
    fn empty_parameters_are_absent() {
        let redirect = Redirect::new(HashMap::from([
            ("state".to_owned(), "abc".to_owned()),
            ("code".to_owned(), String::new()),
        ]));
        assert_eq!(redirect.state(), Some("abc"));
        assert_eq!(redirect.param("code"), None);
        assert_eq!(redirect.param("error"), None);
    }
}
