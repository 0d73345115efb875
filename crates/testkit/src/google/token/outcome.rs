//! What one token request came to, before faults and logging: the answer,
//! and who and what it was for.

use axum::response::Response;
use serde_json::{Value, json};

use crate::google::respond;
use crate::google::state::{AccessRecordInit, State};

/// The result of one token request, before faults and logging.
pub(super) struct Outcome {
    pub(super) response: Response,
    pub(super) subject: Option<String>,
    pub(super) client_id: Option<String>,
    pub(super) error: Option<String>,
}

impl Outcome {
    pub(super) fn refuse(status: u16, error: &str, description: &str) -> Outcome {
        Outcome {
            response: respond::oauth_error(status, error, description),
            subject: None,
            client_id: None,
            error: Some(error.to_owned()),
        }
    }

    /// Issues an access token for `grant` and answers `200` with
    /// `access_token`, `expires_in`, `token_type` and the `extra` fields
    /// (`scope`, `refresh_token`); logged as a grant for `subject`.
    pub(super) fn issued(
        state: &mut State,
        grant: AccessRecordInit,
        subject: Option<String>,
        extra: Value,
    ) -> Outcome {
        let client_id = grant.client_id.clone();
        let (access_token, lifetime) = state.issue_access_token(grant);
        let expires_in = state.quirks.expires_in.unwrap_or(lifetime.as_secs());
        let mut body = json!({
            "access_token": access_token,
            "expires_in": expires_in,
            "token_type": "Bearer",
        });
        if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
            body.extend(extra);
        }
        Outcome {
            response: respond::json(200, &body),
            subject,
            client_id: Some(client_id),
            error: None,
        }
    }

    pub(super) fn with(mut self, subject: Option<&str>, client_id: Option<&str>) -> Outcome {
        self.subject = self.subject.or(subject.map(str::to_owned));
        self.client_id = self.client_id.or(client_id.map(str::to_owned));
        self
    }
}

/// The token endpoint's answer to a missing or unknown scope.
pub(super) fn invalid_scope() -> Outcome {
    Outcome::refuse(
        400,
        "invalid_scope",
        "Invalid OAuth scope or ID token audience provided.",
    )
}
