//! The records layer: typed repositories over the metadata database.
//!
//! This is the only module that knows the database is sled. Each
//! repository owns its tables and their secondary indexes (a document and
//! its per-vault index are written together, never one without the other),
//! and every change that touches more than one table is one transaction
//! ([`Records::write`]). Feature modules read through [`Records::read`] and
//! write through transactions; they never see a sled type.
//!
//! The operations are the ones the product needs (`Documents::of_vault`,
//! `Grants::insert`, `Attempts::get`…), not generic key-value access, so a
//! second metadata engine (several servers on one shared database) could
//! implement the same repositories.
//!
//! sled runs transactions under one process-wide lock, so they are
//! serializable against each other and against every other write. A
//! transaction closure may run more than once (on conflict): it computes
//! nothing expensive and has no side effect outside the transaction.

mod attempts;
mod beneficiaries;
mod caseworkers;
mod codec;
mod documents;
mod grants;
mod integrity;
mod journal;
mod logins;
mod meta;
mod scopes;
mod shares;
mod structures;

use std::path::Path;

use sled::transaction::{
    ConflictableTransactionError, TransactionError, TransactionalTree, UnabortableTransactionError,
};

pub(crate) use attempts::{AttemptRecord, Attempts};
pub(crate) use beneficiaries::{Beneficiaries, BeneficiaryRecord, Links, RecoverySeal};
pub(crate) use caseworkers::{CaseworkerRecord, Caseworkers, Codes, EnrollmentRecord};
pub(crate) use documents::{DocumentRecord, Documents, KeyWrap};
pub use grants::GrantRecord;
pub(crate) use grants::Grants;
pub(crate) use journal::JournalStore;
pub(crate) use logins::{Login, LoginKind, Logins};
pub(crate) use meta::{Meta, SCHEMA_VERSION, Secret};
pub(crate) use scopes::{ScopeRecord, Scopes};
pub(crate) use shares::{ShareRecord, Shares};
pub use structures::StructureRecord;
pub(crate) use structures::Structures;

use crate::{Result, VaultError};

/// Every table, in a fixed order (a transaction's view is indexed by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    Meta,
    Structures,
    Caseworkers,
    Logins,
    Codes,
    Beneficiaries,
    Links,
    Scopes,
    ScopeWraps,
    Grants,
    VaultGrants,
    Documents,
    VaultDocuments,
    Shares,
    ShareIds,
    VaultShares,
    Attempts,
    Audit,
    AuditByVault,
    Checkpoints,
}

impl Table {
    pub const ALL: [Table; 20] = [
        Table::Meta,
        Table::Structures,
        Table::Caseworkers,
        Table::Logins,
        Table::Codes,
        Table::Beneficiaries,
        Table::Links,
        Table::Scopes,
        Table::ScopeWraps,
        Table::Grants,
        Table::VaultGrants,
        Table::Documents,
        Table::VaultDocuments,
        Table::Shares,
        Table::ShareIds,
        Table::VaultShares,
        Table::Attempts,
        Table::Audit,
        Table::AuditByVault,
        Table::Checkpoints,
    ];

    /// The sled tree's name (also the table's name in backups).
    pub fn name(self) -> &'static str {
        match self {
            Table::Meta => "meta",
            Table::Structures => "structures",
            Table::Caseworkers => "caseworkers",
            Table::Logins => "logins",
            Table::Codes => "codes",
            Table::Beneficiaries => "beneficiaries",
            Table::Links => "links",
            Table::Scopes => "scopes",
            Table::ScopeWraps => "scope_wraps",
            Table::Grants => "grants",
            Table::VaultGrants => "vault_grants",
            Table::Documents => "documents",
            Table::VaultDocuments => "vault_documents",
            Table::Shares => "shares",
            Table::ShareIds => "share_ids",
            Table::VaultShares => "vault_shares",
            Table::Attempts => "attempts",
            Table::Audit => "audit",
            Table::AuditByVault => "audit_by_vault",
            Table::Checkpoints => "checkpoints",
        }
    }

    fn by_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// A failure inside a transaction closure: either ours (the transaction is
