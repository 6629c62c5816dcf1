//! Every operation of the vault, through its public API, on a real
//! filesystem store and a real sled database.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Read;
use std::time::Duration;

use coffre_crypto::UserSecret;
use coffre_crypto::audit::{Anchor, verify};
use coffre_store::{KeyPrefix, ObjectKey};
use coffre_vault::{Category, NewBeneficiary, NewDocument, NewGrant, Permission, VaultError};
use common::*;

fn doc(category: Category, title: &str, filename: &str) -> NewDocument {
    NewDocument {
        category: Some(category),
        title: Some(title.into()),
        filename: filename.into(),
        content_type: Some("image/jpeg".into()),
        ..NewDocument::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn structures_and_caseworkers() {
    let w = world().await;
    let s = w
        .vault
        .create_structure("CCAS de Lyon", "admin.lyon")
        .await
        .unwrap();
    assert!(matches!(
        w.vault
            .enroll_caseworker(&s.enrollment_code, UserSecret::from("court"))
            .await,
        Err(VaultError::Invalid(_))
    ));
    w.activate("admin.lyon", &s.enrollment_code, PASSWORD)
        .await
        .unwrap();
    // A code works once.
    assert!(
        w.vault
            .enroll_caseworker(&s.enrollment_code, UserSecret::from(PASSWORD))
            .await
            .is_err()
    );
    assert!(matches!(
        w.vault.create_structure("Autre", "ADMIN.lyon ").await,
        Err(VaultError::Conflict(_))
    ));
    let admin = w.login_cw("admin.lyon", PASSWORD).await.unwrap();
    let admin = w.vault.session(&admin.token).unwrap();
    let cw = caseworker(&w, &admin, s.structure_id, "julie").await;
    // Only an admin invites.
    assert!(matches!(
        w.vault
            .invite_caseworker(&cw, s.structure_id, "paul", false)
            .await,
        Err(VaultError::Forbidden(_))
    ));
    assert!(matches!(
        w.login_cw("julie", "mauvais-mot-de-passe").await,
        Err(VaultError::Unauthenticated)
    ));
    // Deactivation: the caseworker can no longer log in; the structure keeps working.
    let julie = match cw.principal {
        coffre_vault::Principal::Caseworker { id, .. } => id,
        _ => unreachable!(),
    };
    w.vault.deactivate_caseworker(&admin, julie).await.unwrap();
    assert!(w.login_cw("julie", PASSWORD).await.is_err());
    assert_eq!(w.vault.structures().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beneficiaries_are_found_only_by_their_structures() {
    let w = world().await;
    let (s1, a1) = structure(&w, "CCAS", "a1").await;
    let (_s2, a2) = structure(&w, "Relais", "a2").await;
    let bad = NewBeneficiary {
        identifier: "marie".into(),
        display_name: "Marie D.".into(),
        secret: UserSecret::from("12345"),
        recovery_trustee: false,
        grant: None,
    };
    assert!(matches!(
        w.vault.enroll_beneficiary(&a1, bad).await,
        Err(VaultError::WeakSecret(_))
    ));
    let (b, _) = beneficiary(&w, &a1, "marie", "482913", &[], false).await;
    // Another Marie, at another structure: she gets her own number, and
    // the caseworker learns nothing about the first one.
    let other = NewBeneficiary {
        identifier: "Marie".into(),
        display_name: "x".into(),
        secret: UserSecret::from("482913"),
        recovery_trustee: false,
        grant: None,
    };
    let second = w.vault.enroll_beneficiary(&a2, other).await.unwrap();
    assert_ne!(second.identifier, w.id("marie"));
    assert!(second.identifier.starts_with("marie-"));
    for who in [second.identifier.clone(), w.id("marie")] {
        w.vault
            .login_beneficiary(&who, UserSecret::from("482913"))
            .await
            .unwrap();
    }
    let mine = w.vault.list_beneficiaries(&a1).await.unwrap();
    assert_eq!(mine, vec![(b, "Personne marie".to_owned())]);
    assert_eq!(
        w.vault.list_beneficiaries(&a2).await.unwrap(),
        vec![(second.beneficiary_id, "x".to_owned())]
    );
    assert!(matches!(
        w.vault.list_documents(&a2, b).await,
        Err(VaultError::NotFound)
    ));
    let _ = s1;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_upload_list_download_edit_delete() {
    let w = world().await;
    let (s, admin) = structure(&w, "CCAS", "admin").await;
    let cw = caseworker(&w, &admin, s, "julie").await;
    let (b, me) = beneficiary(
        &w,
        &cw,
        "marie",
        "482913",
        &[Category::Identity, Category::SocialBenefits],
        true,
    )
    .await;

    // The caseworker uploads a scan: shared in its category.
    let scan = scan(70_000, 1);
    let mut meta = doc(Category::Identity, "Carte d'identité", "cni.jpg");
    meta.expires_on = Some("2027-01-15".parse().unwrap());
    meta.notes = Some("Original gardé au CCAS,\nbureau 2".into());
    let up = w
        .vault
        .upload(&cw, b, meta, body(&scan, 8000))
        .await
        .unwrap();
    assert_eq!(up.size, 70_000);
    assert!(!up.private);
    // Not in a granted category: refused.
    let refused = w
        .vault
        .upload(&cw, b, doc(Category::Health, "x", "x.pdf"), body(b"x", 1))
        .await;
    assert!(matches!(refused, Err(VaultError::Forbidden(_))));

    // The person lists and downloads it byte-exact.
    let list = w.vault.list_documents(&me, b).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].title, "Carte d'identité");
    assert_eq!(list[0].filename, "cni.jpg");
    assert_eq!(
        list[0].notes.as_deref(),
        Some("Original gardé au CCAS,\nbureau 2")
    );
    let (info, stream) = w.vault.download(&me, up.document_id).await.unwrap();
    assert_eq!(info.sha256, up.sha256);
    assert_eq!(collect(stream).await.unwrap(), scan);

    // Ranges across chunk boundaries.
    for (a, z) in [
        (0u64, 1u64),
        (16_380, 16_390),
        (16_384, 49_153),
        (69_990, 80_000),
    ] {
        let (_, r, stream) = w
            .vault
            .download_range(&me, up.document_id, a..z)
            .await
            .unwrap();
        assert_eq!(
            collect(stream).await.unwrap(),
            scan[r.start as usize..r.end as usize]
        );
    }

    // The person's own upload is private: the caseworker does not see it.
    let mine = w
        .vault
        .upload(
            &me,
            b,
            doc(Category::Identity, "Note", "note.txt"),
            body(b"secret note", 3),
        )
        .await
        .unwrap();
    assert!(mine.private);
    assert_eq!(w.vault.list_documents(&cw, b).await.unwrap().len(), 1);
    assert!(matches!(
        w.vault.document_info(&cw, mine.document_id).await,
        Err(VaultError::NotFound)
    ));
    // Shared on purpose: now visible.
    w.vault
        .update_document(&me, mine.document_id, None, None, Some(false))
        .await
        .unwrap();
    assert_eq!(w.vault.list_documents(&cw, b).await.unwrap().len(), 2);
    // And private again.
    w.vault
        .update_document(&me, mine.document_id, None, None, Some(true))
        .await
        .unwrap();
    assert_eq!(w.vault.list_documents(&cw, b).await.unwrap().len(), 1);

    // Edits by the owner; not by the caseworker.
    let edited = w
        .vault
        .update_document(
            &me,
            up.document_id,
            Some("CNI recto-verso".into()),
            Some(Some("2026-12-01".parse().unwrap())),
            None,
        )
        .await
        .unwrap();
    assert_eq!(edited.title, "CNI recto-verso");
    assert!(matches!(
        w.vault
            .update_document(&cw, up.document_id, Some("x".into()), None, None)
            .await,
        Err(VaultError::Forbidden(_))
    ));
    let soon = w.vault.expiring_documents(&me, b, 60).await.unwrap();
    assert_eq!(
        soon.iter().map(|d| d.document_id).collect::<Vec<_>>(),
        vec![up.document_id]
    );

    // Caseworkers never delete; the owner does, and the object goes too.
    assert!(matches!(
        w.vault.delete_document(&cw, up.document_id).await,
        Err(VaultError::Forbidden(_))
    ));
    w.vault.delete_document(&me, up.document_id).await.unwrap();
    assert!(matches!(
        w.vault.download(&me, up.document_id).await,
        Err(VaultError::NotFound)
    ));
    assert!(
        w.store
            .head(&ObjectKey::document(up.document_id, 1))
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_papers_and_ranges_open_in_batches_byte_exact() {
    // Over 2 MiB: streamed, opened a run of chunks (16 KiB each) at a time
    // in buffers of their own; ranges the same way.
    let w = world().await;
    let (s, admin) = structure(&w, "CCAS", "admin").await;
    let cw = caseworker(&w, &admin, s, "julie").await;
    let (b, me) = beneficiary(&w, &cw, "marie", "482913", &[Category::Identity], true).await;
    let chunk = 16_384u64;
    let batch = coffre_store::PIECE_CHUNKS * chunk;
    let len = 3 * batch as usize + 12_345;
    let scan = scan(len, 7);
    let up = w
        .vault
        .upload(
            &me,
            b,
            doc(Category::Identity, "Dossier", "dossier.pdf"),
            body(&scan, 100_000),
        )
        .await
        .unwrap();
    let n = len as u64;
    let ranges = [
        (0, batch),
        (batch - 1, batch + 1),
        (batch - 5, 2 * batch + 7),
        (chunk + 3, 3 * batch - 9),
        (3 * batch, n),
        (n - 1, n),
        (0, n),
    ];
    reads_back_exact(&w, &me, up.document_id, &scan, &ranges).await;
}

/// `paper` reads back whole and in each of `ranges` (start, end exclusive).
async fn reads_back_exact(
    w: &World,
    me: &coffre_vault::Session,
    id: coffre_crypto::DocumentId,
    paper: &[u8],
    ranges: &[(u64, u64)],
) {
    let (_, stream) = w.vault.download(me, id).await.unwrap();
    assert!(
        collect(stream).await.unwrap() == paper,
        "{} bytes",
        paper.len()
    );
    for &(a, z) in ranges {
        let (_, r, stream) = w.vault.download_range(me, id, a..z).await.unwrap();
        assert_eq!(r, a..z);
        assert!(
            collect(stream).await.unwrap() == paper[a as usize..z as usize],
            "range {a}..{z} of {} bytes",
            paper.len()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn papers_open_in_the_filesystem_stores_own_pieces_and_leave_no_plaintext_behind() {
    papers_open_and_leave_no_plaintext_behind(world().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn papers_open_in_any_pieces_a_store_cuts_and_leave_no_plaintext_behind() {
    papers_open_and_leave_no_plaintext_behind(world_on_recutting_store().await).await;
}

/// Papers opened whole (up to 2 MiB) and streamed (larger), downloaded in
/// full and in ranges, then damaged after their first chunks: the bytes
/// are the paper's, the damage is an error, and no buffer the pool keeps
/// afterwards holds any of the plaintext (neither after a download nor
/// after an opening that failed half-way).
async fn papers_open_and_leave_no_plaintext_behind(w: World) {
    use coffre_crypto::object::{CHUNK_STORED_LEN, PREFIX_LEN};
    use coffre_store::buffers::kept_holds_any;
    let (s, admin) = structure(&w, "CCAS", "admin").await;
    let cw = caseworker(&w, &admin, s, "julie").await;
    let (b, me) = beneficiary(&w, &cw, "marie", "482913", &[Category::Identity], true).await;
    let random = |len: usize| {
        let mut v = vec![0u8; len];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut v).unwrap();
        v
    };
    // Sixteen bytes of every chunk of the plaintext (random: found
    // elsewhere by chance with odds of 2^-128).
    let pieces_of = |p: &[u8]| {
        p.chunks(16_384)
            .filter(|c| c.len() >= 116)
            .map(|c| <[u8; 16]>::try_from(&c[100..116]).unwrap())
            .collect::<std::collections::HashSet<_>>()
    };
    for len in [300_000usize, 1_500_000, 2_700_000] {
        let paper = random(len);
        let up = w
            .vault
            .upload(
                &me,
                b,
                doc(Category::Identity, "Titre", "t.pdf"),
                body(&paper, 70_001),
            )
            .await
            .unwrap();
        let n = len as u64;
        let ranges = [(0, 1), (5, n / 3), (n / 2 - 7, n), (n - 1, n)];
        reads_back_exact(&w, &me, up.document_id, &paper, &ranges).await;
        let plain = pieces_of(&paper);
        assert!(
            !kept_holds_any(&plain),
            "plaintext kept after a download of {len} bytes"
        );

        // Damage in the second run of chunks (streamed papers: the first
        // run is handed out, then the opening fails after a few chunks) or
        // in the last chunk (papers opened whole: the chunks before it
        // were opened when the opening fails).
        let key = ObjectKey::document(up.document_id, 1);
        damage_object(w.store.as_ref(), &key, |n| {
            if len > 2 * 1024 * 1024 {
                PREFIX_LEN + (coffre_store::PIECE_CHUNKS as usize + 6) * CHUNK_STORED_LEN + 100
            } else {
                n - 20
            }
        })
        .await;
        match w.vault.download(&me, up.document_id).await {
            Err(e) => assert!(
                matches!(e, VaultError::Integrity),
                "{len} bytes, damaged: {e}"
            ),
            Ok((_, stream)) => {
                let got = collect(stream).await;
                assert!(got.is_err(), "{len} bytes, damaged, read back whole");
            }
        }
        assert!(
            !kept_holds_any(&plain),
            "plaintext kept after a failed opening of {len} bytes"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_refuse_cleanly_and_store_nothing() {
    let mut limits = test_limits();
    limits.max_document_bytes = 50_000;
    limits.quota_bytes = 120_000;
    let w = world_with(limits).await;
    let (s, admin) = structure(&w, "CCAS", "admin").await;
    let _ = s;
    let (b, me) = beneficiary(&w, &admin, "marie", "482913", &[], false).await;
    let r = w
        .vault
        .upload(
            &me,
            b,
            doc(Category::Other, "gros", "gros.pdf"),
            body(&scan(60_000, 2), 4096),
        )
        .await;
    assert!(
        matches!(r, Err(VaultError::TooLarge { limit: 50_000 })),
        "{r:?}"
    );
    for i in 0..2 {
        w.vault
            .upload(
                &me,
                b,
                doc(Category::Other, "ok", "ok.pdf"),
                body(&scan(45_000, i), 4096),
            )
            .await
            .unwrap();
    }
    let r = w
        .vault
        .upload(
            &me,
            b,
            doc(Category::Other, "trop", "trop.pdf"),
            body(&scan(40_000, 9), 4096),
        )
        .await;
    assert!(matches!(r, Err(VaultError::QuotaExceeded { .. })), "{r:?}");
    // Refused uploads left no object behind.
    let report = w.vault.gc(Duration::ZERO, false).await.unwrap();
    assert_eq!(report.objects_seen, 2);
    assert!(report.orphans.is_empty());
    assert!(matches!(
        w.vault
            .upload(
                &me,
                b,
                NewDocument {
                    filename: "a\u{7}b".into(),
                    ..NewDocument::default()
                },
                body(b"x", 1)
            )
            .await,
        Err(VaultError::Invalid(_))
    ));
    // A day that does not exist is not a date.
    assert!(matches!(
        "2027-02-30".parse::<coffre_vault::Date>(),
        Err(VaultError::Invalid(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_create_list_revoke() {
    let w = world().await;
    let (s1, a1) = structure(&w, "CCAS", "a1").await;
    let (s2, a2) = structure(&w, "Relais", "a2").await;
    let (b, me) = beneficiary(&w, &a1, "marie", "482913", &[Category::Identity], false).await;
    let d = w
        .vault
        .upload(
            &a1,
            b,
            doc(Category::Identity, "CNI", "cni.jpg"),
            body(&scan(1000, 3), 100),
        )
        .await
        .unwrap();

    // A caseworker cannot create consent; the person can, for another structure.
    let g = NewGrant {
        categories: vec![Category::Identity],
        permissions: vec![Permission::View],
        days: 31,
    };
    assert!(matches!(
        w.vault.create_grant(&a1, b, s2, g.clone()).await,
        Err(VaultError::Forbidden(_))
    ));
    assert!(matches!(
        w.vault
            .create_grant(
                &me,
                b,
                s2,
                NewGrant {
                    days: 30,
                    ..g.clone()
                }
            )
            .await,
        Err(VaultError::Invalid(_))
    ));
    let g2 = w.vault.create_grant(&me, b, s2, g).await.unwrap();
    assert_eq!(w.vault.list_grants(&me, b).await.unwrap().len(), 2);
    assert_eq!(w.vault.list_grants(&a2, b).await.unwrap(), vec![g2.clone()]);
    let (_, stream) = w.vault.download(&a2, d.document_id).await.unwrap();
    assert_eq!(collect(stream).await.unwrap(), scan(1000, 3));

    // Revocation: access ends at once; others keep theirs; the person too.
    // The structure had no other grant and is not a trustee: it no longer
    // finds the person at all.
    w.vault.revoke_grant(&me, g2.id).await.unwrap();
    assert!(matches!(
        w.vault.download(&a2, d.document_id).await,
        Err(VaultError::NotFound)
    ));
    assert!(matches!(
        w.vault.list_documents(&a2, b).await,
        Err(VaultError::NotFound)
    ));
    assert!(matches!(
        w.vault.list_grants(&a2, b).await,
        Err(VaultError::NotFound)
    ));
    let (_, stream) = w.vault.download(&a1, d.document_id).await.unwrap();
    assert_eq!(collect(stream).await.unwrap(), scan(1000, 3));
    let (_, stream) = w.vault.download(&me, d.document_id).await.unwrap();
    assert_eq!(collect(stream).await.unwrap(), scan(1000, 3));
    // Uploads after the rotation are readable by those still holding consent.
    let d2 = w
        .vault
        .upload(
            &a1,
            b,
            doc(Category::Identity, "CNI 2", "cni2.jpg"),
            body(b"new", 1),
        )
        .await
        .unwrap();
    assert_eq!(
        collect(w.vault.download(&a1, d2.document_id).await.unwrap().1)
            .await
            .unwrap(),
        b"new"
    );
    assert!(matches!(
        w.vault.revoke_grant(&a1, g2.id).await,
        Err(VaultError::Forbidden(_))
    ));
    let _ = s1;
}

/// Regression (issue "Consent that always holds"): the README's enrolment —
/// a grant on `identity` and `social_benefits` — with a paper uploaded by the
/// caseworker in `social_benefits`, then withdrawn by the person. Rotating
/// the first category tried to re-wrap every document of the vault at the
/// same epoch with that category's key, and the withdrawal failed with an
/// integrity error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_grant_of_two_categories_holding_papers() {
    let w = world().await;
    let (_, cw) = structure(&w, "CCAS de Lyon", "admin.lyon").await;
    let (b, me) = beneficiary(
        &w,
        &cw,
        "marie",
        "482913",
        &[Category::Identity, Category::SocialBenefits],
        true,
    )
    .await;
    let caf = w
        .vault
        .upload(
            &cw,
            b,
            doc(Category::SocialBenefits, "Attestation CAF", "caf.pdf"),
            body(b"attestation de paiement", 7),
        )
        .await
        .unwrap();
    let grant = w.vault.list_grants(&me, b).await.unwrap().remove(0);
    w.vault.revoke_grant(&me, grant.id).await.unwrap();
    // The structure reads nothing any more; the person still reads it all.
    assert!(matches!(
        w.vault.download(&cw, caf.document_id).await,
        Err(VaultError::Forbidden(_))
    ));
    assert!(w.vault.list_documents(&cw, b).await.unwrap().is_empty());
    let (_, stream) = w.vault.download(&me, caf.document_id).await.unwrap();
    assert_eq!(collect(stream).await.unwrap(), b"attestation de paiement");
    assert_eq!(w.vault.list_documents(&me, b).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_links_until_limit_then_gone() {
    let w = world().await;
    let (s, admin) = structure(&w, "CCAS", "admin").await;
    let _ = s;
    let (b, me) = beneficiary(
        &w,
        &admin,
        "marie",
        "482913",
        &[Category::SocialBenefits],
        false,
    )
    .await;
    let content = scan(20_000, 4);
    let d = w
        .vault
        .upload(
            &me,
            b,
            doc(Category::SocialBenefits, "Attestation CAF", "caf.pdf"),
            body(&content, 999),
        )
        .await
        .unwrap();
    assert!(matches!(
        w.vault.create_share(&me, d.document_id, Some(90), 2).await,
        Err(VaultError::Invalid(_))
    ));
    let link = w
        .vault
        .create_share(&me, d.document_id, None, 2)
        .await
        .unwrap();
    for _ in 0..2 {
        let (info, stream) = w.vault.redeem_share(&link.token).await.unwrap();
        assert_eq!(info.filename, "caf.pdf");
        assert_eq!(collect(stream).await.unwrap(), content);
    }
    assert!(matches!(
        w.vault.redeem_share(&link.token).await,
        Err(VaultError::Gone)
    ));
    let link2 = w
        .vault
        .create_share(&me, d.document_id, Some(1), 5)
        .await
        .unwrap();
    assert_eq!(
        w.vault.list_shares(&me, d.document_id).await.unwrap().len(),
        2
    );
    w.vault.revoke_share(&me, link2.share_id).await.unwrap();
    assert!(matches!(
        w.vault.redeem_share(&link2.token).await,
        Err(VaultError::Gone)
    ));
    assert!(w.vault.redeem_share("not-a-token").await.is_err());
    // The private document is not the caseworker's to share.
    assert!(matches!(
        w.vault.create_share(&admin, d.document_id, None, 1).await,
        Err(VaultError::NotFound)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lockout_after_five_failures_and_notice() {
    let w = world().await;
    let (_, admin) = structure(&w, "CCAS", "admin").await;
    let (b, _) = beneficiary(&w, &admin, "marie", "482913", &[], false).await;
    for i in 0..5 {
        let r = w
            .vault
            .login_beneficiary(&w.id("marie"), UserSecret::from("000000"))
            .await;
        if i < 4 {
            assert!(
                matches!(r, Err(VaultError::Unauthenticated)),
                "attempt {i}: {r:?}"
            );
        } else {
            assert!(
                matches!(r, Err(VaultError::LockedOut { .. })),
                "attempt {i}: {r:?}"
            );
        }
    }
    // Locked: even the right secret is refused, without being checked.
    assert!(matches!(
        w.vault
            .login_beneficiary(&w.id("marie"), UserSecret::from("482913"))
            .await,
        Err(VaultError::LockedOut { .. })
    ));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let ok = w
        .vault
        .login_beneficiary(&w.id("marie"), UserSecret::from("482913"))
        .await
        .unwrap();
    assert_eq!(ok.notices.len(), 1, "{:?}", ok.notices);
    assert!(ok.notices[0].starts_with('5'), "{:?}", ok.notices);
    let me = w.vault.session(&ok.token).unwrap();
    // In her journal: the first refusal, then (once its window closes) one
    // entry counting the five that followed — not one line each, which a
    // flood would turn into thousands.
    let denied = |w: &World| {
        let me = me.clone();
        let v = w.vault.clone();
        async move {
            v.vault_journal(&me, b, 100)
                .await
                .unwrap()
                .entries
                .into_iter()
                .filter(|e| e.action == "session.create" && e.outcome == "denied")
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(denied(&w).await.len(), 1);
    w.vault.checkpoint().await.unwrap();
    let after = denied(&w).await;
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(
        after[1]
            .detail
            .as_deref()
            .is_some_and(|d| d.starts_with("repeated 5 more times")),
        "{after:?}"
    );
    // Next login: nothing more to tell.
    let again = w
        .vault
        .login_beneficiary(&w.id("marie"), UserSecret::from("482913"))
        .await
        .unwrap();
    assert!(again.notices.is_empty());
}

/// The attack of the review, replayed: a caseworker of the trustee
/// structure — admin or not — tried to set a person's secret alone, log in
/// as them and read their private papers. Now a recovery needs an admin to
/// start it and a second member to confirm it; the person is told at every
/// login until they acknowledge it, and the journal keeps it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_needs_two_members_of_the_trustee() {
    let w = world_on_manual_clock().await;
    let (s1, a1) = structure(&w, "CCAS", "a1").await;
    let (s2, a2) = structure(&w, "Relais", "a2").await;
    let c1 = caseworker(&w, &a1, s1, "c1").await;
    // A second admin, and a member that admin invited.
    let b1 = member(&w, &a1, s1, "b1", true).await;
    let b1_own = caseworker(&w, &b1, s1, "b1.own").await;
    let (b, me) = beneficiary(&w, &a1, "marie", "482913", &[Category::Identity], true).await;
    // A member invited after marie chose the structure.
    w.vault.clock().advance(Duration::from_secs(1));
    let late = caseworker(&w, &a1, s1, "late").await;
    let private = w
        .vault
        .upload(
            &me,
            b,
            doc(Category::Identity, "CNI", "cni.jpg"),
            body(b"papier prive", 2),
        )
        .await
        .unwrap();
    // A structure the person linked but did not choose as trustee.
    w.vault
        .create_grant(
            &me,
            b,
            s2,
            NewGrant {
                categories: vec![Category::Identity],
                permissions: vec![Permission::Upload],
                days: 1,
            },
        )
        .await
        .unwrap();
    assert!(matches!(
        w.vault.start_recovery(&a2, b).await,
        Err(VaultError::Forbidden(_))
    ));
    assert!(matches!(
        w.vault.start_recovery(&me, b).await,
        Err(VaultError::Forbidden(_))
    ));
    // A caseworker of the trustee who is not an admin cannot start one.
    assert!(matches!(
        w.vault.start_recovery(&c1, b).await,
        Err(VaultError::Forbidden(_))
    ));
    // An admin alone: cannot confirm their own, cannot complete it.
    let r = w.vault.start_recovery(&b1, b).await.unwrap();
    assert!(matches!(
        w.vault.confirm_recovery(&b1, r.recovery_id).await,
        Err(VaultError::Forbidden(_))
    ));
    assert!(matches!(
        w.vault
            .complete_recovery(&b1, r.recovery_id, UserSecret::from("secret du voleur 1"))
            .await,
        Err(VaultError::Forbidden(_))
    ));
    // Nor with a second account of their making: one they invited, or one
    // that joined after the person chose the structure.
    for sock in [&b1_own, &late] {
        assert!(matches!(
            w.vault.confirm_recovery(sock, r.recovery_id).await,
            Err(VaultError::Forbidden(_))
        ));
    }
    // One recovery at a time.
    assert!(matches!(
        w.vault.start_recovery(&a1, b).await,
        Err(VaultError::Conflict(_))
    ));
    // Another structure cannot confirm it.
    assert!(matches!(
        w.vault.confirm_recovery(&a2, r.recovery_id).await,
        Err(VaultError::NotFound)
    ));
    // The person's secret still works; nothing changed.
    assert!(
        w.vault
            .login_beneficiary(&w.id("marie"), UserSecret::from("482913"))
            .await
            .is_ok()
    );
    // A second member confirms; the new secret (typed by the person at the
    // desk) is refused when too easy, then accepted.
    w.vault.confirm_recovery(&c1, r.recovery_id).await.unwrap();
    // The starter still cannot complete it: the member who confirmed does,
    // with the person.
    assert!(matches!(
        w.vault
            .complete_recovery(&b1, r.recovery_id, UserSecret::from("secret du voleur 1"))
            .await,
        Err(VaultError::Forbidden(_))
    ));
    assert!(matches!(
        w.vault
            .complete_recovery(&c1, r.recovery_id, UserSecret::from("777777"))
            .await,
        Err(VaultError::WeakSecret(_))
    ));
    w.vault
        .complete_recovery(
            &c1,
            r.recovery_id,
            UserSecret::from("nouvelle phrase secrète"),
        )
        .await
        .unwrap();
    assert!(!w.vault.session_is_live(&me), "the old session ended");
    assert!(
        w.vault
            .login_beneficiary(&w.id("marie"), UserSecret::from("482913"))
            .await
            .is_err()
    );
    // Told at every login until acknowledged.
    for _ in 0..2 {
        let ok = w
            .vault
            .login_beneficiary(&w.id("marie"), UserSecret::from("nouvelle phrase secrète"))
            .await
            .unwrap();
        assert_eq!(ok.open_notices.len(), 1);
        assert!(
            ok.notices
                .iter()
                .any(|n| n.contains("structure de confiance")),
            "{:?}",
            ok.notices
        );
    }
    let ok = w
        .vault
        .login_beneficiary(&w.id("marie"), UserSecret::from("nouvelle phrase secrète"))
        .await
        .unwrap();
    let me = w.vault.session(&ok.token).unwrap();
    w.vault
        .acknowledge_notice(&me, b, ok.open_notices[0].id)
        .await
        .unwrap();
    let after = w
        .vault
        .login_beneficiary(&w.id("marie"), UserSecret::from("nouvelle phrase secrète"))
        .await
        .unwrap();
    assert!(after.open_notices.is_empty());
    let me = w.vault.session(&after.token).unwrap();
    assert_eq!(
        collect(w.vault.download(&me, private.document_id).await.unwrap().1)
            .await
            .unwrap(),
        b"papier prive"
    );
    // The recovery stays at the top of the journal, however much follows.
    for _ in 0..120 {
        w.vault.list_documents(&me, b).await.unwrap();
    }
    let j = w.vault.vault_journal(&me, b, 100).await.unwrap();
    assert!(!j.entries.iter().any(|e| e.action == "vault.recover"));
    let kept: Vec<(&str, &str)> = j
        .kept_in_view
        .iter()
        .map(|e| (e.action.as_str(), e.outcome.as_str()))
        .collect();
    assert_eq!(kept[0], ("vault.recover", "ok"), "{kept:?}");
    for event in [
        "vault.recover_confirm",
        "vault.recover_start",
        "grant.create",
    ] {
        assert!(kept.iter().any(|(a, _)| *a == event), "{event}: {kept:?}");
    }
    // Nor by many entries that are kept in view themselves: 250 share
    // links push the oldest out of the first 200, but the newest of each
    // kind stays.
    for _ in 0..250 {
        w.vault
            .create_share(&me, private.document_id, Some(1), 1)
            .await
            .unwrap();
    }
    let j = w.vault.vault_journal(&me, b, 100).await.unwrap();
    let flooded: Vec<(&str, &str)> = j
        .kept_in_view
        .iter()
        .map(|e| (e.action.as_str(), e.outcome.as_str()))
        .collect();
    assert!(flooded.contains(&("vault.recover", "ok")), "{flooded:?}");
    assert!(
        flooded.contains(&("vault.recover_start", "ok")),
        "{flooded:?}"
    );
    // The refused attempts too (the admin confirming their own).
    assert!(
        kept.contains(&("vault.recover_confirm", "denied")),
        "{kept:?}"
    );
    // A recovery does not outlive its window.
    let r2 = w.vault.start_recovery(&a1, b).await.unwrap();
    w.vault.clock().advance(Duration::from_secs(16 * 60));
    assert!(matches!(
        w.vault.confirm_recovery(&c1, r2.recovery_id).await,
        Err(VaultError::Gone)
    ));

    // Trustees are the person's choice: seen, removed, added back with the
    // secret.
    let t = w.vault.trustees(&me, b).await.unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].structure_id, s1);
    w.vault.remove_trustee(&me, b, s1).await.unwrap();
    assert!(matches!(
        w.vault.start_recovery(&a1, b).await,
        Err(VaultError::Forbidden(_))
    ));
    assert!(
        w.vault
            .add_trustee(&me, b, s1, UserSecret::from("mauvais secret"))
            .await
            .is_err()
    );
    w.vault
        .add_trustee(&me, b, s1, UserSecret::from("nouvelle phrase secrète"))
        .await
        .unwrap();
    assert!(w.vault.start_recovery(&a1, b).await.is_ok());

    // Without a trustee, recovery is impossible and the library says so.
    let (b2, _) = beneficiary(&w, &a1, "paul", "135790", &[], false).await;
    assert!(w.vault.recovery_status(b2).unwrap().contains("perdus"));
    assert!(w.vault.start_recovery(&a1, b2).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_makes_everything_unreadable() {
    let w = world().await;
    let (_, a1) = structure(&w, "CCAS", "a1").await;
    let (b, me) = beneficiary(&w, &a1, "marie", "482913", &[Category::Identity], true).await;
    let d = w
        .vault
        .upload(
            &a1,
            b,
            doc(Category::Identity, "CNI", "cni.jpg"),
            body(&scan(5000, 5), 500),
        )
        .await
        .unwrap();
    let link = w
        .vault
        .create_share(&me, d.document_id, None, 3)
        .await
        .unwrap();
    assert!(matches!(
        w.vault
            .erase_vault(&me, b, UserSecret::from("000000"))
            .await,
        Err(VaultError::Unauthenticated)
    ));
    assert!(matches!(
        w.vault
            .erase_vault(&a1, b, UserSecret::from("482913"))
            .await,
        Err(VaultError::Forbidden(_))
    ));
    w.vault
        .erase_vault(&me, b, UserSecret::from("482913"))
        .await
        .unwrap();
    assert!(w.vault.session("x").is_err());
    assert!(
        w.vault
            .login_beneficiary(&w.id("marie"), UserSecret::from("482913"))
            .await
            .is_err()
    );
    assert!(w.vault.list_documents(&a1, b).await.is_err());
    assert!(w.vault.redeem_share(&link.token).await.is_err());
    assert!(
        w.store
            .head(&ObjectKey::document(d.document_id, 1))
            .await
            .is_err()
    );
    let objects = w
        .store
        .list(&KeyPrefix::documents(), None, 100)
        .await
        .unwrap();
    assert!(objects.entries.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_zip_with_manifest() {
    let w = world().await;
    let (_, a1) = structure(&w, "CCAS", "a1").await;
    let (b, me) = beneficiary(&w, &a1, "marie", "482913", &[Category::Identity], false).await;
    let one = scan(33_000, 6);
    let d1 = w
        .vault
        .upload(
            &a1,
            b,
            doc(Category::Identity, "CNI", "cni recto.jpg"),
            body(&one, 4000),
        )
        .await
        .unwrap();
    let d2 = w
        .vault
        .upload(
            &me,
            b,
            doc(Category::Housing, "Quittance", "../../quittance.pdf"),
            body(b"loyer", 2),
        )
        .await
        .unwrap();
    let mut zip_bytes = Vec::new();
    assert!(matches!(
        w.vault.export(&a1, b, &mut zip_bytes).await,
        Err(VaultError::Forbidden(_))
    ));
    let manifest = w.vault.export(&me, b, &mut zip_bytes).await.unwrap();
    assert_eq!(manifest.documents.len(), 2);

    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)).unwrap();
    let mut json = String::new();
    archive
        .by_name("manifest.json")
        .unwrap()
        .read_to_string(&mut json)
        .unwrap();
    let m: serde_json::Value = serde_json::from_str(&json).unwrap();
    for (id, content) in [
        (d1.document_id, one.as_slice()),
        (d2.document_id, b"loyer".as_slice()),
    ] {
        let entry = m["documents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["document_id"] == id.to_string())
            .unwrap();
        let mut bytes = Vec::new();
        archive
            .by_name(entry["path"].as_str().unwrap())
            .unwrap()
            .read_to_end(&mut bytes)
            .unwrap();
        assert_eq!(bytes, content);
        let sha = hex::encode(ring::digest::digest(&ring::digest::SHA256, &bytes).as_ref());
        assert_eq!(entry["sha256"], sha);
    }
    // No entry escapes the archive's folder.
    for i in 0..archive.len() {
        let name = archive.by_index(i).unwrap().name().unwrap().to_string();
        assert!(!name.contains(".."), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journal_for_the_person_and_for_auditors() {
    let w = world().await;
    let (_, a1) = structure(&w, "CCAS", "a1").await;
    let (_, a2) = structure(&w, "Relais", "a2").await;
    let (b, me) = beneficiary(&w, &a1, "marie", "482913", &[Category::Identity], false).await;
    let d = w
        .vault
        .upload(
            &a1,
            b,
            doc(Category::Identity, "CNI", "cni.jpg"),
            body(b"x", 1),
        )
        .await
        .unwrap();
    // Refused attempts: another structure, and a category without consent.
    assert!(w.vault.download(&a2, d.document_id).await.is_err());
    assert!(
        w.vault
            .upload(&a1, b, doc(Category::Health, "x", "x"), body(b"x", 1))
            .await
            .is_err()
    );
    let _ = collect(w.vault.download(&me, d.document_id).await.unwrap().1)
        .await
        .unwrap();

    assert!(matches!(
        w.vault.vault_journal(&a1, b, 100).await,
        Err(VaultError::Forbidden(_))
    ));
    let j = w.vault.vault_journal(&me, b, 100).await.unwrap().entries;
    let has =
        |action: &str, outcome: &str| j.iter().any(|e| e.action == action && e.outcome == outcome);
    assert!(has("beneficiary.enroll", "ok"));
    assert!(has("grant.create", "ok"));
    assert!(has("document.upload", "ok"));
    assert!(has("document.upload", "denied"));
    assert!(has("document.download", "ok"));
    assert!(
        j.iter()
            .all(|e| e.beneficiary.as_deref() == Some(&b.to_string()))
    );
    // The other structure, which has no link to her, is refused too; its
    // attempt goes to the operator's journal, not hers (anyone who knows an
    // id could otherwise flood her journal).
    let stranger = a2.principal.who().to_string();
    assert!(!j.iter().any(|e| e.actor == stranger), "{j:?}");
    let everything = w.vault.journal_slice(1, u64::MAX).await.unwrap();
    assert!(everything.records.iter().any(|r| r.entry.actor == stranger
        && r.entry.outcome == "denied"
        && r.entry.beneficiary.is_none()));
    // Nothing secret or descriptive in the journal.
    let text = serde_json::to_string(&j).unwrap();
    assert!(!text.contains("CNI") && !text.contains("cni.jpg") && !text.contains("482913"));

    // The auditor's slice verifies offline.
    let slice = w.vault.journal_slice(1, u64::MAX).await.unwrap();
    let ok = verify(
        &slice.records,
        &slice.checkpoints,
        &slice.verifying_key,
        Anchor::GENESIS,
    )
    .unwrap();
    assert_eq!(ok.entries as usize, slice.records.len());
    let partial = w.vault.journal_slice(3, u64::MAX).await.unwrap();
    verify(
        &partial.records,
        &partial.checkpoints,
        &partial.verifying_key,
        partial.anchor,
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_finds_and_removes_orphans() {
    let w = world().await;
    let (_, a1) = structure(&w, "CCAS", "a1").await;
    let (b, me) = beneficiary(&w, &a1, "marie", "482913", &[], false).await;
    w.vault
        .upload(&me, b, doc(Category::Other, "t", "f"), body(b"kept", 1))
        .await
        .unwrap();
    // What a crash between object write and metadata commit leaves.
    let orphan = ObjectKey::document(coffre_crypto::DocumentId::random().unwrap(), 1);
    w.store.put(&orphan, body(b"ciphertext", 3)).await.unwrap();
    let dry = w.vault.gc(Duration::ZERO, false).await.unwrap();
    assert_eq!(dry.orphans, vec![orphan.to_string()]);
    assert_eq!(dry.removed, 0);
    assert!(w.store.head(&orphan).await.is_ok());
    // A recent orphan may be an upload in flight: kept by the age bound.
    assert!(
        w.vault
            .gc(Duration::from_secs(3600), true)
            .await
            .unwrap()
            .orphans
            .is_empty()
    );
    let applied = w.vault.gc(Duration::ZERO, true).await.unwrap();
    assert_eq!(applied.removed, 1);
    assert!(w.store.head(&orphan).await.is_err());
    assert!(w.vault.missing_objects().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_structures_links_die_with_its_consent() {
    let w = world().await;
    let (_, a1) = structure(&w, "CCAS", "a1").await;
    let (b, me) = beneficiary(&w, &a1, "marie", "482913", &[Category::Identity], false).await;
    let d = w
        .vault
        .upload(
            &a1,
            b,
            doc(Category::Identity, "CNI", "cni.jpg"),
            body(b"papier", 2),
        )
        .await
        .unwrap();
    let theirs = w
        .vault
        .create_share(&a1, d.document_id, None, 5)
        .await
        .unwrap();
    let mine = w
        .vault
        .create_share(&me, d.document_id, None, 5)
        .await
        .unwrap();
    collect(w.vault.redeem_share(&theirs.token).await.unwrap().1)
        .await
        .unwrap();
    let g = w.vault.list_grants(&me, b).await.unwrap().remove(0);
    w.vault.revoke_grant(&me, g.id).await.unwrap();
    // The structure's link ends with its consent; the person's own stays.
    assert!(matches!(
        w.vault.redeem_share(&theirs.token).await,
        Err(VaultError::Gone)
    ));
    assert_eq!(
        collect(w.vault.redeem_share(&mine.token).await.unwrap().1)
            .await
            .unwrap(),
        b"papier"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_upload_only_keeps_a_separate_view_grant() {
    let w = world().await;
    let (s1, a1) = structure(&w, "CCAS", "a1").await;
    let (b, me) = beneficiary(&w, &a1, "marie", "482913", &[], false).await;
    let view = NewGrant {
        categories: vec![Category::Identity],
        permissions: vec![Permission::View],
        days: 31,
    };
    let upload = NewGrant {
        categories: vec![Category::Identity],
        permissions: vec![Permission::Upload],
        days: 31,
    };
    w.vault.create_grant(&me, b, s1, view).await.unwrap();
    let up = w.vault.create_grant(&me, b, s1, upload).await.unwrap();
    let d = w
        .vault
        .upload(
            &a1,
            b,
            doc(Category::Identity, "CNI", "cni.jpg"),
            body(b"x", 1),
        )
        .await
        .unwrap();
    w.vault.revoke_grant(&me, up.id).await.unwrap();
    // Uploading ends; seeing goes on.
    assert!(matches!(
        w.vault
            .upload(&a1, b, doc(Category::Identity, "y", "y"), body(b"y", 1))
            .await,
        Err(VaultError::Forbidden(_))
    ));
    assert_eq!(
        collect(w.vault.download(&a1, d.document_id).await.unwrap().1)
            .await
            .unwrap(),
        b"x"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_guesses_do_not_pass_the_lockout() {
    let w = world().await;
    let (_, admin) = structure(&w, "CCAS", "admin").await;
    beneficiary(&w, &admin, "marie", "482913", &[], false).await;
    let id = w.id("marie");
    let attempts = (0..20).map(|i| {
        let (v, id) = (w.vault.clone(), id.clone());
        async move {
            v.login_beneficiary(&id, UserSecret::from(format!("{:06}", i).as_str()))
                .await
        }
    });
    let results = futures_util::future::join_all(attempts).await;
    let checked = results
        .iter()
        .filter(|r| matches!(r, Err(VaultError::Unauthenticated)))
        .count();
    // At most the limit's worth of secrets were actually tried.
    assert!(checked <= 5, "{checked} guesses were checked");
    assert!(results.iter().all(|r| r.is_err()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sessions_and_old_codes_expire() {
    let limits = coffre_vault::Limits {
        session_idle: Duration::from_millis(400),
        enrollment_code_ttl: Duration::from_millis(300),
        ..test_limits()
    };
    let w = world_with(limits).await;
    let s = w.vault.create_structure("CCAS", "admin").await.unwrap();
    w.activate("admin", &s.enrollment_code, PASSWORD)
        .await
        .unwrap();
    let out = w.login_cw("admin", PASSWORD).await.unwrap();
    let admin = w.vault.session(&out.token).unwrap();
    let (_, code) = w
        .vault
        .invite_caseworker(&admin, s.structure_id, "julie", false)
        .await
        .unwrap();
    // Used within the idle time, the session lives on.
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(w.vault.session(&out.token).is_ok());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(matches!(
        w.vault.session(&out.token),
        Err(VaultError::Unauthenticated)
    ));
    // However busy, a session ends after its absolute lifetime.
    let lived = world_with(coffre_vault::Limits {
        session_idle: Duration::from_millis(400),
        session_lifetime: Duration::from_millis(1000),
        ..test_limits()
    })
    .await;
    let s2 = lived.vault.create_structure("CCAS", "admin").await.unwrap();
    lived
        .activate("admin", &s2.enrollment_code, PASSWORD)
        .await
        .unwrap();
    let busy = lived.login_cw("admin", PASSWORD).await.unwrap();
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_millis(900) {
        assert!(lived.vault.session(&busy.token).is_ok());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(matches!(
        lived.vault.session(&busy.token),
        Err(VaultError::Unauthenticated)
    ));
    // The invitation code is past its time.
    assert!(matches!(
        w.vault
            .enroll_caseworker(&code, UserSecret::from(PASSWORD))
            .await,
        Err(VaultError::Gone)
    ));
}

/// A download's entry is durable before the paper is read (issue 15: the
/// plaintext then goes out while still in cache). A paper that then does not
/// open adds a failed entry after it, saying why, and a duplicate that did
/// not open is not counted as printed in the structure's report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_that_does_not_open_is_journaled_after_its_entry_and_not_counted() {
    let w = world().await;
    let (s, admin) = structure(&w, "CCAS", "admin").await;
    let cw = caseworker(&w, &admin, s, "julie").await;
    let (b, me) = beneficiary(&w, &cw, "marie", "482913", &[Category::Identity], true).await;
    let paper = scan(40_000, 3);
    // Added by her caseworker: shared in its category, so both read it.
    let up = w
        .vault
        .upload(
            &cw,
            b,
            doc(Category::Identity, "Titre", "t.pdf"),
            body(&paper, 9_000),
        )
        .await
        .unwrap();
    let printed = |w: &World| {
        let (v, admin) = (w.vault.clone(), admin.clone());
        async move {
            v.activity_report(&admin, 1)
                .await
                .unwrap()
                .iter()
                .map(|m| m.duplicates)
                .sum::<u64>()
        }
    };
    let (_, stream) = w
        .vault
        .download_duplicate(&cw, up.document_id)
        .await
        .unwrap();
    assert_eq!(collect(stream).await.unwrap(), paper);
    assert_eq!(printed(&w).await, 1);

    // The stored object damaged: the same duplicate fails, as does her own
    // download.
    let key = ObjectKey::document(up.document_id, 1);
    damage_object(w.store.as_ref(), &key, |n| n - 3).await;
    assert!(matches!(
        w.vault.download_duplicate(&cw, up.document_id).await,
        Err(VaultError::Integrity)
    ));
    assert!(matches!(
        w.vault.download(&me, up.document_id).await,
        Err(VaultError::Integrity)
    ));
    assert_eq!(
        printed(&w).await,
        1,
        "a duplicate that did not open counted"
    );

    let j = w.vault.vault_journal(&me, b, 100).await.unwrap().entries;
    let downloads: Vec<(&str, &str, Option<&str>)> = j
        .iter()
        .filter(|e| e.action == "document.download")
        .map(|e| (e.actor.as_str(), e.outcome.as_str(), e.detail.as_deref()))
        .collect();
    let (julie, marie) = (
        cw.principal.who().to_string(),
        me.principal.who().to_string(),
    );
    assert_eq!(
        downloads,
        [
            (julie.as_str(), "ok", Some("duplicate")),
            (julie.as_str(), "ok", Some("duplicate")),
            (
                julie.as_str(),
                "failed",
                Some("duplicate, not opened: integrity")
            ),
            (marie.as_str(), "ok", None),
            (marie.as_str(), "failed", Some("not opened: integrity")),
        ]
    );
}

/// A remote store (S3) is asked first whether it holds the object: one it
/// does not hold fails the download with a single failed entry, never an
/// `ok` one, and takes back no duplicate printed before from the report.
/// The local store is not asked: there the `ok` entry comes first and the
/// failed one after it ("not opened").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_store_missing_the_object_fails_the_download_before_its_entry() {
    for remote in [true, false] {
        let w = if remote {
            world_on_recutting_store().await
        } else {
            world().await
        };
        assert_eq!(w.store.remote(), remote);
        let (s, admin) = structure(&w, "CCAS", "admin").await;
        let cw = caseworker(&w, &admin, s, "julie").await;
        let (b, me) = beneficiary(&w, &cw, "marie", "482913", &[Category::Identity], true).await;
        let up = w
            .vault
            .upload(
                &cw,
                b,
                doc(Category::Identity, "Titre", "t.pdf"),
                body(&scan(3_000_000, 5), 65_536),
            )
            .await
            .unwrap();
        let (_, printed) = w
            .vault
            .download_duplicate(&cw, up.document_id)
            .await
            .unwrap();
        collect(printed).await.unwrap();
        w.store
            .delete(&ObjectKey::document(up.document_id, 1))
            .await
            .unwrap();
        for _ in 0..2 {
            assert!(matches!(
                w.vault.download_duplicate(&cw, up.document_id).await,
                Err(VaultError::Integrity)
            ));
        }
        let report = w.vault.activity_report(&admin, 1).await.unwrap();
        assert_eq!(report.iter().map(|m| m.duplicates).sum::<u64>(), 1);
        let j = w.vault.vault_journal(&me, b, 100).await.unwrap().entries;
        let downloads: Vec<(&str, Option<&str>)> = j
            .iter()
            .filter(|e| e.action == "document.download")
            .map(|e| (e.outcome.as_str(), e.detail.as_deref()))
            .collect();
        let printed = ("ok", Some("duplicate"));
        if remote {
            let refused = ("failed", Some("duplicate: integrity"));
            assert_eq!(downloads, [printed, refused, refused]);
        } else {
            let undone = ("failed", Some("duplicate, not opened: integrity"));
            assert_eq!(downloads, [printed, printed, undone, printed, undone]);
        }
    }
}

/// A download dropped by its requester after its `ok` entry (a page's
/// timeout while the store is slow) still ends with its failed entry when
/// the paper then does not open: the two entries are never parted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_dropped_after_its_entry_still_journals_that_it_failed() {
    let mut gated = None;
    let w = world_on_store(test_limits(), coffre_vault::Clock::system(), |fs| {
        let g = std::sync::Arc::new(GatedStore::new(fs, Hold::Gets));
        gated = Some(g.clone());
        g
    })
    .await;
    let gated = gated.unwrap();
    let (s, admin) = structure(&w, "CCAS", "admin").await;
    let cw = caseworker(&w, &admin, s, "julie").await;
    let (b, me) = beneficiary(&w, &cw, "marie", "482913", &[Category::Identity], true).await;
    let up = w
        .vault
        .upload(
            &me,
            b,
            doc(Category::Identity, "Titre", "t.pdf"),
            body(&scan(50_000, 2), 8_192),
        )
        .await
        .unwrap();
    // Damaged, past the gate (which holds the vault's reads only).
    damage_object(
        gated.inner.as_ref(),
        &ObjectKey::document(up.document_id, 1),
        |n| n - 1,
    )
    .await;

    let (v, me2, id) = (w.vault.clone(), me.clone(), up.document_id);
    let request = tokio::spawn(async move { v.download(&me2, id).await.map(|_| ()) });
    // The store is asked: the `ok` entry is durable. The request is dropped.
    gated.reached.notified().await;
    request.abort();
    assert!(request.await.unwrap_err().is_cancelled());
    gated.go.notify_one();
    let mut downloads = Vec::new();
    for _ in 0..500 {
        let j = w.vault.vault_journal(&me, b, 100).await.unwrap().entries;
        downloads = j
            .iter()
            .filter(|e| e.action == "document.download")
            .map(|e| (e.outcome.clone(), e.detail.clone()))
            .collect::<Vec<_>>();
        if downloads.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        downloads,
        [
            ("ok".to_owned(), None),
            (
                "failed".to_owned(),
                Some("not opened: integrity".to_owned())
            )
        ]
    );
}
