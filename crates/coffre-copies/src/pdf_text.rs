//! Text on PDF pages with the standard Helvetica font (every reader has it:
//! nothing embedded), in WinAnsi encoding, which covers French.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

/// A4 in PDF points.
pub const A4: (f32, f32) = (595.0, 842.0);

/// Text as WinAnsi bytes: Latin-1 letters as they are, the few
/// typographic marks French uses mapped, anything else a `?`.
pub fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            '’' => 0x92,
            '‘' => 0x91,
            '“' => 0x93,
            '”' => 0x94,
            '–' => 0x96,
            '—' => 0x97,
            '€' => 0x80,
            '…' => 0x85,
            '\u{a0}'..='\u{ff}' | ' '..='~' => u8::try_from(u32::from(c)).unwrap_or(b'?'),
            _ => b'?',
        })
        .collect()
}

/// A one-page PDF with a title and lines of text (demonstration papers).
pub fn text_pdf(title: &str, lines: &[&str]) -> Vec<u8> {
    let mut pdf = Pdf::new();
    let (catalog, tree, page, content_id, font) = (
        Ref::new(1),
        Ref::new(2),
        Ref::new(3),
        Ref::new(4),
        Ref::new(5),
    );
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids([page]).count(1);
    let mut p = pdf.page(page);
    p.media_box(Rect::new(0.0, 0.0, A4.0, A4.1));
    p.parent(tree);
    p.contents(content_id);
    p.resources().fonts().pair(Name(b"F1"), font);
    p.finish();
    pdf.type1_font(font)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    let mut c = Content::new();
    c.begin_text();
    c.set_font(Name(b"F1"), 20.0);
    c.next_line(60.0, A4.1 - 90.0);
    c.show(Str(&win_ansi(title)));
    c.set_font(Name(b"F1"), 12.0);
    c.set_leading(18.0);
    c.next_line(0.0, -36.0);
    for l in lines {
        c.show(Str(&win_ansi(l)));
        c.next_line(0.0, -18.0);
    }
    c.end_text();
    pdf.stream(content_id, &c.finish());
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_text_is_win_ansi() {
        assert_eq!(win_ansi("Déjà vu"), b"D\xe9j\xe0 vu");
        assert_eq!(win_ansi("l’été — 5 €"), b"l\x92\xe9t\xe9 \x97 5 \x80");
        assert_eq!(win_ansi("日本"), b"??");
    }

    #[test]
    fn a_text_pdf_names_its_font_and_holds_its_text() {
        let pdf = text_pdf("Attestation", &["Ligne été"]);
        let text = String::from_utf8_lossy(&pdf);
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(text.contains("/Helvetica"));
        assert!(text.contains("/WinAnsiEncoding"));
        // "Ligne été" in WinAnsi, written as a hex string.
        assert!(text.contains("<4C69676E6520E974E9> Tj"), "{text}");
    }
}
