//! Beneficiaries (the people whose vaults these are) and the links that let
//! a structure find them.

use coffre_crypto::PrincipalId;
use serde::{Deserialize, Serialize};
use sled::transaction::TransactionalTree;

use super::codec::{Codec, b64};
use super::{Lookup, Table, TxResult, db_error, id_at, key};
use crate::{Result, VaultError};

/// A person's identity wrapped to a trustee structure.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RecoverySeal {
    pub structure: PrincipalId,
    #[serde(with = "b64")]
    pub wrap: Vec<u8>,
    /// When the person chose this trustee: only members who were there
    /// before may confirm a recovery (an admin cannot make up a second
    /// member for the occasion).
    #[serde(default)]
    pub chosen_ms: i64,
}

/// Something the person must be told, kept until they acknowledge it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Notice {
    /// Numbered per person.
    pub id: u32,
    pub created_ms: i64,
    pub kind: NoticeKind,
}

/// What a notice says.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NoticeKind {
    /// A trustee structure set a new secret, two of its members together.
    Recovery {
        structure: PrincipalId,
        started_by: PrincipalId,
        confirmed_by: PrincipalId,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct BeneficiaryRecord {
    pub id: PrincipalId,
    pub login_index: String,
    /// In clear inside the record, which is sealed under the person's key.
    pub display_name: String,
    pub recipient: String,
    /// The identity, sealed under the person's secret and the root ring.
    #[serde(with = "b64")]
    pub sealed_identity: Vec<u8>,
    pub recovery: Vec<RecoverySeal>,
    /// The structures that may find this person.
    pub linked: Vec<PrincipalId>,
    pub used_bytes: u64,
    /// Documents held (the cap is checked inside the upload's transaction).
    pub documents: u64,
    /// Share links held.
    pub shares: u64,
    pub created_ms: i64,
    /// Kept until the person acknowledges them.
    pub notices: Vec<Notice>,
    /// When the person last logged in (what their pages call "since your
    /// last visit").
    #[serde(default)]
    pub last_login_ms: Option<i64>,
    /// Changes with every change to the vault's documents, grants, links
    /// and trustees (inside the same transaction): work computed outside a
    /// transaction from a state of the vault checks it is still that state
    /// when it commits.
    pub stamp: u64,
}

pub(crate) struct Beneficiaries<'a, T> {
    codec: &'a Codec,
    t: &'a T,
}

impl<'a, T: Lookup> Beneficiaries<'a, T> {
    pub(super) fn new(codec: &'a Codec, t: &'a T) -> Self {
        Self { codec, t }
    }

    pub fn get(&self, id: PrincipalId) -> Result<Option<BeneficiaryRecord>, T::Err> {
        self.codec.get(self.t, Table::Beneficiaries, id.as_bytes())
    }

    /// The record, or `NotFound`.
    pub fn find(&self, id: PrincipalId) -> Result<BeneficiaryRecord, T::Err> {
        Ok(self.get(id)?.ok_or(VaultError::NotFound)?)
    }

    /// Whether a record is stored under this id (without opening it).
    pub fn exists(&self, id: PrincipalId) -> Result<bool, T::Err> {
        Ok(self.t.lookup(id.as_bytes())?.is_some())
    }
}

impl Beneficiaries<'_, sled::Tree> {
    pub fn ids(&self) -> Result<Vec<PrincipalId>> {
        let mut out = Vec::new();
        for k in self.t.iter().keys() {
            let k = k.map_err(db_error)?;
            if let Some(id) = id_at(&k, 0) {
                out.push(PrincipalId::from_bytes(id));
            }
        }
        Ok(out)
    }
}

impl Beneficiaries<'_, TransactionalTree> {
    pub fn put(&self, b: &BeneficiaryRecord) -> TxResult<()> {
        self.codec
            .put(self.t, Table::Beneficiaries, b.id.as_bytes(), b, Some(b.id))
    }

    /// Reads, changes and writes back a record, bumping its stamp.
    pub fn update<R>(
        &self,
        id: PrincipalId,
        f: impl FnOnce(&mut BeneficiaryRecord) -> TxResult<R>,
    ) -> TxResult<R> {
        let mut b = self.find(id)?;
        let r = f(&mut b)?;
        b.stamp = b.stamp.wrapping_add(1);
        self.put(&b)?;
        Ok(r)
    }

    /// Marks the vault changed: every plan computed from it before (a
    /// rotation listing its papers, say) fails its stamp check and is
    /// computed again.
    pub fn touch(&self, id: PrincipalId) -> TxResult<()> {
        self.update(id, |_| Ok(()))
    }

    /// Fails the transaction when the vault changed since `stamp` was read.
    pub fn expect_stamp(&self, id: PrincipalId, stamp: u64) -> TxResult<()> {
        if self.find(id)?.stamp != stamp {
            return Err(VaultError::Conflict("the vault changed meanwhile; try again").into());
        }
        Ok(())
    }

    pub fn remove(&self, id: PrincipalId) -> TxResult<()> {
        self.t.remove(id.as_bytes().as_slice())?;
        Ok(())
    }
}

/// structure ‖ beneficiary → (): the people a structure may find.
pub(crate) struct Links<'a, T> {
    codec: &'a Codec,
    t: &'a T,
}

impl<'a, T: Lookup> Links<'a, T> {
    pub(super) fn new(codec: &'a Codec, t: &'a T) -> Self {
        Self { codec, t }
    }
}

impl Links<'_, sled::Tree> {
    pub fn of_structure(&self, structure: PrincipalId) -> Result<Vec<PrincipalId>> {
        let mut out = Vec::new();
        for kv in self.t.scan_prefix(structure.as_bytes()) {
            let (k, v) = kv.map_err(db_error)?;
            self.codec.open(Table::Links, &k, &v)?;
            if let Some(id) = id_at(&k, 16) {
                out.push(PrincipalId::from_bytes(id));
            }
        }
        Ok(out)
    }
}

impl Links<'_, TransactionalTree> {
    pub fn insert(&self, structure: PrincipalId, b: PrincipalId) -> TxResult<()> {
        self.codec.put_raw(
            self.t,
            Table::Links,
            &key(&[structure.as_bytes(), b.as_bytes()]),
            &[],
            None,
        )
    }

    pub fn remove(&self, structure: PrincipalId, b: PrincipalId) -> TxResult<()> {
        self.t.remove(key(&[structure.as_bytes(), b.as_bytes()]))?;
        Ok(())
    }
}
