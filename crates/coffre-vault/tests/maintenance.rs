//! The operator's maintenance through the vault's API: rotation that is
//! safe to interrupt, scrub findings, backups that restore whole even when
//! taken during writes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use coffre_crypto::UserSecret;
use coffre_crypto::root::RootKeyRing;
use coffre_store::ObjectKey;
use coffre_vault::{Category, NewDocument, RootFile, Vault, VaultConfig, VaultError};
use common::*;

/// A root key file in memory that can be told to fail its n-th save.
struct MemRootFile {
    /// The ring as last saved, as versions (what a restart would load).
    saved: Mutex<Vec<u32>>,
    saves: AtomicUsize,
    fail_on: Option<usize>,
}

impl MemRootFile {
    fn new(fail_on: Option<usize>) -> Self {
        Self {
            saved: Mutex::new(vec![1]),
            saves: AtomicUsize::new(0),
            fail_on,
        }
    }
}

impl RootFile for MemRootFile {
    fn save(&self, ring: &RootKeyRing) -> coffre_vault::Result<()> {
        let n = self.saves.fetch_add(1, Ordering::SeqCst) + 1;
        if self.fail_on == Some(n) {
            return Err(VaultError::Db("disk full (test)".into()));
        }
        *self.saved.lock().unwrap() = ring.versions();
        Ok(())
    }
    fn read(&self) -> coffre_vault::Result<Vec<u8>> {
        Ok(b"ring".to_vec())
    }
    fn identity_in_data_dir(&self) -> bool {
        false
    }
}

