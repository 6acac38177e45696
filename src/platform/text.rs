//! Text normalisation for search: Arabic letter forms folded together so that the spellings people
//! actually type ("أحمد", "احمد", "إحمد") find the same record.

/// Folds Arabic letter variants and removes diacritics and tatweel; lower-cases everything else.
///
/// * hamza/madda/wasla alef forms أ إ آ ٱ → ا; ة → ه; ى → ي; ؤ → و; ئ → ي
/// * removes harakat and Quranic marks U+064B–U+065F, superscript alef U+0670 and tatweel U+0640
/// * Arabic-Indic and extended Arabic-Indic digits become ASCII digits (MRNs are typed both ways)
/// * runs of whitespace become one space; leading and trailing whitespace is dropped
pub fn normalize_arabic(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        let mapped = match c {
            '\u{0623}' | '\u{0625}' | '\u{0622}' | '\u{0671}' => Some('\u{0627}'),
            '\u{0629}' => Some('\u{0647}'),
            '\u{0649}' | '\u{0626}' => Some('\u{064A}'),
            '\u{0624}' => Some('\u{0648}'),
            '\u{064B}'..='\u{065F}' | '\u{0670}' | '\u{0640}' => None,
            '\u{0660}'..='\u{0669}' => char::from_digit(c as u32 - 0x0660, 10),
            '\u{06F0}'..='\u{06F9}' => char::from_digit(c as u32 - 0x06F0, 10),
            other => Some(other),
        };
        let Some(m) = mapped else { continue };
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.extend(m.to_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::normalize_arabic as n;

    #[test]
    fn hamza_forms_of_alef_fold_to_bare_alef() {
        assert_eq!(n("أحمد"), "احمد");
        assert_eq!(n("إحمد"), "احمد");
        assert_eq!(n("آمنة"), "امنه");
        assert_eq!(n("ٱلله"), "الله");
    }

    #[test]
    fn taa_marbuta_alef_maqsura_and_hamza_seats_fold() {
        assert_eq!(n("فاطمة"), "فاطمه");
        assert_eq!(n("مصطفى"), "مصطفي");
        assert_eq!(n("مؤمن"), "مومن");
        assert_eq!(n("هيئة"), "هييه");
    }

    #[test]
    fn diacritics_and_tatweel_are_removed() {
        assert_eq!(n("مُحَمَّد"), "محمد");
        assert_eq!(n("محـــمد"), "محمد");
        assert_eq!(n("هٰذا"), "هذا");
    }

    #[test]
    fn latin_is_lower_cased_digits_folded_and_spaces_collapsed() {
        assert_eq!(n("  MRN-١٢٣  Ahmed   AL-Harbi "), "mrn-123 ahmed al-harbi");
        assert_eq!(n("۴۵"), "45");
    }
}
