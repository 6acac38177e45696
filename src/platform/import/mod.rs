//! Reading user-uploaded spreadsheets (CSV, XLSX, legacy XLS) into rows of strings keyed by a
//! normalised header. Generic: what the columns mean, and the validation of each value, belongs to the
//! module that imports (which reports problems per [`Row::line`]).
//!
//! See `docs/exports-and-imports.md` for the accepted encodings and limits.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Cursor;

use calamine::{CellErrorType, Data, DataRef, Reader, Xls, Xlsx};

use crate::platform::error::{AppError, FieldErrors};
use crate::platform::limits::{IMPORT_FILE, MIB};

/// The rows of the first sheet, under the header row (the first non-blank row).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sheet {
    /// Header cells normalised: trimmed, lower-cased, runs of spaces, dashes and underscores turned into
    /// one `_` ("Patient MRN" → `patient_mrn`, "E-mail" → `e_mail`; Arabic stays Arabic). A blank header
    /// cell becomes `column_<n>` (1-based column number).
    pub headers: Vec<String>,
    /// Data rows in file order; fully blank rows are skipped.
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Row {
    /// The line (CSV) or row (spreadsheet) number as the user sees it in the file, the header being 1
    /// when it is the first line. Use it in error messages: "row 17: MRN is required".
    pub line: usize,
    /// One entry per header, value trimmed; `""` where the row has no value. Non-blank values beyond
    /// the last header are kept under `column_<n>`.
    pub values: BTreeMap<String, String>,
}

impl Row {
    /// The value under a normalised header; `""` when the column does not exist.
    pub fn get(&self, header: &str) -> &str {
        self.values.get(header).map_or("", String::as_str)
    }
}

/// Why a file could not be read. [`fmt::Display`] is a message for the person who uploaded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportError {
    /// Larger than [`IMPORT_FILE`] bytes.
    TooLarge,
    /// Neither CSV nor an Excel workbook.
    UnknownFormat,
    /// The file claims a known format but cannot be read; the text says what went wrong.
    Unreadable(String),
    /// No header row, or a header row and no data.
    Empty,
    /// More data rows than the caller allows; carries that limit.
    TooManyRows(usize),
}

impl ImportError {
    /// A stable snake_case code for the console and API clients.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge => "import_too_large",
            Self::UnknownFormat => "import_unknown_format",
            Self::Unreadable(_) => "import_unreadable",
            Self::Empty => "import_empty",
            Self::TooManyRows(_) => "import_too_many_rows",
        }
    }
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge => write!(
                f,
                "The file is larger than {} MB. Split it into smaller files.",
                IMPORT_FILE / MIB
            ),
            Self::UnknownFormat => f.write_str(
                "This type of file cannot be imported. Upload a CSV file or an Excel workbook (.xlsx).",
            ),
            Self::Unreadable(why) => write!(f, "The file could not be read: {why}"),
            Self::Empty => f.write_str(
                "The file has no data: the first row must hold the column names and the rows below it the data.",
            ),
            Self::TooManyRows(max) => write!(
                f,
                "The file has more than {max} data rows. Split it into smaller files."
            ),
        }
    }
}

impl std::error::Error for ImportError {}

/// 413 for a file too large, 415 for an unknown format, otherwise 400 on the `file` field.
impl From<ImportError> for AppError {
    fn from(e: ImportError) -> Self {
        match e {
            ImportError::TooLarge => Self::PayloadTooLarge(e.to_string()),
            ImportError::UnknownFormat => Self::UnsupportedMediaType(e.to_string()),
            _ => Self::Validation(FieldErrors::single("file", e.to_string())),
        }
    }
}

