//! HL7 v2 (ER7) messages: parsing the fields PX360 uses and building the ACK. Pure functions, no I/O.
//!
//! Parsing uses the `hl7-parser` crate (maintained, builds on our toolchain; the `hl7` crate needs a
//! newer Rust), with lenient newlines so CR, LF and CRLF all separate segments.
//!
//! | field | use |
//! |---|---|
//! | MSH-3 | source system (sending application) |
//! | MSH-4 / MSH-6 | sending / receiving facility (MSH-6 may name the hospital code) |
//! | MSH-9 | message type, e.g. `ADT^A04` — the external event code looked up in event mappings |
//! | MSH-10 | message control id — the event's `external_id` (deduplication) and echoed in the ACK |
//! | MSH-12 | version, echoed in the ACK |
//! | EVN-2 / MSH-7 | when it happened |
//! | PID-3 | MRN (`patient_identifier`); PID-5 name, PID-7 birth date, PID-8 sex, PID-13 phone |
//! | PV1-19 | visit number — the `encounter_id` |
//! | PV1-7 | attending doctor (first component: licence number) |
//! | PV1-3 / PV1-10 | point of care / hospital service — the department code |
//! | MRG-1 | prior MRN of a merge (A40) |

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use hl7_parser::Message;
use hl7_parser::datetime::parse_timestamp;
use serde_json::{Value, json};

/// Message types PX360 acts on (anything else is stored and ignored unless mapped).
pub const SUPPORTED: &[&str] = &[
    "ADT^A01", "ADT^A03", "ADT^A04", "ADT^A08", "ADT^A11", "ADT^A13", "ADT^A40", "ORU^R01",
    "RDE^O11", "RDS^O13",
];

/// Types about a patient, not a visit: no PV1-19 needed.
const PATIENT_LEVEL: &[&str] = &["ADT^A08", "ADT^A40"];

/// A time as sent: with its own offset, or local to the sender (resolved with the hospital's zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hl7Time {
    Fixed(DateTime<Utc>),
    Local(NaiveDateTime),
}

impl Hl7Time {
    pub fn resolve(self, tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
        match self {
            Hl7Time::Fixed(t) => Some(t),
            Hl7Time::Local(n) => tz
                .from_local_datetime(&n)
                .earliest()
                .map(|t| t.with_timezone(&Utc)),
        }
    }
}

/// The parts of a message PX360 uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Hl7Event {
    pub sending_application: String,
    pub sending_facility: String,
    pub receiving_application: String,
    pub receiving_facility: String,
    /// `ADT^A04`
    pub message_type: String,
    pub control_id: String,
    pub processing_id: String,
    pub version: String,
    pub occurred_at: Option<Hl7Time>,
    pub mrn: Option<String>,
    pub family_name: Option<String>,
    pub given_name: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    /// MALE, FEMALE or UNKNOWN
    pub gender: Option<String>,
    pub phone: Option<String>,
    pub visit_number: Option<String>,
    pub physician_license: Option<String>,
    pub department_code: Option<String>,
    pub prior_mrn: Option<String>,
}

impl Hl7Event {
    /// What is stored in `payload_json` next to the raw message.
    pub fn payload(&self, raw: &str) -> Value {
        json!({
            "raw": raw,
            "message_type": self.message_type,
            "control_id": self.control_id,
            "sending_facility": self.sending_facility,
            "physician_license": self.physician_license,
            "department_code": self.department_code,
            "prior_mrn": self.prior_mrn,
            "patient": {
                "mrn": self.mrn,
                "family_name": self.family_name,
                "given_name": self.given_name,
                "date_of_birth": self.date_of_birth,
                "gender": self.gender,
                "phone": self.phone,
            },
        })
    }
}

/// Why a message was not accepted: `Reject` (AR, not understood at all) or `Error` (AE, understood
/// but missing something PX360 needs). Either way the sender gets the reason in MSA-3 / ERR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hl7Problem {
    Reject(String),
    Error(String),
}

impl Hl7Problem {
    pub fn message(&self) -> &str {
        match self {
            Hl7Problem::Reject(m) | Hl7Problem::Error(m) => m,
        }
    }
}

/// Just the header, for an ACK to a message that failed later checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    pub sending_application: String,
    pub sending_facility: String,
    pub receiving_application: String,
    pub receiving_facility: String,
    pub message_type: String,
    pub control_id: String,
    pub version: String,
}

