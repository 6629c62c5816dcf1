//! Property tests of the object format through the public streaming API:
//! round trips at the chunk boundaries and beyond, and every kind of damage
//! (flipped bit, truncation, appended bytes, reordered chunks, a header from
//! another document, a wrong key) gives an error, never other plaintext.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};

use coffre_crypto::object::{
    CHUNK_STORED_LEN, ObjectHeader, ObjectReader, ObjectWriter, PREFIX_LEN,
};
use coffre_crypto::{Dek, DocumentId};
use proptest::prelude::*;

const CHUNK: usize = 16 * 1024;

fn seal(dek: &Dek, header: &ObjectHeader, data: &[u8], write_size: usize) -> Vec<u8> {
    let mut w = ObjectWriter::new(dek, header, Vec::new()).unwrap();
    for piece in data.chunks(write_size.max(1)) {
        w.write_all(piece).unwrap();
    }
    w.finish().unwrap()
}

/// Opens `object`, returning what the reader released and whether it ended
/// cleanly.
fn open(dek: &Dek, header: &ObjectHeader, object: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let Ok(mut r) = ObjectReader::new(dek, header, object) else {
        return (out, false);
    };
    let mut buf = [0u8; 5000];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => {
                // An error sticks.
                assert!(r.read(&mut buf).is_err());
                return (out, false);
            }
        }
    }
}

/// Damaged input must fail, and whatever was released before the failure
/// must be a prefix of the true plaintext: never different bytes.
fn assert_rejected(dek: &Dek, header: &ObjectHeader, object: &[u8], original: &[u8]) {
    let (released, ok) = open(dek, header, object);
    assert!(!ok, "damaged object opened cleanly");
    assert!(
        original.starts_with(&released),
        "released bytes that are not the original's"
    );
}

fn header() -> ObjectHeader {
    ObjectHeader::new(DocumentId::random().unwrap(), 1)
}

#[test]
fn boundary_sizes_round_trip() {
    let dek = Dek::generate().unwrap();
    let h = header();
    for n in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 5 * CHUNK + 3] {
        let data: Vec<u8> = (0..n).map(|i| (i * 7 % 256) as u8).collect();
        for write_size in [1, 1000, CHUNK, CHUNK + 1, 1 << 20] {
            if n > 100_000 && write_size == 1 {
                continue;
            }
            let obj = seal(&dek, &h, &data, write_size);
            assert_eq!(
                obj.len() as u64,
                coffre_crypto::object::object_len(n as u64)
            );
            let (back, ok) = open(&dek, &h, &obj);
            assert!(ok, "n = {n}");
            assert_eq!(back, data, "n = {n}, write size {write_size}");
        }
    }
}

