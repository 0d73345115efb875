//! RSA key pairs for service-account key files, and verification of the
//! RS256 JWT assertions signed with them.
//!
//! Generating a 2048-bit key takes a while, so each process generates at most
//! two: the [`primary`] key every registered service account uses, and the
//! [`secondary`] key handed out in "wrong key" files.

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use jsonwebtoken::{Algorithm, DecodingKey};
use rsa::RsaPrivateKey;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde_json::Value;

/// Size of the generated keys. Google's keys are 2048 bits, and ring (which
/// signs for yup-oauth2) refuses anything smaller.
const KEY_BITS: usize = 2048;

/// Base64url that accepts input with or without `=` padding: Google accepts
/// both in JWTs, and yup-oauth2 pads its segments.
pub(crate) const LENIENT_URL_SAFE: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// One RSA key pair: the private key as a PKCS#8 PEM (what a key file holds)
/// and the public key's components (what the token endpoint verifies with).
pub(crate) struct KeyPair {
    private_pem: String,
    modulus: Vec<u8>,
    exponent: Vec<u8>,
}

impl KeyPair {
    fn generate() -> KeyPair {
        let mut rng = rsa::rand_core::OsRng;
        let key = RsaPrivateKey::new(&mut rng, KEY_BITS)
            .unwrap_or_else(|e| panic!("cannot generate an RSA key: {e}"));
        let private_pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .unwrap_or_else(|e| panic!("cannot encode an RSA key as PEM: {e}"))
            .to_string();
        KeyPair {
            private_pem,
            modulus: key.n().to_bytes_be(),
            exponent: key.e().to_bytes_be(),
        }
    }

    /// The private key, `-----BEGIN PRIVATE KEY-----` (PKCS#8), as in a
    /// Google service-account key file.
    pub(crate) fn private_pem(&self) -> &str {
        &self.private_pem
    }

    /// Whether `signature` (base64url, padded or not) is a valid RS256
    /// signature of `message` by this key.
    pub(crate) fn verifies(&self, message: &[u8], signature: &str) -> bool {
        let key = DecodingKey::from_rsa_raw_components(&self.modulus, &self.exponent);
        // jsonwebtoken decodes the signature without padding.
        let signature = signature.trim_end_matches('=');
        jsonwebtoken::crypto::verify(signature, message, &key, Algorithm::RS256).unwrap_or(false)
    }
}

/// The key pair of every service account the fake registers.
pub(crate) fn primary() -> &'static KeyPair {
    static KEY: OnceLock<KeyPair> = OnceLock::new();
    KEY.get_or_init(KeyPair::generate)
}

/// A second key pair, registered nowhere: key files holding it fail the
/// signature check.
pub(crate) fn secondary() -> &'static KeyPair {
    static KEY: OnceLock<KeyPair> = OnceLock::new();
    KEY.get_or_init(KeyPair::generate)
}

/// A JWT split into its decoded parts.
pub(crate) struct Jwt {
    /// The decoded header object.
    pub header: Value,
    /// The decoded claims object.
    pub claims: Value,
    /// `header.claims` exactly as received: the signed bytes.
    pub signing_input: String,
    /// The third segment, still base64url.
    pub signature: String,
}

impl Jwt {
    /// Splits and decodes `token` without checking the signature. `None` if
    /// it is not three base64url segments, the first two JSON objects.
    pub(crate) fn parse(token: &str) -> Option<Jwt> {
        let mut segments = token.split('.');
        let (header, claims, signature) = (segments.next()?, segments.next()?, segments.next()?);
        if segments.next().is_some() {
            return None;
        }
        let decode = |segment: &str| -> Option<Value> {
            let bytes = LENIENT_URL_SAFE.decode(segment).ok()?;
            let value: Value = serde_json::from_slice(&bytes).ok()?;
            value.is_object().then_some(value)
        };
        Some(Jwt {
            header: decode(header)?,
            claims: decode(claims)?,
            signing_input: format!("{header}.{claims}"),
            signature: signature.to_owned(),
        })
    }

    /// A string claim, if present.
    pub(crate) fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// A numeric claim (seconds since the epoch), if present.
    pub(crate) fn claim_i64(&self, name: &str) -> Option<i64> {
        let value = self.claims.get(name)?;
        value.as_i64().or_else(|| value.as_f64().map(|f| f as i64))
    }
}
