//! Root key rotation: a new version, every outer seal re-sealed under it,
//! the old versions retired.

use coffre_crypto::audit::AuditSigningKey;
use coffre_crypto::metadata::RecordKey;
use coffre_crypto::root::{BlindIndexKey, RootKeyRing};

use super::{RootFile, RotationReport};
use crate::access::Access;
use crate::journal::{Event, NewEntry, Who};
use crate::records::{CaseworkerRecord, Secret};
use crate::{Result, Vault, VaultError};

impl Vault {
    /// Adds a root key version, re-seals every outer seal and server secret
    /// under it, then retires the older versions. The ring file always holds
    /// every version a stored seal needs: the new ring is saved before
    /// anything is sealed with it, and old versions are dropped from the file
    /// only once nothing sealed with them remains. Interrupted, it is simply
    /// run again.
    pub async fn rotate_root(&self, file: &dyn RootFile) -> Result<RotationReport> {
        let _exclusive = self.inner.gate.write().await;
        let next = self.inner.root().rotated()?;
        file.save(&next)?;
        self.inner.set_root(next);
        let root = self.inner.root();
        let version = root.current_version();
        let resealed = self.reseal_all(&root)?;
        self.inner.journal.sync().await?;
        let stale = self.count_stale_seals(version)?;
        if stale > 0 {
            return Err(VaultError::Db(format!(
                "{stale} seals still use an old root version; old versions kept, run the rotation again"
            )));
        }
        let last = root.current_only();
        let retired: Vec<u32> = root
            .versions()
            .into_iter()
            .filter(|v| *v != version)
            .collect();
        file.save(&last)?;
        self.inner.set_root(last);
        drop(_exclusive);
        self.journal(
            NewEntry::ok(Who::Operator, Event::MaintenanceRootRotation).detail(format!(
                "version {version}, {resealed} seals, retired {retired:?}"
            )),
        )
        .await?;
        Ok(RotationReport {
            version,
            retired,
            resealed,
        })
    }

    /// Re-seals every outer seal and server secret under the ring's
    /// current version, one record at a time (each its own transaction;
    /// the rotation holds the write gate, so nothing else changes them).
    fn reseal_all(&self, root: &RootKeyRing) -> Result<u64> {
        let read = self.records().read();
        let mut n = 0u64;
        for cw in read.caseworkers().all()? {
            if cw.sealed_identity.is_empty() {
                continue;
            }
            let resealed = CaseworkerRecord {
                sealed_identity: Access::reseal_identity(&cw.sealed_identity, cw.id, root)?,
                ..cw
            };
            self.records().write(|tx| tx.caseworkers().put(&resealed))?;
            n += 1;
        }
        for id in read.beneficiaries().ids()? {
            self.records().write(|tx| {
                tx.beneficiaries().update(id, |b| {
                    b.sealed_identity = Access::reseal_identity(&b.sealed_identity, b.id, root)?;
                    Ok(())
                })
            })?;
            n += 1;
        }
        // The person keys' files: each rewritten whole, then renamed.
        for (id, _) in self.records().persons().list()? {
            self.records().persons().reseal(id, root)?;
            n += 1;
        }
        for which in Secret::ALL {
            if let Some(s) = read.meta().secret(which)? {
                let resealed = match which {
                    Secret::AuditSigning => AuditSigningKey::reseal(&s, root)?,
                    Secret::BlindIndex => BlindIndexKey::reseal(&s, root)?,
                    Secret::Records => RecordKey::reseal(&s, root)?,
                };
                self.records()
                    .write(|tx| tx.meta().put_secret(which, &resealed))?;
                n += 1;
            }
        }
        // In memory only, but it must keep opening its outer layer.
        let mut decoy = self
            .inner
            .decoy
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *decoy = Access::reseal_identity(&decoy, self.inner.decoy_id, root)?;
        Ok(n)
    }

    fn count_stale_seals(&self, version: u32) -> Result<u64> {
        let read = self.records().read();
        let stale = |s: &[u8]| RootKeyRing::sealed_version(s).map_or(true, |v| v != version);
        let mut n = 0;
        for cw in read.caseworkers().all()? {
            n += u64::from(!cw.sealed_identity.is_empty() && stale(&cw.sealed_identity));
        }
        for id in read.beneficiaries().ids()? {
            let b = read.beneficiaries().find(id)?;
            n += u64::from(stale(&b.sealed_identity));
        }
        n += self.records().persons().stale(version)?;
        for which in Secret::ALL {
            if let Some(s) = read.meta().secret(which)? {
                n += u64::from(stale(&s));
            }
        }
        Ok(n)
    }
}
