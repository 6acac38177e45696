//! PDF summaries rendered by typst, used as a library with an in-memory [`World`]: no file system, no
//! network, no package downloads. typst shapes Arabic (joined letter forms) and lays it out with the
//! Unicode bidi algorithm, which a plain PDF writer cannot.
//!
//! Fonts: typst-assets' Libertinus Serif for Latin text and the committed Noto Naskh Arabic Regular and
//! Bold (SIL OFL 1.1, `assets/fonts/OFL.txt`) for Arabic.

use std::sync::LazyLock;

use anyhow::{Context, anyhow};
use typst::diag::{FileError, FileResult, SourceDiagnostic};
use typst::foundations::{Bytes, Datetime, Duration, Smart};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};
use typst_layout::PagedDocument;
use typst_pdf::PdfOptions;

use super::Summary;

const TEMPLATE: &str = include_str!("summary.typ");
const NASKH_REGULAR: &[u8] = include_bytes!("../../../assets/fonts/NotoNaskhArabic-Regular.ttf");
const NASKH_BOLD: &[u8] = include_bytes!("../../../assets/fonts/NotoNaskhArabic-Bold.ttf");

static LIBRARY: LazyLock<LazyHash<Library>> = LazyLock::new(|| LazyHash::new(Library::default()));

static FONTS: LazyLock<Vec<Font>> = LazyLock::new(|| {
    typst_assets::fonts()
        .chain([NASKH_REGULAR, NASKH_BOLD])
        .flat_map(|data| Font::iter(Bytes::new(data)))
        .collect()
});

static BOOK: LazyLock<LazyHash<FontBook>> =
    LazyLock::new(|| LazyHash::new(FontBook::from_fonts(FONTS.iter())));

/// The whole world typst sees: the template as `/main.typ` and the summary as `/data.json`.
struct SummaryWorld {
    main: Source,
    data_id: FileId,
    data: Bytes,
}

impl World for SummaryWorld {
    fn library(&self) -> &LazyHash<Library> {
        &LIBRARY
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &BOOK
    }

    fn main(&self) -> FileId {
        self.main.id()
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main.id() {
            Ok(self.main.clone())
        } else {
            Err(FileError::AccessDenied)
        }
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == self.data_id {
            Ok(self.data.clone())
        } else if id == self.main.id() {
            Ok(Bytes::from_string(self.main.clone()))
        } else {
            Err(FileError::AccessDenied)
        }
    }

    fn font(&self, index: usize) -> Option<Font> {
        FONTS.get(index).cloned()
    }

    fn today(&self, _offset: Option<Duration>) -> Option<Datetime> {
        // Dates in a summary come from the caller (hospital time zone), never from the server clock.
        None
    }
}

/// Interned ids for the two virtual files (typst interns paths for the life of the process, so they
/// are fixed names, never one per render).
fn file_id(path: &str) -> anyhow::Result<FileId> {
    let vpath = VirtualPath::new(path).map_err(|e| anyhow!("virtual path {path}: {e:?}"))?;
    Ok(FileId::new(RootedPath::new(VirtualRoot::Project, vpath)))
}

/// Drops typst's memoised results when a render ends, however it ends: a long-running server would
/// otherwise keep every past render's layout cache.
struct EvictOnDrop;

impl Drop for EvictOnDrop {
    fn drop(&mut self) {
        typst::comemo::evict(0);
    }
}

#[derive(serde::Serialize)]
struct Data<'a> {
    title: &'a str,
    subtitle: Option<&'a str>,
    sections: &'a [(String, Vec<(String, String)>)],
    footer: &'a str,
    rtl: bool,
}

/// The summary as an A4 PDF: title and subtitle, then one heading and one two-column label/value table
/// per section, the footer and "page / pages" at the bottom of every page. With `s.rtl` the document is
/// Arabic: right-to-left paragraphs and tables, Noto Naskh Arabic as the first font.
///
/// User text is handed to typst as JSON data, never pasted into markup, so `#`, `*`, `=` and friends
/// print as themselves. CPU-bound (a few milliseconds per page): call it from `spawn_blocking`.
///
/// # Errors
/// typst fails to compile the template or export the PDF; the message lists typst's diagnostics. With
/// the committed template this indicates a bug, not bad input.
pub fn to_pdf(s: &Summary) -> anyhow::Result<Vec<u8>> {
    let data = serde_json::to_vec(&Data {
        title: &s.title,
        subtitle: s.subtitle.as_deref(),
        sections: &s.sections,
        footer: &s.footer,
        rtl: s.rtl,
    })
    .context("serialising the summary for typst")?;
    let world = SummaryWorld {
        main: Source::new(file_id("/main.typ")?, TEMPLATE.to_owned()),
        data_id: file_id("/data.json")?,
        data: Bytes::new(data),
    };

    let _evict = EvictOnDrop;
    let compiled = typst::compile::<PagedDocument>(&world);
    for w in &compiled.warnings {
        tracing::debug!(warning = %w.message, "typst warning while rendering a summary");
    }
    let document = compiled
        .output
        .map_err(|d| diagnostics("typst could not lay out the summary", &d))?;
    let options = PdfOptions {
        creator: Smart::Custom(Some("PX360".into())),
        ..PdfOptions::default()
    };
    typst_pdf::pdf(&document, &options)
        .map_err(|d| diagnostics("typst could not write the PDF", &d))
}

