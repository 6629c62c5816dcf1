//! Tests that reach below the public API: they bypass the policy check on
//! purpose, to show that keys, not checks, keep plaintext from a structure
//! without consent (invariant 3), and that rotation defeats a cached key.

use std::sync::Arc;

use bytes::Bytes;
use coffre_crypto::root::RootKeyRing;
use coffre_crypto::wrap::{self, Binding};
use coffre_crypto::{GrantId, PrincipalId, UserSecret};
use coffre_store::{FsStore, ObjectKey, ObjectStore};
use futures_util::StreamExt;

use crate::model::{Category, Permission};
use crate::records::{GrantRecord, KeyWrap};
use crate::{
    Clock, Limits, NewBeneficiary, NewDocument, NewGrant, Session, Vault, VaultConfig, VaultError,
};

const PASSWORD: &str = "mot-de-passe-du-travailleur";

async fn vault() -> (Vault, Arc<dyn ObjectStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn ObjectStore> =
        Arc::new(FsStore::open(dir.path().join("objects")).await.unwrap());
    let v = Vault::open(VaultConfig {
        clock: Clock::manual(1_800_000_000_000),
        ..VaultConfig::new(
            dir.path().join("db"),
            store.clone(),
            RootKeyRing::generate().unwrap(),
            Limits::default(),
        )
    })
    .await
    .unwrap();
    (v, store, dir)
}

async fn structure(v: &Vault, admin: &str) -> (PrincipalId, Arc<Session>) {
    let s = v.create_structure("S", admin).await.unwrap();
    v.activate(&s.enrollment_code, PASSWORD).await.unwrap();
    let t = not_busy(|| v.login_cw(admin, PASSWORD)).await.unwrap();
    (s.structure_id, v.session(&t.token).unwrap())
}

