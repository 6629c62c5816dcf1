//! Writes the seed corpora (committed under `corpus/`): valid inputs of
//! each target, which the fuzzer then mutates.
//!
//!   cd crates/coffre-fuzz && RUSTFLAGS="--cfg fuzzing" cargo +nightly run --example make_seeds

use std::io::Write;
use std::path::Path;

use coffre_crypto::object::{ObjectHeader, ObjectWriter};
use coffre_crypto::wrap::ShareSecret;
use coffre_crypto::{Dek, DocumentId, Identity, PrincipalId};

fn put(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
    std::fs::create_dir_all(&dir).expect("corpus directory");
    std::fs::write(dir.join(name), bytes).expect("seed");
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // Objects sealed under the key the target uses.
    let dek = Dek::fixed_for_fuzzing([7; 32]);
    let header = ObjectHeader::new(DocumentId::from_bytes([1; 16]), 1);
    for (name, len) in [("empty", 0usize), ("small", 100), ("three-chunks", 40_000)] {
        let plain: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut w = ObjectWriter::new(&dek, &header, Vec::new()).expect("writer");
        w.write_all(&plain).expect("write");
        put("object", name, &w.finish().expect("finish"));
    }
    // Audit exports and archives: the CLI's own fixtures.
    let fixtures = root.join("crates/coffre-cli/tests/cmd/fixtures");
    for f in ["export.jsonl", "altered.jsonl", "removed.jsonl"] {
        put("audit_export", f, &std::fs::read(fixtures.join(f)).expect("fixture"));
    }
    put("archive", "export.age", &std::fs::read(fixtures.join("export.age")).expect("fixture"));
    // Tokens and ids as they appear in URLs.
    put("tokens", "share-token", ShareSecret::generate().expect("token").to_token().as_bytes());
    put("tokens", "principal-id", PrincipalId::from_bytes([0xab; 16]).to_string().as_bytes());
    put("tokens", "recipient", Identity::generate().recipient().to_string().as_bytes());
    // Range headers, after the document's size (8 bytes, little-endian).
    for (name, h) in [("start-end", "bytes=0-99"), ("suffix", "bytes=-500"), ("open", "bytes=1000-")] {
        let mut seed = 4096u64.to_le_bytes().to_vec();
        seed.extend_from_slice(h.as_bytes());
        put("range", name, &seed);
    }
    // An upload form as a browser sends it.
    let form = "--coffre-boundary\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nCarte d'identit\u{e9}\r\n\
--coffre-boundary\r\nContent-Disposition: form-data; name=\"category\"\r\n\r\nidentity\r\n\
--coffre-boundary\r\nContent-Disposition: form-data; name=\"expires_on\"\r\n\r\n2031-05-01\r\n\
--coffre-boundary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cni.jpg\"\r\nContent-Type: image/jpeg\r\n\r\nJPEGDATA\r\n\
--coffre-boundary--\r\n";
    put("form", "upload", form.as_bytes());
    // The documented configuration.
    put("config", "example.toml", &std::fs::read(root.join("deploy/coffre.example.toml")).expect("example"));
    put("config", "quick.toml", b"[server]\nlisten = \"127.0.0.1:8080\"\n[backup]\nevery_hours = 0\n");
}