fn text(msg: &Message<'_>, v: &str) -> String {
    msg.separators.decode(v).to_string().trim().to_string()
}

fn opt(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn field(msg: &Message<'_>, seg: &str, n: usize) -> String {
    msg.segment(seg)
        .and_then(|s| s.field(n))
        .map(|f| text(msg, f.raw_value()))
        .unwrap_or_default()
}

fn component(msg: &Message<'_>, seg: &str, n: usize, c: usize) -> String {
    msg.segment(seg)
        .and_then(|s| s.field(n))
        .and_then(|f| f.repeat(1))
        .and_then(|r| r.component(c))
        .map(|v| text(msg, v.raw_value()))
        .unwrap_or_default()
}

fn time(raw: &str) -> Option<Hl7Time> {
    if raw.is_empty() {
        return None;
    }
    let ts = parse_timestamp(raw, true).ok()?;
    let naive: NaiveDateTime = ts.try_into().ok()?;
    match ts.offset {
        Some(o) => {
            let secs =
                i32::from(o.hours) * 3600 + i32::from(o.hours.signum()) * i32::from(o.minutes) * 60;
            let off = FixedOffset::east_opt(secs)?;
            off.from_local_datetime(&naive)
                .single()
                .map(|t| Hl7Time::Fixed(t.with_timezone(&Utc)))
        }
        None => Some(Hl7Time::Local(naive)),
    }
}

fn normalise(raw: &str) -> String {
    // Some senders wrap the message in whitespace or blank lines; segments may end in CR, LF or CRLF.
    raw.trim_matches(|c: char| c.is_whitespace() || c == '\u{0b}' || c == '\u{1c}')
        .to_string()
}

/// Whatever of the header can be read, even from a message that fails [`parse`].
pub fn header(raw: &str) -> Header {
    let raw = normalise(raw);
    let Ok(msg) = hl7_parser::parse_message_with_lenient_newlines(&raw) else {
        return Header::default();
    };
    Header {
        sending_application: component(&msg, "MSH", 3, 1),
        sending_facility: component(&msg, "MSH", 4, 1),
        receiving_application: component(&msg, "MSH", 5, 1),
        receiving_facility: component(&msg, "MSH", 6, 1),
        message_type: message_type(&msg),
        control_id: field(&msg, "MSH", 10),
        version: component(&msg, "MSH", 12, 1),
    }
}

fn message_type(msg: &Message<'_>) -> String {
    let code = component(msg, "MSH", 9, 1).to_ascii_uppercase();
    let trigger = component(msg, "MSH", 9, 2).to_ascii_uppercase();
    if trigger.is_empty() {
        code
    } else {
        format!("{code}^{trigger}")
    }
}

/// Parses one message.
///
/// # Errors
/// [`Hl7Problem::Reject`] when it is not an HL7 v2 message at all; [`Hl7Problem::Error`] when a field
/// PX360 needs is missing (MSH-3, MSH-9, MSH-10, PID-3, and PV1-19 for visit-level types, MRG-1 for
/// A40).
pub fn parse(raw: &str) -> Result<Hl7Event, Hl7Problem> {
    let raw = normalise(raw);
    if !raw.starts_with("MSH") {
        return Err(Hl7Problem::Reject(
            "not an HL7 v2 message: it must start with an MSH segment".into(),
        ));
    }
    let msg = hl7_parser::parse_message_with_lenient_newlines(&raw)
        .map_err(|e| Hl7Problem::Reject(format!("malformed HL7 v2 message: {e}")))?;
    let mut missing = vec![];
    let sending_application = component(&msg, "MSH", 3, 1);
    if sending_application.is_empty() {
        missing.push("MSH-3 (sending application)");
    }
    let message_type = message_type(&msg);
    if !message_type.contains('^') {
        missing.push("MSH-9 (message type with trigger event)");
    }
    let control_id = field(&msg, "MSH", 10);
    if control_id.is_empty() {
        missing.push("MSH-10 (message control id)");
    }
    let mrn = opt(component(&msg, "PID", 3, 1));
    if mrn.is_none() {
        missing.push("PID-3 (patient identifier)");
    }
    let visit_number = opt(component(&msg, "PV1", 19, 1));
    if visit_number.is_none() && !PATIENT_LEVEL.contains(&message_type.as_str()) {
        missing.push("PV1-19 (visit number)");
    }
    let prior_mrn = opt(component(&msg, "MRG", 1, 1));
    if message_type == "ADT^A40" && prior_mrn.is_none() {
        missing.push("MRG-1 (prior patient identifier)");
    }
    if !missing.is_empty() {
        return Err(Hl7Problem::Error(format!("missing {}", missing.join(", "))));
    }
    let occurred_at =
        time(&component(&msg, "EVN", 2, 1)).or_else(|| time(&component(&msg, "MSH", 7, 1)));
    let department = opt(component(&msg, "PV1", 3, 1)).or_else(|| opt(field(&msg, "PV1", 10)));
    Ok(Hl7Event {
        sending_application,
        sending_facility: component(&msg, "MSH", 4, 1),
        receiving_application: component(&msg, "MSH", 5, 1),
        receiving_facility: component(&msg, "MSH", 6, 1),
        message_type,
        control_id,
        processing_id: component(&msg, "MSH", 11, 1),
        version: component(&msg, "MSH", 12, 1),
        occurred_at,
        mrn,
        family_name: opt(component(&msg, "PID", 5, 1)),
        given_name: opt(component(&msg, "PID", 5, 2)),
        date_of_birth: time(&component(&msg, "PID", 7, 1)).map(|t| match t {
            Hl7Time::Fixed(t) => t.date_naive(),
            Hl7Time::Local(n) => n.date(),
        }),
        gender: match component(&msg, "PID", 8, 1).to_ascii_uppercase().as_str() {
            "M" => Some("MALE".into()),
            "F" => Some("FEMALE".into()),
            "" => None,
            _ => Some("UNKNOWN".into()),
        },
        phone: opt(component(&msg, "PID", 13, 1)),
        visit_number,
        physician_license: opt(component(&msg, "PV1", 7, 1)),
        department_code: department,
        prior_mrn,
    })
}

/// Acknowledgement codes (MSA-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckCode {
    /// Accepted (stored; processing follows).
    Accept,
    /// Application error: understood but not acceptable.
    Error,
    /// Rejected: not understood.
    Reject,
}

