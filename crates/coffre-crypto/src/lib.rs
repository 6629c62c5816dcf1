//! Coffre's cryptographic core.
//!
//! This crate turns the security model (`../shared/design/security-model.md`,
//! summarised in `docs/ARCHITECTURE.md`) into a small, misuse-resistant API.
//! It performs no IO of its own: it works on byte slices and on the
//! `std::io::Read`/`Write` values handed to it.
//!
//! What it offers, by module:
//! - [`object`]: the stored object format v1 (`docs/FORMAT.md`): streaming
//!   seal and open in bounded memory, and random access to single chunks.
//! - `keys` (re-exported here): document keys ([`Dek`]), age X25519 identities and recipients,
//!   user secrets.
//! - [`wrap`]: wrapping keys to recipients, to share-link secrets, and the
//!   double seal of a principal's identity (argon2id inside, root key outside).
//! - [`root`]: the versioned root key ring and its age-encrypted file.
//! - [`listing`]: what a listing shows of a document, sealed a second time
//!   under a key derived from the scope identity (one key per category in a
//!   listing instead of one X25519 unwrap per document).
//! - [`metadata`]: the keys that protect the metadata store: a per-person
//!   key sealing one vault's records, a key authenticating the others.
//! - [`otp`]: the one-time codes of a caseworker's second factor (TOTP).
//! - [`audit`]: canonical journal entries, the hash chain, signed checkpoints,
//!   and the audit export format ([`audit::export`]).
//! - [`archive`]: age-encrypted archives (audit exports, metadata backups)
//!   that the reference `age` tool opens.
//!
//! Every secret lives in a type that zeroizes on drop and implements neither
//! `Clone` nor `Copy`; its `Debug` never prints key material. Every failure to
//! decrypt or authenticate is the same opaque [`Error::Decryption`].

#![deny(missing_docs)]

mod binding;
mod chunked;
mod error;
mod ids;
mod primitives;

#[cfg(test)]
mod redaction;

pub mod archive;
pub mod audit;
mod keys;
pub mod listing;
pub mod metadata;
pub mod object;
pub mod otp;
pub mod root;
pub mod wrap;

pub use error::{Error, Result};
pub use ids::{DocumentId, GrantId, PrincipalId, RecoveryId, ShareId};
pub use keys::{Dek, Identity, Recipient, UserSecret};
