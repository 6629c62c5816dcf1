//! An audit export as the auditor's `coffre audit verify` reads it (once
//! decrypted): JSON lines, checked one by one in bounded memory.
#![no_main]

use coffre_crypto::audit::export::{Expect, Line, Verifier};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut verifier = Verifier::new(Expect::default());
    for line in text.lines() {
        let Ok(parsed) = serde_json::from_str::<Line>(line.trim_end()) else {
            return;
        };
        if verifier.push(parsed).is_err() {
            return;
        }
    }
    let _ = verifier.finish();
});
