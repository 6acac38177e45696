//! XLSX export with rust_xlsxwriter in "constant memory" mode: rows are streamed to a temporary file as
//! they are written, so a 100k-row export costs the output size, not a cell tree per row.

use anyhow::{Context, bail};
use rust_xlsxwriter::{Color, Format, FormatBorder, Workbook, Worksheet};

use super::{Cell, Table, aligned};

/// Excel's hard limits.
const MAX_ROWS: usize = 1_048_576;
const MAX_COLS: usize = 16_384;
const MAX_CELL_CHARS: usize = 32_767;
const MAX_SHEET_NAME_CHARS: usize = 31;
/// Integers beyond ±2^53 lose digits as an Excel number; they are written as text instead.
const MAX_EXACT_INT: i64 = 1 << 53;
/// Column widths are estimated from the header and this many leading rows.
const WIDTH_SAMPLE_ROWS: usize = 500;
const MIN_WIDTH: f64 = 8.0;
const MAX_WIDTH: f64 = 60.0;

/// The table as an XLSX workbook with one sheet named after the title: a bold header row that stays
/// frozen while scrolling, an autofilter over all columns, column widths estimated from the content,
/// numbers as numbers, dates and date-times as real Excel dates (`yyyy-mm-dd`, `yyyy-mm-dd hh:mm`), and
/// a right-to-left sheet when `t.rtl`.
///
/// Text is always written as a string value, never as a formula, so `=...` in user data cannot run.
/// Text longer than Excel's 32,767-character cell limit is cut to fit; non-finite numbers are left blank.
///
/// # Errors
/// The table has more rows or columns than an Excel sheet holds (1,048,576 × 16,384), or the temporary
/// file used for streaming rows cannot be created or written.
pub fn to_xlsx(t: &Table) -> anyhow::Result<Vec<u8>> {
    if t.rows.len() + 1 > MAX_ROWS {
        bail!(
            "{} rows do not fit in one Excel sheet (at most {})",
            t.rows.len(),
            MAX_ROWS - 1
        );
    }
    if t.headers.len() > MAX_COLS {
        bail!(
            "{} columns do not fit in one Excel sheet (at most {MAX_COLS})",
            t.headers.len()
        );
    }

    let mut workbook = Workbook::new();
    let header_fmt = Format::new()
        .set_bold()
        .set_background_color(Color::RGB(0x00E7_EEF5))
        .set_border_bottom(FormatBorder::Thin);
    let date_fmt = Format::new().set_num_format("yyyy-mm-dd");
    let datetime_fmt = Format::new().set_num_format("yyyy-mm-dd hh:mm");
    // "General" shows long integers (phone numbers, national IDs) in scientific notation.
    let int_fmt = Format::new().set_num_format("0");

    let sheet = workbook
        .add_worksheet_with_constant_memory()
        .context("creating the temporary file for the XLSX sheet")?;
    sheet
        .set_name(sheet_name(&t.title))
        .context("naming the XLSX sheet")?;
    sheet.set_right_to_left(t.rtl);

    let width = t.headers.len();
    for (col, w) in column_widths(t).into_iter().enumerate() {
        sheet.set_column_width(col_num(col)?, w)?;
    }
    for (col, h) in t.headers.iter().enumerate() {
        sheet.write_string_with_format(0, col_num(col)?, fit(h), &header_fmt)?;
    }
    if width > 0 {
        sheet.set_freeze_panes(1, 0)?;
        sheet.autofilter(0, 0, row_num(t.rows.len())?, col_num(width - 1)?)?;
    }

    for (r, row) in t.rows.iter().enumerate() {
        let r = row_num(r + 1)?;
        for (c, cell) in aligned(row, width).enumerate() {
            let c = col_num(c)?;
            write_cell(sheet, r, c, cell, &date_fmt, &datetime_fmt, &int_fmt)?;
        }
    }

    workbook.save_to_buffer().context("writing the XLSX file")
}

