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
pub(crate) mod keyfiles;
mod logins;
mod meta;
mod recoveries;
mod scopes;
mod shares;
mod structures;

use std::path::Path;
use std::sync::{Arc, RwLock};

use coffre_crypto::metadata::RecordKey;
use coffre_crypto::root::RootKeyRing;
use sled::transaction::{
    ConflictableTransactionError, TransactionError, TransactionalTree, UnabortableTransactionError,
};

pub(crate) use attempts::{AttemptRecord, Attempts};
pub(crate) use beneficiaries::{Beneficiaries, BeneficiaryRecord, Links, RecoverySeal};
pub use beneficiaries::{Notice, NoticeKind};
pub(crate) use caseworkers::{CaseworkerRecord, Caseworkers, Codes, EnrollmentRecord};
pub(crate) use documents::{DocumentRecord, Documents, KeyWrap};
pub use grants::GrantRecord;
pub(crate) use grants::Grants;
pub(crate) use journal::{Appended, JournalStore};
pub(crate) use logins::{Login, LoginKind, Logins};
pub(crate) use meta::{Meta, OLDEST_READ, SCHEMA_VERSION, Secret};
pub(crate) use recoveries::{PendingRecovery, Recoveries};
pub(crate) use scopes::{ScopeRecord, Scopes};
pub(crate) use shares::{ShareRecord, Shares};
pub use structures::StructureRecord;
pub(crate) use structures::Structures;

use crate::{Result, VaultError};
use codec::Codec;
use keyfiles::PersonKeys;

/// Most memory sled's page cache takes.
const SLED_CACHE_BYTES: u64 = 16 << 20;

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
    ScopeHeads,
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
    Recoveries,
    Audit,
    AuditByVault,
    AuditPinned,
    Checkpoints,
}

impl Table {
    pub const ALL: [Table; 23] = [
        Table::Meta,
        Table::Structures,
        Table::Caseworkers,
        Table::Logins,
        Table::Codes,
        Table::Beneficiaries,
        Table::Links,
        Table::ScopeHeads,
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
        Table::Recoveries,
        Table::Audit,
        Table::AuditByVault,
        Table::AuditPinned,
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
            Table::ScopeHeads => "scope_heads",
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
            Table::Recoveries => "recoveries",
            Table::Audit => "audit",
            Table::AuditByVault => "audit_by_vault",
            Table::AuditPinned => "audit_pinned",
            Table::Checkpoints => "checkpoints",
        }
    }

    /// The journal's old tables: empty once their content moved to the
    /// journal's files (kept so old data and backups can be imported).
    fn is_journal(self) -> bool {
        matches!(
            self,
            Table::Audit | Table::AuditByVault | Table::AuditPinned | Table::Checkpoints
        )
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
    codec: &'a Codec,
}

impl<'a, T: Lookup> View<'a, T> {
    fn t(&self, table: Table) -> &'a T {
        &self.trees[table as usize]
    }
    pub fn meta(&self) -> Meta<'a, T> {
        Meta::new(self.t(Table::Meta))
    }
    pub fn structures(&self) -> Structures<'a, T> {
        Structures::new(self.codec, self.t(Table::Structures))
    }
    pub fn caseworkers(&self) -> Caseworkers<'a, T> {
        Caseworkers::new(self.codec, self.t(Table::Caseworkers))
    }
    pub fn codes(&self) -> Codes<'a, T> {
        Codes::new(self.codec, self.t(Table::Codes))
    }
    pub fn logins(&self) -> Logins<'a, T> {
        Logins::new(self.codec, self.t(Table::Logins))
    }
    pub fn beneficiaries(&self) -> Beneficiaries<'a, T> {
        Beneficiaries::new(self.codec, self.t(Table::Beneficiaries))
    }
    pub fn links(&self) -> Links<'a, T> {
        Links::new(self.codec, self.t(Table::Links))
    }
    pub fn scopes(&self) -> Scopes<'a, T> {
        Scopes::new(
            self.codec,
            self.t(Table::ScopeHeads),
            self.t(Table::Scopes),
            self.t(Table::ScopeWraps),
        )
    }
    pub fn grants(&self) -> Grants<'a, T> {
        Grants::new(
            self.codec,
            self.t(Table::Grants),
            self.t(Table::VaultGrants),
        )
    }
    pub fn documents(&self) -> Documents<'a, T> {
        Documents::new(
            self.codec,
            self.t(Table::Documents),
            self.t(Table::VaultDocuments),
        )
    }
    pub fn shares(&self) -> Shares<'a, T> {
        Shares::new(
            self.codec,
            self.t(Table::Shares),
            self.t(Table::ShareIds),
            self.t(Table::VaultShares),
        )
    }
    pub fn attempts(&self) -> Attempts<'a, T> {
        Attempts::new(self.codec, self.t(Table::Attempts))
    }
    pub fn recoveries(&self) -> Recoveries<'a, T> {
        Recoveries::new(self.codec, self.t(Table::Recoveries))
    }
}