/// `attempt` again while the key-derivation gate answers busy (tests that
/// shrink the gate to one turn: the previous derivation's thread gives its
/// turn back just after its caller got the answer).
async fn not_busy<T, F: std::future::Future<Output = crate::Result<T>>>(
    mut attempt: impl FnMut() -> F,
) -> crate::Result<T> {
    for _ in 0..100 {
        match attempt().await {
            Err(VaultError::Busy { .. }) => {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            other => return other,
        }
    }
    Err(VaultError::Internal("always busy"))
}

async fn person(v: &Vault, cw: &Session, grant: Option<NewGrant>) -> (PrincipalId, Arc<Session>) {
    let (id, session, _) = person_named(v, cw, grant).await;
    (id, session)
}

/// The same, with the identifier the person logs in with.
async fn person_named(
    v: &Vault,
    cw: &Session,
    grant: Option<NewGrant>,
) -> (PrincipalId, Arc<Session>, String) {
    let e = v
        .enroll_beneficiary(
            cw,
            NewBeneficiary {
                identifier: "marie".into(),
                display_name: "Marie".into(),
                secret: UserSecret::from("482913"),
                recovery_trustee: false,
                grant,
            },
        )
        .await
        .unwrap();
    let t = not_busy(|| v.login_beneficiary(&e.identifier, UserSecret::from("482913")))
        .await
        .unwrap();
    (e.beneficiary_id, v.session(&t.token).unwrap(), e.identifier)
}

fn body(data: &'static [u8]) -> crate::PlaintextStream {
    futures_util::stream::once(async move { Ok(Bytes::from_static(data)) }).boxed()
}

fn identity_doc() -> NewDocument {
    NewDocument {
        category: Some(Category::Identity),
        filename: "cni.jpg".into(),
        ..NewDocument::default()
    }
}

/// Invariant 3. Structure B has no grant. Even with the policy bypassed
/// (calling the key layer directly) and even with a forged grant record
/// (a server-side flag without the consent act), B's session holds no key
/// that opens the document, and no plaintext comes out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_grant_no_plaintext_even_without_policy() {
    let (v, _, _dir) = vault().await;
    let (sa, a) = structure(&v, "a").await;
    let (sb, b_admin) = structure(&v, "b").await;
    let grant = NewGrant {
        categories: vec![Category::Identity],
        permissions: vec![Permission::View, Permission::Upload],
        days: 31,
    };
    let (ben, _me) = person(&v, &a, Some(grant)).await;
    let up = v
        .upload(&a, ben, identity_doc(), body(b"numero de passeport"))
        .await
        .unwrap();
    let d = v.document(up.document_id).unwrap();

    // Policy bypassed: straight to the key layer.
    assert!(v.access().dek(&b_admin, &d).is_err());
    assert!(
        v.access()
            .structure_scope(&b_admin, ben, Category::Identity, 1)
            .is_err()
    );

    // Forge consent in the database only: a live "view" grant record and a
    // link, as an attacker with write access to the flags would.
    let forged = GrantRecord {
        id: GrantId::random().unwrap(),
        beneficiary: ben,
        structure: sb,
        categories: vec![Category::Identity],
        permissions: vec![Permission::View],
        created_ms: v.now_ms(),
        expires_ms: v.now_ms() + 86_400_000,
        revoked_ms: None,
        swept: false,
    };
    v.records()
        .write(|tx| {
            tx.grants().insert(&forged)?;
            tx.links().insert(sb, ben)?;
            tx.beneficiaries().update(ben, |rec| {
                rec.linked.push(sb);
                Ok(())
            })
        })
        .unwrap();

    // The policy now says yes; the keys still say no.
    let r = v.download(&b_admin, up.document_id).await;
    assert!(
        matches!(
            r,
            Err(VaultError::Forbidden(_)) | Err(VaultError::Integrity)
        ),
        "{:?}",
        r.err()
    );
    assert!(v.access().dek(&b_admin, &d).is_err());
    // B's own identities against every wrap the document has: nothing opens.
    let KeyWrap::Scope { wrap: w, .. } = &d.key else {
        panic!("shared document expected")
    };
    let bind = Binding::document_key(d.id, d.version);
    assert!(wrap::unwrap_dek(w, &b_admin.identity, &bind).is_err());
    assert!(wrap::unwrap_dek(w, &b_admin.structure_key().unwrap(), &bind).is_err());
    // Structure A, with real consent, does read it.
    assert!(v.access().dek(&a, &d).is_ok());
    let _ = sa;
}

/// Revocation rotates the scope key: a scope identity cached before the
/// revocation opens nothing uploaded after it, and its wrap is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_scope_key_opens_nothing_after_revocation() {
    let (v, _, _dir) = vault().await;
    let (sa, a) = structure(&v, "a").await;
    let grant = NewGrant {
        categories: vec![Category::Identity],
        permissions: vec![Permission::View, Permission::Upload],
        days: 31,
    };
    let (ben, me) = person(&v, &a, Some(grant)).await;
    let before = v
        .upload(&a, ben, identity_doc(), body(b"avant"))
        .await
        .unwrap();
    let cached = v
        .access()
        .structure_scope(&a, ben, Category::Identity, 1)
        .unwrap();
    let g = v.list_grants(&me, ben).await.unwrap().remove(0);
    v.revoke_grant(&me, g.id).await.unwrap();

    let scopes = v.records().read().scopes();
    assert_eq!(scopes.current(ben, Category::Identity).unwrap(), 2);
    assert!(
        scopes
            .wrap(ben, Category::Identity, 1, sa)
            .unwrap()
            .is_none()
    );
    assert!(
        scopes
            .wrap(ben, Category::Identity, 2, sa)
            .unwrap()
            .is_none()
    );
    // The person uploads after revocation, shared in the category.
    let mut meta = identity_doc();
    meta.private = Some(false);
    let after = v.upload(&me, ben, meta, body(b"apres")).await.unwrap();
    for id in [before.document_id, after.document_id] {
        let d = v.document(id).unwrap();
        let KeyWrap::Scope { epoch, wrap: w } = &d.key else {
            panic!()
        };
        assert_eq!(*epoch, 2);
        assert!(wrap::unwrap_dek(w, &cached, &Binding::document_key(d.id, d.version)).is_err());
        assert!(v.access().dek(&me, &d).is_ok());
    }
}

