//! Reading: listings, descriptions, downloads and ranges. Every read is
//! journaled under the vault it reads from; a refused one too.

use std::io;
use std::ops::Range;

use bytes::Bytes;
use coffre_crypto::object::{self, RandomAccess};
use coffre_crypto::{Dek, DocumentId, PrincipalId};
use coffre_store::StoreError;
use futures_util::StreamExt;

use super::streams::{open_chunks, open_stream};
use super::{DocumentInfo, PlaintextStream, header, object_key};
use crate::access::dek::Listed;
use crate::journal::{DownloadFailure, Event, NewEntry, Outcome, Who};
use crate::model::{Category, Date};
use crate::policy::Action;
use crate::records::{DocumentRecord, GrantRecord};
use crate::session::{Principal, Session};
use crate::{Result, Vault, VaultError};

/// Objects up to this size are opened whole, in place (see [`open_whole`]);
/// larger ones stream through the opener in bounded memory.
const WHOLE_OPEN: u64 = 2 * 1024 * 1024;

/// Reads a small object whole and opens it where it lies (the filesystem
/// store hands it over as one buffer of its own: no copy at all), then
/// hands out its plaintext as slices of that buffer. Every chunk is
/// authenticated before any byte goes out.
async fn open_whole(
    mut stored: futures_util::stream::BoxStream<'static, coffre_store::Result<Bytes>>,
    dek: Dek,
    d: &DocumentRecord,
) -> Result<PlaintextStream> {
    let want = usize::try_from(d.stored_size).map_err(|_| VaultError::Integrity)?;
    let mut whole: Option<Vec<u8>> = None;
    while let Some(piece) = stored.next().await {
        let piece = piece.map_err(|e| match e {
            StoreError::NotFound { .. } => VaultError::Integrity,
            e => VaultError::Store(e),
        })?;
        match whole.as_mut() {
            // The whole object in one piece (the filesystem store): its
            // own buffer, taken over without a copy.
            None if piece.len() == want => whole = Some(Vec::from(piece)),
            None => {
                if piece.len() > want {
                    return Err(VaultError::Integrity);
                }
                let mut w = coffre_store::buffers::take(want);
                w.extend_from_slice(&piece);
                whole = Some(w);
            }
            Some(w) => {
                if w.len() + piece.len() > want {
                    return Err(VaultError::Integrity);
                }
                w.extend_from_slice(&piece);
            }
        }
    }
    let mut whole = whole.unwrap_or_default();
    if whole.len() != want {
        return Err(VaultError::Integrity);
    }
    let ranges = match object::open_in_place(&dek, &header(d), &mut whole) {
        Ok(r) => r,
        Err(_) => {
            // Chunks before the damaged one were opened: wiped.
            coffre_store::buffers::give_back_plaintext(whole);
            return Err(VaultError::Integrity);
        }
    };
    // Sent as slices; the buffer goes back to the pool, wiped, after the
    // last of them.
    let whole = coffre_store::buffers::plaintext_bytes(whole);
    let pieces: Vec<io::Result<Bytes>> = ranges
        .into_iter()
        .filter(|r| !r.is_empty())
        .map(|r| Ok(whole.slice(r)))
        .collect();
    Ok(futures_util::stream::iter(pieces).boxed())
}

/// What a caseworker's dashboard shows: `(person, their name, …)`.
#[derive(Debug, Default)]
pub struct DeskOverview {
    /// The people linked to the structure, by name.
    pub people: Vec<(PrincipalId, String)>,
    /// Papers no longer valid, or not within the days asked, soonest first.
    pub expiring: Vec<(PrincipalId, String, DeskPaper)>,
    /// Papers the structure's members added lately, newest first.
    pub recent: Vec<(PrincipalId, String, DeskPaper)>,
    /// The structure's grants that end within the days asked.
    pub grants_ending: Vec<(PrincipalId, String, GrantRecord)>,
}

/// Marks "journaled today" kept at most (people × structures a day).
const DESK_SEEN_MAX: usize = 200_000;

/// A paper on the dashboard: its category and dates (no title: the
/// dashboard opens no key).
#[derive(Debug, Clone)]
pub struct DeskPaper {
    pub document_id: DocumentId,
    pub category: Category,
    pub expires_on: Option<Date>,
    pub uploaded_at_ms: i64,
}

