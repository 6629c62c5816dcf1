//! The mark on a copy that leaves the vault (a link, the counter, a
//! printed duplicate), as the French administration advises for copies of
//! identity papers: who it was given to and when, across each page.
//!
//! - A JPEG becomes a one-page PDF: the photo embedded as it is (never
//!   decoded), turned by its EXIF orientation, the mark drawn over it.
//! - A PDF is amended (lopdf): each page's content is enclosed in `q … Q`
//!   so nothing it leaves set moves the mark, then the mark is drawn in
//!   Helvetica added to the page's resources.
//! - Anything else cannot carry a mark: [`CopyError::NotMarkable`], and the
//!   caller says so (the copy leaves as it is, or not at all).

use lopdf::{Dictionary, Object, ObjectId, Stream};
use pdf_writer::{Content, Name, Str};

use crate::pdf_text::win_ansi;
use crate::photos;

/// Largest paper a mark is drawn on (the whole copy is in memory).
pub const MARKABLE_MAX_BYTES: usize = 40 << 20;

/// Longest mark, in characters.
const MAX_MARK_CHARS: usize = 160;

const MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

/// The day `ms` falls on in France, in words ("3 mars 2026"). The mark is
/// in French whatever the page's language: copies go to French offices.
pub fn french_day(ms: i64) -> String {
    let Ok(ts) = jiff::Timestamp::from_millisecond(ms) else {
        return String::new();
    };
    let tz = jiff::tz::TimeZone::get("Europe/Paris").unwrap_or(jiff::tz::TimeZone::UTC);
    let d = ts.to_zoned_datetime(tz).date();
    let month = usize::try_from(d.month() - 1)
        .ok()
        .and_then(|m| MONTHS.get(m))
        .unwrap_or(&"");
    format!("{} {month} {}", d.day(), d.year())
}

/// "Copie transmise à CAF de Lyon le 3 mars 2026 — Coffre" (a link, the
/// counter); without a recipient, "Copie transmise le …".
pub fn given_mark(recipient: Option<&str>, ms: i64) -> String {
    match recipient {
        Some(r) => format!("Copie transmise à {r} le {} — Coffre", french_day(ms)),
        None => format!("Copie transmise le {} — Coffre", french_day(ms)),
    }
}

/// "Duplicata imprimé le 3 mars 2026 — Coffre".
pub fn duplicate_mark(ms: i64) -> String {
    format!("Duplicata imprimé le {} — Coffre", french_day(ms))
}

/// Whether a paper of this type and size can carry a mark.
pub fn markable(content_type: &str, size: u64) -> bool {
    matches!(content_type, "image/jpeg" | "application/pdf")
        && usize::try_from(size).is_ok_and(|s| s <= MARKABLE_MAX_BYTES)
}

/// Why a copy cannot be marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CopyError {
    /// Not a JPEG or a PDF.
    #[error("this kind of file cannot carry a mark")]
    NotMarkable,
    /// Larger than [`MARKABLE_MAX_BYTES`].
    #[error("too large to be marked")]
    TooLarge,
    /// A PDF that does not parse, or is encrypted.
    #[error("the PDF cannot be read")]
    UnreadablePdf,
    /// A JPEG whose headers do not parse.
    #[error("the photo cannot be read")]
    UnreadablePhoto,
}

/// The copy of a paper with `mark` across each page, as a PDF.
pub fn marked_copy(bytes: &[u8], content_type: &str, mark: &str) -> Result<Vec<u8>, CopyError> {
    if bytes.len() > MARKABLE_MAX_BYTES {
        return Err(CopyError::TooLarge);
    }
    let mark: String = mark.chars().take(MAX_MARK_CHARS).collect();
    match content_type {
        "image/jpeg" => photos::photos_to_pdf_marked(&[bytes.to_vec()], &mark)
            .map_err(|_| CopyError::UnreadablePhoto),
        "application/pdf" => mark_pdf(bytes, &mark),
        _ => Err(CopyError::NotMarkable),
    }
}

