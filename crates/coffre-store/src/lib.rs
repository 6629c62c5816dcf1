//! Ciphertext object storage for Coffre: S3-compatible buckets, and a
//! filesystem store as the embedded default.
//!
//! Not built yet: this crate is an empty placeholder in the workspace so
//! the layout and documentation can refer to it. It exports nothing.
