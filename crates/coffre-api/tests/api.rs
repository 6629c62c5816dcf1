//! In-process API tests on `app(state)`: the OpenAPI document against the
//! routes really served, the error format, security headers, CSRF.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use coffre_api::{ApiConfig, AppState, app, ops};
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

/// The other direction: every route the code declares is in the table the
/// OpenAPI document is made from. axum cannot list a router's routes, so
/// they are read from the routers' source: each `.route("path", methods)`.
#[test]
fn every_declared_route_is_documented() {
    let mut declared = std::collections::BTreeSet::new();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for f in std::fs::read_dir(src).unwrap() {
        let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
        let mut rest = text.as_str();
        while let Some(i) = rest.find(".route(") {
            let call_start = i + ".route(".len();
            let mut depth = 1;
            let mut end = call_start;
            for (k, c) in rest[call_start..].char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    end = call_start + k;
                    break;
                }
            }
            let call = &rest[call_start..end];
            let path = call.split('"').nth(1).unwrap().to_owned();
            for m in ["get", "post", "put", "patch", "delete"] {
                let needle = format!("{m}(");
                let used = call.match_indices(&needle).any(|(at, _)| {
                    at == 0
                        || !call[..at]
                            .chars()
                            .next_back()
                            .is_some_and(|c| c.is_alphanumeric() || c == '_')
                });
                if used {
                    declared.insert((m.to_owned(), path.clone()));
                }
            }
            rest = &rest[end..];
        }
    }
    let documented: std::collections::BTreeSet<(String, String)> = ops::ROUTES
        .iter()
        .map(|(m, p, _, _)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert!(declared.len() > 20, "{declared:?}");
    assert_eq!(declared, documented);
}

/// Every route in the OpenAPI document is served (a request to it never
/// gets the router's own "no such route"), and the document has them all.
#[tokio::test]
async fn openapi_matches_the_served_routes() {
    let (state, _dir) = state().await;
    let doc = ops::openapi();
    let paths = doc["paths"].as_object().unwrap();
    let mut count = 0;
    for (method, path, _, _) in ops::ROUTES {
        assert!(
            paths[*path][*method].is_object(),
            "{method} {path} missing from the OpenAPI document"
        );
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
    state
        .vault
        .enrol_caseworker(&created.enrolment_code, "mot-de-passe-admin".into())
        .await
        .unwrap();
    let login = Request::post("/api/v1/sessions")
        .header("content-type", "application/json")
        .body(Body::from(
            r#"{"kind":"caseworker","login":"admin","password":"mot-de-passe-admin"}"#,
        ))
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
