//! Prometheus text metrics: requests by route and status with latency,
//! bytes up and down, lockouts.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;

/// (route template, method, status) → (count, total seconds).
type Series = BTreeMap<(String, String, u16), (u64, f64)>;

#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<Series>,
    pub upload_bytes: AtomicU64,
    pub download_bytes: AtomicU64,
    pub lockouts: AtomicU64,
}

/// Most distinct (route, method, status) series kept.
const MAX_SERIES: usize = 2000;

impl Metrics {
    fn observe(&self, route: String, method: String, status: u16, secs: f64) {
        let mut m = self
            .requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if m.len() >= MAX_SERIES && !m.contains_key(&(route.clone(), method.clone(), status)) {
            return;
        }
        let e = m.entry((route, method, status)).or_insert((0, 0.0));
        e.0 += 1;
        e.1 += secs;
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let m = self
            .requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = writeln!(
            out,
            "# HELP coffre_http_requests_total HTTP requests by route, method and status."
        );
        let _ = writeln!(out, "# TYPE coffre_http_requests_total counter");
        for ((route, method, status), (n, _)) in m.iter() {
            let _ = writeln!(
                out,
                "coffre_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP coffre_http_request_seconds_sum Total time spent answering, by route."
        );
        let _ = writeln!(out, "# TYPE coffre_http_request_seconds_sum counter");
        for ((route, method, status), (_, s)) in m.iter() {
            let _ = writeln!(
                out,
                "coffre_http_request_seconds_sum{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {s:.6}"
            );
        }
        for (name, help, v) in [
            (
                "coffre_upload_bytes_total",
                "Plaintext bytes uploaded.",
                &self.upload_bytes,
            ),
            (
                "coffre_download_bytes_total",
                "Plaintext bytes downloaded.",
                &self.download_bytes,
            ),
            (
                "coffre_lockouts_total",
                "Logins refused because the account is locked.",
                &self.lockouts,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Ordering::Relaxed)
            );
        }
        out
    }
}

/// Middleware: times every request under its route template (never the
/// concrete path, which holds ids).
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().to_string();
    let started = Instant::now();
    let res = next.run(req).await;
    state.metrics.observe(
        route,
        method,
        res.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    res
}