/// Reads the first sheet of an uploaded file.
///
/// The format comes from the content where it is unambiguous (an XLSX zip or a legacy XLS compound
/// file), otherwise from the extension of `filename` (`.csv`, `.txt`, `.tsv`). CSV may be UTF-8 with or
/// without a byte-order mark, UTF-16 with a byte-order mark (Excel's "Unicode text"), or — when it is
/// not valid UTF-8 — Windows-1256 (Excel's "CSV" on Arabic Windows); the delimiter is a comma,
/// semicolon or tab, whichever the header line uses most. Spreadsheet values become text: whole numbers
/// without `.0` (`1234`), other numbers with up to 15 significant digits, dates as `YYYY-MM-DD`,
/// date-times as `YYYY-MM-DD HH:MM:SS`, times as `HH:MM:SS`, booleans as `TRUE`/`FALSE`, formula cells
/// as their last computed value, error cells as Excel shows them (`#N/A`).
///
/// # Errors
/// [`ImportError::TooLarge`] over [`IMPORT_FILE`] bytes; [`ImportError::UnknownFormat`] for any other
/// kind of file; [`ImportError::Unreadable`] for a damaged file, a duplicated column name or a CSV
/// syntax error (with its line); [`ImportError::Empty`] without a header row or data rows;
/// [`ImportError::TooManyRows`] with more than `max_rows` non-blank data rows.
pub fn read(filename: &str, bytes: &[u8], max_rows: usize) -> Result<Sheet, ImportError> {
    if bytes.len() > IMPORT_FILE {
        return Err(ImportError::TooLarge);
    }
    match Format::detect(filename, bytes)? {
        Format::Csv => read_csv(bytes, max_rows),
        Format::Xlsx => read_xlsx(bytes, max_rows),
        Format::Xls => read_xls(bytes, max_rows),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Xlsx,
    Xls,
}

impl Format {
    fn detect(filename: &str, bytes: &[u8]) -> Result<Self, ImportError> {
        const ZIP: &[u8] = b"PK\x03\x04";
        const OLE: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";
        let ext = filename
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default();
        match ext.as_str() {
            _ if bytes.starts_with(ZIP) => Ok(Self::Xlsx),
            _ if bytes.starts_with(OLE) => Ok(Self::Xls),
            "xlsx" | "xlsm" | "xls" => Err(ImportError::Unreadable(
                "it is not a valid Excel workbook.".into(),
            )),
            "csv" | "txt" | "tsv" => Ok(Self::Csv),
            _ => Err(ImportError::UnknownFormat),
        }
    }
}

/// Turns raw rows into a [`Sheet`]: finds the header, skips blank rows, enforces `max_rows`.
struct Builder {
    headers: Vec<String>,
    rows: Vec<Row>,
    max_rows: usize,
}

impl Builder {
    fn new(max_rows: usize) -> Self {
        Self {
            headers: Vec::new(),
            rows: Vec::new(),
            max_rows,
        }
    }

    /// Adds the row at `line` (1-based); the first non-blank one is the header.
    fn push<S: AsRef<str>>(&mut self, line: usize, cells: &[S]) -> Result<(), ImportError> {
        if cells.iter().all(|c| c.as_ref().trim().is_empty()) {
            return Ok(());
        }
        if self.headers.is_empty() {
            return self.set_headers(cells);
        }
        if self.rows.len() == self.max_rows {
            return Err(ImportError::TooManyRows(self.max_rows));
        }
        let mut values: BTreeMap<String, String> = self
            .headers
            .iter()
            .map(|h| (h.clone(), String::new()))
            .collect();
        for (i, cell) in cells.iter().enumerate() {
            let v = cell.as_ref().trim();
            match self.headers.get(i) {
                Some(h) => {
                    values.insert(h.clone(), v.to_owned());
                }
                None if !v.is_empty() => {
                    values.insert(format!("column_{}", i + 1), v.to_owned());
                }
                None => {}
            }
        }
        self.rows.push(Row { line, values });
        Ok(())
    }

    fn set_headers<S: AsRef<str>>(&mut self, cells: &[S]) -> Result<(), ImportError> {
        // Trailing blank header cells are formatting residue, not columns.
        let used = cells
            .iter()
            .rposition(|c| !c.as_ref().trim().is_empty())
            .map_or(0, |i| i + 1);
        let mut headers = Vec::with_capacity(used);
        for (i, cell) in cells[..used].iter().enumerate() {
            let mut h = normalise_header(cell.as_ref());
            if h.is_empty() {
                h = format!("column_{}", i + 1);
            }
            if headers.contains(&h) {
                return Err(ImportError::Unreadable(format!(
                    "the column \"{}\" appears more than once in the header row.",
                    cell.as_ref().trim()
                )));
            }
            headers.push(h);
        }
        self.headers = headers;
        Ok(())
    }

    fn finish(self) -> Result<Sheet, ImportError> {
        if self.rows.is_empty() {
            return Err(ImportError::Empty);
        }
        Ok(Sheet {
            headers: self.headers,
            rows: self.rows,
        })
    }
}

/// Trimmed, lower-cased, runs of whitespace, `-` and `_` collapsed to one `_`, stray BOMs removed.
fn normalise_header(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending = false;
    for c in s
        .trim_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}')
        .chars()
    {
        if c.is_whitespace() || matches!(c, '-' | '_' | '\u{2010}'..='\u{2013}') {
            pending = true;
        } else if c != '\u{FEFF}' {
            if pending && !out.is_empty() {
                out.push('_');
            }
            pending = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

// ---------------------------------------------------------------- CSV

fn read_csv(bytes: &[u8], max_rows: usize) -> Result<Sheet, ImportError> {
    let text = decode(bytes)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(sniff_delimiter(&text))
        .from_reader(text.as_bytes());
    let mut lines = LineCounter::new(text.as_bytes());
    let mut b = Builder::new(max_rows);
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| lines.line_at(p.byte()));
            ImportError::Unreadable(format!("line {line} is not valid CSV."))
        })?;
        let line = record.position().map_or(0, |p| lines.line_at(p.byte()));
        let cells: Vec<&str> = record.iter().collect();
        b.push(line, &cells)?;
    }
    b.finish()
}

