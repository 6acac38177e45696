//! Password hashing (argon2id) and the password policy.

use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};

use crate::platform::error::{AppError, AppResult, FieldErrors};

/// # Errors
/// Internal error if hashing fails (not expected).
pub fn hash(password: &str) -> AppResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("hashing a password: {e}")))
}

pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash to verify against when the user does not exist, so the response time does not reveal
/// which emails have accounts.
pub fn dummy_verify(password: &str) {
    const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Zq1l9Xq9m3sV0m5l8mKp8c0i7c0m4o8u8v8b3T7l2Ww";
    let _ = verify(password, DUMMY);
}

const COMMON: &[&str] = &[
    "password",
    "password1",
    "password123",
    "123456789",
    "1234567890",
    "qwertyuiop",
    "iloveyou",
    "admin12345",
    "welcome123",
    "p@ssw0rd123",
    "hospital123",
];

/// The policy: at least 10 characters, a letter and a digit, not a common password, not the email.
///
/// # Errors
/// 400 on `field` listing every rule broken.
pub fn validate(password: &str, email: &str, field: &str) -> AppResult<()> {
    let mut e = FieldErrors::new();
    if password.chars().count() < 10 {
        e.add(
            field,
            "This password is too short. It must contain at least 10 characters.",
        );
    }
    if password.chars().count() > 128 {
        e.add(field, "This password is too long (at most 128 characters).");
    }
    if !password.chars().any(char::is_alphabetic) || !password.chars().any(|c| c.is_ascii_digit()) {
        e.add(
            field,
            "This password must contain at least one letter and one digit.",
        );
    }
    let lower = password.to_lowercase();
    if COMMON.contains(&lower.as_str()) {
        e.add(field, "This password is too common.");
    }
    let local = email.split('@').next().unwrap_or("").to_lowercase();
    // Very short local parts ("a@…") would match almost any password; only compare meaningful ones.
    if local.chars().count() >= 4 && lower.contains(&local) {
        e.add(field, "The password is too similar to the email address.");
    }
    e.into_result()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_wrong_passwords_do_not() {
        let h = hash("Correct-horse-42").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("Correct-horse-42", &h));
        assert!(!verify("Correct-horse-43", &h));
        assert!(!verify("x", "not a hash"));
    }

    #[test]
    fn the_policy_rejects_weak_passwords_with_reasons() {
        assert!(validate("Riyadh-2026-px", "a@b.sa", "password").is_ok());
        for bad in ["short1", "onlyletterslong", "12345678901", "Password123"] {
            assert!(validate(bad, "a@b.sa", "password").is_err(), "{bad}");
        }
        assert!(validate("nurse.sara2026", "nurse.sara@h.sa", "password").is_err());
    }
}
