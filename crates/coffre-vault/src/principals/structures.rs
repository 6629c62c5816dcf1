//! Structures and the invitation of their caseworkers.

use coffre_crypto::wrap::ShareSecret;
use coffre_crypto::{Identity, PrincipalId};
use zeroize::Zeroizing;

use super::{StructureCreated, check_name, normalize_login};
use crate::access::Access;
use crate::journal::{Event, NewEntry, Who};
use crate::policy::StructureAction;
use crate::records::{
    CaseworkerRecord, EnrollmentRecord, Login, LoginKind, StructureRecord, Tx, TxResult,
};
use crate::session::Session;
use crate::{Result, Vault, VaultError};

/// A pending caseworker and the code that enrolls them, ready to write.
struct Invitation {
    caseworker: CaseworkerRecord,
    lookup: [u8; 32],
    record: EnrollmentRecord,
    code: Zeroizing<String>,
}

impl Invitation {
    fn write(&self, tx: &Tx<'_>) -> TxResult<()> {
        tx.logins().claim(
            &self.caseworker.login_index,
            Login {
                kind: LoginKind::Caseworker,
                id: self.caseworker.id,
            },
        )?;
        tx.codes().insert(&self.lookup, &self.record)?;
        tx.caseworkers().put(&self.caseworker)
    }
}

impl Vault {
    /// Operator: a structure and its first admin, who enrolls with the code.
    pub async fn create_structure(
        &self,
        name: &str,
        admin_login: &str,
    ) -> Result<StructureCreated> {
        let _writing = self.writing().await;
        let name = check_name(name)?;
        let admin_login = normalize_login(admin_login)?;
        let login_index = self.login_index(LoginKind::Caseworker, &admin_login);
        let structure_id = PrincipalId::random()?;
        let identity = Identity::generate();
        let structure = StructureRecord {
            id: structure_id,
            name,
            recipient: identity.recipient().to_string(),
            created_ms: self.now_ms(),
        };
        let invitation = self.invitation(structure_id, &identity, login_index, true)?;
        self.records().write(|tx| {
            invitation.write(tx)?;
            tx.structures().put(&structure)
        })?;
        self.journal(
            NewEntry::ok(Who::Operator, Event::StructureCreate)
                .detail(format!("structure:{structure_id}")),
        )
        .await?;
        Ok(StructureCreated {
            structure_id,
            admin_id: invitation.caseworker.id,
            enrollment_code: invitation.code,
        })
    }

    /// Every structure (operator).
    pub fn structures(&self) -> Result<Vec<StructureRecord>> {
        self.records().read().structures().all()
    }

    /// A pending caseworker and the code that enrolls them: the structure
    /// identity is wrapped under the code, so enrollment needs no admin.
    fn invitation(
        &self,
        structure: PrincipalId,
        structure_identity: &Identity,
        login_index: String,
        admin: bool,
    ) -> Result<Invitation> {
        let id = PrincipalId::random()?;
        let code = ShareSecret::generate()?;
        let now = self.now_ms();
        Ok(Invitation {
            record: EnrollmentRecord {
                caseworker: id,
                structure,
                expires_ms: now
                    + i64::try_from(self.limits().enrollment_code_ttl.as_millis())
                        .unwrap_or(i64::MAX / 2),
                structure_wrap: Access::structure_to_code(&code, structure_identity, structure)?,
            },
            caseworker: CaseworkerRecord {
                id,
                structure,
                admin,
                active: false,
                login_index,
                recipient: None,
                sealed_identity: Vec::new(),
                structure_wrap: Vec::new(),
                created_ms: now,
            },
            lookup: code.lookup_key()?,
            code: code.to_token(),
        })
    }

    /// Structure admin: invite a caseworker (or another admin).
    pub async fn invite_caseworker(
        &self,
        session: &Session,
        structure: PrincipalId,
        login: &str,
        admin: bool,
    ) -> Result<(PrincipalId, Zeroizing<String>)> {
        let _writing = self.writing().await;
        self.authorize_structure(
            session,
            StructureAction::ManageCaseworkers,
            structure,
            Event::CaseworkerInvite,
        )
        .await?;
        let Some(structure_identity) = session.structure_identity.as_ref() else {
            return Err(VaultError::Forbidden("caseworkers only"));
        };
        let login = normalize_login(login)?;
        let index = self.login_index(LoginKind::Caseworker, &login);
        let invitation = self.invitation(structure, structure_identity, index, admin)?;
        self.records().write(|tx| invitation.write(tx))?;
        let id = invitation.caseworker.id;
        self.journal(
            NewEntry::ok(session.principal.who(), Event::CaseworkerInvite)
                .detail(format!("caseworker:{id}")),
        )
        .await?;
        Ok((id, invitation.code))
    }
}