/// The drawing of the mark on a page of `width` × `height` points, with
/// the font named `font`: a line at the foot on a white band, and the same
/// words large, outlined, across the page.
pub fn mark_content(font: &[u8], width: f32, height: f32, mark: &str) -> Vec<u8> {
    let text = win_ansi(mark);
    // Helvetica's average advance is about half its size.
    let approx = |size: f32| size * 0.5 * text.len() as f32;
    let mut c = Content::new();
    c.save_state();
    // The foot line, on white, in black.
    let foot = 9.0_f32.min(width * 0.9 / (0.5 * text.len().max(1) as f32));
    c.set_fill_rgb(1.0, 1.0, 1.0);
    c.rect(0.0, 0.0, width, foot * 2.2);
    c.fill_nonzero();
    c.set_fill_rgb(0.0, 0.0, 0.0);
    c.begin_text();
    c.set_font(Name(font), foot);
    c.next_line(((width - approx(foot)) / 2.0).max(2.0), foot * 0.7);
    c.show(Str(&text));
    c.end_text();
    // Across the page, outlined in grey: the paper stays readable under it.
    let diagonal = (width * width + height * height).sqrt();
    let size = (diagonal * 0.8 / (0.5 * text.len().max(1) as f32)).clamp(8.0, 48.0);
    let angle = height.atan2(width);
    let (sin, cos) = angle.sin_cos();
    c.set_stroke_rgb(0.55, 0.55, 0.55);
    c.set_line_width(0.8);
    c.begin_text();
    c.set_text_rendering_mode(pdf_writer::types::TextRenderingMode::Stroke);
    c.set_font(Name(font), size);
    let start = (diagonal - approx(size)) / 2.0;
    c.set_text_matrix([
        cos,
        sin,
        -sin,
        cos,
        start * cos + size * 0.35 * sin,
        start * sin - size * 0.35 * cos,
    ]);
    c.show(Str(&text));
    c.end_text();
    c.restore_state();
    c.finish().to_vec()
}

/// Walks up the page tree for an inherited attribute.
fn inherited<'a>(doc: &'a lopdf::Document, page: ObjectId, key: &[u8]) -> Option<&'a Object> {
    let mut id = page;
    for _ in 0..32 {
        let dict = doc.get_dictionary(id).ok()?;
        if let Ok(v) = dict.get(key) {
            return Some(v);
        }
        id = dict.get(b"Parent").and_then(Object::as_reference).ok()?;
    }
    None
}

fn media_box(doc: &lopdf::Document, page: ObjectId) -> (f32, f32, f32, f32) {
    let array = inherited(doc, page, b"MediaBox").and_then(|o| match o {
        Object::Array(a) => Some(a.clone()),
        Object::Reference(r) => doc
            .get_object(*r)
            .ok()
            .and_then(|o| o.as_array().ok().cloned()),
        _ => None,
    });
    let nums: Vec<f32> = array
        .unwrap_or_default()
        .iter()
        .filter_map(|o| o.as_float().ok())
        .collect();
    match nums[..] {
        [x0, y0, x1, y1] if x1 > x0 && y1 > y0 => (x0, y0, x1 - x0, y1 - y0),
        _ => (0.0, 0.0, 595.0, 842.0),
    }
}

/// Most bytes one compressed stream may inflate to, most objects a PDF
/// read here may hold (direct or in object streams), most pages it may
/// have: a paper is a few pages; a crafted file stays small in memory.
const MAX_INFLATED_STREAM: usize = 2 << 20;
const MAX_OBJECTS: usize = 20_000;
const MAX_PAGES: usize = 500;