fn sizes() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(0usize),
        Just(1),
        Just(CHUNK - 1),
        Just(CHUNK),
        Just(CHUNK + 1),
        0usize..300,
        0usize..(4 * CHUNK + 50),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn round_trip(n in sizes(), seed in any::<u8>(), write_size in 1usize..40_000) {
        let data: Vec<u8> = (0..n).map(|i| (i as u8).wrapping_mul(seed | 1)).collect();
        let dek = Dek::generate().unwrap();
        let h = header();
        let obj = seal(&dek, &h, &data, write_size);
        let (back, ok) = open(&dek, &h, &obj);
        prop_assert!(ok);
        prop_assert_eq!(back, data);
    }

    #[test]
    fn any_flipped_bit_is_rejected(n in sizes(), pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let data = vec![0x5a; n];
        let dek = Dek::generate().unwrap();
        let h = header();
        let mut obj = seal(&dek, &h, &data, 4096);
        let i = pos.index(obj.len());
        obj[i] ^= 1 << bit;
        assert_rejected(&dek, &h, &obj, &data);
    }

    #[test]
    fn any_truncation_is_rejected(n in sizes(), cut in any::<prop::sample::Index>()) {
        let data: Vec<u8> = (0..n).map(|i| i as u8).collect();
        let dek = Dek::generate().unwrap();
        let h = header();
        let obj = seal(&dek, &h, &data, 4096);
        let keep = cut.index(obj.len()); // strictly shorter than the object
        assert_rejected(&dek, &h, &obj[..keep], &data);
    }

    #[test]
    fn appended_bytes_are_rejected(n in sizes(), extra in prop::collection::vec(any::<u8>(), 1..CHUNK + 40)) {
        let data = vec![1u8; n];
        let dek = Dek::generate().unwrap();
        let h = header();
        let mut obj = seal(&dek, &h, &data, 4096);
        obj.extend_from_slice(&extra);
        assert_rejected(&dek, &h, &obj, &data);
    }

    #[test]
    fn reordered_or_duplicated_chunks_are_rejected(chunks in 2usize..5, tail in 0usize..CHUNK, a in 0usize..5, b in 0usize..5) {
        let n = chunks * CHUNK + tail;
        let data: Vec<u8> = (0..n).map(|i| (i / CHUNK) as u8 ^ i as u8).collect();
        let dek = Dek::generate().unwrap();
        let h = header();
        let obj = seal(&dek, &h, &data, 8192);
        let (a, b) = (a % chunks, b % chunks);
        prop_assume!(a != b);
        let span = |k: usize| PREFIX_LEN + k * CHUNK_STORED_LEN..PREFIX_LEN + (k + 1) * CHUNK_STORED_LEN;
        // Swap two full chunks.
        let mut swapped = obj.clone();
        let chunk_a = obj[span(a)].to_vec();
        let chunk_b = obj[span(b)].to_vec();
        swapped[span(a)].copy_from_slice(&chunk_b);
        swapped[span(b)].copy_from_slice(&chunk_a);
        assert_rejected(&dek, &h, &swapped, &data);
        // Duplicate one over another.
        let mut dup = obj.clone();
        dup[span(b)].copy_from_slice(&chunk_a);
        assert_rejected(&dek, &h, &dup, &data);
    }

    #[test]
    fn header_of_another_document_is_rejected(n in sizes(), other_version in any::<bool>()) {
        let data = vec![9u8; n];
        let dek = Dek::generate().unwrap();
        let h = header();
        let obj = seal(&dek, &h, &data, 4096);
        let other = if other_version {
            ObjectHeader::new(h.document, h.version + 1)
        } else {
            header()
        };
        // Asking for another document: refused.
        assert_rejected(&dek, &other, &obj, &data);
        // The other document's header pasted onto this object: refused too,
        // even when the caller expects that header.
        let mut pasted = obj.clone();
        pasted[..28].copy_from_slice(&other.to_bytes());
        assert_rejected(&dek, &other, &pasted, &data);
        // An object swapped in from another document under the same key.
        let foreign = seal(&dek, &other, &data, 4096);
        assert_rejected(&dek, &h, &foreign, &data);
    }

    #[test]
    fn wrong_dek_is_rejected(n in sizes()) {
        let data = vec![3u8; n];
        let h = header();
        let obj = seal(&Dek::generate().unwrap(), &h, &data, 4096);
        let (released, ok) = open(&Dek::generate().unwrap(), &h, &obj);
        prop_assert!(!ok);
        // The key commitment fails before any chunk is opened.
        prop_assert!(released.is_empty());
    }
}

/// Invariant 1, format side: an object holds no readable trace of its
/// plaintext, and its only clear bytes are the header (random ids).
#[test]
fn object_bytes_hold_no_plaintext() {
    let marker = b"CARTE-NATIONALE-D-IDENTITE Marie Dupont 1984-03-02 ";
    let data: Vec<u8> = marker
        .iter()
        .copied()
        .cycle()
        .take(3 * CHUNK + 777)
        .collect();
    let dek = Dek::generate().unwrap();
    let h = header();
    let obj = seal(&dek, &h, &data, 5000);
    for window in marker.windows(8) {
        assert!(
            !obj.windows(8).any(|w| w == window),
            "plaintext fragment found in the object"
        );
    }
    assert_eq!(&obj[..28], &h.to_bytes());
}
