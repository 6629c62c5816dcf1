//! What journal entries say: who acted, what they did, how it ended. Each
//! has a stable code, the string the audit format carries.

use std::fmt;

use coffre_crypto::{PrincipalId, ShareId};

/// An action the journal records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    StructureCreate,
    CaseworkerInvite,
    CaseworkerEnroll,
    CaseworkerDeactivate,
    BeneficiaryEnroll,
    BeneficiaryList,
    BeneficiarySee,
    SessionCreate,
    GrantCreate,
    GrantList,
    GrantRevoke,
    GrantExpire,
    DocumentUpload,
    DocumentList,
    DocumentRead,
    DocumentDownload,
    DocumentEdit,
    DocumentPrivacy,
    DocumentDelete,
    ShareCreate,
    ShareManage,
    ShareRevoke,
    ShareDownload,
    JournalRead,
    VaultExport,
    VaultErase,
    VaultRecover,
    MaintenanceGc,
    MaintenanceScrub,
    MaintenanceRootRotation,
    MaintenanceBackup,
    MaintenanceAuditExport,
    StructureUpdate,
    StructureKeyRotation,
    CaseworkerSecretChange,
    SecondFactorSetUp,
    SecondFactorReset,
    SecretChange,
    RecoveryStart,
    RecoveryConfirm,
    TrusteeAdd,
    TrusteeRemove,
    StructureLeave,
    NoticeAcknowledge,
    IntegrityAlarm,
}

impl Event {
    /// Every event, for exhaustive tests and documentation.
    pub const ALL: [Event; 45] = [
        Event::StructureCreate,
        Event::CaseworkerInvite,
        Event::CaseworkerEnroll,
        Event::CaseworkerDeactivate,
        Event::BeneficiaryEnroll,
        Event::BeneficiaryList,
        Event::BeneficiarySee,
        Event::SessionCreate,
        Event::GrantCreate,
        Event::GrantList,
        Event::GrantRevoke,
        Event::GrantExpire,
        Event::DocumentUpload,
        Event::DocumentList,
        Event::DocumentRead,
        Event::DocumentDownload,
        Event::DocumentEdit,
        Event::DocumentPrivacy,
        Event::DocumentDelete,
        Event::ShareCreate,
        Event::ShareManage,
        Event::ShareRevoke,
        Event::ShareDownload,
        Event::JournalRead,
        Event::VaultExport,
        Event::VaultErase,
        Event::VaultRecover,
        Event::MaintenanceGc,
        Event::MaintenanceScrub,
        Event::MaintenanceRootRotation,
        Event::MaintenanceBackup,
        Event::MaintenanceAuditExport,
        Event::StructureUpdate,
        Event::StructureKeyRotation,
        Event::CaseworkerSecretChange,
        Event::SecondFactorSetUp,
        Event::SecondFactorReset,
        Event::SecretChange,
        Event::RecoveryStart,
        Event::RecoveryConfirm,
        Event::TrusteeAdd,
        Event::TrusteeRemove,
        Event::StructureLeave,
        Event::NoticeAcknowledge,
        Event::IntegrityAlarm,
    ];

    /// Whether an entry stays in view at the top of the person's journal,
    /// whatever follows it: what changes who can open their papers, or
    /// tried to take them (a flood of reads must not hide a recovery).
    pub fn kept_in_view(self, outcome: Outcome) -> bool {
        match self {
            // Tried, even refused: the person must see them.
            Event::RecoveryStart
            | Event::RecoveryConfirm
            | Event::VaultRecover
            | Event::VaultErase
            | Event::IntegrityAlarm => true,
            Event::SecretChange
            | Event::TrusteeAdd
            | Event::TrusteeRemove
            | Event::GrantCreate
            | Event::GrantRevoke
            | Event::GrantExpire
            | Event::ShareCreate
            | Event::ShareRevoke
            | Event::StructureLeave => outcome == Outcome::Ok,
            _ => false,
        }
    }