thread_local! {
    /// Objects kept by the load under way on this thread.
    static OBJECTS_SEEN: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// lopdf's per-object filter: counts, and drops every object past the
/// bound (the load is then refused).
fn count_object(id: (u32, u16), object: &mut Object) -> Option<((u32, u16), Object)> {
    let seen = OBJECTS_SEEN.with(|c| {
        c.set(c.get() + 1);
        c.get()
    });
    // lopdf keeps `object` for a direct object and what is returned for
    // one from an object stream: both are the object itself.
    (seen <= MAX_OBJECTS).then(|| (id, object.clone()))
}

/// A PDF from outside, read with bounds.
fn load(bytes: &[u8]) -> Result<lopdf::Document, CopyError> {
    // Encrypted files are loaded without the filter: refused before.
    if bytes.windows(8).any(|w| w == b"/Encrypt") {
        return Err(CopyError::UnreadablePdf);
    }
    OBJECTS_SEEN.with(|c| c.set(0));
    let options = lopdf::LoadOptions {
        max_decompressed_size: Some(MAX_INFLATED_STREAM),
        filter: Some(count_object),
        ..lopdf::LoadOptions::default()
    };
    let doc = lopdf::Document::load_mem_with_options(bytes, options)
        .map_err(|_| CopyError::UnreadablePdf)?;
    if OBJECTS_SEEN.with(std::cell::Cell::get) > MAX_OBJECTS
        || doc.is_encrypted()
        || doc.get_pages().len() > MAX_PAGES
    {
        return Err(CopyError::UnreadablePdf);
    }
    Ok(doc)
}

fn mark_pdf(bytes: &[u8], mark: &str) -> Result<Vec<u8>, CopyError> {
    let mut doc = load(bytes)?;
    if doc.is_encrypted() {
        return Err(CopyError::UnreadablePdf);
    }
    let pages: Vec<ObjectId> = doc.get_pages().into_values().collect();
    if pages.is_empty() {
        return Err(CopyError::UnreadablePdf);
    }
    let mut font = Dictionary::new();
    font.set("Type", Object::Name(b"Font".to_vec()));
    font.set("Subtype", Object::Name(b"Type1".to_vec()));
    font.set("BaseFont", Object::Name(b"Helvetica".to_vec()));
    font.set("Encoding", Object::Name(b"WinAnsiEncoding".to_vec()));
    let font_id = doc.add_object(Object::Dictionary(font));
    let font_name = b"CoffreMark";
    let open = doc.add_object(Object::Stream(Stream::new(
        Dictionary::new(),
        b"q\n".to_vec(),
    )));
    for page in pages {
        let (x0, y0, w, h) = media_box(&doc, page);
        // The font, in the page's resources (a copy of the inherited ones
        // when the page has none of its own).
        let resources = doc
            .get_or_create_resources(page)
            .map_err(|_| CopyError::UnreadablePdf)?;
        let resources = match resources {
            Object::Dictionary(d) => d,
            _ => return Err(CopyError::UnreadablePdf),
        };
        let fonts_ref = match resources.get(b"Font") {
            Ok(Object::Reference(r)) => Some(*r),
            _ => None,
        };
        match fonts_ref {
            Some(r) => {
                let fonts = doc
                    .get_dictionary_mut(r)
                    .map_err(|_| CopyError::UnreadablePdf)?;
                fonts.set(font_name.to_vec(), Object::Reference(font_id));
            }
            None => {
                let resources = match doc.get_or_create_resources(page) {
                    Ok(Object::Dictionary(d)) => d,
                    _ => return Err(CopyError::UnreadablePdf),
                };
                if !matches!(resources.get(b"Font"), Ok(Object::Dictionary(_))) {
                    resources.set("Font", Object::Dictionary(Dictionary::new()));
                }
                if let Ok(Object::Dictionary(fonts)) = resources.get_mut(b"Font") {
                    fonts.set(font_name.to_vec(), Object::Reference(font_id));
                }
            }
        }
        // The page's own drawing enclosed in q … Q, then the mark.
        // A stream may end without whitespace: the next starts with some.
        let mut drawing = format!("\nQ\nq 1 0 0 1 {x0} {y0} cm\n").into_bytes();
        drawing.extend_from_slice(&mark_content(font_name, w, h, mark));
        drawing.extend_from_slice(b"\nQ\n");
        let close = doc.add_object(Object::Stream(Stream::new(Dictionary::new(), drawing)));
        let contents = {
            let dict = doc
                .get_dictionary(page)
                .map_err(|_| CopyError::UnreadablePdf)?;
            match dict.get(b"Contents") {
                Ok(Object::Reference(id)) => match doc.get_object(*id) {
                    Ok(Object::Array(a)) => a.clone(),
                    _ => vec![Object::Reference(*id)],
                },
                Ok(Object::Array(a)) => a.clone(),
                _ => Vec::new(),
            }
        };
        let mut all = vec![Object::Reference(open)];
        all.extend(contents);
        all.push(Object::Reference(close));
        doc.get_dictionary_mut(page)
            .map_err(|_| CopyError::UnreadablePdf)?
            .set("Contents", Object::Array(all));
    }
    let mut out = Vec::with_capacity(bytes.len() + 4096);
    doc.save_to(&mut out)
        .map_err(|_| CopyError::UnreadablePdf)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdf_text::text_pdf;
    use crate::photos::tests::jpeg;

    const MARK: &str = "Copie transmise à CAF de Lyon le 3 mars 2026 — Coffre";
    /// The mark as the PDF holds it (WinAnsi, hex string).
    fn mark_hex() -> String {
        let mut s = String::from("<");
        for b in win_ansi(MARK) {
            s.push_str(&format!("{b:02X}"));
        }
        s.push('>');
        s
    }

    /// The content streams of a PDF, inflated where they are compressed.
    fn all_content(pdf: &[u8]) -> String {
        let doc = lopdf::Document::load_mem(pdf).unwrap();
        let mut out = String::new();
        for (_, page) in doc.get_pages() {
            out.push_str(&String::from_utf8_lossy(&doc.get_page_content(page)));
            out.push('\n');
        }
        out
    }

    #[test]
    fn a_pdf_gets_the_mark_on_every_page_and_keeps_its_own_drawing() {
        let original = text_pdf("Attestation de paiement", &["Montant : 0 €"]);
        let copy = marked_copy(&original, "application/pdf", MARK).unwrap();
        let doc = lopdf::Document::load_mem(&copy).unwrap();
        assert_eq!(doc.get_pages().len(), 1);
        let content = all_content(&copy);
        assert!(content.contains(&mark_hex()), "{content}");
        assert!(
            content.contains("(Attestation de paiement) Tj"),
            "the paper is still there"
        );
        // Enclosed: the page's drawing cannot move the mark.
        assert!(content.trim_start().starts_with('q'), "{content}");
        // The font is in the page's resources.
        let fonts = doc.get_page_fonts(doc.get_pages()[&1]).unwrap();
        assert!(fonts.contains_key(b"CoffreMark".as_slice()));
        assert!(fonts.contains_key(b"F1".as_slice()), "its own font kept");
    }

    #[test]
    fn a_photo_becomes_a_marked_pdf_with_the_photo_untouched() {
        let photo = jpeg(64, 48, Some(6));
        let copy = marked_copy(&photo, "image/jpeg", MARK).unwrap();
        assert!(copy.starts_with(b"%PDF-"));
        let pixels = crate::photos::tests::scan_data(&photo);
        assert!(copy.windows(pixels.len()).any(|w| w == pixels));
        assert!(all_content(&copy).contains(&mark_hex()));
    }

    #[test]
    fn marks_say_to_whom_and_when_in_french() {
        // 2026-03-03T09:12:00Z.
        let ms = 1_772_529_120_000;
        assert_eq!(
            given_mark(Some("CAF de Lyon"), ms),
            "Copie transmise à CAF de Lyon le 3 mars 2026 — Coffre"
        );
        assert_eq!(
            given_mark(None, ms),
            "Copie transmise le 3 mars 2026 — Coffre"
        );
        assert_eq!(
            duplicate_mark(ms),
            "Duplicata imprimé le 3 mars 2026 — Coffre"
        );
        // 23:30 UTC on 31 December is already 1 January in Paris.
        assert_eq!(french_day(1_767_223_800_000), "1 janvier 2026");
        assert!(markable("application/pdf", 10));
        assert!(!markable("image/png", 10));
        assert!(!markable("image/jpeg", (MARKABLE_MAX_BYTES + 1) as u64));
    }

    #[test]
    fn what_cannot_carry_a_mark_is_refused() {
        assert_eq!(
            marked_copy(b"hello", "text/plain", MARK),
            Err(CopyError::NotMarkable)
        );
        assert_eq!(
            marked_copy(b"%PDF-1.7 garbage", "application/pdf", MARK),
            Err(CopyError::UnreadablePdf)
        );
        assert_eq!(
            marked_copy(b"not a jpeg", "image/jpeg", MARK),
            Err(CopyError::UnreadablePhoto)
        );
        let big = vec![0u8; MARKABLE_MAX_BYTES + 1];
        assert_eq!(
            marked_copy(&big, "application/pdf", MARK),
            Err(CopyError::TooLarge)
        );
    }

    /// A PDF of `pages` empty pages.
    fn many_pages(pages: i32) -> Vec<u8> {
        let mut pdf = pdf_writer::Pdf::new();
        let (catalog, tree) = (pdf_writer::Ref::new(1), pdf_writer::Ref::new(2));
        pdf.catalog(catalog).pages(tree);
        pdf.pages(tree)
            .kids((0..pages).map(|i| pdf_writer::Ref::new(3 + i)))
            .count(pages);
        for i in 0..pages {
            pdf.page(pdf_writer::Ref::new(3 + i))
                .parent(tree)
                .media_box(pdf_writer::Rect::new(0.0, 0.0, 100.0, 100.0));
        }
        pdf.finish()
    }

    #[test]
    fn a_crafted_pdf_stays_small_in_memory() {
        assert!(marked_copy(&many_pages(3), "application/pdf", MARK).is_ok());
        // Too many pages, too many objects: refused before any work.
        assert_eq!(
            marked_copy(&many_pages(MAX_PAGES as i32 + 1), "application/pdf", MARK),
            Err(CopyError::UnreadablePdf)
        );
        assert_eq!(
            marked_copy(&many_pages(MAX_OBJECTS as i32), "application/pdf", MARK),
            Err(CopyError::UnreadablePdf)
        );
        assert_eq!(
            page_photos(&many_pages(MAX_OBJECTS as i32)),
            Err(CopyError::UnreadablePdf)
        );
    }

    #[test]
    fn a_multi_page_pdf_is_marked_on_each_page() {
        let two =
            crate::photos::photos_to_pdf(&[jpeg(20, 30, None), jpeg(30, 20, Some(3))]).unwrap();
        let copy = marked_copy(&two, "application/pdf", MARK).unwrap();
        let doc = lopdf::Document::load_mem(&copy).unwrap();
        for (_, page) in doc.get_pages() {
            let content = String::from_utf8_lossy(&doc.get_page_content(page)).into_owned();
            assert!(content.contains(&mark_hex()), "page {page:?}: {content}");
        }
    }
}

/// The photo of each page of a PDF made of photos (as Coffre makes them
/// from a phone's pictures: one JPEG per page), for a page to show them as
/// images. Any page that is not exactly one JPEG: [`CopyError::NotMarkable`]
/// (the paper is then offered as a download).
pub fn page_photos(pdf: &[u8]) -> Result<Vec<Vec<u8>>, CopyError> {
    if pdf.len() > MARKABLE_MAX_BYTES {
        return Err(CopyError::TooLarge);
    }
    let doc = load(pdf)?;
    if doc.is_encrypted() {
        return Err(CopyError::UnreadablePdf);
    }
    let pages = doc.get_pages();
    if pages.is_empty() || pages.len() > crate::photos::MAX_PHOTOS {
        return Err(CopyError::NotMarkable);
    }
    let mut out = Vec::with_capacity(pages.len());
    for (_, page) in pages {
        let (own, inherited) = doc
            .get_page_resources(page)
            .map_err(|_| CopyError::UnreadablePdf)?;
        let mut dicts: Vec<&Dictionary> = own.into_iter().collect();
        for id in inherited {
            if let Ok(d) = doc.get_dictionary(id) {
                dicts.push(d);
            }
        }
        let xobjects = dicts
            .iter()
            .find_map(|d| match d.get(b"XObject") {
                Ok(Object::Dictionary(x)) => Some(x),
                Ok(Object::Reference(r)) => doc.get_dictionary(*r).ok(),
                _ => None,
            })
            .ok_or(CopyError::NotMarkable)?;
        let mut jpegs = xobjects.iter().filter_map(|(_, o)| {
            let stream = doc
                .get_object(o.as_reference().ok()?)
                .ok()?
                .as_stream()
                .ok()?;
            let dct = match stream.dict.get(b"Filter").ok()? {
                Object::Name(n) => n == b"DCTDecode",
                Object::Array(a) => a.len() == 1 && a[0].as_name().ok() == Some(b"DCTDecode"),
                _ => false,
            };
            (dct && stream.dict.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"Image"))
                .then(|| stream.content.clone())
        });
        let (Some(jpeg), None) = (jpegs.next(), jpegs.next()) else {
            return Err(CopyError::NotMarkable);
        };
        if crate::photos::jpeg_facts(&jpeg).is_err() {
            return Err(CopyError::NotMarkable);
        }
        out.push(jpeg);
    }
    Ok(out)
}

#[cfg(test)]
mod page_tests {
    use super::*;
    use crate::photos::tests::jpeg;

    #[test]
    fn the_photos_of_a_photo_pdf_come_back_as_they_went_in() {
        let a = jpeg(20, 30, Some(6));
        let b = jpeg(30, 20, None);
        let pdf = crate::photos::photos_to_pdf(&[a.clone(), b.clone()]).unwrap();
        let pages = page_photos(&pdf).unwrap();
        assert_eq!(pages.len(), 2);
        for (page, photo) in pages.iter().zip([&a, &b]) {
            let pixels = crate::photos::tests::scan_data(photo);
            assert_eq!(crate::photos::tests::scan_data(page), pixels);
        }
        // The orientation is still there for the browser.
        assert_eq!(crate::photos::jpeg_facts(&pages[0]).unwrap().orientation, 6);
        // A text PDF has no photo pages: offered as a download.
        let text = crate::pdf_text::text_pdf("Attestation", &["x"]);
        assert_eq!(page_photos(&text), Err(CopyError::NotMarkable));
        assert_eq!(page_photos(b"%PDF-1.7 nope"), Err(CopyError::UnreadablePdf));
    }
}
