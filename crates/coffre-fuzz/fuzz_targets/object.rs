//! The stored object format: header, streaming opener, random access, the
//! reader; on bytes the store handed back (damaged, truncated, forged).
//! Seeds are objects sealed under the key used here, so mutations reach
//! past the key commitment.
#![no_main]

use coffre_crypto::object::{ObjectHeader, ObjectReader, Opener, PREFIX_LEN, RandomAccess};
use coffre_crypto::{Dek, DocumentId};
use libfuzzer_sys::fuzz_target;
use std::io::Read;

fuzz_target!(|data: &[u8]| {
    let dek = Dek::fixed_for_fuzzing([7; 32]);
    let header = ObjectHeader::parse(data)
        .unwrap_or_else(|_| ObjectHeader::new(DocumentId::from_bytes([1; 16]), 1));
    let prefix = &data[..data.len().min(PREFIX_LEN)];
    if let Ok(mut opener) = Opener::new(&dek, &header, prefix) {
        let mut out = Vec::new();
        let rest = &data[prefix.len()..];
        // Fed in uneven pieces, as a network delivers them.
        for piece in rest.chunks(7001) {
            if opener.push(piece, &mut out).is_err() {
                return;
            }
        }
        let _ = opener.finish(&mut out);
    }
    if let Ok(ra) = RandomAccess::new(&dek, &header, prefix, data.len() as u64) {
        let _ = ra.chunks_for(0..ra.plaintext_len());
        for i in 0..ra.chunk_count().min(16) {
            if let Ok(span) = ra.chunk_span(i) {
                let (a, b) = (span.start as usize, span.end as usize);
                if b <= data.len() && a <= b {
                    let _ = ra.open_chunk(i, &data[a..b]);
                }
            }
        }
    }
    if let Ok(mut reader) = ObjectReader::new(&dek, &header, data) {
        let mut out = Vec::new();
        let _ = reader.read_to_end(&mut out);
    }
});
