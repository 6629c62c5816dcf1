//! In-process API tests on `app(state)`: the OpenAPI document against the
//! routes really served, the error format, security headers, CSRF.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use coffre_api::{ApiConfig, AppState, app};
use coffre_crypto::root::RootKeyRing;
use coffre_store::FsStore;
use coffre_vault::{Limits, Vault, VaultConfig};
use tower::ServiceExt;

async fn state() -> (AppState, tempfile::TempDir) {
    state_with(ApiConfig::default()).await
}

async fn state_with(config: ApiConfig) -> (AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FsStore::open(dir.path()).await.unwrap());
    let vault = Vault::open(VaultConfig {
        clock: coffre_vault::Clock::system(),
        person_keys: (dir.path().join("db")).with_file_name("person-keys"),
        journal: (dir.path().join("db")).with_file_name("journal"),
        db_path: dir.path().join("db"),
        store,
        root: RootKeyRing::generate().unwrap(),
        limits: Limits::default(),
    })
    .await
    .unwrap();
    (AppState::new(vault, config), dir)
}

async fn send(
    state: &AppState,
    req: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
    let mut req = req;
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 9))));
    let res = app(state.clone()).oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

/// The other direction: every route the code declares is in the OpenAPI
/// document. Routes are declared only through utoipa's `routes!` (each
/// handler carrying its `#[utoipa::path]`), never with a plain `.route(`,
/// and every annotated handler is registered: both read from the source.
#[test]
fn every_declared_route_is_documented() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut annotated = std::collections::BTreeSet::new();
    let mut registered = std::collections::BTreeSet::new();
    for f in std::fs::read_dir(src).unwrap() {
        let path = f.unwrap().path();
        if path.is_dir() {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains(".route("),
            "{}: a route declared outside `routes!` is not documented",
            path.display()
        );
        // `#[utoipa::path(get, path = "/x", …)] … async fn name(`
        let mut rest = text.as_str();
        while let Some(i) = rest.find("#[utoipa::path(") {
            rest = &rest[i + 15..];
            let method = rest.split(',').next().unwrap().trim().to_owned();
            let p = rest.split('"').nth(1).unwrap().to_owned();
            let name = rest
                .split("async fn ")
                .nth(1)
                .unwrap()
                .split('(')
                .next()
                .unwrap()
                .to_owned();
            annotated.insert((name, method, p));
        }
        let mut rest = text.as_str();
        while let Some(i) = rest.find("routes!(") {
            rest = &rest[i + 8..];
            let inside = rest.split(')').next().unwrap();
            for h in inside.split(',') {
                registered.insert(h.trim().to_owned());
            }
        }
    }
    assert!(annotated.len() > 20, "{annotated:?}");
    let doc = serde_json::to_value(coffre_api::openapi()).unwrap();
    for (name, method, path) in &annotated {
        assert!(
            registered.contains(name),
            "{name} is annotated but not served"
        );
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing from the document"
        );
    }
    let documented: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    assert_eq!(documented, annotated.len());
}

