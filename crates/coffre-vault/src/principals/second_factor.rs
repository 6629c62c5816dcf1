//! A caseworker's second factor: a TOTP secret (RFC 6238) wrapped to the
//! caseworker's own identity, so only a login that typed the right
//! password can check a code; ten single-use recovery codes, kept as
//! blind indexes; the last step accepted, so no code is accepted twice.
//!
//! It is set up when the account is activated (the page shows it as a QR
//! code). A structure admin can reset it (a lost phone), which gives a
//! one-time set-up code to hand over in person: the next login, with the
//! password alone, opens a session that can do one thing, set up a new
//! factor ([`Vault::set_up_second_factor`]), and only with that code — so
//! a password known to someone else is not enough to take the account.
//! An account made before second factors existed has none: an admin (or
//! the operator) gives it a set-up code the same way.

use coffre_crypto::otp::OtpSecret;
use coffre_crypto::wrap::{self, Binding, ShareSecret};
use coffre_crypto::{Identity, PrincipalId};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::journal::{Event, NewEntry, Who};
use crate::policy::StructureAction;
use crate::records::CaseworkerRecord;
use crate::session::{Principal, Session};
use crate::{Result, Vault, VaultError};

/// Recovery codes given at each set-up.
pub const RECOVERY_CODES: usize = 10;
/// How long a set-up code given by an admin works.
pub const SETUP_CODE_TTL_MS: i64 = 72 * 3600 * 1000;
/// Letters of a recovery code: no 0/o, 1/l/i (read from paper).
const RECOVERY_ALPHABET: &[u8; 31] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// A second factor just set up: shown once (QR code, recovery codes),
/// never again.
#[derive(Debug)]
pub struct SecondFactorSetUp {
    pub secret: OtpSecret,
    pub recovery_codes: Vec<Zeroizing<String>>,
}

/// What a login's second factor came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactorStage {
    /// Checked (or not asked: a person's login): the session is open.
    Passed,
    /// None set up (reset by an admin): the session can only set one up.
    SetupRequired,
}

/// What the code typed at a login is.
pub(crate) enum CodeCheck {
    /// No second factor on the account.
    NotSetUp,
    /// A code of this step, later than the last accepted.
    Step(u64),
    /// One of the recovery codes (this blind index).
    Recovery(String),
    Wrong,
}

impl Vault {
    fn recovery_index(&self, caseworker: PrincipalId, code: &str) -> String {
        let typed: String = code
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let domain = format!("second-factor-recovery:{caseworker}");
        hex::encode(self.inner.blind.index(&domain, &typed))
    }

    fn now_secs(&self) -> u64 {
        u64::try_from(self.now_ms().div_euclid(1000)).unwrap_or(0)
    }

    /// A new second factor for `caseworker`, wrapped to `recipient`: the
    /// fields of their record and what to show them once.
    pub(crate) fn new_second_factor(
        &self,
        caseworker: PrincipalId,
        identity: &Identity,
        secret: OtpSecret,
    ) -> Result<(Vec<u8>, Vec<String>, SecondFactorSetUp)> {
        let wrapped = wrap::wrap_otp_secret(
            &secret,
            &identity.recipient(),
            &Binding::second_factor(caseworker),
        )?;
        let mut codes = Vec::with_capacity(RECOVERY_CODES);
        let mut indexes = Vec::with_capacity(RECOVERY_CODES);
        for _ in 0..RECOVERY_CODES {
            let code = recovery_code()?;
            indexes.push(self.recovery_index(caseworker, &code));
            codes.push(code);
        }
        Ok((
            wrapped,
            indexes,
            SecondFactorSetUp {
                secret,
                recovery_codes: codes,
            },
        ))
    }

    /// Checks the code typed at a login, with the identity the password
    /// opened. Only reads: [`Vault::accept_code`] records it.
    pub(crate) fn check_code(
        &self,
        cw: &CaseworkerRecord,
        identity: &Identity,
        code: &str,
    ) -> Result<CodeCheck> {
        if cw.second_factor.is_empty() {
            return Ok(CodeCheck::NotSetUp);
        }
        let secret =
            wrap::unwrap_otp_secret(&cw.second_factor, identity, &Binding::second_factor(cw.id))
                .map_err(|_| VaultError::Tampered("caseworkers"))?;
        if let Some(step) = secret.check(code, self.now_secs()) {
            return Ok(if step > cw.last_otp_step {
                CodeCheck::Step(step)
            } else {
                // Already used (RFC 6238 §5.2): someone saw it typed.
                CodeCheck::Wrong
            });
        }
        let index = self.recovery_index(cw.id, code);
        if code.len() >= 8 && cw.recovery_codes.iter().any(|c| c == &index) {
            return Ok(CodeCheck::Recovery(index));
        }
        Ok(CodeCheck::Wrong)
    }