fn write_cell(
    sheet: &mut Worksheet,
    r: u32,
    c: u16,
    cell: &Cell,
    date_fmt: &Format,
    datetime_fmt: &Format,
    int_fmt: &Format,
) -> anyhow::Result<()> {
    match cell {
        Cell::Text(s) if s.is_empty() => {}
        Cell::Text(s) => {
            sheet.write_string(r, c, fit(s))?;
        }
        Cell::Number(n) if n.is_finite() => {
            sheet.write_number(r, c, *n)?;
        }
        Cell::Number(_) | Cell::Empty => {}
        Cell::Int(i) if (-MAX_EXACT_INT..=MAX_EXACT_INT).contains(i) => {
            #[allow(clippy::cast_precision_loss)] // exact within ±2^53, checked above
            sheet.write_number_with_format(r, c, *i as f64, int_fmt)?;
        }
        Cell::Int(i) => {
            sheet.write_string(r, c, i.to_string())?;
        }
        Cell::Bool(b) => {
            sheet.write_boolean(r, c, *b)?;
        }
        Cell::Date(d) => {
            sheet.write_date_with_format(r, c, d, date_fmt)?;
        }
        Cell::DateTime(dt) => {
            sheet.write_datetime_with_format(r, c, dt, datetime_fmt)?;
        }
    }
    Ok(())
}

fn row_num(r: usize) -> anyhow::Result<u32> {
    u32::try_from(r).context("row number out of range")
}

fn col_num(c: usize) -> anyhow::Result<u16> {
    u16::try_from(c).context("column number out of range")
}

