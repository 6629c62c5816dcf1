//! The attacks of the security review, replayed against the vault: each
//! worked before, and each must now fail.
//!
//! - A caseworker who left keeps nothing: their sessions end, their login
//!   goes, and the key material they held opens nothing wrapped after they
//!   left (the structure's key is rotated; at once by an admin, at the next
//!   member's login after the operator's deactivation).
//! - Erasure erases: with the database files, the root key, the person's
//!   secret and a kept copy of an object, nothing of an erased vault comes
//!   back.
//! - Someone who can write the database files but holds no root key cannot
//!   redirect a wrap: a swapped public key is refused, journaled, logged,
//!   and nothing is wrapped to it.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use coffre_crypto::metadata::PersonKey;
use coffre_crypto::root::RootKeyRing;
use coffre_crypto::wrap::{self, Binding};
use coffre_crypto::{Identity, PrincipalId, UserSecret};
use coffre_store::{FsStore, ObjectKey, ObjectStore};
use futures_util::StreamExt;

use crate::journal::{Event, NewEntry, Who};
use crate::model::{Category, Permission};
use crate::records::{BeneficiaryRecord, DocumentRecord, KeyWrap, Table};
use crate::{
    Clock, Limits, NewBeneficiary, NewDocument, NewGrant, Session, Vault, VaultConfig, VaultError,
};

const PASSWORD: &str = "mot-de-passe-du-travailleur";

/// A vault, a copy of its root ring (what a thief with the root key
/// holds), and its directory.
async fn vault() -> (Vault, RootKeyRing, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn ObjectStore> =
        Arc::new(FsStore::open(dir.path().join("objects")).await.unwrap());
    let root = RootKeyRing::generate().unwrap();
    let copy = root.current_only();
    let v = Vault::open(VaultConfig {
        clock: Clock::manual(1_800_000_000_000),
        ..VaultConfig::new(dir.path().join("db"), store, root, Limits::default())
    })
    .await
    .unwrap();
    (v, copy, dir)
}

async fn login(v: &Vault, login: &str) -> Arc<Session> {
    let t = v.login_cw(login, PASSWORD).await.unwrap();
    v.session(&t.token).unwrap()
}

async fn structure(v: &Vault, admin: &str) -> (PrincipalId, Arc<Session>) {
    let s = v.create_structure("S", admin).await.unwrap();
    v.activate(&s.enrollment_code, PASSWORD).await.unwrap();
    (s.structure_id, login(v, admin).await)
}

async fn member(v: &Vault, admin: &Session, s: PrincipalId, name: &str) -> Arc<Session> {
    let (_, code) = v.invite_caseworker(admin, s, name, false).await.unwrap();
    v.activate(&code, PASSWORD).await.unwrap();
    login(v, name).await
}

async fn person(
    v: &Vault,
    cw: &Session,
    identifier: &str,
    name: &str,
    secret: &str,
) -> (PrincipalId, Arc<Session>) {
    let e = v
        .enroll_beneficiary(
            cw,
            NewBeneficiary {
                identifier: identifier.into(),
                display_name: name.into(),
                secret: UserSecret::from(secret),
                recovery_trustee: true,
                grant: Some(NewGrant {
                    categories: Category::ALL.to_vec(),
                    permissions: vec![Permission::View, Permission::Upload],
                    days: 365,
                }),
            },
        )
        .await
        .unwrap();
    let t = v
        .login_beneficiary(&e.identifier, UserSecret::from(secret))
        .await
        .unwrap();
    (e.beneficiary_id, v.session(&t.token).unwrap())
}

fn body(data: &[u8]) -> crate::PlaintextStream {
    let data = Bytes::copy_from_slice(data);
    futures_util::stream::once(async move { Ok(data) }).boxed()
}

fn doc(category: Category, title: &str, private: Option<bool>) -> NewDocument {
    NewDocument {
        category: Some(category),
        title: Some(title.into()),
        filename: "scan.jpg".into(),
        private,
        ..NewDocument::default()
    }
}

