//! `coffre scrub`, `coffre gc`, `coffre keys rotate-root`, `coffre backup …`.

use std::io::BufReader;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use coffre_api::admin::protocol::{BackupReply, GcReply, Request, RotationReply, ScrubReply};
use coffre_crypto::{Identity, archive};
use coffre_vault::datadir::ROOT_IDENTITY_FILE;
use serde_json::json;

use crate::admin::{Admin, progress_bar, request, spinner};
use crate::print;

pub fn scrub(data_dir: &Path, json: bool) -> anyhow::Result<()> {
    let bar = progress_bar("scrubbing");
    let a: ScrubReply = Admin::connect(data_dir)?.call(&Request::Scrub, &mut |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })?;
    bar.finish_and_clear();
    let r = &a.report;
    let (missing, corrupt, orphans) = (&r.missing, &r.corrupt, &r.orphans);
    print(&a, json, |o| {
        writeln!(o, "scrub: {} objects read ({} bytes)", r.checked, r.bytes)?;
        for (what, items) in [("CORRUPT", corrupt), ("MISSING", missing)] {
            for p in items {
                writeln!(
                    o,
                    "  {what}: document {} (vault {}): {}",
                    p.document_id, p.beneficiary_id, p.reason
                )?;
            }
        }
        for k in orphans {
            writeln!(o, "  orphan: {k}")?;
        }
        for p in &r.records {
            writeln!(o, "  RECORDS: vault {}: {}", p.beneficiary_id, p.problem)?;
        }
        writeln!(
            o,
            "{} corrupt, {} missing, {} orphans",
            corrupt.len(),
            missing.len(),
            orphans.len()
        )?;
        if !orphans.is_empty() {
            writeln!(
                o,
                "orphans are harmless; `coffre gc` lists and removes them"
            )?;
        }
        Ok(())
    })?;
    if !r.records.is_empty() {
        bail!(
            "{} inconsistencies in the metadata: restore the newest backup that scrubs clean (`coffre backup restore`) and report it",
            r.records.len()
        );
    }
    if !(missing.is_empty() && corrupt.is_empty()) {
        bail!(
            "{} damaged and {} missing objects: restore them from the object store's own backup or versioning (the document keys are intact); the owners see the finding in their journal",
            corrupt.len(),
            missing.len()
        );
    }
    Ok(())
}

pub fn gc(data_dir: &Path, older_than: &str, apply: bool, json: bool) -> anyhow::Result<()> {
    let d = humantime::parse_duration(older_than)
        .with_context(|| format!("`{older_than}` is not a duration: write e.g. 24h, 7d, 30min"))?;
    let bar = spinner("listing stored objects");
    let a: anyhow::Result<GcReply> = request(
        data_dir,
        &Request::Gc {
            older_than_secs: d.as_secs(),
            apply,
        },
    );
    bar.finish_and_clear();
    let a = a?;
    let r = &a.report;
    print(&a, json, |o| {
        for k in &r.orphans {
            writeln!(o, "orphan: {k}")?;
        }
        if apply {
            writeln!(
                o,
                "{} orphan objects removed, {} interrupted uploads cleaned ({} objects seen)",
                r.removed, r.incomplete_uploads_removed, r.objects_seen
            )
        } else {
            writeln!(
                o,
                "dry run: {} orphan objects older than {older_than} ({} objects seen); run again with --apply to remove them",
                r.orphans.len(),
                r.objects_seen
            )
        }
    })
}

pub fn rotate_root(data_dir: &Path, json: bool) -> anyhow::Result<()> {
    let bar = spinner("re-sealing under a new root key version");
    let a: anyhow::Result<RotationReply> = request(data_dir, &Request::RotateRoot);
    bar.finish_and_clear();
    let a = a?;
    let r = &a.report;
    print(&a, json, |o| {
        writeln!(
            o,
            "root key version {} is current; {} seals re-sealed; retired versions {:?}",
            r.version, r.resealed, r.retired
        )?;
        writeln!(
            o,
            "take a new backup now: earlier ones hold the retired versions (`coffre backup create`)"
        )
    })
}

pub fn backup_create(
    data_dir: &Path,
    out: &Path,
    recipients: &[String],
    json: bool,
) -> anyhow::Result<()> {
    if out.exists() {
        bail!("{} exists already; choose another --out", out.display());
    }
    let bar = spinner("copying the metadata");
    let a: anyhow::Result<BackupReply> = request(
        data_dir,
        &Request::BackupCreate {
            recipients: recipients.to_vec(),
        },
    );
    bar.finish_and_clear();
    let a = a?;
    let made = PathBuf::from(&a.path);
    if std::fs::rename(&made, out).is_err() {
        // Another file system: copy, then remove the server's file.
        std::fs::copy(&made, out).with_context(|| {
            format!(
                "cannot write {}; the backup stays at {}",
                out.display(),
                made.display()
            )
        })?;
        std::fs::File::open(out)?.sync_all()?;
        let _ = std::fs::remove_file(&made);
    }
    let s = &a.summary;
    let v = json!({ "out": out.display().to_string(), "summary": s });
    print(&v, json, |o| {
        writeln!(
            o,
            "backup written to {} ({} records, {} documents)",
            out.display(),
            s.records,
            s.documents
        )?;
        writeln!(
            o,
            "it holds metadata and the root key file, not the objects: keep the object store's own copies, and keep this file at most 30 days (erased documents stay readable from it while it exists)"
        )
    })
}

pub fn backup_restore(
    file: &Path,
    data_dir: &Path,
    identity_path: &Path,
    json: bool,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(identity_path)
        .with_context(|| format!("cannot read {}", identity_path.display()))?;
    let identity = Identity::from_identity_file(&text)
        .map_err(|_| anyhow::anyhow!("{} is not an age identity file", identity_path.display()))?;
    let input =
        std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let reader = archive::open(&identity, BufReader::new(input)).map_err(|_| {
        anyhow::anyhow!("this identity does not open the backup (not encrypted to it, or damaged)")
    })?;
    let summary = coffre_vault::restore(BufReader::new(reader), data_dir)?;
    // The default layout keeps the root identity beside the data: put it
    // back, or the server cannot open the root key file.
    let target = data_dir.join(ROOT_IDENTITY_FILE);
    let mut copied = false;
    let mut identity_missing = false;
    if summary.root_identity_in_data_dir && !target.exists() {
        // Only if it is also the one that opens the ring (a backup made with
        // --recipient was opened by another key).
        let ring = std::fs::read(data_dir.join(coffre_vault::datadir::ROOT_KEYS_FILE))?;
        if coffre_crypto::root::RootKeyRing::from_file_with_identity(&ring, &identity).is_ok() {
            coffre_vault::datadir::write_private(&target, text.as_bytes())?;
            copied = true;
        } else {
            identity_missing = true;
        }
    }
    let v = json!({ "data_dir": data_dir.display().to_string(), "summary": summary,
                          "identity_copied": copied, "identity_missing": identity_missing });
    print(&v, json, |o| {
        writeln!(
            o,
            "restored {} records into {}",
            summary.records,
            data_dir.display()
        )?;
        if identity_missing {
            writeln!(
                o,
                "the key that opened this backup does not open its root key file: copy the server's root identity to {} before starting",
                target.display()
            )?;
        }
        if !summary.root_identity_in_data_dir {
            writeln!(
                o,
                "the root key file is protected by an identity kept outside the data directory: point server.root_identity_file at it"
            )?;
        }
        writeln!(
            o,
            "start it against the same object store: coffre serve --data-dir {} [--config FILE]",
            data_dir.display()
        )
    })
}
