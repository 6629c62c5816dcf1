//! The sled schema. Only this crate touches sled; every tree is named here.
//!
//! Schema version 1. Keys are fixed-width binary (ids are 16 bytes, sequence
//! numbers and epochs big-endian) so prefix scans list one vault.

use serde::Serialize;
use serde::de::DeserializeOwned;
use sled::Tree;

use crate::{Result, VaultError};

pub const SCHEMA_VERSION: u32 = 1;

pub(crate) struct Db {
    pub db: sled::Db,
    /// schema version, sealed server secrets.
    pub meta: Tree,
    pub structures: Tree,
    pub caseworkers: Tree,
    /// blind index of a login → `b`/`c` ‖ principal id.
    pub logins: Tree,
    /// enrolment code lookup key → EnrolmentRecord.
    pub codes: Tree,
    pub beneficiaries: Tree,
    /// structure ‖ beneficiary → ().
    pub links: Tree,
    /// beneficiary ‖ category → ScopeRecord.
    pub scopes: Tree,
    /// beneficiary ‖ category ‖ epoch ‖ structure → scope identity wrapped to the structure.
    pub scope_wraps: Tree,
    pub grants: Tree,
    /// beneficiary ‖ grant → ().
    pub vault_grants: Tree,
    pub documents: Tree,
    /// beneficiary ‖ document → ().
    pub vault_documents: Tree,
    /// share lookup key → ShareRecord.
    pub shares: Tree,
    /// share id → lookup key.
    pub share_ids: Tree,
    /// beneficiary ‖ share id → lookup key.
    pub vault_shares: Tree,
    /// account (`b`/`c` ‖ id) → AttemptRecord.
    pub attempts: Tree,
    /// seq → audit Record.
    pub audit: Tree,
    /// beneficiary ‖ seq → ().
    pub audit_by_vault: Tree,
    /// seq → Checkpoint.
    pub checkpoints: Tree,
}

impl Db {
    pub fn open(path: &std::path::Path) -> Result<Self> {
        let db = sled::Config::new()
            .path(path)
            .mode(sled::Mode::HighThroughput)
            .open()?;
        let t = |name: &str| db.open_tree(name);
        let this = Self {
            meta: t("meta")?,
            structures: t("structures")?,
            caseworkers: t("caseworkers")?,
            logins: t("logins")?,
            codes: t("codes")?,
            beneficiaries: t("beneficiaries")?,
            links: t("links")?,
            scopes: t("scopes")?,
            scope_wraps: t("scope_wraps")?,
            grants: t("grants")?,
            vault_grants: t("vault_grants")?,
            documents: t("documents")?,
            vault_documents: t("vault_documents")?,
            shares: t("shares")?,
            share_ids: t("share_ids")?,
            vault_shares: t("vault_shares")?,
            attempts: t("attempts")?,
            audit: t("audit")?,
            audit_by_vault: t("audit_by_vault")?,
            checkpoints: t("checkpoints")?,
            db,
        };
        match this.meta.get("schema_version")? {
            None => {
                this.meta
                    .insert("schema_version", &SCHEMA_VERSION.to_be_bytes())?;
            }
            Some(v) => {
                let v: [u8; 4] = v
                    .as_ref()
                    .try_into()
                    .map_err(|_| VaultError::Db("bad schema version".into()))?;
                let v = u32::from_be_bytes(v);
                if v > SCHEMA_VERSION {
                    return Err(VaultError::Db(format!(
                        "metadata schema {v} is newer than this build supports ({SCHEMA_VERSION}); upgrade Coffre"
                    )));
                }
            }
        }
        Ok(this)
    }

    /// Every tree by name, as a backup copies them.
    pub fn trees_for_backup(&self) -> Vec<(String, Tree)> {
        [
            ("meta", &self.meta),
            ("structures", &self.structures),
            ("caseworkers", &self.caseworkers),
            ("logins", &self.logins),
            ("codes", &self.codes),
            ("beneficiaries", &self.beneficiaries),
            ("links", &self.links),
            ("scopes", &self.scopes),
            ("scope_wraps", &self.scope_wraps),
            ("grants", &self.grants),
            ("vault_grants", &self.vault_grants),
            ("documents", &self.documents),
            ("vault_documents", &self.vault_documents),
            ("shares", &self.shares),
            ("share_ids", &self.share_ids),
            ("vault_shares", &self.vault_shares),
            ("attempts", &self.attempts),
            ("audit", &self.audit),
            ("audit_by_vault", &self.audit_by_vault),
            ("checkpoints", &self.checkpoints),
        ]
        .into_iter()
        .map(|(n, t)| (n.to_string(), t.clone()))
        .collect()
    }

    pub async fn flush(&self) -> Result<()> {
        self.db.flush_async().await?;
        Ok(())
    }
}

pub(crate) fn get<T: DeserializeOwned>(tree: &Tree, key: impl AsRef<[u8]>) -> Result<Option<T>> {
    match tree.get(key)? {
        Some(v) => Ok(Some(serde_json::from_slice(&v)?)),
        None => Ok(None),
    }
}

pub(crate) fn put<T: Serialize>(tree: &Tree, key: impl AsRef<[u8]>, value: &T) -> Result<()> {
    tree.insert(key.as_ref(), serde_json::to_vec(value)?)?;
    Ok(())
}

pub(crate) fn enc<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec(value)?)
}

/// Concatenates key parts.
pub(crate) fn key(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}
