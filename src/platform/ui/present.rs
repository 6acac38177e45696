//! Turning JSON values of the wire format into what a page shows: cell text, badges, form values.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::ctx::Ctx;
use super::resource::{Col, Field, Input, Kind};
use crate::platform::error::FieldErrors;
use crate::platform::i18n::{self, Lang};

/// One rendered cell or detail value.
#[derive(Debug, Clone, Default)]
pub struct CellView {
    pub col: &'static str,
    pub text: String,
    /// Bootstrap badge classes when shown as a badge.
    pub badge: Option<&'static str>,
    pub mono: bool,
    pub href: Option<String>,
    pub optional: bool,
    /// Pre-formatted multi-line text (JSON).
    pub pre: bool,
    pub dir_auto: bool,
}

/// Badge colours by workflow meaning, shared by every module's statuses.
pub fn badge_class(value: &str) -> &'static str {
    match value {
        "ACTIVE" | "COMPLETED" | "PROCESSED" | "CLOSED" | "RESOLVED" | "APPROVED" | "SENT"
        | "DELIVERED" | "SUBMITTED" | "YES" => "text-bg-success",
        "OPEN" | "PENDING" | "NEW" | "SCHEDULED" => "text-bg-primary",
        "IN_PROGRESS" | "PROCESSING" | "PARTIALLY_RESOLVED" => "text-bg-info",
        "WAITING" | "PENDING_APPROVAL" | "REOPENED" | "ESCALATED" | "HIGH" => "text-bg-warning",
        "FAILED" | "DEAD" | "OVERDUE" | "REJECTED" | "CRITICAL" | "URGENT" => "text-bg-danger",
        "IGNORED" | "CANCELLED" | "SKIPPED" | "EXPIRED" | "INACTIVE" | "NO" => "text-bg-secondary",
        _ => "text-bg-light border",
    }
}

/// The label of an UPPER_SNAKE value: `choice.<VALUE>` from the catalog, else the value made readable.
pub fn choice_label(lang: Lang, value: &str) -> String {
    let key = format!("choice.{value}");
    if i18n::has(&key) {
        i18n::t(lang, &key).to_string()
    } else {
        value.replace('_', " ")
    }
}

fn bilingual<'a>(v: &'a Value, key: &str, lang: Lang) -> &'a str {
    let en = v
        .get(format!("{key}_en"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let ar = v
        .get(format!("{key}_ar"))
        .and_then(Value::as_str)
        .unwrap_or("");
    match lang {
        Lang::Ar if !ar.trim().is_empty() => ar,
        Lang::En if en.trim().is_empty() => ar,
        Lang::Ar => en,
        Lang::En => en,
    }
}

/// Foreign-key labels resolved for a page: source name → id → label.
pub type Labels = HashMap<&'static str, HashMap<Uuid, String>>;

/// Every id a set of columns refers to, grouped by source, for one batched look-up per source.
pub fn ref_ids(cols: &[Col], rows: &[Value]) -> HashMap<&'static str, Vec<Uuid>> {
    let mut out: HashMap<&'static str, Vec<Uuid>> = HashMap::new();
    for c in cols {
        if let Kind::Ref(src) = c.kind {
            for r in rows {
                if let Some(id) = r
                    .get(c.key)
                    .and_then(Value::as_str)
                    .and_then(|s| Uuid::parse_str(s).ok())
                {
                    let v = out.entry(src).or_default();
                    if !v.contains(&id) {
                        v.push(id);
                    }
                }
            }
        }
    }
    out
}

pub fn cell(ctx: &Ctx, c: &Col, v: &Value, labels: &Labels) -> CellView {
    let lang = ctx.lang;
    let raw = v.get(c.key).unwrap_or(&Value::Null);
    let mut out = CellView {
        col: c.key,
        optional: c.optional,
        ..Default::default()
    };
    match c.kind {
        Kind::Bilingual => {
            out.text = bilingual(v, c.key, lang).to_string();
            out.dir_auto = true;
        }
        _ if raw.is_null() => out.text = "—".into(),
        Kind::Text => {
            out.text = scalar(raw);
            out.dir_auto = true;
        }
        Kind::Code => {
            out.text = scalar(raw);
            out.mono = true;
        }
        Kind::Bool => {
            let yes = raw.as_bool().unwrap_or(false);
            out.text = i18n::t(lang, if yes { "common.yes" } else { "common.no" }).to_string();
            out.badge = Some(if yes {
                "text-bg-success"
            } else {
                "text-bg-secondary"
            });
        }
        Kind::Choice => {
            let s = scalar(raw);
            out.badge = Some(badge_class(&s));
            out.text = choice_label(lang, &s);
        }
        Kind::DateTime => {
            out.text = raw
                .as_str()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|d| ctx.datetime(d.with_timezone(&Utc)))
                .unwrap_or_else(|| scalar(raw));
        }
        Kind::Date => {
            out.text = raw
                .as_str()
                .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
                .map(|d| i18n::date(lang, d))
                .unwrap_or_else(|| scalar(raw));
        }
        Kind::Number => {
            out.text = match raw.as_i64() {
                Some(n) => ctx.num(n),
                None => i18n::digits(lang, &scalar(raw)),
            };
        }
        Kind::Ref(src) => {
            let id = raw.as_str().and_then(|s| Uuid::parse_str(s).ok());
            out.text = id
                .and_then(|id| labels.get(src).and_then(|m| m.get(&id)).cloned())
                .unwrap_or_else(|| scalar(raw));
            out.dir_auto = true;
        }
        Kind::List => {
            out.text = raw
                .as_array()
                .map(|a| a.iter().map(scalar).collect::<Vec<_>>().join(", "))
                .unwrap_or_else(|| scalar(raw));
        }
        Kind::Json => {
            out.text = serde_json::to_string_pretty(raw).unwrap_or_default();
            out.pre = true;
        }
    }
    if out.text.is_empty() {
        out.text = "—".into();
    }
    out
}

