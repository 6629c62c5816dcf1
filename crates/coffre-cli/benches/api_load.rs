//! Load on the download path, with a real HTTP load generator (`wrk`, from
//! Debian's package): 64 concurrent clients fetching a 1 MiB document through
//! `GET /api/v1/documents/{id}/content` of the real `coffre` binary
//! (authenticated, decrypted, audited), against the same clients fetching the
//! same bytes from a plain file server (axum, no TLS, no auth, no crypto) in
//! the same run. Prints requests/s, p99 latency and the ratios.
//!
//! `cargo bench -p coffre-cli --bench api_load` (needs `wrk`: apt-get install wrk)

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::panic
)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

const DURATION: &str = "10s";

struct Figures {
    rps: f64,
    p99_ms: f64,
}

fn wrk(url: &str, token: Option<&str>) -> Figures {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", "-c64", "-d", DURATION, "--latency", url]);
    if let Some(t) = token {
        cmd.args(["-H", &format!("Authorization: Bearer {t}")]);
    }
    let out = cmd
        .output()
        .expect("wrk is not installed: apt-get install wrk");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!text.contains("Non-2xx"), "errors during the run:\n{text}");
    let rps = text
        .lines()
        .find(|l| l.starts_with("Requests/sec:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in:\n{text}"));
    let p99 = text
        .lines()
        .find(|l| l.trim_start().starts_with("99%"))
        .and_then(|l| l.split_whitespace().nth(1))
        .map(parse_duration)
        .unwrap_or_else(|| panic!("no 99% latency in:\n{text}"));
    Figures { rps, p99_ms: p99 }
}

