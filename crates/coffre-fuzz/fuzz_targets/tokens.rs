//! What arrives in URLs and forms: share-link tokens and enrollment codes,
//! ids in paths, public keys and journal keys.
#![no_main]

use coffre_crypto::wrap::ShareSecret;
use coffre_crypto::{DocumentId, GrantId, PrincipalId, Recipient, RecoveryId, ShareId};
use libfuzzer_sys::fuzz_target;
use std::str::FromStr;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(secret) = ShareSecret::from_token(s) {
        let _ = secret.lookup_key();
        // A token that parses is its own canonical form, once the spaces
        // and line breaks a copy and paste adds around it are trimmed
        // (the first run found the trimming; it is deliberate).
        assert_eq!(&*secret.to_token(), s.trim());
    }
    let _ = PrincipalId::from_str(s);
    let _ = DocumentId::from_str(s);
    let _ = GrantId::from_str(s);
    let _ = ShareId::from_str(s);
    let _ = RecoveryId::from_str(s);
    let _ = Recipient::from_str(s);
    let _ = coffre_crypto::audit::AuditVerifyingKey::from_str(s);
});
