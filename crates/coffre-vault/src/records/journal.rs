//! The journal's files: entries in append-only segments, their per-vault
//! indexes, and the signed checkpoints. Only the journal's writer task
//! appends ([`JournalStore::commit`]).
//!
//! The journal left sled because sled keeps, in memory, a page table that
//! grows with every key that stays (about 16 bytes a key, `examples/
//! sled_memory.rs`), and a journal only grows: the soak of issue 12 saw the
//! server's memory rise with every request. Here nothing held in memory
//! grows with the journal.
//!
//! ```text
//! <journal>/log/<first seq, 20 digits>.jsonl  entries, one JSON record a line
//! <journal>/log/<first seq>.off               where each line starts (u64 LE)
//! <journal>/checkpoints.jsonl                 signed checkpoints, one a line
//! <journal>/vaults/<id>.idx                   entries filed under a vault (u64 LE seqs)
//! <journal>/vaults/<id>.pin                   the vault's entries kept in view
//! <journal>/indexed                           how far the derived files are durable
//! ```
//!
//! Durability: a commit writes its lines and syncs the segment and the
//! checkpoints (and their directory when a file is new), and only then
//! writes the derived files (offsets and vault indexes). Those are not
//! synced one by one: about every [`WATERMARK_EVERY`] entries one `syncfs`,
//! off the answering path, makes them durable and `indexed` records how far.
//! Opening re-derives everything after `indexed` from the log, so no index
//! names an entry the log does not hold (derived writes come after the log
//! is durable). Opening cuts only what follows the last newline (a line
//! whose sync never returned, so never acknowledged) or a last line that
//! does not decode; a bad line with more after it is damage, and the journal
//! is then refused, never cut.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use coffre_crypto::PrincipalId;
use coffre_crypto::audit::{ChainHash, Checkpoint, Record};

use crate::{Result, VaultError};

/// Entries a segment holds (so a seq's segment is arithmetic, never a search).
const SEGMENT: u64 = 1 << 16;
/// Entries between two `syncfs` of the derived files.
pub(crate) const WATERMARK_EVERY: u64 = 4096;
/// The longest line written or read back (entries are a few hundred bytes).
const MAX_LINE: usize = 64 << 10;

fn io_err(what: &str, path: &Path) -> impl FnOnce(std::io::Error) -> VaultError {
    let m = format!("{what} {}", path.display());
    move |e| VaultError::Db(format!("journal: {m}: {e}"))
}

fn damaged(what: impl std::fmt::Display) -> VaultError {
    VaultError::Unreadable(format!("the journal is damaged: {what}"))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The first seq of the segment holding `seq` (seq ≥ 1).
fn segment_of(seq: u64) -> u64 {
    seq.saturating_sub(1) / SEGMENT * SEGMENT + 1
}

/// An entry as the writer hands it over.
pub(crate) struct Appended {
    pub record: Record,
    /// The vault it is filed under (the person sees it).
    pub vault: Option<PrincipalId>,
    /// Kept in view in that vault's journal whatever follows.
    pub pinned: bool,
}

impl Appended {
    /// Rebuilt from a stored record alone (imports and recovery).
    fn from_record(record: Record) -> Self {
        use crate::journal::{Event, Outcome};
        let vault = record
            .entry
            .beneficiary
            .as_deref()
            .and_then(|b| b.parse::<PrincipalId>().ok());
        let pinned = vault.is_some()
            && matches!(
                (
                    Event::from_code(&record.entry.action),
                    Outcome::from_code(&record.entry.outcome)
                ),
                (Some(e), Some(o)) if e.kept_in_view(o)
            );
        Self {
            record,
            vault,
            pinned,
        }
    }
}

/// The journal's files.
pub(crate) struct JournalStore {
    dir: PathBuf,
    /// The last entry whose derived files are written: readers see up to it.
    end: AtomicU64,
    last_checkpoint: Mutex<Option<Checkpoint>>,
    appender: Mutex<Appender>,
}

/// The writer's side.
struct Appender {
    /// The segment being written: its first seq and length.
    segment: u64,
    segment_len: u64,
    checkpoints_len: u64,
    /// Derived files are durable up to this seq.
    watermark: u64,
    /// A failed commit whose files could not be put back: no more appends
    /// until a restart re-derives them.
    broken: bool,
}

/// Reads entries with the files of one segment kept open.
struct Reader<'a> {
    store: &'a JournalStore,
    open: Option<(u64, File, File)>,
}

impl<'a> Reader<'a> {
    fn new(store: &'a JournalStore) -> Self {
        Self { store, open: None }
    }

    /// Entry `seq` (1 ≤ seq ≤ the log's end).
    fn get(&mut self, seq: u64) -> Result<Record> {
        let first = segment_of(seq);
        if self.open.as_ref().is_none_or(|(f, _, _)| *f != first) {
            let (lp, op) = (self.store.log_path(first), self.store.off_path(first));
            let log = File::open(&lp).map_err(io_err("open", &lp))?;
            let off = File::open(&op).map_err(io_err("open", &op))?;
            self.open = Some((first, log, off));
        }
        let Some((_, log, off)) = &self.open else {
            return Err(VaultError::Internal("journal reader"));
        };
        let op = self.store.off_path(first);
        let lp = self.store.log_path(first);
        let at = seq - first;
        let start =
            read_u64(off, at, &op)?.ok_or_else(|| damaged(format!("no offset for entry {seq}")))?;
        // The next line's start bounds this one, when it is known.
        let line = match read_u64(off, at + 1, &op)? {
            Some(next) if next > start && next - start <= MAX_LINE as u64 + 1 => {
                let mut buf = vec![0u8; (next - start) as usize];
                log.read_exact_at(&mut buf, start)
                    .map_err(io_err("read", &lp))?;
                if buf.pop() != Some(b'\n') {
                    return Err(damaged(format!("entry {seq} is not a line")));
                }
                buf
            }
            _ => {
                let mut r = BufReader::new(log);
                r.seek(SeekFrom::Start(start))
                    .map_err(io_err("read", &lp))?;
                read_line(&mut r, &lp)?.ok_or_else(|| damaged(format!("entry {seq} is missing")))?
            }
        };
        parse(&line, seq)
    }
}

