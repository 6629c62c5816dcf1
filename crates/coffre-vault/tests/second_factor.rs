//! A caseworker's second factor (TOTP): a password alone opens nothing,
//! a code works once, a recovery code once, a wrong code counts as a
//! failed attempt, and an admin's reset leaves a session that can only
//! set up a new one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use coffre_crypto::UserSecret;
use coffre_crypto::otp::OtpSecret;
use coffre_vault::{Principal, SecondFactorStage, VaultError};
use common::*;

fn now_secs(w: &World) -> u64 {
    u64::try_from(w.clock.now_ms() / 1000).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_alone_opens_nothing_and_a_code_works_once() {
    let w = world_on_manual_clock().await;
    let s = w.vault.create_structure("CCAS", "admin").await.unwrap();
    let a = w
        .vault
        .enroll_caseworker(&s.enrollment_code, UserSecret::from(PASSWORD))
        .await
        .unwrap();
    assert_eq!(
        a.second_factor.recovery_codes.len(),
        coffre_vault::RECOVERY_CODES
    );
    let login = |code: String| {
        let v = w.vault.clone();
        async move {
            v.login_caseworker("admin", UserSecret::from(PASSWORD), &code)
                .await
        }
    };
    // No code, a wrong code, a code of another secret: refused as a
    // wrong password is.
    assert!(matches!(
        login(String::new()).await,
        Err(VaultError::Unauthenticated)
    ));
    assert!(matches!(
        login("123456".into()).await,
        Err(VaultError::Unauthenticated)
    ));
    let other = OtpSecret::generate().unwrap();
    assert!(matches!(
        login(other.code_at(now_secs(&w)).to_string()).await,
        Err(VaultError::Unauthenticated)
    ));
    // The right code opens a session, once: seen over a shoulder, it is
    // worth nothing.
    let code = a.second_factor.secret.code_at(now_secs(&w)).to_string();
    let out = login(code.clone()).await.unwrap();
    assert_eq!(out.second_factor, SecondFactorStage::Passed);
    assert!(w.vault.session(&out.token).is_ok());
    assert!(matches!(
        login(code.clone()).await,
        Err(VaultError::Unauthenticated)
    ));
    // Nor is the code of a step before it.
    let earlier = a
        .second_factor
        .secret
        .code_at(now_secs(&w) - 30)
        .to_string();
    assert!(matches!(
        login(earlier).await,
        Err(VaultError::Unauthenticated)
    ));
    // A recovery code (typed in capitals, without its dash) works once.
    let rc = a.second_factor.recovery_codes[3]
        .replace('-', "")
        .to_uppercase();
    assert!(login(rc.clone()).await.is_ok());
    assert!(matches!(login(rc).await, Err(VaultError::Unauthenticated)));
    // The next step's code works when its time comes.
    w.clock.advance(std::time::Duration::from_secs(30));
    let next = a.second_factor.secret.code_at(now_secs(&w)).to_string();
    assert!(login(next).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_codes_lock_the_account_like_wrong_passwords() {
    let w = world_on_manual_clock().await;
    let s = w.vault.create_structure("CCAS", "admin").await.unwrap();
    let a = w
        .vault
        .enroll_caseworker(&s.enrollment_code, UserSecret::from(PASSWORD))
        .await
        .unwrap();
    let mut last = Ok(());
    for _ in 0..6 {
        last = w
            .vault
            .login_caseworker("admin", UserSecret::from(PASSWORD), "000000")
            .await
            .map(|_| ());
    }
    assert!(
        matches!(last, Err(VaultError::LockedOut { .. })),
        "{last:?}"
    );
    // Locked: even the right code is refused until the lock ends.
    let code = a.second_factor.secret.code_at(now_secs(&w)).to_string();
    assert!(matches!(
        w.vault
            .login_caseworker("admin", UserSecret::from(PASSWORD), &code)
            .await,
        Err(VaultError::LockedOut { .. })
    ));
    // The journal says the password was right: someone knows it.
    let slice = w.vault.journal_slice(1, u64::MAX).await.unwrap();
    assert!(slice.records.iter().any(|r| {
        r.entry
            .detail
            .as_deref()
            .is_some_and(|d| d.starts_with("right password, wrong second-factor code"))
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_leaves_a_session_that_can_only_set_up_a_new_factor() {
    let w = world_on_manual_clock().await;
    let (sid, admin) = structure(&w, "CCAS", "admin").await;
    let julie = caseworker(&w, &admin, sid, "julie").await;
    let julie_id = julie.principal.id();
    let paul = caseworker(&w, &admin, sid, "paul").await;
    // Only an admin resets, and not their own.
    assert!(matches!(
        w.vault.reset_second_factor(&paul, julie_id).await,
        Err(VaultError::Forbidden(_))
    ));
    assert!(matches!(
        w.vault
            .reset_second_factor(&admin, admin.principal.id())
            .await,
        Err(VaultError::Forbidden(_))
    ));
    // Another structure's admin cannot either (nor learn she exists).
    let (_, other) = structure(&w, "Relais", "admin.relais").await;
    assert!(matches!(
        w.vault.reset_second_factor(&other, julie_id).await,
        Err(VaultError::NotFound)
    ));
    assert!(
        w.vault
            .caseworkers_of(sid)
            .unwrap()
            .iter()
            .all(|c| c.second_factor)
    );
    let setup = w.vault.reset_second_factor(&admin, julie_id).await.unwrap();
    // Her sessions ended at once.
    assert!(!w.vault.session_is_live(&julie));
    // Her old app's codes no longer matter; her password opens a session
    // that is no session: nothing finds it but the set-up.
    let out = w
        .vault
        .login_caseworker("julie", UserSecret::from(PASSWORD), "")
        .await
        .unwrap();
    assert_eq!(out.second_factor, SecondFactorStage::SetupRequired);
    assert!(matches!(
        w.vault.session(&out.token),
        Err(VaultError::Unauthenticated)
    ));
    let pending = w.vault.session_awaiting_second_factor(&out.token).unwrap();
    assert!(matches!(pending.principal, Principal::Caseworker { .. }));
    // A wrong code does not set it up.
    let secret = OtpSecret::generate().unwrap();
    assert!(matches!(
        w.vault
            .set_up_second_factor(
                &pending,
                &setup,
                OtpSecret::from_base32(&secret.to_base32()).unwrap(),
                "000000"
            )
            .await,
        Err(VaultError::Invalid(_))
    ));
    let copy = OtpSecret::from_base32(&secret.to_base32()).unwrap();
    let code = copy.code_at(now_secs(&w)).to_string();
    // Without the set-up code the admin handed over, the password alone
    // does not choose her factor (a stranger who knows it would).
    for wrong in ["", "pas-le-bon-code"] {
        assert!(matches!(
            w.vault
                .set_up_second_factor(
                    &pending,
                    wrong,
                    OtpSecret::from_base32(&copy.to_base32()).unwrap(),
                    &code
                )
                .await,
            Err(VaultError::Forbidden(_))
        ));
    }
    let codes = w
        .vault
        .set_up_second_factor(&pending, &setup, secret, &code)
        .await
        .unwrap();
    // The same session is now an ordinary one.
    assert!(w.vault.session(&out.token).is_ok());
    assert!(w.vault.session_awaiting_second_factor(&out.token).is_err());
    // And the next login needs the new app's code (not the one just used).
    assert!(
        w.vault
            .login_caseworker("julie", UserSecret::from(PASSWORD), &code)
            .await
            .is_err()
    );
    w.clock.advance(std::time::Duration::from_secs(30));
    let fresh = copy.code_at(now_secs(&w)).to_string();
    assert!(
        w.vault
            .login_caseworker("julie", UserSecret::from(PASSWORD), &fresh)
            .await
            .is_ok()
    );
    // The journal says who reset whose, and that she set one up.
    let slice = w.vault.journal_slice(1, u64::MAX).await.unwrap();
    let actions: Vec<&str> = slice
        .records
        .iter()
        .map(|r| r.entry.action.as_str())
        .collect();
    assert!(actions.contains(&"caseworker.second_factor_reset"));
    assert!(actions.contains(&"caseworker.second_factor"));
    // The set-up code worked once.
    w.vault.reset_second_factor(&admin, julie_id).await.unwrap();
    let again = w
        .vault
        .login_caseworker("julie", UserSecret::from(PASSWORD), "")
        .await
        .unwrap();
    let again = w
        .vault
        .session_awaiting_second_factor(&again.token)
        .unwrap();
    assert!(matches!(
        w.vault
            .set_up_second_factor(
                &again,
                &setup,
                OtpSecret::from_base32(&copy.to_base32()).unwrap(),
                &code
            )
            .await,
        Err(VaultError::Forbidden(_))
    ));
    assert_eq!(codes.len(), coffre_vault::RECOVERY_CODES);
}