/// Listing seals (issue 15): made by whoever can derive the listing key —
/// never by an upload-only structure —, retired by a new title, a privacy
/// change or a rotation without any code path having to clear them, and a
/// scope key kept from before a revocation opens none made after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_seals_follow_consent() {
    use coffre_crypto::listing::{ListedUnder, ListingKey};
    let (v, _, _dir) = vault().await;
    let (_, viewer) = structure(&v, "a").await;
    let (ben, me) = person(
        &v,
        &viewer,
        Some(NewGrant {
            categories: vec![Category::Identity],
            permissions: vec![Permission::View, Permission::Upload],
            days: 31,
        }),
    )
    .await;
    // A second structure, upload-only on the same category.
    let (sb, uploader) = structure(&v, "b").await;
    v.create_grant(
        &me,
        ben,
        sb,
        NewGrant {
            categories: vec![Category::Identity],
            permissions: vec![Permission::Upload],
            days: 31,
        },
    )
    .await
    .unwrap();
    let titled = |t: &str| NewDocument {
        title: Some(t.into()),
        private: Some(false),
        ..identity_doc()
    };
    let mine = v
        .upload(&me, ben, titled("Carte d'identité"), body(b"cni"))
        .await
        .unwrap();
    let theirs = v
        .upload(&uploader, ben, titled("Attestation"), body(b"attestation"))
        .await
        .unwrap();
    let seal = |id| v.document(id).unwrap().listing_seal;
    assert!(
        !seal(mine.document_id).is_empty(),
        "the person seals at upload"
    );
    assert!(
        seal(theirs.document_id).is_empty(),
        "upload-only cannot seal"
    );
    // The upload-only structure cannot list; its listing seals nothing.
    if let Ok(list) = v.list_documents(&uploader, ben).await {
        assert!(list.is_empty());
    }
    assert!(seal(theirs.document_id).is_empty());
    // The next reader seals it; the listing shows the right titles.
    let titles = |list: Vec<crate::DocumentInfo>| {
        let mut t: Vec<String> = list.into_iter().map(|i| i.title).collect();
        t.sort();
        t
    };
    assert_eq!(
        titles(v.list_documents(&viewer, ben).await.unwrap()),
        ["Attestation", "Carte d'identité"]
    );
    assert!(!seal(theirs.document_id).is_empty());
    // A new title retires the seal: listings show the new one.
    v.update_document(&me, mine.document_id, Some("Passeport".into()), None, None)
        .await
        .unwrap();
    assert_eq!(
        titles(v.list_documents(&viewer, ben).await.unwrap()),
        ["Attestation", "Passeport"]
    );
    assert_eq!(
        titles(v.list_documents(&me, ben).await.unwrap()),
        ["Attestation", "Passeport"]
    );
    // Revocation: the viewer's scope key from before derives a listing key
    // that opens no seal made after.
    let kept = ListingKey::of(
        &v.access()
            .structure_scope(&viewer, ben, Category::Identity, 1)
            .unwrap(),
    )
    .unwrap();
    let g = v
        .list_grants(&me, ben)
        .await
        .unwrap()
        .into_iter()
        .find(|g| g.permissions.contains(&Permission::View))
        .unwrap();
    v.revoke_grant(&me, g.id).await.unwrap();
    if let Ok(list) = v.list_documents(&viewer, ben).await {
        assert!(list.is_empty());
    }
    v.list_documents(&me, ben).await.unwrap();
    for id in [mine.document_id, theirs.document_id] {
        let d = v.document(id).unwrap();
        assert!(
            !d.listing_seal.is_empty(),
            "the person's listing re-sealed it"
        );
        for under in [ListedUnder::Scope(1), ListedUnder::Scope(2)] {
            assert!(
                kept.open(d.id, d.version, under, &d.sealed_fields(), &d.listing_seal)
                    .is_err()
            );
        }
    }
    // Private: sealed under the person's own listing key, which no scope
    // key derives.
    v.update_document(&me, mine.document_id, None, None, Some(true))
        .await
        .unwrap();
    v.list_documents(&me, ben).await.unwrap();
    let d = v.document(mine.document_id).unwrap();
    assert!(
        ListingKey::of(&me.identity)
            .unwrap()
            .open(
                d.id,
                d.version,
                ListedUnder::Owner,
                &d.sealed_fields(),
                &d.listing_seal
            )
            .is_ok()
    );
}

