//! Durability under SIGKILL (invariant 2). A child process uploads in a
//! loop and prints each document it got an acknowledgement for; the parent
//! kills it at random moments, many times, then reopens the vault and checks
//! that every acknowledged document reads back byte-exact, that no metadata
//! points at a missing object, and that garbage collection removes the
//! orphans a kill can leave.
//!
//! Runs without the libtest harness (it re-executes itself as the child).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::panic
)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use coffre_crypto::root::RootKeyRing;
use coffre_crypto::{DocumentId, Identity, PrincipalId, UserSecret};
use coffre_store::{FsStore, ObjectStore};
use coffre_vault::{Category, Limits, NewBeneficiary, NewDocument, Vault, VaultConfig};
use futures_util::StreamExt;

const KILLS: usize = 15;
const PASSWORD: &str = "mot-de-passe-du-travailleur";

fn content(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

async fn open(dir: &Path) -> (Vault, Arc<dyn ObjectStore>) {
    let id =
        Identity::from_identity_file(&std::fs::read_to_string(dir.join("identity.txt")).unwrap())
            .unwrap();
    let root =
        RootKeyRing::from_file_with_identity(&std::fs::read(dir.join("root.age")).unwrap(), &id)
            .unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(FsStore::open(dir.join("objects")).await.unwrap());
    let vault = Vault::open(VaultConfig {
        clock: coffre_vault::Clock::system(),
        person_keys: (dir.join("db")).with_file_name("person-keys"),
        journal: (dir.join("db")).with_file_name("journal"),
        db_path: dir.join("db"),
        store: store.clone(),
        root,
        // Kills during a login count as failed attempts: no lockout here.
        limits: Limits {
            lockout_after: 1_000_000,
            ..Limits::default()
        },
    })
    .await
    .unwrap();
    (vault, store)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Child, setup: a structure and a person.
fn child_setup(dir: &Path) {
    rt().block_on(async {
        let (v, _) = open(dir).await;
        let s = v.create_structure("CCAS", "admin").await.unwrap();
        let a = v
            .enroll_caseworker(&s.enrollment_code, UserSecret::from(PASSWORD))
            .await
            .unwrap();
        let t = v
            .login_caseworker(
                "admin",
                UserSecret::from(PASSWORD),
                &a.second_factor.recovery_codes[0],
            )
            .await
            .unwrap();
        let cw = v.session(&t.token).unwrap();
        let e = v
            .enroll_beneficiary(
                &cw,
                NewBeneficiary {
                    identifier: "marie".into(),
                    display_name: "Marie".into(),
                    secret: UserSecret::from("482913"),
                    recovery_trustee: false,
                    grant: None,
                },
            )
            .await
            .unwrap();
        // The identifier the children log in with.
        std::fs::write(dir.join("identifier.txt"), &e.identifier).unwrap();
        println!("BENEFICIARY {}", e.beneficiary_id);
    });
}

/// Child, work: upload until killed; one line per acknowledged document.
fn child_upload(dir: &Path, round: u64) {
    rt().block_on(async {
        let (v, _) = open(dir).await;
        let t = v
            .login_beneficiary(
                &std::fs::read_to_string(dir.join("identifier.txt")).unwrap(),
                UserSecret::from("482913"),
            )
            .await
            .unwrap();
        let me = v.session(&t.token).unwrap();
        let coffre_vault::Principal::Beneficiary { id } = me.principal else {
            panic!()
        };
        let mut out = std::io::stdout().lock();
        for i in 0u64.. {
            let seed = round * 1_000_000 + i;
            let len = 1 + (seed.wrapping_mul(7919) % 200_000) as usize;
            let data = content(seed, len);
            let body = futures_util::stream::iter(
                data.chunks(16_000)
                    .map(|c| Ok(Bytes::copy_from_slice(c)))
                    .collect::<Vec<_>>(),
            )
            .boxed();
            let meta = NewDocument {
                category: Some(Category::Other),
                filename: format!("{seed}.bin"),
                ..Default::default()
            };
            let info = v.upload(&me, id, meta, body).await.unwrap();
            writeln!(out, "ACK {} {seed} {len}", info.document_id).unwrap();
            out.flush().unwrap();
        }
    });
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        println!("crash_kill_and_reopen: test");
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let dir = PathBuf::from(&args[i + 1]);
        match args[i + 2].as_str() {
            "setup" => child_setup(&dir),
            round => child_upload(&dir, round.parse().unwrap()),
        }
        return;
    }
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let id = Identity::generate();
    std::fs::write(dir.join("identity.txt"), id.to_identity_file().as_bytes()).unwrap();
    std::fs::write(
        dir.join("root.age"),
        RootKeyRing::generate()
            .unwrap()
            .to_file_for_recipient(&id.recipient())
            .unwrap(),
    )
    .unwrap();
    let me = std::env::current_exe().unwrap();
    let setup = Command::new(&me)
        .args(["--child", dir.to_str().unwrap(), "setup"])
        .output()
        .unwrap();
    assert!(
        setup.status.success(),
        "setup child failed: {}",
        String::from_utf8_lossy(&setup.stderr)
    );
    let text = String::from_utf8(setup.stdout).unwrap();
    let beneficiary: PrincipalId = text
        .trim()
        .strip_prefix("BENEFICIARY ")
        .unwrap()
        .parse()
        .unwrap();

    let mut acked: Vec<(DocumentId, u64, usize)> = Vec::new();
    let mut rng = (started.elapsed().as_nanos() as u64) | 1;
    for round in 1..=KILLS as u64 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        // After the child's start-up (vault open, login), at a random moment.
        let delay = Duration::from_millis(250 + rng % 700);
        let mut child = Command::new(&me)
            .args(["--child", dir.to_str().unwrap(), &round.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                lines.push(line);
            }
            lines
        });
        std::thread::sleep(delay);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        for line in reader.join().unwrap() {
            let parts: Vec<&str> = line.split(' ').collect();
            if let ["ACK", id, seed, len] = parts[..] {
                acked.push((
                    id.parse().unwrap(),
                    seed.parse().unwrap(),
                    len.parse().unwrap(),
                ));
            }
        }
    }
    assert!(
        acked.len() >= KILLS,
        "too few acknowledged uploads ({}) to mean anything",
        acked.len()
    );

    let (verified, orphans) = rt().block_on(async {
        let (v, _store) = open(dir).await;
        let t = v
            .login_beneficiary(
                &std::fs::read_to_string(dir.join("identifier.txt")).unwrap(),
                UserSecret::from("482913"),
            )
            .await
            .unwrap();
        let me = v.session(&t.token).unwrap();
        let listed = v.list_documents(&me, beneficiary).await.unwrap();
        for (id, seed, len) in &acked {
            assert!(
                listed.iter().any(|d| d.document_id == *id),
                "acknowledged document {id} lost"
            );
            let (_, mut s) = v.download(&me, *id).await.unwrap();
            let mut got = Vec::with_capacity(*len);
            while let Some(c) = s.next().await {
                got.extend_from_slice(&c.unwrap());
            }
            assert!(
                got == content(*seed, *len),
                "acknowledged document {id} differs"
            );
        }
        assert!(
            v.missing_objects().await.unwrap().is_empty(),
            "metadata points at a missing object"
        );
        let gc = v.gc(Duration::ZERO, true).await.unwrap();
        let again = v.gc(Duration::ZERO, false).await.unwrap();
        assert!(again.orphans.is_empty());
        assert!(v.missing_objects().await.unwrap().is_empty());
        (acked.len(), gc.removed)
    });
    println!(
        "crash: {KILLS} SIGKILLs, {verified} acknowledged documents read back byte-exact, {orphans} orphan objects removed by gc ({:.1} s)",
        started.elapsed().as_secs_f64()
    );
    println!("test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out");
}