/// A JSON scalar as text (strings without quotes).
pub fn scalar(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

/// Submitted or stored form values: field → values (several for multi-selects).
pub type FormValues = HashMap<String, Vec<String>>;

pub fn values_from_form(pairs: &[(String, String)]) -> FormValues {
    let mut out: FormValues = HashMap::new();
    for (k, v) in pairs {
        out.entry(k.clone()).or_default().push(v.clone());
    }
    out
}

pub fn values_from_object(fields: &[Field], v: &Value) -> FormValues {
    let mut out = FormValues::new();
    for f in fields {
        let raw = v.get(f.key).unwrap_or(&Value::Null);
        let vals = match raw {
            Value::Array(a) => a.iter().map(scalar).collect(),
            Value::Null => vec![],
            other => vec![scalar(other)],
        };
        out.insert(f.key.to_string(), vals);
    }
    out
}

/// The JSON body a form stands for, in the API's wire shape, plus the errors that can be found
/// without the service (a number that is not one). Fields not on this form are left out, so the
/// service's PATCH keeps them.
pub fn body_from_form(fields: &[Field], form: &FormValues, creating: bool) -> (Value, FieldErrors) {
    let mut body = serde_json::Map::new();
    let mut errors = FieldErrors::new();
    for f in fields {
        if f.create_only && !creating {
            continue;
        }
        let vals = form.get(f.key).cloned().unwrap_or_default();
        let first = vals
            .first()
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        let value = match &f.input {
            Input::Checkbox => Value::Bool(vals.iter().any(|v| v == "true" || v == "on")),
            Input::Multi(_) => Value::Array(
                vals.into_iter()
                    .filter(|v| !v.is_empty())
                    .map(Value::String)
                    .collect(),
            ),
            Input::Number { .. } => {
                if first.is_empty() {
                    if f.nullable {
                        Value::Null
                    } else {
                        continue;
                    }
                } else {
                    match first.parse::<i64>() {
                        Ok(n) => Value::from(n),
                        Err(_) => {
                            errors.add(f.key, "A valid integer is required.");
                            continue;
                        }
                    }
                }
            }
            Input::Select(_) | Input::Ref(_) if first.is_empty() => {
                if f.nullable && !f.required {
                    Value::Null
                } else {
                    // Absent: the service reports "required" on create and keeps the value on edit.
                    continue;
                }
            }
            Input::Password if first.is_empty() && !creating => continue,
            _ if first.is_empty() && f.nullable => Value::Null,
            _ => Value::String(first),
        };
        body.insert(f.key.to_string(), value);
    }
    (Value::Object(body), errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Vec<Field> {
        vec![
            Field::new("code", "f.code", Input::Text { max: 20 }).required(),
            Field::new("active", "f.active", Input::Checkbox),
            Field::new("parent", "f.parent", Input::Ref("department")),
            Field::new("beds", "f.beds", Input::Number { min: 0, max: 999 }),
            Field::new("channels", "f.channels", Input::Multi(&["SMS", "EMAIL"])),
            Field::new("email", "f.email", Input::Email),
        ]
    }

    #[test]
    fn a_form_becomes_the_api_body() {
        let form = values_from_form(&[
            ("code".into(), " CARD ".into()),
            ("active".into(), "true".into()),
            ("parent".into(), "".into()),
            ("beds".into(), "12".into()),
            ("channels".into(), "SMS".into()),
            ("channels".into(), "EMAIL".into()),
            ("email".into(), "".into()),
        ]);
        let (body, errors) = body_from_form(&fields(), &form, true);
        assert!(errors.is_empty());
        assert_eq!(
            body,
            serde_json::json!({"code": "CARD", "active": true, "parent": null, "beds": 12,
                "channels": ["SMS", "EMAIL"], "email": null})
        );
    }

    #[test]
    fn a_bad_number_is_reported_beside_its_field() {
        let form = values_from_form(&[("beds".into(), "twelve".into())]);
        let (_, errors) = body_from_form(&fields(), &form, true);
        assert_eq!(
            errors.0["beds"],
            vec!["A valid integer is required.".to_string()]
        );
    }

    #[test]
    fn an_unticked_checkbox_is_false() {
        let (body, _) = body_from_form(&fields(), &FormValues::new(), false);
        assert_eq!(body["active"], serde_json::json!(false));
    }
}
