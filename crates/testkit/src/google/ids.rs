//! The fake's generated identifiers (tokens, codes, numeric and hex ids, Gmail message ids)
//! and the normal form of the addresses it compares.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;
use rand::distr::Alphanumeric;

/// Addresses are compared case-insensitively; they are stored lowercase.
pub(crate) fn normalize_email(email: &str) -> String {
    email.trim().to_ascii_lowercase()
}

/// `len` random characters from `[A-Za-z0-9_-]`.
pub(crate) fn random_token(len: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
        .collect()
}

/// `len` random lowercase letters and digits.
pub(crate) fn random_lower_alnum(len: usize) -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(len)
        .map(|b| char::from(b).to_ascii_lowercase())
        .collect()
}

/// `len` random decimal digits, the first one `1` (like Google's numeric IDs).
pub(crate) fn random_digits(len: usize) -> String {
    let mut rng = rand::rng();
    std::iter::once('1')
        .chain((1..len).map(|_| char::from(b'0' + rng.random_range(0..10u8))))
        .collect()
}

/// `len` random lowercase hex digits.
pub(crate) fn random_hex(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
        .collect()
}

/// A new Gmail-style message ID: 16 hex digits, the milliseconds since the
/// epoch shifted left by 20 bits, the low bits a scrambled process-wide
/// counter (an odd multiplier and a per-process salt keep 2^20 consecutive
/// IDs distinct), so IDs are unique, grow over time and look like Gmail's.
pub(crate) fn new_message_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static SALT: OnceLock<u64> = OnceLock::new();
    let salt = *SALT.get_or_init(|| rand::rng().random());
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let low = (n.wrapping_mul(0x9_E3B5) ^ salt) & 0xF_FFFF;
    format!("{:016x}", (millis << 20) | low)
}