fn doc(title: &str) -> NewDocument {
    NewDocument {
        category: Some(Category::Identity),
        title: Some(title.into()),
        filename: "scan.jpg".into(),
        content_type: Some("image/jpeg".into()),
        ..NewDocument::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_interrupted_then_run_again() {
    let w = world().await;
    let (_, admin) = structure(&w, "CCAS", "admin.lyon").await;
    let cw = caseworker(&w, &admin, structure_id(&admin), "julie").await;
    let (b, me) = beneficiary(&w, &cw, "marie", "482913", &[Category::Identity], true).await;
    let d = w
        .vault
        .upload(&me, b, doc("cni"), body(b"scan bytes", 4))
        .await
        .unwrap();

    // Stopped after the new ring was saved, before old versions were
    // dropped: the file holds both, everyone still logs in.
    let file = MemRootFile::new(Some(2));
    assert!(w.vault.rotate_root(&file).await.is_err());
    assert_eq!(*file.saved.lock().unwrap(), vec![1, 2]);
    assert_eq!(w.vault.status().unwrap().root_key_versions, vec![1, 2]);
    async fn everyone(w: &World) -> std::sync::Arc<coffre_vault::Session> {
        w.login_cw("julie", PASSWORD).await.unwrap();
        w.login_cw("admin.lyon", PASSWORD).await.unwrap();
        let out = w
            .vault
            .login_beneficiary(&w.id("marie"), UserSecret::from("482913"))
            .await
            .unwrap();
        w.vault.session(&out.token).unwrap()
    }
    let me = everyone(&w).await;
    assert_eq!(
        collect(w.vault.download(&me, d.document_id).await.unwrap().1)
            .await
            .unwrap(),
        b"scan bytes"
    );

    // Run again: a third version, the two old ones retired.
    let file = MemRootFile::new(None);
    let r = w.vault.rotate_root(&file).await.unwrap();
    assert_eq!((r.version, r.retired.clone()), (3, vec![1, 2]));
    assert_eq!(*file.saved.lock().unwrap(), vec![3]);
    assert!(r.resealed >= 5, "{r:?}");
    let me = everyone(&w).await;
    assert_eq!(
        collect(w.vault.download(&me, d.document_id).await.unwrap().1)
            .await
            .unwrap(),
        b"scan bytes"
    );
    // The journal still signs with the re-sealed key.
    w.vault.checkpoint().await.unwrap();
    let slice = w.vault.journal_slice(1, u64::MAX).await.unwrap();
    coffre_crypto::audit::verify(
        &slice.records,
        &slice.checkpoints,
        &slice.verifying_key,
        slice.anchor,
    )
    .unwrap();
    assert!(
        slice
            .records
            .iter()
            .any(|r| r.entry.action == "maintenance.root_rotation")
    );
}

fn structure_id(s: &coffre_vault::Session) -> coffre_crypto::PrincipalId {
    match s.principal {
        coffre_vault::Principal::Caseworker { structure, .. } => structure,
        _ => panic!("not a caseworker"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrub_reports_missing_corrupt_and_orphans() {
    let w = world().await;
    let (_, admin) = structure(&w, "CCAS", "a1").await;
    let (b, me) = beneficiary(&w, &admin, "marie", "482913", &[], false).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let d = w
            .vault
            .upload(
                &me,
                b,
                doc(&format!("doc {i}")),
                body(&vec![i as u8; 40_000], 1000),
            )
            .await
            .unwrap();
        ids.push(d.document_id);
    }
    let seen = AtomicUsize::new(0);
    let r = w
        .vault
        .scrub(&|_, _| {
            seen.fetch_add(1, Ordering::Relaxed);
        })
        .await
        .unwrap();
    assert!(r.healthy());
    assert_eq!((r.checked, seen.load(Ordering::Relaxed)), (3, 3));
    assert!(
        w.vault
            .last_scrub()
            .is_some_and(|s| s.corrupt == 0 && s.checked == 3)
    );

    // One object deleted, one swapped for another document's object.
    w.store
        .delete(&ObjectKey::document(ids[0], 1))
        .await
        .unwrap();
    let other = w
        .store
        .get(&ObjectKey::document(ids[2], 1))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    w.store
        .delete(&ObjectKey::document(ids[1], 1))
        .await
        .unwrap();
    w.store
        .put(&ObjectKey::document(ids[1], 1), body(&other, 4096))
        .await
        .unwrap();
    let r = w.vault.scrub(&|_, _| {}).await.unwrap();
    assert!(!r.healthy());
    assert_eq!(r.missing.len(), 1);
    assert_eq!(r.missing[0].document_id, ids[0]);
    assert_eq!(r.corrupt.len(), 1);
    assert_eq!(r.corrupt[0].document_id, ids[1]);
    assert_eq!(r.corrupt[0].reason, "header does not name this document");
    let s = w.vault.last_scrub().unwrap();
    assert_eq!((s.missing, s.corrupt), (1, 1));
    // The person sees both findings in their journal.
    let j = w.vault.vault_journal(&me, b, 100).await.unwrap().entries;
    let findings = j
        .iter()
        .filter(|e| e.action == "maintenance.scrub" && e.outcome == "failed")
        .count();
    assert_eq!(findings, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_during_writes_restores_a_consistent_vault() {
    let w = world().await;
    let (_, admin) = structure(&w, "CCAS", "a1").await;
    let (b, me) = beneficiary(&w, &admin, "marie", "482913", &[], false).await;
    // Uploads keep going while the backup is taken.
    let writer = {
        let v = w.vault.clone();
        let me = me.clone();
        tokio::spawn(async move {
            let mut done = Vec::new();
            for i in 0..40u8 {
                let d = v
                    .upload(&me, b, doc(&format!("d{i}")), body(&vec![i; 3000], 700))
                    .await
                    .unwrap();
                done.push((d.document_id, i));
            }
            done
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    let file = MemRootFile::new(None);
    let (summary, out) = w.vault.backup(Vec::new(), &file).await.unwrap();
    let uploaded = writer.await.unwrap();
    assert!(summary.records > 0);

    // Restore into a new directory and open it on the same store, with the
    // same root ring (the ring file itself is the caller's business here).
    let dir = tempfile::tempdir().unwrap();
    // What a restore killed half-way leaves: started over.
    std::fs::create_dir_all(dir.path().join("restore.partial/db")).unwrap();
    std::fs::write(dir.path().join("restore.partial/db/junk"), b"x").unwrap();
    let restored = coffre_vault::restore(std::io::BufReader::new(&out[..]), dir.path()).unwrap();
    assert!(!dir.path().join("restore.partial").exists());
    assert_eq!(restored.records, summary.records);
    assert_eq!(
        std::fs::read(dir.path().join("root-keys.age")).unwrap(),
        b"ring"
    );
    // A second restore into the same place is refused.
    assert!(coffre_vault::restore(std::io::BufReader::new(&out[..]), dir.path()).is_err());
    // Killed after the staging was complete, between the two moves: the
    // next run finishes them (whatever input it is given).
    let moved = tempfile::tempdir().unwrap();
    coffre_vault::restore(std::io::BufReader::new(&out[..]), moved.path()).unwrap();
    let staging = moved.path().join("restore.partial");
    std::fs::create_dir(&staging).unwrap();
    std::fs::rename(
        moved.path().join("root-keys.age"),
        staging.join("root-keys.age"),
    )
    .unwrap();
    std::fs::write(
        staging.join("complete.json"),
        serde_json::to_vec(&restored).unwrap(),
    )
    .unwrap();
    let finished = coffre_vault::restore(std::io::BufReader::new(&b""[..]), moved.path()).unwrap();
    assert_eq!(finished.records, restored.records);
    assert!(moved.path().join("root-keys.age").exists());
    assert!(!staging.exists());
    // A truncated backup restores nothing.
    let cut = tempfile::tempdir().unwrap();
    let half = &out[..out.len() - 20];
    assert!(coffre_vault::restore(std::io::BufReader::new(half), cut.path()).is_err());
    assert!(!cut.path().join("db").exists());

    let vault = Vault::open(VaultConfig {
        clock: coffre_vault::Clock::system(),
        person_keys: (dir.path().join("db")).with_file_name("person-keys"),
        journal: (dir.path().join("db")).with_file_name("journal"),
        db_path: dir.path().join("db"),
        store: w.store.clone(),
        root: w.root_copy(),
        limits: test_limits(),
    })
    .await
    .unwrap();
    let out = vault
        .login_beneficiary(&w.id("marie"), UserSecret::from("482913"))
        .await
        .unwrap();
    let me = vault.session(&out.token).unwrap();
    let listed = vault.list_documents(&me, b).await.unwrap();
    // Every document the backup lists reads whole; none is half there.
    assert!(!listed.is_empty() || uploaded.is_empty());
    for d in &listed {
        let i = uploaded
            .iter()
            .find(|(id, _)| *id == d.document_id)
            .unwrap()
            .1;
        let got = collect(vault.download(&me, d.document_id).await.unwrap().1)
            .await
            .unwrap();
        assert_eq!(got, vec![i; 3000]);
    }
    // The person's journal came back with the rest (its index is rebuilt
    // from the entries when the restored journal is moved into its files).
    let page = vault.vault_journal_page(&me, b, None, 50).await.unwrap();
    assert!(page.entries.len() >= 2, "{:?}", page.entries);
    assert!(
        page.entries
            .iter()
            .all(|e| e.beneficiary.as_deref() == Some(b.to_string().as_str()))
    );
    assert!(
        page.entries
            .iter()
            .any(|e| e.action == "beneficiary.enroll")
    );
    // The restored journal verifies.
    vault.checkpoint().await.unwrap();
    let slice = vault.journal_slice(1, u64::MAX).await.unwrap();
    coffre_crypto::audit::verify(
        &slice.records,
        &slice.checkpoints,
        &slice.verifying_key,
        slice.anchor,
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_and_scrub_leave_an_upload_in_flight_alone() {
    let dir = tempfile::tempdir().unwrap();
    let fs: std::sync::Arc<dyn coffre_store::ObjectStore> = std::sync::Arc::new(
        coffre_store::FsStore::open(dir.path().join("objects"))
            .await
            .unwrap(),
    );
    let store = std::sync::Arc::new(GatedStore::new(fs.clone(), Hold::Puts));
    let vault = Vault::open(VaultConfig {
        clock: coffre_vault::Clock::system(),
        person_keys: (dir.path().join("db")).with_file_name("person-keys"),
        journal: (dir.path().join("db")).with_file_name("journal"),
        db_path: dir.path().join("db"),
        store: store.clone(),
        root: RootKeyRing::generate().unwrap(),
        limits: test_limits(),
    })
    .await
    .unwrap();
    let w = World {
        vault: vault.clone(),
        store: fs.clone(),
        dir,
        root: RootKeyRing::generate().unwrap(),
        identifiers: Default::default(),
        clock: coffre_vault::Clock::system(),
        otps: Default::default(),
    };
    let (_, admin) = structure(&w, "CCAS", "a1").await;
    let (b, me) = beneficiary(&w, &admin, "marie", "482913", &[], false).await;
    let upload = {
        let v = vault.clone();
        let me = me.clone();
        tokio::spawn(async move { v.upload(&me, b, doc("cni"), body(b"scan", 2)).await })
    };
    store.reached.notified().await;
    // The object is there, its record is not: not an orphan, even at 0 s.
    let listed = fs
        .list(&coffre_store::KeyPrefix::documents(), None, 10)
        .await
        .unwrap();
    assert_eq!(listed.entries.len(), 1);
    let gc = vault.gc(std::time::Duration::ZERO, true).await.unwrap();
    assert_eq!((gc.orphans.len(), gc.removed), (0, 0));
    let scrub = vault.scrub(&|_, _| {}).await.unwrap();
    assert!(scrub.orphans.is_empty());
    store.go.notify_one();
    let d = upload.await.unwrap().unwrap();
    let got = collect(vault.download(&me, d.document_id).await.unwrap().1)
        .await
        .unwrap();
    assert_eq!(got, b"scan");
}