impl Vault {
    /// The documents of a vault this session may see.
    pub async fn list_documents(
        &self,
        session: &Session,
        beneficiary: PrincipalId,
    ) -> Result<Vec<DocumentInfo>> {
        self.authorize(session, Action::ListDocuments, beneficiary, None, None)
            .await?;
        let read = self.records().read();
        let access = self.access();
        let mut keys = access.reader(session, read.grants().of_vault(beneficiary)?);
        let mut out = Vec::new();
        // Documents without a current listing seal, sealed now for the
        // next listing (those a caseworker uploaded under upload-only
        // consent; those re-wrapped by a rotation).
        let mut sealed = Vec::new();
        for d in read.documents().of_vault(beneficiary)? {
            match keys.listed(&d) {
                Listed::Hidden => {}
                Listed::Fields(f) => out.push(DocumentInfo::listed(&d, f)),
                Listed::ByKey => {
                    if let Some((d, dek)) = self.fresh_listed_dek(&mut keys, d)? {
                        let info = self.info(&d, &dek)?;
                        if let Some(seal) = keys.reseal(&d, &info.listed_fields()) {
                            sealed.push((d, seal));
                        }
                        out.push(info);
                    }
                }
            }
        }
        drop(keys);
        if !sealed.is_empty() {
            self.keep_listing_seals(sealed).await;
        }
        out.sort_by(|a, b| {
            b.uploaded_at_ms
                .cmp(&a.uploaded_at_ms)
                .then(a.document_id.cmp(&b.document_id))
        });
        // Seeing the list (titles, file names) is an access the person sees.
        self.journal(
            NewEntry::ok(session.principal.who(), Event::DocumentList)
                .vault(beneficiary)
                .detail(format!("{} documents", out.len())),
        )
        .await?;
        Ok(out)
    }

    /// A caseworker's dashboard, in one pass over the people linked to
    /// their structure: their names; the papers the structure may see
    /// (a live view grant on the category, not private) that are no longer
    /// valid or will not be within `days`; those its members added since
    /// `since_ms`; its grants that end within `days`. Papers are given by
    /// category and dates only, read from the records: no key is opened,
    /// no title leaves the vault. Each person sees in their journal that
    /// the structure looked (one entry).
    pub async fn desk_overview(
        &self,
        session: &Session,
        days: u32,
        since_ms: i64,
    ) -> Result<DeskOverview> {
        let Principal::Caseworker { structure, .. } = session.principal else {
            return Err(VaultError::Forbidden("caseworkers only"));
        };
        if days > 366 {
            return Err(VaultError::Invalid("at most 366 days ahead".into()));
        }
        self.authorize_structure(
            session,
            crate::policy::StructureAction::ListBeneficiaries,
            structure,
            Event::BeneficiaryList,
        )
        .await?;
        let now = self.now_ms();
        let today = Date::from_epoch_ms(now).days_since_epoch();
        let horizon = now + i64::from(days) * 86_400_000;
        let read = self.records().read();
        let members: Vec<String> = read
            .caseworkers()
            .of_structure(structure)?
            .into_iter()
            .map(|c| Who::Caseworker(c.id).to_string())
            .collect();
        let mut out = DeskOverview::default();
        for b in read.links().of_structure(structure)? {
            // A link left by an interrupted erasure points at nothing.
            let Some(rec) = read.beneficiaries().get(b)? else {
                continue;
            };
            if !rec.linked.contains(&structure) {
                continue;
            }
            let name = rec.display_name;
            out.people.push((b, name.clone()));
            let grants: Vec<GrantRecord> = read
                .grants()
                .of_vault(b)?
                .into_iter()
                .filter(|g| g.structure == structure && g.live(now))
                .collect();
            for g in &grants {
                if g.expires_ms <= horizon {
                    out.grants_ending.push((b, name.clone(), g.clone()));
                }
            }
            let sees = |c: Category| {
                grants.iter().any(|g| {
                    g.categories.contains(&c)
                        && g.permissions.contains(&crate::model::Permission::View)
                })
            };
            if !Category::ALL.into_iter().any(sees) {
                continue;
            }
            for d in read.documents().of_vault(b)? {
                if d.private() || !sees(d.category) {
                    continue;
                }
                let paper = DeskPaper {
                    document_id: d.id,
                    category: d.category,
                    expires_on: d.expires_on,
                    uploaded_at_ms: d.uploaded_ms,
                };
                if d.expires_on
                    .is_some_and(|e| e.days_since_epoch() - today <= i64::from(days))
                {
                    out.expiring.push((b, name.clone(), paper.clone()));
                }
                if d.uploaded_ms >= since_ms && members.contains(&d.uploaded_by) {
                    out.recent.push((b, name.clone(), paper));
                }
            }
        }
        out.people.sort_by(|a, b| a.1.cmp(&b.1));
        out.expiring
            .sort_by_key(|(_, _, d)| d.expires_on.map(Date::days_since_epoch));
        out.recent
            .sort_by_key(|(_, _, d)| std::cmp::Reverse(d.uploaded_at_ms));
        out.grants_ending.sort_by_key(|(_, _, g)| g.expires_ms);
        // Each person sees that this structure looked (names, and which
        // papers end when): once a day, not at every page or search.
        let who = session.principal.who();
        let unseen: Vec<PrincipalId> = {
            let day = now.div_euclid(86_400_000);
            let mut seen = self
                .inner
                .desk_seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // A new day starts afresh; the table stays bounded.
            if seen.0 != day || seen.1.len() > DESK_SEEN_MAX {
                *seen = (day, std::collections::HashSet::new());
            }
            out.people
                .iter()
                .filter(|(b, _)| seen.1.insert((structure, *b)))
                .map(|(b, _)| *b)
                .collect()
        };
        futures_util::future::try_join_all(unseen.iter().map(|b| {
            self.journal(
                NewEntry::ok(who, Event::BeneficiarySee)
                    .vault(*b)
                    .detail("dashboard"),
            )
        }))
        .await?;
        Ok(out)
    }

