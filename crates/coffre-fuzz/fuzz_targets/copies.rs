//! Papers from outside made into copies (`coffre-copies`): a JPEG's
//! headers and EXIF, a PDF amended with a mark, the photos of a PDF's
//! pages. Never a panic, and what comes out is a PDF.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = coffre_copies::photos::jpeg_facts(data);
    let _ = coffre_copies::photos::without_metadata(data, 6);
    for kind in ["image/jpeg", "application/pdf"] {
        if let Ok(pdf) = coffre_copies::marked_copy(data, kind, "Copie transmise à X le 1 mars 2026 — Coffre") {
            assert!(pdf.starts_with(b"%PDF-"));
        }
    }
    let _ = coffre_copies::page_photos(data);
});
