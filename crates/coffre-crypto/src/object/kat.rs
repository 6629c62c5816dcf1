//! Known-answer test: the worked example of `docs/FORMAT.md`, byte for byte.
//! If this fails, either the format changed (bump the version, update the
//! document) or the document is wrong.

use std::io::Read;

use super::*;

const FORMAT_MD: &str = include_str!("../../../../docs/FORMAT.md");

/// The hex dump between `<!-- kat:NAME:begin -->` and `<!-- kat:NAME:end -->`,
/// as `offset: hex bytes` lines.
fn block(name: &str) -> Vec<u8> {
    let begin = format!("<!-- kat:{name}:begin -->");
    let end = format!("<!-- kat:{name}:end -->");
    let start = FORMAT_MD
        .find(&begin)
        .unwrap_or_else(|| panic!("{begin} missing from FORMAT.md"));
    let stop = FORMAT_MD[start..].find(&end).unwrap() + start;
    let mut out = Vec::new();
    for line in FORMAT_MD[start + begin.len()..stop].lines() {
        let Some((_offset, bytes)) = line.split_once(':') else {
            continue;
        };
        for b in bytes.split_whitespace() {
            out.push(u8::from_str_radix(b, 16).unwrap());
        }
    }
    out
}

fn dump(bytes: &[u8]) -> String {
    bytes
        .chunks(16)
        .enumerate()
        .map(|(i, c)| {
            let hex: Vec<String> = c.iter().map(|b| format!("{b:02x}")).collect();
            format!("{:04x}: {}\n", i * 16, hex.join(" "))
        })
        .collect()
}

fn example_inputs() -> (Dek, ObjectHeader, [u8; 24], &'static [u8]) {
    let dek: Vec<u8> = (0u8..32).collect();
    let doc = DocumentId::from_bytes(
        *b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff",
    );
    let mut salt = [0u8; 24];
    for (i, s) in salt.iter_mut().enumerate() {
        *s = 0x50 + i as u8;
    }
    (
        Dek::from_slice(&dek).unwrap(),
        ObjectHeader::new(doc, 1),
        salt,
        b"Coffre: exemple du format v1\n",
    )
}

#[test]
fn format_md_worked_example() {
    let (dek, header, salt, plaintext) = example_inputs();
    let (mut sealer, prefix) = Sealer::with_salt(&dek, &header, &salt).unwrap();
    let mut object = prefix.to_vec();
    sealer.push(plaintext, &mut object).unwrap();
    sealer.finish(&mut object).unwrap();

    let documented = block("object");
    assert!(
        documented == object,
        "docs/FORMAT.md example differs from the code; the code produces:\n{}",
        dump(&object)
    );
    assert_eq!(object.len(), 129);
    assert_eq!(object_len(plaintext.len() as u64), 129);
    assert_eq!(block("header"), object[..HEADER_LEN]);

    // The documented intermediate values: the AES key and base nonce seal the
    // documented chunk with ring directly.
    let key = block("aes-key");
    let nonce = block("base-nonce");
    let aes = ring::aead::LessSafeKey::new(
        ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, &key).unwrap(),
    );
    let mut chunk = plaintext.to_vec();
    let tag = aes
        .seal_in_place_separate_tag(
            ring::aead::Nonce::try_assume_unique_for_key(&nonce).unwrap(),
            ring::aead::Aad::empty(),
            &mut chunk,
        )
        .unwrap();
    chunk.extend_from_slice(tag.as_ref());
    assert_eq!(chunk, documented[PREFIX_LEN..]);

    // And the documented bytes open with the documented inputs.
    let mut back = Vec::new();
    ObjectReader::new(&dek, &header, &documented[..])
        .unwrap()
        .read_to_end(&mut back)
        .unwrap();
    assert_eq!(back, plaintext);
}
