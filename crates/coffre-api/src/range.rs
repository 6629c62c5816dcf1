//! The `Range` header of a download. Self-contained (no other module, no
//! dependency): the fuzz target `range` compiles this very file.

/// RFC 9110 single byte range `bytes=a-b`, `bytes=a-`, `bytes=-n` of a
/// document of `size` bytes: the bytes to send (end exclusive), or `None`
/// when it cannot be satisfied (several ranges are not served).
pub fn parse(h: &str, size: u64) -> Option<std::ops::Range<u64>> {
    let spec = h.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (size.checked_sub(n.min(size))?, size)
        }
        (a, "") => (a.parse().ok()?, size),
        (a, b) => (
            a.parse().ok()?,
            b.parse::<u64>().ok()?.checked_add(1)?.min(size),
        ),
    };
    (start < end && start < size).then_some(start..end)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn ranges() {
        assert_eq!(parse("bytes=0-0", 10), Some(0..1));
        assert_eq!(parse("bytes=5-", 10), Some(5..10));
        assert_eq!(parse("bytes=-3", 10), Some(7..10));
        assert_eq!(parse("bytes=8-100", 10), Some(8..10));
        assert_eq!(parse("bytes=10-", 10), None);
        assert_eq!(parse("bytes=3-2", 10), None);
        assert_eq!(parse("bytes=0-1,3-4", 10), None);
        assert_eq!(parse("items=0-1", 10), None);
        assert_eq!(parse("bytes=-18446744073709551615", 10), Some(0..10));
    }
}
