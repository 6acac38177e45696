//! Template variables: `{name}` placeholders of lowercase letters, digits and `_`. `{{` and `}}` are
//! literal braces. Unknown variables are refused when a template is saved; at send time a variable
//! missing from the context renders empty (and is reported to the caller in the log's error).

use std::collections::{BTreeMap, BTreeSet};

/// The variables a template may use. Callers put what they know in the context; `send` adds
/// `hospital_name`, `patient_name`, `recipient_name` and `opt_out_link` itself.
pub const VARIABLES: &[&str] = &[
    "patient_name",
    "recipient_name",
    "hospital_name",
    "survey_link",
    "survey_name",
    "opt_out_link",
    "action_title",
    "action_link",
    "action_ref",
    "due_at",
    "level",
    "link",
    "user_name",
    "expires",
];

/// The variables a text uses, or a message describing the first syntax error.
///
/// # Errors
/// An unbalanced brace or an invalid variable name.
pub fn variables(text: &str) -> Result<BTreeSet<String>, String> {
    let mut out = BTreeSet::new();
    let mut it = text.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '{' if it.peek() == Some(&'{') => {
                it.next();
            }
            '}' if it.peek() == Some(&'}') => {
                it.next();
            }
            '{' => {
                let mut name = String::new();
                loop {
                    match it.next() {
                        Some('}') => break,
                        Some(ch) if ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_' => {
                            name.push(ch)
                        }
                        Some(ch) => {
                            return Err(format!(
                                "Invalid character '{ch}' in a variable name; use {{name}} with a-z, 0-9 and _ (write {{{{ for a literal brace)."
                            ));
                        }
                        None => return Err("A '{' is never closed.".into()),
                    }
                }
                if name.is_empty() {
                    return Err("Empty variable '{}'.".into());
                }
                out.insert(name);
            }
            '}' => return Err("A '}' has no matching '{' (write }} for a literal brace).".into()),
            _ => {}
        }
    }
    Ok(out)
}

/// Checks a text for syntax and unknown variables.
///
/// # Errors
/// One message per problem.
pub fn check(text: &str) -> Result<BTreeSet<String>, String> {
    let vars = variables(text)?;
    let unknown: Vec<&str> = vars
        .iter()
        .map(String::as_str)
        .filter(|v| !VARIABLES.contains(v))
        .collect();
    if unknown.is_empty() {
        Ok(vars)
    } else {
        Err(format!(
            "Unknown variable(s): {}; allowed: {}.",
            unknown
                .iter()
                .map(|v| format!("{{{v}}}"))
                .collect::<Vec<_>>()
                .join(", "),
            VARIABLES.join(", ")
        ))
    }
}

/// Renders `text` with `ctx`; returns the text and the names that were missing from `ctx`.
pub fn render(text: &str, ctx: &BTreeMap<String, String>) -> (String, Vec<String>) {
    let mut out = String::with_capacity(text.len() + 64);
    let mut missing = Vec::new();
    let mut it = text.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '{' if it.peek() == Some(&'{') => {
                it.next();
                out.push('{');
            }
            '}' if it.peek() == Some(&'}') => {
                it.next();
                out.push('}');
            }
            '{' => {
                let mut name = String::new();
                let mut closed = false;
                for ch in it.by_ref() {
                    if ch == '}' {
                        closed = true;
                        break;
                    }
                    name.push(ch);
                }
                if !closed {
                    // Saved templates are checked; a broken one renders its text literally.
                    out.push('{');
                    out.push_str(&name);
                } else if let Some(v) = ctx.get(&name) {
                    out.push_str(v);
                } else {
                    missing.push(name);
                }
            }
            _ => out.push(c),
        }
    }
    (out, missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn renders_variables_and_literal_braces() {
        let (s, missing) = render(
            "Dear {patient_name}, {{see}} {survey_link} {nope}",
            &ctx(&[("patient_name", "سارة"), ("survey_link", "https://x/s/abc")]),
        );
        assert_eq!(s, "Dear سارة, {see} https://x/s/abc ");
        assert_eq!(missing, vec!["nope".to_string()]);
    }

    #[test]
    fn check_refuses_unknown_variables_and_bad_syntax() {
        assert!(check("Hello {patient_name} {survey_link}").is_ok());
        let e = check("Hello {patient_nam}").unwrap_err();
        assert!(e.contains("{patient_nam}"), "{e}");
        assert!(check("Hello {patient_name").is_err());
        assert!(check("Hello patient_name}").is_err());
        assert!(check("Hello {Patient}").is_err());
        assert!(check("Hello {}").is_err());
        assert!(check("literal {{ok}}").is_ok());
    }
}
