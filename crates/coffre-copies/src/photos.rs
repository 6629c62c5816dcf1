//! Phone photos of a paper's pages made into one PDF: each JPEG embedded
//! as it is (DCTDecode, never decoded: a 12-megapixel photo costs its file
//! size, not 36 MB of pixels), turned by its EXIF orientation in the page's
//! matrix, fitted on an A4 page. Only the headers are read (zune-jpeg for
//! the frame, kamadak-exif for the orientation).

use std::io::Cursor;

use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref};

/// Most photos in one paper.
pub const MAX_PHOTOS: usize = 20;
/// Largest photo (a phone's photo is 2 to 8 MB).
pub const MAX_PHOTO_BYTES: usize = 15 << 20;
/// Largest sum of the photos of one paper.
pub const MAX_PHOTOS_BYTES: usize = 60 << 20;

/// A4 in PDF points (1/72 inch), and the margin around a photo.
const A4: (f32, f32) = (595.0, 842.0);
const MARGIN: f32 = 18.0;

/// Why photos cannot be made into a PDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PhotoError {
    /// A file is not a JPEG (or its headers do not parse).
    #[error("not a JPEG")]
    NotJpeg,
    /// More than [`MAX_PHOTOS`].
    #[error("too many photos")]
    TooMany,
    /// A photo over [`MAX_PHOTO_BYTES`], or all over [`MAX_PHOTOS_BYTES`].
    #[error("a photo is too large")]
    TooLarge,
    /// No photo at all.
    #[error("no photo")]
    None,
}

/// What the PDF needs of a JPEG: its size, colours, and how to turn it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JpegFacts {
    /// Pixels across, as stored.
    pub width: u16,
    /// Pixels down, as stored.
    pub height: u16,
    /// 1 (grey), 3 (colour) or 4 (CMYK).
    pub components: u8,
    /// EXIF orientation, 1 to 8 (1: as stored).
    pub orientation: u8,
}

/// Reads a JPEG's headers (never its pixels).
pub fn jpeg_facts(data: &[u8]) -> Result<JpegFacts, PhotoError> {
    if !data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Err(PhotoError::NotJpeg);
    }
    let mut d = zune_jpeg::JpegDecoder::new(Cursor::new(data));
    d.decode_headers().map_err(|_| PhotoError::NotJpeg)?;
    let info = d.info().ok_or(PhotoError::NotJpeg)?;
    if info.width == 0 || info.height == 0 || !matches!(info.components, 1 | 3 | 4) {
        return Err(PhotoError::NotJpeg);
    }
    let orientation = info
        .exif_data
        .and_then(|raw| exif_orientation(raw.to_vec()))
        .unwrap_or(1);
    Ok(JpegFacts {
        width: info.width,
        height: info.height,
        components: info.components,
        orientation,
    })
}

/// The orientation tag of raw EXIF data (from its TIFF header on).
fn exif_orientation(raw: Vec<u8>) -> Option<u8> {
    // zune-jpeg hands the APP1 payload with or without its "Exif\0\0".
    let raw = match raw.strip_prefix(b"Exif\0\0") {
        Some(rest) => rest.to_vec(),
        None => raw,
    };
    let exif = exif::Reader::new().read_raw(raw).ok()?;
    let field = exif.get_field(exif::Tag::Orientation, exif::In::PRIMARY)?;
    let o = field.value.get_uint(0)?;
    u8::try_from(o).ok().filter(|o| (1..=8).contains(o))
}

/// The matrix drawing the unit square of an image into the box
/// `(x, y, w, h)` of the page, turned as its EXIF orientation says (the box
/// has the displayed proportions).
pub fn placement(orientation: u8, x: f32, y: f32, w: f32, h: f32) -> [f32; 6] {
    match orientation {
        2 => [-w, 0.0, 0.0, h, x + w, y],
        3 => [-w, 0.0, 0.0, -h, x + w, y + h],
        4 => [w, 0.0, 0.0, -h, x, y + h],
        5 => [0.0, -h, -w, 0.0, x + w, y + h],
        6 => [0.0, -h, w, 0.0, x, y + h],
        7 => [0.0, h, w, 0.0, x, y],
        8 => [0.0, h, -w, 0.0, x + w, y],
        _ => [w, 0.0, 0.0, h, x, y],
    }
}

