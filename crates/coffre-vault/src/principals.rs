//! Structures, caseworkers, beneficiaries: creation, enrolment, login with
//! persistent attempt counting, deactivation, recovery.

use std::time::Duration;

use coffre_crypto::wrap::{self, Binding, ShareSecret};
use coffre_crypto::{Identity, PrincipalId, Recipient, UserSecret};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::db::{self, key};
use crate::journal::NewEntry;
use crate::model::{
    AttemptRecord, BeneficiaryRecord, CaseworkerRecord, Category, EnrolmentRecord, GRANT_DAYS,
    Permission, RecoverySeal, ScopeRecord, StructureRecord,
};
use crate::policy::{self, Action, Decision, StructureAction};
use crate::session::{Principal, Session};
use crate::vault::name_binding;
use crate::{Result, Vault, VaultError, now_ms};

const MAX_NAME: usize = 200;
const MAX_SECRET: usize = 256;

#[derive(Debug, Serialize)]
pub struct StructureCreated {
    pub structure_id: PrincipalId,
    pub admin_id: PrincipalId,
    /// One-time code the admin enrols with. Shown once, never stored.
    #[serde(skip)]
    pub enrolment_code: Zeroizing<String>,
}

#[derive(Debug)]
pub struct LoginOutcome {
    pub token: Zeroizing<String>,
    pub principal: Principal,
    pub expires_in: Duration,
    pub notices: Vec<String>,
}

/// A consent grant, as asked.
#[derive(Debug, Clone)]
pub struct NewGrant {
    pub categories: Vec<Category>,
    pub permissions: Vec<Permission>,
    pub days: u32,
}

/// What the person types at the desk.
#[derive(Debug)]
pub struct NewBeneficiary {
    pub identifier: String,
    pub display_name: String,
    pub secret: UserSecret,
    /// Make the enrolling structure the recovery trustee.
    pub recovery_trustee: bool,
    /// Consent for the enrolling structure, given in the same step.
    pub grant: Option<NewGrant>,
}

#[derive(Debug)]
pub struct EnrolledBeneficiary {
    pub beneficiary_id: PrincipalId,
    /// Said to the person at enrolment when no trustee was chosen.
    pub warning: Option<&'static str>,
}

pub(crate) fn normalize_login(s: &str) -> Result<String> {
    let s = s.trim().to_lowercase();
    if s.is_empty() || s.chars().count() > 100 || s.chars().any(char::is_control) {
        return Err(VaultError::Invalid(
            "identifiers are 1 to 100 printable characters".into(),
        ));
    }
    Ok(s)
}

/// A beneficiary's secret: a PIN of at least 6 digits or a passphrase of at
/// least 8 characters.
pub(crate) fn check_beneficiary_secret(s: &UserSecret) -> Result<()> {
    let t = s.expose();
    let n = t.chars().count();
    if n > MAX_SECRET {
        return Err(VaultError::Invalid("secret too long".into()));
    }
    if t.chars().all(|c| c.is_ascii_digit()) {
        if n < 6 {
            return Err(VaultError::Invalid("a PIN has at least 6 digits".into()));
        }
    } else if n < 8 {
        return Err(VaultError::Invalid(
            "a passphrase has at least 8 characters".into(),
        ));
    }
    Ok(())
}

fn check_password(s: &UserSecret) -> Result<()> {
    let n = s.expose().chars().count();
    if !(10..=MAX_SECRET).contains(&n) {
        return Err(VaultError::Invalid(
            "passwords have 10 to 256 characters".into(),
        ));
    }
    Ok(())
}

fn check_name(s: &str) -> Result<String> {
    let s = s.trim();
    if s.is_empty() || s.chars().count() > MAX_NAME || s.chars().any(char::is_control) {
        return Err(VaultError::Invalid(
            "names are 1 to 200 printable characters".into(),
        ));
    }
    Ok(s.to_owned())
}

