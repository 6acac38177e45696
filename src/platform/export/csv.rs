//! CSV export: UTF-8 with a byte-order mark (without it Excel reads the file as the ANSI code page and
//! Arabic turns into mojibake), RFC 4180 quoting, CRLF line ends, formula injection neutralised.

use std::borrow::Cow;

use super::{Cell, DATE_FORMAT, DATETIME_FORMAT, Table, aligned};

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The table as CSV: a BOM, the header row, then one record per row. The title is not written, so the
/// first line is always the header row and the file can be imported again.
///
/// Text cells that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab or
/// carriage return) are prefixed with `'`; see [`neutralise`]. Numbers and dates are written plainly
/// (`1234`, `0.5`, `2025-01-31`, `2025-01-31 14:05:00`); booleans as `TRUE`/`FALSE`.
pub fn to_csv(t: &Table) -> Vec<u8> {
    let mut w = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::CRLF)
        .quote_style(::csv::QuoteStyle::Necessary)
        .from_writer(Vec::with_capacity(64 * (t.rows.len() + 1)));
    let width = t.headers.len();
    // Writing into a Vec cannot fail, and every record has `width` fields so the writer's length check
    // cannot fail either; the errors are ignored rather than unwrapped.
    let mut record: Vec<Cow<'_, str>> = t.headers.iter().map(|h| neutralise(h)).collect();
    let _ = w.write_record(record.iter().map(|f| f.as_bytes()));
    for row in &t.rows {
        record.clear();
        record.extend(aligned(row, width).map(field));
        let _ = w.write_record(record.iter().map(|f| f.as_bytes()));
    }
    let _ = w.flush();
    let body = w.get_ref();
    let mut out = Vec::with_capacity(UTF8_BOM.len() + body.len());
    out.extend_from_slice(UTF8_BOM);
    out.extend_from_slice(body);
    out
}

fn field(c: &Cell) -> Cow<'_, str> {
    match c {
        Cell::Text(s) => neutralise(s),
        Cell::Number(n) if n.is_finite() => Cow::Owned(n.to_string()),
        Cell::Number(_) | Cell::Empty => Cow::Borrowed(""),
        Cell::Int(i) => Cow::Owned(i.to_string()),
        Cell::Bool(true) => Cow::Borrowed("TRUE"),
        Cell::Bool(false) => Cow::Borrowed("FALSE"),
        Cell::Date(d) => Cow::Owned(d.format(DATE_FORMAT).to_string()),
        Cell::DateTime(dt) => Cow::Owned(dt.format(DATETIME_FORMAT).to_string()),
    }
}

/// Guards against CSV/formula injection (OWASP): text starting with `=`, `+`, `-`, `@`, tab or carriage
/// return gets a leading `'` so a spreadsheet shows it as text instead of evaluating it.
///
/// Exception: a sign followed only by digits (and at most one decimal point), such as an E.164 phone
/// number `+966501234567` or `-5`, is left alone: it cannot call a function or reach another
/// application, and prefixing it would corrupt every phone number in an export.
fn neutralise(s: &str) -> Cow<'_, str> {
    match s.as_bytes().first() {
        Some(b'+' | b'-') if is_signed_number(s) => Cow::Borrowed(s),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => Cow::Owned(format!("'{s}")),
        _ => Cow::Borrowed(s),
    }
}

fn is_signed_number(s: &str) -> bool {
    let digits = &s[1..];
    let mut dots = 0;
    !digits.is_empty()
        && digits.bytes().all(|b| match b {
            b'0'..=b'9' => true,
            b'.' => {
                dots += 1;
                dots == 1
            }
            _ => false,
        })
        && digits.bytes().any(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn table(headers: &[&str], rows: Vec<Vec<Cell>>) -> Table {
        Table {
            title: "t".into(),
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows,
            rtl: false,
        }
    }

    fn text(bytes: &[u8]) -> &str {
        std::str::from_utf8(bytes).expect("utf-8")
    }

    #[test]
    fn csv_starts_with_a_bom_and_keeps_arabic_intact() {
        let t = table(
            &["الاسم", "MRN"],
            vec![vec!["محمد عبدالله".into(), Cell::Int(1234)]],
        );
        let out = to_csv(&t);
        assert!(out.starts_with(UTF8_BOM));
        assert_eq!(text(&out[3..]), "الاسم,MRN\r\nمحمد عبدالله,1234\r\n");
    }

    #[test]
    fn fields_with_commas_quotes_and_newlines_are_quoted_per_rfc_4180() {
        let t = table(
            &["comment"],
            vec![
                vec!["late, rude".into()],
                vec!["he said \"no\"".into()],
                vec!["line 1\nline 2".into()],
            ],
        );
        assert_eq!(
            text(&to_csv(&t)[3..]),
            "comment\r\n\"late, rude\"\r\n\"he said \"\"no\"\"\"\r\n\"line 1\nline 2\"\r\n"
        );
    }

    #[test]
    fn formula_like_text_is_prefixed_with_an_apostrophe() {
        for (input, expected) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("-", "'-"),
            ("+", "'+"),
            ("a=b", "a=b"),
            ("", ""),
            ("+966501234567", "+966501234567"),
            ("-5", "-5"),
            ("-0.25", "-0.25"),
            ("-1.2.3", "'-1.2.3"),
            ("+.", "'+."),
        ] {
            assert_eq!(neutralise(input), expected, "input {input:?}");
        }
    }

    #[test]
    fn headers_are_guarded_too_and_numbers_are_not() {
        let t = table(&["=x"], vec![vec![Cell::Number(-1.5)], vec![Cell::Int(-7)]]);
        assert_eq!(text(&to_csv(&t)[3..]), "'=x\r\n-1.5\r\n-7\r\n");
    }

    #[test]
    fn typed_cells_are_written_plainly() {
        let d = NaiveDate::from_ymd_opt(2025, 1, 31).expect("date");
        let dt = d.and_hms_opt(14, 5, 0).expect("time");
        let t = table(
            &["a", "b", "c", "d", "e", "f", "g"],
            vec![vec![
                Cell::Number(1234.0),
                Cell::Number(0.1),
                Cell::Number(f64::NAN),
                Cell::Bool(true),
                Cell::Date(d),
                Cell::DateTime(dt),
                Cell::Empty,
            ]],
        );
        assert_eq!(
            text(&to_csv(&t)[3..]),
            "a,b,c,d,e,f,g\r\n1234,0.1,,TRUE,2025-01-31,2025-01-31 14:05:00,\r\n"
        );
    }

    #[test]
    fn ragged_rows_are_padded_or_cut_to_the_header_width() {
        let t = table(
            &["a", "b"],
            vec![vec!["1".into()], vec!["1".into(), "2".into(), "3".into()]],
        );
        assert_eq!(text(&to_csv(&t)[3..]), "a,b\r\n1,\r\n1,2\r\n");
    }
}