/// Scrub's checksum: a CRC-64/NVME for new objects, the SHA-256 of
/// documents stored before it still checked; a flipped byte in the
/// ciphertext is found either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrub_checks_new_and_old_checksums() {
    let (v, store, _dir) = vault().await;
    let (_, a) = structure(&v, "a").await;
    let (ben, me) = person(&v, &a, None).await;
    let mut ids = Vec::new();
    for i in 0..2u8 {
        let bytes: &'static [u8] = if i == 0 {
            b"premier papier"
        } else {
            b"second papier, plus long"
        };
        ids.push(
            v.upload(&me, ben, identity_doc(), body(bytes))
                .await
                .unwrap()
                .document_id,
        );
    }
    assert!(v.document(ids[0]).unwrap().stored_crc64.is_some());
    // The second as a record from before issue 15: SHA-256 only.
    let key = coffre_store::ObjectKey::document(ids[1], 1);
    let object = store.get(&key).await.unwrap().collect().await.unwrap();
    v.records()
        .write(|tx| {
            let mut d = tx.documents().get(ids[1])?.unwrap();
            d.stored_crc64 = None;
            d.stored_sha256 = hex::encode(ring::digest::digest(&ring::digest::SHA256, &object));
            tx.documents().put(&d)
        })
        .unwrap();
    assert!(v.scrub(&|_, _| {}).await.unwrap().healthy());
    // One byte flipped in the ciphertext of each (past the header).
    for id in &ids {
        let key = coffre_store::ObjectKey::document(*id, 1);
        let mut bytes = store
            .get(&key)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap()
            .to_vec();
        let at = bytes.len() - 20;
        bytes[at] ^= 1;
        store.delete(&key).await.unwrap();
        let b = Bytes::from(bytes);
        store
            .put(
                &key,
                futures_util::stream::once(async move { Ok(b) }).boxed(),
            )
            .await
            .unwrap();
    }
    let r = v.scrub(&|_, _| {}).await.unwrap();
    let mut found: Vec<_> = r
        .corrupt
        .iter()
        .map(|p| (p.document_id, p.reason.as_str()))
        .collect();
    found.sort();
    let mut want = vec![
        (ids[0], "checksum differs from the one recorded"),
        (ids[1], "SHA-256 differs from the one recorded"),
    ];
    want.sort();
    assert_eq!(found, want);
}

