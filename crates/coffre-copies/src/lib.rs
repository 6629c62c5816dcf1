//! Copies of papers, as PDF: phone photos made into one PDF without
//! decoding them ([`photos`]), text on a page ([`pdf_text`]), and the mark
//! every copy that leaves the vault carries ([`mark`]): "Copie transmise à
//! … le … — Coffre", drawn over each page. No IO: bytes in, bytes out.

#![deny(missing_docs)]

pub mod mark;
pub mod pdf_text;
pub mod photos;

pub use mark::{
    CopyError, MARKABLE_MAX_BYTES, duplicate_mark, given_mark, markable, marked_copy, page_photos,
};
