//! Access: the only code that chooses, wraps, unwraps and re-wraps keys.
//!
//! Invariant 3 lives here: a structure reaches a shared document's key only
//! through a scope key wrapped to it by the person's consent, and only
//! while that consent is live. Nothing else in the crate calls
//! `coffre_crypto::wrap`; the feature modules ask this module for a key
//! (or for the wraps of a change) and store what it returns through the
//! records layer.
//!
//! - [`identity`]: principals' identities sealed under a secret and the
//!   root ring, the structure key handed to caseworkers and enrollment codes,
//!   recovery seals, sealed display names.
//! - [`scope`]: scope keys: created at enrollment, given to a structure by a
//!   grant, rotated at revocation, opened by the owner or a structure.
//! - [`dek`]: document keys: the wrap a new document gets, the key a
//!   session may open, re-wraps (privacy, rotation), share links.
//! - [`memo`]: what a session unwrapped, so the same wrap is not unwrapped
//!   twice (purged when consent or a document's key changes).

pub(crate) mod dek;
pub(crate) mod identity;
pub(crate) mod kdf_gate;
pub(crate) mod memo;
pub(crate) mod scope;

use std::sync::Arc;

use crate::records::Records;
use crate::vault::Inner;

/// The key layer, borrowed from the vault.
pub(crate) struct Access<'a> {
    inner: &'a Arc<Inner>,
}

impl<'a> Access<'a> {
    pub(crate) fn new(inner: &'a Arc<Inner>) -> Self {
        Self { inner }
    }

    fn records(&self) -> &'a Records {
        &self.inner.records
    }

    fn now_ms(&self) -> i64 {
        self.inner.clock.now_ms()
    }
}

/// A recipient stored in a record; a bad one is damage, not bad input.
fn recipient(s: &str) -> crate::Result<coffre_crypto::Recipient> {
    s.parse().map_err(|_| crate::VaultError::Integrity)
}
