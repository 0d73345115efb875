//! [`TestCerts`]: a throwaway certificate authority and one certificate it signs for
//! `localhost` and 127.0.0.1 (good for a server and for a client), written as PEM files, and
//! [`ServerTls`], the files a TLS `redis-server` is started with.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tempfile::TempDir;

/// A CA and a certificate it signed, in a temporary directory removed on drop:
/// `ca.pem`, `node.pem` and `node.key` (mode 600). The node certificate names `localhost` and
/// `127.0.0.1` and may authenticate a server and a client, so every server of a fixture and
/// every test client use it.
#[derive(Debug)]
pub struct TestCerts {
    dir: TempDir,
}

/// How a `redis-server` (or Sentinel) serves TLS: `--port 0 --tls-port PORT` with these files,
/// and `--tls-replication yes`, so replicas and Sentinels talk TLS to the data nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTls {
    /// The CA that signs the certificates of clients (and of the other servers).
    pub ca_file: PathBuf,
    /// The server's certificate.
    pub cert_file: PathBuf,
    /// The server's private key.
    pub key_file: PathBuf,
    /// `--tls-auth-clients yes`: clients must present a certificate the CA signed.
    pub auth_clients: bool,
}

impl TestCerts {
    /// Generates a CA (ECDSA P-256) and a certificate it signs.
    ///
    /// # Panics
    /// If the key generation or a file write fails.
    pub fn generate() -> TestCerts {
        // The client side (the redis crate over rustls) needs a process-wide crypto provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::Builder::new()
            .prefix("mailroom-tls-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a directory for certificates: {e}"));
        let ca_key = KeyPair::generate().expect("a CA key");
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        // A name of its own, so two of them are told apart (a certificate of one is then of
        // an unknown issuer to the other, not a bad signature).
        let name = format!("mailroom test CA {:016x}", rand::random::<u64>());
        ca.distinguished_name.push(DnType::CommonName, name);
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca.self_signed(&ca_key).expect("a self-signed CA");
        let issuer = Issuer::new(ca, ca_key);

        let node_key = KeyPair::generate().expect("a node key");
        let mut node = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("node params");
        node.distinguished_name
            .push(DnType::CommonName, "localhost");
        node.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        node.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let node_cert = node
            .signed_by(&node_key, &issuer)
            .expect("a node certificate");

        let certs = TestCerts { dir };
        write(&certs.ca_file(), &ca_cert.pem());
        write(&certs.cert_file(), &node_cert.pem());
        write(&certs.key_file(), &node_key.serialize_pem());
        set_private(&certs.key_file());
        certs
    }

    /// The CA certificate (PEM).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The node certificate (PEM), for servers and clients.
    pub fn cert_file(&self) -> PathBuf {
        self.dir.path().join("node.pem")
    }

    /// The node certificate's private key (PKCS#8 PEM, mode 600).
    pub fn key_file(&self) -> PathBuf {
        self.dir.path().join("node.key")
    }

    /// The files a server is started with; `auth_clients` asks clients for a certificate.
    pub fn server(&self, auth_clients: bool) -> ServerTls {
        ServerTls {
            ca_file: self.ca_file(),
            cert_file: self.cert_file(),
            key_file: self.key_file(),
            auth_clients,
        }
    }
}

impl ServerTls {
    /// What a test client of this server trusts and presents: the CA, and the node
    /// certificate as its client certificate.
    ///
    /// # Panics
    /// If a file cannot be read.
    pub fn client_certificates(&self) -> redis::TlsCertificates {
        redis::TlsCertificates {
            client_tls: Some(redis::ClientTlsConfig {
                client_cert: read(&self.cert_file),
                client_key: read(&self.key_file),
            }),
            root_cert: Some(read(&self.ca_file)),
        }
    }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

fn set_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .unwrap_or_else(|e| panic!("cannot chmod {}: {e}", path.display()));
}
