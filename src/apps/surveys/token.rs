//! Survey link tokens (SPEC.md rule 5): 22 URL-safe characters (16 bytes, base64url without padding),
//! derived with HMAC-SHA256 from the instance id under a key of its own, so the same link can be sent
//! again (reminder, resend) without ever storing it. Only its SHA-256 is stored, for look-up.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

use crate::platform::auth::sha256_hex;
use crate::platform::keys;

/// Longest token accepted (anything longer cannot be ours).
pub const MAX_LEN: usize = 24;

/// The link token of an instance.
pub fn for_instance(secret: &str, instance: Uuid) -> String {
    let key = keys::derive(secret, "px360-survey-links");
    // HMAC accepts keys of any length; a 32-byte key cannot fail.
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(&key) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(instance.as_bytes());
    let out = mac.finalize().into_bytes();
    URL_SAFE_NO_PAD.encode(&out[..16])
}

/// What is stored and looked up.
pub fn hash(token: &str) -> String {
    sha256_hex(token)
}

/// Whether a string could be a token at all (checked before touching the database).
pub fn plausible(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= MAX_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_short_url_safe_stable_and_distinct() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let t = for_instance("s", a);
        assert_eq!(t.len(), 22);
        assert!(plausible(&t));
        assert_eq!(t, for_instance("s", a));
        assert_ne!(t, for_instance("s", b));
        assert_ne!(t, for_instance("other secret", a));
        assert_eq!(hash(&t).len(), 64);
        assert!(!plausible("../etc/passwd"));
        assert!(!plausible(&"a".repeat(25)));
    }
}
