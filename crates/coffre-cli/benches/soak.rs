//! Soak: the real `coffre` binary under 64 clients doing a mix of what
//! people and caseworkers do (listings, downloads, uploads and deletions,
//! journals, share links created, downloaded and revoked, person logins,
//! and strangers' wrong logins),
//! for ten minutes by default. Prints, from this one run: requests per
//! route with p50 and p99 latency, every answer that was not the expected
//! one, server errors (5xx; there must be none) and the server's resident
//! memory after warm-up and at the end (growth must stay under 10 %).
//!
//! `cargo bench -p coffre-cli --bench soak`
//! (`COFFRE_SOAK_SECONDS=60` for a shorter run; warm-up is the first 30 %,
//! at least 10 s). The server runs with `MALLOC_ARENA_MAX=2`, as the
//! systemd unit sets it. Exits non-zero when a server error was seen or memory
//! grew by 10 % or more after warm-up.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::panic,
    clippy::print_stderr
)]

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Api, MARKER, start};
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

const CLIENTS: usize = 64;
/// People (each with their own vault) and caseworkers the clients act as.
const PEOPLE: usize = 8;
const CASEWORKERS: usize = 8;
const DOCS_PER_PERSON: usize = 20;

/// Latencies and answers per route.
#[derive(Default)]
struct Route {
    micros: Vec<u64>,
    unexpected: BTreeMap<u16, u64>,
    server_errors: u64,
}

#[derive(Default)]
struct Stats {
    routes: BTreeMap<&'static str, Route>,
    /// Logins answered "busy" (and retried).
    busy: u64,
}

impl Stats {
    fn record(
        &mut self,
        route: &'static str,
        took: Duration,
        status: StatusCode,
        want: StatusCode,
    ) {
        let r = self.routes.entry(route).or_default();
        r.micros.push(took.as_micros() as u64);
        if status.is_server_error() {
            r.server_errors += 1;
        }
        if status != want {
            *r.unexpected.entry(status.as_u16()).or_default() += 1;
        }
    }
}

struct Person {
    id: String,
    identifier: String,
    docs: Vec<String>,
}

