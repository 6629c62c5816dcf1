//! The `Range` header of a download (the very file the API compiles).
#![no_main]

#[path = "../../coffre-api/src/range.rs"]
mod range;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let size = u64::from_le_bytes(data[..8].try_into().unwrap_or([0; 8]));
    let Ok(h) = std::str::from_utf8(&data[8..]) else {
        return;
    };
    if let Some(r) = range::parse(h, size) {
        // Whatever is answered lies within the document and is not empty.
        assert!(r.start < r.end && r.end <= size);
    }
});
