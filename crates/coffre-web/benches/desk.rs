//! Figures for the desk, measured in one run (never a timed test): the
//! dashboard of a structure with 500 linked people and 5,000 papers
//! (target: under 150 ms server time), and a person's file at the desk
//! (target: under 50 ms), in process on the real router.
//!
//! `cargo bench -p coffre-web --bench desk`

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
use coffre_vault::{
    Category, Date, Limits, NewBeneficiary, NewDocument, NewGrant, Permission, Vault, VaultConfig,
};
use futures_util::StreamExt;
use tower::ServiceExt;

const PEOPLE: usize = 500;
const PAPERS_EACH: usize = 10;
const RUNS: usize = 15;

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
            limits: Limits::default(),
        })
        .await
        .unwrap();
        let s = vault
            .create_structure("CCAS de Lyon", "admin")
            .await
            .unwrap();
        let a = vault
            .enroll_caseworker(&s.enrollment_code, UserSecret::from("mot-de-passe-admin"))
            .await
            .unwrap();
        let out = vault
            .login_caseworker(
                "admin",
                UserSecret::from("mot-de-passe-admin"),
                &a.second_factor.recovery_codes[0],
            )
            .await
            .unwrap();
        let cw = vault.session(&out.token).unwrap();
        let started = Instant::now();
        let mut first = None;
        let now = vault.clock().now_ms();
        for p in 0..PEOPLE {
            let e = vault
                .enroll_beneficiary(
                    &cw,
                    NewBeneficiary {
                        identifier: format!("personne{p}"),
                        display_name: format!("Personne {p}"),
                        secret: UserSecret::from("tulipe marche violon rouge"),
                        recovery_trustee: false,
                        grant: Some(NewGrant {
                            categories: Category::ALL.to_vec(),
                            permissions: vec![Permission::View, Permission::Upload],
                            days: 365,
                        }),
                    },
                )
                .await
                .unwrap();
            first.get_or_insert(e.beneficiary_id);
            for d in 0..PAPERS_EACH {
                // One paper in ten ends within the dashboard's 60 days.
                let expires = (d == 0)
                    .then(|| Date::from_epoch_ms(now + (30 + (p % 20) as i64) * 86_400_000));
                vault
                    .upload(
                        &cw,
                        e.beneficiary_id,
                        NewDocument {
                            category: Some(Category::ALL[d % Category::ALL.len()]),
                            title: Some(format!("Papier {d} de la personne {p}")),
                            filename: format!("papier-{d}.pdf"),
                            content_type: Some("application/pdf".into()),
                            expires_on: expires,
                            private: Some(false),
                            notes: None,
                        },
                        futures_util::stream::iter([Ok(Bytes::from(vec![b'x'; 2000]))]).boxed(),
                    )
                    .await
                    .unwrap();
            }
        }
        println!(
            "{PEOPLE} people and {} papers made in {:.0} s",
            PEOPLE * PAPERS_EACH,
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
        let cookie = format!("coffre_pro={}", out.token.as_str());
        let get = |path: String| {
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
                let status = res.status();
                let body = axum::body::to_bytes(res.into_body(), 1 << 24)
                    .await
                    .unwrap();
                let took = t.elapsed();
                assert!(status.is_success(), "{status}");
                (took, body.len())
            }
        };
        let (t, size) = get("/pro".into()).await;
        println!(
            "dashboard, first: {:.1} ms ({} KB)",
            t.as_secs_f64() * 1000.0,
            size / 1024
        );
        let file = format!("/pro/personnes/{}", first.unwrap());
        let mut dash = Vec::new();
        let mut person = Vec::new();
        for _ in 0..RUNS {
            dash.push(get("/pro".into()).await.0);
            person.push(get(file.clone()).await.0);
        }
        summary(
            &format!(
                "dashboard, {PEOPLE} people, {} papers",
                PEOPLE * PAPERS_EACH
            ),
            dash,
        );
        summary(&format!("a person's file ({PAPERS_EACH} papers)"), person);
    });
}
