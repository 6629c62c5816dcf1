//! An age archive (a backup, an audit export) opened with the identity it
//! is for: the bytes may come from anywhere the file travelled.
#![no_main]

use coffre_crypto::Identity;
use coffre_crypto::archive;
use libfuzzer_sys::fuzz_target;
use std::io::Read;
use std::sync::OnceLock;

fn identity() -> &'static Identity {
    static ID: OnceLock<Identity> = OnceLock::new();
    ID.get_or_init(|| {
        Identity::from_identity_file(include_str!(
            "../../coffre-cli/tests/cmd/fixtures/auditor.txt"
        ))
        .unwrap_or_else(|_| Identity::generate())
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = archive::looks_encrypted(data);
    if let Ok(mut r) = archive::open(identity(), data) {
        let mut out = Vec::new();
        let _ = r.by_ref().take(1 << 20).read_to_end(&mut out);
    }
});