/// abandoned and its error returned) or sled's (a conflict retries the
/// closure; a storage error ends it).
#[derive(Debug)]
pub(crate) enum TxFail {
    Abort(VaultError),
    Sled(UnabortableTransactionError),
}

impl From<VaultError> for TxFail {
    fn from(e: VaultError) -> Self {
        TxFail::Abort(e)
    }
}

impl From<UnabortableTransactionError> for TxFail {
    fn from(e: UnabortableTransactionError) -> Self {
        TxFail::Sled(e)
    }
}

impl From<serde_json::Error> for TxFail {
    fn from(e: serde_json::Error) -> Self {
        TxFail::Abort(e.into())
    }
}

pub(crate) type TxResult<T> = std::result::Result<T, TxFail>;

fn db_error(e: sled::Error) -> VaultError {
    VaultError::Db(e.to_string())
}

/// Reading one value by key: the same repository code reads outside a
/// transaction (`sled::Tree`) and inside one (`TransactionalTree`).
pub(crate) trait Lookup {
    type Err: From<VaultError>;
    fn lookup(&self, key: &[u8]) -> std::result::Result<Option<sled::IVec>, Self::Err>;
}

impl Lookup for sled::Tree {
    type Err = VaultError;
    fn lookup(&self, key: &[u8]) -> Result<Option<sled::IVec>> {
        self.get(key).map_err(db_error)
    }
}

impl Lookup for TransactionalTree {
    type Err = TxFail;
    fn lookup(&self, key: &[u8]) -> TxResult<Option<sled::IVec>> {
        Ok(self.get(key)?)
    }
}

/// Typed access to every repository, over plain trees (reads) or over a
/// transaction's trees (reads and writes).
pub(crate) struct View<'a, T> {
    trees: &'a [T],
}

impl<'a, T: Lookup> View<'a, T> {
    fn t(&self, table: Table) -> &'a T {
        &self.trees[table as usize]
    }
    pub fn meta(&self) -> Meta<'a, T> {
        Meta::new(self.t(Table::Meta))
    }
    pub fn structures(&self) -> Structures<'a, T> {
        Structures::new(self.t(Table::Structures))
    }
    pub fn caseworkers(&self) -> Caseworkers<'a, T> {
        Caseworkers::new(self.t(Table::Caseworkers))
    }
    pub fn codes(&self) -> Codes<'a, T> {
        Codes::new(self.t(Table::Codes))
    }
    pub fn logins(&self) -> Logins<'a, T> {
        Logins::new(self.t(Table::Logins))
    }
    pub fn beneficiaries(&self) -> Beneficiaries<'a, T> {
        Beneficiaries::new(self.t(Table::Beneficiaries))
    }
    pub fn links(&self) -> Links<'a, T> {
        Links::new(self.t(Table::Links))
    }
    pub fn scopes(&self) -> Scopes<'a, T> {
        Scopes::new(self.t(Table::Scopes), self.t(Table::ScopeWraps))
    }
    pub fn grants(&self) -> Grants<'a, T> {
        Grants::new(self.t(Table::Grants), self.t(Table::VaultGrants))
    }
    pub fn documents(&self) -> Documents<'a, T> {
        Documents::new(self.t(Table::Documents), self.t(Table::VaultDocuments))
    }
    pub fn shares(&self) -> Shares<'a, T> {
        Shares::new(
            self.t(Table::Shares),
            self.t(Table::ShareIds),
            self.t(Table::VaultShares),
        )
    }
    pub fn attempts(&self) -> Attempts<'a, T> {
        Attempts::new(self.t(Table::Attempts))
    }
}

/// A transaction's view: what a [`Records::write`] closure receives.
pub(crate) type Tx<'a> = View<'a, TransactionalTree>;

/// The metadata database.
pub(crate) struct Records {
    db: sled::Db,
    trees: Vec<sled::Tree>,
}

