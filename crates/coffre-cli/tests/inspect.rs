//! The real `coffre` binary on real files.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::Command;

use coffre_crypto::object::{ObjectHeader, ObjectWriter};
use coffre_crypto::{Dek, DocumentId};

fn coffre() -> Command {
    Command::new(env!("CARGO_BIN_EXE_coffre"))
}

fn sample(len: usize) -> (DocumentId, Vec<u8>) {
    let doc = DocumentId::random().unwrap();
    let mut w = ObjectWriter::new(
        &Dek::generate().unwrap(),
        &ObjectHeader::new(doc, 2),
        Vec::new(),
    )
    .unwrap();
    w.write_all(&vec![7u8; len]).unwrap();
    (doc, w.finish().unwrap())
}

#[test]
fn inspect_prints_header_and_size() {
    let dir = tempfile::tempdir().unwrap();
    let (doc, obj) = sample(40_000);
    let path = dir.path().join("obj");
    std::fs::write(&path, &obj).unwrap();

    let out = coffre()
        .args(["object", "inspect"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(&format!("{doc} version 2")), "{text}");
    assert!(text.contains("40000 bytes of plaintext"), "{text}");

    let out = coffre()
        .args(["object", "inspect", "--json"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["document_id"], doc.to_string());
    assert_eq!(v["document_version"], 2);
    assert_eq!(v["plaintext_bytes"], 40_000);
    assert_eq!(v["stored_bytes"], obj.len());
}

#[test]
fn inspect_fails_on_truncated_or_foreign_files() {
    let dir = tempfile::tempdir().unwrap();
    let (_, obj) = sample(100);
    let cut = dir.path().join("cut");
    // Cut inside the final tag: no valid object has this length.
    std::fs::write(&cut, &obj[..obj.len() - 110]).unwrap();
    let out = coffre()
        .args(["object", "inspect"])
        .arg(&cut)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("truncated"));

    let foreign = dir.path().join("foreign");
    std::fs::write(&foreign, b"%PDF-1.7 not an object at all, just some text").unwrap();
    let out = coffre()
        .args(["object", "inspect"])
        .arg(&foreign)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a Coffre object"));

    let missing = dir.path().join("missing");
    let out = coffre()
        .args(["object", "inspect"])
        .arg(&missing)
        .output()
        .unwrap();
    assert!(!out.status.success());
}