/// Line numbers from byte offsets. The csv crate's own `Position::line` is off after CRLF line ends and
/// skipped blank lines (its record offset points at the line end before the record), so lines are
/// counted here, once over the text, as records advance.
struct LineCounter<'a> {
    text: &'a [u8],
    pos: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a [u8]) -> Self {
        Self {
            text,
            pos: 0,
            line: 1,
        }
    }

    /// The 1-based line of the record the parser placed at `byte`.
    fn line_at(&mut self, byte: u64) -> usize {
        let mut start = usize::try_from(byte)
            .unwrap_or(usize::MAX)
            .min(self.text.len());
        while let Some(b'\r' | b'\n') = self.text.get(start) {
            start += 1;
        }
        while self.pos < start {
            let is_break = match self.text[self.pos] {
                b'\n' => true,
                // A lone CR (classic Mac line ends); CR LF counts once, at the LF.
                b'\r' => self.text.get(self.pos + 1) != Some(&b'\n'),
                _ => false,
            };
            self.line += usize::from(is_break);
            self.pos += 1;
        }
        self.line
    }
}

/// The text of a CSV upload, from its byte-order mark if it has one, else UTF-8, else Windows-1256.
fn decode(bytes: &[u8]) -> Result<std::borrow::Cow<'_, str>, ImportError> {
    if let Some((encoding, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        return encoding
            .decode_without_bom_handling_and_without_replacement(&bytes[bom_len..])
            .ok_or_else(|| {
                ImportError::Unreadable(format!(
                    "it is marked as {} but contains invalid characters.",
                    encoding.name()
                ))
            });
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(std::borrow::Cow::Borrowed(s)),
        // Not UTF-8: Excel's plain "CSV" on Arabic Windows writes the ANSI code page, Windows-1256,
        // which maps every byte, so this cannot fail.
        Err(_) => Ok(encoding_rs::WINDOWS_1256
            .decode_without_bom_handling(bytes)
            .0),
    }
}

/// The delimiter the header line uses most: `,` (also the default), `;` (Excel in locales with a
/// decimal comma) or tab (Excel's "Unicode text").
fn sniff_delimiter(text: &str) -> u8 {
    let first = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    let count = |d: char| first.matches(d).count();
    let (mut best, mut best_n) = (b',', count(','));
    for (d, c) in [(b';', ';'), (b'\t', '\t')] {
        let n = count(c);
        if n > best_n {
            (best, best_n) = (d, n);
        }
    }
    best
}

