//! Downloadable exports: a [`Table`] as CSV or XLSX, a [`Summary`] as PDF.
//!
//! Generic and free of business rules: a module builds a [`Table`] (already filtered by the caller's
//! RBAC reach, already in the hospital's time zone and language) and the console streams the bytes.
//! See `docs/exports-and-imports.md` for the formats, the formula-injection guard and the PDF fonts.

mod csv;
#[cfg(feature = "pdf")]
mod pdf;
mod xlsx;

pub use self::csv::to_csv;
#[cfg(feature = "pdf")]
pub use self::pdf::to_pdf;

/// Built without the `pdf` feature (benchmark builds only): PDF summaries are unavailable.
///
/// # Errors
/// Always.
#[cfg(not(feature = "pdf"))]
pub fn to_pdf(_s: &Summary) -> anyhow::Result<Vec<u8>> {
    anyhow::bail!("this build has no PDF support (built without the `pdf` feature)")
}
pub use self::xlsx::to_xlsx;

/// A rectangular export: one header row, then data rows. Rows shorter than `headers` are padded with
/// empty cells; cells beyond the last header are dropped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    /// Sheet name in XLSX (shortened to Excel's 31 characters); not written to CSV, whose first line
    /// must stay the header row so the file can be imported again.
    pub title: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
    /// Right-to-left sheet (Arabic UI).
    pub rtl: bool,
}

/// One typed value. Dates and times are already in local (hospital) time.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Number(f64),
    Int(i64),
    Bool(bool),
    Date(chrono::NaiveDate),
    DateTime(chrono::NaiveDateTime),
    Empty,
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Self::Text(s.to_owned())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Self::Text(s)
    }
}

impl<T: Into<Cell>> From<Option<T>> for Cell {
    fn from(v: Option<T>) -> Self {
        v.map_or(Self::Empty, Into::into)
    }
}

impl From<i64> for Cell {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}

impl From<f64> for Cell {
    fn from(v: f64) -> Self {
        Self::Number(v)
    }
}

impl From<bool> for Cell {
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}

impl From<chrono::NaiveDate> for Cell {
    fn from(v: chrono::NaiveDate) -> Self {
        Self::Date(v)
    }
}

impl From<chrono::NaiveDateTime> for Cell {
    fn from(v: chrono::NaiveDateTime) -> Self {
        Self::DateTime(v)
    }
}

/// A one-to-few-page PDF report: a title, then sections of label/value pairs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub title: String,
    pub subtitle: Option<String>,
    /// `(section heading, [(label, value)])`, rendered in order as two-column tables.
    pub sections: Vec<(String, Vec<(String, String)>)>,
    /// Printed at the bottom of every page, next to the page number.
    pub footer: String,
    /// Arabic layout: right-to-left paragraphs and tables, Arabic hyphenation and punctuation.
    pub rtl: bool,
}

/// `YYYY-MM-DD`, the date format written to CSV (and read back by `platform::import`).
pub(crate) const DATE_FORMAT: &str = "%Y-%m-%d";
/// `YYYY-MM-DD HH:MM:SS`, the date-time format written to CSV; Excel recognises it as a date-time.
pub(crate) const DATETIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// The cells of `row` lined up with `width` headers: padded with [`Cell::Empty`], extra cells dropped.
pub(crate) fn aligned(row: &[Cell], width: usize) -> impl Iterator<Item = &Cell> {
    const EMPTY: &Cell = &Cell::Empty;
    row.iter().chain(std::iter::repeat(EMPTY)).take(width)
}