fn new_token() -> Result<Zeroizing<String>> {
    Ok(ShareSecret::generate()?.to_token())
}

fn parse_recipient(s: &str) -> Result<Recipient> {
    s.parse().map_err(|_| VaultError::Integrity)
}

impl Vault {
    fn login_index(&self, domain: &str, login: &str) -> String {
        hex::encode(self.inner.blind.index(domain, login))
    }

    /// Operator: a structure and its first admin, who enrols with the code.
    pub async fn create_structure(
        &self,
        name: &str,
        admin_login: &str,
    ) -> Result<StructureCreated> {
        let _writing = self.writing().await;
        let name = check_name(name)?;
        let admin_login = normalize_login(admin_login)?;
        let login_index = self.login_index("caseworker", &admin_login);
        if self.db().logins.contains_key(&login_index)? {
            return Err(VaultError::Conflict("this login is taken"));
        }
        let structure_id = PrincipalId::random()?;
        let identity = Identity::generate();
        let structure = StructureRecord {
            id: structure_id,
            name,
            recipient: identity.recipient().to_string(),
            created_ms: now_ms(),
        };
        let (admin_id, code) = self.invite(structure_id, &identity, &login_index, true)?;
        db::put(&self.db().structures, structure_id.as_bytes(), &structure)?;
        self.journal(
            NewEntry::new("operator", "structure.create", "ok")
                .detail(format!("structure:{structure_id}")),
        )
        .await?;
        Ok(StructureCreated {
            structure_id,
            admin_id,
            enrolment_code: code,
        })
    }

    pub fn structures(&self) -> Result<Vec<StructureRecord>> {
        self.db()
            .structures
            .iter()
            .values()
            .map(|v| Ok(serde_json::from_slice(&v?)?))
            .collect()
    }