/// Every route in the OpenAPI document is served (a request to it never
/// gets the router's own "no such route"), and the document has them all.
#[tokio::test]
async fn openapi_matches_the_served_routes() {
    let (state, _dir) = state().await;
    let doc = serde_json::to_value(coffre_api::openapi()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let mut count = 0;
    let routes: Vec<(String, String)> = paths
        .iter()
        .flat_map(|(p, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.clone(), p.clone()))
        })
        .collect();
    for (method, path) in &routes {
        let concrete = path
            .split('/')
            .map(|seg| {
                if seg.starts_with('{') {
                    "00112233445566778899aabbccddeeff"
                } else {
                    seg
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let m: Method = method.to_uppercase().parse().unwrap();
        let req = Request::builder()
            .method(m)
            .uri(&concrete)
            .header("content-type", "application/json")
            .body(Body::from("{}"))
            .unwrap();
        let (_, _, body) = send(&state, req).await;
        assert_ne!(
            body["error"]["code"], "no_such_route",
            "{method} {path} is in the document but not served"
        );
        assert_ne!(
            body["error"]["code"], "method_not_allowed",
            "{method} {path}: the route does not take this method"
        );
        count += 1;
    }
    assert_eq!(
        count,
        paths
            .values()
            .map(|p| p.as_object().unwrap().len())
            .sum::<usize>()
    );
    // And an unknown route is reported as such.
    let (s, _, body) = send(
        &state,
        Request::get("/api/v1/nothing").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "no_such_route");
}

#[tokio::test]
async fn errors_are_json_with_codes_and_headers_are_set() {
    let (state, _dir) = state().await;
    let (s, h, body) = send(
        &state,
        Request::get("/api/v1/beneficiaries")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthenticated");
    assert!(body["error"]["message"].is_string());
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );

    let bad = Request::post("/api/v1/sessions")
        .header("content-type", "application/json")
        .body(Body::from("{nope"))
        .unwrap();
    let (s, _, body) = send(&state, bad).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_input");

    // JSON routes take small bodies only (the upload route is the exception).
    let huge = format!(
        r#"{{"kind":"beneficiary","identifier":"{}","secret":"123456"}}"#,
        "x".repeat(200_000)
    );
    let big = Request::post("/api/v1/sessions")
        .header("content-type", "application/json")
        .body(Body::from(huge))
        .unwrap();
    let (s, _, body) = send(&state, big).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "too_large");

    // The router's own refusals answer in the same format.
    let (s, _, body) = send(
        &state,
        Request::put("/api/v1/sessions")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["error"]["code"], "method_not_allowed");

    let bad_id = Request::get("/api/v1/documents/not-an-id")
        .header("authorization", "Bearer x")
        .body(Body::empty())
        .unwrap();
    let (s, _, _) = send(&state, bad_id).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    let wrong = Request::post("/api/v1/sessions")
        .header("content-type", "application/json")
        .body(Body::from(
            r#"{"kind":"beneficiary","identifier":"personne","secret":"123456"}"#,
        ))
        .unwrap();
    let (s, _, body) = send(&state, wrong).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthenticated");
}

/// A session cookie alone cannot change anything: the CSRF header is
/// required on state-changing requests.
#[tokio::test]
async fn cookie_sessions_need_the_csrf_token() {
    let (state, _dir) = state().await;
    let created = state.vault.create_structure("CCAS", "admin").await.unwrap();
    let activated = state
        .vault
        .enroll_caseworker(&created.enrollment_code, "mot-de-passe-admin".into())
        .await
        .unwrap();
    // Without the second factor's code, the password alone is refused.
    let no_code = Request::post("/api/v1/sessions")
        .header("content-type", "application/json")
        .body(Body::from(
            r#"{"kind":"caseworker","login":"admin","password":"mot-de-passe-admin"}"#,
        ))
        .unwrap();
    let (s, _, _) = send(&state, no_code).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let login = Request::post("/api/v1/sessions")
        .header("content-type", "application/json")
        .body(Body::from(format!(
            r#"{{"kind":"caseworker","login":"admin","password":"mot-de-passe-admin","code":"{}"}}"#,
            activated.second_factor.recovery_codes[0].as_str()
        )))
        .unwrap();
    let (s, h, body) = send(&state, login).await;
    assert_eq!(s, StatusCode::CREATED);
    let cookie = h["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("Secure")
            && cookie.contains("SameSite=Strict")
    );
    let pair = cookie.split(';').next().unwrap().to_owned();
    let csrf = body["csrf_token"].as_str().unwrap().to_owned();

    // Reading with the cookie works.
    let get = Request::get("/api/v1/beneficiaries")
        .header("cookie", &pair)
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&state, get).await.0, StatusCode::OK);
    // Changing without the CSRF header is refused; with it, allowed.
    let post = |csrf: Option<&str>| {
        let mut b = Request::post(format!(
            "/api/v1/structures/{}/caseworkers",
            created.structure_id
        ))
        .header("cookie", &pair)
        .header("content-type", "application/json");
        if let Some(c) = csrf {
            b = b.header("x-csrf-token", c);
        }
        b.body(Body::from(r#"{"login":"julie"}"#)).unwrap()
    };
    let (s, _, body) = send(&state, post(None)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "csrf");
    assert_eq!(
        send(&state, post(Some("0000"))).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(send(&state, post(Some(&csrf))).await.0, StatusCode::CREATED);
}

/// Behind a declared proxy (the mock peer, 127.0.0.1), clients are told
/// apart by `X-Forwarded-For`; each has its own login limit.
#[tokio::test]
async fn login_limits_follow_forwarded_for_from_a_trusted_proxy() {
    let login = |xff: &'static str| {
        Request::post("/api/v1/sessions")
            .header("content-type", "application/json")
            .header("x-forwarded-for", xff)
            .body(Body::from(
                r#"{"kind":"beneficiary","identifier":"personne","secret":"000000"}"#,
            ))
            .unwrap()
    };
    let limited = |config: ApiConfig| async move {
        let (state, _dir) = state_with(config).await;
        let mut statuses = Vec::new();
        for xff in ["203.0.113.1", "203.0.113.1", "203.0.113.2", "203.0.113.1"] {
            statuses.push(send(&state, login(xff)).await.0);
        }
        statuses
    };
    let trusted = ApiConfig {
        logins_per_minute: 2,
        trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
        ..ApiConfig::default()
    };
    assert_eq!(
        limited(trusted).await,
        [
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    // Not declared: the header is ignored, all share the peer's limit.
    let untrusted = ApiConfig {
        logins_per_minute: 2,
        ..ApiConfig::default()
    };
    assert_eq!(
        limited(untrusted).await,
        [
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
}

/// `/metrics` is nobody's without a token, and only its bearer's with one.
#[tokio::test]
async fn metrics_are_served_to_the_token_only() {
    let get = |auth: Option<&'static str>| {
        let mut r = Request::get("/metrics");
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        r.body(Body::empty()).unwrap()
    };
    let (state, _dir) = state().await;
    let (s, _, body) = send(&state, get(None)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "metrics_not_served");
    let (s, _, _) = send(&state, get(Some("Bearer anything"))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let token = "0123456789abcdef0123456789abcdef";
    let (state, _dir) = state_with(ApiConfig {
        metrics_token: Some(token.into()),
        ..ApiConfig::default()
    })
    .await;
    for wrong in [
        None,
        Some("Bearer 0123456789abcdef0123456789abcdee"),
        Some("Bearer 0123456789abcdef"),
        Some("Basic 0123456789abcdef0123456789abcdef"),
    ] {
        let (s, _, body) = send(&state, get(wrong)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{wrong:?}");
        assert_eq!(body["error"]["code"], "unauthenticated");
    }
    let req = get(Some("Bearer 0123456789abcdef0123456789abcdef"));
    let mut req = req;
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 9))));
    let res = app(state.clone()).oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let text = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    let text = String::from_utf8(text.to_vec()).unwrap();
    assert!(
        text.contains(
            "coffre_http_requests_total{route=\"/metrics\",method=\"GET\",status=\"401\"} 4"
        ),
        "{text}"
    );
}