/// Found by the soak (issue 12): a burst of correct logins on a busy server
/// locked their owner out, each "busy" having been counted as a failed
/// attempt. The key-derivation turn is now taken before anything is
/// counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_logins_count_nothing_against_the_owner() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn ObjectStore> =
        Arc::new(FsStore::open(dir.path().join("objects")).await.unwrap());
    let v = Vault::open(VaultConfig::new(
        dir.path().join("db"),
        store,
        RootKeyRing::generate().unwrap(),
        Limits {
            kdf_running: 1,
            kdf_waiting: 0,
            ..Limits::default()
        },
    ))
    .await
    .unwrap();
    let (_, a) = structure(&v, "a").await;
    let (_, _, identifier) = person_named(&v, &a, None).await;
    let logins = (0..24).map(|_| {
        let v = v.clone();
        let who = identifier.clone();
        async move { v.login_beneficiary(&who, UserSecret::from("482913")).await }
    });
    let results = futures_util::future::join_all(logins).await;
    let busy = results
        .iter()
        .filter(|r| matches!(r, Err(VaultError::Busy { .. })))
        .count();
    assert!(busy > 0, "the burst should have found the server busy");
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || matches!(r, Err(VaultError::Busy { .. }))),
        "busy answers were counted as failures"
    );
    // And the owner still logs in, whatever the burst was (trying again
    // while busy).
    let owner_logs_in = || async {
        not_busy(|| v.login_beneficiary(&identifier, UserSecret::from("482913"))).await
    };
    owner_logs_in().await.unwrap();

    // A guesser who locked themselves out takes no turn of the gate: while
    // the only turn is held, their attempts are answered "locked" at once
    // (not queued, not busy), and the owner's is the one told "busy".
    let stranger: std::net::IpAddr = "198.51.100.9".parse().unwrap();
    for who in [identifier.as_str(), "personne-inconnue-0000"] {
        // Until locked out (a busy answer counts nothing: tried again).
        let mut locked = false;
        for _ in 0..100 {
            match v
                .login_beneficiary_from(who, UserSecret::from("000000"), stranger)
                .await
            {
                Err(VaultError::LockedOut { .. }) => {
                    locked = true;
                    break;
                }
                Err(VaultError::Busy { .. }) => {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
                _ => {}
            }
        }
        assert!(locked, "{who}");
    }
    // (The last derivation's thread gives its turn back just after its
    // caller got the answer.)
    let mut held = None;
    for _ in 0..100 {
        if let Ok(t) = v.inner.kdf.turn().await {
            held = Some(t);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let held = held.expect("the gate's only turn");
    for who in [identifier.as_str(), "personne-inconnue-0000"] {
        let r = v
            .login_beneficiary_from(who, UserSecret::from("000000"), stranger)
            .await;
        assert!(
            matches!(r, Err(VaultError::LockedOut { .. })),
            "{who}: {r:?}"
        );
    }
    let r = v
        .login_beneficiary(&identifier, UserSecret::from("482913"))
        .await;
    assert!(matches!(r, Err(VaultError::Busy { .. })), "{r:?}");
    drop(held);
    owner_logs_in().await.unwrap();
}

/// Expiry: checked on every access, then swept (wraps deleted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_grants_are_refused_then_swept() {
    let (v, _, _dir) = vault().await;
    let (sa, a) = structure(&v, "a").await;
    let grant = NewGrant {
        categories: vec![Category::Identity],
        permissions: vec![Permission::View, Permission::Upload],
        days: 1,
    };
    let (ben, me) = person(&v, &a, Some(grant)).await;
    let up = v.upload(&a, ben, identity_doc(), body(b"x")).await.unwrap();
    assert_eq!(v.list_grants(&me, ben).await.unwrap().len(), 1);
    // A day and a millisecond later.
    v.clock()
        .advance(std::time::Duration::from_millis(86_400_001));
    assert!(matches!(
        v.download(&a, up.document_id).await,
        Err(VaultError::Forbidden(_))
    ));
    let wrap_of_a = || {
        v.records()
            .read()
            .scopes()
            .wrap(ben, Category::Identity, 1, sa)
            .unwrap()
    };
    assert!(wrap_of_a().is_some());
    assert_eq!(v.sweep_expired_grants().await.unwrap(), 1);
    assert!(wrap_of_a().is_none());
    assert_eq!(v.sweep_expired_grants().await.unwrap(), 0);
    // Expiry rotates the scope key as revocation does: the next paper is
    // under a new epoch the structure never held.
    let scopes = v.records().read().scopes();
    assert_eq!(scopes.current(ben, Category::Identity).unwrap(), 2);
    let mut meta = identity_doc();
    meta.private = Some(false);
    let after = v.upload(&me, ben, meta, body(b"apres")).await.unwrap();
    let d = v.document(after.document_id).unwrap();
    let KeyWrap::Scope { epoch, .. } = &d.key else {
        panic!("shared document expected")
    };
    assert_eq!(*epoch, 2);
    assert!(
        scopes
            .wrap(ben, Category::Identity, 2, sa)
            .unwrap()
            .is_none()
    );
}

/// The scope key a caseworker held while a grant lived opens nothing the
/// person adds after it expired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scope_key_kept_from_an_expired_grant_opens_nothing_new() {
    let (v, _, _dir) = vault().await;
    let (_, a) = structure(&v, "a").await;
    let grant = NewGrant {
        categories: vec![Category::Identity],
        permissions: vec![Permission::View],
        days: 1,
    };
    let (ben, me) = person(&v, &a, Some(grant)).await;
    let mut shared = identity_doc();
    shared.private = Some(false);
    let before = v.upload(&me, ben, shared, body(b"avant")).await.unwrap();
    let kept = v
        .access()
        .structure_scope(&a, ben, Category::Identity, 1)
        .unwrap();
    v.clock()
        .advance(std::time::Duration::from_millis(86_400_001));
    v.sweep_expired_grants().await.unwrap();
    // A paper from before stays at the old epoch (an expiry rotates
    // forward): it is still renamed, dated, read like any other.
    v.update_document(&me, before.document_id, Some("Titre".into()), None, None)
        .await
        .unwrap();
    assert!(v.download(&me, before.document_id).await.is_ok());
    let mut meta = identity_doc();
    meta.private = Some(false);
    let after = v.upload(&me, ben, meta, body(b"apres")).await.unwrap();
    let d = v.document(after.document_id).unwrap();
    let KeyWrap::Scope { wrap: w, .. } = &d.key else {
        panic!("shared document expected")
    };
    let bind = Binding::document_key(d.id, d.version);
    assert!(wrap::unwrap_dek(w, &kept, &bind).is_err());
    assert!(v.access().dek(&me, &d).is_ok());
}

