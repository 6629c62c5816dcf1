//! Coffre's HTTP API (axum).
//!
//! Not built yet: this crate is an empty placeholder in the workspace so
//! the layout and documentation can refer to it. It exports nothing.
