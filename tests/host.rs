//! The server on its host, end to end with the real binary: a damaged or
//! lost database is never replaced by an empty one and the newest scheduled
//! backup brings it back; files are private whatever the umask; `/metrics`
//! answers its token only; the operator removes a caseworker who left.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{case, dir_arg, marie, run, start_in, start_with};
use reqwest::StatusCode;
use serde_json::Value;

fn scheduled_backups(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().ends_with(".backup.age"))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

async fn wait_for_backup(dir: &Path) -> PathBuf {
    for _ in 0..200 {
        if let Some(b) = scheduled_backups(dir).pop() {
            return b;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no scheduled backup appeared in {}", dir.display());
}

fn key_files(data: &Path) -> usize {
    walk(&data.join("person-keys"))
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "key"))
        .count()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            }
            out.push(p);
        }
    }
    out
}

/// Runs `coffre serve` on `data` and expects it to stop by itself, with an
/// error: a server still running after 60 s started on damaged data.
fn refused_start(config: &Path, data: &Path) -> String {
    let mut child = common::coffre()
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            // The status the systemd unit does not restart on.
            assert_eq!(status.code(), Some(3), "{status:?}");
            assert!(
                !String::from_utf8_lossy(&out.stdout).contains("listening"),
                "it served"
            );
            return String::from_utf8_lossy(&out.stderr).into_owned();
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!(
                "coffre serve started on a damaged database ({})",
                data.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The line of the refusal that starts with `start` (a command to run).
fn refused_line(err: &str, start: &str) -> String {
    err.lines()
        .map(str::trim)
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no `{start}` in {err}"))
        .to_owned()
}

/// A way to break a copy of the data directory.
type Damage = &'static dyn Fn(&Path);

fn copy_dir(from: &Path, to: &Path) {
    let ok = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_database_is_never_replaced_by_an_empty_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let backups = dir.path().join("backups");
    let config = format!("[backup]\ndir = \"{}\"\n", backups.display());

    // A first start takes a backup at once (of an empty vault).
    let server = start_in(tempfile::tempdir().unwrap(), data.clone(), &config, &[]);
    let first = wait_for_backup(&backups).await;
    let api = server.api();
    let c = case(&api, &data, false).await;
    let kept = server.stop();
    // A day later (the empty backup removed to stand for it), the start's
    // backup holds the papers.
    std::fs::remove_file(&first).unwrap();
    let server = start_in(kept, data.clone(), &config, &[]);
    let newest = wait_for_backup(&backups).await;
    let config_file = server._dir.path().join("coffre.toml");
    let kept = server.stop();
    let keys = key_files(&data);
    assert!(keys >= 1);

    let damages: [(&str, Damage); 3] = [
        ("database removed", &|d: &Path| {
            std::fs::remove_dir_all(d.join("db")).unwrap()
        }),
        ("every database file emptied", &|d: &Path| {
            for f in walk(&d.join("db")) {
                if f.is_file() {
                    std::fs::write(&f, b"").unwrap();
                }
            }
        }),
        ("database files overwritten", &|d: &Path| {
            for f in walk(&d.join("db")) {
                if f.is_file() {
                    let len = std::fs::metadata(&f).unwrap().len() as usize;
                    let junk: Vec<u8> = (0..len.max(64)).map(|i| (i * 7 + 13) as u8).collect();
                    std::fs::write(&f, junk).unwrap();
                }
            }
        }),
    ];
    for (what, damage) in damages {
        let victim = dir.path().join("victim");
        let _ = std::fs::remove_dir_all(&victim);
        copy_dir(&data, &victim);
        damage(&victim);
        let before: Vec<PathBuf> = walk(&victim.join("db"));
        let err = refused_start(&config_file, &victim);
        assert!(
            err.contains("will not start on an empty database"),
            "{what}: {err}"
        );
        assert!(
            err.contains(&format!("Newest backup: {}", newest.display())),
            "{what}: {err}"
        );
        assert!(err.contains("coffre backup restore"), "{what}: {err}");
        // Nothing was destroyed or created in its place.
        assert_eq!(key_files(&victim), keys, "{what}");
        assert_eq!(walk(&victim.join("db")), before, "{what}");
    }

    // The command it names brings the papers back.
    let victim = dir.path().join("victim");
    let line = refused_line(
        &refused_start(&config_file, &victim),
        "coffre backup restore",
    );
    let args: Vec<&str> = line.split_whitespace().skip(1).collect();
    let (ok, out, err) = run(&args);
    assert!(ok, "{err}");
    assert!(out.contains("restored"), "{out}");
    // The papers themselves, on the filesystem store, move along.
    let mv = refused_line(&refused_start(&config_file, &victim), "mv ");
    let ok = std::process::Command::new("sh")
        .arg("-c")
        .arg(&mv)
        .status()
        .unwrap()
        .success();
    assert!(ok, "{mv}");
    let restored = dir.path().join("victim-restored");
    let server = start_in(kept, restored, &config, &[]);
    let api = server.api();
    let marie = marie(&api, &c.identifier).await;
    for (id, bytes) in &c.docs {
        let (s, got) = api
            .bytes(&format!("/api/v1/documents/{id}/content"), Some(&marie))
            .await;
        assert_eq!(s, StatusCode::OK);
        assert!(got == *bytes);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_private_whatever_the_umask_and_metrics_need_their_token() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("metrics-token");
    let secret = "5f0c1d2e3a4b5c6d7e8f90a1b2c3d4e5";
    std::fs::write(&token, secret).unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    let data = dir.path().join("data");
    let config = format!(
        "[server]\nmetrics_token_file = \"{}\"\n[backup]\nevery_hours = 24\n",
        token.display()
    );
    let server = start_with(
        tempfile::tempdir().unwrap(),
        data.clone(),
        &config,
        &[],
        Some("umask 000"),
    );
    let backups = dir.path().join("data-backups");
    wait_for_backup(&backups).await;
    let api = server.api();
    case(&api, &data, false).await;
    let (ok, _, err) = run(&[
        "backup",
        "create",
        "--out",
        dir.path().join("manual.age").to_str().unwrap(),
        "--data-dir",
        dir_arg(&data),
    ]);
    assert!(ok, "{err}");

    let mut seen = 0;
    for p in walk(&data)
        .into_iter()
        .chain(walk(&backups))
        .chain([data.clone(), backups.clone()])
    {
        let mode = std::fs::symlink_metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{} is {:o}", p.display(), mode & 0o777);
        seen += 1;
    }
    assert!(seen > 256, "{seen}");
    for must in [
        "db",
        "objects",
        "person-keys",
        "root-keys.age",
        "admin.sock",
    ] {
        assert!(data.join(must).exists(), "{must}");
    }

    let get = |auth: Option<&str>| {
        let mut r = api.http.get(format!("{}/metrics", api.base));
        if let Some(a) = auth {
            r = r.bearer_auth(a);
        }
        r.send()
    };
    assert_eq!(get(None).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        get(Some("5f0c1d2e3a4b5c6d7e8f90a1b2c3d4e4"))
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let res = get(Some(secret)).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("coffre_http_requests_total")
    );
    // The token never reaches the log.
    assert!(!server.log().contains(secret));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_removes_a_caseworker_who_left() {
    let server = common::start("", &[]);
    let data = server.data_dir.clone();
    let d = dir_arg(&data);
    let api = server.api();
    let c = case(&api, &data, false).await;
    let (ok, out, err) = run(&["admin", "structure", "list", "--json", "--data-dir", d]);
    assert!(ok, "{err}");
    let list: Value = serde_json::from_str(&out).unwrap();
    let structure = list["structures"][0]["structure_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(list["structures"][0]["key_version"], 1);
    let (ok, out, err) = run(&[
        "admin",
        "caseworker",
        "list",
        "--structure",
        &structure,
        "--data-dir",
        d,
    ]);
    assert!(ok, "{err}");
    let julie_line = out.lines().find(|l| l.contains(" julie ")).unwrap();
    assert!(out.contains("admin.lyon  admin"), "{out}");
    let julie_id = julie_line.split_whitespace().next().unwrap();
    let documents = format!("/api/v1/beneficiaries/{}/documents", c.b);
    let (s, _) = api.get(&documents, &c.julie).await;
    assert_eq!(s, StatusCode::OK);

    let (ok, out, err) = run(&[
        "admin",
        "caseworker",
        "deactivate",
        julie_id,
        "--data-dir",
        d,
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("sessions ended"), "{out}");
    // At once: her session is gone, her password opens nothing.
    let (s, _) = api.get(&documents, &c.julie).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = api
        .post(
            "/api/v1/sessions",
            None,
            serde_json::json!({"kind":"caseworker","login":"julie","password":"mot-de-passe-julie",
                               "code": api.otp("julie").await}),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (_, out, _) = run(&["admin", "structure", "list", "--data-dir", d]);
    assert!(
        out.contains("(key 1, replaced at the next member's login)"),
        "{out}"
    );
    // The admin's next login replaces the structure key; the consented
    // papers still open for the structure.
    let admin = api
        .login_caseworker("admin.lyon", "mot-de-passe-admin")
        .await;
    let (_, out, _) = run(&["admin", "structure", "list", "--json", "--data-dir", d]);
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list["structures"][0]["key_version"], 2);
    assert_eq!(list["structures"][0]["rotation_due"], false);
    let (s, v) = api.get(&documents, &admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (id, bytes) = &c.docs[0];
    let (s, got) = api
        .bytes(&format!("/api/v1/documents/{id}/content"), Some(&admin))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(got == *bytes);
    let (_, out, _) = run(&[
        "admin",
        "caseworker",
        "list",
        "--structure",
        &structure,
        "--data-dir",
        d,
    ]);
    assert!(out.contains("julie  member  (deactivated)"), "{out}");

    // A structure whose only admin lost their phone: the operator gives
    // them a set-up code. Their session ends; their password and app code
    // open nothing until they set a new factor up (on the pages, with the
    // code).
    let admin_id = out
        .lines()
        .find(|l| l.contains("admin.lyon"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();
    let (ok, out, err) = run(&[
        "admin",
        "caseworker",
        "second-factor-code",
        &admin_id,
        "--data-dir",
        d,
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("set-up code for caseworker"), "{out}");
    let (s, _) = api.get(&documents, &admin).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, v) = api
        .post(
            "/api/v1/sessions",
            None,
            serde_json::json!({"kind":"caseworker","login":"admin.lyon","password":"mot-de-passe-admin",
                               "code": api.otp("admin.lyon").await}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("second factor"),
        "{v}"
    );
}