/// Tampering with a stored object: the download fails, never other bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn altered_object_gives_an_error_not_bytes() {
    // A small document (opened whole, in place) and one past 2 MiB
    // (streamed, opened a run of 64 chunks, 1 MiB, at a time in place):
    // damage near the end, and in the middle of a run.
    for (len, from_end) in [(40_000, 1000), (2_200_000, 1000), (2_600_000, 1_300_000)] {
        altered_object_of(len, from_end).await;
    }
}

async fn altered_object_of(len: usize, from_end: usize) {
    let (v, _store, dir) = vault().await;
    let (_, a) = structure(&v, "a").await;
    let (ben, me) = person(&v, &a, None).await;
    let data: &'static [u8] = Box::leak(
        (0..len)
            .map(|i| (i % 253) as u8)
            .collect::<Vec<u8>>()
            .into_boxed_slice(),
    );
    let up = v
        .upload(&me, ben, identity_doc(), body(data))
        .await
        .unwrap();
    let path = dir
        .path()
        .join("objects/objects")
        .join(ObjectKey::document(up.document_id, 1).as_str());
    // The intact document reads back whole first.
    let (_, mut s) = v.download(&me, up.document_id).await.unwrap();
    let mut whole = Vec::new();
    while let Some(c) = s.next().await {
        whole.extend_from_slice(&c.unwrap());
    }
    assert!(whole == data, "length {len}");
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() - from_end;
    bytes[at] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    // A range over the damage fails; one before it (whole chunks away)
    // reads back exact. (The damaged plaintext offset is a little past
    // `damaged`: the prefix and tags stand before it in the stored bytes.)
    let damaged = (len - from_end) as u64;
    let over = v
        .download_range(
            &me,
            up.document_id,
            damaged.saturating_sub(100)..(damaged + 20_000).min(len as u64),
        )
        .await;
    if let Ok((_, _, mut s)) = over {
        let mut failed = false;
        while let Some(c) = s.next().await {
            failed |= c.is_err();
        }
        assert!(failed, "a range over damaged bytes read through");
    }
    if damaged > 40_000 {
        let (_, _, s) = v
            .download_range(&me, up.document_id, 0..damaged - 40_000)
            .await
            .unwrap();
        let mut before = Vec::new();
        futures_util::pin_mut!(s);
        while let Some(c) = s.next().await {
            before.extend_from_slice(&c.unwrap());
        }
        assert!(before == data[..before.len()] && before.len() as u64 == damaged - 40_000);
    }
    // Refused before the answer starts (the first piece read already holds
    // the damage), or cut short after bytes that are all genuine.
    let mut s = match v.download(&me, up.document_id).await {
        Err(VaultError::Integrity) => return,
        Err(e) => panic!("{e}"),
        Ok((_, s)) => s,
    };
    let mut got = Vec::new();
    let mut failed = false;
    while let Some(c) = s.next().await {
        match c {
            Ok(c) => got.extend_from_slice(&c),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(failed);
    assert!(
        data.starts_with(&got),
        "released bytes that are not the document's"
    );
}

/// A root key file that keeps nothing (rotation in tests).
pub(crate) struct NoFile;

impl crate::RootFile for NoFile {
    fn save(&self, _: &RootKeyRing) -> crate::Result<()> {
        Ok(())
    }
    fn read(&self) -> crate::Result<Vec<u8>> {
        Ok(Vec::new())
    }
    fn identity_in_data_dir(&self) -> bool {
        false
    }
}

/// An unknown identifier costs an argon2id run like a wrong secret (the
/// decoy's inner layer is reached, before and after a root rotation), so
/// timing does not tell who has an account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_identifiers_cost_a_secret_check() {
    use std::sync::atomic::Ordering;
    let (v, _store, _dir) = vault().await;
    let (_, a) = structure(&v, "a").await;
    let (_, _, marie) = person_named(&v, &a, None).await;
    let runs = || v.inner.decoy_runs.load(Ordering::Relaxed);
    assert_eq!(runs(), 0);
    for who in ["personne", "marie", "marie-0000x"] {
        assert!(matches!(
            v.login_beneficiary(who, UserSecret::from("482913")).await,
            Err(VaultError::Unauthenticated)
        ));
    }
    assert!(matches!(
        v.login_cw("inconnu", PASSWORD).await,
        Err(VaultError::Unauthenticated)
    ));
    assert_eq!(runs(), 4);
    // Known account, wrong secret: the real check, not the decoy.
    assert!(
        v.login_beneficiary(&marie, UserSecret::from("000000"))
            .await
            .is_err()
    );
    assert_eq!(runs(), 4);
    // The decoy's outer layer opens (so argon2id runs) after a rotation too.
    let decoy_opens = || async {
        let sealed = v.inner.decoy.read().unwrap().clone();
        v.access()
            .open_identity(sealed, UserSecret::from("wrong"), v.inner.decoy_id)
            .await
    };
    assert!(matches!(decoy_opens().await, Ok(None)));
    v.rotate_root(&NoFile).await.unwrap();
    assert!(matches!(decoy_opens().await, Ok(None)));
}

