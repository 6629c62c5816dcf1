//! End-to-end: the real `coffre` binary on an ephemeral port, once on the
//! filesystem store and once on an S3 store (a real S3-protocol server
//! started by the test), walking a whole case with HTTP calls.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

mod common;

use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use coffre_store::testing::S3TestServer;
use common::{Api, MARKER, Server, scan, start};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Every file under `dir`, searched for the marker (in clear, and as it
/// would look in JSON or URL encoding).
fn assert_marker_absent(dir: &Path) {
    let mut stack = vec![dir.to_path_buf()];
    let mut files = 0;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.is_file() {
                let mut bytes = Vec::new();
                std::fs::File::open(&p)
                    .unwrap()
                    .read_to_end(&mut bytes)
                    .unwrap();
                let hay = String::from_utf8_lossy(&bytes);
                assert!(!hay.contains(MARKER), "marker found in {}", p.display());
                assert!(
                    !hay.contains("identité"),
                    "title text found in {}",
                    p.display()
                );
                files += 1;
            }
        }
    }
    assert!(files > 0, "no file searched under {}", dir.display());
}

async fn story(server: &Server, searched: &[&Path]) {
    let api = Api {
        http: reqwest::Client::new(),
        base: server.base.clone(),
    };
    let (s1, admin1) = api
        .structure(&server.data_dir, "CCAS de Lyon", "admin.lyon")
        .await;
    let (_s2, admin2) = api
        .structure(&server.data_dir, "Relais Solidarité", "admin.relais")
        .await;

    // A caseworker is invited and enrols.
    let (s, v) = api
        .post(
            &format!("/api/v1/structures/{s1}/caseworkers"),
            Some(&admin1),
            json!({"login":"julie"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, _) = api
        .post(
            "/api/v1/enrollments",
            None,
            json!({"code": v["enrollment_code"], "password": "mot-de-passe-julie"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let julie = api.login_caseworker("julie", "mot-de-passe-julie").await;

    // The person is enrolled at the desk, with a 31-day consent.
    let (s, v) = api
        .post(
            "/api/v1/beneficiaries",
            Some(&julie),
            json!({"identifier":"marie.d","display_name":"Marie D.","secret":"482913","recovery_trustee":true,
                   "grant":{"categories":["identity","social_benefits"],"permissions":["view","upload"],"days":31}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let b = v["beneficiary_id"].as_str().unwrap().to_owned();
    // What she logs in with: her choice and four digits (on her card).
    let marie_id = v["identifier"].as_str().unwrap().to_owned();
    assert!(marie_id.starts_with("marie.d-"), "{marie_id}");

    // The caseworker uploads a scan of an ID card.
    let scan = scan();
    let (s, up) = api.upload(&julie, &b, "identity", scan.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{up}");
    let d = up["document_id"].as_str().unwrap().to_owned();
    let sha = hex::encode(ring::digest::digest(&ring::digest::SHA256, &scan).as_ref());
    assert_eq!(up["sha256"], sha);

    // The person logs in, lists it, downloads it byte-exact.
    let (s, v) = api.login_beneficiary(&marie_id, "482913").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let marie = v["token"].as_str().unwrap().to_owned();
    let (s, v) = api
        .get(&format!("/api/v1/beneficiaries/{b}/documents"), &marie)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["documents"][0]["document_id"], d.as_str());
    assert_eq!(v["documents"][0]["filename"], format!("cni-{MARKER}.jpg"));
    let (s, got) = api
        .bytes(&format!("/api/v1/documents/{d}/content"), Some(&marie))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(got == scan);
    // A range.
    let res = api
        .http
        .get(format!("{}/api/v1/documents/{d}/content", api.base))
        .bearer_auth(&marie)
        .header("range", "bytes=16380-16400")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.bytes().await.unwrap().as_ref(), &scan[16380..16401]);
    // A range past the end: 416; a unit other than bytes: ignored.
    for (range, status) in [
        ("bytes=999999999-", StatusCode::RANGE_NOT_SATISFIABLE),
        ("items=0-1", StatusCode::OK),
    ] {
        let res = api
            .http
            .get(format!("{}/api/v1/documents/{d}/content", api.base))
            .bearer_auth(&marie)
            .header("range", range)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status, "{range}");
        if status == StatusCode::OK {
            assert!(res.bytes().await.unwrap() == scan);
        }
    }

    // Another structure: the document does not exist for it.
    let (s, _) = api.get(&format!("/api/v1/documents/{d}"), &admin2).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = api
        .bytes(&format!("/api/v1/documents/{d}/content"), Some(&admin2))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // A category without consent: 403.
    let (s, v) = api.upload(&julie, &b, "health", b"x".to_vec()).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");

    // A share link works until its limit, then 410.
    let (s, link) = api
        .post(
            &format!("/api/v1/documents/{d}/shares"),
            Some(&marie),
            json!({"days":7,"max_downloads":2}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{link}");
    let path = link["url"]
        .as_str()
        .unwrap()
        .strip_prefix(&api.base)
        .unwrap()
        .to_owned();
    // Opening its page, HEAD, a messaging app's preview: nothing used up,
    // nothing told of the paper.
    let url = format!("{}{path}", api.base);
    for _ in 0..3 {
        let page = api.http.get(&url).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        assert!(html.contains("Il peut servir encore 2 fois"), "{html}");
        assert!(!html.contains(MARKER) && !html.contains("cni"), "{html}");
        let head = api.http.head(&url).send().await.unwrap();
        assert_eq!(head.status(), StatusCode::OK);
    }
    // Only the explicit download counts.
    for _ in 0..2 {
        let res = api.http.post(&url).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.bytes().await.unwrap() == scan);
    }
    assert_eq!(
        api.http.post(&url).send().await.unwrap().status(),
        StatusCode::GONE
    );
    let gone = api.http.get(&url).send().await.unwrap();
    assert_eq!(gone.status(), StatusCode::GONE);
    assert!(
        gone.text()
            .await
            .unwrap()
            .contains("Ce lien ne marche plus")
    );

    // The person revokes; the caseworker loses access.
    let (s, v) = api
        .get(&format!("/api/v1/beneficiaries/{b}/grants"), &marie)
        .await;
    assert_eq!(s, StatusCode::OK);
    let g = v["grants"][0]["grant_id"].as_str().unwrap().to_owned();
    let (s, _) = api
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/grants/{g}"),
            Some(&marie),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = api
        .bytes(&format!("/api/v1/documents/{d}/content"), Some(&julie))
        .await;
    assert!(
        s == StatusCode::FORBIDDEN || s == StatusCode::NOT_FOUND,
        "{s}"
    );

    // The journal lists every step, refusals included.
    let (s, v) = api
        .get(&format!("/api/v1/beneficiaries/{b}/journal"), &marie)
        .await;
    assert_eq!(s, StatusCode::OK);
    let entries = v["entries"].as_array().unwrap();
    let has = |action: &str, outcome: &str| {
        entries
            .iter()
            .any(|e| e["action"] == action && e["outcome"] == outcome)
    };
    for (a, o) in [
        ("beneficiary.enroll", "ok"),
        ("grant.create", "ok"),
        ("document.upload", "ok"),
        ("document.upload", "denied"),
        ("document.read", "denied"),
        ("document.download", "ok"),
        ("share.create", "ok"),
        ("share.download", "ok"),
        ("share.download", "denied"),
        ("grant.revoke", "ok"),
    ] {
        assert!(has(a, o), "journal lacks {a} {o}");
    }
    let (s, _) = api
        .get(&format!("/api/v1/beneficiaries/{b}/journal"), &julie)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Export: a ZIP with the document and its SHA-256 in the manifest.
    let (s, zip_bytes) = api
        .bytes(&format!("/api/v1/beneficiaries/{b}/export"), Some(&marie))
        .await;
    assert_eq!(s, StatusCode::OK);
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)).unwrap();
    let mut manifest = String::new();
    archive
        .by_name("manifest.json")
        .unwrap()
        .read_to_string(&mut manifest)
        .unwrap();
    let m: Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(m["documents"][0]["sha256"], sha);
    let mut inside = Vec::new();
    archive
        .by_name(m["documents"][0]["path"].as_str().unwrap())
        .unwrap()
        .read_to_end(&mut inside)
        .unwrap();
    assert!(inside == scan);

    // Nothing of the document, its title or its file name on disk.
    for dir in searched {
        assert_marker_absent(dir);
    }
    // Nor in the server's log: no title, file name, secret or token.
    let log = server.log();
    assert!(
        log.contains("coffre is serving"),
        "the log is not being captured"
    );
    for needle in [MARKER, "identité", "482913", "mot-de-passe", marie.as_str()] {
        assert!(
            !log.contains(needle),
            "{needle:?} appears in the server log"
        );
    }

    // Five wrong secrets: locked (429 with Retry-After); the owner is told.
    for i in 0..5 {
        let (s, _) = api.login_beneficiary(&marie_id, "000000").await;
        assert_eq!(
            s,
            if i < 4 {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::TOO_MANY_REQUESTS
            }
        );
    }
    let (s, _) = api.login_beneficiary(&marie_id, "482913").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (s, v) = api.login_beneficiary(&marie_id, "482913").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert!(v["notices"][0].as_str().unwrap().starts_with('5'), "{v}");
    let marie = v["token"].as_str().unwrap().to_owned();

    // Erasure: the document is gone.
    let (s, _) = api
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/beneficiaries/{b}"),
            Some(&marie),
            Some(json!({"secret":"482913"})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = api
        .bytes(&format!("/api/v1/documents/{d}/content"), Some(&marie))
        .await;
    assert!(
        s == StatusCode::NOT_FOUND || s == StatusCode::UNAUTHORIZED,
        "{s}"
    );
    let (s, _) = api.login_beneficiary(&marie_id, "482913").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

const LIMITS: &str = "[limits]\nlockout_seconds = 1\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn story_on_the_filesystem_store() {
    let mut server = start(LIMITS, &[]);
    let data = server.data_dir.clone();
    story(&server, &[&data]).await;
    // SIGTERM: a clean exit (after the final journal checkpoint), and the
    // operator's socket is gone.
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(!data.join("admin.sock").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn story_on_an_s3_store() {
    let s3 = S3TestServer::start().unwrap();
    let config = format!(
        "{LIMITS}[store]\nkind = \"s3\"\nendpoint = \"{}\"\nregion = \"{}\"\nbucket = \"{}\"\n",
        s3.endpoint(),
        coffre_store::testing::REGION,
        coffre_store::testing::BUCKET
    );
    let server = start(
        &config,
        &[
            (
                "AWS_ACCESS_KEY_ID",
                coffre_store::testing::ACCESS_KEY.to_owned(),
            ),
            (
                "AWS_SECRET_ACCESS_KEY",
                coffre_store::testing::SECRET_KEY.to_owned(),
            ),
        ],
    );
    let data = server.data_dir.clone();
    story(&server, &[&data, s3.data_dir()]).await;
    // The objects really went to the bucket.
    assert!(
        std::fs::read_dir(s3.data_dir().join(coffre_store::testing::BUCKET))
            .unwrap()
            .count()
            > 0
    );
}