impl Records {
    /// Opens (creating on first use) the database at `path`; refuses a
    /// schema newer than this build's.
    pub fn open(path: &Path) -> Result<Self> {
        let db = sled::Config::new()
            .path(path)
            .mode(sled::Mode::HighThroughput)
            .open()
            .map_err(db_error)?;
        let trees = Table::ALL
            .iter()
            .map(|t| db.open_tree(t.name()).map_err(db_error))
            .collect::<Result<Vec<_>>>()?;
        let this = Self { db, trees };
        this.write(|tx| tx.meta().check_schema())?;
        Ok(this)
    }

    fn tree(&self, t: Table) -> &sled::Tree {
        &self.trees[t as usize]
    }

    /// Typed reads outside any transaction.
    pub fn read(&self) -> View<'_, sled::Tree> {
        View { trees: &self.trees }
    }

    /// Runs `f` as one transaction over every table: all its writes land
    /// together or none does. `f` may run again on conflict.
    pub fn write<R>(&self, f: impl Fn(&Tx<'_>) -> TxResult<R>) -> Result<R> {
        use sled::Transactional;
        let res = self.trees.as_slice().transaction(|trees| {
            f(&View { trees }).map_err(|e| match e {
                TxFail::Abort(e) => ConflictableTransactionError::Abort(e),
                TxFail::Sled(UnabortableTransactionError::Conflict) => {
                    ConflictableTransactionError::Conflict
                }
                TxFail::Sled(UnabortableTransactionError::Storage(e)) => {
                    ConflictableTransactionError::Storage(e)
                }
            })
        });
        match res {
            Ok(r) => Ok(r),
            Err(TransactionError::Abort(e)) => Err(e),
            Err(TransactionError::Storage(e)) => Err(db_error(e)),
        }
    }

    /// The journal's tables (written by the journal's single writer task).
    pub fn journal(&self) -> JournalStore<'_> {
        JournalStore::new(
            self.tree(Table::Audit),
            self.tree(Table::AuditByVault),
            self.tree(Table::Checkpoints),
        )
    }

    /// Makes every write so far durable.
    pub async fn flush(&self) -> Result<()> {
        self.db.flush_async().await.map_err(db_error)?;
        Ok(())
    }

    /// The same, blocking (for restore, outside any runtime).
    pub fn flush_blocking(&self) -> Result<()> {
        self.db.flush().map_err(db_error)?;
        Ok(())
    }

    /// Counts of the principal and document tables, for `status`.
    pub fn count(&self, t: Table) -> u64 {
        self.tree(t).len() as u64
    }

    /// Every stored value, table by table, as a backup copies them. The
    /// journal's tables come last, checkpoints first among them, so that
    /// every checkpoint copied names an entry copied too (the journal keeps
    /// being written during a backup).
    pub fn dump(&self, mut each: impl FnMut(&str, &[u8], &[u8]) -> Result<()>) -> Result<u64> {
        let mut order: Vec<Table> = Table::ALL.to_vec();
        order.sort_by_key(|t| match t {
            Table::Checkpoints => 1,
            Table::Audit => 2,
            Table::AuditByVault => 3,
            _ => 0,
        });
        let mut n = 0;
        for t in order {
            for kv in self.tree(t).iter() {
                let (k, v) = kv.map_err(db_error)?;
                each(t.name(), &k, &v)?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Puts back one value of a backup, as it was (restore only, into an
    /// empty database).
    pub fn restore_value(&self, table: &str, key: &[u8], value: &[u8]) -> Result<()> {
        let t = Table::by_name(table).ok_or_else(|| {
            VaultError::Invalid("not a usable Coffre backup: unknown table".into())
        })?;
        self.tree(t).insert(key, value).map_err(db_error)?;
        Ok(())
    }
}

/// Key parts concatenated.
fn key(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// The 16 bytes of an id found at `at` in a key.
fn id_at(k: &[u8], at: usize) -> Option<[u8; 16]> {
    k.get(at..at + 16).and_then(|b| b.try_into().ok())
}