/// What every client shares.
struct World {
    api: Api,
    caseworkers: Vec<String>,
    people: Vec<Person>,
    stats: Mutex<Stats>,
    stop: AtomicBool,
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// A small scan (about 20 KB, two chunks), different per call.
fn paper(n: u64) -> Vec<u8> {
    let mut v: Vec<u8> = (0..20_000u64).map(|i| ((i * 7 + n) % 251) as u8).collect();
    v.extend_from_slice(MARKER.as_bytes());
    v
}

async fn upload(api: &Api, token: &str, b: &str, n: u64) -> (StatusCode, Value) {
    let form = Form::new()
        .text("title", format!("Attestation {n}"))
        .text("category", "identity")
        .part(
            "file",
            Part::bytes(paper(n))
                .file_name("attestation.pdf")
                .mime_str("application/pdf")
                .unwrap(),
        );
    let res = api
        .http
        .post(format!("{}/api/v1/beneficiaries/{b}/documents", api.base))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let s = res.status();
    (s, res.json().await.unwrap_or(Value::Null))
}

/// A person's login. Key derivations are bounded: "busy" (503 with
/// Retry-After) is the designed answer past the bound; the client waits and
/// tries again, as the pages and apps do.
async fn login(world: &World, from: &str, identifier: &str, secret: &str) -> (StatusCode, Value) {
    loop {
        // Behind the declared proxy (127.0.0.1): each client has its own
        // address, as people do.
        let res = world
            .api
            .http
            .post(format!("{}/api/v1/sessions", world.api.base))
            .header("x-forwarded-for", from)
            .json(&json!({"kind": "beneficiary", "identifier": identifier, "secret": secret}))
            .send()
            .await
            .unwrap();
        let s = res.status();
        let v: Value = res.json().await.unwrap_or(Value::Null);
        if s == StatusCode::SERVICE_UNAVAILABLE && v["error"]["code"] == "busy" {
            world.stats.lock().unwrap().busy += 1;
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        return (s, v);
    }
}

/// One client: a loop of weighted operations until told to stop.
async fn client(world: Arc<World>, i: usize) {
    let api = &world.api;
    let cw = world.caseworkers[i % CASEWORKERS].clone();
    let person = &world.people[i % PEOPLE];
    let b = person.id.clone();
    let home = format!("10.100.{i}.7");
    let stranger = format!("10.200.{i}.7");
    let (s, v) = login(&world, &home, &person.identifier, "482913").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let mut person_token = v["token"].as_str().unwrap().to_owned();
    let mut rng = i as u64 * 0x9E37_79B9_7F4A_7C15 + 1;
    let mut next = move || {
        // xorshift: enough to spread the mix.
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    // This client's own uploads, deleted later so vaults stay the same size.
    let mut mine: Vec<String> = Vec::new();
    let mut n = (i as u64) << 32;
    while !world.stop.load(Ordering::Relaxed) {
        let roll = next() % 100;
        let doc = person.docs[(next() % person.docs.len() as u64) as usize].clone();
        let t0 = Instant::now();
        let (route, status, want) = match roll {
            0..=24 => {
                let (s, v) = api
                    .get(&format!("/api/v1/beneficiaries/{b}/documents"), &cw)
                    .await;
                if s == StatusCode::OK {
                    assert!(v["documents"].as_array().unwrap().len() >= DOCS_PER_PERSON);
                }
                ("GET documents (caseworker)", s, StatusCode::OK)
            }
            25..=44 => {
                let (s, bytes) = api
                    .bytes(&format!("/api/v1/documents/{doc}/content"), Some(&cw))
                    .await;
                if s == StatusCode::OK {
                    assert!(bytes.ends_with(MARKER.as_bytes()));
                }
                ("GET content (caseworker)", s, StatusCode::OK)
            }
            45..=54 => {
                let (s, _) = api
                    .get(
                        &format!("/api/v1/beneficiaries/{b}/documents"),
                        &person_token,
                    )
                    .await;
                ("GET documents (person)", s, StatusCode::OK)
            }
            55..=64 => {
                let (s, _) = api
                    .bytes(
                        &format!("/api/v1/documents/{doc}/content"),
                        Some(&person_token),
                    )
                    .await;
                ("GET content (person)", s, StatusCode::OK)
            }
            65..=72 => {
                if mine.len() < 4 {
                    n += 1;
                    let (s, v) = upload(api, &cw, &b, n).await;
                    if s == StatusCode::CREATED {
                        mine.push(v["document_id"].as_str().unwrap().to_owned());
                    }
                    ("POST documents (caseworker)", s, StatusCode::CREATED)
                } else {
                    let d = mine.remove(0);
                    let (s, _) = api
                        .call(
                            reqwest::Method::DELETE,
                            &format!("/api/v1/documents/{d}"),
                            Some(&person_token),
                            None,
                        )
                        .await;
                    ("DELETE document (person)", s, StatusCode::NO_CONTENT)
                }
            }
            73..=80 => {
                let (s, _) = api
                    .get(
                        &format!("/api/v1/beneficiaries/{b}/journal?limit=50"),
                        &person_token,
                    )
                    .await;
                ("GET journal (person)", s, StatusCode::OK)
            }
            81..=88 => {
                let (s, v) = api
                    .post(
                        &format!("/api/v1/documents/{doc}/shares"),
                        Some(&person_token),
                        json!({"days":1,"max_downloads":2}),
                    )
                    .await;
                world.stats.lock().unwrap().record(
                    "POST shares (person)",
                    t0.elapsed(),
                    s,
                    StatusCode::CREATED,
                );
                if s == StatusCode::CREATED {
                    let url = v["url"].as_str().unwrap();
                    let token = url.rsplit('/').next().unwrap();
                    let t1 = Instant::now();
                    let res = api
                        .http
                        .post(format!("{}/s/{token}", api.base))
                        .send()
                        .await
                        .unwrap();
                    let s = res.status();
                    let _ = res.bytes().await;
                    world.stats.lock().unwrap().record(
                        "POST /s/{token} (anyone)",
                        t1.elapsed(),
                        s,
                        StatusCode::OK,
                    );
                    let t2 = Instant::now();
                    let (s, _) = api
                        .call(
                            reqwest::Method::DELETE,
                            &format!("/api/v1/shares/{}", v["share_id"].as_str().unwrap()),
                            Some(&person_token),
                            None,
                        )
                        .await;
                    world.stats.lock().unwrap().record(
                        "DELETE share (person)",
                        t2.elapsed(),
                        s,
                        StatusCode::NO_CONTENT,
                    );
                }
                continue;
            }
            89 => {
                // A stranger guessing this person's secret from their own
                // address: refused (401), then locked out (429) — them,
                // not the owner, who keeps logging in from home.
                let (s, _) = login(&world, &stranger, &person.identifier, "000000").await;
                let want = if s == StatusCode::TOO_MANY_REQUESTS {
                    StatusCode::TOO_MANY_REQUESTS
                } else {
                    StatusCode::UNAUTHORIZED
                };
                ("POST sessions (wrong secret)", s, want)
            }
            90..=91 => {
                let (s, v) = login(&world, &home, &person.identifier, "482913").await;
                if s == StatusCode::CREATED {
                    let old = std::mem::replace(
                        &mut person_token,
                        v["token"].as_str().unwrap().to_owned(),
                    );
                    let _ = api
                        .call(
                            reqwest::Method::DELETE,
                            "/api/v1/sessions/current",
                            Some(&old),
                            None,
                        )
                        .await;
                }
                ("POST sessions (person login)", s, StatusCode::CREATED)
            }
            _ => {
                let (s, _) = api
                    .get(&format!("/api/v1/beneficiaries/{b}/grants"), &cw)
                    .await;
                ("GET grants (caseworker)", s, StatusCode::OK)
            }
        };
        world
            .stats
            .lock()
            .unwrap()
            .record(route, t0.elapsed(), status, want);
    }
    // What this client added goes away.
    for d in mine {
        let _ = api
            .call(
                reqwest::Method::DELETE,
                &format!("/api/v1/documents/{d}"),
                Some(&person_token),
                None,
            )
            .await;
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let seconds: u64 = std::env::var("COFFRE_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    // Warm-up: sled's page cache fills to its bound and the allocator's
    // arenas to their working size in the first two to three minutes.
    let warm_up = Duration::from_secs((seconds * 3 / 10).max(10));
    // As the systemd unit runs it (deploy/systemd/coffre.service).
    let server = start(
        "[server]\ntrusted_proxies = [\"127.0.0.1\"]\n\
         [limits]\nlogins_per_minute = 100000\nrequests_per_minute_per_account = 100000\n",
        &[("MALLOC_ARENA_MAX", "2".to_owned())],
    );
    let pid = server.child.id();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let world = rt.block_on(async {
        let api = Api {
            http: reqwest::Client::builder().pool_max_idle_per_host(CLIENTS).build().unwrap(),
            base: server.base.clone(),
        };
        let (sid, admin) = api.structure(&server.data_dir, "CCAS de Lyon", "admin.lyon").await;
        let mut caseworkers = vec![admin.clone()];
        for c in 1..CASEWORKERS {
            let login = format!("agent{c}");
            let (s, v) = api
                .post(&format!("/api/v1/structures/{sid}/caseworkers"), Some(&admin), json!({"login": login}))
                .await;
            assert_eq!(s, StatusCode::CREATED, "{v}");
            let (s, _) = api
                .post("/api/v1/enrollments", None, json!({"code": v["enrollment_code"], "password": "mot-de-passe-agent"}))
                .await;
            assert_eq!(s, StatusCode::CREATED);
            caseworkers.push(api.login_caseworker(&login, "mot-de-passe-agent").await);
        }
        let mut people = Vec::new();
        for p in 0..PEOPLE {
            let (s, v) = api
                .post(
                    "/api/v1/beneficiaries",
                    Some(&admin),
                    json!({"identifier": format!("personne{p}"), "display_name": format!("Personne {p}"), "secret": "482913",
                           "grant": {"categories": ["identity"], "permissions": ["view", "upload"], "days": 31}}),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{v}");
            let id = v["beneficiary_id"].as_str().unwrap().to_owned();
            let mut docs = Vec::new();
            for d in 0..DOCS_PER_PERSON {
                let (s, up) = upload(&api, &admin, &id, (p * 1000 + d) as u64).await;
                assert_eq!(s, StatusCode::CREATED, "{up}");
                docs.push(up["document_id"].as_str().unwrap().to_owned());
            }
            people.push(Person { id, identifier: v["identifier"].as_str().unwrap().to_owned(), docs });
        }
        Arc::new(World { api, caseworkers, people, stats: Mutex::new(Stats::default()), stop: AtomicBool::new(false) })
    });

    println!(
        "soak: {CLIENTS} clients, {seconds} s (warm-up {} s), server pid {pid}",
        warm_up.as_secs()
    );
    let started = Instant::now();
    let handles: Vec<_> = (0..CLIENTS)
        .map(|i| rt.spawn(client(world.clone(), i)))
        .collect();
    // Memory, sampled every 5 s.
    let mut samples: Vec<(u64, u64)> = Vec::new();
    while started.elapsed() < Duration::from_secs(seconds) {
        std::thread::sleep(Duration::from_secs(5));
        let kib = rss_kib(pid);
        samples.push((started.elapsed().as_secs(), kib));
        eprintln!(
            "  {:>4} s  RSS {:>7.1} MiB",
            started.elapsed().as_secs(),
            kib as f64 / 1024.0
        );
    }
    world.stop.store(true, Ordering::Relaxed);
    // A client whose connection failed (a transport error, not an HTTP
    // answer) stopped there: counted and shown, not hidden.
    let died: Vec<String> = rt.block_on(async {
        let mut died = Vec::new();
        for h in handles {
            if let Err(e) = h.await {
                died.push(e.to_string());
            }
        }
        died
    });
    let elapsed = started.elapsed().as_secs_f64();

    let stats = world.stats.lock().unwrap();
    println!("\n== per route ({elapsed:.0} s) ==");
    println!(
        "{:<32} {:>9} {:>8} {:>9} {:>9}  unexpected answers",
        "route", "requests", "req/s", "p50 ms", "p99 ms"
    );
    let mut server_errors = 0;
    let mut total = 0;
    for (name, r) in &stats.routes {
        let mut m = r.micros.clone();
        m.sort_unstable();
        server_errors += r.server_errors;
        total += m.len();
        println!(
            "{name:<32} {:>9} {:>8.1} {:>9.2} {:>9.2}  {:?}",
            m.len(),
            m.len() as f64 / elapsed,
            percentile(&m, 0.50),
            percentile(&m, 0.99),
            r.unexpected
        );
    }
    let after_warm_up = samples
        .iter()
        .find(|(t, _)| *t >= warm_up.as_secs())
        .map(|s| s.1)
        .unwrap_or(0);
    let peak = samples
        .iter()
        .filter(|(t, _)| *t >= warm_up.as_secs())
        .map(|s| s.1)
        .max()
        .unwrap_or(0);
    let last = samples.last().map(|s| s.1).unwrap_or(0);
    let growth = (last as f64 - after_warm_up as f64) / after_warm_up.max(1) as f64 * 100.0;
    println!(
        "\n{total} requests, {:.1} req/s, server errors (5xx): {server_errors}",
        total as f64 / elapsed
    );
    println!(
        "server RSS: {:.1} MiB after warm-up, peak {:.1} MiB, {:.1} MiB at the end: growth {growth:+.1} % (limit 10 %)",
        after_warm_up as f64 / 1024.0,
        peak as f64 / 1024.0,
        last as f64 / 1024.0
    );
    println!(
        "logins answered busy (503, Retry-After) and retried: {}",
        stats.busy
    );
    let log = server.log();
    let logged = log.lines().filter(|l| l.contains("server error")).count();
    let logged_busy = log
        .lines()
        .filter(|l| l.contains("server error") && l.contains("status=503"))
        .count();
    println!("server log: {logged} server errors logged, {logged_busy} of them 503 (busy)");
    println!("clients stopped by a transport error: {}", died.len());
    for d in &died {
        println!("  {d}");
    }
    let failed = server_errors > 0 || logged > logged_busy || growth >= 10.0 || !died.is_empty();
    drop(stats);
    let _ = server.stop();
    if failed {
        std::process::exit(1);
    }
}
