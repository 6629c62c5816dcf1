//! Login identifiers, stored only as blind indexes (HMAC under a server
//! secret): index → the account it names.

use coffre_crypto::PrincipalId;
use sled::transaction::TransactionalTree;

use super::codec::Codec;
use super::{Lookup, Table, TxResult};
use crate::VaultError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LoginKind {
    Beneficiary,
    Caseworker,
}

impl LoginKind {
    fn tag(self) -> u8 {
        match self {
            LoginKind::Beneficiary => b'b',
            LoginKind::Caseworker => b'c',
        }
    }
}

/// The account a login names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Login {
    pub kind: LoginKind,
    pub id: PrincipalId,
}

impl Login {
    /// Also the key of the account's attempt counter.
    pub fn account_key(self) -> [u8; 17] {
        let mut k = [0u8; 17];
        k[0] = self.kind.tag();
        k[1..].copy_from_slice(self.id.as_bytes());
        k
    }

    fn decode(v: &[u8]) -> Option<Self> {
        let kind = match v.first()? {
            b'b' => LoginKind::Beneficiary,
            b'c' => LoginKind::Caseworker,
            _ => return None,
        };
        Some(Self {
            kind,
            id: PrincipalId::from_bytes(super::id_at(v, 1)?),
        })
    }
}

pub(crate) struct Logins<'a, T> {
    codec: &'a Codec,
    t: &'a T,
}

impl<'a, T: Lookup> Logins<'a, T> {
    pub(super) fn new(codec: &'a Codec, t: &'a T) -> Self {
        Self { codec, t }
    }

    pub fn get(&self, index: &str) -> Result<Option<Login>, T::Err> {
        Ok(self
            .codec
            .get_raw(self.t, Table::Logins, index.as_bytes())?
            .and_then(|v| Login::decode(&v)))
    }
}

impl Logins<'_, TransactionalTree> {
    /// Claims an index for an account; refused if taken (checked inside
    /// the transaction, so two enrollments of one identifier cannot both win).
    pub fn claim(&self, index: &str, login: Login) -> TxResult<()> {
        if self.t.get(index.as_bytes())?.is_some() {
            return Err(VaultError::Conflict("this identifier is taken; choose another").into());
        }
        self.codec.put_raw(
            self.t,
            Table::Logins,
            index.as_bytes(),
            &login.account_key(),
            None,
        )
    }

    pub fn release(&self, index: &str) -> TxResult<()> {
        self.t.remove(index.as_bytes())?;
        Ok(())
    }
}
