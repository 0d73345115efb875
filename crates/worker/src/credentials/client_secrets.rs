//! [`ClientSecrets`]: the OAuth client's `client_secret.json`, as downloaded from Google Cloud
//! Console, in either of its two shapes: `{"installed": {…}}` (a Desktop app, for
//! `mailroom auth login`) or `{"web": {…}}` (a Web application, for the web enrollment flow).

use std::fmt;
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::config::CredentialsSection;

/// Which kind of OAuth client the file describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientType {
    /// A Desktop app (`"installed"`): redirects go to a loopback address on any port.
    Installed,
    /// A Web application (`"web"`): redirects go to the registered URIs only.
    Web,
}

impl ClientType {
    /// The top-level key of the file.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Installed => "installed",
            Self::Web => "web",
        }
    }
}

/// An OAuth client: its id, its secret (redacted in `Debug`) and the endpoints the file names.
#[derive(Clone)]
pub struct ClientSecrets {
    /// `installed` or `web`.
    pub client_type: ClientType,
    /// The client id, `….apps.googleusercontent.com`.
    pub client_id: String,
    client_secret: SecretString,
    /// The Google Cloud project, when the file names it.
    pub project_id: Option<String>,
    /// The authorization endpoint the file names (the worker uses `[google] auth_url`).
    pub auth_uri: Option<String>,
    /// The token endpoint the file names (the worker uses `[google] token_url`).
    pub token_uri: Option<String>,
    /// The redirect URIs registered for the client.
    pub redirect_uris: Vec<String>,
}

impl fmt::Debug for ClientSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSecrets")
            .field("client_type", &self.client_type)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("project_id", &self.project_id)
            .field("redirect_uris", &self.redirect_uris)
            .finish_non_exhaustive()
    }
}

/// Why a client secrets file could not be used. Messages never contain the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientSecretsError {
    /// `[credentials] client_secrets` is unset and no path was given.
    #[error(
        "no OAuth client file: set [credentials] client_secrets or pass --client-secrets \
         (download client_secret.json from Google Cloud Console)"
    )]
    Missing,
    /// The file could not be read.
    #[error("{path}: cannot read the OAuth client file: {message}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        message: String,
    },
    /// The file is not an OAuth client file.
    #[error("{origin}: {message}")]
    Invalid {
        /// The file.
        origin: String,
        /// What is wrong.
        message: String,
    },
}

#[derive(Deserialize)]
struct Entry {
    client_id: Option<String>,
    client_secret: Option<String>,
    project_id: Option<String>,
    auth_uri: Option<String>,
    token_uri: Option<String>,
    #[serde(default)]
    redirect_uris: Vec<String>,
}

impl From<super::SecretFileError> for ClientSecretsError {
    fn from(e: super::SecretFileError) -> Self {
        Self::Invalid {
            origin: e.key,
            message: e.message,
        }
    }
}

impl ClientSecrets {
    /// The file named by `path`, else by `[credentials] client_secrets`.
    ///
    /// # Errors
    /// [`ClientSecretsError::Missing`] when neither names a file; otherwise as
    /// [`ClientSecrets::load`].
    pub fn from_config(
        path: Option<&Path>,
        credentials: &CredentialsSection,
    ) -> Result<Self, ClientSecretsError> {
        let path = path
            .or(credentials.client_secrets.as_deref())
            .ok_or(ClientSecretsError::Missing)?;
        let allow_group = credentials.allow_group_readable_secrets;
        super::secret_file::check(path, "credentials.client_secrets", allow_group)?;
        Self::load(path)
    }

