//! Authorisation: one pure function of (actor, action, resource state).
//!
//! The HTTP layer and the vault both ask it; but it is not what keeps
//! plaintext from a structure without consent — key wraps are (see
//! `access` and `internal_tests::no_grant_no_plaintext_even_without_policy`). It decides who may *try*, and what a refusal looks
//! like: a person or structure with no link to a vault learns nothing, not
//! even that it exists (`NotFound`).

use coffre_crypto::PrincipalId;

use crate::journal::Event;
use crate::model::{Category, Permission};
use crate::records::GrantRecord;

/// Who is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Beneficiary(PrincipalId),
    Caseworker {
        id: PrincipalId,
        structure: PrincipalId,
        admin: bool,
    },
    Anonymous,
}

/// What is asked, on one beneficiary's vault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// See the beneficiary at all (in a caseworker's list).
    SeeBeneficiary,
    ListDocuments,
    ReadDocument,
    UploadDocument,
    EditDocument,
    SetPrivacy,
    DeleteDocument,
    CreateShare,
    ManageShares,
    CreateGrant,
    ListGrants,
    RevokeGrant,
    ReadJournal,
    Export,
    Erase,
    /// Start a recovery (an admin of a trustee structure).
    Recover,
    /// Confirm or complete one (a member of that structure).
    ConfirmRecovery,
    /// See, add or remove trustee structures (the person).
    ManageTrustees,
}

impl Action {
    pub const ALL: [Action; 18] = [
        Action::SeeBeneficiary,
        Action::ListDocuments,
        Action::ReadDocument,
        Action::UploadDocument,
        Action::EditDocument,
        Action::SetPrivacy,
        Action::DeleteDocument,
        Action::CreateShare,
        Action::ManageShares,
        Action::CreateGrant,
        Action::ListGrants,
        Action::RevokeGrant,
        Action::ReadJournal,
        Action::Export,
        Action::Erase,
        Action::Recover,
        Action::ConfirmRecovery,
        Action::ManageTrustees,
    ];

    /// The journal event of an attempt at this action.
    pub fn event(self) -> Event {
        match self {
            Action::SeeBeneficiary => Event::BeneficiarySee,
            Action::ListDocuments => Event::DocumentList,
            Action::ReadDocument => Event::DocumentRead,
            Action::UploadDocument => Event::DocumentUpload,
            Action::EditDocument => Event::DocumentEdit,
            Action::SetPrivacy => Event::DocumentPrivacy,
            Action::DeleteDocument => Event::DocumentDelete,
            Action::CreateShare => Event::ShareCreate,
            Action::ManageShares => Event::ShareManage,
            Action::CreateGrant => Event::GrantCreate,
            Action::ListGrants => Event::GrantList,
            Action::RevokeGrant => Event::GrantRevoke,
            Action::ReadJournal => Event::JournalRead,
            Action::Export => Event::VaultExport,
            Action::Erase => Event::VaultErase,
            Action::Recover => Event::RecoveryStart,
            Action::ConfirmRecovery => Event::RecoveryConfirm,
            Action::ManageTrustees => Event::TrusteeAdd,
        }
    }
}

/// The asking structure's consent on the category concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantState {
    None,
    UploadOnly,
    View,
    ViewAndUpload,
    Expired,
    Revoked,
}

impl GrantState {
    /// The consent of `structure` on `category`, from a vault's grants at
    /// `now_ms`: live permissions first; else whether an expired or revoked
    /// grant once covered it.
    pub fn of(
        grants: &[GrantRecord],
        structure: PrincipalId,
        category: Category,
        now_ms: i64,
    ) -> GrantState {
        let mut state = GrantState::None;
        let (mut view, mut upload) = (false, false);
        for g in grants {
            if g.structure != structure || !g.categories.contains(&category) {
                continue;
            }
            if g.live(now_ms) {
                view |= g.permissions.contains(&Permission::View);
                upload |= g.permissions.contains(&Permission::Upload);
            } else if g.revoked_ms.is_some() {
                if state == GrantState::None {
                    state = GrantState::Revoked;
                }
            } else {
                state = GrantState::Expired;
            }
        }
        match (view, upload) {
            (true, true) => GrantState::ViewAndUpload,
            (true, false) => GrantState::View,
            (false, true) => GrantState::UploadOnly,
            (false, false) => state,
        }
    }