fn diagnostics(what: &str, diags: &[SourceDiagnostic]) -> anyhow::Error {
    let messages: Vec<&str> = diags.iter().map(|d| d.message.as_str()).collect();
    anyhow!("{what}: {}", messages.join("; "))
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    fn arabic_summary() -> Summary {
        Summary {
            title: "ملخص تجربة المرضى".into(),
            subtitle: Some("مستشفى الملك فهد — نوفمبر ٢٠٢٥".into()),
            sections: vec![
                (
                    "الشكاوى".into(),
                    vec![
                        ("عدد الشكاوى المفتوحة".into(), "42".into()),
                        ("متوسط وقت الإغلاق".into(), "3.5 أيام".into()),
                        ("القسم الأكثر شكاوى".into(), "الطوارئ (Emergency)".into()),
                    ],
                ),
                (
                    "الاستبيانات".into(),
                    vec![
                        ("نسبة الرضا".into(), "87%".into()),
                        ("تعليق".into(), "الخدمة ممتازة\nوالطاقم متعاون".into()),
                    ],
                ),
            ],
            footer: "سري — للاستخدام الداخلي فقط".into(),
            rtl: true,
        }
    }

    fn pdftotext(pdf: &[u8]) -> Option<String> {
        let dir = tempfile::tempdir().ok()?;
        let path = dir.path().join("s.pdf");
        std::fs::write(&path, pdf).ok()?;
        let out = Command::new("pdftotext")
            .arg(&path)
            .arg("-")
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    #[test]
    fn arabic_summary_is_a_pdf_with_the_arabic_font_embedded() {
        let pdf = to_pdf(&arabic_summary()).expect("pdf");
        assert!(pdf.starts_with(b"%PDF-"));
        // typst embeds subsets named XXXXXX+NotoNaskhArabic-Regular / -Bold.
        let has = |needle: &[u8]| pdf.windows(needle.len()).any(|w| w == needle);
        assert!(has(b"NotoNaskhArabic-Regular"), "regular face embedded");
        assert!(
            has(b"NotoNaskhArabic-Bold"),
            "bold face embedded (labels are bold)"
        );
        match pdftotext(&pdf) {
            Some(text) => {
                for word in ["الشكاوى", "المرضى", "الطوارئ", "Emergency", "ممتازة"]
                {
                    assert!(text.contains(word), "{word:?} missing from {text}");
                }
            }
            None => eprintln!("pdftotext not installed; text extraction not checked"),
        }
    }

    #[test]
    fn user_text_is_data_not_markup() {
        let s = Summary {
            title: "#panic(\"boom\") = *x* $y$ <l> @ref \\ ]".into(),
            subtitle: None,
            sections: vec![(
                "#import \"/etc/passwd\"".into(),
                vec![("#read(\"/data.json\")".into(), "}{ ] [".into())],
            )],
            footer: "// not a comment".into(),
            rtl: false,
        };
        let pdf = to_pdf(&s).expect("markup characters must not break or steer the template");
        if let Some(text) = pdftotext(&pdf) {
            assert!(text.contains("#panic(\"boom\")"), "{text}");
            assert!(text.contains("#import"), "{text}");
            assert!(text.contains("// not a comment"), "{text}");
        }
    }

    #[test]
    fn an_empty_summary_still_renders() {
        let pdf = to_pdf(&Summary::default()).expect("pdf");
        assert!(pdf.starts_with(b"%PDF-"));
    }

    #[test]
    fn many_sections_flow_onto_several_pages() {
        let rows: Vec<(String, String)> = (0..20)
            .map(|i| (format!("Label {i}"), format!("Value {i}")))
            .collect();
        let s = Summary {
            title: "Long".into(),
            sections: (0..12)
                .map(|i| (format!("Section {i}"), rows.clone()))
                .collect(),
            footer: "footer".into(),
            ..Summary::default()
        };
        let pdf = to_pdf(&s).expect("pdf");
        if let Some(text) = pdftotext(&pdf) {
            // pdftotext may drop the spaces around the slash.
            let compact: String = text.split_whitespace().collect();
            assert!(compact.contains("1/") && compact.contains("2/"), "{text}");
            assert!(text.contains("Section 11"), "{text}");
        }
    }

    /// Writes `/tmp/px360-summary-ar.pdf` for looking at (`pdftoppm -png`); run with `--ignored`.
    #[test]
    #[ignore = "writes a file for manual inspection"]
    fn write_sample_pdf_for_inspection() {
        let pdf = to_pdf(&arabic_summary()).expect("pdf");
        std::fs::write("/tmp/px360-summary-ar.pdf", pdf).expect("write");
        let mut en = arabic_summary();
        en.rtl = false;
        en.title = "Patient experience summary — ملخص".into();
        std::fs::write("/tmp/px360-summary-en.pdf", to_pdf(&en).expect("pdf")).expect("write");
    }
}
