//! Small validated newtypes and request helpers shared by every module: E.164 phone numbers, e-mail
//! addresses, and the `nullable` deserializer that tells "absent" from "null" in PATCH bodies.

use serde::{Deserialize, Deserializer};

/// A phone number in E.164 form (`+9665XXXXXXXX`), checked against libphonenumber's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    /// # Errors
    /// A message for the client when the number is not a valid international number.
    pub fn parse(raw: &str) -> Result<Self, String> {
        const MSG: &str =
            "Enter a valid phone number in international E.164 form, e.g. +966501234567.";
        let compact: String = raw
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
            .collect();
        if !compact.starts_with('+') || compact.len() > 16 {
            return Err(MSG.into());
        }
        let n = phonenumber::parse(None, &compact).map_err(|_| MSG.to_string())?;
        if !phonenumber::is_valid(&n) {
            return Err(MSG.into());
        }
        Ok(Self(n.format().mode(phonenumber::Mode::E164).to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// An e-mail address: one `@`, a non-empty local part, a dotted domain, no spaces, at most 254 bytes.
/// Deliberately simple: deliverability is proven by sending, not by a regular expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// # Errors
    /// A message for the client.
    pub fn parse(raw: &str) -> Result<Self, String> {
        const MSG: &str = "Enter a valid email address.";
        let s = raw.trim();
        if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(MSG.into());
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err(MSG.into());
        };
        let labels_ok = domain.split('.').all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
        if local.is_empty() || local.len() > 64 || !domain.contains('.') || !labels_ok {
            return Err(MSG.into());
        }
        Ok(Self(format!("{local}@{}", domain.to_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// For `Option<Option<T>>` fields with `#[serde(default, deserialize_with = "nullable")]`: absent →
/// `None`, `null` → `Some(None)`, a value → `Some(Some(v))`.
///
/// # Errors
/// The inner type's deserialisation errors.
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saudi_mobiles_are_accepted_in_e164_form() {
        assert_eq!(
            Phone::parse("+966 50 123 4567").unwrap().as_str(),
            "+966501234567"
        );
        assert!(Phone::parse("0501234567").is_err());
        assert!(Phone::parse("+96650").is_err());
        assert!(Phone::parse("hello").is_err());
    }

    #[test]
    fn emails_are_checked_sanely() {
        assert_eq!(
            Email::parse(" a.b@Example.SA ").unwrap().as_str(),
            "a.b@example.sa"
        );
        for bad in ["a", "a@b", "@b.sa", "a b@c.sa", "a@-b.sa", "a@b..sa"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn nullable_tells_absent_from_null() {
        #[derive(Deserialize)]
        struct B {
            #[serde(default, deserialize_with = "nullable")]
            x: Option<Option<u8>>,
        }
        let p = |s: &str| serde_json::from_str::<B>(s).unwrap().x;
        assert_eq!(p("{}"), None);
        assert_eq!(p(r#"{"x": null}"#), Some(None));
        assert_eq!(p(r#"{"x": 3}"#), Some(Some(3)));
    }
}
