//! An upload form: the multipart parser axum uses (multer), then the text
//! fields read the way the API reads them (the very file it compiles).
#![no_main]

#[path = "../../coffre-api/src/form.rs"]
mod form;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let body = Bytes::copy_from_slice(data);
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut multipart = multer::Multipart::new(stream, "coffre-boundary");
    futures_executor::block_on(async {
        let mut fields = 0;
        while let Ok(Some(field)) = multipart.next_field().await {
            fields += 1;
            if fields > 64 {
                return;
            }
            if field.name() == Some("file") {
                continue;
            }
            if let Ok(text) = form::read_text(field).await {
                assert!(text.len() <= form::MAX_TEXT_FIELD);
            }
        }
    });
});
