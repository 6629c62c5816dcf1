//! Caseworkers and their one-time enrollment codes.

use coffre_crypto::PrincipalId;
use serde::{Deserialize, Serialize};
use sled::transaction::TransactionalTree;

use super::codec::{Codec, b64};
use super::{Lookup, Table, TxResult, db_error};
use crate::Result;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CaseworkerRecord {
    pub id: PrincipalId,
    pub structure: PrincipalId,
    pub admin: bool,
    pub active: bool,
    /// Blind index of the login.
    pub login_index: String,
    /// The login as the admin typed it (normalised): caseworkers are staff,
    /// and their admins and the operator must tell them apart to remove
    /// the right one. Authenticated like the rest of the record.
    pub login: String,
    /// The admin who invited them (none for a structure's first admin,
    /// made by the operator).
    #[serde(default)]
    pub invited_by: Option<PrincipalId>,
    /// Set at enrollment.
    pub recipient: Option<String>,
    #[serde(with = "b64", default)]
    pub sealed_identity: Vec<u8>,
    /// The structure identity wrapped to this caseworker's recipient.
    #[serde(with = "b64", default)]
    pub structure_wrap: Vec<u8>,
    pub created_ms: i64,
    /// The second factor's TOTP secret wrapped to this caseworker's
    /// identity (empty: none set up, or reset by an admin).
    #[serde(with = "b64", default)]
    pub second_factor: Vec<u8>,
    /// Blind indexes of the unused recovery codes.
    #[serde(default)]
    pub recovery_codes: Vec<String>,
    /// The last TOTP step accepted: no code of it or before is accepted.
    #[serde(default)]
    pub last_otp_step: u64,
    /// A one-time code to set a second factor up again (after a reset, or
    /// for an account made before second factors): its lookup key (hex)
    /// and when it expires. Without it, no second factor is set up.
    #[serde(default)]
    pub setup_code: Option<(String, i64)>,
}

/// A one-time enrollment code (stored under its lookup key).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct EnrollmentRecord {
    pub caseworker: PrincipalId,
    pub structure: PrincipalId,
    pub expires_ms: i64,
    /// The structure identity wrapped under the code.
    #[serde(with = "b64")]
    pub structure_wrap: Vec<u8>,
}

pub(crate) struct Caseworkers<'a, T> {
    codec: &'a Codec,
    t: &'a T,
}

impl<'a, T: Lookup> Caseworkers<'a, T> {
    pub(super) fn new(codec: &'a Codec, t: &'a T) -> Self {
        Self { codec, t }
    }

    pub fn get(&self, id: PrincipalId) -> Result<Option<CaseworkerRecord>, T::Err> {
        self.codec.get(self.t, Table::Caseworkers, id.as_bytes())
    }
}

impl Caseworkers<'_, sled::Tree> {
    pub fn all(&self) -> Result<Vec<CaseworkerRecord>> {
        let mut out = Vec::new();
        for kv in self.t.iter() {
            let (k, v) = kv.map_err(db_error)?;
            out.push(self.codec.decode(Table::Caseworkers, &k, &v)?);
        }
        Ok(out)
    }

    /// The caseworkers of one structure, active or not.
    pub fn of_structure(&self, structure: PrincipalId) -> Result<Vec<CaseworkerRecord>> {
        Ok(self
            .all()?
            .into_iter()
            .filter(|c| c.structure == structure)
            .collect())
    }
}

impl Caseworkers<'_, TransactionalTree> {
    pub fn put(&self, c: &CaseworkerRecord) -> TxResult<()> {
        self.codec
            .put(self.t, Table::Caseworkers, c.id.as_bytes(), c, None)
    }
}

pub(crate) struct Codes<'a, T> {
    codec: &'a Codec,
    t: &'a T,
}

impl<'a, T: Lookup> Codes<'a, T> {
    pub(super) fn new(codec: &'a Codec, t: &'a T) -> Self {
        Self { codec, t }
    }
}

impl Codes<'_, sled::Tree> {
    /// Lookup keys of the codes pending for a caseworker (or, with `None`,
    /// for every caseworker of `structure`).
    pub fn pending(
        &self,
        caseworker: Option<PrincipalId>,
        structure: PrincipalId,
    ) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        for kv in self.t.iter() {
            let (k, v) = kv.map_err(db_error)?;
            let r: EnrollmentRecord = self.codec.decode(Table::Codes, &k, &v)?;
            if r.structure == structure && caseworker.is_none_or(|c| c == r.caseworker) {
                out.push(k.to_vec());
            }
        }
        Ok(out)
    }
}

impl Codes<'_, TransactionalTree> {
    pub fn insert(&self, lookup: &[u8], r: &EnrollmentRecord) -> TxResult<()> {
        self.codec.put(self.t, Table::Codes, lookup, r, None)
    }

    /// Takes a code out (it is used once): its record, if it existed.
    pub fn claim(&self, lookup: &[u8]) -> TxResult<Option<EnrollmentRecord>> {
        match self.t.remove(lookup)? {
            Some(v) => Ok(Some(self.codec.decode(Table::Codes, lookup, &v)?)),
            None => Ok(None),
        }
    }

    pub fn remove(&self, lookup: &[u8]) -> TxResult<()> {
        self.t.remove(lookup)?;
        Ok(())
    }
}