impl JournalStore {
    /// Opens (creating) the journal at `dir`, re-deriving what a crash may
    /// have left unwritten.
    pub fn open(dir: &Path) -> Result<Self> {
        for d in [dir.to_path_buf(), dir.join("log"), dir.join("vaults")] {
            let mut b = std::fs::DirBuilder::new();
            b.recursive(true);
            std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
            b.create(&d).map_err(io_err("create", &d))?;
        }
        if let Some(parent) = dir.parent() {
            sync_dir(parent)?;
        }
        sync_dir(dir)?;
        let store = Self {
            dir: dir.to_path_buf(),
            end: AtomicU64::new(0),
            last_checkpoint: Mutex::new(None),
            appender: Mutex::new(Appender {
                segment: 1,
                segment_len: 0,
                checkpoints_len: 0,
                watermark: 0,
                broken: false,
            }),
        };
        store.recover()?;
        Ok(store)
    }

    /// Whether a journal directory holds entries (the database beside it
    /// must not be a new one).
    pub fn has_entries(dir: &Path) -> bool {
        std::fs::read_dir(dir.join("log"))
            .map(|mut d| d.next().is_some())
            .unwrap_or(false)
    }

    fn log_path(&self, first: u64) -> PathBuf {
        self.dir.join("log").join(format!("{first:020}.jsonl"))
    }
    fn off_path(&self, first: u64) -> PathBuf {
        self.dir.join("log").join(format!("{first:020}.off"))
    }
    fn index_path(&self, b: PrincipalId, pinned: bool) -> PathBuf {
        let ext = if pinned { "pin" } else { "idx" };
        self.dir.join("vaults").join(format!("{b}.{ext}"))
    }
    fn checkpoints_path(&self) -> PathBuf {
        self.dir.join("checkpoints.jsonl")
    }
    fn watermark_path(&self) -> PathBuf {
        self.dir.join("indexed")
    }

    /// The newest entry's seq (0 when empty).
    pub fn end(&self) -> u64 {
        self.end.load(Ordering::Acquire)
    }

    // --- reading -----------------------------------------------------------

    pub fn last(&self) -> Result<Option<Record>> {
        self.record(self.end())
    }

    pub fn record(&self, seq: u64) -> Result<Option<Record>> {
        if seq == 0 || seq > self.end() {
            return Ok(None);
        }
        self.read_record(seq).map(Some)
    }

    /// Entry `seq`, which must be in the log (no bound check).
    fn read_record(&self, seq: u64) -> Result<Record> {
        Reader::new(self).get(seq)
    }

    /// Where entry `seq`'s line starts in its segment.
    fn line_start(&self, first: u64, seq: u64) -> Result<u64> {
        let path = self.off_path(first);
        let at = seq
            .checked_sub(first)
            .ok_or_else(|| damaged(format!("entry {seq} looked for in segment {first}")))?;
        let f = File::open(&path).map_err(io_err("open", &path))?;
        read_u64(&f, at, &path)?.ok_or_else(|| damaged(format!("no offset for entry {seq}")))
    }

    /// Entries `from..=to`, oldest first.
    pub fn range(&self, from: u64, to: u64) -> Result<Vec<Record>> {
        let mut out = Vec::new();
        self.scan(from, to, |r| {
            out.push(r);
            Ok(true)
        })?;
        Ok(out)
    }

    /// Reads entries `from..=to` in order, while `each` says to go on.
    fn scan(&self, from: u64, to: u64, mut each: impl FnMut(Record) -> Result<bool>) -> Result<()> {
        let to = to.min(self.end());
        let mut seq = from.max(1);
        while seq <= to {
            let first = segment_of(seq);
            let path = self.log_path(first);
            let f = File::open(&path).map_err(io_err("open", &path))?;
            let mut r = BufReader::with_capacity(64 << 10, f);
            r.seek(SeekFrom::Start(self.line_start(first, seq)?))
                .map_err(io_err("read", &path))?;
            let last = to.min(first + SEGMENT - 1);
            while seq <= last {
                let line = read_line(&mut r, &path)?
                    .ok_or_else(|| damaged(format!("entry {seq} is missing")))?;
                if !each(parse(&line, seq)?)? {
                    return Ok(());
                }
                seq += 1;
            }
        }
        Ok(())
    }

    /// The first entry (oldest first) for which `pick` holds.
    pub fn first_where(&self, pick: impl Fn(&Record) -> bool) -> Result<Option<Record>> {
        let mut found = None;
        self.scan(1, u64::MAX, |r| {
            if pick(&r) {
                found = Some(r);
                return Ok(false);
            }
            Ok(true)
        })?;
        Ok(found)
    }

    /// The last entry at or before `seq` for which `pick` holds: segments
    /// from the newest back, each read forward (sequential reads, not one
    /// seek per entry).
    pub fn last_where(&self, seq: u64, pick: impl Fn(&Record) -> bool) -> Result<Option<Record>> {
        let seq = seq.min(self.end());
        if seq == 0 {
            return Ok(None);
        }
        // Mostly the newest entry itself (an export with no end date).
        let newest = self.read_record(seq)?;
        if pick(&newest) {
            return Ok(Some(newest));
        }
        let mut first = segment_of(seq);
        loop {
            let mut found = None;
            self.scan(first, seq.min(first + SEGMENT - 1), |r| {
                if pick(&r) {
                    found = Some(r);
                }
                Ok(true)
            })?;
            if found.is_some() || first == 1 {
                return Ok(found);
            }
            first -= SEGMENT;
        }
    }

