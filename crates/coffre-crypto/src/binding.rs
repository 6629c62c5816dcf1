//! What a wrap or seal belongs to. A leaf: it uses no other module.

use crate::{DocumentId, PrincipalId};

/// What a wrap or seal belongs to, in a canonical, domain-separated byte
/// form. Two different records never share a binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding(Vec<u8>);

impl Binding {
    fn new(kind: u8) -> Self {
        let mut b = b"coffre.org/binding@v1\x00".to_vec();
        b.push(kind);
        Self(b)
    }

    fn with(mut self, bytes: &[u8]) -> Self {
        // Length-prefixed, so no two field lists encode alike.
        self.0
            .extend_from_slice(&(bytes.len() as u64).to_be_bytes());
        self.0.extend_from_slice(bytes);
        self
    }

    /// The DEK of one document version (scope, owner and share-link wraps).
    pub fn document_key(document: DocumentId, version: u32) -> Self {
        Self::new(1)
            .with(document.as_bytes())
            .with(&version.to_be_bytes())
    }

    /// A principal's own identity (its double seal, its recovery seals, a
    /// structure identity's wraps to caseworkers).
    pub fn principal_identity(principal: PrincipalId) -> Self {
        Self::new(2).with(principal.as_bytes())
    }

    /// The scope identity of (beneficiary, category, epoch).
    pub fn scope_identity(beneficiary: PrincipalId, category: &str, epoch: u32) -> Self {
        Self::new(3)
            .with(beneficiary.as_bytes())
            .with(category.as_bytes())
            .with(&epoch.to_be_bytes())
    }

    /// A server-held secret sealed under the root key (audit signing key,
    /// blind-index key), by name.
    pub fn server_secret(name: &str) -> Self {
        Self::new(4).with(name.as_bytes())
    }

    /// A caseworker's second-factor secret, wrapped to their own identity.
    pub fn second_factor(principal: PrincipalId) -> Self {
        Self::new(5).with(principal.as_bytes())
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}