/// A transaction's view: what a [`Records::write`] closure receives.
pub(crate) type Tx<'a> = View<'a, TransactionalTree>;

/// What opening the database may find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    /// A database already in service: an empty one is an error.
    Existing,
    /// A new database may be created.
    NewOrExisting,
}

/// The metadata database, and the keys that protect it.
pub(crate) struct Records {
    db: sled::Db,
    trees: Vec<sled::Tree>,
    journal: JournalStore,
    codec: Codec,
    root: Arc<RwLock<Arc<RootKeyRing>>>,
}

impl Records {
    /// Opens the database at `path`, with the per-person key files under
    /// `keys`; refuses a schema other than this build's. An empty database
    /// is initialised only when `expect` allows it, and never while person
    /// key files exist (a lost or damaged database would otherwise be
    /// replaced by an empty one, silently).
    pub fn open(
        path: &Path,
        keys: &Path,
        journal: &Path,
        root: RootKeyRing,
        expect: Expect,
    ) -> Result<Self> {
        if expect == Expect::Existing && !path.exists() {
            return Err(VaultError::Unreadable(format!(
                "the database {} is missing",
                path.display()
            )));
        }
        // sled's recovery asserts on some damage instead of returning an
        // error: a panic there is a damaged database, not a crash.
        let opened = std::panic::catch_unwind(|| {
            sled::Config::new()
                .path(path)
                .mode(sled::Mode::HighThroughput)
                // sled keeps pages it read in memory up to this (1 GiB by
                // default): with a journal that only grows, the server's
                // memory grew with it (soak, issue 12).
                .cache_capacity(SLED_CACHE_BYTES)
                .open()
        });
        let db = match opened {
            Ok(Ok(db)) => db,
            Ok(Err(sled::Error::Io(e))) if e.kind() == std::io::ErrorKind::WouldBlock => {
                return Err(VaultError::Db(format!(
                    "the database {} is in use by another process: {e}",
                    path.display()
                )));
            }
            Ok(Err(e)) => {
                return Err(VaultError::Unreadable(format!(
                    "the database {} cannot be read: {e}",
                    path.display()
                )));
            }
            Err(_) => {
                return Err(VaultError::Unreadable(format!(
                    "the database {} is damaged (its recovery stopped on an inconsistency)",
                    path.display()
                )));
            }
        };
        let trees = Table::ALL
            .iter()
            .map(|t| db.open_tree(t.name()).map_err(db_error))
            .collect::<Result<Vec<_>>>()?;
        let meta = &trees[Table::Meta as usize];
        let new_db = meta.get(b"schema_version").map_err(db_error)?.is_none();
        if new_db {
            let keys_left = PersonKeys::count_files(keys)?;
            if expect == Expect::Existing || keys_left > 0 {
                return Err(VaultError::Unreadable(format!(
                    "the database {} is empty{}",
                    path.display(),
                    if keys_left > 0 {
                        format!(" but {keys_left} person key files exist beside it")
                    } else {
                        String::new()
                    }
                )));
            }
        }
        let schema = meta::check_schema(meta)?;
        let record_key = match meta.get(Secret::Records.key()).map_err(db_error)? {
            Some(sealed) => RecordKey::unseal(&sealed, &root)?,
            None => {
                let k = RecordKey::generate()?;
                meta.insert(Secret::Records.key(), k.seal(&root)?)
                    .map_err(db_error)?;
                k
            }
        };
        let journal = open_journal(&trees, journal, new_db)?;
        if schema < SCHEMA_VERSION {
            // Version 2 kept the journal in the tables open_journal just
            // emptied into its files.
            meta::mark_current(meta)?;
            tracing::info!(
                from = schema,
                to = SCHEMA_VERSION,
                "database schema upgraded"
            );
        }
        db.flush().map_err(db_error)?;
        let root = Arc::new(RwLock::new(Arc::new(root)));
        let persons = PersonKeys::open(keys.to_path_buf(), root.clone())?;
        Ok(Self {
            db,
            trees,
            journal,
            codec: Codec::new(record_key, persons),
            root,
        })
    }