/// A photo without what a phone writes beside its pixels — EXIF (the GPS
/// position, the time, the device), XMP, IPTC, comments, thumbnails —
/// keeping only its orientation (a minimal EXIF block), its colour profile
/// (APP2) and the JFIF/Adobe markers the decoder needs. The pixels are not
/// touched: only segments before them are dropped.
pub fn without_metadata(jpeg: &[u8], orientation: u8) -> Result<Vec<u8>, PhotoError> {
    use img_parts::ImageEXIF;
    use img_parts::jpeg::{Jpeg, markers};
    let mut image = Jpeg::from_bytes(img_parts::Bytes::copy_from_slice(jpeg))
        .map_err(|_| PhotoError::NotJpeg)?;
    image.segments_mut().retain(|s| {
        let m = s.marker();
        let c = s.contents();
        match m {
            // JFIF, not its JFXX thumbnail extension.
            markers::APP0 => !c.starts_with(b"JFXX"),
            // The colour profile, not the MPF index of further images.
            markers::APP2 => c.starts_with(b"ICC_PROFILE\0"),
            // Adobe's colour transform (the decoder needs it).
            markers::APP14 => true,
            m if (markers::APP1..=markers::APP15).contains(&m) || m == markers::COM => false,
            _ => true,
        }
    });
    if orientation != 1 {
        // "Exif\0\0" is added by set_exif; this is the TIFF block: big
        // endian, one IFD with one entry, Orientation (0x0112), SHORT.
        let mut tiff = b"MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01".to_vec();
        tiff.extend_from_slice(&u16::from(orientation).to_be_bytes());
        tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        image.set_exif(Some(img_parts::Bytes::from(tiff)));
    }
    let mut out = image.encoder().bytes().to_vec();
    // Everything after the image's end (a phone's "motion photo" video,
    // further MPF images with their own EXIF, vendor trailers) goes too.
    // 0xFF 0xD9 cannot occur inside the compressed data (a 0xFF there is
    // followed by 0x00 or a restart marker), so the first after the start
    // of scan ends the image.
    if let Some(sos) = out.windows(2).position(|w| w == [0xFF, 0xDA])
        && let Some(eoi) = out[sos..].windows(2).position(|w| w == [0xFF, 0xD9])
    {
        out.truncate(sos + eoi + 2);
    }
    Ok(out)
}

/// One PDF, one A4 page per photo, in the order given; each photo without
/// its metadata ([`without_metadata`]).
pub fn photos_to_pdf(photos: &[Vec<u8>]) -> Result<Vec<u8>, PhotoError> {
    build(photos, None, MAX_PHOTO_BYTES)
}

/// The same, with a mark drawn over each page ([`crate::mark`]); a single
/// photo may be as large as a markable paper.
pub fn photos_to_pdf_marked(photos: &[Vec<u8>], mark: &str) -> Result<Vec<u8>, PhotoError> {
    build(photos, Some(mark), crate::mark::MARKABLE_MAX_BYTES)
}