    /// The stable code written in the journal.
    pub fn code(self) -> &'static str {
        match self {
            Event::StructureCreate => "structure.create",
            Event::CaseworkerInvite => "caseworker.invite",
            Event::CaseworkerEnroll => "caseworker.enroll",
            Event::CaseworkerDeactivate => "caseworker.deactivate",
            Event::BeneficiaryEnroll => "beneficiary.enroll",
            Event::BeneficiaryList => "beneficiary.list",
            Event::BeneficiarySee => "beneficiary.see",
            Event::SessionCreate => "session.create",
            Event::GrantCreate => "grant.create",
            Event::GrantList => "grant.list",
            Event::GrantRevoke => "grant.revoke",
            Event::GrantExpire => "grant.expire",
            Event::DocumentUpload => "document.upload",
            Event::DocumentList => "document.list",
            Event::DocumentRead => "document.read",
            Event::DocumentDownload => "document.download",
            Event::DocumentEdit => "document.edit",
            Event::DocumentPrivacy => "document.privacy",
            Event::DocumentDelete => "document.delete",
            Event::ShareCreate => "share.create",
            Event::ShareManage => "share.manage",
            Event::ShareRevoke => "share.revoke",
            Event::ShareDownload => "share.download",
            Event::JournalRead => "journal.read",
            Event::VaultExport => "vault.export",
            Event::VaultErase => "vault.erase",
            Event::VaultRecover => "vault.recover",
            Event::MaintenanceGc => "maintenance.gc",
            Event::MaintenanceScrub => "maintenance.scrub",
            Event::MaintenanceRootRotation => "maintenance.root_rotation",
            Event::MaintenanceBackup => "maintenance.backup",
            Event::MaintenanceAuditExport => "maintenance.audit_export",
            Event::StructureUpdate => "structure.update",
            Event::StructureKeyRotation => "structure.rotate_key",
            Event::CaseworkerSecretChange => "caseworker.password",
            Event::SecondFactorSetUp => "caseworker.second_factor",
            Event::SecondFactorReset => "caseworker.second_factor_reset",
            Event::SecretChange => "secret.change",
            Event::RecoveryStart => "vault.recover_start",
            Event::RecoveryConfirm => "vault.recover_confirm",
            Event::TrusteeAdd => "trustee.add",
            Event::TrusteeRemove => "trustee.remove",
            Event::StructureLeave => "structure.leave",
            Event::NoticeAcknowledge => "notice.acknowledge",
            Event::IntegrityAlarm => "integrity.alarm",
        }
    }

    /// The event a stored code names; journals written before the one
    /// spelling of "enroll" used `*.enrol`.
    pub fn from_code(code: &str) -> Option<Event> {
        match code {
            "caseworker.enrol" => Some(Event::CaseworkerEnroll),
            "beneficiary.enrol" => Some(Event::BeneficiaryEnroll),
            _ => Event::ALL.into_iter().find(|e| e.code() == code),
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// How an action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Ok,
    /// Refused (policy, lockout, bad credentials, no key).
    Denied,
    /// Attempted and failed (damaged object, store down).
    Failed,
    /// Begun; a second entry says how it ended (erasure).
    Started,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [
        Outcome::Ok,
        Outcome::Denied,
        Outcome::Failed,
        Outcome::Started,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Denied => "denied",
            Outcome::Failed => "failed",
            Outcome::Started => "started",
        }
    }

    pub fn from_code(code: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.code() == code)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Who acted, as the journal names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Who {
    Beneficiary(PrincipalId),
    Caseworker(PrincipalId),
    /// The operator, through the CLI.
    Operator,
    /// The server itself (expiry sweeps).
    System,
    /// Someone not logged in.
    Anonymous,
    /// Whoever holds a share link.
    Share(ShareId),
}

impl Who {
    /// Parses a stored actor label.
    pub fn parse(label: &str) -> Option<Who> {
        match label {
            "operator" => return Some(Who::Operator),
            "system" => return Some(Who::System),
            "anonymous" => return Some(Who::Anonymous),
            _ => {}
        }
        let (kind, id) = label.split_once(':')?;
        match kind {
            "beneficiary" => id.parse().ok().map(Who::Beneficiary),
            "caseworker" => id.parse().ok().map(Who::Caseworker),
            "share" => id.parse().ok().map(Who::Share),
            _ => None,
        }
    }
}

impl fmt::Display for Who {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Who::Beneficiary(id) => write!(f, "beneficiary:{id}"),
            Who::Caseworker(id) => write!(f, "caseworker:{id}"),
            Who::Operator => f.write_str("operator"),
            Who::System => f.write_str("system"),
            Who::Anonymous => f.write_str("anonymous"),
            Who::Share(id) => write!(f, "share:{id}"),
        }
    }
}

