//! Range requests (RFC 9110 §14): which bytes of a file a `Range: bytes=…` asks for.
//!
//! Ranges are clipped to the file, sorted and coalesced where they overlap or touch, so
//! that a request for thousands of tiny or repeated ranges cannot multiply the work or
//! the response; more than `MAX_PARTS` parts after that is answered with the whole file
//! (RFC 9110 §14.2 lets a server ignore such a Range).

/// Most parts a multipart/byteranges answer may have.
pub const MAX_PARTS: usize = 16;
/// Most ranges read from one Range field; beyond that the field is ignored.
const MAX_SPECS: usize = 256;

/// A satisfiable range: first and last byte positions, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub first: u64,
    pub last: u64,
}

impl Span {
    /// Bytes in the span; never 0 (first ≤ last).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(self) -> u64 {
        self.last - self.first + 1
    }
}

/// What a Range field asks of a file of `len` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ranges {
    /// No usable Range: an unknown unit, a malformed field, too many ranges. 200.
    Whole,
    /// One or more ranges, clipped, sorted and coalesced. 206.
    Parts(Vec<Span>),
    /// Well-formed, but no range overlaps the file. 416.
    Unsatisfiable,
}

/// Reads a Range field's value for a file of `len` bytes.
pub fn parse(value: &[u8], len: u64) -> Ranges {
    let Ok(text) = std::str::from_utf8(value) else {
        return Ranges::Whole;
    };
    let Some(set) = text.trim().strip_prefix("bytes=") else {
        return Ranges::Whole;
    };
    let mut spans = Vec::new();
    let mut specs = 0;
    for spec in set.split(',').map(str::trim) {
        // Empty list elements are allowed (RFC 9110 §5.6.1).
        if spec.is_empty() {
            continue;
        }
        specs += 1;
        if specs > MAX_SPECS {
            return Ranges::Whole;
        }
        let Some((first, last)) = spec.split_once('-') else {
            return Ranges::Whole;
        };
        let span = match (number(first), number(last)) {
            // Suffix: the last N bytes.
            (None, Some(n)) if first.is_empty() => match n {
                0 => None,
                n => Some(Span {
                    first: len.saturating_sub(n),
                    last: len.saturating_sub(1),
                }),
            },
            (Some(first), None) if last.is_empty() => Some(Span {
                first,
                last: len.saturating_sub(1),
            }),
            (Some(first), Some(last)) if first <= last => Some(Span {
                first,
                last: last.min(len.saturating_sub(1)),
            }),
            _ => return Ranges::Whole,
        };
        // Satisfiable only if it starts inside the file.
        if let Some(span) = span.filter(|s| s.first < len) {
            spans.push(span);
        }
    }
    if specs == 0 {
        return Ranges::Whole;
    }
    if spans.is_empty() {
        return Ranges::Unsatisfiable;
    }
    let spans = coalesce(spans);
    if spans.len() > MAX_PARTS {
        return Ranges::Whole;
    }
    Ranges::Parts(spans)
}

/// Sorts and merges spans that overlap or touch.
fn coalesce(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort_by_key(|s| s.first);
    let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
    for span in spans {
        match merged.last_mut() {
            Some(prev) if span.first <= prev.last.saturating_add(1) => {
                prev.last = prev.last.max(span.last);
            }
            _ => merged.push(span),
        }
    }
    merged
}

/// A multipart boundary: 32 hex digits from `seed` (the ETag) and the time, so that
/// it differs between files and between responses. (A file could contain it by
/// chance; the bytes of the root are the operator's, not an attacker's.)
pub fn boundary(seed: &[u8], now: std::time::SystemTime) -> String {
    let nanos = now
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    // FNV-1a, twice with different offsets: spread, not secrecy, is what it is for.
    let hash = |offset: u64| {
        seed.iter()
            .chain(nanos.to_le_bytes().iter())
            .fold(offset, |h, &b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            })
    };
    format!(
        "{:016x}{:016x}",
        hash(0xcbf2_9ce4_8422_2325),
        hash(0x84222325_cbf29ce4)
    )
}

/// 1*DIGIT, without signs or spaces; `None` when empty, not digits, or too large.
fn number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(spec: &str, len: u64) -> Vec<(u64, u64)> {
        match parse(spec.as_bytes(), len) {
            Ranges::Parts(spans) => spans.iter().map(|s| (s.first, s.last)).collect(),
            other => panic!("{spec:?}: {other:?}"),
        }
    }

    #[test]
    fn single_ranges() {
        assert_eq!(parts("bytes=0-0", 10), [(0, 0)]);
        assert_eq!(parts("bytes=2-5", 10), [(2, 5)]);
        assert_eq!(parts("bytes=2-", 10), [(2, 9)]);
        assert_eq!(parts("bytes=-3", 10), [(7, 9)]);
        assert_eq!(parts("bytes=-30", 10), [(0, 9)]);
        assert_eq!(parts("bytes=5-100", 10), [(5, 9)]);
        assert_eq!(parts(" bytes=1-2 ", 10), [(1, 2)]);
    }

    #[test]
    fn several_ranges_are_sorted_and_coalesced() {
        assert_eq!(parts("bytes=0-1,4-5", 10), [(0, 1), (4, 5)]);
        assert_eq!(parts("bytes=4-5,0-1", 10), [(0, 1), (4, 5)]);
        assert_eq!(parts("bytes=0-3,2-5,6-6", 10), [(0, 6)]);
        assert_eq!(parts("bytes=0-1, ,-2", 10), [(0, 1), (8, 9)]);
        // A thousand overlapping ranges are one part; a thousand separate ones, the
        // whole file.
        let same = format!("bytes={}", vec!["0-0"; 200].join(","));
        assert_eq!(parts(&same, 10), [(0, 0)]);
        let many: Vec<String> = (0..40).map(|i| format!("{}-{}", i * 2, i * 2)).collect();
        assert_eq!(
            parse(format!("bytes={}", many.join(",")).as_bytes(), 100),
            Ranges::Whole
        );
        let too_many = format!("bytes={}", vec!["0-0"; 300].join(","));
        assert_eq!(parse(too_many.as_bytes(), 10), Ranges::Whole);
    }

    #[test]
    fn unsatisfiable_and_ignored() {
        assert_eq!(parse(b"bytes=10-", 10), Ranges::Unsatisfiable);
        assert_eq!(parse(b"bytes=10-20,30-40", 10), Ranges::Unsatisfiable);
        assert_eq!(parse(b"bytes=-0", 10), Ranges::Unsatisfiable);
        assert_eq!(parse(b"bytes=0-", 0), Ranges::Unsatisfiable);
        // Some satisfiable: only those are sent.
        assert_eq!(parts("bytes=20-30,1-1", 10), [(1, 1)]);
        for ignored in [
            "items=0-1",
            "bytes=",
            "bytes=5-2",
            "bytes=a-b",
            "bytes=1",
            "bytes=+1-2",
            "bytes=-",
            "bytes=0-1;x",
            "bytes = 0-1",
            "bytes=99999999999999999999-",
        ] {
            assert_eq!(parse(ignored.as_bytes(), 10), Ranges::Whole, "{ignored:?}");
        }
    }
}