fn parse_duration(s: &str) -> f64 {
    let (num, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len()));
    let v: f64 = num.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => v / 1000.0,
        "ms" => v,
        "s" => v * 1000.0,
        "m" => v * 60_000.0,
        _ => f64::NAN,
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    // One account downloading as fast as it can: lift the per-account
    // request limit (600 a minute by default) to its maximum.
    let config = dir.path().join("coffre.toml");
    std::fs::write(
        &config,
        "[server]\nallow_root_identity_in_data_dir = true\n[backup]\nevery_hours = 0\n\
         [limits]\nrequests_per_minute_per_account = 100000\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_coffre"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(&data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("coffre listening on ")
        .unwrap()
        .to_owned();

    let doc: Vec<u8> = (0..(1u32 << 20)).map(|i| (i % 251) as u8).collect();
    let file = dir.path().join("plain.bin");
    std::fs::write(&file, &doc).unwrap();

    let (url, token) = rt.block_on(async {
        let out = Command::new(env!("CARGO_BIN_EXE_coffre"))
            .args([
                "admin",
                "structure",
                "create",
                "--json",
                "--name",
                "CCAS",
                "--admin-login",
                "admin",
                "--data-dir",
            ])
            .arg(&data_dir)
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let http = reqwest::Client::new();
        let post = |path: &str, token: Option<String>, body: Value| {
            let mut r = http.post(format!("{base}{path}")).json(&body);
            if let Some(t) = token {
                r = r.bearer_auth(t);
            }
            r.send()
        };
        // Activation gives recovery codes; one serves as the second
        // factor of the admin's login.
        let activated: Value = post(
            "/api/v1/enrollments",
            None,
            json!({"code": v["enrollment_code"], "password": "mot-de-passe-admin"}),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        let t: Value = post(
            "/api/v1/sessions",
            None,
            json!({"kind":"caseworker","login":"admin","password":"mot-de-passe-admin",
                   "code": activated["recovery_codes"][0]}),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        let tok = t["token"].as_str().unwrap().to_owned();
        let b: Value = post(
            "/api/v1/beneficiaries",
            Some(tok.clone()),
            json!({"identifier":"marie","display_name":"Marie","secret":"482913",
                   "grant":{"categories":["identity"],"permissions":["view","upload"],"days":31}}),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        let bid = b["beneficiary_id"].as_str().unwrap().to_owned();
        let form = reqwest::multipart::Form::new()
            .text("category", "identity")
            .part(
                "file",
                reqwest::multipart::Part::bytes(doc.clone()).file_name("scan.pdf"),
            );
        let d: Value = http
            .post(format!("{base}/api/v1/beneficiaries/{bid}/documents"))
            .bearer_auth(&tok)
            .multipart(form)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (
            format!(
                "{base}/api/v1/documents/{}/content",
                d["document_id"].as_str().unwrap()
            ),
            tok,
        )
    });

    // The plain server, on its own runtime thread (one worker unless
    // COFFRE_BENCH_BASE_WORKERS says otherwise; coffre has the default
    // runtime, one worker per core).
    let base_workers: usize = std::env::var("COFFRE_BENCH_BASE_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let plain = format!("http://{}/plain.bin", listener.local_addr().unwrap());
    let served = file.clone();
    serve_on_own_thread(
        listener,
        base_workers,
        axum::Router::new().route(
            "/plain.bin",
            axum::routing::get(move || {
                let p = served.clone();
                async move { tokio::fs::read(p).await.unwrap() }
            }),
        ),
    );

    // The floor of any server that keeps papers encrypted at rest: the same
    // plain server, plus opening the same bytes sealed in Coffre's object
    // format (AES-256-GCM chunks, authenticated, in place) on every
    // request. No session, consent, journal, store or mark: what is left
    // between this and coffre is Coffre's own overhead; what is between
    // this and the plain server is the decryption's own cost.
    let floor_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    floor_listener.set_nonblocking(true).unwrap();
    let floor = format!("http://{}/sealed.bin", floor_listener.local_addr().unwrap());
    let dek = std::sync::Arc::new(coffre_crypto::Dek::generate().unwrap());
    let header =
        coffre_crypto::object::ObjectHeader::new(coffre_crypto::DocumentId::random().unwrap(), 1);
    let sealed_file = dir.path().join("sealed.bin");
    {
        let mut w = coffre_crypto::object::ObjectWriter::new(&dek, &header, Vec::new()).unwrap();
        std::io::Write::write_all(&mut w, &doc).unwrap();
        std::fs::write(&sealed_file, w.finish().unwrap()).unwrap();
    }
    serve_on_own_thread(
        floor_listener,
        base_workers,
        axum::Router::new().route(
            "/sealed.bin",
            axum::routing::get(move || {
                let (p, dek) = (sealed_file.clone(), dek.clone());
                async move {
                    let mut sealed = tokio::fs::read(p).await.unwrap();
                    let ranges =
                        coffre_crypto::object::open_in_place(&dek, &header, &mut sealed).unwrap();
                    let sealed = bytes::Bytes::from(sealed);
                    let pieces: Vec<Result<bytes::Bytes, std::io::Error>> =
                        ranges.into_iter().map(|r| Ok(sealed.slice(r))).collect();
                    axum::body::Body::from_stream(futures_util::stream::iter(pieces))
                }
            }),
        ),
    );

    let ours = wrk(&url, Some(&token));
    let base_line = wrk(&plain, None);
    let floor_line = wrk(&floor, None);
    println!("\n== 64 clients, 1 MiB document, {DURATION} each (wrk -t2 -c64) ==");
    println!(
        "coffre  GET /api/v1/documents/{{id}}/content: {:8.1} req/s, p99 {:7.1} ms",
        ours.rps, ours.p99_ms
    );
    println!(
        "plain   GET /plain.bin (same bytes):        {:8.1} req/s, p99 {:7.1} ms",
        base_line.rps, base_line.p99_ms
    );
    println!(
        "floor   GET /sealed.bin (plain + opening):  {:8.1} req/s, p99 {:7.1} ms",
        floor_line.rps, floor_line.p99_ms
    );
    println!(
        "floor ratio (plain + opening)/plain = {:.2}x, p99 {:.2}x: what decryption alone costs",
        floor_line.rps / base_line.rps,
        floor_line.p99_ms / base_line.p99_ms
    );
    println!(
        "coffre/floor = {:.2}x, p99 {:.2}x: sessions, consent, journal and store (coffre has a worker per core, the floor as many as the plain server)",
        ours.rps / floor_line.rps,
        ours.p99_ms / floor_line.p99_ms
    );
    println!(
        "throughput ratio coffre/plain = {:.2}x (target >= 0.8x, issue 15)",
        ours.rps / base_line.rps
    );
    println!(
        "p99 ratio coffre/plain       = {:.2}x (target <= 1.5x, issue 15)",
        ours.p99_ms / base_line.p99_ms
    );
    let _ = child.kill();
    let _ = child.wait();
}

/// Serves `app` on `listener` from a runtime of its own, on its own thread
/// (the baselines beside the real binary).
fn serve_on_own_thread(listener: std::net::TcpListener, workers: usize, app: axum::Router) {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            axum::serve(tokio::net::TcpListener::from_std(listener).unwrap(), app)
                .await
                .unwrap();
        });
    });
}
