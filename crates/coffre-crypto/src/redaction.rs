//! Every secret type: its `Debug` prints no key material (in hex, base64,
//! decimal array or age text form), and it is neither `Clone` nor `Copy`.

use std::marker::PhantomData;

use base64::Engine;

use crate::audit::AuditSigningKey;
use crate::object::{ObjectHeader, ObjectReader, ObjectWriter, Opener, RandomAccess, Sealer};
use crate::root::{BlindIndexKey, RootKeyRing};
use crate::wrap::ShareSecret;
use crate::{Dek, DocumentId, Identity, UserSecret};

/// Renderings of `bytes` that a leaky `Debug` could produce.
fn forms(bytes: &[u8]) -> Vec<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    vec![
        hex::encode(bytes),
        hex::encode_upper(bytes),
        b64.encode(bytes),
        b64url.encode(bytes),
        format!("{:?}", bytes),
        // Any 8 consecutive bytes in hex is already a leak.
        hex::encode(&bytes[..8]),
    ]
}

fn assert_hides(debug: String, secret: &[u8]) {
    for f in forms(secret) {
        assert!(
            !debug.contains(&f),
            "Debug output leaks key material: {debug}"
        );
    }
    assert!(
        debug.contains("redacted"),
        "Debug should say it redacts: {debug}"
    );
}

struct Probe<T>(PhantomData<T>);
trait NotClone {
    fn is_clone(&self) -> bool {
        false
    }
}
impl<T> NotClone for Probe<T> {}
impl<T: Clone> Probe<T> {
    // Inherent methods win over trait methods when `T: Clone` holds.
    #[allow(dead_code)]
    fn is_clone(&self) -> bool {
        true
    }
}
macro_rules! assert_not_clone {
    ($($t:ty),* $(,)?) => {$(
        assert!(!Probe::<$t>(PhantomData).is_clone(), concat!(stringify!($t), " must not be Clone"));
    )*};
}

#[test]
fn secret_types_are_not_clone() {
    assert_not_clone!(
        Dek,
        Identity,
        UserSecret,
        ShareSecret,
        RootKeyRing,
        BlindIndexKey,
        AuditSigningKey,
        Sealer,
        Opener,
        RandomAccess,
        ObjectWriter<Vec<u8>>,
        ObjectReader<&[u8]>,
    );
    // The probe itself works: a Clone type is reported as such.
    assert!(Probe::<crate::Recipient>(PhantomData).is_clone());
}

#[test]
fn debug_prints_no_key_material() {
    let dek = Dek::generate().unwrap();
    assert_hides(format!("{dek:?}"), dek.expose());

    let id = Identity::generate();
    let text = id.secret_text();
    let dbg = format!("{id:?}");
    assert!(
        !dbg.contains(text.as_str()) && !dbg.to_lowercase().contains(&text.to_lowercase()[..30])
    );
    assert!(dbg.contains("redacted"));

    let secret = UserSecret::from("123456-mon-code-secret");
    let dbg = format!("{secret:?}");
    assert!(
        !dbg.contains("mon-code-secret") && !dbg.contains("123456") && dbg.contains("redacted")
    );

    let share = ShareSecret::generate().unwrap();
    let dbg = format!("{share:?}");
    assert_hides(dbg.clone(), share.0.as_slice());
    assert!(!dbg.contains(share.to_token().as_str()));

    let ring = RootKeyRing::generate().unwrap();
    let dbg = format!("{ring:?}");
    let raw = ring.serialize();
    assert_hides(dbg, &raw[20..52]);

    let blind = BlindIndexKey::generate().unwrap();
    assert_hides(format!("{blind:?}"), blind.0.as_slice());

    let signing = AuditSigningKey::generate().unwrap();
    assert_hides(format!("{signing:?}"), signing.seed.as_slice());

    // Stream types hold derived keys: their Debug says nothing of them.
    let header = ObjectHeader::new(DocumentId::random().unwrap(), 1);
    let (sealer, prefix) = Sealer::new(&dek, &header).unwrap();
    for dbg in [
        format!("{sealer:?}"),
        format!("{:?}", Opener::new(&dek, &header, &prefix).unwrap()),
        format!(
            "{:?}",
            ObjectWriter::new(&dek, &header, Vec::new()).unwrap()
        ),
    ] {
        assert_hides(dbg, dek.expose());
    }
}