    /// Records an accepted code: its step (no code of it or before is
    /// accepted again), or the recovery code gone. Inside one transaction
    /// with a re-read, so two logins with one code cannot both pass.
    pub(crate) fn accept_code(&self, caseworker: PrincipalId, check: &CodeCheck) -> Result<bool> {
        self.records().write(|tx| {
            let Some(mut cw) = tx.caseworkers().get(caseworker)? else {
                return Ok(false);
            };
            match check {
                CodeCheck::Step(step) if *step > cw.last_otp_step => cw.last_otp_step = *step,
                CodeCheck::Recovery(index) if cw.recovery_codes.contains(index) => {
                    cw.recovery_codes.retain(|c| c != index);
                }
                CodeCheck::NotSetUp if cw.second_factor.is_empty() => return Ok(true),
                _ => return Ok(false),
            }
            tx.caseworkers().put(&cw)?;
            Ok(true)
        })
    }

    /// A caseworker whose second factor was reset sets up a new one: the
    /// secret their app read (from the page's QR code) and a code from
    /// the app, proving it reads it. Only from the session such a login
    /// opened ([`Vault::session_awaiting_second_factor`]); that session
    /// then becomes an ordinary one. Returns the recovery codes.
    pub async fn set_up_second_factor(
        &self,
        session: &Session,
        setup_code: &str,
        secret: OtpSecret,
        code: &str,
    ) -> Result<Vec<Zeroizing<String>>> {
        let Principal::Caseworker { id, .. } = session.principal else {
            return Err(VaultError::Forbidden(
                "only caseworkers have a second factor",
            ));
        };
        if !self.inner.sessions.awaiting(session) {
            return Err(VaultError::Unauthenticated);
        }
        // The set-up code the admin handed over: without it, a password
        // known to someone else would let them choose the factor.
        let given = ShareSecret::from_token(setup_code)
            .ok()
            .and_then(|s| s.lookup_key().ok())
            .map(hex::encode);
        let now = self.now_ms();
        let expected = self
            .records()
            .read()
            .caseworkers()
            .get(id)?
            .and_then(|c| c.setup_code);
        let valid = match (&given, &expected) {
            (Some(g), Some((want, until))) => {
                bool::from(g.as_bytes().ct_eq(want.as_bytes())) && *until > now
            }
            _ => false,
        };
        if !valid {
            self.journal(
                NewEntry::denied(Who::Caseworker(id), Event::SecondFactorSetUp)
                    .detail("wrong or expired set-up code"),
            )
            .await?;
            return Err(VaultError::Forbidden(
                "the set-up code is wrong or expired: ask an admin of your structure for a new one",
            ));
        }
        let Some(step) = secret.check(code, self.now_secs()) else {
            return Err(VaultError::Invalid(
                "the code does not match: type the code the app shows now".into(),
            ));
        };
        let _writing = self.writing().await;
        let (wrapped, indexes, shown) = self.new_second_factor(id, &session.identity, secret)?;
        let done = self.records().write(|tx| {
            let Some(mut cw) = tx.caseworkers().get(id)? else {
                return Ok(false);
            };
            if !cw.active || !cw.second_factor.is_empty() || cw.setup_code != expected {
                return Ok(false);
            }
            cw.second_factor = wrapped.clone();
            cw.recovery_codes = indexes.clone();
            cw.last_otp_step = step;
            cw.setup_code = None;
            tx.caseworkers().put(&cw)?;
            Ok(true)
        })?;
        if !done {
            return Err(VaultError::Conflict(
                "the account changed meanwhile; log in again",
            ));
        }
        self.inner.sessions.promote(session);
        self.journal(NewEntry::ok(Who::Caseworker(id), Event::SecondFactorSetUp))
            .await?;
        Ok(shown.recovery_codes)
    }

