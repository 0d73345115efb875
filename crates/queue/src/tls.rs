//! TLS to Redis: the files that name the certificate authority to trust and, for mutual TLS,
//! the client's certificate and key, read into the form the `redis` crate takes.
//!
//! The connection itself (rustls, with the `ring` provider) is made by the `redis` crate for
//! `rediss://`, `rediss+cluster://` and `rediss+sentinel://` URLs. Without a CA file the
//! system's trust store is used. The server's certificate is always verified: there is no
//! setting that turns verification off.

use std::path::{Path, PathBuf};

use redis::{ClientTlsConfig, TlsCertificates};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};

use crate::QueueError;

/// Files for TLS to Redis (and to the Sentinels). Every field is optional; all of them only
/// apply to a URL that asks for TLS (`rediss://…`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisTls {
    /// PEM file of the certificate authorities that sign the servers' certificates (one or
    /// more certificates). Unset (the default): the system's trust store.
    pub ca_file: Option<PathBuf>,
    /// PEM file of this client's certificate chain, for servers that require client
    /// certificates (`tls-auth-clients yes`). Set together with `key_file`. Default none.
    pub cert_file: Option<PathBuf>,
    /// PEM file of the private key of `cert_file` (PKCS#8, PKCS#1 or SEC1). Default none.
    pub key_file: Option<PathBuf>,
}

impl RedisTls {
    /// Whether any file is set.
    #[must_use]
    pub fn is_set(&self) -> bool {
        self.ca_file.is_some() || self.cert_file.is_some() || self.key_file.is_some()
    }

    /// Reads and checks the files; `None` when none is set.
    ///
    /// # Errors
    /// [`QueueError::Config`] naming the field (`tls.ca_file`, `tls.cert_file`,
    /// `tls.key_file`) when a file cannot be read or holds no usable PEM, or when only one of
    /// the client certificate and key is set.
    pub fn load(&self) -> Result<Option<TlsCertificates>, QueueError> {
        if !self.is_set() {
            return Ok(None);
        }
        let root_cert = match &self.ca_file {
            Some(path) => {
                let pem = read("tls.ca_file", path)?;
                let certs = certificates("tls.ca_file", path, &pem)?;
                let mut roots = rustls::RootCertStore::empty();
                let (_, refused) = roots.add_parsable_certificates(certs);
                if refused > 0 || roots.is_empty() {
                    return Err(QueueError::config(
                        "tls.ca_file",
                        format!("{}: a certificate is not a usable CA", path.display()),
                    ));
                }
                Some(pem)
            }
            None => None,
        };
        let client_tls = match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(key)) => {
                let client_cert = read("tls.cert_file", cert)?;
                certificates("tls.cert_file", cert, &client_cert)?;
                let client_key = read("tls.key_file", key)?;
                PrivateKeyDer::from_pem_slice(&client_key).map_err(|e| {
                    QueueError::config(
                        "tls.key_file",
                        format!("{}: no private key in it ({e})", key.display()),
                    )
                })?;
                Some(ClientTlsConfig {
                    client_cert,
                    client_key,
                })
            }
            (None, None) => None,
            (Some(_), None) => {
                return Err(QueueError::config(
                    "tls.key_file",
                    "must be set with tls.cert_file",
                ));
            }
            (None, Some(_)) => {
                return Err(QueueError::config(
                    "tls.cert_file",
                    "must be set with tls.key_file",
                ));
            }
        };
        Ok(Some(TlsCertificates {
            client_tls,
            root_cert,
        }))
    }
}

/// Makes ring the process's rustls crypto provider, unless the program chose one already
/// (with two providers built in and none chosen, rustls cannot pick).
pub(crate) fn install_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A connection error that says the server's certificate was not trusted, as a
/// [`QueueError::Config`] naming `tls.ca_file`; any other error as it is.
pub(crate) fn explain(e: QueueError, tls: &RedisTls) -> QueueError {
    let text = e.to_string();
    if !text.contains("invalid peer certificate") {
        return e;
    }
    let trusted = match &tls.ca_file {
        Some(path) => format!("the CAs of {}", path.display()),
        None => "the system's trust store (no CA file set)".to_owned(),
    };
    QueueError::config(
        "tls.ca_file",
        format!("the server's certificate is not signed by {trusted}: {text}"),
    )
}

fn read(field: &'static str, path: &Path) -> Result<Vec<u8>, QueueError> {
    std::fs::read(path)
        .map_err(|e| QueueError::config(field, format!("cannot read {}: {e}", path.display())))
}

/// The certificates of a PEM file; at least one.
fn certificates(
    field: &'static str,
    path: &Path,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, QueueError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            QueueError::config(
                field,
                format!("{}: not PEM certificates ({e})", path.display()),
            )
        })?;
    if certs.is_empty() {
        return Err(QueueError::config(
            field,
            format!("{}: holds no PEM certificate", path.display()),
        ));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    #[test]
    fn nothing_set_loads_nothing() {
        assert!(RedisTls::default().load().unwrap().is_none());
    }

    #[test]
    fn bad_files_name_the_field() {
        let junk = file("not a certificate");
        let missing = PathBuf::from("/nonexistent/ca.pem");
        for (tls, field, says) in [
            (
                RedisTls {
                    ca_file: Some(missing.clone()),
                    ..RedisTls::default()
                },
                "tls.ca_file",
                "cannot read",
            ),
            (
                RedisTls {
                    ca_file: Some(junk.path().to_owned()),
                    ..RedisTls::default()
                },
                "tls.ca_file",
                "holds no PEM certificate",
            ),
            (
                RedisTls {
                    cert_file: Some(junk.path().to_owned()),
                    ..RedisTls::default()
                },
                "tls.key_file",
                "must be set with tls.cert_file",
            ),
            (
                RedisTls {
                    key_file: Some(junk.path().to_owned()),
                    ..RedisTls::default()
                },
                "tls.cert_file",
                "must be set with tls.key_file",
            ),
        ] {
            let e = tls.load().unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("{field}: ")) && e.contains(says),
                "{tls:?}: {e}"
            );
        }
    }
}
