//! Documents: streamed upload and download, ranges, listing, edits,
//! privacy, deletion (crypto-erasure), papers about to expire.
//!
//! Write order (invariant 2): the object is fully written to the store, then
//! the metadata is committed, then the journal entry is appended and sled
//! flushed — only then does the caller get an answer. A crash before the
//! metadata commit leaves an orphan object for garbage collection.

use std::io;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use coffre_crypto::object::{self, Field, ObjectHeader, Opener, RandomAccess, Sealer};
use coffre_crypto::wrap::{self, Binding};
use coffre_crypto::{Dek, DocumentId, PrincipalId, Recipient};
use coffre_store::{ObjectKey, StoreError};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use ring::digest::{Context, SHA256};
use serde::Serialize;

use crate::db::{self, key};
use crate::journal::NewEntry;
use crate::model::{
    BeneficiaryRecord, Category, DocumentRecord, KeyWrap, days_from_civil, parse_date,
};
use crate::policy::{Action, GrantState};
use crate::session::{Principal, Session};
use crate::{Result, Vault, VaultError, now_ms};

/// Plaintext flowing in (upload) or out (download).
pub type PlaintextStream = BoxStream<'static, io::Result<Bytes>>;

const MAX_TITLE: usize = 300;
const MAX_FILENAME: usize = 255;
const MAX_CONTENT_TYPE: usize = 127;
const MAX_NOTES: usize = 2000;

/// Notes may span lines; other control characters are refused.
fn notes_text(s: &str) -> Result<String> {
    let s = s.trim();
    if s.chars().count() > MAX_NOTES || s.chars().any(|c| c.is_control() && c != '\n') {
        return Err(VaultError::Invalid(format!(
            "notes: at most {MAX_NOTES} characters"
        )));
    }
    Ok(s.to_owned())
}

/// What comes with an upload besides the bytes.
#[derive(Debug, Clone, Default)]
pub struct NewDocument {
    pub category: Option<Category>,
    pub title: Option<String>,
    pub filename: String,
    pub content_type: Option<String>,
    pub expires_on: Option<String>,
    pub private: Option<bool>,
    pub notes: Option<String>,
}

/// A document as its reader sees it (titles decrypted for them).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DocumentInfo {
    pub document_id: DocumentId,
    pub beneficiary_id: PrincipalId,
    pub title: String,
    pub category: Category,
    pub filename: String,
    pub content_type: String,
    pub size: u64,
    pub sha256: String,
    pub uploaded_at_ms: i64,
    pub uploaded_by: String,
    pub expires_on: Option<String>,
    pub private: bool,
    pub notes: Option<String>,
}

fn text(s: &str, max: usize, what: &str) -> Result<String> {
    let s = s.trim();
    if s.chars().count() > max || s.chars().any(char::is_control) {
        return Err(VaultError::Invalid(format!(
            "{what}: at most {max} printable characters"
        )));
    }
    Ok(s.to_owned())
}

fn header(d: &DocumentRecord) -> ObjectHeader {
    ObjectHeader::new(d.id, d.version)
}

fn object_key(d: &DocumentRecord) -> ObjectKey {
    ObjectKey::document(d.id, d.version)
}

/// SHA-256 computed on another thread, so that hashing the plaintext and
/// the stored bytes (two passes at ~2 GB/s) overlaps encryption and disk
/// writes instead of adding to them. Chunks are shared, not copied.
struct BackgroundDigest {
    tx: tokio::sync::mpsc::Sender<Bytes>,
    handle: std::thread::JoinHandle<String>,
}

impl BackgroundDigest {
    fn start() -> Result<Self> {
        // Bounded: a slow hasher holds the upload back instead of memory growing.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(32);
        let handle = std::thread::Builder::new()
            .name("coffre-sha256".into())
            .spawn(move || {
                let mut c = Context::new(&SHA256);
                while let Some(b) = rx.blocking_recv() {
                    c.update(&b);
                }
                hex::encode(c.finish().as_ref())
            })
            .map_err(|_| VaultError::Internal("cannot start a hashing thread"))?;
        Ok(Self { tx, handle })
    }

    fn finish(self) -> Result<String> {
        drop(self.tx);
        self.handle
            .join()
            .map_err(|_| VaultError::Internal("hashing thread failed"))
    }
}

