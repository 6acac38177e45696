//! The message catalog and locale formatting. Every user-visible string of the console comes from
//! `locales/messages.toml`, where each key carries its English and Arabic text side by side
//! (`"nav.home" = ["Home", "الرئيسية"]`), so a string cannot exist in one language only.
//! Placeholders are `{name}`, filled by [`tf`].

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Lang {
    #[default]
    En,
    Ar,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ar => "ar",
        }
    }

    pub fn dir(self) -> &'static str {
        match self {
            Lang::En => "ltr",
            Lang::Ar => "rtl",
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Ar,
            Lang::Ar => Lang::En,
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        match code.trim().to_ascii_lowercase().as_str() {
            "en" => Some(Lang::En),
            "ar" => Some(Lang::Ar),
            _ => None,
        }
    }

    /// The first supported language of an `Accept-Language` header, honouring q-values.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut it = part.trim().split(';');
            let tag = it.next().unwrap_or("").trim();
            let q = it
                .find_map(|p| p.trim().strip_prefix("q=").map(str::to_string))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or("");
            if let Some(lang) = Lang::parse(primary)
                && best.is_none_or(|(bq, _)| q > bq)
            {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l)
    }
}

const CATALOG_SRC: &str = include_str!("../../locales/messages.toml");

/// key → [english, arabic]
static CATALOG: LazyLock<HashMap<String, [String; 2]>> = LazyLock::new(|| {
    match parse_catalog(CATALOG_SRC) {
        Ok(c) => c,
        Err(e) => {
            // The catalog is compiled in and checked by a unit test; this only guards a broken build.
            tracing::error!(error = %e, "message catalog is invalid");
            HashMap::new()
        }
    }
});

fn parse_catalog(src: &str) -> Result<HashMap<String, [String; 2]>, String> {
    let table: toml::Table = src.parse().map_err(|e| format!("{e}"))?;
    let mut out = HashMap::with_capacity(table.len());
    for (k, v) in table {
        let arr = v
            .as_array()
            .ok_or_else(|| format!("{k}: expected [english, arabic]"))?;
        let texts: Vec<&str> = arr.iter().filter_map(|x| x.as_str()).collect();
        if texts.len() != 2 || arr.len() != 2 {
            return Err(format!("{k}: expected exactly two strings"));
        }
        if texts.iter().any(|t| t.trim().is_empty()) {
            return Err(format!("{k}: empty text"));
        }
        out.insert(k, [texts[0].to_string(), texts[1].to_string()]);
    }
    Ok(out)
}

/// The text of `key` in `lang`; the key itself when missing (a unit test keeps templates and the
/// catalog in step, so this only shows during development).
pub fn t(lang: Lang, key: &str) -> &str {
    match CATALOG.get(key) {
        Some(pair) => match lang {
            Lang::En => &pair[0],
            Lang::Ar => &pair[1],
        },
        None => key,
    }
}

/// [`t`] for the lifetime of the program: a missing key (a bug the catalog test catches) is kept once
/// so it can still be shown.
pub fn t_static(lang: Lang, key: &str) -> &'static str {
    if let Some(pair) = CATALOG.get(key) {
        return match lang {
            Lang::En => &pair[0],
            Lang::Ar => &pair[1],
        };
    }
    static MISSING: LazyLock<std::sync::Mutex<std::collections::HashSet<&'static str>>> =
        LazyLock::new(Default::default);
    let Ok(mut seen) = MISSING.lock() else {
        return "?";
    };
    if let Some(k) = seen.get(key) {
        return k;
    }
    tracing::warn!(key, "message key missing from the catalog");
    let leaked: &'static str = Box::leak(key.to_string().into_boxed_str());
    seen.insert(leaked);
    leaked
}

/// Whether the catalog has `key` (for optional labels such as choice values).
pub fn has(key: &str) -> bool {
    CATALOG.contains_key(key)
}

/// [`t`] with `{name}` placeholders filled.
pub fn tf(lang: Lang, key: &str, args: &[(&str, &str)]) -> String {
    let mut s = t(lang, key).to_string();
    for (name, value) in args {
        s = s.replace(&format!("{{{name}}}"), value);
    }
    s
}

/// Digits in the locale's script: Arabic pages use Arabic-Indic digits, as Saudi users read them.
pub fn digits(lang: Lang, s: &str) -> String {
    match lang {
        Lang::En => s.to_string(),
        Lang::Ar => s
            .chars()
            .map(|c| match c {
                '0'..='9' => char::from_u32(0x0660 + (c as u32 - '0' as u32)).unwrap_or(c),
                ',' => '٬',
                '.' => '٫',
                _ => c,
            })
            .collect(),
    }
}