    /// A live view permission.
    pub fn can_view(self) -> bool {
        matches!(self, GrantState::View | GrantState::ViewAndUpload)
    }

    /// A live upload permission.
    pub fn can_upload(self) -> bool {
        matches!(self, GrantState::UploadOnly | GrantState::ViewAndUpload)
    }
}

/// What the decision needs to know about the vault and the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource {
    pub beneficiary: PrincipalId,
    /// The actor's structure is linked to this beneficiary.
    pub linked: bool,
    /// The actor's structure holds a recovery seal for this beneficiary.
    pub trustee: bool,
    pub grant: GrantState,
    /// The document concerned is private (owner only).
    pub private_document: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Not authenticated.
    Unauthenticated,
    /// Hide the vault or document: answer as if it did not exist.
    NotFound,
    /// Known, but not allowed; the reason is safe to show.
    Forbidden(&'static str),
}

pub fn decide(actor: &Actor, action: Action, r: &Resource) -> Decision {
    use Action::*;
    use Decision::*;
    match *actor {
        Actor::Anonymous => Unauthenticated,
        Actor::Beneficiary(id) if id != r.beneficiary => NotFound,
        Actor::Beneficiary(_) => match action {
            Recover | ConfirmRecovery => {
                Forbidden("recovery is done by a trustee structure, with the person present")
            }
            _ => Allow,
        },
        Actor::Caseworker { .. } if !r.linked => NotFound,
        Actor::Caseworker { admin, .. } => {
            let live_view = r.grant.can_view();
            let live_upload = r.grant.can_upload();
            match action {
                SeeBeneficiary | ListDocuments | ListGrants => Allow,
                // A private document does not exist for a structure.
                ReadDocument | CreateShare | EditDocument | SetPrivacy | DeleteDocument
                | ManageShares
                    if r.private_document =>
                {
                    NotFound
                }
                ReadDocument | CreateShare if live_view => Allow,
                ReadDocument | CreateShare => Forbidden("no live consent to view this category"),
                UploadDocument if live_upload => Allow,
                UploadDocument => Forbidden("no live consent to upload in this category"),
                Recover | ConfirmRecovery if !r.trustee => {
                    Forbidden("this structure is not the person's recovery trustee")
                }
                Recover if !admin => {
                    Forbidden("an admin of the trustee structure starts a recovery")
                }
                Recover | ConfirmRecovery => Allow,
                EditDocument | SetPrivacy | DeleteDocument | ManageShares | CreateGrant
                | RevokeGrant | Export | Erase | ManageTrustees => {
                    Forbidden("only the person can do this")
                }
                ReadJournal => Forbidden("the journal is the person's"),
            }
        }
    }
}

/// Actions on a structure rather than on a vault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StructureAction {
    /// Invite (or deactivate) a caseworker of the structure.
    ManageCaseworkers,
    /// Enroll a person, who is then linked to the structure.
    EnrollBeneficiary,
    /// See the people linked to the structure.
    ListBeneficiaries,
}

