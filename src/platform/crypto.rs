//! Field encryption for personal identifiers: AES-256-GCM with a random 96-bit nonce, stored as
//! base64(nonce ‖ ciphertext), plus a keyed blind index (HMAC-SHA256, hex) so an exact value can be
//! looked up without decrypting every row. The index key is derived from the encryption key for that
//! purpose only, so the two keys never coincide.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;

use crate::platform::keys;

const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("ciphertext is not valid base64 or too short")]
    Malformed,
    #[error("decryption failed (wrong key or tampered data)")]
    Decrypt,
    #[error("encryption failed")]
    Encrypt,
}

/// Encrypts `plaintext` under `key`; the result is base64 of nonce ‖ ciphertext+tag.
///
/// # Errors
/// [`CryptoError::Encrypt`] (not expected with a 32-byte key).
pub fn encrypt(key: &[u8; 32], plaintext: &str) -> Result<String, CryptoError> {
    let cipher = Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key));
    let nonce_bytes: [u8; NONCE_LEN] = rand::rng().random();
    let ct = cipher
        .encrypt(&Nonce::from(nonce_bytes), plaintext.as_bytes())
        .map_err(|_| CryptoError::Encrypt)?;
    let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
    out.extend_from_slice(&nonce_bytes);
    out.extend_from_slice(&ct);
    Ok(STANDARD.encode(out))
}

/// Reverses [`encrypt`].
///
/// # Errors
/// [`CryptoError::Malformed`] for bad input, [`CryptoError::Decrypt`] for a wrong key or tampering.
pub fn decrypt(key: &[u8; 32], stored: &str) -> Result<String, CryptoError> {
    let raw = STANDARD
        .decode(stored.trim())
        .map_err(|_| CryptoError::Malformed)?;
    if raw.len() <= NONCE_LEN {
        return Err(CryptoError::Malformed);
    }
    let (nonce, ct) = raw.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Malformed)?;
    let cipher = Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key));
    let pt = cipher
        .decrypt(&Nonce::from(nonce), ct)
        .map_err(|_| CryptoError::Decrypt)?;
    String::from_utf8(pt).map_err(|_| CryptoError::Decrypt)
}

/// The blind-index key for an encryption key.
pub fn blind_index_key(encryption_key: &[u8; 32]) -> [u8; 32] {
    keys::derive(&hex::encode(encryption_key), "px360-blind-index")
}

/// Hex HMAC-SHA256 of an (already normalised) value under the blind-index key derived from
/// `encryption_key`.
pub fn blind_index(encryption_key: &[u8; 32], normalised: &str) -> String {
    let key = blind_index_key(encryption_key);
    // HMAC accepts keys of any length, so this constructor cannot fail; the fallback keeps it panic-free.
    match <Hmac<Sha256> as Mac>::new_from_slice(&key) {
        Ok(mut mac) => {
            mac.update(normalised.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: [u8; 32] = [7; 32];

    #[test]
    fn encryption_round_trips_and_hides_the_plaintext() {
        let c = encrypt(&K, "1012345678").unwrap();
        assert!(!c.contains("1012345678"));
        assert_eq!(decrypt(&K, &c).unwrap(), "1012345678");
    }

    #[test]
    fn each_encryption_uses_a_fresh_nonce() {
        assert_ne!(encrypt(&K, "x").unwrap(), encrypt(&K, "x").unwrap());
    }

    #[test]
    fn a_wrong_key_or_tampering_is_refused() {
        let c = encrypt(&K, "1012345678").unwrap();
        assert_eq!(decrypt(&[8; 32], &c), Err(CryptoError::Decrypt));
        let mut raw = STANDARD.decode(&c).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        assert_eq!(
            decrypt(&K, &STANDARD.encode(raw)),
            Err(CryptoError::Decrypt)
        );
        assert_eq!(decrypt(&K, "!!"), Err(CryptoError::Malformed));
    }

    #[test]
    fn the_blind_index_is_deterministic_keyed_and_not_a_plain_hash() {
        let a = blind_index(&K, "1012345678");
        assert_eq!(a, blind_index(&K, "1012345678"));
        assert_eq!(a.len(), 64);
        assert_ne!(a, blind_index(&[8; 32], "1012345678"));
        assert_ne!(a, blind_index(&K, "1012345679"));
        assert_ne!(blind_index_key(&K), K);
    }
}
