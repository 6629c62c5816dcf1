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

/// Upper bounds (seconds) of the latency histogram's buckets.
const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// (route template, method) → per-bucket counts (not cumulative), count, sum.
type Histograms = BTreeMap<(String, String), ([u64; BUCKETS.len()], u64, f64)>;

#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<Series>,
    latency: Mutex<Histograms>,
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
        let e = m
            .entry((route.clone(), method.clone(), status))
            .or_insert((0, 0.0));
        e.0 += 1;
        e.1 += secs;
        drop(m);
        let mut h = self
            .latency
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if h.len() >= MAX_SERIES && !h.contains_key(&(route.clone(), method.clone())) {
            return;
        }
        let e = h
            .entry((route, method))
            .or_insert(([0; BUCKETS.len()], 0, 0.0));
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            e.0[i] += 1;
        }
        e.1 += 1;
        e.2 += secs;
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
        drop(m);
        let h = self
            .latency
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let name = "coffre_http_request_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time to answer (until the response starts), by route and method."
        );
        let _ = writeln!(out, "# TYPE {name} histogram");
        for ((route, method), (buckets, count, sum)) in h.iter() {
            let labels = format!("route=\"{route}\",method=\"{method}\"");
            let mut cumulative = 0;
            for (b, n) in BUCKETS.iter().zip(buckets) {
                cumulative += n;
                let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{b}\"}} {cumulative}");
            }
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
            let _ = writeln!(out, "{name}_sum{{{labels}}} {sum:.6}");
            let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
        }
        drop(h);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_histogram_is_cumulative() {
        let m = Metrics::default();
        for secs in [0.001, 0.02, 0.02, 3.0, 99.0] {
            m.observe("/r".into(), "GET".into(), 200, secs);
        }
        let text = m.render();
        let line = |le: &str| {
            format!(
                "coffre_http_request_duration_seconds_bucket{{route=\"/r\",method=\"GET\",le=\"{le}\"}}"
            )
        };
        for (le, n) in [
            ("0.005", 1),
            ("0.025", 3),
            ("2.5", 3),
            ("5", 4),
            ("30", 4),
            ("+Inf", 5),
        ] {
            assert!(
                text.contains(&format!("{} {n}\n", line(le))),
                "{le}: {text}"
            );
        }
        assert!(
            text.contains(
                "coffre_http_request_duration_seconds_count{route=\"/r\",method=\"GET\"} 5"
            )
        );
        assert!(
            text.contains(
                "coffre_http_requests_total{route=\"/r\",method=\"GET\",status=\"200\"} 5"
            )
        );
    }
}
