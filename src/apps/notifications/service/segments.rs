//! SMS segment arithmetic (3GPP TS 23.038): a message that fits the GSM 7-bit alphabet costs
//! 160 septets in one segment or 153 per segment when concatenated (the user-data header takes 7);
//! anything else (Arabic) is sent as UCS-2: 70 UTF-16 units in one segment, 67 per concatenated one.

/// The GSM 03.38 basic character set (one septet each).
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u{1b}ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// The extension table: escape + character, two septets each.
const GSM7_EXTENDED: &str = "^{}\\[~]|€\u{c}";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsEncoding {
    Gsm7,
    Ucs2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmsSegments {
    pub encoding: SmsEncoding,
    /// Septets (GSM-7) or UTF-16 code units (UCS-2).
    pub units: usize,
    pub segments: usize,
}

/// The encoding and number of segments `text` needs.
pub fn sms_segments(text: &str) -> SmsSegments {
    let mut septets = 0usize;
    let mut gsm = true;
    for ch in text.chars() {
        if GSM7_BASIC.contains(ch) {
            septets += 1;
        } else if GSM7_EXTENDED.contains(ch) {
            septets += 2;
        } else {
            gsm = false;
            break;
        }
    }
    let (encoding, units, single, multi) = if gsm {
        (SmsEncoding::Gsm7, septets, 160, 153)
    } else {
        (SmsEncoding::Ucs2, text.encode_utf16().count(), 70, 67)
    };
    let segments = if units == 0 {
        0
    } else if units <= single {
        1
    } else {
        units.div_ceil(multi)
    };
    SmsSegments {
        encoding,
        units,
        segments,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gsm7_boundaries_are_160_then_153_per_segment() {
        assert_eq!(sms_segments("").segments, 0);
        assert_eq!(sms_segments(&"a".repeat(160)).segments, 1);
        assert_eq!(sms_segments(&"a".repeat(161)).segments, 2);
        assert_eq!(sms_segments(&"a".repeat(306)).segments, 2);
        assert_eq!(sms_segments(&"a".repeat(307)).segments, 3);
        assert_eq!(sms_segments("a").encoding, SmsEncoding::Gsm7);
    }

    #[test]
    fn extension_characters_cost_two_septets() {
        let s = sms_segments(&format!("{}€", "a".repeat(158)));
        assert_eq!((s.units, s.segments), (160, 1));
        let s = sms_segments(&format!("{}[", "a".repeat(159)));
        assert_eq!((s.units, s.segments), (161, 2));
    }

    #[test]
    fn arabic_is_ucs2_with_70_then_67_per_segment() {
        let a = "ب".repeat(70);
        assert_eq!(
            sms_segments(&a),
            SmsSegments {
                encoding: SmsEncoding::Ucs2,
                units: 70,
                segments: 1
            }
        );
        assert_eq!(sms_segments(&"ب".repeat(71)).segments, 2);
        assert_eq!(sms_segments(&"ب".repeat(134)).segments, 2);
        assert_eq!(sms_segments(&"ب".repeat(135)).segments, 3);
        // One Arabic letter turns a Latin message into UCS-2.
        let mixed = format!("{}ب", "a".repeat(69));
        assert_eq!(sms_segments(&mixed).encoding, SmsEncoding::Ucs2);
        // A character outside the BMP takes two UTF-16 units.
        assert_eq!(sms_segments("😀").units, 2);
    }
}