    /// A page of a vault's entries, newest first: the `limit` entries
    /// before entry `before` (from the newest when `None`).
    pub fn page_of_vault(
        &self,
        b: PrincipalId,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Record>> {
        let below = before.unwrap_or(u64::MAX).min(self.end().saturating_add(1));
        self.indexed(b, false, below, limit)
    }

    /// The newest `limit` pinned entries of a vault, newest first.
    pub fn pinned_of_vault(&self, b: PrincipalId, limit: usize) -> Result<Vec<Record>> {
        self.indexed(b, true, self.end().saturating_add(1), limit)
    }

    /// The newest `limit` entries below `below` that an index names under
    /// vault `b`, newest first.
    fn indexed(
        &self,
        b: PrincipalId,
        pinned: bool,
        below: u64,
        limit: usize,
    ) -> Result<Vec<Record>> {
        let path = self.index_path(b, pinned);
        let f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err("open", &path)(e)),
        };
        let n = f.metadata().map_err(io_err("read", &path))?.len() / 8;
        // The first position holding a seq ≥ `below` (seqs ascend).
        let (mut lo, mut hi) = (0u64, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match read_u64(&f, mid, &path)? {
                Some(s) if s < below => lo = mid + 1,
                _ => hi = mid,
            }
        }
        let want = b.to_string();
        let end = self.end();
        let mut reader = Reader::new(self);
        let mut out = Vec::new();
        let mut at = lo;
        while at > 0 && out.len() < limit {
            at -= 1;
            let Some(seq) = read_u64(&f, at, &path)? else {
                break;
            };
            // Derived data: a value that cannot be right is passed over,
            // and no other vault's entry is ever handed over.
            if seq == 0 || seq >= below || seq > end {
                continue;
            }
            let r = reader.get(seq)?;
            if r.entry.beneficiary.as_deref() == Some(want.as_str()) {
                out.push(r);
            }
        }
        Ok(out)
    }

    pub fn last_checkpoint(&self) -> Result<Option<Checkpoint>> {
        Ok(lock(&self.last_checkpoint).clone())
    }

    /// Every checkpoint signing an entry in the log, oldest first, while
    /// `each` says to go on.
    fn checkpoints(&self, mut each: impl FnMut(Checkpoint) -> bool) -> Result<()> {
        let end = self.end();
        let path = self.checkpoints_path();
        let f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err("open", &path)(e)),
        };
        let mut r = BufReader::new(f);
        while let Some(line) = read_line(&mut r, &path)? {
            let c: Checkpoint = serde_json::from_slice(&line)
                .map_err(|_| damaged("a checkpoint does not decode"))?;
            if c.seq > end || !each(c) {
                break;
            }
        }
        Ok(())
    }

    /// The first checkpoint at or after `seq`.
    pub fn checkpoint_from(&self, seq: u64) -> Result<Option<Checkpoint>> {
        let mut found = None;
        self.checkpoints(|c| {
            if c.seq >= seq {
                found = Some(c);
                return false;
            }
            true
        })?;
        Ok(found)
    }

    /// The last checkpoint strictly before `seq`.
    pub fn checkpoint_before(&self, seq: u64) -> Result<Option<Checkpoint>> {
        let mut found = None;
        self.checkpoints(|c| {
            if c.seq < seq {
                found = Some(c);
                return true;
            }
            false
        })?;
        Ok(found)
    }

    /// Checkpoints signing entries `from..=to`.
    pub fn checkpoints_in(&self, from: u64, to: u64) -> Result<Vec<Checkpoint>> {
        let mut out = Vec::new();
        self.checkpoints(|c| {
            if c.seq > to {
                return false;
            }
            if c.seq >= from {
                out.push(c);
            }
            true
        })?;
        Ok(out)
    }

    /// Everything, as a backup copies it: checkpoints first, then entries,
    /// so every checkpoint copied names an entry copied too (the journal
    /// keeps being written). Values are the stored JSON; keys the seq.
    pub fn dump(&self, mut each: impl FnMut(&str, &[u8], &[u8]) -> Result<()>) -> Result<u64> {
        let end = self.end();
        let mut n = 0;
        let mut failed = None;
        self.checkpoints(|c| {
            if c.seq > end {
                return false;
            }
            let sent = serde_json::to_vec(&c)
                .map_err(VaultError::from)
                .and_then(|v| each("checkpoints", &c.seq.to_be_bytes(), &v));
            match sent {
                Ok(()) => {
                    n += 1;
                    true
                }
                Err(e) => {
                    failed = Some(e);
                    false
                }
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        self.scan(1, end, |r| {
            let v = serde_json::to_vec(&r)?;
            each("audit", &r.entry.seq.to_be_bytes(), &v)?;
            n += 1;
            Ok(true)
        })?;
        Ok(n)
    }

    // --- writing -----------------------------------------------------------

    /// Appends `entries` (consecutive, following the log) and `checkpoints`
    /// durably; returns once both are on disk and indexed, saying whether
    /// the derived files are due an [`Self::advance_watermark`].
    pub fn commit(&self, entries: &[Appended], checkpoints: &[Checkpoint]) -> Result<bool> {
        let mut a = lock(&self.appender);
        if a.broken {
            return Err(VaultError::Db(
                "journal: a failed write could not be undone; restart the server".into(),
            ));
        }
        // Cleared below once the files are known whole again (a panic in
        // between leaves it set).
        a.broken = true;
        let before = (a.segment, a.segment_len, a.checkpoints_len);
        let starts = match self.write_durably(&mut a, entries, checkpoints) {
            Ok(s) => s,
            Err(e) => {
                if self.undo(&mut a, before).is_ok() {
                    a.broken = false;
                }
                return Err(e);
            }
        };
        // The lines are durable: what follows is derived, and re-derived at
        // the next start if it fails half-way.
        self.write_offsets(&starts)?;
        self.write_indexes(entries)?;
        if let Some(last) = entries.last() {
            self.end.store(last.record.entry.seq, Ordering::Release);
        }
        if let Some(c) = checkpoints.last() {
            *lock(&self.last_checkpoint) = Some(c.clone());
        }
        a.broken = false;
        Ok(self.end() - a.watermark >= WATERMARK_EVERY)
    }

    fn write_durably(
        &self,
        a: &mut Appender,
        entries: &[Appended],
        checkpoints: &[Checkpoint],
    ) -> Result<Vec<(u64, u64)>> {
        let mut starts = Vec::with_capacity(entries.len());
        let mut expected = self.end() + 1;
        let mut i = 0;
        while i < entries.len() {
            let first = segment_of(expected);
            let path = self.log_path(first);
            // A new directory entry (or one a crash may have left unsynced).
            let created = first != a.segment || !path.exists();
            let mut f = OpenOptions::new()
                .append(true)
                .create(true)
                .mode(0o600)
                .open(&path)
                .map_err(io_err("open", &path))?;
            if first != a.segment {
                a.segment = first;
                a.segment_len = 0;
            }
            let mut buf = Vec::new();
            while i < entries.len() && segment_of(expected) == first {
                let r = &entries[i].record;
                if r.entry.seq != expected {
                    return Err(VaultError::Internal("journal entries out of order"));
                }
                starts.push((first, a.segment_len + buf.len() as u64));
                let line = serde_json::to_vec(r)?;
                if line.len() > MAX_LINE {
                    return Err(VaultError::Internal("a journal entry is too long"));
                }
                buf.extend(line);
                buf.push(b'\n');
                expected += 1;
                i += 1;
            }
            f.write_all(&buf).map_err(io_err("write", &path))?;
            f.sync_data().map_err(io_err("sync", &path))?;
            a.segment_len += buf.len() as u64;
            if created {
                sync_dir(&self.dir.join("log"))?;
            }
        }
        if !checkpoints.is_empty() {
            let path = self.checkpoints_path();
            let mut buf = Vec::new();
            for c in checkpoints {
                serde_json::to_writer(&mut buf, c)?;
                buf.push(b'\n');
            }
            let created = !path.exists();
            let mut f = append_file(&path)?;
            f.write_all(&buf).map_err(io_err("write", &path))?;
            f.sync_data().map_err(io_err("sync", &path))?;
            if created {
                sync_dir(&self.dir)?;
            }
            a.checkpoints_len += buf.len() as u64;
        }
        Ok(starts)
    }

    /// Puts the files back as they were before a failed commit.
    fn undo(&self, a: &mut Appender, (segment, len, cps): (u64, u64, u64)) -> Result<()> {
        if a.segment != segment {
            let p = self.log_path(a.segment);
            std::fs::remove_file(&p).map_err(io_err("remove", &p))?;
            sync_dir(&self.dir.join("log"))?;
        }
        let p = self.log_path(segment);
        if p.exists() {
            truncate(&p, len)?;
        }
        let p = self.checkpoints_path();
        if p.exists() {
            truncate(&p, cps)?;
        }
        a.segment = segment;
        a.segment_len = len;
        a.checkpoints_len = cps;
        Ok(())
    }

    /// Appends each entry's line start to its segment's offsets.
    fn write_offsets(&self, starts: &[(u64, u64)]) -> Result<()> {
        let mut offsets: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
        for (first, start) in starts {
            offsets
                .entry(*first)
                .or_default()
                .extend(start.to_le_bytes());
        }
        for (first, bytes) in offsets {
            let p = self.off_path(first);
            append_file(&p)?
                .write_all(&bytes)
                .map_err(io_err("write", &p))?;
        }
        Ok(())
    }

    /// Appends each entry to its vault's indexes.
    fn write_indexes(&self, entries: &[Appended]) -> Result<()> {
        let mut vaults: BTreeMap<(PrincipalId, bool), Vec<u8>> = BTreeMap::new();
        for e in entries {
            if let Some(b) = e.vault {
                let seq = e.record.entry.seq.to_le_bytes();
                vaults.entry((b, false)).or_default().extend(seq);
                if e.pinned {
                    vaults.entry((b, true)).or_default().extend(seq);
                }
            }
        }
        for ((b, pinned), bytes) in vaults {
            let p = self.index_path(b, pinned);
            append_file(&p)?
                .write_all(&bytes)
                .map_err(io_err("write", &p))?;
        }
        Ok(())
    }

    /// Makes every derived file durable, then says so in `indexed`. The
    /// writer runs it in the background, off the answering path; a failure
    /// only leaves more to re-derive at the next start.
    pub fn advance_watermark(&self) -> Result<()> {
        let end = self.end();
        self.sync_derived(end)?;
        let mut a = lock(&self.appender);
        a.watermark = a.watermark.max(end);
        Ok(())
    }

    /// `syncfs`, then `indexed` = `end`: every derived file written for
    /// entries up to `end` was written before the sync began.
    fn sync_derived(&self, end: u64) -> Result<()> {
        let d = File::open(&self.dir).map_err(io_err("open", &self.dir))?;
        rustix::fs::syncfs(&d).map_err(|e| io_err("sync", &self.dir)(std::io::Error::from(e)))?;
        let tmp = self.dir.join("indexed.new");
        let _ = std::fs::remove_file(&tmp);
        crate::datadir::write_private(&tmp, end.to_string().as_bytes())?;
        let path = self.watermark_path();
        std::fs::rename(&tmp, &path).map_err(io_err("rename", &path))?;
        sync_dir(&self.dir)
    }

    // --- opening -------------------------------------------------------------

    /// Finds the log's end, cuts an unfinished last line, and re-derives the
    /// offsets and vault indexes of every entry after the watermark.
    fn recover(&self) -> Result<()> {
        let log = self.dir.join("log");
        let mut segments = Vec::new();
        for e in std::fs::read_dir(&log).map_err(io_err("list", &log))? {
            let e = e.map_err(io_err("list", &log))?;
            let name = e.file_name();
            let name = name.to_string_lossy();
            if let Some(n) = name.strip_suffix(".jsonl") {
                let first: u64 = n
                    .parse()
                    .map_err(|_| damaged(format!("stray file {name}")))?;
                segments.push(first);
            }
        }
        segments.sort_unstable();
        for (k, first) in segments.iter().enumerate() {
            if *first != k as u64 * SEGMENT + 1 {
                return Err(damaged("a segment is missing"));
            }
        }
        let watermark = match std::fs::read_to_string(self.watermark_path()) {
            Ok(s) => s.trim().parse::<u64>().map_err(|_| damaged("indexed"))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(io_err("read", &self.watermark_path())(e)),
        };
        let last_segment = segments.last().copied().unwrap_or(1);
        if watermark > 0 && segment_of(watermark) > last_segment {
            return Err(damaged("the log ends before its indexes"));
        }
        // Entries up to the watermark are whole, and so are their offsets.
        let mut prev = if watermark == 0 {
            ChainHash::GENESIS
        } else {
            self.read_record(watermark)?.hash
        };
        let mut seq = watermark + 1;
        let mut touched = BTreeSet::new();
        let from = seq;
        for &first in segments.iter().filter(|f| **f + SEGMENT > from) {
            self.recover_segment(
                first,
                first == last_segment,
                watermark,
                &mut seq,
                &mut prev,
                &mut touched,
            )?;
        }
        self.end.store(seq - 1, Ordering::Release);
        // Vault indexes: what follows the watermark is cut, then redone in
        // bounded batches from the log.
        for &(b, pinned) in &touched {
            cut_index(&self.index_path(b, pinned), watermark)?;
        }
        let end = self.end();
        let mut at = watermark + 1;
        while at <= end {
            let to = end.min(at + WATERMARK_EVERY - 1);
            let batch: Vec<Appended> = self
                .range(at, to)?
                .into_iter()
                .map(Appended::from_record)
                .collect();
            self.write_indexes(&batch)?;
            at = to + 1;
        }
        let keep = self.recover_checkpoints(watermark)?;
        {
            let mut a = lock(&self.appender);
            a.segment = segment_of(end.max(1));
            let p = self.log_path(a.segment);
            a.segment_len = match std::fs::metadata(&p) {
                Ok(m) => m.len(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
                Err(e) => return Err(io_err("read", &p)(e)),
            };
            a.checkpoints_len = keep;
        }
        if end > watermark {
            self.sync_derived(end)?;
        }
        lock(&self.appender).watermark = end;
        Ok(())
    }

    /// Checks segment `first` from entry `*seq` on, re-deriving its offsets;
    /// advances `*seq` and `*prev` past its last whole entry and notes the
    /// vault indexes its entries touch.
    fn recover_segment(
        &self,
        first: u64,
        is_last: bool,
        watermark: u64,
        seq: &mut u64,
        prev: &mut ChainHash,
        touched: &mut BTreeSet<(PrincipalId, bool)>,
    ) -> Result<()> {
        let path = self.log_path(first);
        // Offsets of entries up to the watermark stay; the rest are redone.
        let kept = watermark.saturating_sub(first - 1).min(SEGMENT);
        let off = self.off_path(first);
        if off.exists() {
            truncate(&off, kept * 8)?;
        }
        let start = if *seq == first {
            0
        } else {
            let at = self.line_start(first, *seq - 1)?;
            let f = File::open(&path).map_err(io_err("open", &path))?;
            let mut r = BufReader::new(f);
            r.seek(SeekFrom::Start(at)).map_err(io_err("read", &path))?;
            let line = read_line(&mut r, &path)?
                .ok_or_else(|| damaged(format!("entry {} is missing", *seq - 1)))?;
            at + line.len() as u64 + 1
        };
        let f = File::open(&path).map_err(io_err("open", &path))?;
        let total = f.metadata().map_err(io_err("read", &path))?.len();
        // Bytes after the last newline are a line whose sync never
        // returned: never acknowledged.
        let whole = last_line_end(&f, start, total, &path)?;
        if whole < total && !is_last {
            return Err(damaged(format!("segment {first} ends mid-line")));
        }
        let mut r = BufReader::new(f);
        r.seek(SeekFrom::Start(start))
            .map_err(io_err("read", &path))?;
        let mut at = start;
        let mut offsets = Vec::new();
        let mut cut = whole;
        while at < whole {
            let line = read_line(&mut r, &path)?
                .ok_or_else(|| damaged(format!("entry {} is missing", *seq)))?;
            let len = line.len() as u64 + 1;
            let rec = parse(&line, *seq)
                .ok()
                .filter(|rec| prev.next(&rec.entry) == rec.hash);
            let Some(rec) = rec else {
                if is_last && at + len == whole {
                    // The last line, garbled: a write cut by the power.
                    cut = at;
                    break;
                }
                return Err(damaged(format!("entry {} does not decode or chain", *seq)));
            };
            if *seq >= first + SEGMENT {
                return Err(damaged(format!("segment {first} holds too many entries")));
            }
            offsets.extend(at.to_le_bytes());
            at += len;
            *prev = rec.hash;
            *seq += 1;
            let a = Appended::from_record(rec);
            if let Some(b) = a.vault {
                touched.insert((b, false));
                if a.pinned {
                    touched.insert((b, true));
                }
            }
        }
        if !is_last && *seq != first + SEGMENT {
            return Err(damaged(format!("segment {first} is cut short")));
        }
        if cut < total {
            tracing::warn!(
                entry = *seq,
                "journal: an unfinished last line (never acknowledged) was cut"
            );
            truncate(&path, cut)?;
        }
        append_file(&off)?
            .write_all(&offsets)
            .map_err(io_err("write", &off))?;
        Ok(())
    }

    /// Keeps the checkpoints that sign an entry of the log as it is now
    /// (checking those after the watermark against their entry); cuts an
    /// unfinished or garbled last line. Returns the file's kept length.
    fn recover_checkpoints(&self, watermark: u64) -> Result<u64> {
        let path = self.checkpoints_path();
        let f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                *lock(&self.last_checkpoint) = None;
                return Ok(0);
            }
            Err(e) => return Err(io_err("open", &path)(e)),
        };
        let total = f.metadata().map_err(io_err("read", &path))?.len();
        let whole = last_line_end(&f, 0, total, &path)?;
        let mut r = BufReader::new(f);
        let mut keep = 0u64;
        let mut last: Option<Checkpoint> = None;
        while keep < whole {
            let line =
                read_line(&mut r, &path)?.ok_or_else(|| damaged("a checkpoint is missing"))?;
            let len = line.len() as u64 + 1;
            let Ok(c) = serde_json::from_slice::<Checkpoint>(&line) else {
                if keep + len == whole {
                    break;
                }
                return Err(damaged("a checkpoint does not decode"));
            };
            if c.seq == 0 || c.seq > self.end() {
                // Signing entries cut with an unfinished tail.
                break;
            }
            if last.as_ref().is_some_and(|l| l.seq >= c.seq) {
                return Err(damaged("checkpoints out of order"));
            }
            if c.seq > watermark && self.read_record(c.seq)?.hash != c.hash {
                return Err(damaged(format!(
                    "the checkpoint of entry {} does not match it",
                    c.seq
                )));
            }
            keep += len;
            last = Some(c);
        }
        if keep < total {
            truncate(&path, keep)?;
        }
        *lock(&self.last_checkpoint) = last;
        Ok(keep)
    }

    /// Entries and checkpoints kept in the database's old tables (a journal
    /// from before the files, or a backup just restored) moved here, in
    /// order, in batches. Returns how many entries came.
    pub fn import(
        &self,
        records: impl Iterator<Item = Result<Record>>,
        checkpoints: &mut dyn Iterator<Item = Result<Checkpoint>>,
    ) -> Result<u64> {
        let mut batch = Vec::new();
        let mut pending_cp: Option<Checkpoint> = None;
        let mut n = 0;
        let mut flush =
            |batch: &mut Vec<Appended>, pending_cp: &mut Option<Checkpoint>| -> Result<()> {
                let Some(last) = batch.last().map(|a| a.record.entry.seq) else {
                    return Ok(());
                };
                // Checkpoints already moved (an import cut short) are not
                // moved twice; one whose entries moved before it did is.
                let signed = self.last_checkpoint()?.map_or(0, |c| c.seq);
                let mut cps = Vec::new();
                loop {
                    let c = match pending_cp.take() {
                        Some(c) => c,
                        None => match checkpoints.next() {
                            Some(c) => c?,
                            None => break,
                        },
                    };
                    if c.seq > last {
                        *pending_cp = Some(c);
                        break;
                    }
                    if c.seq > signed {
                        cps.push(c);
                    }
                }
                if self.commit(batch, &cps)? {
                    self.advance_watermark()?;
                }
                batch.clear();
                Ok(())
            };
        for r in records {
            let r = r?;
            if r.entry.seq <= self.end() {
                continue;
            }
            batch.push(Appended::from_record(r));
            n += 1;
            if batch.len() >= WATERMARK_EVERY as usize {
                flush(&mut batch, &mut pending_cp)?;
            }
        }
        flush(&mut batch, &mut pending_cp)?;
        Ok(n)
    }
}

/// Reads a line (without its `\n`); `None` at the end or on a line not
/// finished yet. A line over [`MAX_LINE`] is damage.
fn read_line(r: &mut impl BufRead, path: &Path) -> Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let n = r
        .by_ref()
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut line)
        .map_err(io_err("read", path))?;
    if n == 0 || line.last() != Some(&b'\n') {
        if line.len() > MAX_LINE {
            return Err(damaged("a line is too long"));
        }
        return Ok(None);
    }
    line.pop();
    Ok(Some(line))
}