// ---------------------------------------------------------------- XLSX / XLS

fn unreadable_workbook(e: impl fmt::Display) -> ImportError {
    tracing::debug!(error = %e, "spreadsheet upload could not be read");
    ImportError::Unreadable("it is not a valid Excel workbook, or it is damaged.".into())
}

fn read_xlsx(bytes: &[u8], max_rows: usize) -> Result<Sheet, ImportError> {
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(unreadable_workbook)?;
    let first = book
        .sheet_names()
        .into_iter()
        .next()
        .ok_or(ImportError::Empty)?;
    // Streams cells in file order, so a huge sheet is refused at max_rows instead of being loaded whole.
    let mut cells = book
        .worksheet_cells_reader(&first)
        .map_err(unreadable_workbook)?;
    let mut b = Builder::new(max_rows);
    let mut current: Option<u32> = None;
    let mut row: Vec<String> = Vec::new();
    while let Some(cell) = cells.next_cell().map_err(unreadable_workbook)? {
        let (r, c) = cell.get_position();
        if current != Some(r) {
            if let Some(prev) = current {
                b.push(prev as usize + 1, &row)?;
            }
            current = Some(r);
            row.clear();
        }
        let c = c as usize;
        if row.len() <= c {
            row.resize(c + 1, String::new());
        }
        row[c] = text_of(cell.get_value());
    }
    if let Some(prev) = current {
        b.push(prev as usize + 1, &row)?;
    }
    b.finish()
}

fn read_xls(bytes: &[u8], max_rows: usize) -> Result<Sheet, ImportError> {
    let mut book: Xls<_> = Xls::new(Cursor::new(bytes)).map_err(unreadable_workbook)?;
    let first = book
        .sheet_names()
        .into_iter()
        .next()
        .ok_or(ImportError::Empty)?;
    let range = book.worksheet_range(&first).map_err(unreadable_workbook)?;
    let Some((row0, col0)) = range.start() else {
        return Err(ImportError::Empty);
    };
    let mut b = Builder::new(max_rows);
    for (i, cells) in range.rows().enumerate() {
        let mut row = vec![String::new(); col0 as usize];
        row.extend(cells.iter().map(|d| text_of(&data_ref(d))));
        b.push(row0 as usize + i + 1, &row)?;
    }
    b.finish()
}

fn data_ref(d: &Data) -> DataRef<'_> {
    match d {
        Data::Int(i) => DataRef::Int(*i),
        Data::Float(f) => DataRef::Float(*f),
        Data::String(s) => DataRef::SharedString(s),
        Data::Bool(b) => DataRef::Bool(*b),
        Data::DateTime(dt) => DataRef::DateTime(*dt),
        Data::DateTimeIso(s) => DataRef::DateTimeIso(s.clone()),
        Data::DurationIso(s) => DataRef::DurationIso(s.clone()),
        Data::Error(e) => DataRef::Error(e.clone()),
        Data::Empty => DataRef::Empty,
    }
}

