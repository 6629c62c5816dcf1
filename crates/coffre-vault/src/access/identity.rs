//! Principals' own keys: identities sealed under a person's secret (inside)
//! and the root ring (outside); the structure key wrapped to each
//! caseworker and to one-time enrollment codes; recovery seals (a person's
//! identity wrapped to a trustee structure); display names sealed under the
//! root ring.

use coffre_crypto::root::RootKeyRing;
use coffre_crypto::wrap::{self, Binding, ShareSecret};
use coffre_crypto::{Identity, PrincipalId, Recipient, UserSecret};

use super::Access;
use crate::{Result, VaultError};

impl Access<'_> {
    /// Seals an identity under a person's secret and the root ring, off the
    /// async threads (argon2id takes tens of milliseconds).
    pub async fn seal_identity(
        &self,
        identity: Identity,
        secret: UserSecret,
        principal: PrincipalId,
    ) -> Result<(Identity, Vec<u8>)> {
        let inner = self.inner.clone();
        self.inner
            .kdf
            .run(move || {
                let sealed = wrap::seal_identity(
                    &identity,
                    &secret,
                    inner.limits.kdf,
                    &Binding::principal_identity(principal),
                    &inner.root(),
                )?;
                Ok((identity, sealed))
            })
            .await
    }

    /// Opens a sealed identity with the secret typed; `None` when the
    /// secret is wrong.
    #[cfg(test)]
    pub async fn open_identity(
        &self,
        sealed: Vec<u8>,
        secret: UserSecret,
        principal: PrincipalId,
    ) -> Result<Option<Identity>> {
        let turn = self.inner.kdf.turn().await?;
        self.open_identity_in(turn, sealed, secret, principal).await
    }

    /// The same, in a key-derivation turn taken earlier (a login takes it
    /// before counting the attempt).
    pub async fn open_identity_in(
        &self,
        turn: super::kdf_gate::Turn,
        sealed: Vec<u8>,
        secret: UserSecret,
        principal: PrincipalId,
    ) -> Result<Option<Identity>> {
        let inner = self.inner.clone();
        self.inner
            .kdf
            .run_in(turn, move || {
                match wrap::open_identity(
                    &sealed,
                    &secret,
                    &Binding::principal_identity(principal),
                    &inner.root(),
                ) {
                    Ok(id) => Ok(Some(id)),
                    Err(coffre_crypto::Error::Decryption) => Ok(None),
                    Err(e) => Err(VaultError::from(e)),
                }
            })
            .await
    }

    /// An identity sealed under a random secret nobody knows: what a login
    /// with an unknown identifier spends its argon2id on.
    pub fn decoy(root: &RootKeyRing, kdf: wrap::KdfParams, id: PrincipalId) -> Result<Vec<u8>> {
        let secret = UserSecret::new(PrincipalId::random()?.to_string());
        Ok(wrap::seal_identity(
            &Identity::generate(),
            &secret,
            kdf,
            &Binding::principal_identity(id),
            root,
        )?)
    }

    /// The outer layer of a sealed identity under the ring's current root
    /// key (rotation; the person's secret is not needed).
    pub fn reseal_identity(
        sealed: &[u8],
        principal: PrincipalId,
        root: &RootKeyRing,
    ) -> Result<Vec<u8>> {
        Ok(wrap::reseal_identity(
            sealed,
            &Binding::principal_identity(principal),
            root,
        )?)
    }

    /// The structure identity under a one-time code: whoever enrolls with
    /// the code receives it.
    pub fn structure_to_code(
        code: &ShareSecret,
        structure_identity: &Identity,
        structure: PrincipalId,
    ) -> Result<Vec<u8>> {
        Ok(code.wrap_identity(structure_identity, &Binding::principal_identity(structure))?)
    }

    pub fn structure_from_code(
        code: &ShareSecret,
        wrapped: &[u8],
        structure: PrincipalId,
    ) -> Result<Identity> {
        Ok(code.unwrap_identity(wrapped, &Binding::principal_identity(structure))?)
    }

    /// The structure identity wrapped to one of its caseworkers.
    pub fn structure_to_caseworker(
        structure_identity: &Identity,
        caseworker: &Recipient,
        structure: PrincipalId,
    ) -> Result<Vec<u8>> {
        Ok(wrap::wrap_identity(
            structure_identity,
            caseworker,
            &Binding::principal_identity(structure),
        )?)
    }

    pub fn structure_for_caseworker(
        wrapped: &[u8],
        caseworker: &Identity,
        structure: PrincipalId,
    ) -> Result<Identity> {
        Ok(wrap::unwrap_identity(
            wrapped,
            caseworker,
            &Binding::principal_identity(structure),
        )?)
    }

    /// A person's identity wrapped to a trustee structure.
    pub fn recovery_seal(
        identity: &Identity,
        trustee: &Recipient,
        beneficiary: PrincipalId,
    ) -> Result<Vec<u8>> {
        Ok(wrap::wrap_identity(
            identity,
            trustee,
            &Binding::principal_identity(beneficiary),
        )?)
    }

    pub fn open_recovery_seal(
        wrapped: &[u8],
        structure_identity: &Identity,
        beneficiary: PrincipalId,
    ) -> Result<Identity> {
        Ok(wrap::unwrap_identity(
            wrapped,
            structure_identity,
            &Binding::principal_identity(beneficiary),
        )?)
    }
}

/// Checks that an identity is the one a record names: someone without the
/// root key who swapped a public key in the database is found out here.
pub(crate) fn check_recipient(
    identity: &Identity,
    recorded: &str,
    table: &'static str,
) -> Result<()> {
    if identity.recipient().to_string() == recorded {
        Ok(())
    } else {
        Err(VaultError::Tampered(table))
    }
}
