//! Figures for the person's pages, measured in one run (never a timed
//! test): server time of the home page and of one category's page for a
//! person with 300 papers, in process on the real router (target: under
//! 50 ms each); and three 4 MB phone photos made into one PDF: time and
//! the memory it takes (no photo decoded).
//!
//! `cargo bench -p coffre-web --bench pages`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, header};
use bytes::Bytes;
use coffre_api::{ApiConfig, AppState};
use coffre_crypto::UserSecret;
use coffre_crypto::root::RootKeyRing;
use coffre_store::FsStore;
use coffre_vault::{Category, Limits, NewDocument, Vault, VaultConfig};
use futures_util::StreamExt;
use tower::ServiceExt;

const PAPERS: usize = 300;
const RUNS: usize = 30;

fn summary(name: &str, mut t: Vec<Duration>) {
    t.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name}: median {:.1} ms, p90 {:.1} ms, min {:.1} ms, max {:.1} ms ({} runs)",
        ms(t[t.len() / 2]),
        ms(t[t.len() * 9 / 10]),
        ms(t[0]),
        ms(t[t.len() - 1]),
        t.len()
    );
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// A phone-like photo of about `target` bytes: a gradient with noise,
/// 4000×3000, quality tuned until it is about that size.
fn phone_photo(target: usize, seed: u32) -> Vec<u8> {
    let (w, h) = (4000u16, 3000u16);
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    let mut noise = |amp: u32| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        (x % amp) as u8
    };
    let mut pixels = Vec::with_capacity(usize::from(w) * usize::from(h) * 3);
    for j in 0..h {
        for i in 0..w {
            let base = ((u32::from(i) + u32::from(j)) / 32) as u8;
            pixels.extend_from_slice(&[
                base.wrapping_add(noise(40)),
                base.wrapping_add(90).wrapping_add(noise(40)),
                200u8.wrapping_sub(base).wrapping_add(noise(40)),
            ]);
        }
    }
    let mut quality = 85u8;
    loop {
        let mut out = Vec::new();
        jpeg_encoder::Encoder::new(&mut out, quality)
            .encode(&pixels, w, h, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        if out.len() <= target * 11 / 10 || quality < 20 {
            return out;
        }
        quality -= 2;
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(FsStore::open(dir.path()).await.unwrap());
        let vault = Vault::open(VaultConfig {
            clock: coffre_vault::Clock::system(),
            person_keys: dir.path().join("person-keys"),
            journal: dir.path().join("journal"),
            db_path: dir.path().join("db"),
            store,
            root: RootKeyRing::generate().unwrap(),
            limits: Limits {
                max_documents: 10_000,
                ..Limits::default()
            },
        })
        .await
        .unwrap();
        let logins = coffre_web::demo::seed(&vault).await.unwrap();
        let (_, identifier, secret) = logins.people[0].clone();
        let out = vault
            .login_beneficiary(&identifier, UserSecret::new(secret.clone()))
            .await
            .unwrap();
        let session = vault.session(&out.token).unwrap();
        let me = match session.principal {
            coffre_vault::Principal::Beneficiary { id } => id,
            _ => unreachable!(),
        };
        let started = Instant::now();
        for i in 0..PAPERS {
            let category = Category::ALL[i % Category::ALL.len()];
            vault
                .upload(
                    &session,
                    me,
                    NewDocument {
                        category: Some(category),
                        title: Some(format!("Papier numéro {i}")),
                        filename: format!("papier-{i}.pdf"),
                        content_type: Some("application/pdf".into()),
                        expires_on: None,
                        private: Some(false),
                        notes: None,
                    },
                    futures_util::stream::iter([Ok(Bytes::from(vec![b'x'; 2000]))]).boxed(),
                )
                .await
                .unwrap();
        }
        println!(
            "{PAPERS} papers uploaded in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let state = AppState::new(
            vault.clone(),
            ApiConfig {
                requests_per_minute_per_account: 100_000,
                ..ApiConfig::default()
            },
        );
        let app = coffre_web::app(state, coffre_web::WebConfig::default());
        let cookie = format!("coffre_page={}", out.token.as_str());
        let get = |path: &'static str| {
            let app = app.clone();
            let cookie = cookie.clone();
            async move {
                let mut req = Request::get(path)
                    .header(header::COOKIE, cookie)
                    .body(Body::empty())
                    .unwrap();
                req.extensions_mut()
                    .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 1))));
                let t = Instant::now();
                let res = app.oneshot(req).await.unwrap();
                let body = axum::body::to_bytes(res.into_body(), 1 << 24)
                    .await
                    .unwrap();
                let took = t.elapsed();
                assert!(body.len() > 1000);
                took
            }
        };
        // The first listing after login (the listing seals made at upload).
        println!(
            "home page, first after login: {:.1} ms",
            get("/papiers").await.as_secs_f64() * 1000.0
        );
        let mut home = Vec::new();
        let mut category = Vec::new();
        for _ in 0..RUNS {
            home.push(get("/papiers").await);
            category.push(get("/papiers/categorie/identity").await);
        }
        summary(&format!("home page, {PAPERS} papers"), home);
        summary(
            &format!(
                "one category's page ({} papers)",
                PAPERS / Category::ALL.len() + 1
            ),
            category,
        );
    });

    // Three 4 MB phone photos to one PDF.
    let photos: Vec<Vec<u8>> = (0..3).map(|i| phone_photo(4 << 20, i + 1)).collect();
    let sizes: Vec<String> = photos
        .iter()
        .map(|p| format!("{:.1} MB", p.len() as f64 / 1e6))
        .collect();
    let mut times = Vec::new();
    let mut extra_kib = Vec::new();
    for _ in 0..5 {
        // Reset the peak so it measures this conversion only.
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let before = status_kib("VmRSS:");
        let t = Instant::now();
        let pdf = coffre_copies::photos::photos_to_pdf(&photos).unwrap();
        times.push(t.elapsed());
        extra_kib.push(status_kib("VmHWM:").saturating_sub(before));
        assert!(pdf.len() > photos.iter().map(Vec::len).sum::<usize>());
    }
    summary(
        &format!("three phone photos ({}) to one PDF", sizes.join(", ")),
        times,
    );
    // The first conversion shows what it takes; later ones reuse the
    // memory the allocator kept from it.
    println!(
        "memory taken by the first conversion (peak RSS above the photos already in memory): {:.1} MiB; later runs: {:?} MiB",
        extra_kib[0] as f64 / 1024.0,
        extra_kib[1..]
            .iter()
            .map(|k| (*k as f64 / 1024.0 * 10.0).round() / 10.0)
            .collect::<Vec<_>>()
    );
}