struct UploadStats {
    size: u64,
    stored: u64,
    refused: Option<VaultError>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

struct SealState {
    body: PlaintextStream,
    sealer: Option<Sealer>,
    plain: tokio::sync::mpsc::Sender<Bytes>,
    sealed: tokio::sync::mpsc::Sender<Bytes>,
    stats: Arc<Mutex<UploadStats>>,
    refusal: Option<VaultError>,
    limit: u64,
    prefix: Option<Bytes>,
}

/// Seals a plaintext stream into the ciphertext stream the store consumes,
/// counting and hashing both (on other threads), and cutting the stream with
/// an error as soon as `limit` is passed (so nothing is stored).
fn seal_stream(st: SealState) -> BoxStream<'static, io::Result<Bytes>> {
    futures_util::stream::unfold(Some(st), |st| async move {
        let mut st = st?;
        if let Some(prefix) = st.prefix.take() {
            return st.emit(prefix).await;
        }
        loop {
            let mut out = Vec::new();
            let sealer = st.sealer.as_mut()?;
            match st.body.next().await {
                Some(Ok(chunk)) => {
                    {
                        let mut s = lock(&st.stats);
                        s.size += chunk.len() as u64;
                        if s.size > st.limit {
                            s.refused = st.refusal.take();
                            return Some((Err(io::Error::other("document too large")), None));
                        }
                    }
                    let _ = st.plain.send(chunk.clone()).await;
                    if let Err(e) = sealer.push(&chunk, &mut out) {
                        return Some((Err(io::Error::other(e)), None));
                    }
                }
                Some(Err(e)) => return Some((Err(e), None)),
                None => {
                    let sealer = st.sealer.take()?;
                    if let Err(e) = sealer.finish(&mut out) {
                        return Some((Err(io::Error::other(e)), None));
                    }
                    return st.emit(Bytes::from(out)).await;
                }
            }
            if !out.is_empty() {
                return st.emit(Bytes::from(out)).await;
            }
        }
    })
    .boxed()
}

impl SealState {
    async fn emit(self, out: Bytes) -> Option<(io::Result<Bytes>, Option<SealState>)> {
        lock(&self.stats).stored += out.len() as u64;
        let _ = self.sealed.send(out.clone()).await;
        Some((Ok(out), Some(self)))
    }
}

/// Decrypts a stored object's stream: authenticated plaintext only; any
/// tampering, truncation or extension ends the stream with an error.
fn open_stream(
    dek: Dek,
    header: ObjectHeader,
    stored: BoxStream<'static, coffre_store::Result<Bytes>>,
) -> PlaintextStream {
    struct State {
        dek: Dek,
        header: ObjectHeader,
        stored: BoxStream<'static, coffre_store::Result<Bytes>>,
        prefix: Vec<u8>,
        opener: Option<Opener>,
        done: bool,
    }
    let state = State {
        dek,
        header,
        stored,
        prefix: Vec::new(),
        opener: None,
        done: false,
    };
    let bad = || io::Error::new(io::ErrorKind::InvalidData, VaultError::Integrity);
    futures_util::stream::unfold(state, move |mut st| async move {
        if st.done {
            return None;
        }
        loop {
            let mut out = Vec::new();
            match st.stored.next().await {
                Some(Ok(mut chunk)) => {
                    if st.opener.is_none() {
                        let need = object::PREFIX_LEN - st.prefix.len();
                        let take = need.min(chunk.len());
                        st.prefix.extend_from_slice(&chunk[..take]);
                        chunk = chunk.slice(take..);
                        if st.prefix.len() < object::PREFIX_LEN {
                            continue;
                        }
                        match Opener::new(&st.dek, &st.header, &st.prefix) {
                            Ok(o) => st.opener = Some(o),
                            Err(_) => {
                                st.done = true;
                                return Some((Err(bad()), st));
                            }
                        }
                    }
                    let Some(opener) = st.opener.as_mut() else {
                        continue;
                    };
                    if opener.push(&chunk, &mut out).is_err() {
                        st.done = true;
                        return Some((Err(bad()), st));
                    }
                }
                Some(Err(e)) => {
                    st.done = true;
                    return Some((Err(io::Error::other(e)), st));
                }
                None => {
                    st.done = true;
                    let Some(opener) = st.opener.take() else {
                        return Some((Err(bad()), st));
                    };
                    if opener.finish(&mut out).is_err() {
                        return Some((Err(bad()), st));
                    }
                    return Some((Ok(Bytes::from(out)), st));
                }
            }
            if !out.is_empty() {
                return Some((Ok(Bytes::from(out)), st));
            }
        }
    })
    .boxed()
}

