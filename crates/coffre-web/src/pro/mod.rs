//! The desk (`/pro`): caseworkers' pages, on the same foundation as the
//! person's (templates, words, sessions, CSRF) with a cookie of their own.
//! One module per page: `login` (connexion with a second factor, account
//! activation, setting a second factor up again), `desk` (the people
//! linked to the structure, a person's file), `enrol` (enrolment at the
//! desk with the hand-over to the person, the access card and the consent
//! receipt), `structure` (Ma structure:
//! members, invitations, deactivation, second-factor resets, contact).

mod copies;
mod desk;
mod enrol;
mod login;
mod more;
mod report;
mod scan;
mod structure;

use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use coffre_api::AppState;
use tower_http::timeout::TimeoutLayer;

pub fn router(max_body_bytes: usize) -> Router<AppState> {
    let short =
        || TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(30));
    Router::new()
        .merge(login::router().layer(short()))
        .merge(desk::router().layer(short()))
        .merge(copies::router().layer(short()))
        .merge(enrol::router().layer(short()))
        .merge(more::router().layer(short()))
        .merge(structure::router().layer(short()))
        .merge(report::router().layer(short()))
        // A paper over a slow connection: an hour, as the person's.
        .merge(
            scan::router(max_body_bytes).layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                Duration::from_secs(3600),
            )),
        )
}