    /// Structure admin: removes a caseworker's second factor (a lost
    /// phone), or gives one to an account made before second factors.
    /// Their sessions end. Returns the one-time set-up code to hand over in
    /// person: their next login, with the password, sets up a new factor
    /// with it. Not one's own: another admin does it.
    pub async fn reset_second_factor(
        &self,
        session: &Session,
        caseworker: PrincipalId,
    ) -> Result<Zeroizing<String>> {
        let who = session.principal.who();
        let _writing = self.writing().await;
        let Some(cw) = self.records().read().caseworkers().get(caseworker)? else {
            self.journal(
                NewEntry::denied(who, Event::SecondFactorReset).detail("unknown caseworker"),
            )
            .await?;
            return Err(VaultError::NotFound);
        };
        self.authorize_structure(
            session,
            StructureAction::ManageCaseworkers,
            cw.structure,
            Event::SecondFactorReset,
        )
        .await?;
        if session.principal.id() == cw.id {
            self.journal(
                NewEntry::denied(who, Event::SecondFactorReset)
                    .detail("an admin cannot reset their own second factor"),
            )
            .await?;
            return Err(VaultError::Forbidden(
                "an admin cannot reset their own second factor; another admin can",
            ));
        }
        self.issue_setup_code(who, cw).await
    }

    /// Operator (`coffre admin caseworker second-factor-code`): the same,
    /// for a structure whose admins cannot (its only admin lost their
    /// phone, or was made before second factors).
    pub async fn reset_second_factor_as_operator(
        &self,
        caseworker: PrincipalId,
    ) -> Result<Zeroizing<String>> {
        let _writing = self.writing().await;
        let Some(cw) = self.records().read().caseworkers().get(caseworker)? else {
            return Err(VaultError::NotFound);
        };
        self.issue_setup_code(Who::Operator, cw).await
    }

    async fn issue_setup_code(&self, who: Who, cw: CaseworkerRecord) -> Result<Zeroizing<String>> {
        if !cw.active {
            return Err(VaultError::Gone);
        }
        let code = ShareSecret::generate()?;
        let lookup = hex::encode(code.lookup_key()?);
        let until = self.now_ms() + SETUP_CODE_TTL_MS;
        self.records().write(|tx| {
            let Some(mut c) = tx.caseworkers().get(cw.id)? else {
                return Err(VaultError::NotFound.into());
            };
            c.second_factor = Vec::new();
            c.recovery_codes = Vec::new();
            c.setup_code = Some((lookup.clone(), until));
            tx.caseworkers().put(&c)
        })?;
        self.inner.sessions.remove_principal(cw.id);
        self.journal(
            NewEntry::ok(who, Event::SecondFactorReset).detail(format!("caseworker:{}", cw.id)),
        )
        .await?;
        Ok(code.to_token())
    }

    /// The session a login opened for a caseworker who must set up a
    /// second factor: usable for nothing else ([`Vault::session`] does
    /// not know it).
    pub fn session_awaiting_second_factor(&self, token: &str) -> Result<std::sync::Arc<Session>> {
        self.inner.sessions.get_awaiting(token)
    }
}

/// A recovery code: ten characters of 31 (49 bits), shown `abcde-fghjk`.
fn recovery_code() -> Result<Zeroizing<String>> {
    use ring::rand::{SecureRandom, SystemRandom};
    let rng = SystemRandom::new();
    let mut s = Zeroizing::new(String::with_capacity(11));
    let mut drawn = 0;
    while drawn < 10 {
        let mut b = Zeroizing::new([0u8; 1]);
        rng.fill(b.as_mut_slice())
            .map_err(|_| VaultError::Internal("random number generator"))?;
        // Rejection sampling: 31 symbols, no bias.
        let v = usize::from(b[0] & 31);
        if v >= RECOVERY_ALPHABET.len() {
            continue;
        }
        if drawn == 5 {
            s.push('-');
        }
        s.push(char::from(RECOVERY_ALPHABET[v]));
        drawn += 1;
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_ten_unambiguous_characters() {
        let a = recovery_code().unwrap();
        let b = recovery_code().unwrap();
        assert_ne!(a.as_str(), b.as_str());
        assert_eq!(a.len(), 11);
        assert_eq!(&a[5..6], "-");
        assert!(
            a.chars()
                .filter(|c| *c != '-')
                .all(|c| RECOVERY_ALPHABET.contains(&(c as u8)))
        );
    }
}