    /// A pending caseworker and the code that enrols them: the structure
    /// identity is wrapped under the code, so enrolment needs no admin.
    fn invite(
        &self,
        structure: PrincipalId,
        structure_identity: &Identity,
        login_index: &str,
        admin: bool,
    ) -> Result<(PrincipalId, Zeroizing<String>)> {
        let id = PrincipalId::random()?;
        let code = ShareSecret::generate()?;
        let record = EnrolmentRecord {
            caseworker: id,
            structure,
            expires_ms: now_ms() + self.limits().enrolment_code_ttl.as_millis() as i64,
            structure_wrap: code
                .wrap_identity(structure_identity, &Binding::principal_identity(structure))?,
        };
        let cw = CaseworkerRecord {
            id,
            structure,
            admin,
            active: false,
            login_index: login_index.to_owned(),
            recipient: None,
            sealed_identity: Vec::new(),
            structure_wrap: Vec::new(),
            created_ms: now_ms(),
        };
        db::put(&self.db().codes, code.lookup_key()?, &record)?;
        db::put(&self.db().caseworkers, id.as_bytes(), &cw)?;
        let mut login = b"c".to_vec();
        login.extend_from_slice(id.as_bytes());
        self.db().logins.insert(login_index, login)?;
        Ok((id, code.to_token()))
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
            "caseworker.invite",
        )
        .await?;
        let Some(structure_identity) = session.structure_identity.as_ref() else {
            return Err(VaultError::Forbidden("caseworkers only"));
        };
        let login = normalize_login(login)?;
        let index = self.login_index("caseworker", &login);
        if self.db().logins.contains_key(&index)? {
            return Err(VaultError::Conflict("this login is taken"));
        }
        let (id, code) = self.invite(structure, structure_identity, &index, admin)?;
        self.journal(
            NewEntry::new(session.principal.label(), "caseworker.invite", "ok")
                .detail(format!("caseworker:{id}")),
        )
        .await?;
        Ok((id, code))
    }

    /// Asks the policy about a structure-level action; journals a refusal.
    async fn authorize_structure(
        &self,
        session: &Session,
        action: StructureAction,
        structure: PrincipalId,
        code: &'static str,
    ) -> Result<()> {
        match policy::decide_structure(&session.principal.actor(), action, structure) {
            Decision::Allow => Ok(()),
            refusal => Err(self
                .refuse(
                    refusal,
                    NewEntry::new(session.principal.label(), code, "denied"),
                )
                .await),
        }
    }

    /// A secret typed by a person, checked as a login attempt: counted on
    /// disk first, the argon2id work off the async threads, a failure
    /// counted towards the lock. The caller records success with
    /// `succeeded_attempt`.
    pub(crate) async fn check_secret(
        &self,
        account: &[u8],
        label: &str,
        vault: Option<PrincipalId>,
        sealed: &[u8],
        secret: UserSecret,
        principal: PrincipalId,
    ) -> Result<Identity> {
        self.count_attempt(account, label, vault).await?;
        let opened = self
            .open_identity(
                sealed.to_vec(),
                secret,
                Binding::principal_identity(principal),
            )
            .await?;
        match opened {
            Some(identity) => Ok(identity),
            None => Err(self.failed_attempt(account, label, vault).await),
        }
    }

    /// What a wrong secret costs (argon2id on a sealed identity), spent on a
    /// login whose identifier matches no account.
    pub(crate) async fn decoy_check(&self, secret: UserSecret) -> Result<()> {
        #[cfg(test)]
        self.inner
            .decoy_runs
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let sealed = self
            .inner
            .decoy
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        self.open_identity(
            sealed,
            secret,
            Binding::principal_identity(self.inner.decoy_id),
        )
        .await?;
        Ok(())
    }

    /// Seals an identity under a person's secret and the root ring, off the
    /// async threads (argon2id takes tens of milliseconds).
    pub(crate) async fn seal_identity(
        &self,
        identity: Identity,
        secret: UserSecret,
        binding: Binding,
    ) -> Result<(Identity, Vec<u8>)> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let sealed = wrap::seal_identity(
                &identity,
                &secret,
                inner.limits.kdf,
                &binding,
                &inner.root(),
            )?;
            Ok((identity, sealed))
        })
        .await
        .map_err(|_| VaultError::Internal("sealing task failed"))?
    }

    pub(crate) async fn open_identity(
        &self,
        sealed: Vec<u8>,
        secret: UserSecret,
        binding: Binding,
    ) -> Result<Option<Identity>> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            match wrap::open_identity(&sealed, &secret, &binding, &inner.root()) {
                Ok(id) => Ok(Some(id)),
                Err(coffre_crypto::Error::Decryption) => Ok(None),
                Err(e) => Err(VaultError::from(e)),
            }
        })
        .await
        .map_err(|_| VaultError::Internal("unsealing task failed"))?
    }

    /// A caseworker activates their account with a one-time code.
    pub async fn enrol_caseworker(&self, code: &str, password: UserSecret) -> Result<PrincipalId> {
        let _writing = self.writing().await;
        check_password(&password)?;
        // Claimed by removing it: two enrolments with one code cannot both
        // proceed.
        let found = match ShareSecret::from_token(code) {
            Ok(secret) => {
                let lookup = secret.lookup_key()?;
                match self.db().codes.remove(lookup)? {
                    Some(v) => Some((secret, serde_json::from_slice::<EnrolmentRecord>(&v)?)),
                    None => None,
                }
            }
            Err(_) => None,
        };
        let Some((secret, rec)) = found else {
            self.journal(
                NewEntry::new("anonymous", "caseworker.enrol", "denied").detail("unknown code"),
            )
            .await?;
            return Err(VaultError::Unauthenticated);
        };
        if rec.expires_ms <= now_ms() {
            self.journal(
                NewEntry::new("anonymous", "caseworker.enrol", "denied").detail("code expired"),
            )
            .await?;
            return Err(VaultError::Gone);
        }
        let sb = Binding::principal_identity(rec.structure);
        let structure_identity = secret.unwrap_identity(&rec.structure_wrap, &sb)?;
        let mut cw: CaseworkerRecord = db::get(&self.db().caseworkers, rec.caseworker.as_bytes())?
            .ok_or(VaultError::NotFound)?;
        let (identity, sealed) = self
            .seal_identity(
                Identity::generate(),
                password,
                Binding::principal_identity(cw.id),
            )
            .await?;
        cw.recipient = Some(identity.recipient().to_string());
        cw.sealed_identity = sealed;
        cw.structure_wrap = wrap::wrap_identity(&structure_identity, &identity.recipient(), &sb)?;
        cw.active = true;
        db::put(&self.db().caseworkers, cw.id.as_bytes(), &cw)?;
        self.journal(NewEntry::new(
            format!("caseworker:{}", cw.id),
            "caseworker.enrol",
            "ok",
        ))
        .await?;
        Ok(cw.id)
    }

    /// Structure admin: deactivate a caseworker. Their wraps go; the
    /// structure's access never depended on them.
    pub async fn deactivate_caseworker(
        &self,
        session: &Session,
        caseworker: PrincipalId,
    ) -> Result<()> {
        let _writing = self.writing().await;
        let cw: Option<CaseworkerRecord> = db::get(&self.db().caseworkers, caseworker.as_bytes())?;
        let Some(mut cw) = cw else {
            self.journal(
                NewEntry::new(session.principal.label(), "caseworker.deactivate", "denied")
                    .detail("unknown caseworker"),
            )
            .await?;
            return Err(VaultError::NotFound);
        };
        self.authorize_structure(
            session,
            StructureAction::ManageCaseworkers,
            cw.structure,
            "caseworker.deactivate",
        )
        .await?;
        cw.active = false;
        cw.sealed_identity.clear();
        cw.structure_wrap.clear();
        // A pending invitation goes too: its code holds the structure key.
        for kv in self.db().codes.iter() {
            let (k, v) = kv?;
            if serde_json::from_slice::<EnrolmentRecord>(&v).is_ok_and(|r| r.caseworker == cw.id) {
                self.db().codes.remove(k)?;
            }
        }
        db::put(&self.db().caseworkers, cw.id.as_bytes(), &cw)?;
        self.db().logins.remove(&cw.login_index)?;
        self.inner.sessions.remove_principal(cw.id);
        self.journal(
            NewEntry::new(session.principal.label(), "caseworker.deactivate", "ok")
                .detail(format!("caseworker:{}", cw.id)),
        )
        .await?;
        Ok(())
    }

    /// A caseworker enrols a person, who types their identifier and secret.
    pub async fn enrol_beneficiary(
        &self,
        session: &Session,
        new: NewBeneficiary,
    ) -> Result<EnrolledBeneficiary> {
        let _writing = self.writing().await;
        let structure = match session.principal {
            Principal::Caseworker { structure, .. } => structure,
            Principal::Beneficiary { id } => id,
        };
        self.authorize_structure(
            session,
            StructureAction::EnrolBeneficiary,
            structure,
            "beneficiary.enrol",
        )
        .await?;
        let login = normalize_login(&new.identifier)?;
        let name = check_name(&new.display_name)?;
        check_beneficiary_secret(&new.secret)?;
        if let Some(g) = &new.grant {
            check_grant(g)?;
        }
        let index = self.login_index("beneficiary", &login);
        if self.db().logins.contains_key(&index)? {
            return Err(VaultError::Conflict(
                "this identifier is taken; choose another",
            ));
        }
        let srec: StructureRecord =
            db::get(&self.db().structures, structure.as_bytes())?.ok_or(VaultError::NotFound)?;
        let id = PrincipalId::random()?;
        let pb = Binding::principal_identity(id);
        let (identity, sealed) = self
            .seal_identity(Identity::generate(), new.secret, pb.clone())
            .await?;
        let recipient = identity.recipient();
        for c in Category::ALL {
            self.new_scope(id, c, 1, &recipient, &[])?;
        }
        let mut recovery = Vec::new();
        if new.recovery_trustee {
            recovery.push(RecoverySeal {
                structure,
                wrap: wrap::wrap_identity(&identity, &parse_recipient(&srec.recipient)?, &pb)?,
            });
        }
        let record = BeneficiaryRecord {
            id,
            login_index: index.clone(),
            sealed_name: self.inner.root().seal(name.as_bytes(), &name_binding(id))?,
            recipient: recipient.to_string(),
            sealed_identity: sealed,
            recovery,
            linked: vec![structure],
            used_bytes: 0,
            created_ms: now_ms(),
            pending_notices: Vec::new(),
        };
        db::put(&self.db().beneficiaries, id.as_bytes(), &record)?;
        self.db()
            .links
            .insert(key(&[structure.as_bytes(), id.as_bytes()]), &[])?;
        let mut login = b"b".to_vec();
        login.extend_from_slice(id.as_bytes());
        self.db().logins.insert(index, login)?;
        self.journal(
            NewEntry::new(session.principal.label(), "beneficiary.enrol", "ok")
                .vault(id)
                .detail(if new.recovery_trustee {
                    "with recovery trustee"
                } else {
                    "no recovery trustee"
                }),
        )
        .await?;
        if let Some(g) = new.grant {
            self.grant_with_identity(&identity, id, structure, g, &format!("beneficiary:{id}"))
                .await?;
        }
        Ok(EnrolledBeneficiary {
            beneficiary_id: id,
            warning: (!new.recovery_trustee).then_some(
                "Sans structure de confiance, un secret oublié rend les documents définitivement illisibles.",
            ),
        })
    }

    /// The beneficiaries linked to the caller's structure, with names.
    pub async fn list_beneficiaries(
        &self,
        session: &Session,
    ) -> Result<Vec<(PrincipalId, String)>> {
        let structure = match session.principal {
            Principal::Caseworker { structure, .. } => structure,
            Principal::Beneficiary { id } => id,
        };
        self.authorize_structure(
            session,
            StructureAction::ListBeneficiaries,
            structure,
            "beneficiary.list",
        )
        .await?;
        // Display names are sealed under the root ring: not while a rotation
        // re-seals them (a record read before would name a retired version).
        let _stable_root = self.writing().await;
        let mut out = Vec::new();
        for k in self.db().links.scan_prefix(structure.as_bytes()).keys() {
            let k = k?;
            let Some(id) = k.get(16..32).and_then(|b| <[u8; 16]>::try_from(b).ok()) else {
                continue;
            };
            // A link left by an interrupted erasure points at nothing.
            let Ok(b) = self.beneficiary(PrincipalId::from_bytes(id)) else {
                continue;
            };
            out.push((b.id, self.display_name(&b)?));
        }
        // Each person sees that this structure looked their name up.
        let label = session.principal.label();
        futures_util::future::try_join_all(out.iter().map(|(id, _)| {
            self.journal(NewEntry::new(label.clone(), "beneficiary.see", "ok").vault(*id))
        }))
        .await?;
        Ok(out)
    }

    /// Logs a caseworker in with login and password.
    pub async fn login_caseworker(
        &self,
        login: &str,
        password: UserSecret,
    ) -> Result<LoginOutcome> {
        let _writing = self.writing().await;
        let login = normalize_login(login).map_err(|_| VaultError::Unauthenticated)?;
        let index = self.login_index("caseworker", &login);
        let account = self.db().logins.get(&index)?;
        let cw: Option<CaseworkerRecord> = match &account {
            Some(a) if a.first() == Some(&b'c') => db::get(&self.db().caseworkers, &a[1..])?,
            _ => None,
        };
        let Some(cw) = cw.filter(|c| c.active) else {
            self.decoy_check(password).await?;
            self.journal(
                NewEntry::new("anonymous", "session.create", "denied")
                    .detail("unknown caseworker login"),
            )
            .await?;
            return Err(VaultError::Unauthenticated);
        };
        let account_key = key(&[b"c", cw.id.as_bytes()]);
        let label = format!("caseworker:{}", cw.id);
        let identity = self
            .check_secret(
                &account_key,
                &label,
                None,
                &cw.sealed_identity,
                password,
                cw.id,
            )
            .await?;
        let structure_identity = wrap::unwrap_identity(
            &cw.structure_wrap,
            &identity,
            &Binding::principal_identity(cw.structure),
        )?;
        let notices = self.succeeded_attempt(&account_key).await?;
        let principal = Principal::Caseworker {
            id: cw.id,
            structure: cw.structure,
            admin: cw.admin,
        };
        self.start_session(principal, identity, Some(structure_identity), notices)
            .await
    }

    /// Logs a beneficiary in with identifier and secret.
    pub async fn login_beneficiary(
        &self,
        identifier: &str,
        secret: UserSecret,
    ) -> Result<LoginOutcome> {
        let _writing = self.writing().await;
        let login = normalize_login(identifier).map_err(|_| VaultError::Unauthenticated)?;
        let index = self.login_index("beneficiary", &login);
        let account = self.db().logins.get(&index)?;
        let b: Option<BeneficiaryRecord> = match &account {
            Some(a) if a.first() == Some(&b'b') => db::get(&self.db().beneficiaries, &a[1..])?,
            _ => None,
        };
        let Some(mut b) = b else {
            self.decoy_check(secret).await?;
            self.journal(
                NewEntry::new("anonymous", "session.create", "denied").detail("unknown identifier"),
            )
            .await?;
            return Err(VaultError::Unauthenticated);
        };
        let account_key = key(&[b"b", b.id.as_bytes()]);
        let label = format!("beneficiary:{}", b.id);
        let identity = self
            .check_secret(
                &account_key,
                &label,
                Some(b.id),
                &b.sealed_identity,
                secret,
                b.id,
            )
            .await?;
        let mut notices = self.succeeded_attempt(&account_key).await?;
        if !b.pending_notices.is_empty() {
            notices.append(&mut b.pending_notices);
            db::put(&self.db().beneficiaries, b.id.as_bytes(), &b)?;
        }
        self.start_session(Principal::Beneficiary { id: b.id }, identity, None, notices)
            .await
    }

    async fn start_session(
        &self,
        principal: Principal,
        identity: Identity,
        structure_identity: Option<Identity>,
        notices: Vec<String>,
    ) -> Result<LoginOutcome> {
        let token = new_token()?;
        self.inner
            .sessions
            .insert(&token, principal, identity, structure_identity);
        let mut e = NewEntry::new(principal.label(), "session.create", "ok");
        if let Principal::Beneficiary { id } = principal {
            e = e.vault(id);
        }
        self.journal(e).await?;
        Ok(LoginOutcome {
            token,
            principal,
            expires_in: self.limits().session_idle,
            notices,
        })
    }

    /// Before the secret is even checked: refuse if locked, otherwise count
    /// this attempt as a failure on disk (Signal's order), so that killing
    /// the process mid-check cannot buy free guesses. The count is one
    /// atomic update, and the attempt that passes the limit locks at once:
    /// parallel guesses cannot slip in before the first ones are checked.
    pub(crate) async fn count_attempt(
        &self,
        account: &[u8],
        label: &str,
        vault: Option<PrincipalId>,
    ) -> Result<()> {
        let l = self.limits().clone();
        let now = now_ms();
        let updated = self.db().attempts.update_and_fetch(account, |old| {
            let mut a: AttemptRecord = old
                .and_then(|v| serde_json::from_slice(v).ok())
                .unwrap_or_default();
            if a.locked_until_ms > now {
                // Locked: not even counted.
            } else if a.failures >= l.lockout_after && a.locked_until_ms == 0 {
                // At the limit with attempts still being checked (parallel
                // guesses): lock now, before they finish.
                a.locked_until_ms = now + lock_duration(&l, a.failures).as_millis() as i64;
            } else {
                // Below the limit, or the one attempt allowed when a lock
                // has just run out.
                a.failures += 1;
                a.unreported += 1;
                a.locked_until_ms = 0;
            }
            serde_json::to_vec(&a).ok()
        })?;
        let a: AttemptRecord = updated
            .and_then(|v| serde_json::from_slice(&v).ok())
            .unwrap_or_default();
        let refused = a.locked_until_ms > now;
        self.inner.journal.sync().await?;
        if refused {
            let mut e =
                NewEntry::new(label.to_owned(), "session.create", "denied").detail("locked");
            if let Some(v) = vault {
                e = e.vault(v);
            }
            self.journal(e).await?;
            return Err(VaultError::LockedOut {
                retry_after: Duration::from_millis(
                    u64::try_from(a.locked_until_ms - now).unwrap_or(1),
                ),
            });
        }
        Ok(())
    }

    pub(crate) async fn failed_attempt(
        &self,
        account: &[u8],
        label: &str,
        vault: Option<PrincipalId>,
    ) -> VaultError {
        let res: Result<VaultError> = async {
            let mut a: AttemptRecord = db::get(&self.db().attempts, account)?.unwrap_or_default();
            let l = self.limits();
            let mut detail = "wrong secret".to_owned();
            if a.failures >= l.lockout_after {
                let lock = lock_duration(l, a.failures);
                a.locked_until_ms = now_ms() + lock.as_millis() as i64;
                db::put(&self.db().attempts, account, &a)?;
                detail = format!("wrong secret; locked for {} s", lock.as_secs());
            }
            let mut e = NewEntry::new(label.to_owned(), "session.create", "denied").detail(detail);
            if let Some(v) = vault {
                e = e.vault(v);
            }
            self.journal(e).await?;
            Ok(if a.locked_until_ms > now_ms() {
                VaultError::LockedOut {
                    retry_after: Duration::from_millis(
                        u64::try_from(a.locked_until_ms - now_ms()).unwrap_or(1),
                    ),
                }
            } else {
                VaultError::Unauthenticated
            })
        }
        .await;
        res.unwrap_or_else(|e| e)
    }

    /// Resets the counter; returns the notice of failures since last time.
    pub(crate) async fn succeeded_attempt(&self, account: &[u8]) -> Result<Vec<String>> {
        let a: AttemptRecord = db::get(&self.db().attempts, account)?.unwrap_or_default();
        // This attempt was counted as a failure beforehand.
        let failed = a.unreported.saturating_sub(1);
        db::put(&self.db().attempts, account, &AttemptRecord::default())?;
        Ok(if failed > 0 {
            vec![format!(
                "{failed} tentative(s) de connexion échouée(s) depuis votre dernière connexion"
            )]
        } else {
            Vec::new()
        })
    }

    /// A caseworker of the person's trustee structure, with the person
    /// present, sets a new secret. The person sees it in their journal and
    /// at their next login.
    pub async fn recover(
        &self,
        session: &Session,
        beneficiary: PrincipalId,
        new_secret: UserSecret,
    ) -> Result<()> {
        let _writing = self.writing().await;
        let mut b = self
            .authorize(session, Action::Recover, beneficiary, None, None)
            .await?;
        check_beneficiary_secret(&new_secret)?;
        let (Principal::Caseworker { structure, .. }, Some(structure_identity)) =
            (session.principal, &session.structure_identity)
        else {
            return Err(VaultError::Forbidden("caseworkers only"));
        };
        let Some(seal) = b.recovery.iter().find(|r| r.structure == structure) else {
            return Err(VaultError::RecoveryImpossible);
        };
        let pb = Binding::principal_identity(beneficiary);
        let identity = wrap::unwrap_identity(&seal.wrap, structure_identity, &pb)?;
        let (_, sealed) = self.seal_identity(identity, new_secret, pb).await?;
        b.sealed_identity = sealed;
        b.pending_notices.push(format!(
            "Votre secret a été changé par une structure de confiance ({}).",
            session.principal.label()
        ));
        db::put(&self.db().beneficiaries, b.id.as_bytes(), &b)?;
        db::put(
            &self.db().attempts,
            key(&[b"b", b.id.as_bytes()]),
            &AttemptRecord::default(),
        )?;
        // Whoever held the old secret is logged out.
        self.inner.sessions.remove_principal(beneficiary);
        self.journal(
            NewEntry::new(session.principal.label(), "vault.recover", "ok").vault(beneficiary),
        )
        .await?;
        Ok(())
    }

    /// Whether a vault can be recovered at all, in plain words.
    pub fn recovery_status(&self, beneficiary: PrincipalId) -> Result<&'static str> {
        let b = self.beneficiary(beneficiary)?;
        Ok(if b.recovery.is_empty() {
            "Aucune structure de confiance : si le secret est oublié, les documents sont perdus."
        } else {
            "Une structure de confiance peut rétablir l'accès, en présence de la personne."
        })
    }

    /// Creates scope (beneficiary, category) at `epoch`, wrapped to the
    /// owner and to `structures`; returns its identity.
    pub(crate) fn new_scope(
        &self,
        beneficiary: PrincipalId,
        category: Category,
        epoch: u32,
        owner: &Recipient,
        structures: &[(PrincipalId, Recipient)],
    ) -> Result<Identity> {
        let scope = Identity::generate();
        let sb = Binding::scope_identity(beneficiary, category.as_str(), epoch);
        let rec = ScopeRecord {
            epoch,
            recipient: scope.recipient().to_string(),
            owner_wrap: wrap::wrap_identity(&scope, owner, &sb)?,
        };
        db::put(
            &self.db().scopes,
            key(&[beneficiary.as_bytes(), category.as_str().as_bytes()]),
            &rec,
        )?;
        for (s, r) in structures {
            self.db().scope_wraps.insert(
                scope_wrap_key(beneficiary, category, epoch, *s),
                wrap::wrap_identity(&scope, r, &sb)?,
            )?;
        }
        Ok(scope)
    }
}

pub(crate) fn scope_wrap_key(b: PrincipalId, c: Category, epoch: u32, s: PrincipalId) -> Vec<u8> {
    key(&[
        b.as_bytes(),
        &[category_byte(c)],
        &epoch.to_be_bytes(),
        s.as_bytes(),
    ])
}

pub(crate) fn category_byte(c: Category) -> u8 {
    Category::ALL.iter().position(|x| *x == c).unwrap_or(0) as u8
}

/// How long an account stays locked after `failures` failures: the base
/// duration at the limit, doubling with each further failure, capped.
fn lock_duration(l: &crate::Limits, failures: u32) -> Duration {
    let doublings = failures.saturating_sub(l.lockout_after).min(20);
    l.lockout_base
        .saturating_mul(1 << doublings)
        .min(l.lockout_max)
}

pub(crate) fn check_grant(g: &NewGrant) -> Result<()> {
    if !GRANT_DAYS.contains(&g.days) {
        return Err(VaultError::Invalid(
            "grant durations are 1, 31, 182 or 365 days".into(),
        ));
    }
    if g.categories.is_empty() || g.permissions.is_empty() {
        return Err(VaultError::Invalid(
            "a grant names at least one category and one permission".into(),
        ));
    }
    Ok(())
}