/// The same policy for structure-level actions: only its own caseworkers
/// act on a structure; managing caseworkers needs an admin.
pub fn decide_structure(
    actor: &Actor,
    action: StructureAction,
    structure: PrincipalId,
) -> Decision {
    match *actor {
        Actor::Anonymous => Decision::Unauthenticated,
        Actor::Beneficiary(_) => Decision::Forbidden("caseworkers only"),
        Actor::Caseworker { structure: own, .. } if own != structure => Decision::NotFound,
        Actor::Caseworker { admin, .. } => match action {
            StructureAction::ManageCaseworkers if !admin => {
                Decision::Forbidden("only an admin of this structure manages its caseworkers")
            }
            _ => Decision::Allow,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATES: [(GrantState, bool); 8] = [
        (GrantState::None, false),
        (GrantState::UploadOnly, false),
        (GrantState::View, false),
        (GrantState::ViewAndUpload, false),
        (GrantState::Expired, false),
        (GrantState::Revoked, false),
        // A grant on another category reaches the policy as no grant.
        (GrantState::None, false),
        // A view grant, but the document is private.
        (GrantState::View, true),
    ];

    fn letter(d: Decision) -> char {
        match d {
            Decision::Allow => 'A',
            Decision::Unauthenticated => 'U',
            Decision::NotFound => 'N',
            Decision::Forbidden(_) => 'F',
        }
    }

    /// Expected decision letters for a caseworker of a linked structure, one
    /// per state: none, upload-only, view, view+upload, expired, revoked,
    /// other category, private document.
    fn linked_caseworker(action: Action, trustee: bool, admin: bool) -> &'static str {
        use Action::*;
        match action {
            SeeBeneficiary | ListDocuments | ListGrants => "AAAAAAAA",
            ReadDocument | CreateShare => "FFAAFFFN",
            UploadDocument => "FAFAFFFF",
            Recover if trustee && admin => "AAAAAAAA",
            ConfirmRecovery if trustee => "AAAAAAAA",
            Recover | ConfirmRecovery => "FFFFFFFF",
            EditDocument | SetPrivacy | DeleteDocument | ManageShares => "FFFFFFFN",
            CreateGrant | RevokeGrant | ReadJournal | Export | Erase | ManageTrustees => "FFFFFFFF",
        }
    }

    #[test]
    fn structure_actions_table() {
        let s = PrincipalId::from_bytes([3; 16]);
        let other = PrincipalId::from_bytes([9; 16]);
        let cw = |structure, admin| Actor::Caseworker {
            id: PrincipalId::from_bytes([4; 16]),
            structure,
            admin,
        };
        use StructureAction::*;
        // (actor, expected for ManageCaseworkers, EnrollBeneficiary, ListBeneficiaries)
        let table: [(Actor, [char; 3]); 5] = [
            (cw(s, true), ['A', 'A', 'A']),
            (cw(s, false), ['F', 'A', 'A']),
            (cw(other, true), ['N', 'N', 'N']),
            (
                Actor::Beneficiary(PrincipalId::from_bytes([1; 16])),
                ['F', 'F', 'F'],
            ),
            (Actor::Anonymous, ['U', 'U', 'U']),
        ];
        for (actor, expected) in table {
            for (action, want) in [ManageCaseworkers, EnrollBeneficiary, ListBeneficiaries]
                .into_iter()
                .zip(expected)
            {
                assert_eq!(
                    letter(decide_structure(&actor, action, s)),
                    want,
                    "{actor:?} {action:?}"
                );
            }
        }
    }

    #[test]
    fn exhaustive_table() {
        let owner = PrincipalId::from_bytes([1; 16]);
        let other = PrincipalId::from_bytes([2; 16]);
        let structure = PrincipalId::from_bytes([3; 16]);
        let cw = |admin| Actor::Caseworker {
            id: PrincipalId::from_bytes([4; 16]),
            structure,
            admin,
        };
        let mut checked = 0;
        for action in Action::ALL {
            for (i, (grant, private)) in STATES.into_iter().enumerate() {
                for (linked, trustee) in
                    [(true, false), (true, true), (false, false), (false, true)]
                {
                    let r = Resource {
                        beneficiary: owner,
                        linked,
                        trustee,
                        grant,
                        private_document: private,
                    };
                    // Caseworkers of a linked and of an unlinked structure come
                    // from the `linked` dimension.
                    let roles: [(&str, Actor, char); 5] = [
                        (
                            "owner",
                            Actor::Beneficiary(owner),
                            if matches!(action, Action::Recover | Action::ConfirmRecovery) {
                                'F'
                            } else {
                                'A'
                            },
                        ),
                        ("other beneficiary", Actor::Beneficiary(other), 'N'),
                        (
                            "caseworker",
                            cw(false),
                            if linked {
                                linked_caseworker(action, trustee, false).as_bytes()[i] as char
                            } else {
                                'N'
                            },
                        ),
                        (
                            "structure admin",
                            cw(true),
                            if linked {
                                linked_caseworker(action, trustee, true).as_bytes()[i] as char
                            } else {
                                'N'
                            },
                        ),
                        ("anonymous", Actor::Anonymous, 'U'),
                    ];
                    for (role, actor, expected) in roles {
                        let got = letter(decide(&actor, action, &r));
                        assert_eq!(
                            got, expected,
                            "{role} / {action:?} / grant {grant:?} private {private} linked {linked} trustee {trustee}"
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 18 * 8 * 4 * 5);
    }
}