/// What a failed download's entry says, in its detail: written by the
/// vault's download, read by the structure's report and the person's
/// journal, so the three agree on one spelling: `[duplicate: |
/// duplicate, not opened: | not opened: ](integrity|store)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadFailure {
    /// A duplicate to print, not a plain download.
    pub duplicate: bool,
    /// Journaled after the download's `ok` entry: the paper was not opened
    /// after all (that entry is to be read with this one).
    pub after_entry: bool,
    /// The stored paper is damaged or missing (else: the store failed).
    pub damaged: bool,
}

impl DownloadFailure {
    /// The entry's detail.
    pub fn detail(self) -> String {
        let prefix = match (self.duplicate, self.after_entry) {
            (false, false) => "",
            (false, true) => "not opened: ",
            (true, false) => "duplicate: ",
            (true, true) => "duplicate, not opened: ",
        };
        let why = if self.damaged { "integrity" } else { "store" };
        format!("{prefix}{why}")
    }

    /// Reads a failed download's detail back; `None` for any other.
    pub fn parse(detail: &str) -> Option<DownloadFailure> {
        let (duplicate, after_entry, why) =
            if let Some(why) = detail.strip_prefix("duplicate, not opened: ") {
                (true, true, why)
            } else if let Some(why) = detail.strip_prefix("duplicate: ") {
                (true, false, why)
            } else if let Some(why) = detail.strip_prefix("not opened: ") {
                (false, true, why)
            } else {
                (false, false, detail)
            };
        let damaged = match why {
            "integrity" => true,
            "store" => false,
            _ => return None,
        };
        Some(DownloadFailure {
            duplicate,
            after_entry,
            damaged,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for e in Event::ALL {
            assert!(seen.insert(e.code()), "{e} twice");
            assert_eq!(Event::from_code(e.code()), Some(e));
        }
        assert_eq!(
            Event::from_code("caseworker.enrol"),
            Some(Event::CaseworkerEnroll)
        );
        for o in Outcome::ALL {
            assert_eq!(Outcome::from_code(o.code()), Some(o));
        }
        let id = PrincipalId::from_bytes([7; 16]);
        for w in [
            Who::Beneficiary(id),
            Who::Caseworker(id),
            Who::Operator,
            Who::System,
            Who::Anonymous,
            Who::Share(ShareId::from_bytes([8; 16])),
        ] {
            assert_eq!(Who::parse(&w.to_string()), Some(w));
        }
        assert_eq!(Who::parse("stranger"), None);
    }

    #[test]
    fn download_failures_round_trip_and_nothing_else_parses() {
        for duplicate in [false, true] {
            for after_entry in [false, true] {
                for damaged in [false, true] {
                    let f = DownloadFailure {
                        duplicate,
                        after_entry,
                        damaged,
                    };
                    assert_eq!(DownloadFailure::parse(&f.detail()), Some(f));
                }
            }
        }
        assert_eq!(
            DownloadFailure {
                duplicate: true,
                after_entry: true,
                damaged: true
            }
            .detail(),
            "duplicate, not opened: integrity"
        );
        for other in ["duplicate", "range 0-9", "not opened: ", "integrity!", ""] {
            assert_eq!(DownloadFailure::parse(other), None, "{other}");
        }
    }
}