impl Vault {
    pub(crate) fn documents_of(&self, b: PrincipalId) -> Result<Vec<DocumentRecord>> {
        let mut out = Vec::new();
        for k in self.db().vault_documents.scan_prefix(b.as_bytes()).keys() {
            let k = k?;
            if let Some(d) = db::get::<DocumentRecord>(&self.db().documents, &k[16..])? {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// The DEK of a document, through the only path this session has.
    pub(crate) fn dek_for(&self, session: &Session, d: &DocumentRecord) -> Result<Dek> {
        let bind = Binding::document_key(d.id, d.version);
        match (&session.principal, &d.key) {
            (Principal::Beneficiary { .. }, KeyWrap::Owner { wrap: w }) => {
                Ok(wrap::unwrap_dek(w, &session.identity, &bind)?)
            }
            (Principal::Beneficiary { .. }, KeyWrap::Scope { epoch, wrap: w }) => {
                let (scope, current) =
                    self.scope_identity(&session.identity, d.beneficiary, d.category)?;
                if current != *epoch {
                    return Err(VaultError::Integrity);
                }
                Ok(wrap::unwrap_dek(w, &scope, &bind)?)
            }
            (Principal::Caseworker { .. }, KeyWrap::Scope { epoch, wrap: w }) => {
                let scope = self.structure_scope(session, d.beneficiary, d.category, *epoch)?;
                Ok(wrap::unwrap_dek(w, &scope, &bind)?)
            }
            (Principal::Caseworker { .. }, KeyWrap::Owner { .. }) => Err(VaultError::NotFound),
        }
    }

    pub(crate) fn info(&self, d: &DocumentRecord, dek: &Dek) -> Result<DocumentInfo> {
        let h = header(d);
        let open =
            |f, v: &[u8]| -> Result<String> { Ok(object::open_field(dek, &h, f, v)?.to_string()) };
        Ok(DocumentInfo {
            document_id: d.id,
            beneficiary_id: d.beneficiary,
            title: open(Field::Title, &d.sealed_title)?,
            category: d.category,
            filename: open(Field::FileName, &d.sealed_filename)?,
            content_type: open(Field::ContentType, &d.sealed_content_type)?,
            size: d.size,
            sha256: d.sha256.clone(),
            uploaded_at_ms: d.uploaded_ms,
            uploaded_by: d.uploaded_by.clone(),
            expires_on: d.expires_on.clone(),
            private: d.private(),
            notes: if d.sealed_notes.is_empty() {
                None
            } else {
                Some(open(Field::Notes, &d.sealed_notes)?)
            },
        })
    }

    /// Uploads a document into a vault, streamed end to end.
    pub async fn upload(
        &self,
        session: &Session,
        beneficiary: PrincipalId,
        meta: NewDocument,
        body: PlaintextStream,
    ) -> Result<DocumentInfo> {
        let category = meta.category.unwrap_or(Category::Other);
        let b = self
            .authorize(
                session,
                Action::UploadDocument,
                beneficiary,
                Some(category),
                None,
            )
            .await?;
        let title = text(meta.title.as_deref().unwrap_or(""), MAX_TITLE, "title")?;
        let filename = text(&meta.filename, MAX_FILENAME, "file name")?;
        let notes = meta.notes.as_deref().map(notes_text).transpose()?;
        let filename = if filename.is_empty() {
            "document".to_owned()
        } else {
            filename
        };
        let title = if title.is_empty() {
            filename.clone()
        } else {
            title
        };
        let content_type = text(
            meta.content_type
                .as_deref()
                .unwrap_or("application/octet-stream"),
            MAX_CONTENT_TYPE,
            "content type",
        )?;
        if let Some(e) = &meta.expires_on {
            parse_date(e)?;
        }
        let private = match session.principal {
            Principal::Beneficiary { .. } => meta.private.unwrap_or(true),
            Principal::Caseworker { .. } if meta.private == Some(true) => {
                return Err(VaultError::Invalid(
                    "documents uploaded by a caseworker are shared in their category".into(),
                ));
            }
            Principal::Caseworker { .. } => false,
        };
        if self
            .db()
            .vault_documents
            .scan_prefix(beneficiary.as_bytes())
            .count()
            >= self.limits().max_documents
        {
            return Err(VaultError::Conflict(
                "this vault holds the maximum number of documents",
            ));
        }

        let id = DocumentId::random()?;
        // Held until the record is committed or the object removed: until
        // then the object is not an orphan.
        let _in_flight = self.inner.upload_in_flight(id);
        let version = 1;
        let h = ObjectHeader::new(id, version);
        let dek = Dek::generate()?;
        let bind = Binding::document_key(id, version);
        let key_wrap = if private {
            let owner: Recipient = b.recipient.parse().map_err(|_| VaultError::Integrity)?;
            KeyWrap::Owner {
                wrap: wrap::wrap_dek(&dek, &owner, &bind)?,
            }
        } else {
            let scope = self.scope_record(beneficiary, category)?;
            let r: Recipient = scope.recipient.parse().map_err(|_| VaultError::Integrity)?;
            KeyWrap::Scope {
                epoch: scope.epoch,
                wrap: wrap::wrap_dek(&dek, &r, &bind)?,
            }
        };
        let quota_left = self.limits().quota_bytes.saturating_sub(b.used_bytes);
        let (limit, refusal) = if quota_left < self.limits().max_document_bytes {
            (
                quota_left,
                VaultError::QuotaExceeded {
                    quota: self.limits().quota_bytes,
                },
            )
        } else {
            (
                self.limits().max_document_bytes,
                VaultError::TooLarge {
                    limit: self.limits().max_document_bytes,
                },
            )
        };
        let (sealer, prefix) = Sealer::new(&dek, &h)?;
        let stats = Arc::new(Mutex::new(UploadStats {
            size: 0,
            stored: 0,
            refused: None,
        }));
        let (plain_digest, sealed_digest) =
            (BackgroundDigest::start()?, BackgroundDigest::start()?);
        let stream = seal_stream(SealState {
            body,
            sealer: Some(sealer),
            plain: plain_digest.tx.clone(),
            sealed: sealed_digest.tx.clone(),
            stats: stats.clone(),
            refusal: Some(refusal),
            limit,
            prefix: Some(Bytes::copy_from_slice(&prefix)),
        });
        let okey = ObjectKey::document(id, version);
        let put = self.inner.store.put(&okey, stream).await;
        let refused = lock(&stats).refused.take();
        if let Some(refused) = refused {
            self.journal(
                NewEntry::new(session.principal.label(), "document.upload", "denied")
                    .vault(beneficiary)
                    .detail(refused.to_string()),
            )
            .await?;
            return Err(refused);
        }
        let (size, stored) = {
            let s = lock(&stats);
            (s.size, s.stored)
        };
        match put {
            Ok(r) if r.size == stored => {}
            Ok(_) => return Err(VaultError::Integrity),
            Err(StoreError::Body(e)) => {
                return Err(VaultError::Invalid(format!("upload interrupted: {e}")));
            }
            Err(e) => return Err(e.into()),
        }
        let record = DocumentRecord {
            id,
            version,
            beneficiary,
            category,
            size,
            stored_size: stored,
            sha256: plain_digest.finish()?,
            stored_sha256: sealed_digest.finish()?,
            uploaded_ms: now_ms(),
            uploaded_by: session.principal.label(),
            expires_on: meta.expires_on.clone(),
            sealed_title: object::seal_field(&dek, &h, Field::Title, &title)?,
            sealed_filename: object::seal_field(&dek, &h, Field::FileName, &filename)?,
            sealed_content_type: object::seal_field(&dek, &h, Field::ContentType, &content_type)?,
            sealed_notes: match notes.as_deref() {
                Some(n) if !n.is_empty() => object::seal_field(&dek, &h, Field::Notes, n)?,
                _ => Vec::new(),
            },
            key: key_wrap,
        };
        let _writing = self.writing().await;
        if let Err(e) = self.commit_upload(&record) {
            // Nothing points at the object: remove it now rather than leave
            // it to garbage collection.
            let _ = self.inner.store.delete(&okey).await;
            return Err(e);
        }
        self.journal(
            NewEntry::new(session.principal.label(), "document.upload", "ok")
                .vault(beneficiary)
                .doc(id),
        )
        .await?;
        self.info(&record, &dek)
    }

    /// Metadata commit of an upload, atomic with the quota update.
    fn commit_upload(&self, record: &DocumentRecord) -> Result<()> {
        use sled::Transactional;
        let db = self.db();
        let quota = self.limits().quota_bytes;
        let doc = db::enc(record)?;
        let scope_key = key(&[
            record.beneficiary.as_bytes(),
            record.category.as_str().as_bytes(),
        ]);
        let res = (
            &db.documents,
            &db.vault_documents,
            &db.beneficiaries,
            &db.scopes,
        )
            .transaction(|(docs, index, bens, scopes)| {
                let abort = sled::transaction::ConflictableTransactionError::Abort;
                check_epoch(scopes, &scope_key, &record.key)?;
                let raw = bens
                    .get(record.beneficiary.as_bytes())?
                    .ok_or(abort(VaultError::NotFound))?;
                let mut b: BeneficiaryRecord =
                    serde_json::from_slice(&raw).map_err(|_| abort(VaultError::Integrity))?;
                if b.used_bytes + record.size > quota {
                    return Err(abort(VaultError::QuotaExceeded { quota }));
                }
                b.used_bytes += record.size;
                docs.insert(record.id.as_bytes(), doc.clone())?;
                index.insert(
                    key(&[record.beneficiary.as_bytes(), record.id.as_bytes()]),
                    &[],
                )?;
                bens.insert(
                    record.beneficiary.as_bytes(),
                    serde_json::to_vec(&b).map_err(|_| abort(VaultError::Integrity))?,
                )?;
                Ok(())
            });
        res.map_err(VaultError::from)
    }

    /// The documents of a vault this session may see.
    pub async fn list_documents(
        &self,
        session: &Session,
        beneficiary: PrincipalId,
    ) -> Result<Vec<DocumentInfo>> {
        self.authorize(session, Action::ListDocuments, beneficiary, None, None)
            .await?;
        let mut out = Vec::new();
        let mut scopes: std::collections::HashMap<
            (Category, u32),
            Option<coffre_crypto::Identity>,
        > = Default::default();
        for d in self.documents_of(beneficiary)? {
            let bind = Binding::document_key(d.id, d.version);
            let dek = match (&session.principal, &d.key) {
                (Principal::Caseworker { .. }, KeyWrap::Owner { .. }) => continue,
                (Principal::Beneficiary { .. }, KeyWrap::Owner { wrap: w }) => {
                    wrap::unwrap_dek(w, &session.identity, &bind)?
                }
                (principal, KeyWrap::Scope { epoch, wrap: w }) => {
                    if let Principal::Caseworker { structure, .. } = principal
                        && !matches!(
                            self.grant_state(beneficiary, *structure, d.category)?,
                            GrantState::View | GrantState::ViewAndUpload
                        )
                    {
                        continue;
                    }
                    // One scope unwrap per category, not per document.
                    let scope = match scopes.entry((d.category, *epoch)) {
                        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                        std::collections::hash_map::Entry::Vacant(v) => v.insert(match principal {
                            Principal::Caseworker { .. } => self
                                .structure_scope(session, beneficiary, d.category, *epoch)
                                .ok(),
                            Principal::Beneficiary { .. } => {
                                let (id, current) = self.scope_identity(
                                    &session.identity,
                                    beneficiary,
                                    d.category,
                                )?;
                                (current == *epoch).then_some(id)
                            }
                        }),
                    };
                    let Some(scope) = scope.as_ref() else {
                        continue;
                    };
                    wrap::unwrap_dek(w, scope, &bind)?
                }
            };
            out.push(self.info(&d, &dek)?);
        }
        out.sort_by(|a, b| {
            b.uploaded_at_ms
                .cmp(&a.uploaded_at_ms)
                .then(a.document_id.cmp(&b.document_id))
        });
        // Seeing the list (titles, file names) is an access the person sees.
        self.journal(
            NewEntry::new(session.principal.label(), "document.list", "ok")
                .vault(beneficiary)
                .detail(format!("{} documents", out.len())),
        )
        .await?;
        Ok(out)
    }

    /// Papers whose own expiry date falls within `days` from today.
    pub async fn expiring_documents(
        &self,
        session: &Session,
        beneficiary: PrincipalId,
        days: u32,
    ) -> Result<Vec<DocumentInfo>> {
        if days > 3650 {
            return Err(VaultError::Invalid("at most 3650 days ahead".into()));
        }
        let today = now_ms().div_euclid(crate::model::DAY_MS);
        let mut docs = self.list_documents(session, beneficiary).await?;
        docs.retain(|d| {
            d.expires_on
                .as_deref()
                .and_then(|e| parse_date(e).ok())
                .is_some_and(|(y, m, dd)| {
                    let day = days_from_civil(y, m, dd);
                    day <= today + i64::from(days)
                })
        });
        Ok(docs)
    }

    pub(crate) async fn readable(
        &self,
        session: &Session,
        document: DocumentId,
        action: Action,
    ) -> Result<(DocumentRecord, Dek)> {
        let d = match self.document(document) {
            Ok(d) => d,
            Err(e) => {
                self.journal(
                    NewEntry::new(session.principal.label(), action.code(), "denied")
                        .doc(document)
                        .detail("unknown document"),
                )
                .await?;
                return Err(e);
            }
        };
        self.authorize(session, action, d.beneficiary, Some(d.category), Some(&d))
            .await?;
        match self.dek_for(session, &d) {
            Ok(dek) => Ok((d, dek)),
            Err(e) => {
                // The policy said yes but no key opens: journal it too.
                self.journal(
                    NewEntry::new(session.principal.label(), action.code(), "denied")
                        .vault(d.beneficiary)
                        .doc(d.id)
                        .detail("no key for this document"),
                )
                .await?;
                Err(e)
            }
        }
    }

    pub async fn document_info(
        &self,
        session: &Session,
        document: DocumentId,
    ) -> Result<DocumentInfo> {
        let (d, dek) = self
            .readable(session, document, Action::ReadDocument)
            .await?;
        let info = self.info(&d, &dek)?;
        self.journal(
            NewEntry::new(session.principal.label(), "document.read", "ok")
                .vault(d.beneficiary)
                .doc(d.id),
        )
        .await?;
        Ok(info)
    }

    /// Downloads a document: its description and its plaintext stream.
    pub async fn download(
        &self,
        session: &Session,
        document: DocumentId,
    ) -> Result<(DocumentInfo, PlaintextStream)> {
        let (d, dek) = self
            .readable(session, document, Action::ReadDocument)
            .await?;
        let info = self.info(&d, &dek)?;
        let stream = match self.open_object(&d, dek).await {
            Ok(s) => s,
            Err(e) => {
                // The owner sees that their paper could not be given back.
                self.journal(
                    NewEntry::new(session.principal.label(), "document.download", "failed")
                        .vault(d.beneficiary)
                        .doc(d.id)
                        .detail(if matches!(e, VaultError::Integrity) {
                            "integrity"
                        } else {
                            "store"
                        }),
                )
                .await?;
                return Err(e);
            }
        };
        self.journal(
            NewEntry::new(session.principal.label(), "document.download", "ok")
                .vault(d.beneficiary)
                .doc(d.id),
        )
        .await?;
        Ok((info, stream))
    }

    pub(crate) async fn open_object(
        &self,
        d: &DocumentRecord,
        dek: Dek,
    ) -> Result<PlaintextStream> {
        let body = self
            .inner
            .store
            .get(&object_key(d))
            .await
            .map_err(|e| match e {
                StoreError::NotFound { .. } => VaultError::Integrity,
                e => e.into(),
            })?;
        if body.len != d.stored_size {
            return Err(VaultError::Integrity);
        }
        // The first piece is opened before answering, so a damaged small
        // document (or header) is a clean error rather than a response cut
        // short; later damage still stops the stream before any altered byte.
        let mut stream = open_stream(dek, header(d), body.stream);
        match stream.next().await {
            Some(Err(e)) if e.kind() == io::ErrorKind::InvalidData => Err(VaultError::Integrity),
            // The store failed while reading: say so, not "damaged".
            Some(Err(e)) => Err(VaultError::Store(StoreError::Unavailable(e.to_string()))),
            Some(Ok(first)) => Ok(futures_util::stream::once(async move { Ok(first) })
                .chain(stream)
                .boxed()),
            None => Ok(stream),
        }
    }

    /// Plaintext bytes `range` (end exclusive, clamped to the size) of a
    /// document, for HTTP range requests: only the chunks covering it are
    /// fetched and each is authenticated.
    pub async fn download_range(
        &self,
        session: &Session,
        document: DocumentId,
        range: Range<u64>,
    ) -> Result<(DocumentInfo, Range<u64>, PlaintextStream)> {
        let (d, dek) = self
            .readable(session, document, Action::ReadDocument)
            .await?;
        let info = self.info(&d, &dek)?;
        let end = range.end.min(d.size);
        if range.start >= end {
            return Err(VaultError::Invalid("range outside the document".into()));
        }
        let key = object_key(&d);
        let prefix = self
            .inner
            .store
            .get_range(&key, 0..object::PREFIX_LEN as u64)
            .await?
            .collect()
            .await?;
        let ra = RandomAccess::new(&dek, &header(&d), &prefix, d.stored_size)?;
        let chunks = ra.chunks_for(range.start..end);
        let first = ra.chunk_span(chunks.start)?.start;
        let last = ra.chunk_span(chunks.end - 1)?.end;
        let body = self.inner.store.get_range(&key, first..last).await?;
        self.journal(
            NewEntry::new(session.principal.label(), "document.download", "ok")
                .vault(d.beneficiary)
                .doc(d.id)
                .detail(format!("range {}-{}", range.start, end - 1)),
        )
        .await?;
        let start = range.start;
        let stream = futures_util::stream::unfold(
            (body.stream, Vec::<u8>::new(), chunks.start, ra),
            move |(mut s, mut buf, mut k, ra)| async move {
                if k >= chunks.end {
                    return None;
                }
                let span = ra.chunk_span(k).ok()?;
                let need = (span.end - span.start) as usize;
                while buf.len() < need {
                    match s.next().await {
                        Some(Ok(b)) => buf.extend_from_slice(&b),
                        Some(Err(e)) => {
                            return Some((
                                Err(io::Error::other(e)),
                                (s, Vec::new(), chunks.end, ra),
                            ));
                        }
                        None => {
                            let err =
                                io::Error::new(io::ErrorKind::InvalidData, VaultError::Integrity);
                            return Some((Err(err), (s, Vec::new(), chunks.end, ra)));
                        }
                    }
                }
                let rest = buf.split_off(need);
                let plain = match ra.open_chunk(k, &buf) {
                    Ok(p) => p,
                    Err(_) => {
                        let err = io::Error::new(io::ErrorKind::InvalidData, VaultError::Integrity);
                        return Some((Err(err), (s, Vec::new(), chunks.end, ra)));
                    }
                };
                let off = ra.plaintext_offset(k);
                let lo = start.saturating_sub(off) as usize;
                let hi = ((end - off) as usize).min(plain.len());
                let piece = Bytes::copy_from_slice(&plain[lo.min(hi)..hi]);
                k += 1;
                Some((Ok(piece), (s, rest, k, ra)))
            },
        )
        .boxed();
        Ok((info, range.start..end, stream))
    }

    /// The owner edits a title or the paper's expiry date, or moves the
    /// document between private and shared.
    pub async fn update_document(
        &self,
        session: &Session,
        document: DocumentId,
        title: Option<String>,
        expires_on: Option<Option<String>>,
        private: Option<bool>,
    ) -> Result<DocumentInfo> {
        let _writing = self.writing().await;
        let action = if private.is_some() {
            Action::SetPrivacy
        } else {
            Action::EditDocument
        };
        let (mut d, dek) = self.readable(session, document, action).await?;
        let h = header(&d);
        if let Some(t) = title {
            let t = text(&t, MAX_TITLE, "title")?;
            if t.is_empty() {
                return Err(VaultError::Invalid("a title cannot be empty".into()));
            }
            d.sealed_title = object::seal_field(&dek, &h, Field::Title, &t)?;
        }
        if let Some(e) = expires_on {
            if let Some(e) = &e {
                parse_date(e)?;
            }
            d.expires_on = e;
        }
        if let Some(p) = private {
            let bind = Binding::document_key(d.id, d.version);
            let b = self.beneficiary(d.beneficiary)?;
            d.key = if p {
                let owner: Recipient = b.recipient.parse().map_err(|_| VaultError::Integrity)?;
                KeyWrap::Owner {
                    wrap: wrap::wrap_dek(&dek, &owner, &bind)?,
                }
            } else {
                let scope = self.scope_record(d.beneficiary, d.category)?;
                let r: Recipient = scope.recipient.parse().map_err(|_| VaultError::Integrity)?;
                KeyWrap::Scope {
                    epoch: scope.epoch,
                    wrap: wrap::wrap_dek(&dek, &r, &bind)?,
                }
            };
        }
        {
            use sled::Transactional;
            let db = self.db();
            let scope_key = key(&[d.beneficiary.as_bytes(), d.category.as_str().as_bytes()]);
            let doc = db::enc(&d)?;
            (&db.documents, &db.scopes)
                .transaction(|(docs, scopes)| {
                    check_epoch(scopes, &scope_key, &d.key)?;
                    docs.insert(d.id.as_bytes(), doc.as_slice())?;
                    Ok(())
                })
                .map_err(VaultError::from)?;
        }
        if private == Some(true) {
            // Links made by structures end with their sight of the document.
            self.remove_structure_shares(d.beneficiary, None, Some(d.id), None)?;
        }
        self.journal(
            NewEntry::new(session.principal.label(), action.code(), "ok")
                .vault(d.beneficiary)
                .doc(d.id),
        )
        .await?;
        self.info(&d, &dek)
    }

    /// The owner deletes a document: its key wraps (and share links) go at
    /// once, which makes every copy of the object unreadable; then the
    /// object itself.
    pub async fn delete_document(&self, session: &Session, document: DocumentId) -> Result<()> {
        let _writing = self.writing().await;
        let (d, _) = self
            .readable(session, document, Action::DeleteDocument)
            .await?;
        self.forget_document(&d)?;
        self.journal(
            NewEntry::new(session.principal.label(), "document.delete", "ok")
                .vault(d.beneficiary)
                .doc(d.id),
        )
        .await?;
        if let Err(e) = self.inner.store.delete(&object_key(&d)).await {
            tracing::warn!(document = %d.id, error = %e, "object not deleted; garbage collection will remove it");
        }
        Ok(())
    }

    /// Metadata side of a deletion: record, index, shares, quota.
    pub(crate) fn forget_document(&self, d: &DocumentRecord) -> Result<()> {
        self.db().documents.remove(d.id.as_bytes())?;
        self.db()
            .vault_documents
            .remove(key(&[d.beneficiary.as_bytes(), d.id.as_bytes()]))?;
        self.remove_shares_of(d.beneficiary, d.id)?;
        if let Ok(mut b) = self.beneficiary(d.beneficiary) {
            b.used_bytes = b.used_bytes.saturating_sub(d.size);
            db::put(&self.db().beneficiaries, b.id.as_bytes(), &b)?;
        }
        Ok(())
    }
}

/// Inside a transaction: a document wrapped to a scope must be wrapped to
/// its current epoch, or a rotation happened meanwhile and the write would
/// leave it under a retired key.
fn check_epoch(
    scopes: &sled::transaction::TransactionalTree,
    scope_key: &[u8],
    wrap: &KeyWrap,
) -> std::result::Result<(), sled::transaction::ConflictableTransactionError<VaultError>> {
    if let KeyWrap::Scope { epoch, .. } = wrap {
        let current: Option<crate::model::ScopeRecord> = scopes
            .get(scope_key)?
            .and_then(|v| serde_json::from_slice(&v).ok());
        if current.map(|r| r.epoch) != Some(*epoch) {
            return Err(sled::transaction::ConflictableTransactionError::Abort(
                VaultError::Conflict("consent changed during this operation; try again"),
            ));
        }
    }
    Ok(())
}
