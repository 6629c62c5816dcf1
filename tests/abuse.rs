//! Hostile clients against the real binary (issue 12): each abuse the
//! review found is replayed and must now fail — journal flooding, telling
//! accounts apart and locking their owners out, memory blown by logins,
//! half-open sockets, enrollment races, share links used up by previews
//! (`story.rs`), input echoed in errors.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Api, start, start_with};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The test process opens many sockets too: its soft limit goes up to its
/// hard one (what `coffre serve` does for itself).
fn raise_open_files() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut l = getrlimit(Resource::Nofile);
    l.current = l.maximum;
    let _ = setrlimit(Resource::Nofile, l);
}

const PROXY: &str = "[server]\ntrusted_proxies = [\"127.0.0.1\"]\n";

async fn login_from(api: &Api, from: &str, identifier: &str, secret: &str) -> (StatusCode, Value) {
    let res = api
        .http
        .post(format!("{}/api/v1/sessions", api.base))
        .header("x-forwarded-for", from)
        .json(&json!({"kind":"beneficiary","identifier":identifier,"secret":secret}))
        .send()
        .await
        .unwrap();
    let s = res.status();
    (s, res.json().await.unwrap_or(Value::Null))
}

/// Enrolls marie (with a grant to the admin's structure); her identifier.
async fn enroll(api: &Api, admin: &str, chosen: &str) -> (String, String) {
    let (s, v) = api
        .post(
            "/api/v1/beneficiaries",
            Some(admin),
            json!({"identifier":chosen,"display_name":"Marie D.","secret":"482913",
                   "grant":{"categories":["identity"],"permissions":["view","upload"],"days":31}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    (
        v["beneficiary_id"].as_str().unwrap().to_owned(),
        v["identifier"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_tell_nothing_and_lock_nobody_out() {
    let server = start(PROXY, &[]);
    let api = server.api();
    let (_, admin) = api.structure(&server.data_dir, "CCAS", "admin.a").await;
    let (_, marie) = enroll(&api, &admin, "marie").await;
    // A stranger's guesses at marie's account, and at one that does not
    // exist, from their own address: the same answers, in the same order.
    let mut real = Vec::new();
    let mut unknown = Vec::new();
    for _ in 0..7 {
        real.push(login_from(&api, "198.51.100.7", &marie, "000000").await.0);
        unknown.push(
            login_from(&api, "198.51.100.8", "marie-9999x", "000000")
                .await
                .0,
        );
    }
    assert_eq!(real, unknown);
    assert_eq!(
        real,
        [401, 401, 401, 401, 429, 429, 429].map(|c| StatusCode::from_u16(c).unwrap())
    );
    // Marie, from her phone, is not locked out by them, and is told.
    let (s, v) = login_from(&api, "203.0.113.50", &marie, "482913").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert!(v["notices"][0].as_str().unwrap().starts_with('5'), "{v}");

    // Another structure's caseworker cannot learn whether an identifier
    // exists by enrolling it: a second "marie" gets her own number.
    let (_, other) = api.structure(&server.data_dir, "Relais", "admin.b").await;
    let (_, second) = enroll(&api, &other, "marie").await;
    assert_ne!(second, marie);
    assert!(second.starts_with("marie-"));

    // Input is never echoed: a secret sent as a number does not come back.
    let res = api
        .http
        .post(format!("{}/api/v1/sessions", api.base))
        .json(&json!({"kind":"beneficiary","identifier":marie,"secret":748213}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    let text = res.text().await.unwrap();
    assert!(!text.contains("748213"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_enrollments_of_one_name_give_eight_accounts() {
    let server = start("", &[]);
    let api = server.api();
    let (_, admin) = api.structure(&server.data_dir, "CCAS", "admin").await;
    let enrolls = (0..8).map(|_| {
        let api = server.api();
        let admin = admin.clone();
        async move { enroll(&api, &admin, "paul").await }
    });
    let done = futures_util::future::join_all(enrolls).await;
    let mut ids: Vec<String> = done.iter().map(|(_, i)| i.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 8, "{ids:?}");
    for id in &ids {
        let (s, v) = api.login_beneficiary(id, "482913").await;
        assert_eq!(s, StatusCode::CREATED, "{id}: {v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_refusals_hides_nothing_from_the_person() {
    let config = "[limits]\nrequests_per_minute_per_account = 300\n";
    let server = start(config, &[]);
    let api = server.api();
    let (_, a) = api.structure(&server.data_dir, "CCAS", "admin.a").await;
    let (other, stranger) = api.structure(&server.data_dir, "Autre", "admin.b").await;
    let (s, list) = api
        .get(
            &format!("/api/v1/structures/{other}/caseworkers"),
            &stranger,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let stranger_actor = format!(
        "caseworker:{}",
        list["caseworkers"][0]["caseworker_id"].as_str().unwrap()
    );
    let (b, marie_id) = enroll(&api, &a, "marie").await;
    let (s, v) = api.login_beneficiary(&marie_id, "482913").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let marie = v["token"].as_str().unwrap().to_owned();
    // Her own act, to be found afterwards.
    let (s, up) = api
        .upload(&marie, &b, "identity", b"avis CAF".to_vec())
        .await;
    assert_eq!(s, StatusCode::CREATED, "{up}");

    // The review's flood: a structure with no link to her asks for her
    // papers, again and again. Past its budget, it is refused at the door.
    let path = format!("/api/v1/beneficiaries/{b}/documents");
    let started = Instant::now();
    let mut statuses = std::collections::BTreeMap::new();
    for _ in 0..400 {
        let (s, _) = api.get(&path, &stranger).await;
        *statuses.entry(s.as_u16()).or_insert(0) += 1;
    }
    println!("400 requests in {:?}: {statuses:?}", started.elapsed());
    // (Its one request before the flood counted too.)
    assert_eq!(
        statuses.get(&404).copied().unwrap_or(0),
        299,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.get(&429).copied().unwrap_or(0),
        101,
        "{statuses:?}"
    );
    // A linked structure refused on a category it has no consent for,
    // 200 times: counted, not written 200 times.
    for _ in 0..200 {
        let (s, _) = api.upload(&a, &b, "health", b"x".to_vec()).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }
    let (s, j) = api
        .get(
            &format!("/api/v1/beneficiaries/{b}/journal?limit=100"),
            &marie,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{j}");
    let entries = j["entries"].as_array().unwrap();
    let text = j.to_string();
    assert!(!text.contains(&stranger_actor), "{text}");
    let refused = entries
        .iter()
        .filter(|e| e["action"] == "document.upload" && e["outcome"] == "denied")
        .count();
    assert!(refused <= 2, "{refused} refusal lines: {text}");
    // Her upload is still on the first page.
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "document.upload" && e["outcome"] == "ok"),
        "{text}"
    );
    // The pages go back to her enrollment.
    let mut before = j["next_before"].as_u64();
    let mut all = entries.len();
    while let Some(cursor) = before {
        let (s, page) = api
            .get(
                &format!("/api/v1/beneficiaries/{b}/journal?limit=100&before={cursor}"),
                &marie,
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        all += page["entries"].as_array().unwrap().len();
        before = page["next_before"].as_u64();
    }
    assert!(all >= 3, "{all}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_logins_keeps_the_server_small() {
    let server = start(PROXY, &[]);
    let api = server.api();
    let pid = server.child.id();
    // 192 logins at once, each from its own /48 behind the declared proxy
    // (so no per-address limit stops them): the key derivations they cost
    // are bounded; the rest are told to come back in a moment.
    let logins = (0..192u32).map(|i| {
        let api = server.api();
        async move {
            let from = format!("2001:db8:{i:x}::1");
            let res = api
                .http
                .post(format!("{}/api/v1/sessions", api.base))
                .header("x-forwarded-for", from)
                .json(&json!({"kind":"beneficiary","identifier":format!("x{i}"),"secret":"123987"}))
                .send()
                .await
                .unwrap();
            (res.status(), res.headers().get("retry-after").is_some())
        }
    });
    let results = futures_util::future::join_all(logins).await;
    let busy = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::SERVICE_UNAVAILABLE)
        .count();
    assert!(
        results
            .iter()
            .all(|(s, retry)| *s == StatusCode::UNAUTHORIZED
                || (*s == StatusCode::SERVICE_UNAVAILABLE && *retry)),
        "{results:?}"
    );
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let peak_kib: u64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap();
    println!(
        "192 concurrent logins: {busy} answered busy, peak resident memory {} MiB",
        peak_kib / 1024
    );
    assert!(peak_kib < 256 * 1024, "peak {} MiB", peak_kib / 1024);
    // The server still answers.
    let (s, _) = api.login_beneficiary("x0", "123987").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_sockets_do_not_stall_the_server() {
    raise_open_files();
    let config = "[limits]\nheader_timeout_seconds = 2\n";
    // Started with the soft limit many systems have (1,024 open files):
    // the server raises it itself.
    let server = start_with(
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap().keep().join("data"),
        config,
        &[],
        Some("ulimit -S -n 1024"),
    );
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut hanging = Vec::new();
    for _ in 0..1100 {
        let mut s = TcpStream::connect(&addr).unwrap();
        // Headers begun, never finished.
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: coffre\r\n")
            .unwrap();
        hanging.push(s);
    }
    let started = Instant::now();
    let health = reqwest::Client::new()
        .get(format!("{}/healthz", server.base))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    println!(
        "/healthz answered in {:?} with 1,100 half-open sockets",
        started.elapsed()
    );
    // Past the header timeout the server has closed them.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut closed = 0;
    for s in &mut hanging {
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut buf = [0u8; 512];
        match s.read(&mut buf) {
            Ok(_) => closed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => closed += 1,
            Err(_) => {}
        }
    }
    assert_eq!(closed, 1100, "{closed} of 1100 closed by the server");
}