/// An integer with thousands separators, in the locale's digits.
pub fn number(lang: Lang, n: i64) -> String {
    let raw = n.unsigned_abs().to_string();
    let mut grouped = String::with_capacity(raw.len() + raw.len() / 3);
    for (i, c) in raw.chars().enumerate() {
        if i > 0 && (raw.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if n < 0 {
        grouped.insert(0, '-');
    }
    digits(lang, &grouped)
}

const MONTHS_EN: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const MONTHS_AR: [&str; 12] = [
    "يناير",
    "فبراير",
    "مارس",
    "أبريل",
    "مايو",
    "يونيو",
    "يوليو",
    "أغسطس",
    "سبتمبر",
    "أكتوبر",
    "نوفمبر",
    "ديسمبر",
];

/// A calendar date for display: `26 Nov 2026` / `٢٦ نوفمبر ٢٠٢٦`.
pub fn date(lang: Lang, d: NaiveDate) -> String {
    let m = d.month0() as usize;
    match lang {
        Lang::En => format!("{} {} {}", d.day(), MONTHS_EN[m], d.year()),
        Lang::Ar => digits(lang, &format!("{} {} {}", d.day(), MONTHS_AR[m], d.year())),
    }
}

/// A UTC instant shown in the hospital's time zone: `26 Nov 2026, 09:30`.
pub fn datetime(lang: Lang, at: DateTime<Utc>, tz: Tz) -> String {
    let local = at.with_timezone(&tz);
    let day = date(lang, local.date_naive());
    let hm = format!("{:02}:{:02}", local.hour(), local.minute());
    match lang {
        Lang::En => format!("{day}, {hm}"),
        Lang::Ar => format!("{day}، {}", digits(lang, &hm)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_parses_and_every_key_has_both_languages() {
        let c = parse_catalog(CATALOG_SRC).expect("catalog");
        assert!(c.len() > 50, "catalog unexpectedly small: {}", c.len());
        for (k, [en, ar]) in &c {
            assert!(!en.is_empty() && !ar.is_empty(), "{k}");
            // Arabic text must contain Arabic letters (catches a copy of the English left in place),
            // except for keys that are codes or symbols by nature.
            // The language switch names the *other* language, so its Arabic-page text is "English".
            if k != "lang.switch" {
                assert!(
                    ar.chars().any(|ch| ('\u{0600}'..='\u{06FF}').contains(&ch)),
                    "{k}: Arabic text has no Arabic letters: {ar}"
                );
            }
        }
    }

    #[test]
    fn a_broken_entry_is_reported() {
        assert!(parse_catalog("\"a\" = [\"x\"]").is_err());
        assert!(parse_catalog("\"a\" = [\"x\", \"\"]").is_err());
        assert!(parse_catalog("\"a\" = [\"x\", \"س\"]").is_ok());
    }

    #[test]
    fn every_key_used_in_templates_and_code_is_in_the_catalog() {
        let c = parse_catalog(CATALOG_SRC).expect("catalog");
        let mut missing = vec![];
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut stack = vec![root.join("templates"), root.join("src")];
        let re_like = ["t(\"", "tf(\"", "tf1(\"", "i18n_key!(\""];
        while let Some(dir) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                let Ok(text) = std::fs::read_to_string(&p) else {
                    continue;
                };
                for pat in re_like {
                    for (i, _) in text.match_indices(pat) {
                        // `asset("…")` is not `t("…")`: the call must start at a word boundary.
                        if text[..i]
                            .chars()
                            .next_back()
                            .is_some_and(|c| c.is_alphanumeric() || c == '_')
                        {
                            continue;
                        }
                        let rest = &text[i + pat.len()..];
                        if let Some(end) = rest.find('"') {
                            let key = &rest[..end];
                            // Only dotted catalog keys; `t("{x}")`-style dynamic keys are checked elsewhere.
                            if key.contains('.') && !key.contains(' ') && !c.contains_key(key) {
                                missing.push(format!("{}: {key}", p.display()));
                            }
                        }
                    }
                }
            }
        }
        missing.sort();
        missing.dedup();
        assert!(
            missing.is_empty(),
            "keys missing from locales/messages.toml:\n{}",
            missing.join("\n")
        );
    }

    #[test]
    fn accept_language_picks_the_best_supported_language() {
        assert_eq!(
            Lang::from_accept_language("ar-SA,ar;q=0.9,en;q=0.8"),
            Some(Lang::Ar)
        );
        assert_eq!(
            Lang::from_accept_language("fr-FR, en;q=0.5, ar;q=0.7"),
            Some(Lang::Ar)
        );
        assert_eq!(Lang::from_accept_language("de"), None);
    }

    #[test]
    fn numbers_and_dates_follow_the_locale() {
        assert_eq!(number(Lang::En, 1234567), "1,234,567");
        assert_eq!(number(Lang::Ar, 1234), "١٬٢٣٤");
        let at = DateTime::parse_from_rfc3339("2026-11-26T06:30:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let tz: Tz = "Asia/Riyadh".parse().expect("tz");
        assert_eq!(datetime(Lang::En, at, tz), "26 Nov 2026, 09:30");
        assert_eq!(datetime(Lang::Ar, at, tz), "٢٦ نوفمبر ٢٠٢٦، ٠٩:٣٠");
    }
}