impl AckCode {
    pub fn as_str(self) -> &'static str {
        match self {
            AckCode::Accept => "AA",
            AckCode::Error => "AE",
            AckCode::Reject => "AR",
        }
    }
}

/// Escapes the HL7 delimiters in free text placed in a field.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\E\\"),
            '|' => out.push_str("\\F\\"),
            '^' => out.push_str("\\S\\"),
            '&' => out.push_str("\\T\\"),
            '~' => out.push_str("\\R\\"),
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The ACK for a message: MSH with sender and receiver swapped, MSA echoing MSH-10, and an ERR segment
/// with the reason when not accepted. Segments end in CR.
pub fn ack(h: &Header, code: AckCode, text: &str, now: DateTime<Utc>, ack_id: &str) -> String {
    let trigger = h.message_type.split('^').nth(1).unwrap_or("");
    let version = if h.version.is_empty() {
        "2.5"
    } else {
        &h.version
    };
    let mut out = format!(
        "MSH|^~\\&|PX360|{}|{}|{}|{}||ACK^{}^ACK|{}|P|{}\rMSA|{}|{}|{}\r",
        escape(&h.receiving_facility),
        escape(&h.sending_application),
        escape(&h.sending_facility),
        now.format("%Y%m%d%H%M%S"),
        escape(trigger),
        escape(ack_id),
        escape(version),
        code.as_str(),
        escape(&h.control_id),
        escape(text),
    );
    if code != AckCode::Accept {
        // ERR-3 error code 207 (application internal error) / 100 (segment sequence error) is overkill;
        // ERR-4 severity E and ERR-8 user message carry the reason.
        out.push_str(&format!("ERR|||207|E||||{}\r", escape(text)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const A04: &str = "MSH|^~\\&|HIS|RUH|PX360|HH-RUH|20260105093000+0300||ADT^A04|MSG0001|P|2.5\r\
EVN|A04|20260105093000+0300\r\
PID|1||MRN001^^^RUH^MR||Al-Harbi^Mohammed||19800203|M|||||+966501234567\r\
PV1|1|O|CARD^^^RUH||||PHY001^Haddad^Omar|||CARD|||||||||ENC123\r";

    #[test]
    fn an_adt_a04_is_read_field_by_field() {
        let e = parse(A04).unwrap();
        assert_eq!(e.sending_application, "HIS");
        assert_eq!(e.receiving_facility, "HH-RUH");
        assert_eq!(e.message_type, "ADT^A04");
        assert_eq!(e.control_id, "MSG0001");
        assert_eq!(e.mrn.as_deref(), Some("MRN001"));
        assert_eq!(e.visit_number.as_deref(), Some("ENC123"));
        assert_eq!(e.physician_license.as_deref(), Some("PHY001"));
        assert_eq!(e.department_code.as_deref(), Some("CARD"));
        assert_eq!(e.family_name.as_deref(), Some("Al-Harbi"));
        assert_eq!(e.given_name.as_deref(), Some("Mohammed"));
        assert_eq!(e.gender.as_deref(), Some("MALE"));
        assert_eq!(e.date_of_birth, NaiveDate::from_ymd_opt(1980, 2, 3));
        let t = e
            .occurred_at
            .unwrap()
            .resolve(chrono_tz::Asia::Riyadh)
            .unwrap();
        assert_eq!(t.to_rfc3339(), "2026-01-05T06:30:00+00:00");
    }

    #[test]
    fn line_feeds_and_crlf_separate_segments_too() {
        for sep in ["\n", "\r\n"] {
            let e = parse(&A04.replace('\r', sep)).unwrap();
            assert_eq!(e.visit_number.as_deref(), Some("ENC123"));
        }
    }

    #[test]
    fn local_times_use_the_hospital_zone() {
        let e = parse(&A04.replace("+0300", "")).unwrap();
        let t = e
            .occurred_at
            .unwrap()
            .resolve(chrono_tz::Asia::Riyadh)
            .unwrap();
        assert_eq!(t.to_rfc3339(), "2026-01-05T06:30:00+00:00");
    }

    #[test]
    fn garbage_is_rejected_and_missing_fields_are_errors() {
        assert!(matches!(parse("hello world"), Err(Hl7Problem::Reject(_))));
        assert!(matches!(parse(""), Err(Hl7Problem::Reject(_))));
        let no_visit = A04.replace("ENC123", "");
        match parse(&no_visit) {
            Err(Hl7Problem::Error(m)) => assert!(m.contains("PV1-19"), "{m}"),
            other => panic!("{other:?}"),
        }
        let no_id = A04.replace("MSG0001", "");
        assert!(matches!(parse(&no_id), Err(Hl7Problem::Error(m)) if m.contains("MSH-10")));
    }

    #[test]
    fn a40_needs_the_prior_mrn_but_no_visit() {
        let a40 = "MSH|^~\\&|HIS|RUH|PX360|HH-RUH|20260105093000||ADT^A40|M40|P|2.5\rPID|1||MRN002\rMRG|MRN001\r";
        let e = parse(a40).unwrap();
        assert_eq!(e.prior_mrn.as_deref(), Some("MRN001"));
        assert!(e.visit_number.is_none());
        let bad = a40.replace("MRG|MRN001\r", "");
        assert!(matches!(parse(&bad), Err(Hl7Problem::Error(_))));
    }

    #[test]
    fn the_ack_echoes_the_control_id_and_escapes_text() {
        let h = header(A04);
        let now = DateTime::parse_from_rfc3339("2026-01-05T07:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let a = ack(&h, AckCode::Accept, "accepted", now, "ACK1");
        assert!(
            a.starts_with(
                "MSH|^~\\&|PX360|HH-RUH|HIS|RUH|20260105070000||ACK^A04^ACK|ACK1|P|2.5\r"
            ),
            "{a}"
        );
        assert!(a.contains("\rMSA|AA|MSG0001|accepted\r"), "{a}");
        let e = ack(&h, AckCode::Error, "bad | value", now, "ACK2");
        assert!(e.contains("MSA|AE|MSG0001|bad \\F\\ value\r"), "{e}");
        assert!(e.contains("\rERR|"), "{e}");
        // The ACK itself parses.
        assert!(hl7_parser::parse_message_with_lenient_newlines(a.trim_end()).is_ok());
    }
}
