//! End-to-end for the operator and the auditor: the real `coffre` binary
//! serving, data created through the API, then the CLI: audit export →
//! the reference `age` tool decrypts it → `audit verify`, and tampered
//! copies refused; scrub finding a flipped byte; gc removing a planted
//! orphan; root rotation; backup → new data directory → restore.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use coffre_crypto::audit::export::Line;
use coffre_store::testing::S3TestServer;
use common::{
    Server, age_tool, case, dir_arg, marie, object_path, run, s3_config, start, start_in,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// An auditor's age key pair made with the reference `age-keygen`.
fn auditor_key(dir: &Path) -> (PathBuf, String) {
    age_tool();
    let key = dir.join("auditor.txt");
    let ok = Command::new("age-keygen")
        .arg("-o")
        .arg(&key)
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let out = Command::new("age-keygen")
        .arg("-y")
        .arg(&key)
        .output()
        .unwrap();
    (
        key,
        String::from_utf8(out.stdout).unwrap().trim().to_owned(),
    )
}

fn age_decrypt(key: &Path, file: &Path) -> String {
    let out = Command::new(age_tool())
        .arg("-d")
        .arg("-i")
        .arg(key)
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "age -d: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn age_encrypt(recipient: &str, text: &str, out: &Path) {
    let mut child = Command::new(age_tool())
        .args(["-r", recipient, "-o"])
        .arg(out)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

/// `audit verify` on `lines` (re-encrypted to the auditor as a forger
/// could): Err(message) when refused.
fn verify_lines(
    dir: &Path,
    key: &Path,
    recipient: &str,
    lines: &[String],
    extra: &[&str],
) -> Result<String, String> {
    let file = dir.join("tampered.age");
    let _ = std::fs::remove_file(&file);
    age_encrypt(recipient, &(lines.join("\n") + "\n"), &file);
    let mut args = vec!["audit", "verify", "--identity", key.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.push(file.to_str().unwrap());
    let (ok, out, err) = run(&args);
    if ok { Ok(out) } else { Err(err) }
}

fn seq_of(line: &str) -> Option<u64> {
    match serde_json::from_str::<Line>(line).unwrap() {
        Line::Entry(r) => Some(r.entry.seq),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_commands_on_a_live_server() {
    let server = start("", &[]);
    let api = server.api();
    let data = server.data_dir.clone();
    let d = dir_arg(&data);
    let c = case(&api, &data, true).await;
    let marie = marie(&api, &c.identifier).await;
    let work = tempfile::tempdir().unwrap();
    let (key, recipient) = auditor_key(work.path());

    // Status: what the operator publishes for auditors.
    let (ok, out, err) = run(&["admin", "status", "--json", "--data-dir", d]);
    assert!(ok, "{err}");
    let status: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["documents"], 2);
    assert_eq!(status["root_key_version"], 1);
    let vk = status["audit_verifying_key"].as_str().unwrap().to_owned();

    // A first export signs a checkpoint mid-journal; more activity follows.
    let first = work.path().join("first.age");
    assert!(
        run(&[
            "audit",
            "export",
            "--recipient",
            &recipient,
            "--out",
            first.to_str().unwrap(),
            "--data-dir",
            d
        ])
        .0
    );
    let (s, _) = api
        .bytes(
            &format!("/api/v1/documents/{}/content", c.docs[0].0),
            Some(&marie),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    // An export that already exists is not overwritten.
    let (ok, _, err) = run(&[
        "audit",
        "export",
        "--recipient",
        &recipient,
        "--out",
        first.to_str().unwrap(),
        "--data-dir",
        d,
    ]);
    assert!(!ok && err.contains("exists already"), "{err}");

    // Export → the reference age tool decrypts it → verify OK, with the
    // key and head given by the operator.
    let export = work.path().join("audit.age");
    let (ok, out, err) = run(&[
        "audit",
        "export",
        "--json",
        "--recipient",
        &recipient,
        "--out",
        export.to_str().unwrap(),
        "--data-dir",
        d,
    ]);
    assert!(ok, "{err}");
    let summary: Value = serde_json::from_str(&out).unwrap();
    let head = summary["end"]["hash"].as_str().unwrap().to_owned();
    let plain = age_decrypt(&key, &export);
    let lines: Vec<String> = plain.lines().map(str::to_owned).collect();
    assert!(lines[0].contains("\"coffre-audit-export/1\""));
    assert!(plain.contains("\"document.upload\""), "{plain}");
    assert!(!plain.contains("482913") && !plain.contains(common::MARKER));
    // The head `admin status` published before the export, checked too.
    let published = format!(
        "{}:{}",
        status["journal_head_seq"],
        status["journal_head_hash"].as_str().unwrap()
    );
    let (ok, out, err) = run(&[
        "audit",
        "verify",
        "--identity",
        key.to_str().unwrap(),
        "--key",
        &vk,
        "--from",
        "1",
        "--head",
        &head,
        "--head",
        &published,
        export.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(out.starts_with("intact:"), "{out}");
    assert!(out.contains("published heads: 1 checked"), "{out}");
    let rewritten = format!("{}:{}", status["journal_head_seq"], "ab".repeat(32));
    let (ok, _, err) = run(&[
        "audit",
        "verify",
        "--identity",
        key.to_str().unwrap(),
        "--head",
        &rewritten,
        export.to_str().unwrap(),
    ]);
    assert!(
        !ok && err.contains("differs from the head published"),
        "{err}"
    );
    // The decrypted file verifies too (an auditor who ran `age -d` first).
    let decrypted = work.path().join("audit.jsonl");
    std::fs::write(&decrypted, &plain).unwrap();
    assert!(run(&["audit", "verify", decrypted.to_str().unwrap()]).0);

    // Tampering, each way; the message names the first bad entry.
    let entry_lines: Vec<usize> = (0..lines.len())
        .filter(|i| seq_of(&lines[*i]).is_some())
        .collect();
    assert!(entry_lines.len() >= 8, "{plain}");
    let i = entry_lines[3];
    let n = seq_of(&lines[i]).unwrap();
    // A flipped byte in an entry (still valid JSON).
    let mut t = lines.clone();
    t[i] = t[i].replacen("\"ok\"", "\"ko\"", 1);
    assert_ne!(t[i], lines[i]);
    let err = verify_lines(work.path(), &key, &recipient, &t, &[]).unwrap_err();
    assert!(err.contains(&format!("entry {n} ")), "{err}");
    // A line deleted.
    let mut t = lines.clone();
    t.remove(i);
    let err = verify_lines(work.path(), &key, &recipient, &t, &[]).unwrap_err();
    assert!(err.contains(&format!("entry {n} ")), "{err}");
    // Two lines swapped.
    let mut t = lines.clone();
    t.swap(i, entry_lines[4]);
    let err = verify_lines(work.path(), &key, &recipient, &t, &[]).unwrap_err();
    assert!(err.contains(&format!("entry {n} ")), "{err}");
    // A forged entry inserted in the middle, numbered to fit, hash recomputed.
    let mut t = lines.clone();
    let Line::Entry(before) = serde_json::from_str::<Line>(&lines[entry_lines[2]]).unwrap() else {
        panic!()
    };
    let mut inserted = before.clone();
    inserted.entry.seq += 1;
    inserted.entry.action = "document.delete".into();
    inserted.hash = before.hash.next(&inserted.entry);
    t.insert(
        entry_lines[2] + 1,
        serde_json::to_string(&Line::Entry(inserted.clone())).unwrap(),
    );
    let err = verify_lines(work.path(), &key, &recipient, &t, &[]).unwrap_err();
    assert!(
        err.contains(&format!("entry {} ", inserted.entry.seq + 1)),
        "{err}"
    );
    // An entry replaced by its digest, as in an export for another person.
    let mut t = lines.clone();
    let Line::Entry(hidden) = serde_json::from_str::<Line>(&lines[i]).unwrap() else {
        panic!()
    };
    t[i] = serde_json::to_string(&Line::Elided {
        seq: hidden.entry.seq,
        vault: hidden.entry.vault_tag(),
        content: hidden.entry.content_hash(),
    })
    .unwrap();
    let err = verify_lines(work.path(), &key, &recipient, &t, &[]).unwrap_err();
    assert!(
        err.contains(&format!("entry {n} ")) && err.contains("hidden"),
        "{err}"
    );
    // A forged line appended, with a correct chain hash and recounted end line.
    let mut t = lines.clone();
    let end = t.pop().unwrap();
    let last = serde_json::from_str::<Line>(&t[*entry_lines.last().unwrap()]).unwrap();
    let Line::Entry(last) = last else { panic!() };
    let mut forged = last.clone();
    forged.entry.seq += 1;
    forged.entry.action = "document.download".into();
    forged.hash = last.hash.next(&forged.entry);
    t.push(serde_json::to_string(&Line::Entry(forged.clone())).unwrap());
    let mut counts: Value = serde_json::from_str(&end).unwrap();
    counts["entries"] = json!(counts["entries"].as_u64().unwrap() + 1);
    t.push(counts.to_string());
    let err = verify_lines(work.path(), &key, &recipient, &t, &[]).unwrap_err();
    assert!(
        err.contains(&format!("entry {} ", forged.entry.seq)),
        "{err}"
    );
    // The tail cut off with its checkpoint, counts and range rewritten: only
    // the head the operator gave catches it.
    let mut t: Vec<String> = lines[..entry_lines[entry_lines.len() - 1]].to_vec();
    while !t.last().unwrap().contains("\"checkpoint\"") {
        t.pop();
    }
    let cut_to = serde_json::from_str::<Value>(t.last().unwrap()).unwrap()["seq"]
        .as_u64()
        .unwrap();
    let mut header: Value = serde_json::from_str(&t[0]).unwrap();
    header["to_seq"] = json!(cut_to);
    t[0] = header.to_string();
    let (mut e, mut el, mut cp) = (0, 0, 0);
    for l in &t[1..] {
        match serde_json::from_str::<Line>(l).unwrap() {
            Line::Entry(_) => e += 1,
            Line::Elided { .. } => el += 1,
            Line::Checkpoint(_) => cp += 1,
            _ => {}
        }
    }
    t.push(json!({"type":"end","entries":e,"elided":el,"checkpoints":cp}).to_string());
    assert!(verify_lines(work.path(), &key, &recipient, &t, &[]).is_ok());
    let err = verify_lines(work.path(), &key, &recipient, &t, &["--head", &head]).unwrap_err();
    assert!(err.contains("missing at the end"), "{err}");
    // Re-signed with another key: refused when the auditor pins the key.
    assert!(verify_lines(work.path(), &key, &recipient, &lines, &["--key", &vk]).is_ok());
    let other = coffre_crypto::audit::AuditSigningKey::generate()
        .unwrap()
        .verifying_key()
        .to_string();
    assert!(verify_lines(work.path(), &key, &recipient, &lines, &["--key", &other]).is_err());

    // One person's export: their entries whole, everyone else's as digests.
    let export_b = work.path().join("marie.age");
    let (ok, _, err) = run(&[
        "audit",
        "export",
        "--recipient",
        &recipient,
        "--out",
        export_b.to_str().unwrap(),
        "--beneficiary",
        &c.b,
        "--data-dir",
        d,
    ]);
    assert!(ok, "{err}");
    // The person sees that their journal was handed out.
    let (_, j) = api
        .get(&format!("/api/v1/beneficiaries/{}/journal", c.b), &marie)
        .await;
    assert!(j.to_string().contains("maintenance.audit_export"), "{j}");
    let plain_b = age_decrypt(&key, &export_b);
    assert!(plain_b.contains("\"type\":\"elided\""));
    for l in plain_b.lines() {
        if let Line::Entry(r) = serde_json::from_str::<Line>(l).unwrap() {
            assert!(
                r.entry.beneficiary.as_deref() == Some(c.b.as_str())
                    || r.entry.actor == format!("beneficiary:{}", c.b),
                "{l}"
            );
        }
    }
    let key_s = key.to_str().unwrap();
    let export_s = export_b.to_str().unwrap();
    let (ok, out, err) = run(&[
        "audit",
        "verify",
        "--identity",
        key_s,
        "--key",
        &vk,
        "--beneficiary",
        &c.b,
        export_s,
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("as digests"), "{out}");
    // Taken for a full export, or for another person's: refused.
    let (ok, _, err) = run(&["audit", "verify", "--identity", key_s, export_s]);
    assert!(!ok && err.contains("--beneficiary"), "{err}");
    let (ok, _, _) = run(&[
        "audit",
        "verify",
        "--identity",
        key_s,
        "--beneficiary",
        "00112233445566778899aabbccddeeff",
        export_s,
    ]);
    assert!(!ok);
    // Relabelled for the same person in another spelling, to hide their
    // entries behind digests: refused.
    let lines_b: Vec<String> = plain_b.lines().map(str::to_owned).collect();
    let mut t = lines_b.clone();
    t[0] = t[0].replace(&c.b, &c.b.to_uppercase());
    let upper = c.b.to_uppercase();
    assert!(
        verify_lines(
            work.path(),
            &key,
            &recipient,
            &t,
            &["--beneficiary", &upper]
        )
        .is_err()
    );
    assert!(verify_lines(work.path(), &key, &recipient, &t, &["--beneficiary", &c.b]).is_err());

    // Scrub: healthy, then one flipped byte in a stored object.
    let (ok, out, err) = run(&["scrub", "--data-dir", d]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("0 corrupt, 0 missing"), "{out}");
    let (small_id, _) = &c.docs[1];
    let small_path = object_path(&data, small_id);
    let small_intact = std::fs::read(&small_path).unwrap();
    let mut bytes = small_intact.clone();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(&small_path, &bytes).unwrap();
    let (ok, out, err) = run(&["scrub", "--data-dir", d]);
    assert!(!ok);
    assert!(
        out.contains(&format!("CORRUPT: document {small_id}")),
        "{out}"
    );
    assert!(err.contains("1 damaged and 0 missing"), "{err}");
    let (ok, out, _) = run(&["scrub", "--json", "--data-dir", d]);
    assert!(!ok);
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        report["report"]["corrupt"][0]["document_id"],
        small_id.as_str()
    );
    // Downloading it: an integrity error, never altered bytes; the answer
    // carries a request id, and the server logs that 5xx once, with the
    // id, the route template and what failed (issue: a 500 with no line
    // in the log).
    let res = api
        .http
        .get(format!("{}/api/v1/documents/{small_id}/content", api.base))
        .bearer_auth(&marie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["code"], "integrity_error");
    assert_eq!(v["error"]["request_id"], request_id.as_str());
    let log = wait_for_log(&server, &request_id).await;
    let lines: Vec<&str> = log.lines().filter(|l| l.contains(&request_id)).collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(
        lines[0].contains("ERROR") && lines[0].contains("server error"),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains("/api/v1/documents/{document_id}/content")
            && lines[0].contains("integrity_error")
            && !lines[0].contains(small_id.as_str()),
        "{}",
        lines[0]
    );
    // The finding is in the metrics (read by the operator; an anonymous
    // client gets none) and in the owner's journal.
    let anonymous = reqwest::get(format!("{}/metrics", server.base))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::NOT_FOUND);
    let (ok, metrics, err) = run(&["admin", "metrics", "--data-dir", d]);
    assert!(ok, "{err}");
    assert!(
        metrics.contains("coffre_scrub_corrupt_objects 1"),
        "{metrics}"
    );
    let (s, j) = api
        .get(&format!("/api/v1/beneficiaries/{}/journal", c.b), &marie)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(j.to_string().contains("maintenance.scrub"), "{j}");
    // Repaired from a copy: scrub is clean again.
    std::fs::write(&small_path, &small_intact).unwrap();
    let (ok, out, err) = run(&["scrub", "--data-dir", d]);
    assert!(ok, "{out}{err}");
    // Damage in a later chunk of a large document: the bytes that arrive
    // are a prefix of the original, and the transfer fails.
    let (big_id, big) = &c.docs[0];
    let path = object_path(&data, big_id);
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() - 100;
    bytes[at] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    // (A document up to 2 MiB is opened whole before its headers leave:
    // then the answer is a clean integrity error and nothing arrives.)
    let mut got = Vec::new();
    let mut failed = false;
    match api
        .http
        .get(format!("{}/api/v1/documents/{big_id}/content", server.base))
        .bearer_auth(&marie)
        .send()
        .await
    {
        Err(_) => failed = true,
        Ok(res) if !res.status().is_success() => {
            let v: Value = res.json().await.unwrap();
            assert_eq!(v["error"]["code"], "integrity_error", "{v}");
            failed = true;
        }
        Ok(mut res) => loop {
            match res.chunk().await {
                Ok(Some(c)) => got.extend_from_slice(&c),
                Ok(None) => break,
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        },
    }
    assert!(failed, "a damaged document must not download whole");
    assert!(got.len() < big.len() && big.starts_with(&got));
    // Repaired (the operator restored the object from the store's copy).
    bytes[at] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();

    // gc: a planted orphan is listed by the dry run, removed by --apply.
    let orphan_id = "0123456789abcdef0123456789abcdef";
    let orphan = object_path(&data, orphan_id);
    std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    std::fs::copy(object_path(&data, big_id), &orphan).unwrap();
    let (ok, out, err) = run(&["gc", "--older-than", "0s", "--data-dir", d]);
    assert!(ok, "{err}");
    assert!(out.contains(orphan_id) && out.contains("dry run"), "{out}");
    assert!(orphan.exists());
    let (ok, out, err) = run(&[
        "gc",
        "--older-than",
        "0s",
        "--apply",
        "--json",
        "--data-dir",
        d,
    ]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["report"]["removed"], 1);
    assert!(!orphan.exists());
    assert!(object_path(&data, big_id).exists());

    // Root rotation, twice: everyone still logs in, every document reads.
    for version in [2, 3] {
        let (ok, out, err) = run(&["keys", "rotate-root", "--json", "--data-dir", d]);
        assert!(ok, "{err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["report"]["version"], version);
        let marie = self::marie(&api, &c.identifier).await;
        let julie = api.login_caseworker("julie", "mot-de-passe-julie").await;
        api.login_caseworker("admin.lyon", "mot-de-passe-admin")
            .await;
        for token in [&marie, &julie] {
            for (id, bytes) in &c.docs {
                let (s, got) = api
                    .bytes(&format!("/api/v1/documents/{id}/content"), Some(token))
                    .await;
                assert_eq!(s, StatusCode::OK);
                assert!(got == *bytes);
            }
        }
        // The display name (sealed under the root) still opens.
        let (s, v) = api.get("/api/v1/beneficiaries", &julie).await;
        assert_eq!(s, StatusCode::OK);
        assert!(v.to_string().contains("Marie D."), "{v}");
    }
    let (_, out, _) = run(&["admin", "status", "--json", "--data-dir", d]);
    let status: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["root_key_versions"], json!([3]));
    // The journal is still verifiable after rotation (its key was re-sealed).
    let export2 = work.path().join("audit2.age");
    assert!(
        run(&[
            "audit",
            "export",
            "--recipient",
            &recipient,
            "--out",
            export2.to_str().unwrap(),
            "--data-dir",
            d
        ])
        .0
    );
    assert!(
        run(&[
            "audit",
            "verify",
            "--identity",
            key.to_str().unwrap(),
            "--key",
            &vk,
            export2.to_str().unwrap()
        ])
        .0
    );
    drop(c.julie);
    server.stop();

    // No server: the commands say so and what to do.
    let (ok, _, err) = run(&["scrub", "--data-dir", d]);
    assert!(!ok);
    assert!(
        err.contains("no running server") && err.contains("coffre serve"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_then_restore_into_a_new_data_directory() {
    let s3 = S3TestServer::start().unwrap();
    let (config, env) = s3_config(&s3, "");
    let server = start(&config, &env);
    let api = server.api();
    let data = server.data_dir.clone();
    let c = case(&api, &data, false).await;
    let work = tempfile::tempdir().unwrap();
    let backup = work.path().join("backup.age");
    let (ok, out, err) = run(&[
        "backup",
        "create",
        "--out",
        backup.to_str().unwrap(),
        "--data-dir",
        dir_arg(&data),
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("backup written"), "{out}");
    // Taken while serving; the server goes on.
    let marie_token = marie(&api, &c.identifier).await;
    let (s, _) = api
        .get(
            &format!("/api/v1/beneficiaries/{}/documents", c.b),
            &marie_token,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let old = server.stop();
    let identity = old.path().join("data").join("root-identity.txt");

    // A wrong identity, and a directory in use, are refused.
    let other = work.path().join("other.txt");
    std::fs::write(
        &other,
        coffre_crypto::Identity::generate()
            .to_identity_file()
            .as_bytes(),
    )
    .unwrap();
    let fresh = work.path().join("restored");
    let (ok, _, err) = run(&[
        "backup",
        "restore",
        backup.to_str().unwrap(),
        "--data-dir",
        dir_arg(&fresh),
        "--identity",
        other.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(err.contains("does not open the backup"), "{err}");
    let (ok, _, err) = run(&[
        "backup",
        "restore",
        backup.to_str().unwrap(),
        "--data-dir",
        dir_arg(&old.path().join("data")),
        "--identity",
        identity.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(err.contains("empty directory"), "{err}");

    let (ok, out, err) = run(&[
        "backup",
        "restore",
        backup.to_str().unwrap(),
        "--data-dir",
        dir_arg(&fresh),
        "--identity",
        identity.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("restored"), "{out}");

    // The new data directory against the same bucket: every document reads.
    let server = start_in(tempfile::tempdir().unwrap(), fresh.clone(), &config, &env);
    let restored = server.api();
    api.hand_second_factors_to(&restored);
    let api = restored;
    let marie = marie(&api, &c.identifier).await;
    for (id, bytes) in &c.docs {
        let (s, got) = api
            .bytes(&format!("/api/v1/documents/{id}/content"), Some(&marie))
            .await;
        assert_eq!(s, StatusCode::OK);
        assert!(got == *bytes);
    }
    let julie = api.login_caseworker("julie", "mot-de-passe-julie").await;
    let (s, v) = api
        .get(&format!("/api/v1/beneficiaries/{}/documents", c.b), &julie)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // The restored journal still verifies, and records the backup.
    let (key, recipient) = auditor_key(work.path());
    let export = work.path().join("audit.age");
    assert!(
        run(&[
            "audit",
            "export",
            "--recipient",
            &recipient,
            "--out",
            export.to_str().unwrap(),
            "--data-dir",
            dir_arg(&fresh)
        ])
        .0
    );
    let (ok, _, err) = run(&[
        "audit",
        "verify",
        "--identity",
        key.to_str().unwrap(),
        export.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    // (The backup's own entry comes after its snapshot.)
    let restored = age_decrypt(&key, &export);
    assert!(restored.contains("\"document.upload\""), "{restored}");
    assert!(!restored.contains("maintenance.backup"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passphrase_protects_the_root_ring_instead_of_an_identity_file() {
    let pass = (
        "COFFRE_TEST_ROOT_PASS",
        "une phrase de passe assez longue".to_owned(),
    );
    let config = "[server]\nroot_passphrase_env = \"COFFRE_TEST_ROOT_PASS\"\n";
    let server = start(config, std::slice::from_ref(&pass));
    let data = server.data_dir.clone();
    let d = dir_arg(&data);
    assert!(!data.join("root-identity.txt").exists());
    let api = server.api();
    let c = case(&api, &data, false).await;
    // Rotation saves the grown ring under the passphrase.
    let (ok, _, err) = run(&["keys", "rotate-root", "--data-dir", d]);
    assert!(ok, "{err}");
    // No identity to encrypt a backup to by default: the operator names one.
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("b.age");
    let (ok, _, err) = run(&[
        "backup",
        "create",
        "--out",
        out.to_str().unwrap(),
        "--data-dir",
        d,
    ]);
    assert!(!ok && err.contains("--recipient"), "{err}");
    let dir = server.stop();

    // A wrong passphrase, or none: refused with a message.
    for env in [Some("une autre phrase de passe"), None] {
        let mut cmd = common::coffre();
        cmd.args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            d,
            "--config",
        ])
        .arg(dir.path().join("coffre.toml"))
        .env_remove(pass.0);
        if let Some(p) = env {
            cmd.env(pass.0, p);
        }
        let out = cmd.output().unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("root key file could not be opened") || err.contains("is not set"),
            "{err}"
        );
    }
    // The right one: the documents read after the rotation.
    let server = start_in(dir, data.clone(), config, std::slice::from_ref(&pass));
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

/// The server's log once it names `needle` (it is written as the request
/// ends; give it a moment).
async fn wait_for_log(server: &Server, needle: &str) -> String {
    for _ in 0..50 {
        let log = server.log();
        if log.contains(needle) {
            return log;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    server.log()
}
