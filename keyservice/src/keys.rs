//! Virtual key material: generation, hashing, display names and comparison.
//!
//! A generated key is `"sk-" + 16 random bytes, urlsafe base64 without padding` (25
//! characters), as LiteLLM makes them (`secrets.token_urlsafe(16)`). Only
//! `sha256(key)` as lowercase hex is ever stored; that hash is the key's *token id*.
//! `key_name` is `"sk-...<last 4>"`, kept so people can tell keys apart.
//!
//! Nothing in this module logs, and callers must never log a key or a hash either.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The prefix every virtual key (generated or caller-chosen) carries.
pub const KEY_PREFIX: &str = "sk-";

/// A fresh random key: `sk-` + 16 random bytes, urlsafe base64, no padding.
pub fn generate_key() -> String {
    let mut bytes = [0u8; 16];
    fill_random(&mut bytes);
    format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Fills `buf` from the operating system's random source.
///
/// Panics only if the OS has no random source at all, which no supported platform lacks.
#[allow(
    clippy::expect_used,
    reason = "keys and ids without randomness must not be made; no supported platform lacks the source"
)]
pub fn fill_random(buf: &mut [u8]) {
    getrandom::getrandom(buf).expect("the operating system's random source failed");
}

/// A random version-4 UUID string, for generated user, team and lease ids.
pub fn random_uuid() -> String {
    let mut b = [0u8; 16];
    fill_random(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// `sha256(key)` as 64 lowercase hex characters: the stored token id.
pub fn hash_key(key: &str) -> String {
    hex(&Sha256::digest(key.as_bytes()))
}

/// `"sk-...<last 4 characters>"`, LiteLLM's `key_name`.
pub fn key_name(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let tail: String = chars.iter().skip(chars.len().saturating_sub(4)).collect();
    format!("sk-...{tail}")
}

/// Why a caller-chosen key was refused.
pub fn validate_custom_key(key: &str) -> Result<(), &'static str> {
    if !key.starts_with(KEY_PREFIX) {
        return Err("Invalid key format. LiteLLM Virtual Key must start with 'sk-'.");
    }
    if key.len() <= KEY_PREFIX.len() {
        return Err("Invalid key format. The key has nothing after 'sk-'.");
    }
    if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("Invalid key format. A key may not contain whitespace.");
    }
    Ok(())
}

/// True when `s` looks like a stored token id (64 hex characters).
pub fn is_token_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The token id for something an admin typed: a plaintext `sk-` key is hashed, anything
/// else is taken to be a token id already (LiteLLM's `_hash_token_if_needed`).
pub fn token_for_admin_input(s: &str) -> String {
    if s.starts_with(KEY_PREFIX) {
        hash_key(s)
    } else {
        s.to_ascii_lowercase()
    }
}

/// Constant-time equality of two token ids (or any two secrets of public length).
pub fn hashes_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    let digit = |nibble: u8| char::from_digit(u32::from(nibble), 16).unwrap_or('0');
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(digit(b >> 4));
        s.push(digit(b & 0xf));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_litellm_format() {
        let k = generate_key();
        assert_eq!(k.len(), 25, "{k}");
        assert!(k.starts_with("sk-"));
        assert!(k[3..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert!(!k.contains('='));
        assert_ne!(generate_key(), generate_key());
    }

    #[test]
    fn hash_is_sha256_hex() {
        // sha256("sk-1234"), as LiteLLM stores it.
        assert_eq!(
            hash_key("sk-1234"),
            "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b"
        );
        assert!(is_token_hash(&hash_key("anything")));
        assert!(!is_token_hash("sk-1234"));
    }

    #[test]
    fn key_name_shows_last_four() {
        assert_eq!(key_name("sk-abcdefgh1234"), "sk-...1234");
        assert_eq!(key_name("sk-"), "sk-...sk-");
    }

    #[test]
    fn custom_keys_must_start_with_sk() {
        assert!(validate_custom_key("sk-mine").is_ok());
        assert!(validate_custom_key("mine").is_err());
        assert!(validate_custom_key("sk-").is_err());
        assert!(validate_custom_key("sk-a b").is_err());
    }

    #[test]
    fn admin_input_is_hashed_only_when_plaintext() {
        let h = hash_key("sk-x");
        assert_eq!(token_for_admin_input("sk-x"), h);
        assert_eq!(token_for_admin_input(&h.to_uppercase()), h);
    }

    #[test]
    fn constant_time_equality() {
        assert!(hashes_equal("abc", "abc"));
        assert!(!hashes_equal("abc", "abd"));
        assert!(!hashes_equal("abc", "abcd"));
    }

    #[test]
    fn uuid_v4_shape() {
        let u = random_uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
    }
}