fn build(photos: &[Vec<u8>], mark: Option<&str>, max_each: usize) -> Result<Vec<u8>, PhotoError> {
    if photos.is_empty() {
        return Err(PhotoError::None);
    }
    if photos.len() > MAX_PHOTOS {
        return Err(PhotoError::TooMany);
    }
    if photos.iter().any(|p| p.len() > max_each)
        || photos.iter().map(Vec::len).sum::<usize>() > MAX_PHOTOS_BYTES.max(max_each)
    {
        return Err(PhotoError::TooLarge);
    }
    let facts = photos
        .iter()
        .map(|p| jpeg_facts(p))
        .collect::<Result<Vec<_>, _>>()?;
    let photos = photos
        .iter()
        .zip(&facts)
        .map(|(p, f)| without_metadata(p, f.orientation))
        .collect::<Result<Vec<_>, _>>()?;
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    // The mark's font, shared by every page.
    let font = Ref::new(3 + 3 * i32::try_from(photos.len()).unwrap_or(0));
    // Per photo: its page, its content stream, its image.
    let ids = |i: usize| {
        let base = 3 + 3 * i32::try_from(i).unwrap_or(0);
        (Ref::new(base), Ref::new(base + 1), Ref::new(base + 2))
    };
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids((0..photos.len()).map(|i| ids(i).0))
        .count(i32::try_from(photos.len()).unwrap_or(0));
    for (i, (data, f)) in photos.iter().zip(&facts).enumerate() {
        let data = data.as_slice();
        let (page_id, content_id, image_id) = ids(i);
        let turned = matches!(f.orientation, 5..=8);
        let (shown_w, shown_h) = if turned {
            (f32::from(f.height), f32::from(f.width))
        } else {
            (f32::from(f.width), f32::from(f.height))
        };
        let (room_w, room_h) = (A4.0 - 2.0 * MARGIN, A4.1 - 2.0 * MARGIN);
        let scale = (room_w / shown_w).min(room_h / shown_h);
        let (w, h) = (shown_w * scale, shown_h * scale);
        let (x, y) = ((A4.0 - w) / 2.0, (A4.1 - h) / 2.0);
        let name = Name(b"Photo");
        let mut page = pdf.page(page_id);
        page.media_box(Rect::new(0.0, 0.0, A4.0, A4.1));
        page.parent(tree);
        page.contents(content_id);
        {
            let mut resources = page.resources();
            resources.x_objects().pair(name, image_id);
            if mark.is_some() {
                resources.fonts().pair(Name(b"CoffreMark"), font);
            }
        }
        page.finish();
        let mut content = Content::new();
        content.save_state();
        content.transform(placement(f.orientation, x, y, w, h));
        content.x_object(name);
        content.restore_state();
        let mut drawing = content.finish().to_vec();
        if let Some(mark) = mark {
            drawing.push(b'\n');
            drawing.extend_from_slice(&crate::mark::mark_content(b"CoffreMark", A4.0, A4.1, mark));
        }
        pdf.stream(content_id, &drawing);
        let mut image = pdf.image_xobject(image_id, data);
        image.filter(Filter::DctDecode);
        image.width(i32::from(f.width));
        image.height(i32::from(f.height));
        match f.components {
            1 => {
                image.color_space().device_gray();
            }
            4 => {
                image.color_space().device_cmyk();
                // CMYK JPEGs (scanners, Photoshop: Adobe's marker) store
                // their inks inverted.
                image.decode([1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0]);
            }
            _ => {
                image.color_space().device_rgb();
            }
        }
        image.bits_per_component(8);
        image.finish();
    }
    if mark.is_some() {
        pdf.type1_font(font)
            .base_font(Name(b"Helvetica"))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    Ok(pdf.finish())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A real JPEG (`w`×`h`, RGB) with an EXIF orientation tag.
    pub fn jpeg(w: u16, h: u16, orientation: Option<u16>) -> Vec<u8> {
        let pixels: Vec<u8> = (0..usize::from(w) * usize::from(h))
            .flat_map(|i| [(i % 251) as u8, 90, 200])
            .collect();
        let mut out = Vec::new();
        let mut enc = jpeg_encoder::Encoder::new(&mut out, 80);
        if let Some(o) = orientation {
            // "Exif\0\0", a big-endian TIFF header, one IFD with one entry:
            // Orientation (0x0112), SHORT, count 1, value o.
            let mut app1 = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01".to_vec();
            app1.extend_from_slice(&o.to_be_bytes());
            app1.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
            enc.add_app_segment(1, &app1).unwrap();
        }
        enc.encode(&pixels, w, h, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        out
    }

    /// A JPEG's entropy-coded data: from its start-of-scan marker on.
    pub fn scan_data(jpeg: &[u8]) -> &[u8] {
        let at = jpeg.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
        &jpeg[at..]
    }

    /// A JPEG with a GPS-like EXIF block, a comment and an XMP packet.
    fn with_metadata(w: u16, h: u16) -> Vec<u8> {
        let pixels: Vec<u8> = (0..usize::from(w) * usize::from(h))
            .flat_map(|i| [(i % 251) as u8, 90, 200])
            .collect();
        let mut out = Vec::new();
        let mut enc = jpeg_encoder::Encoder::new(&mut out, 80);
        let mut app1 =
            b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x06\0\0\0\0".to_vec();
        app1.extend_from_slice(b"GPS 45.7640N 4.8357E");
        enc.add_app_segment(1, &app1).unwrap();
        enc.add_app_segment(
            1,
            b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta>GPS</x:xmpmeta>",
        )
        .unwrap();
        enc.add_app_segment(13, b"Photoshop 3.0\0IPTC city Lyon")
            .unwrap();
        enc.encode(&pixels, w, h, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        out
    }

    #[test]
    fn what_a_phone_writes_beside_the_pixels_never_leaves() {
        let mut photo = with_metadata(40, 30);
        // A "motion photo": a video with its own location after the image.
        photo.extend_from_slice(b"\0\0\0\x18ftypmp42 GPS-in-the-video");
        assert!(photo.windows(3).any(|w| w == b"GPS"));
        let clean = without_metadata(&photo, 6).unwrap();
        assert!(!clean.windows(3).any(|w| w == b"GPS"));
        assert!(!clean.windows(4).any(|w| w == b"Lyon"));
        // The orientation stays (browsers turn the photo by it), the
        // pixels are the same bytes.
        assert_eq!(jpeg_facts(&clean).unwrap().orientation, 6);
        assert!(clean.ends_with(&[0xFF, 0xD9]), "nothing after the image");
        let pixels = &scan_data(&photo)[..scan_data(&clean).len()];
        assert_eq!(scan_data(&clean), pixels);
        let pdf = photos_to_pdf(std::slice::from_ref(&photo)).unwrap();
        assert!(!pdf.windows(3).any(|w| w == b"GPS"), "nor from the PDF");
        assert!(pdf.windows(pixels.len()).any(|w| w == pixels));
    }

    #[test]
    fn facts_come_from_the_headers() {
        let f = jpeg_facts(&jpeg(40, 30, Some(6))).unwrap();
        assert_eq!(
            f,
            JpegFacts {
                width: 40,
                height: 30,
                components: 3,
                orientation: 6
            }
        );
        assert_eq!(jpeg_facts(&jpeg(8, 8, None)).unwrap().orientation, 1);
        assert_eq!(jpeg_facts(b"\x89PNG\r\n"), Err(PhotoError::NotJpeg));
        assert_eq!(
            jpeg_facts(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 2]),
            Err(PhotoError::NotJpeg)
        );
    }

    /// Where the image's top-left corner lands, for each orientation.
    #[test]
    fn orientations_put_the_top_left_corner_where_exif_says() {
        let at =
            |m: [f32; 6], u: f32, v: f32| (m[0] * u + m[2] * v + m[4], m[1] * u + m[3] * v + m[5]);
        // The box is (0,0)-(10,20); the image's top-left is (u,v) = (0,1).
        let cases = [
            (1, (0.0, 20.0)),  // as stored: top-left
            (2, (10.0, 20.0)), // mirrored: top-right
            (3, (10.0, 0.0)),  // half-turn: bottom-right
            (4, (0.0, 0.0)),   // flipped: bottom-left
            (5, (0.0, 20.0)),  // transposed: top-left
            (6, (10.0, 20.0)), // a quarter clockwise: top-right
            (7, (10.0, 0.0)),  // transverse: bottom-right
            (8, (0.0, 0.0)),   // a quarter anticlockwise: bottom-left
        ];
        for (o, corner) in cases {
            assert_eq!(
                at(placement(o, 0.0, 0.0, 10.0, 20.0), 0.0, 1.0),
                corner,
                "orientation {o}"
            );
        }
    }

    #[test]
    fn photos_become_one_pdf_of_a4_pages_with_the_jpegs_as_they_are() {
        let a = jpeg(64, 48, Some(6));
        let b = jpeg(48, 64, None);
        let pdf = photos_to_pdf(&[a.clone(), b.clone()]).unwrap();
        let text = String::from_utf8_lossy(&pdf);
        assert!(pdf.starts_with(b"%PDF-"));
        assert_eq!(text.matches("/DCTDecode").count(), 2);
        assert_eq!(text.matches("/MediaBox [0 0 595 842]").count(), 2);
        assert!(text.contains("/Count 2"));
        // The compressed pixels are inside, untouched (only metadata goes).
        for photo in [&a, &b] {
            let pixels = scan_data(photo);
            assert!(pdf.windows(pixels.len()).any(|w| w == pixels));
        }
        // The turned photo's page matrix turns it (a zero where a scale was).
        assert!(text.contains(" cm"), "{text}");
        assert_eq!(photos_to_pdf(&[]), Err(PhotoError::None));
        assert_eq!(
            photos_to_pdf(&[a.clone(), b"not a jpeg".to_vec()]),
            Err(PhotoError::NotJpeg)
        );
        let many = vec![b; MAX_PHOTOS + 1];
        assert_eq!(photos_to_pdf(&many), Err(PhotoError::TooMany));
    }
}