/// A spreadsheet value as the text a user would expect to have typed.
fn text_of(v: &DataRef<'_>) -> String {
    match v {
        DataRef::String(s) => s.clone(),
        DataRef::SharedString(s) => (*s).to_owned(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => number(*f),
        DataRef::Bool(true) => "TRUE".into(),
        DataRef::Bool(false) => "FALSE".into(),
        DataRef::DateTime(dt) => {
            let serial = dt.as_f64();
            if dt.is_duration() {
                return number(serial);
            }
            match dt.as_datetime() {
                // A serial below 1 is a time of day with no date.
                Some(t) if (0.0..1.0).contains(&serial) => t.format("%H:%M:%S").to_string(),
                Some(t) if t.time() == chrono::NaiveTime::MIN => t.format("%Y-%m-%d").to_string(),
                Some(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
                None => number(serial),
            }
        }
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::Error(e) => error_text(e),
        DataRef::Empty => String::new(),
    }
}

fn error_text(e: &CellErrorType) -> String {
    e.to_string()
}

/// Whole numbers without a fraction (an MRN is `1234`, not `1234.0`); others with at most 15
/// significant digits, as Excel shows them (`0.1 + 0.2` is `0.3`).
fn number(f: f64) -> String {
    if !f.is_finite() {
        return String::new();
    }
    if f.fract() == 0.0 && f.abs() < 1e15 {
        #[allow(clippy::cast_possible_truncation)] // whole and below 1e15: exact
        return (f as i64).to_string();
    }
    format!("{f:.14e}")
        .parse::<f64>()
        .map_or_else(|_| f.to_string(), |r| r.to_string())
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::platform::export::{Cell, Table, to_csv, to_xlsx};

    fn values(row: &Row) -> Vec<(&str, &str)> {
        row.values
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn csv_with_bom_arabic_and_quoted_commas() {
        let file =
            "\u{FEFF}MRN,Patient Name,Comment\r\n1234,محمد عبدالله,\"الانتظار طويل، جداً\"\r\n";
        let sheet = read("a.csv", file.as_bytes(), 100).expect("read");
        assert_eq!(sheet.headers, ["mrn", "patient_name", "comment"]);
        assert_eq!(sheet.rows.len(), 1);
        assert_eq!(sheet.rows[0].line, 2);
        assert_eq!(
            values(&sheet.rows[0]),
            [
                ("comment", "الانتظار طويل، جداً"),
                ("mrn", "1234"),
                ("patient_name", "محمد عبدالله"),
            ]
        );
    }

    #[test]
    fn csv_without_bom_and_with_lf_line_ends() {
        let sheet = read("a.CSV", b"a,b\n1,2\n", 10).expect("read");
        assert_eq!(sheet.rows[0].get("b"), "2");
    }

    #[test]
    fn headers_are_normalised() {
        assert_eq!(normalise_header("  Patient  MRN "), "patient_mrn");
        assert_eq!(normalise_header("E-mail"), "e_mail");
        assert_eq!(normalise_header("Visit - Date"), "visit_date");
        assert_eq!(normalise_header("رقم الملف"), "رقم_الملف");
        assert_eq!(normalise_header("\u{FEFF}Name"), "name");
        assert_eq!(normalise_header("__x__"), "x");
    }

    #[test]
    fn line_numbers_count_blank_and_multi_line_records() {
        let file = "name,comment\n\nأحمد,\"سطر أول\nسطر ثان\"\n,\nسارة,ok\n";
        let sheet = read("x.csv", file.as_bytes(), 10).expect("read");
        let lines: Vec<usize> = sheet.rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, [3, 6]);
        assert_eq!(sheet.rows[0].get("comment"), "سطر أول\nسطر ثان");

        let crlf = file.replace('\n', "\r\n");
        let sheet = read("x.csv", crlf.as_bytes(), 10).expect("read");
        let lines: Vec<usize> = sheet.rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, [3, 6]);
        assert_eq!(sheet.rows[0].get("comment"), "سطر أول\r\nسطر ثان");
    }

    #[test]
    fn line_counter_handles_crlf_lone_cr_and_blank_lines() {
        let mut lines = LineCounter::new(b"a\r\nb\rc\n\nd");
        assert_eq!(lines.line_at(0), 1);
        assert_eq!(lines.line_at(2), 2);
        assert_eq!(lines.line_at(5), 3);
        assert_eq!(lines.line_at(8), 5);
    }

    #[test]
    fn short_rows_are_padded_and_extra_values_kept() {
        let sheet = read("x.csv", b"a,b,\n1\n1,2,3,\n", 10).expect("read");
        assert_eq!(sheet.headers, ["a", "b"]);
        assert_eq!(values(&sheet.rows[0]), [("a", "1"), ("b", "")]);
        assert_eq!(
            values(&sheet.rows[1]),
            [("a", "1"), ("b", "2"), ("column_3", "3")]
        );
    }

    #[test]
    fn blank_header_cells_get_column_names_and_duplicates_are_refused() {
        let sheet = read("x.csv", b"a,,c\n1,2,3\n", 10).expect("read");
        assert_eq!(sheet.headers, ["a", "column_2", "c"]);
        let err = read("x.csv", b"Name,name \n1,2\n", 10).expect_err("duplicate");
        assert!(
            matches!(err, ImportError::Unreadable(ref m) if m.contains("name")),
            "{err}"
        );
    }

    #[test]
    fn semicolon_and_tab_delimiters_are_detected() {
        let sheet = read("x.csv", b"a;b\n1,5;2\n", 10).expect("read");
        assert_eq!(sheet.rows[0].get("a"), "1,5");
        let sheet = read("x.txt", b"a\tb\n1\t2\n", 10).expect("read");
        assert_eq!(sheet.rows[0].get("b"), "2");
    }

    #[test]
    fn utf16_unicode_text_from_excel_is_read() {
        let text = "الاسم\tالرقم\r\nنورة\t7\r\n";
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let sheet = read("export.txt", &bytes, 10).expect("read");
        assert_eq!(sheet.headers, ["الاسم", "الرقم"]);
        assert_eq!(sheet.rows[0].get("الاسم"), "نورة");
    }

    #[test]
    fn windows_1256_csv_from_arabic_excel_is_read() {
        let (bytes, _, bad) = encoding_rs::WINDOWS_1256.encode("الاسم,mrn\nخالد,55\n");
        assert!(!bad);
        let sheet = read("legacy.csv", &bytes, 10).expect("read");
        assert_eq!(sheet.rows[0].get("الاسم"), "خالد");
    }

    #[test]
    fn limits_and_empty_files() {
        assert_eq!(
            read("a.csv", &vec![b'a'; IMPORT_FILE + 1], 10),
            Err(ImportError::TooLarge)
        );
        assert_eq!(read("a.csv", b"", 10), Err(ImportError::Empty));
        assert_eq!(read("a.csv", b"\xEF\xBB\xBF", 10), Err(ImportError::Empty));
        assert_eq!(read("a.csv", b"a,b\n,\n", 10), Err(ImportError::Empty));
        assert_eq!(
            read("a.csv", b"a\n1\n2\n3\n", 2),
            Err(ImportError::TooManyRows(2))
        );
        assert!(read("a.csv", b"a\n1\n2\n", 2).is_ok());
    }

    #[test]
    fn unknown_and_fake_formats_are_refused() {
        assert_eq!(
            read("a.pdf", b"%PDF-1.7", 10),
            Err(ImportError::UnknownFormat)
        );
        assert_eq!(read("noext", b"a,b", 10), Err(ImportError::UnknownFormat));
        assert!(matches!(
            read("a.xlsx", b"a,b\n1,2", 10),
            Err(ImportError::Unreadable(_))
        ));
        assert!(matches!(
            read("a.xlsx", b"PK\x03\x04garbage", 10),
            Err(ImportError::Unreadable(_))
        ));
    }

    #[test]
    fn errors_read_well_and_map_to_http_statuses() {
        use axum::http::StatusCode;
        assert!(ImportError::TooManyRows(500).to_string().contains("500"));
        assert!(ImportError::TooLarge.to_string().contains("10 MB"));
        assert_eq!(
            AppError::from(ImportError::TooLarge).status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(
            AppError::from(ImportError::UnknownFormat).status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        assert_eq!(
            AppError::from(ImportError::Empty).body(),
            serde_json::json!({"file": [ImportError::Empty.to_string()]})
        );
        assert_eq!(ImportError::Empty.code(), "import_empty");
    }

    #[test]
    fn numbers_are_written_as_people_type_them() {
        assert_eq!(number(1234.0), "1234");
        assert_eq!(number(-7.0), "-7");
        assert_eq!(number(0.1 + 0.2), "0.3");
        assert_eq!(number(4.5), "4.5");
        assert_eq!(number(966_501_234_567.0), "966501234567");
        assert_eq!(number(f64::NAN), "");
    }

    fn exported() -> Table {
        let d = NaiveDate::from_ymd_opt(2025, 11, 26).expect("date");
        Table {
            title: "Patients".into(),
            headers: [
                "MRN",
                "Name",
                "Visit Date",
                "Seen At",
                "Score",
                "VIP",
                "Note",
            ]
            .map(String::from)
            .to_vec(),
            rows: vec![
                vec![
                    Cell::Int(1234),
                    "عبدالرحمن الشهري".into(),
                    Cell::Date(d),
                    Cell::DateTime(d.and_hms_opt(8, 15, 30).expect("time")),
                    Cell::Number(4.5),
                    Cell::Bool(true),
                    "=cmd, \"quoted\"".into(),
                ],
                vec![Cell::Empty; 7],
                vec![
                    Cell::Int(98_765),
                    "Sara O'Neil".into(),
                    Cell::Empty,
                    Cell::Empty,
                    Cell::Number(3.0),
                    Cell::Bool(false),
                    Cell::Empty,
                ],
            ],
            rtl: true,
        }
    }

    #[test]
    fn xlsx_round_trip_through_our_own_export() {
        let bytes = to_xlsx(&exported()).expect("xlsx");
        let sheet = read("patients.xlsx", &bytes, 10).expect("read");
        assert_eq!(
            sheet.headers,
            [
                "mrn",
                "name",
                "visit_date",
                "seen_at",
                "score",
                "vip",
                "note"
            ]
        );
        assert_eq!(sheet.rows.len(), 2, "the blank row is skipped");
        let r = &sheet.rows[0];
        assert_eq!(r.line, 2);
        assert_eq!(r.get("mrn"), "1234");
        assert_eq!(r.get("name"), "عبدالرحمن الشهري");
        assert_eq!(r.get("visit_date"), "2025-11-26");
        assert_eq!(r.get("seen_at"), "2025-11-26 08:15:30");
        assert_eq!(r.get("score"), "4.5");
        assert_eq!(r.get("vip"), "TRUE");
        // XLSX stores text as text: no guard needed, none added.
        assert_eq!(r.get("note"), "=cmd, \"quoted\"");
        let r = &sheet.rows[1];
        assert_eq!(r.line, 4);
        assert_eq!(r.get("score"), "3");
        assert_eq!(r.get("visit_date"), "");
    }

    #[test]
    fn csv_round_trip_through_our_own_export() {
        let bytes = to_csv(&exported());
        let sheet = read("patients.csv", &bytes, 10).expect("read");
        assert_eq!(sheet.rows.len(), 2);
        let r = &sheet.rows[0];
        assert_eq!(r.get("mrn"), "1234");
        assert_eq!(r.get("name"), "عبدالرحمن الشهري");
        assert_eq!(r.get("visit_date"), "2025-11-26");
        assert_eq!(r.get("seen_at"), "2025-11-26 08:15:30");
        assert_eq!(r.get("note"), "'=cmd, \"quoted\"");
        assert_eq!(sheet.rows[1].line, 4);
    }

    #[test]
    fn ten_thousand_rows() {
        let t = Table {
            title: "big".into(),
            headers: vec!["mrn".into(), "الاسم".into()],
            rows: (0..10_000)
                .map(|i| vec![Cell::Int(100_000 + i), Cell::Text(format!("مريض {i}"))])
                .collect(),
            rtl: false,
        };
        for (name, bytes) in [
            ("big.csv", to_csv(&t)),
            ("big.xlsx", to_xlsx(&t).expect("xlsx")),
        ] {
            let sheet = read(name, &bytes, 10_000).expect(name);
            assert_eq!(sheet.rows.len(), 10_000, "{name}");
            let last = &sheet.rows[9_999];
            assert_eq!(last.line, 10_001, "{name}");
            assert_eq!(last.get("mrn"), "109999", "{name}");
            assert_eq!(last.get("الاسم"), "مريض 9999", "{name}");
            assert_eq!(
                read(name, &bytes, 9_999),
                Err(ImportError::TooManyRows(9_999)),
                "{name}"
            );
        }
    }
}

/// What an import run found (and whether it wrote), reported back to the uploader.
#[derive(Debug, Default, Clone)]
pub struct ImportReport {
    pub total: usize,
    /// (line in the file, messages by field)
    pub errors: Vec<(usize, FieldErrors)>,
    pub committed: bool,
}