/// Cuts text to Excel's cell limit (on a character boundary).
fn fit(s: &str) -> &str {
    match s.char_indices().nth(MAX_CELL_CHARS) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// A valid sheet name: no `[ ] : * ? / \`, no leading or trailing `'`, at most 31 characters, not blank.
fn sheet_name(title: &str) -> String {
    let cleaned: String = title
        .chars()
        .filter(|c| !matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\') && !c.is_control())
        .take(MAX_SHEET_NAME_CHARS)
        .collect();
    let cleaned = cleaned.trim().trim_matches('\'').trim();
    // "History" is reserved by Excel.
    if cleaned.is_empty() || cleaned.eq_ignore_ascii_case("history") {
        "Sheet1".to_owned()
    } else {
        cleaned.to_owned()
    }
}

/// Width in Excel character units: the longest of the header and the first rows, plus padding.
fn column_widths(t: &Table) -> Vec<f64> {
    let mut widths: Vec<usize> = t
        .headers
        .iter()
        // The header also carries the autofilter button.
        .map(|h| h.chars().count() + 3)
        .collect();
    let width = widths.len();
    for row in t.rows.iter().take(WIDTH_SAMPLE_ROWS) {
        for (w, cell) in widths.iter_mut().zip(aligned(row, width)) {
            *w = (*w).max(display_len(cell));
        }
    }
    widths
        .into_iter()
        .map(|w| {
            #[allow(clippy::cast_precision_loss)] // small counts
            let w = w as f64 + 2.0;
            w.clamp(MIN_WIDTH, MAX_WIDTH)
        })
        .collect()
}

fn display_len(c: &Cell) -> usize {
    match c {
        // Long free text wraps in the eye of the reader anyway; the first line is what sizes a column.
        Cell::Text(s) => s.lines().next().map_or(0, |l| l.chars().count()),
        Cell::Number(n) => format!("{n}").len(),
        Cell::Int(i) => i.to_string().len(),
        Cell::Bool(_) => 5,
        Cell::Date(_) => 10,
        Cell::DateTime(_) => 16,
        Cell::Empty => 0,
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Read};

    use chrono::NaiveDate;

    use super::*;

    /// The XML of one part of the XLSX zip, for asserting on what Excel will read.
    fn part(xlsx: &[u8], name: &str) -> String {
        let mut zip = zip::ZipArchive::new(Cursor::new(xlsx)).expect("zip");
        let mut s = String::new();
        zip.by_name(name)
            .expect("part")
            .read_to_string(&mut s)
            .expect("utf-8");
        s
    }

    fn sample(rtl: bool) -> Table {
        let d = NaiveDate::from_ymd_opt(2025, 3, 1).expect("date");
        Table {
            title: "Complaints / شكاوى".into(),
            headers: vec![
                "MRN".into(),
                "الاسم".into(),
                "Score".into(),
                "Date".into(),
                "At".into(),
                "Open".into(),
            ],
            rows: vec![
                vec![
                    Cell::Int(1234),
                    "فاطمة الزهراء".into(),
                    Cell::Number(4.5),
                    Cell::Date(d),
                    Cell::DateTime(d.and_hms_opt(9, 30, 0).expect("time")),
                    Cell::Bool(true),
                ],
                vec!["=1+1".into()],
            ],
            rtl,
        }
    }

    #[test]
    fn xlsx_has_a_frozen_bold_filtered_header_and_real_dates() {
        let out = to_xlsx(&sample(true)).expect("xlsx");
        assert!(out.starts_with(b"PK\x03\x04"));
        let sheet = part(&out, "xl/worksheets/sheet1.xml");
        assert!(sheet.contains("rightToLeft=\"1\""), "{sheet}");
        assert!(sheet.contains("state=\"frozen\""), "{sheet}");
        assert!(sheet.contains("<autoFilter ref=\"A1:F3\"/>"), "{sheet}");
        // 2025-03-01 09:30 as an Excel serial date-time, not a string.
        assert!(
            sheet.contains("<v>45717.395833333336</v>") || sheet.contains("<v>45717.39583333333"),
            "{sheet}"
        );
        assert!(sheet.contains("<v>45717</v>"), "{sheet}");
        // Formula-looking text is stored as a string, never as <f>.
        assert!(!sheet.contains("<f>"), "{sheet}");
        assert!(sheet.contains("=1+1"), "{sheet}");
        let styles = part(&out, "xl/styles.xml");
        assert!(styles.contains("<b/>"), "{styles}");
        assert!(styles.contains("formatCode=\"yyyy-mm-dd\""), "{styles}");
        let book = part(&out, "xl/workbook.xml");
        assert!(book.contains("name=\"Complaints  شكاوى\""), "{book}");
    }

    #[test]
    fn ltr_sheets_are_not_right_to_left() {
        let out = to_xlsx(&sample(false)).expect("xlsx");
        assert!(!part(&out, "xl/worksheets/sheet1.xml").contains("rightToLeft"));
    }

    #[test]
    fn sheet_names_follow_excel_rules() {
        assert_eq!(sheet_name(""), "Sheet1");
        assert_eq!(sheet_name("'a[b]:c*?/\\'"), "abc");
        assert_eq!(sheet_name("history"), "Sheet1");
        assert_eq!(sheet_name(&"ا".repeat(40)).chars().count(), 31);
    }

    #[test]
    fn widths_follow_content_within_bounds() {
        let t = Table {
            headers: vec!["a".into(), "b".into()],
            rows: vec![vec!["x".repeat(20).into(), "y".repeat(500).into()]],
            ..Table::default()
        };
        assert_eq!(column_widths(&t), vec![22.0, MAX_WIDTH]);
    }

    #[test]
    fn overlong_text_is_cut_to_the_cell_limit() {
        let s = "ب".repeat(MAX_CELL_CHARS + 10);
        assert_eq!(fit(&s).chars().count(), MAX_CELL_CHARS);
        assert_eq!(fit("short"), "short");
    }

    #[test]
    fn an_empty_table_is_still_a_valid_workbook() {
        let out = to_xlsx(&Table::default()).expect("xlsx");
        assert!(out.starts_with(b"PK"));
    }

    #[test]
    fn a_hundred_thousand_rows_export() {
        let d = NaiveDate::from_ymd_opt(2025, 1, 1).expect("date");
        let t = Table {
            title: "big".into(),
            headers: ["id", "name", "score", "date", "comment"]
                .map(String::from)
                .to_vec(),
            rows: (0..100_000)
                .map(|i| {
                    vec![
                        Cell::Int(i),
                        Cell::Text(format!("مريض {i}")),
                        #[allow(clippy::cast_precision_loss)]
                        Cell::Number(i as f64 / 7.0),
                        Cell::Date(d),
                        Cell::Text("الخدمة ممتازة، شكراً".into()),
                    ]
                })
                .collect(),
            rtl: true,
        };
        let started = std::time::Instant::now();
        let out = to_xlsx(&t).expect("xlsx");
        eprintln!(
            "100k rows x 5 cols: {} bytes in {:?}",
            out.len(),
            started.elapsed()
        );
        assert!(out.len() > 100_000);
    }
}
