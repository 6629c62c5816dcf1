//! Project Wycheproof vectors: every Cobblestone-256 vector, through the
//! whole-message and the streaming opener, and the AES-256-GCM vectors
//! against the ring calls this crate makes.

use std::io::Read;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::digest::{SHA512, digest};
use wycheproof::TestResult;
use wycheproof::chunked_encryption::{TestFlag, TestName, TestSet};

use super::*;

fn inflate(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn cobblestone_256_vectors() {
    let set = TestSet::load(TestName::Cobblestone256).unwrap();
    let mut ran = 0;
    let (mut valid, mut invalid) = (0, 0);
    for group in &set.test_groups {
        for t in &group.tests {
            let ct = inflate(&t.ct);
            let id = t.tc_id;
            // Feed the streaming opener in several piece sizes: results must
            // not depend on how the bytes arrive.
            let mut outcomes = Vec::new();
            for step in [1usize << 20, SEALED_CHUNK_LEN, 1000, SEALED_CHUNK_LEN + 1] {
                outcomes.push(open_streaming(&t.key, &t.ctx, &ct, step));
            }
            let (first, first_res) = &outcomes[0];
            for (out, res) in &outcomes[1..] {
                assert_eq!(out, first, "tc {id}: output depends on piece size");
                assert_eq!(res.is_ok(), first_res.is_ok(), "tc {id}");
            }
            match t.result {
                TestResult::Valid => {
                    valid += 1;
                    assert!(first_res.is_ok(), "tc {id} ({}) should decrypt", t.comment);
                    assert_eq!(Some(first.len()), t.msg_length, "tc {id}");
                    let sha = t.msg_sha512.as_ref().unwrap();
                    assert_eq!(digest(&SHA512, first).as_ref(), sha.as_slice(), "tc {id}");
                    check_reencryption(
                        &t.key,
                        &t.ctx,
                        &ct,
                        first,
                        t.base_nonce.as_ref().map(|n| n.as_slice()),
                    );
                }
                TestResult::Invalid | TestResult::Acceptable => {
                    invalid += 1;
                    assert!(
                        first_res.is_err(),
                        "tc {id} ({}) must be rejected",
                        t.comment
                    );
                    if t.flags.contains(&TestFlag::HeaderFailure) {
                        assert!(
                            first.is_empty(),
                            "tc {id}: header failure released plaintext"
                        );
                    }
                    if t.flags.contains(&TestFlag::PartialPlaintext) {
                        // We may release the authentic prefix, never more.
                        let n = t.msg_length.unwrap();
                        assert!(first.len() <= n, "tc {id}");
                        let sha = t.msg_sha512.as_ref().unwrap();
                        if first.len() == n {
                            assert_eq!(digest(&SHA512, first).as_ref(), sha.as_slice(), "tc {id}");
                        }
                    } else {
                        assert!(
                            first.is_empty() || t.flags.contains(&TestFlag::ValidFinalChunk),
                            "tc {id}"
                        );
                    }
                }
            }
            ran += 1;
        }
    }
    assert_eq!(ran, set.number_of_tests);
    assert!(
        ran >= 35,
        "expected the full Cobblestone-256 set, got {ran}"
    );
    println!(
        "Wycheproof Cobblestone-256: {ran} vectors ran ({valid} valid, {invalid} invalid), all passed"
    );
}

/// Sealing the plaintext again with the vector's salt gives the vector's bytes.
fn check_reencryption(
    key: &[u8],
    ctx: &[u8],
    ct: &[u8],
    plaintext: &[u8],
    base_nonce: Option<&[u8]>,
) {
    let key: &[u8; KEY_LEN] = key.try_into().unwrap();
    let salt: &[u8; SALT_LEN] = ct[..SALT_LEN].try_into().unwrap();
    let (cipher, prefix) = ChunkCipher::seal_with_salt(key, ctx, salt).unwrap();
    if let Some(n) = base_nonce {
        assert_eq!(cipher.base_nonce.as_slice(), n);
    }
    let mut out = prefix.to_vec();
    let mut sealer = StreamSealer::new(cipher);
    for piece in plaintext.chunks(7000) {
        sealer.push(piece, &mut out).unwrap();
    }
    sealer.finish(&mut out).unwrap();
    assert!(out == ct, "re-encryption differs from the vector");
}

#[test]
fn aes_256_gcm_vectors_through_ring() {
    let set = wycheproof::aead::TestSet::load(wycheproof::aead::TestName::AesGcm).unwrap();
    let mut ran = 0;
    for group in &set.test_groups {
        // Only what this crate ever calls: 256-bit keys, 96-bit nonces,
        // 128-bit tags.
        if group.key_size != 256 || group.nonce_size != 96 || group.tag_size != 128 {
            continue;
        }
        for t in &group.tests {
            let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &t.key).unwrap());
            let nonce = || Nonce::try_assume_unique_for_key(&t.nonce).unwrap();
            let mut sealed = t.ct.to_vec();
            sealed.extend_from_slice(&t.tag);
            let opened = key.open_in_place(nonce(), Aad::from(t.aad.as_slice()), &mut sealed);
            match t.result {
                TestResult::Valid => {
                    assert_eq!(opened.unwrap(), t.pt.as_slice(), "tc {}", t.tc_id);
                    let mut buf = t.pt.to_vec();
                    let tag = key
                        .seal_in_place_separate_tag(nonce(), Aad::from(t.aad.as_slice()), &mut buf)
                        .unwrap();
                    assert_eq!(buf, t.ct.as_slice(), "tc {}", t.tc_id);
                    assert_eq!(tag.as_ref(), t.tag.as_slice(), "tc {}", t.tc_id);
                }
                TestResult::Invalid => assert!(opened.is_err(), "tc {} must fail", t.tc_id),
                TestResult::Acceptable => {}
            }
            ran += 1;
        }
    }
    assert!(ran > 50, "too few AES-256-GCM vectors: {ran}");
    println!("Wycheproof AES-256-GCM (96-bit nonce, 128-bit tag): {ran} vectors ran, all passed");
}