/// Everything `key` can still open of a structure's wraps in a vault: its
/// scope keys (any epoch) and its recovery seal.
fn opens_anything(v: &Vault, key: &Identity, structure: PrincipalId, b: PrincipalId) -> bool {
    let read = v.records().read();
    for c in Category::ALL {
        for (epoch, s) in read.scopes().wraps_of(b, c).unwrap() {
            if s != structure {
                continue;
            }
            let w = read.scopes().wrap(b, c, epoch, s).unwrap().unwrap();
            if wrap::unwrap_identity(&w, key, &Binding::scope_identity(b, c.as_str(), epoch))
                .is_ok()
            {
                return true;
            }
        }
    }
    let rec = read.beneficiaries().find(b).unwrap();
    rec.recovery.iter().any(|r| {
        r.structure == structure
            && wrap::unwrap_identity(&r.wrap, key, &Binding::principal_identity(b)).is_ok()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_departed_caseworker_keeps_nothing() {
    let (v, _, _dir) = vault().await;
    let (s, admin) = structure(&v, "admin").await;
    let leaving = member(&v, &admin, s, "julie").await;
    let (b, _me) = person(&v, &leaving, "marie", "Marie", "482913").await;
    let before = v
        .upload(
            &leaving,
            b,
            doc(Category::Identity, "avant", None),
            body(b"avant"),
        )
        .await
        .unwrap();
    // What Julie's session held: the structure's key, as of now.
    let old = leaving.structure_key().unwrap();
    assert!(
        opens_anything(&v, &old, s, b),
        "the control: the key opens today"
    );
    // A colleague invited but not yet enrolled: her code carries the key.
    let (_, pending_code) = v.invite_caseworker(&admin, s, "paul", false).await.unwrap();
    // A link she made for a CAF agent, still unused.
    let link = v
        .create_share(&leaving, before.document_id, Some(31), 100)
        .await
        .unwrap();

    v.deactivate_caseworker(&admin, leaving.principal.id())
        .await
        .unwrap();
    // Her links died with her access.
    assert!(matches!(
        v.redeem_share(&link.token).await,
        Err(VaultError::Gone)
    ));
    // Her session ends at once; she cannot log in again.
    assert!(!v.session_is_live(&leaving));
    assert!(v.login_cw("julie", PASSWORD).await.is_err());
    // The structure's key was rotated: what she held opens nothing.
    let after = v
        .upload(
            &admin,
            b,
            doc(Category::Identity, "apres", None),
            body(b"apres"),
        )
        .await
        .unwrap();
    assert!(!opens_anything(&v, &old, s, b));
    let d = v.document(after.document_id).unwrap();
    let KeyWrap::Scope { epoch, wrap: w } = &d.key else {
        panic!("shared")
    };
    let w_struct = v
        .records()
        .read()
        .scopes()
        .wrap(b, Category::Identity, *epoch, s)
        .unwrap()
        .unwrap();
    assert!(
        wrap::unwrap_identity(
            &w_struct,
            &old,
            &Binding::scope_identity(b, "identity", *epoch)
        )
        .is_err()
    );
    let _ = w;
    // The structure goes on: the admin (rekeyed) reads before and after.
    for id in [before.document_id, after.document_id] {
        assert!(v.download(&admin, id).await.is_ok());
    }
    // The invitation that carried the old key is cancelled.
    assert!(v.activate(&pending_code, PASSWORD).await.is_err());
    // A fresh invitation works, and its caseworker reads.
    let paul = member(&v, &admin, s, "paul2").await;
    assert!(v.download(&paul, after.document_id).await.is_ok());
    assert!(
        v.records()
            .vault_problems(b, v.now_ms())
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_deactivation_rotates_at_the_next_login() {
    let (v, _, _dir) = vault().await;
    let (s, admin) = structure(&v, "admin").await;
    let leaving = member(&v, &admin, s, "julie").await;
    let (b, _me) = person(&v, &admin, "marie", "Marie", "482913").await;
    let old = leaving.structure_key().unwrap();
    // Invitations made before she left: each code carries the old key.
    let (_, code) = v.invite_caseworker(&admin, s, "paul", false).await.unwrap();
    v.deactivate_caseworker_as_operator(leaving.principal.id())
        .await
        .unwrap();
    assert!(!v.session_is_live(&leaving));
    assert!(v.structure(s).unwrap().rotation_due);
    // They were all cancelled, whoever keeps a copy.
    assert!(v.activate(&code, PASSWORD).await.is_err());
    // The operator holds no structure key: until a member logs in, the
    // wraps are still to the old key.
    assert!(opens_anything(&v, &old, s, b));
    let admin2 = login(&v, "admin").await;
    assert!(!v.structure(s).unwrap().rotation_due);
    assert!(!opens_anything(&v, &old, s, b));
    // The admin's earlier session was rekeyed too.
    let d = v
        .upload(
            &admin,
            b,
            doc(Category::Health, "ordonnance", None),
            body(b"x"),
        )
        .await
        .unwrap();
    assert!(v.download(&admin2, d.document_id).await.is_ok());
    assert!(v.download(&admin, d.document_id).await.is_ok());
}

/// The review's race: a caseworker logging in again and again while an
/// admin removes them. Whichever comes first, no session of theirs is left
/// afterwards, and none holds the structure's new key.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_login_racing_its_deactivation_keeps_nothing() {
    let (v, _, _dir) = vault().await;
    let (s, admin) = structure(&v, "admin").await;
    for round in 0..6 {
        let name = format!("julie{round}");
        let leaving = member(&v, &admin, s, &name).await;
        let mut logins = tokio::task::JoinSet::new();
        for _ in 0..4 {
            let (v, name) = (v.clone(), name.clone());
            logins.spawn(async move { v.login_cw(&name, PASSWORD).await.ok().map(|o| o.token) });
        }
        let admin_now = login(&v, "admin").await;
        v.deactivate_caseworker(&admin_now, leaving.principal.id())
            .await
            .unwrap();
        while let Some(token) = logins.join_next().await {
            if let Some(token) = token.unwrap() {
                assert!(
                    v.session(&token).is_err(),
                    "round {round}: a session of the departed caseworker survived"
                );
            }
        }
        assert!(v.login_cw(&name, PASSWORD).await.is_err());
    }
}

/// A person key with no record is destroyed only when the journal shows the
/// person's erasure begun: records lost another way (a database that lost
/// its last writes, a record deleted by someone with the files) must not
/// make the papers unrecoverable from a backup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphan_keys_are_destroyed_only_after_an_erasure() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn coffre_store::ObjectStore> =
        Arc::new(FsStore::open(dir.path().join("objects")).await.unwrap());
    let root = RootKeyRing::generate().unwrap();
    let config = |root: &RootKeyRing| VaultConfig {
        clock: crate::Clock::system(),
        person_keys: dir.path().join("person-keys"),
        journal: dir.path().join("journal"),
        db_path: dir.path().join("db"),
        store: store.clone(),
        root: root.current_only(),
        limits: Limits::default(),
    };
    let v = Vault::open(config(&root)).await.unwrap();
    let (_, admin) = structure(&v, "admin").await;
    let (lost, _) = person(&v, &admin, "paul", "Paul", "482913").await;
    let (erased, _) = person(&v, &admin, "marie", "Marie", "482913").await;
    // Paul's record disappears behind the vault's back; Marie's erasure is
    // begun (journaled) and interrupted after her records went.
    v.records()
        .write(|tx| {
            tx.beneficiaries().remove(lost)?;
            tx.beneficiaries().remove(erased)
        })
        .unwrap();
    v.journal(
        NewEntry::new(
            Who::Beneficiary(erased),
            Event::VaultErase,
            crate::journal::Outcome::Started,
        )
        .vault(erased),
    )
    .await
    .unwrap();
    v.checkpoint().await.unwrap();
    drop(v);
    // An hour later, the vault opens again.
    let key_file = |id: PrincipalId| {
        let hex = id.to_string();
        dir.path()
            .join("person-keys")
            .join(&hex[..2])
            .join(format!("{hex}.key"))
    };
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    for id in [lost, erased] {
        std::fs::File::options()
            .write(true)
            .open(key_file(id))
            .unwrap()
            .set_modified(two_hours_ago)
            .unwrap();
    }
    let v = Vault::open(config(&root)).await.unwrap();
    assert!(key_file(lost).exists(), "a key without an erasure is kept");
    assert!(
        !key_file(erased).exists(),
        "an interrupted erasure is finished"
    );
    drop(v);
}

/// Someone with the disks who removes or swaps the journal to hide what
/// was done: the vault refuses to start rather than begin a new journal,
/// and a new database never adopts another one's journal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_or_swapped_journal_is_refused_never_started_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn coffre_store::ObjectStore> =
        Arc::new(FsStore::open(dir.path().join("objects")).await.unwrap());
    let root = RootKeyRing::generate().unwrap();
    let config = |db: &str, journal: &str| VaultConfig {
        clock: crate::Clock::system(),
        person_keys: dir.path().join(format!("{db}-keys")),
        journal: dir.path().join(journal),
        db_path: dir.path().join(db),
        store: store.clone(),
        root: root.current_only(),
        limits: Limits::default(),
    };
    let v = Vault::open(config("db", "journal")).await.unwrap();
    let (_, admin) = structure(&v, "admin").await;
    person(&v, &admin, "paul", "Paul", "482913").await;
    // One more operation: the head noted after the last one is flushed.
    structure(&v, "admin2").await;
    let end = v.records().journal().end();
    assert!(end > 3);
    drop(v);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let moved = dir.path().join("journal-hidden");
    std::fs::rename(dir.path().join("journal"), &moved).unwrap();
    let refused = Vault::open_existing(config("db", "journal")).await;
    assert!(
        matches!(refused, Err(VaultError::Unreadable(ref m)) if m.contains("entries are missing")),
        "{:?}",
        refused.err()
    );
    // Nor does a new database take that journal as its own.
    let refused = Vault::open(config("db2", "journal-hidden")).await;
    assert!(
        matches!(refused, Err(VaultError::Unreadable(ref m)) if m.contains("journal exists beside it")),
        "{:?}",
        refused.err()
    );
    // Put back, everything opens and the chain goes on.
    std::fs::remove_dir_all(dir.path().join("journal")).unwrap();
    std::fs::rename(&moved, dir.path().join("journal")).unwrap();
    let v = Vault::open_existing(config("db", "journal")).await.unwrap();
    assert_eq!(v.records().journal().end(), end);
    drop(v);
}

/// Where `needle` appears in any file under `dir`.
fn found_in(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for e in walk(dir) {
        let bytes = std::fs::read(&e).unwrap_or_default();
        if bytes.windows(needle.len()).any(|w| w == needle) {
            out.push(e.display().to_string());
        }
    }
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// The thief's best effort on a data directory: with the root ring (and
/// the person's secret), find the person's key, then their records in the
/// raw database files, then open a kept copy of an object. Returns what it
/// recovered: the display name, the titles, the object's content.
fn steal(
    data: &Path,
    root: &RootKeyRing,
    b: PrincipalId,
    secret: &str,
    docs: &[(coffre_crypto::DocumentId, Vec<u8>)],
) -> Vec<String> {
    let mut got = Vec::new();
    // The key file, if any is left.
    let key_file = data
        .join("person-keys")
        .join(format!("{:02x}", b.as_bytes()[0]))
        .join(format!("{b}.key"));
    let Ok(sealed) = std::fs::read(&key_file) else {
        return got;
    };
    let Ok(k) = PersonKey::unseal(&sealed, root, b) else {
        return got;
    };
    // Every place the database files hold an envelope of this person.
    let db: Vec<u8> = walk(&data.join("db"))
        .iter()
        .flat_map(|f| std::fs::read(f).unwrap_or_default())
        .collect();
    let open = |table: Table, key: &[u8]| -> Option<Vec<u8>> {
        let mut ctx = table.name().as_bytes().to_vec();
        ctx.push(0);
        ctx.extend_from_slice(key);
        for (at, _) in db
            .windows(16)
            .enumerate()
            .filter(|(_, w)| *w == b.as_bytes())
        {
            let rest = &db[at + 16..];
            // An envelope starts with its format byte; records are small.
            if rest.first() != Some(&1) {
                continue;
            }
            for len in 29..rest.len().min(4096) {
                if let Ok(v) = k.open_record(&ctx, &rest[..len]) {
                    return Some(v.to_vec());
                }
            }
        }
        None
    };
    let Some(rec) = open(Table::Beneficiaries, b.as_bytes()) else {
        return got;
    };
    let rec: BeneficiaryRecord = serde_json::from_slice(&rec).unwrap();
    got.push(rec.display_name.clone());
    let Ok(identity) = wrap::open_identity(
        &rec.sealed_identity,
        &UserSecret::from(secret),
        &Binding::principal_identity(b),
        root,
    ) else {
        return got;
    };
    for (id, object) in docs {
        let Some(d) = open(Table::Documents, id.as_bytes()) else {
            continue;
        };
        let d: DocumentRecord = serde_json::from_slice(&d).unwrap();
        let bind = Binding::document_key(d.id, d.version);
        let dek = match &d.key {
            KeyWrap::Owner { wrap: w } => wrap::unwrap_dek(w, &identity, &bind).ok(),
            KeyWrap::Scope { .. } => None,
        };
        let Some(dek) = dek else { continue };
        let h = coffre_crypto::object::ObjectHeader::new(d.id, d.version);
        if let Ok(t) = coffre_crypto::object::open_field(
            &dek,
            &h,
            coffre_crypto::object::Field::Title,
            &d.sealed_title,
        ) {
            got.push(t.to_string());
        }
        let mut r = coffre_crypto::object::ObjectReader::new(&dek, &h, object.as_slice()).unwrap();
        let mut content = Vec::new();
        if std::io::Read::read_to_end(&mut r, &mut content).is_ok() {
            got.push(String::from_utf8_lossy(&content).into_owned());
        }
    }
    got
}

fn copy_dir(from: &Path, to: &Path) {
    for f in walk(from) {
        let rel = f.strip_prefix(from).unwrap();
        let dest = to.join(rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&f, &dest).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_leaves_nothing_to_recover_from_the_disks() {
    let (v, root, dir) = vault().await;
    let (_, cw) = structure(&v, "admin").await;
    let secret = "482913";
    let (b, me) = person(&v, &cw, "marie", "Zephyrine Quelquepart", secret).await;
    let paper = v
        .upload(
            &me,
            b,
            doc(Category::Identity, "Titre de sejour Zephyrine", Some(true)),
            body(b"CONTENU-DU-PAPIER-1234"),
        )
        .await
        .unwrap();
    // What S3 versioning or a bucket backup keeps: a copy of the object.
    let object_path = dir
        .path()
        .join("objects/objects")
        .join(ObjectKey::document(paper.document_id, 1).as_str());
    let kept = std::fs::read(&object_path).unwrap();
    let docs = vec![(paper.document_id, kept)];
    v.checkpoint().await.unwrap();

    // The control: the thief's method works on the disks as they were.
    let before = tempfile::tempdir().unwrap();
    copy_dir(dir.path(), before.path());
    let got = steal(before.path(), &root, b, secret, &docs);
    assert!(got.contains(&"Zephyrine Quelquepart".to_owned()), "{got:?}");
    assert!(
        got.contains(&"Titre de sejour Zephyrine".to_owned()),
        "{got:?}"
    );
    assert!(
        got.contains(&"CONTENU-DU-PAPIER-1234".to_owned()),
        "{got:?}"
    );
    // Nothing of the person stands in clear in the database files.
    for marker in [&b"Zephyrine"[..], b"display_name", b"\"recovery\""] {
        let found = found_in(&dir.path().join("db"), marker);
        assert!(
            found.is_empty(),
            "{} in clear in {found:?}",
            String::from_utf8_lossy(marker)
        );
    }
    let key_file = walk(&dir.path().join("person-keys"))
        .into_iter()
        .find(|p| p.to_string_lossy().contains(&b.to_string()))
        .unwrap();
    let sealed_key = std::fs::read(&key_file).unwrap();

    v.erase_vault(&me, b, UserSecret::from(secret))
        .await
        .unwrap();
    v.checkpoint().await.unwrap();

    // The database files may still hold the person's removed records (a
    // log-structured store keeps them until it compacts)…
    // …but their key is gone: neither its file nor its bytes anywhere.
    assert!(!key_file.exists());
    assert!(found_in(dir.path(), &sealed_key[5..]).is_empty());
    // The thief with the disks, the root key, the secret and the kept
    // object recovers nothing.
    let got = steal(dir.path(), &root, b, secret, &docs);
    assert!(got.is_empty(), "recovered after erasure: {got:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swapped_public_key_is_refused_and_nothing_is_wrapped_to_it() {
    let (v, _, _dir) = vault().await;
    let (s, cw) = structure(&v, "admin").await;
    // The attacker (write access to the database files, no root key)
    // replaces the structure's public key with their own.
    let attacker = Identity::generate();
    let good = v.structure(s).unwrap().recipient;
    v.records()
        .tamper(Table::Structures, s.as_bytes(), |bytes| {
            let text = String::from_utf8_lossy(bytes).into_owned();
            *bytes = text
                .replace(&good, &attacker.recipient().to_string())
                .into_bytes();
        })
        .unwrap();
    let logins_before = v.records().count(Table::Logins);
    let r = v
        .enroll_beneficiary(
            &cw,
            NewBeneficiary {
                identifier: "marie".into(),
                display_name: "Marie".into(),
                secret: UserSecret::from("482913"),
                recovery_trustee: true,
                grant: None,
            },
        )
        .await;
    assert!(
        matches!(r, Err(VaultError::Tampered("structures"))),
        "{r:?}"
    );
    // Nothing was written, so nothing was wrapped to the attacker's key.
    assert_eq!(v.records().count(Table::Logins), logins_before);
    assert_eq!(v.records().count(Table::Beneficiaries), 0);
    // The alarm is in the journal.
    let head = v.records().journal().last().unwrap().unwrap();
    assert_eq!(head.entry.action, "integrity.alarm");
    assert!(head.entry.detail.unwrap().contains("structures"));
    // A record copied under another key fails the same way (its context
    // is its table and key): the admin's record moved onto another id.
    let (s2, _) = structure(&v, "autre").await;
    let stolen = v
        .records()
        .raw(Table::Structures)
        .into_iter()
        .find(|(k, _)| k.as_slice() == s.as_bytes())
        .unwrap()
        .1;
    v.records()
        .tamper(Table::Structures, s2.as_bytes(), |bytes| *bytes = stolen)
        .unwrap();
    assert!(matches!(
        v.structure(s2),
        Err(VaultError::Tampered("structures"))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scope_key_not_matching_its_record_is_refused() {
    let (v, _, _dir) = vault().await;
    let (_, cw) = structure(&v, "admin").await;
    let (b, me) = person(&v, &cw, "marie", "Marie", "482913").await;
    // Even the person's sealed records are tamper-evident: a scope record
    // changed in the files does not open.
    let read = v.records().raw(Table::Scopes);
    let (k, _) = read.first().unwrap();
    v.records()
        .tamper(Table::Scopes, k, |bytes| {
            let n = bytes.len();
            bytes[n - 1] ^= 1;
        })
        .unwrap();
    let c = Category::ALL[usize::from(k[16])];
    let r = v.upload(&me, b, doc(c, "x", Some(false)), body(b"x")).await;
    assert!(matches!(r, Err(VaultError::Tampered("scopes"))), "{r:?}");
}