    /// Stores listing seals made by a listing, on the records as they are
    /// now (a document changed meanwhile keeps what it has: a seal that no
    /// longer matches would not open anyway). A cache: a failure here
    /// costs the next listing time, nothing else.
    async fn keep_listing_seals(&self, sealed: Vec<(DocumentRecord, Vec<u8>)>) {
        let _writing = self.writing().await;
        let res = self.records().write(|tx| {
            for (read, seal) in &sealed {
                if let Some(mut d) = tx.documents().get(read.id)?
                    && d.version == read.version
                    && d.key == read.key
                    && d.sealed_fields() == read.sealed_fields()
                {
                    d.listing_seal = seal.clone();
                    tx.documents().put(&d)?;
                }
            }
            Ok(())
        });
        if let Err(e) = res {
            tracing::warn!(error = %e, "listing seals not stored; the next listing makes them again");
        }
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
        let today = Date::from_epoch_ms(self.now_ms()).days_since_epoch();
        let mut docs = self.list_documents(session, beneficiary).await?;
        docs.retain(|d| {
            d.expires_on
                .is_some_and(|e| e.days_since_epoch() <= today + i64::from(days))
        });
        Ok(docs)
    }

    pub(crate) async fn readable(
        &self,
        session: &Session,
        document: DocumentId,
        action: Action,
    ) -> Result<(DocumentRecord, Dek)> {
        let who = session.principal.who();
        let d = match self.document(document) {
            Ok(d) => d,
            Err(e) => {
                self.journal(
                    NewEntry::denied(who, action.event())
                        .doc(document)
                        .detail("unknown document"),
                )
                .await?;
                return Err(e);
            }
        };
        self.authorize(session, action, d.beneficiary, Some(d.category), Some(&d))
            .await?;
        match self.fresh_dek(session, d.clone()) {
            Ok(found) => Ok(found),
            Err(e) => {
                // The policy said yes but no key opens: journal it too.
                self.journal(
                    NewEntry::denied(who, action.event())
                        .vault(d.beneficiary)
                        .doc(d.id)
                        .detail("no key for this document"),
                )
                .await?;
                Err(e)
            }
        }
    }

    /// A document's key, reading its record again when a rotation moved it
    /// to another epoch between the read and the unwrap (reads take no
    /// transaction; a revocation may re-wrap the paper meanwhile).
    pub(crate) fn fresh_dek(
        &self,
        session: &Session,
        mut d: DocumentRecord,
    ) -> Result<(DocumentRecord, Dek)> {
        for _ in 0..3 {
            match self.access().dek(session, &d) {
                Ok(dek) => return Ok((d, dek)),
                Err(e) => match self.document(d.id) {
                    Ok(again) if again.key != d.key => d = again,
                    _ => return Err(e),
                },
            }
        }
        Err(VaultError::Conflict(
            "consent changed during this operation; try again",
        ))
    }

    /// The same for a listing's key reader: `None` when the session has no
    /// path to the document (or it was deleted meanwhile).
    pub(crate) fn fresh_listed_dek(
        &self,
        keys: &mut crate::access::dek::KeyReader<'_>,
        mut d: DocumentRecord,
    ) -> Result<Option<(DocumentRecord, Dek)>> {
        for _ in 0..3 {
            match keys.dek(&d) {
                Ok(found) => return Ok(found.map(|dek| (d, dek))),
                Err(e) => match self.records().read().documents().get(d.id)? {
                    None => return Ok(None),
                    Some(again) if again.key != d.key => d = again,
                    Some(_) => return Err(e),
                },
            }
        }
        Err(VaultError::Conflict(
            "consent changed during this operation; try again",
        ))
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
            NewEntry::ok(session.principal.who(), Event::DocumentRead)
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
        self.download_for(session, document, None).await
    }

