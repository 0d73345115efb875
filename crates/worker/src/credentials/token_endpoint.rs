//! The OAuth token endpoint (`[google] token_url`) as the stored-token flows call it: a client
//! for an OAuth client file ([`token_client`]) and what a failed request means for the sender
//! ([`classify_token_error`]).

use oauth2::basic::{BasicClient, BasicErrorResponse, BasicErrorResponseType};
use oauth2::{
    AuthType, ClientId, ClientSecret, EndpointNotSet, EndpointSet, HttpClientError,
    RequestTokenError, TokenUrl,
};

use super::CredentialError;
use super::client_secrets::ClientSecrets;
use crate::config::GoogleSection;
use crate::google_http::error_chain;

/// An OAuth client with only its token endpoint set.
pub(crate) type TokenClient =
    BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// The error of an OAuth token request made with a
/// [`StatusRecorder`](crate::google_http::StatusRecorder).
pub(crate) type TokenRequestError =
    RequestTokenError<HttpClientError<reqwest::Error>, BasicErrorResponse>;

/// An OAuth client for `secrets` that talks to `[google] token_url`, sending the client
/// credentials in the request body.
pub(crate) fn token_client(
    secrets: &ClientSecrets,
    google: &GoogleSection,
) -> Result<TokenClient, CredentialError> {
    let token_url = TokenUrl::new(google.token_url.clone())
        .map_err(|e| CredentialError::BadKey(format!("google.token_url: {e}")))?;
    Ok(BasicClient::new(ClientId::new(secrets.client_id.clone()))
        .set_client_secret(ClientSecret::new(secrets.expose_secret().to_owned()))
        .set_auth_type(AuthType::RequestBody)
        .set_token_uri(token_url))
}

/// What a failed token request means for the sender. Never includes a response body (a
/// malformed success could carry a token).
pub(crate) fn classify_token_error(e: &TokenRequestError, status: u16) -> CredentialError {
    match e {
        RequestTokenError::ServerResponse(answer) => {
            let description = answer
                .error_description()
                .cloned()
                .unwrap_or_else(|| answer.error().as_ref().to_owned());
            match answer.error() {
                BasicErrorResponseType::InvalidGrant => CredentialError::Revoked(description),
                BasicErrorResponseType::InvalidClient
                | BasicErrorResponseType::UnauthorizedClient => {
                    CredentialError::BadKey(format!("{answer}"))
                }
                _ if status >= 500 || status == 429 || status == 0 => {
                    CredentialError::Unavailable(format!("HTTP {status}: {answer}"))
                }
                _ => CredentialError::BadKey(format!("HTTP {status}: {answer}")),
            }
        }
        RequestTokenError::Request(inner) => CredentialError::Unavailable(error_chain(inner)),
        RequestTokenError::Parse(error, _) => CredentialError::Unavailable(format!(
            "HTTP {status}: the token endpoint's answer is not an OAuth JSON response \
             (at `{}`)",
            error.path()
        )),
        RequestTokenError::Other(message) => {
            CredentialError::Unavailable(format!("HTTP {status}: {message}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(error: &str, description: Option<&str>) -> TokenRequestError {
        let body = serde_json::json!({ "error": error, "error_description": description });
        RequestTokenError::ServerResponse(serde_json::from_value(body).unwrap())
    }

    #[test]
    fn errors_are_classified_by_code_then_status() {
        assert_eq!(
            classify_token_error(
                &server("invalid_grant", Some("Token has been expired or revoked.")),
                400
            ),
            CredentialError::Revoked("Token has been expired or revoked.".into())
        );
        assert_eq!(
            classify_token_error(&server("invalid_grant", None), 400),
            CredentialError::Revoked("invalid_grant".into())
        );
        assert!(matches!(
            classify_token_error(&server("invalid_client", Some("The OAuth client was not found.")), 401),
            CredentialError::BadKey(m) if m == "invalid_client: The OAuth client was not found."
        ));
        assert!(matches!(
            classify_token_error(&server("unauthorized_client", None), 400),
            CredentialError::BadKey(_)
        ));
        assert!(matches!(
            classify_token_error(&server("internal_failure", None), 503),
            CredentialError::Unavailable(m) if m == "HTTP 503: internal_failure"
        ));
        assert!(matches!(
            classify_token_error(
                &RequestTokenError::Other("server returned empty error response".into()),
                502
            ),
            CredentialError::Unavailable(_)
        ));
    }
}
