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
            key_version: 1,
            rotation_due: false,
            phone: None,
            address: None,
        };
        let invitation = self.invitation(
            structure_id,
            &identity,
            admin_login,
            login_index,
            true,
            None,
        )?;
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
        login: String,
        login_index: String,
        admin: bool,
        invited_by: Option<PrincipalId>,
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
                login,
                invited_by,
                login_index,
                recipient: None,
                sealed_identity: Vec::new(),
                structure_wrap: Vec::new(),
                created_ms: now,
                second_factor: Vec::new(),
                recovery_codes: Vec::new(),
                last_otp_step: 0,
                setup_code: None,
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
        // A member left and the key is still the one they held: this
        // admin's key replaces it first, so the code carries the new one.
        if session.principal.structure() == Some(structure)
            && self
                .records()
                .read()
                .structures()
                .find(structure)?
                .rotation_due
            && let Some(key) = session.structure_key()
        {
            match self
                .rotate_structure_key(structure, &key, session.principal.who())
                .await
            {
                Ok(()) | Err(VaultError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let _writing = self.writing().await;
        self.authorize_structure(
            session,
            StructureAction::ManageCaseworkers,
            structure,
            Event::CaseworkerInvite,
        )
        .await?;
        let Some(structure_identity) = session.structure_key() else {
            return Err(VaultError::Forbidden("caseworkers only"));
        };
        let login = normalize_login(login)?;
        let index = self.login_index(LoginKind::Caseworker, &login);
        let invitation = self.invitation(
            structure,
            &structure_identity,
            login,
            index,
            admin,
            Some(session.principal.id()),
        )?;
        let recipient = structure_identity.recipient().to_string();
        self.records().write(|tx| {
            // The code must carry the structure's current key.
            tx.structures().expect_recipient(structure, &recipient)?;
            invitation.write(tx)
        })?;
        let id = invitation.caseworker.id;
        self.journal(
            NewEntry::ok(session.principal.who(), Event::CaseworkerInvite)
                .detail(format!("caseworker:{id}")),
        )
        .await?;
        Ok((id, invitation.code))
    }
}

/// A caseworker as their structure's admins see them.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CaseworkerInfo {
    pub caseworker_id: PrincipalId,
    pub login: String,
    pub admin: bool,
    /// Enrolled and not deactivated.
    pub active: bool,
    /// Invited, code not used yet.
    pub pending: bool,
    /// A second factor is set up (not reset since).
    pub second_factor: bool,
    pub created_ms: i64,
}

impl Vault {
    /// Structure admin: the structure's caseworkers.
    pub async fn list_caseworkers(
        &self,
        session: &Session,
        structure: PrincipalId,
    ) -> Result<Vec<CaseworkerInfo>> {
        self.authorize_structure(
            session,
            StructureAction::ManageCaseworkers,
            structure,
            Event::CaseworkerInvite,
        )
        .await?;
        self.caseworkers_of(structure)
    }

    /// Operator: a structure's caseworkers (`coffre admin caseworker list`).
    pub fn caseworkers_of(&self, structure: PrincipalId) -> Result<Vec<CaseworkerInfo>> {
        self.records().read().structures().find(structure)?;
        Ok(self
            .records()
            .read()
            .caseworkers()
            .of_structure(structure)?
            .into_iter()
            .map(|c| CaseworkerInfo {
                caseworker_id: c.id,
                login: c.login,
                admin: c.admin,
                active: c.active,
                pending: !c.active && c.recipient.is_none(),
                second_factor: !c.second_factor.is_empty(),
                created_ms: c.created_ms,
            })
            .collect())
    }

    /// A caseworker's login (what their authenticator app names them by).
    pub fn caseworker_login(&self, caseworker: PrincipalId) -> Option<String> {
        self.records()
            .read()
            .caseworkers()
            .get(caseworker)
            .ok()
            .flatten()
            .map(|c| c.login)
    }

    /// A structure as its own caseworkers (and its people's pages) see it.
    /// The name of the structure a caseworker belongs (or belonged) to: how
    /// a person's pages name whoever acted ("Le CCAS de Lyon a regardé…").
    pub fn structure_name_of_caseworker(&self, caseworker: PrincipalId) -> Option<String> {
        let read = self.records().read();
        let cw = read.caseworkers().get(caseworker).ok()??;
        read.structures().find(cw.structure).ok().map(|s| s.name)
    }

    pub fn structure(&self, id: PrincipalId) -> Result<StructureRecord> {
        self.records().read().structures().find(id)
    }

    /// Structure admin: the phone and address shown on access cards and
    /// pages (empty clears them).
    pub async fn set_structure_contact(
        &self,
        session: &Session,
        structure: PrincipalId,
        phone: Option<String>,
        address: Option<String>,
    ) -> Result<StructureRecord> {
        let _writing = self.writing().await;
        self.authorize_structure(
            session,
            StructureAction::ManageCaseworkers,
            structure,
            Event::StructureUpdate,
        )
        .await?;
        let clean = |v: Option<String>, max: usize| -> Result<Option<String>> {
            match v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()) {
                None => Ok(None),
                Some(s) if s.chars().count() <= max && !s.chars().any(char::is_control) => {
                    Ok(Some(s))
                }
                Some(_) => Err(VaultError::Invalid(format!(
                    "at most {max} printable characters"
                ))),
            }
        };
        let (phone, address) = (clean(phone, 40)?, clean(address, 300)?);
        let updated = self.records().write(|tx| {
            let mut s = tx.structures().find(structure)?;
            s.phone = phone.clone();
            s.address = address.clone();
            tx.structures().put(&s)?;
            Ok(s)
        })?;
        self.journal(
            NewEntry::ok(session.principal.who(), Event::StructureUpdate)
                .detail(format!("structure:{structure}")),
        )
        .await?;
        Ok(updated)
    }
}
