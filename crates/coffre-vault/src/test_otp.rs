//! Tests' authenticator app: the second factors of the caseworkers that
//! tests activate, by caseworker id, and fresh codes for their logins
//! (a step is accepted once; the next step's code a step early; past
//! that a recovery code; past those the clock moves on, by hand when it is
//! a test's clock).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use coffre_crypto::otp::OtpSecret;
use coffre_crypto::{PrincipalId, UserSecret};

use crate::records::LoginKind;
use crate::{LoginOutcome, Result, Vault};

/// An app: the secret, the last step a code was made for, the recovery
/// codes not used yet.
type App = (OtpSecret, u64, Vec<String>);

fn apps() -> &'static Mutex<HashMap<PrincipalId, App>> {
    static APPS: OnceLock<Mutex<HashMap<PrincipalId, App>>> = OnceLock::new();
    APPS.get_or_init(|| Mutex::new(HashMap::new()))
}

impl Vault {
    /// Activates an account and keeps its second factor.
    pub(crate) async fn activate(&self, code: &str, password: &str) -> Result<PrincipalId> {
        let a = self
            .enroll_caseworker(code, UserSecret::from(password))
            .await?;
        let copy = OtpSecret::from_base32(&a.second_factor.secret.to_base32())?;
        apps()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(
                a.caseworker_id,
                (
                    copy,
                    0,
                    a.second_factor
                        .recovery_codes
                        .iter()
                        .map(|c| c.to_string())
                        .collect(),
                ),
            );
        Ok(a.caseworker_id)
    }

    /// A code not used before, of the second factor of `login`.
    pub(crate) async fn fresh_code(&self, login: &str) -> String {
        let Ok((_, Some(account))) = self.account(LoginKind::Caseworker, login) else {
            return String::new();
        };
        loop {
            let now_ms = u64::try_from(self.now_ms()).unwrap_or(0);
            let step = now_ms / 1000 / 30;
            let wait = {
                let mut apps = apps()
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let Some((secret, last, recovery)) = apps.get_mut(&account.id) else {
                    return String::new();
                };
                if *last < step {
                    *last = step;
                    return secret.code_at(step * 30).to_string();
                }
                if *last == step {
                    *last = step + 1;
                    return secret.code_at((step + 1) * 30).to_string();
                }
                // Logins in quick succession: what a person without
                // time would use, a recovery code; then the clock.
                if let Some(code) = recovery.pop() {
                    return code;
                }
                (step + 1) * 30_000 - now_ms
            };
            if !self.inner.clock.advance(Duration::from_millis(wait)) {
                tokio::time::sleep(Duration::from_millis(wait + 10)).await;
            }
        }
    }

    /// Logs a caseworker in with a fresh code.
    pub(crate) async fn login_cw(&self, login: &str, password: &str) -> Result<LoginOutcome> {
        let code = self.fresh_code(login).await;
        self.login_caseworker(login, UserSecret::from(password), &code)
            .await
    }
}