/// Where the last whole line of `f[start..total]` ends (just after its
/// newline; `start` if there is none).
fn last_line_end(f: &File, start: u64, total: u64, path: &Path) -> Result<u64> {
    let mut hi = total;
    let mut buf = vec![0u8; 64 << 10];
    while hi > start {
        let lo = hi.saturating_sub(buf.len() as u64).max(start);
        let chunk = &mut buf[..(hi - lo) as usize];
        f.read_exact_at(chunk, lo).map_err(io_err("read", path))?;
        if let Some(i) = chunk.iter().rposition(|b| *b == b'\n') {
            return Ok(lo + i as u64 + 1);
        }
        hi = lo;
    }
    Ok(start)
}

fn parse(line: &[u8], seq: u64) -> Result<Record> {
    let r: Record = serde_json::from_slice(line)
        .map_err(|_| damaged(format!("entry {seq} does not decode")))?;
    if r.entry.seq != seq {
        return Err(damaged(format!("entry {seq} holds entry {}", r.entry.seq)));
    }
    Ok(r)
}

/// The `at`-th u64 of a file, if the file holds it whole.
fn read_u64(f: &File, at: u64, path: &Path) -> Result<Option<u64>> {
    let mut b = [0u8; 8];
    match f.read_exact_at(&mut b, at.saturating_mul(8)) {
        Ok(()) => Ok(Some(u64::from_le_bytes(b))),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(io_err("read", path)(e)),
    }
}