/// Races a sequential model cannot see: grants, revocations, uploads,
/// privacy changes and deletions on one person from many tasks at once.
/// Every change is one transaction that checks what it was computed from,
/// so afterwards: `used_bytes` is the sum of the sizes, every live view
/// grant holds the current epoch's wrap and nothing else does, every
/// shared paper is at its scope's current epoch and opens with it, and no
/// record is without its indexes. Conflicts ("try again") are the only
/// refusals allowed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_changes_keep_every_invariant() {
    let (v, _, _dir) = vault().await;
    let (_, a) = structure(&v, "a").await;
    let (sb, _) = structure(&v, "b").await;
    let (sc, _) = structure(&v, "c").await;
    let all = NewGrant {
        categories: Category::ALL.to_vec(),
        permissions: vec![Permission::View, Permission::Upload],
        days: 365,
    };
    let (ben, me) = person(&v, &a, Some(all)).await;
    let tolerated = |what: &str, r: &crate::Result<()>| match r {
        Ok(()) | Err(VaultError::Conflict(_)) | Err(VaultError::NotFound) => Ok(()),
        Err(e) => Err(format!("{what}: {e}")),
    };
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..4u8 {
        let (v, a, me) = (v.clone(), a.clone(), me.clone());
        tasks.spawn(async move {
            for i in 0..12u8 {
                let category = Category::ALL[usize::from((t * 3 + i) % 9)];
                let meta = NewDocument {
                    category: Some(category),
                    filename: format!("{t}-{i}.jpg"),
                    // Caseworkers' papers are shared; the person's vary.
                    private: (i % 2 == 1).then_some(i % 3 == 0),
                    ..NewDocument::default()
                };
                let data: Vec<u8> = vec![t; 100 + usize::from(i) * 37];
                let who = if i % 2 == 0 { &a } else { &me };
                let body = futures_util::stream::once(async move { Ok(Bytes::from(data)) }).boxed();
                let r = v.upload(who, ben, meta, body).await.map(|_| ());
                tolerated("upload", &r)?;
            }
            Ok::<(), String>(())
        });
    }
    for t in 0..2u8 {
        let (v, me) = (v.clone(), me.clone());
        tasks.spawn(async move {
            for i in 0..10u8 {
                let structure = if (t + i) % 2 == 0 { sb } else { sc };
                let g = NewGrant {
                    categories: vec![
                        Category::ALL[usize::from(i % 9)],
                        Category::ALL[usize::from((i + 4) % 9)],
                    ],
                    permissions: vec![Permission::View],
                    days: 31,
                };
                let r = v.create_grant(&me, ben, structure, g).await.map(|_| ());
                tolerated("grant", &r)?;
                let grants = v
                    .list_grants(&me, ben)
                    .await
                    .map_err(|e| format!("list grants: {e}"))?;
                if let Some(g) = grants
                    .iter()
                    .filter(|g| g.revoked_ms.is_none())
                    .nth(usize::from(i % 3))
                {
                    tolerated("revoke", &v.revoke_grant(&me, g.id).await)?;
                }
            }
            Ok(())
        });
    }
    {
        let (v, me) = (v.clone(), me.clone());
        tasks.spawn(async move {
            for i in 0..20usize {
                let docs = v
                    .list_documents(&me, ben)
                    .await
                    .map_err(|e| format!("list documents: {e}"))?;
                let Some(d) = docs.get(i % docs.len().max(1)) else {
                    tokio::task::yield_now().await;
                    continue;
                };
                let r = if i % 2 == 0 {
                    v.delete_document(&me, d.document_id).await
                } else {
                    v.update_document(&me, d.document_id, None, None, Some(!d.private))
                        .await
                        .map(|_| ())
                };
                tolerated(if i % 2 == 0 { "delete" } else { "privacy" }, &r)?;
            }
            Ok(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap().unwrap();
    }
    let problems = v.records().vault_problems(ben, v.now_ms()).unwrap();
    assert!(problems.is_empty(), "{problems:#?}");
    // Every paper opens for its owner through the current keys.
    let docs = v.records().read().documents().of_vault(ben).unwrap();
    assert!(docs.len() > 10, "{} papers survived", docs.len());
    for d in &docs {
        v.access().dek(&me, d).unwrap();
    }
}