    /// Reads and parses a `client_secret.json` file.
    ///
    /// # Errors
    /// [`ClientSecretsError::Read`] or [`ClientSecretsError::Invalid`], naming the file.
    pub fn load(path: &Path) -> Result<Self, ClientSecretsError> {
        let text = std::fs::read_to_string(path).map_err(|e| ClientSecretsError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses the JSON of a client secrets file; `origin` names it in errors.
    ///
    /// # Errors
    /// [`ClientSecretsError::Invalid`]: not JSON, neither an `installed` nor a `web` object
    /// (the message lists the top-level keys found), or no `client_id` / `client_secret`.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ClientSecretsError> {
        let invalid = |message: String| ClientSecretsError::Invalid {
            origin: origin.to_owned(),
            message,
        };
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            invalid(format!(
                "not JSON (line {}, column {}); expected client_secret.json as downloaded \
                 from Google Cloud Console",
                e.line(),
                e.column()
            ))
        })?;
        let (client_type, entry) = match &value {
            serde_json::Value::Object(map) => {
                if let Some(entry) = map.get("installed") {
                    (ClientType::Installed, entry)
                } else if let Some(entry) = map.get("web") {
                    (ClientType::Web, entry)
                } else {
                    let mut keys: Vec<String> = map.keys().map(|k| format!("{k:?}")).collect();
                    keys.sort();
                    let got = if keys.is_empty() {
                        "an empty object".to_owned()
                    } else {
                        format!("top-level keys {}", keys.join(", "))
                    };
                    let hint =
                        if map.get("type").and_then(|t| t.as_str()) == Some("service_account") {
                            " (this is a service account key: set [credentials] kind = \
                         \"service_account\" and service_account_key instead)"
                        } else {
                            ""
                        };
                    return Err(invalid(format!(
                        "expected an OAuth client file with an \"installed\" or \"web\" object, \
                         as downloaded from Google Cloud Console; got {got}{hint}"
                    )));
                }
            }
            other => {
                return Err(invalid(format!(
                    "expected an OAuth client file with an \"installed\" or \"web\" object, as \
                     downloaded from Google Cloud Console; got a JSON {}",
                    json_kind(other)
                )));
            }
        };
        let kind = client_type.as_str();
        let entry: Entry = serde_json::from_value(entry.clone())
            .map_err(|e| invalid(format!("\"{kind}\" is not a valid client object: {e}")))?;
        let client_id = entry
            .client_id
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| invalid(format!("\"{kind}\" has no client_id")))?;
        let client_secret = entry
            .client_secret
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| invalid(format!("\"{kind}\" has no client_secret")))?;
        Ok(Self {
            client_type,
            client_id: client_id.trim().to_owned(),
            client_secret: SecretString::from(client_secret.trim().to_owned()),
            project_id: entry.project_id,
            auth_uri: entry.auth_uri,
            token_uri: entry.token_uri,
            redirect_uris: entry.redirect_uris,
        })
    }

    /// The client secret.
    #[must_use]
    pub fn client_secret(&self) -> &SecretString {
        &self.client_secret
    }

    /// The client secret as text, for a token request.
    #[must_use]
    pub(crate) fn expose_secret(&self) -> &str {
        self.client_secret.expose_secret()
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INSTALLED: &str = r#"{"installed":{"client_id":"123.apps.googleusercontent.com",
        "project_id":"demo","auth_uri":"https://accounts.google.com/o/oauth2/auth",
        "token_uri":"https://oauth2.googleapis.com/token",
        "auth_provider_x509_cert_url":"https://www.googleapis.com/oauth2/v1/certs",
        "client_secret":"GOCSPX-very-secret","redirect_uris":["http://localhost"]}}"#;

    const WEB: &str = r#"{"web":{"client_id":"456.apps.googleusercontent.com",
        "client_secret":"GOCSPX-web-secret",
        "redirect_uris":["https://mailroom.example.com/oauth2/callback"]}}"#;

    #[test]
    fn loads_both_formats() {
        let installed = ClientSecrets::parse(INSTALLED, "client_secret.json").unwrap();
        assert_eq!(installed.client_type, ClientType::Installed);
        assert_eq!(installed.client_id, "123.apps.googleusercontent.com");
        assert_eq!(installed.expose_secret(), "GOCSPX-very-secret");
        assert_eq!(installed.project_id.as_deref(), Some("demo"));
        assert_eq!(
            installed.token_uri.as_deref(),
            Some("https://oauth2.googleapis.com/token")
        );
        let web = ClientSecrets::parse(WEB, "web.json").unwrap();
        assert_eq!(web.client_type, ClientType::Web);
        assert_eq!(
            web.redirect_uris,
            ["https://mailroom.example.com/oauth2/callback"]
        );
    }

    #[test]
    fn other_json_fails_naming_the_keys_found() {
        let err = ClientSecrets::parse(
            r#"{"type":"service_account","private_key":"-----BEGIN"}"#,
            "key.json",
        )
        .unwrap_err();
        let shown = err.to_string();
        assert!(
            shown.starts_with(
                "key.json: expected an OAuth client file with an \"installed\" or \"web\" \
                 object, as downloaded from Google Cloud Console; got top-level keys \"private_key\", \"type\""
            ),
            "{shown}"
        );
        assert!(shown.contains("service account key"), "{shown}");
        assert!(!shown.contains("BEGIN"), "{shown}");

        let err = ClientSecrets::parse("[1]", "x.json")
            .unwrap_err()
            .to_string();
        assert!(err.ends_with("got a JSON array"), "{err}");
        let err = ClientSecrets::parse("{}", "x.json")
            .unwrap_err()
            .to_string();
        assert!(err.ends_with("got an empty object"), "{err}");
        let err = ClientSecrets::parse("not json", "x.json")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("x.json: not JSON"), "{err}");
        let err = ClientSecrets::parse(r#"{"web":{"client_id":"a"}}"#, "x.json")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "x.json: \"web\" has no client_secret");
    }

    #[test]
    fn debug_redacts_the_secret() {
        let secrets = ClientSecrets::parse(INSTALLED, "f").unwrap();
        let shown = format!("{secrets:?}");
        assert!(!shown.contains("GOCSPX"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }

    #[test]
    fn the_argument_wins_over_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        let b = dir.path().join("b.json");
        std::fs::write(&a, INSTALLED).unwrap();
        std::fs::write(&b, WEB).unwrap();
        for file in [&a, &b] {
            std::fs::set_permissions(file, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .unwrap();
        }
        let config = CredentialsSection {
            client_secrets: Some(b.clone()),
            ..CredentialsSection::default()
        };
        let from_arg = ClientSecrets::from_config(Some(&a), &config).unwrap();
        assert_eq!(from_arg.client_type, ClientType::Installed);
        let from_config = ClientSecrets::from_config(None, &config).unwrap();
        assert_eq!(from_config.client_type, ClientType::Web);
        assert_eq!(
            ClientSecrets::from_config(None, &CredentialsSection::default()).unwrap_err(),
            ClientSecretsError::Missing
        );
    }
}