/// Cuts a vault index before its first seq past `watermark` (or out of
/// order, or torn): what follows is re-derived from the log.
fn cut_index(path: &Path, watermark: u64) -> Result<()> {
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err("open", path)(e)),
    };
    let mut r = BufReader::new(f);
    let mut keep = 0u64;
    let mut prev = 0u64;
    let mut b = [0u8; 8];
    loop {
        match r.read_exact(&mut b) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(io_err("read", path)(e)),
        }
        let s = u64::from_le_bytes(b);
        if s <= prev || s > watermark {
            break;
        }
        prev = s;
        keep += 8;
    }
    truncate(path, keep)
}

fn append_file(path: &Path) -> Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err("open", path))
}

fn truncate(path: &Path, len: u64) -> Result<()> {
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io_err("open", path))?;
    if f.metadata().map_err(io_err("read", path))?.len() != len {
        f.set_len(len).map_err(io_err("truncate", path))?;
        f.sync_all().map_err(io_err("sync", path))?;
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("sync", dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{Event, Outcome};
    use coffre_crypto::audit::{AuditSigningKey, Entry};

    /// Entries `from..from+n`, chained after `prev`, alternately filed
    /// under `a` and `b`; every tenth is a recovery (kept in view).
    fn chain(
        from: u64,
        n: u64,
        prev: &mut ChainHash,
        a: PrincipalId,
        b: PrincipalId,
    ) -> Vec<Appended> {
        (from..from + n)
            .map(|seq| {
                let vault = if seq % 2 == 0 { a } else { b };
                let event = if seq % 10 == 0 {
                    Event::RecoveryStart
                } else {
                    Event::DocumentDownload
                };
                let entry = Entry {
                    seq,
                    time_ms: seq as i64,
                    actor: "operator".into(),
                    action: event.code().into(),
                    outcome: Outcome::Ok.code().into(),
                    beneficiary: Some(vault.to_string()),
                    document: None,
                    detail: None,
                };
                let hash = prev.next(&entry);
                *prev = hash;
                Appended::from_record(Record { entry, hash })
            })
            .collect()
    }

    /// A new journal in a new directory, and two vaults.
    fn setup() -> (tempfile::TempDir, PrincipalId, PrincipalId, JournalStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = JournalStore::open(dir.path()).unwrap();
        let a = PrincipalId::random().unwrap();
        (dir, a, PrincipalId::random().unwrap(), store)
    }

    fn seqs(rs: &[Record]) -> Vec<u64> {
        rs.iter().map(|r| r.entry.seq).collect()
    }

    #[test]
    fn entries_indexes_and_checkpoints_read_back_across_segments_and_reopening() {
        let (dir, a, b, store) = setup();
        let key = AuditSigningKey::generate().unwrap();
        let mut prev = ChainHash::GENESIS;
        // Past one segment, in batches of uneven sizes.
        let total = SEGMENT + 1000;
        let mut seq = 1;
        let mut cps = Vec::new();
        while seq <= total {
            let n = (7919).min(total - seq + 1);
            let batch = chain(seq, n, &mut prev, a, b);
            let c = key.checkpoint(seq + n - 1, prev, 0);
            store.commit(&batch, std::slice::from_ref(&c)).unwrap();
            cps.push(c);
            seq += n;
        }
        let check = |s: &JournalStore| {
            assert_eq!(s.end(), total);
            assert_eq!(s.last().unwrap().unwrap().hash, prev);
            assert_eq!(s.record(SEGMENT).unwrap().unwrap().entry.seq, SEGMENT);
            assert_eq!(
                s.record(SEGMENT + 1).unwrap().unwrap().entry.seq,
                SEGMENT + 1
            );
            assert!(s.record(total + 1).unwrap().is_none());
            assert_eq!(
                seqs(&s.range(SEGMENT - 2, SEGMENT + 2).unwrap()),
                (SEGMENT - 2..=SEGMENT + 2).collect::<Vec<_>>()
            );
            let page = s.page_of_vault(a, None, 3).unwrap();
            assert_eq!(seqs(&page), vec![total, total - 2, total - 4]);
            let page = s.page_of_vault(b, Some(SEGMENT + 2), 3).unwrap();
            assert_eq!(seqs(&page), vec![SEGMENT + 1, SEGMENT - 1, SEGMENT - 3]);
            let pinned = s.pinned_of_vault(a, 2).unwrap();
            assert_eq!(seqs(&pinned), vec![total / 10 * 10, total / 10 * 10 - 10]);
            assert!(s.pinned_of_vault(b, 5).unwrap().is_empty());
            assert_eq!(s.last_checkpoint().unwrap().as_ref(), cps.last());
            assert_eq!(
                s.checkpoint_from(cps[2].seq + 1).unwrap().as_ref(),
                Some(&cps[3])
            );
            assert_eq!(
                s.checkpoint_before(cps[2].seq).unwrap().as_ref(),
                Some(&cps[1])
            );
            assert_eq!(
                s.checkpoints_in(cps[1].seq, cps[3].seq).unwrap(),
                cps[1..=3].to_vec()
            );
            assert_eq!(
                s.first_where(|r| r.entry.seq == 5000)
                    .unwrap()
                    .unwrap()
                    .entry
                    .seq,
                5000
            );
            assert_eq!(
                s.last_where(SEGMENT + 5, |r| r.entry.seq % 1000 == 0)
                    .unwrap()
                    .unwrap()
                    .entry
                    .seq,
                SEGMENT / 1000 * 1000
            );
        };
        check(&store);
        drop(store);
        check(&JournalStore::open(dir.path()).unwrap());
    }

    #[test]
    fn a_power_cut_loses_nothing_acknowledged_and_indexes_are_re_derived() {
        let (dir, a, b, store) = setup();
        let mut prev = ChainHash::GENESIS;
        // Past the watermark, then 100 entries after it.
        store
            .commit(&chain(1, WATERMARK_EVERY, &mut prev, a, b), &[])
            .unwrap();
        store
            .commit(&chain(WATERMARK_EVERY + 1, 100, &mut prev, a, b), &[])
            .unwrap();
        let before = store.page_of_vault(a, None, 80).unwrap();
        let pinned = store.pinned_of_vault(a, 30).unwrap();
        drop(store);
        // What a cut may leave of files written but not synced: indexes
        // short, garbage after them, an offsets file gone, half a line.
        let idx = dir.path().join("vaults").join(format!("{a}.idx"));
        let len = std::fs::metadata(&idx).unwrap().len();
        truncate(&idx, len - 8 * 30).unwrap();
        let mut f = OpenOptions::new().append(true).open(&idx).unwrap();
        f.write_all(&[0u8; 20]).unwrap();
        let pin = dir.path().join("vaults").join(format!("{a}.pin"));
        let len = std::fs::metadata(&pin).unwrap().len();
        truncate(&pin, len - 8 * 10).unwrap();
        let off = dir.path().join("log").join(format!("{:020}.off", 1));
        let len = std::fs::metadata(&off).unwrap().len();
        truncate(&off, len - 8 * 50).unwrap();
        let log = dir.path().join("log").join(format!("{:020}.jsonl", 1));
        OpenOptions::new()
            .append(true)
            .open(&log)
            .unwrap()
            .write_all(b"{\"seq\":99999,\"ti")
            .unwrap();

        let store = JournalStore::open(dir.path()).unwrap();
        assert_eq!(store.end(), WATERMARK_EVERY + 100);
        assert_eq!(store.last().unwrap().unwrap().hash, prev);
        assert_eq!(store.page_of_vault(a, None, 80).unwrap(), before);
        assert_eq!(store.pinned_of_vault(a, 30).unwrap(), pinned);
        // Appending goes on after the cut line, in the same chain.
        store
            .commit(&chain(WATERMARK_EVERY + 101, 3, &mut prev, a, b), &[])
            .unwrap();
        drop(store);
        let store = JournalStore::open(dir.path()).unwrap();
        assert_eq!(store.last().unwrap().unwrap().hash, prev);
        assert_eq!(
            store.range(1, u64::MAX).unwrap().len() as u64,
            WATERMARK_EVERY + 103
        );
    }

    #[test]
    fn an_index_never_hands_over_another_vaults_entry() {
        let (dir, a, b, store) = setup();
        let mut prev = ChainHash::GENESIS;
        store.commit(&chain(1, 10, &mut prev, a, b), &[]).unwrap();
        // b's index edited to name a's entries (2, 4).
        let idx = dir.path().join("vaults").join(format!("{b}.idx"));
        let mut bytes = Vec::new();
        for s in [1u64, 2, 3, 4, 5] {
            bytes.extend(s.to_le_bytes());
        }
        std::fs::write(&idx, bytes).unwrap();
        assert_eq!(
            seqs(&store.page_of_vault(b, None, 10).unwrap()),
            vec![5, 3, 1]
        );
    }

    #[test]
    fn a_middle_segment_cut_short_is_damage_not_a_new_start() {
        let (dir, a, b, store) = setup();
        let mut prev = ChainHash::GENESIS;
        store
            .commit(&chain(1, SEGMENT + 5, &mut prev, a, b), &[])
            .unwrap();
        drop(store);
        let _ = std::fs::remove_file(dir.path().join("indexed"));
        let log = dir.path().join("log").join(format!("{:020}.jsonl", 1));
        let len = std::fs::metadata(&log).unwrap().len();
        truncate(&log, len - 10).unwrap();
        assert!(matches!(
            JournalStore::open(dir.path()),
            Err(VaultError::Unreadable(_))
        ));
    }

    #[test]
    fn a_garbled_line_with_entries_after_it_is_damage_never_cut() {
        let (dir, a, b, store) = setup();
        let mut prev = ChainHash::GENESIS;
        store.commit(&chain(1, 20, &mut prev, a, b), &[]).unwrap();
        drop(store);
        let log = dir.path().join("log").join(format!("{:020}.jsonl", 1));
        let mut bytes = std::fs::read(&log).unwrap();
        // One byte of entry 10 changed: its chain breaks; 10 entries follow.
        let starts: Vec<usize> = std::iter::once(0)
            .chain(
                bytes
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| **c == b'\n')
                    .map(|(i, _)| i + 1),
            )
            .collect();
        let at = starts[9] + 30;
        bytes[at] = if bytes[at] == b'1' { b'2' } else { b'1' };
        std::fs::write(&log, &bytes).unwrap();
        let _ = std::fs::remove_file(dir.path().join("indexed"));
        assert!(matches!(
            JournalStore::open(dir.path()),
            Err(VaultError::Unreadable(_))
        ));
        // Nothing was cut.
        assert_eq!(std::fs::read(&log).unwrap(), bytes);
    }

    #[test]
    fn an_import_moves_records_and_checkpoints_and_resumes() {
        let (_dir, a, b, store) = setup();
        let key = AuditSigningKey::generate().unwrap();
        let mut prev = ChainHash::GENESIS;
        let all: Vec<Record> = chain(1, 5000, &mut prev, a, b)
            .into_iter()
            .map(|x| x.record)
            .collect();
        let cps: Vec<Checkpoint> = [256u64, 4352, 5000]
            .iter()
            .map(|s| key.checkpoint(*s, all[*s as usize - 1].hash, 0))
            .collect();
        // An import stopped after its first batch goes on from there.
        let n = store
            .import(
                all[..4096].iter().cloned().map(Ok),
                &mut cps.clone().into_iter().map(Ok),
            )
            .unwrap();
        assert_eq!(n, 4096);
        let n = store
            .import(
                all.iter().cloned().map(Ok),
                &mut cps.clone().into_iter().map(Ok),
            )
            .unwrap();
        assert_eq!(n, 5000 - 4096);
        assert_eq!(store.range(1, 5000).unwrap(), all);
        assert_eq!(store.checkpoints_in(1, 5000).unwrap(), cps);
        assert_eq!(store.pinned_of_vault(a, 1000).unwrap().len(), 500);
    }
}