    /// The root key ring (replaced as a whole by a rotation).
    pub fn root(&self) -> Arc<RootKeyRing> {
        self.root
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub fn set_root(&self, ring: RootKeyRing) {
        *self
            .root
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(ring);
    }

    /// The per-person key files.
    pub fn persons(&self) -> &PersonKeys {
        &self.codec.persons
    }

    fn tree(&self, t: Table) -> &sled::Tree {
        &self.trees[t as usize]
    }

    /// Typed reads outside any transaction.
    pub fn read(&self) -> View<'_, sled::Tree> {
        View {
            trees: &self.trees,
            codec: &self.codec,
        }
    }

    /// Runs `f` as one transaction over every table: all its writes land
    /// together or none does. `f` may run again on conflict.
    pub fn write<R>(&self, f: impl Fn(&Tx<'_>) -> TxResult<R>) -> Result<R> {
        use sled::Transactional;
        let res = self.trees.as_slice().transaction(|trees| {
            f(&View {
                trees,
                codec: &self.codec,
            })
            .map_err(|e| match e {
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

    /// Notes how far the journal reached (durable with the next flush).
    pub fn note_journal_head(&self, seq: u64) -> Result<()> {
        self.tree(Table::Meta)
            .insert(JOURNAL_HEAD, &seq.to_be_bytes())
            .map_err(db_error)?;
        Ok(())
    }

    /// The journal's files (written by the journal's single writer task).
    pub fn journal(&self) -> &JournalStore {
        &self.journal
    }

    /// Makes every write so far durable.
    pub async fn flush(&self) -> Result<()> {
        self.db.flush_async().await.map_err(db_error)?;
        Ok(())
    }

    /// Changes stored bytes behind the records layer's back, as someone
    /// with write access to the database files (and no root key) would.
    #[cfg(test)]
    pub fn tamper(&self, table: Table, key: &[u8], f: impl FnOnce(&mut Vec<u8>)) -> Result<()> {
        let t = self.tree(table);
        let mut v = t
            .get(key)
            .map_err(db_error)?
            .map(|v| v.to_vec())
            .unwrap_or_default();
        f(&mut v);
        t.insert(key, v).map_err(db_error)?;
        Ok(())
    }

    /// Every stored value of a table, raw (tests).
    #[cfg(test)]
    pub fn raw(&self, table: Table) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.tree(table)
            .iter()
            .filter_map(|kv| kv.ok())
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .collect()
    }

    /// Counts of the principal and document tables, for `status`.
    pub fn count(&self, t: Table) -> u64 {
        self.tree(t).len() as u64
    }

    /// Every stored value, table by table, as a backup copies them; the
    /// journal last, under the old tables' names ("checkpoints", "audit"),
    /// so a restore puts it where [`open_journal`] imports it from.
    pub fn dump(&self, mut each: impl FnMut(&str, &[u8], &[u8]) -> Result<()>) -> Result<u64> {
        let mut n = 0;
        for t in Table::ALL.into_iter().filter(|t| !t.is_journal()) {
            for kv in self.tree(t).iter() {
                let (k, v) = kv.map_err(db_error)?;
                each(t.name(), &k, &v)?;
                n += 1;
            }
        }
        Ok(n + self.journal.dump(each)?)
    }
}

/// A database being filled from a backup: values go back as they were
/// (sealed, authenticated), with no key needed; the server opens it later.
pub(crate) struct RestoreDb {
    db: sled::Db,
    trees: Vec<sled::Tree>,
}

impl RestoreDb {
    pub fn create(path: &Path) -> Result<Self> {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(SLED_CACHE_BYTES)
            .open()
            .map_err(db_error)?;
        let trees = Table::ALL
            .iter()
            .map(|t| db.open_tree(t.name()).map_err(db_error))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { db, trees })
    }

    /// Puts back one value, as it was.
    pub fn put(&self, table: &str, key: &[u8], value: &[u8]) -> Result<()> {
        let t = Table::by_name(table).ok_or_else(|| {
            VaultError::Invalid("not a usable Coffre backup: unknown table".into())
        })?;
        self.trees[t as usize]
            .insert(key, value)
            .map_err(db_error)?;
        Ok(())
    }

    pub fn flush(&self) -> Result<()> {
        self.db.flush().map_err(db_error)?;
        Ok(())
    }
}

/// The journal's head (u64 BE) as the database last heard it: noted after
/// each commit, so the journal's files are never behind it. Files that are
/// behind it (a lost or replaced journal directory) are refused, never
/// started afresh.
const JOURNAL_HEAD: &[u8] = b"journal_head";

/// Opens the journal's files, first moving into them what the database's
/// old journal tables hold (a database from before the files, or a backup
/// just restored), then emptying those tables. `new_db`: the database was
/// just created, so a journal beside it belongs to another one.
fn open_journal(trees: &[sled::Tree], dir: &Path, new_db: bool) -> Result<JournalStore> {
    use coffre_crypto::audit::{Checkpoint, Record};
    let meta = &trees[Table::Meta as usize];
    let audit = &trees[Table::Audit as usize];
    if new_db && JournalStore::has_entries(dir) {
        return Err(VaultError::Unreadable(format!(
            "the database is new but a journal exists beside it in {}",
            dir.display()
        )));
    }
    let journal = JournalStore::open(dir)?;
    if !audit.is_empty() {
        let decode_record = |v: &[u8]| -> Result<Record> {
            serde_json::from_slice(v)
                .map_err(|_| VaultError::Unreadable("a journal record does not decode".into()))
        };
        // An import interrupted earlier goes on where it stopped, provided
        // both sides agree on the last entry it moved.
        if let Some(last) = journal.last()? {
            let theirs = audit
                .get(last.entry.seq.to_be_bytes())
                .map_err(db_error)?
                .map(|v| decode_record(&v))
                .transpose()?;
            if theirs.as_ref().map(|r| r.hash) != Some(last.hash) {
                return Err(VaultError::Unreadable(
                    "the journal's files and the database's journal disagree".into(),
                ));
            }
        }
        let from = (journal.end() + 1).to_be_bytes();
        let records = audit
            .range(from..)
            .map(|kv| decode_record(&kv.map_err(db_error)?.1));
        let mut checkpoints = trees[Table::Checkpoints as usize].iter().map(|kv| {
            serde_json::from_slice::<Checkpoint>(&kv.map_err(db_error)?.1)
                .map_err(|_| VaultError::Unreadable("a checkpoint does not decode".into()))
        });
        let n = journal.import(records, &mut checkpoints)?;
        if n > 0 {
            tracing::info!(
                entries = n,
                "journal moved from the database into its files"
            );
        }
    }
    let heard =
        match meta.get(JOURNAL_HEAD).map_err(db_error)? {
            Some(v) => u64::from_be_bytes(v.as_ref().try_into().map_err(|_| {
                VaultError::Unreadable("the journal's head does not decode".into())
            })?),
            None => 0,
        };
    if journal.end() < heard {
        return Err(VaultError::Unreadable(format!(
            "the journal in {} ends at entry {} but the database saw entry {heard}: entries are missing (restore the newest backup)",
            dir.display(),
            journal.end()
        )));
    }
    meta.insert(JOURNAL_HEAD, &journal.end().to_be_bytes())
        .map_err(db_error)?;
    for t in Table::ALL.into_iter().filter(|t| t.is_journal()) {
        trees[t as usize].clear().map_err(db_error)?;
    }
    Ok(journal)
}

/// Key parts concatenated.
fn key(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// The 16 bytes of an id found at `at` in a key.
fn id_at(k: &[u8], at: usize) -> Option<[u8; 16]> {
    k.get(at..at + 16).and_then(|b| b.try_into().ok())
}
