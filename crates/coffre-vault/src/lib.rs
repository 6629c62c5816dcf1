//! Coffre's vault core: principals, consent grants, documents, share links
//! and the audit journal, with metadata in sled.
//!
//! Not built yet: this crate is an empty placeholder in the workspace so
//! the layout and documentation can refer to it. It exports nothing.
