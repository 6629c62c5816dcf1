//! QR codes drawn on the server, as an image the page carries itself (a
//! `data:` URL: no request to anywhere, allowed by the pages' policy).

use base64::Engine;

/// The QR code of `text` (an address), as an SVG `data:` URL, 240 px at
/// least, with its quiet zone.
pub fn data_url(text: &str) -> Option<String> {
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build();
    Some(format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    ))
}