    /// The same, to print a duplicate: the journal says so ("duplicate").
    pub async fn download_duplicate(
        &self,
        session: &Session,
        document: DocumentId,
    ) -> Result<(DocumentInfo, PlaintextStream)> {
        self.download_for(session, document, Some("duplicate"))
            .await
    }

    async fn download_for(
        &self,
        session: &Session,
        document: DocumentId,
        purpose: Option<&'static str>,
    ) -> Result<(DocumentInfo, PlaintextStream)> {
        let (d, dek) = self
            .readable(session, document, Action::ReadDocument)
            .await?;
        let info = self.info(&d, &dek)?;
        let who = session.principal.who();
        // A failed entry says why; one after the `ok` entry also says that
        // the paper was not opened after all, so that the person's journal
        // and the structure's report pair it with the `ok` it corrects, and
        // only then (`DownloadFailure`).
        let failed = move |e: &VaultError, after_entry: bool| {
            let f = DownloadFailure {
                duplicate: purpose == Some("duplicate"),
                after_entry,
                damaged: matches!(e, VaultError::Integrity),
            };
            NewEntry::new(who, Event::DocumentDownload, Outcome::Failed)
                .vault(d.beneficiary)
                .doc(d.id)
                .detail(f.detail())
        };
        // A remote store is asked first whether it holds the object whole:
        // one out of reach, or missing, fails the download before the
        // journal says the paper was handed over (the owner sees that it
        // could not be given back). The local store is not (see
        // `ObjectStore::remote`): what fails there fails below.
        if self.inner.store.remote() {
            let fails = match self.inner.store.head(&object_key(&d)).await {
                Ok(len) if len == d.stored_size => None,
                Ok(_) | Err(StoreError::NotFound { .. }) => Some(VaultError::Integrity),
                Err(e) => Some(VaultError::Store(e)),
            };
            if let Some(e) = fails {
                self.journal(failed(&e, false)).await?;
                return Err(e);
            }
        }
        // Then the entry is made durable, and only then is the object read
        // and opened, its plaintext sent at once, while still in the
        // processor's cache: opened before the journal's flush, or read
        // before it and opened after, it waited and went out cold (issue
        // 15: 0.64-0.74x of a plain server either way, about 0.8x in this
        // order). What can still fail after the entry is rare (damage, a
        // read error): a second entry then says so. The entry, the opening
        // and that second entry run as a task of their own, so that a
        // request dropped meanwhile (a page's timeout, a client gone) does
        // not stop between the two entries.
        let mut entry = NewEntry::ok(who, Event::DocumentDownload)
            .vault(d.beneficiary)
            .doc(d.id);
        if let Some(purpose) = purpose {
            entry = entry.detail(purpose);
        }
        let vault = self.clone();
        let opened = tokio::spawn(async move {
            vault.journal(entry).await?;
            match vault.open_object(&d, dek).await {
                Ok(stream) => Ok(stream),
                Err(e) => {
                    vault.journal(failed(&e, true)).await?;
                    Err(e)
                }
            }
        })
        .await
        .map_err(|_| VaultError::Internal("a download's opening stopped"))??;
        Ok((info, opened))
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
        if d.stored_size <= WHOLE_OPEN {
            return open_whole(body.stream, dek, d).await;
        }
        // The first piece is opened before answering, so a damaged small
        // document (or header) is a clean error rather than a response cut
        // short; later damage still stops the stream before any altered byte.
        let failed = |e: io::Error| {
            if e.kind() == io::ErrorKind::InvalidData {
                VaultError::Integrity
            } else {
                // The store failed while reading: say so, not "damaged".
                VaultError::Store(StoreError::Unavailable(e.to_string()))
            }
        };
        let mut stream = open_stream(dek, header(d), d.stored_size, body.stream)
            .await
            .map_err(failed)?;
        match stream.next().await {
            Some(Err(e)) => Err(failed(e)),
            Some(Ok(first)) => Ok(futures_util::stream::once(async move { Ok(first) })
                .chain(stream)
                .boxed()),
            // (An ended stream is not to be polled again.)
            None => Ok(futures_util::stream::empty().boxed()),
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
            NewEntry::ok(session.principal.who(), Event::DocumentDownload)
                .vault(d.beneficiary)
                .doc(d.id)
                .detail(format!("range {}-{}", range.start, end - 1)),
        )
        .await?;
        let stream = open_chunks(ra, chunks, body.stream, range.start..end);
        Ok((info, range.start..end, stream))
    }
}
