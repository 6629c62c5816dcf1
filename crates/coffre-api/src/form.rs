//! The text fields of an upload form (title, category, date…), read with a
//! bound: piece by piece, refused past [`MAX_TEXT_FIELD`] bytes, never
//! buffered whole; UTF-8 only. Self-contained (std, `bytes`,
//! `futures-util`): the fuzz target `form` compiles this very file, behind
//! the multipart parser axum uses.

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

/// Longest text field of the upload form (titles, notes).
pub const MAX_TEXT_FIELD: usize = 8000;

/// Why a text field is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextProblem {
    TooLong,
    NotUtf8,
    /// The form itself is malformed (the parser's error).
    Malformed,
}

/// Reads one text field from its chunks.
pub async fn read_text<S, E>(mut chunks: S) -> Result<String, TextProblem>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    let mut raw = Vec::new();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|_| TextProblem::Malformed)?;
        if raw.len() + chunk.len() > MAX_TEXT_FIELD {
            return Err(TextProblem::TooLong);
        }
        raw.extend_from_slice(&chunk);
    }
    String::from_utf8(raw).map_err(|_| TextProblem::NotUtf8)
}
