//! Content negotiation for precompressed files: which of `file.br`, `file.zst` and
//! `file.gz` a client's Accept-Encoding lets us send instead of `file` (RFC 9110 §12.5.3).

/// The codings we look for, in our order of preference, with their file suffixes.
pub const CODINGS: [(&str, &str); 3] = [("br", ".br"), ("zstd", ".zst"), ("gzip", ".gz")];

/// A coding the host makes compressed forms in (`Root::compressed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Br,
    Zstd,
    Gzip,
}

impl Coding {
    /// The coding of a `Content-Encoding` name of `CODINGS`.
    pub fn named(name: &str) -> Option<Coding> {
        match name {
            "br" => Some(Coding::Br),
            "zstd" => Some(Coding::Zstd),
            "gzip" => Some(Coding::Gzip),
            _ => None,
        }
    }
}

/// The codings the client accepts, best first: by its q-value, then by our preference.
/// `*` stands for any coding it did not name; `q=0` refuses. Unknown codings are
/// ignored; an empty or missing field accepts none of ours.
pub fn acceptable(accept_encoding: &[u8]) -> Vec<(&'static str, &'static str)> {
    let Ok(text) = std::str::from_utf8(accept_encoding) else {
        return Vec::new();
    };
    let mut named: Vec<(String, u16)> = Vec::new();
    for member in text.split(',') {
        let mut params = member.split(';');
        let coding = params.next().unwrap_or("").trim().to_ascii_lowercase();
        if coding.is_empty() {
            continue;
        }
        let mut q = Some(1000);
        for param in params {
            if let Some((name, value)) = param.split_once('=')
                && name.trim().eq_ignore_ascii_case("q")
            {
                q = qvalue(value.trim());
            }
        }
        // A malformed q-value makes the member meaningless; skip it.
        if let Some(q) = q {
            named.push((coding, q));
        }
    }
    let q_of = |coding: &str| -> u16 {
        let alias = if coding == "gzip" { "x-gzip" } else { coding };
        named
            .iter()
            .find(|(c, _)| c == coding || c == alias)
            .or_else(|| named.iter().find(|(c, _)| c == "*"))
            .map_or(0, |&(_, q)| q)
    };
    let mut chosen: Vec<(u16, usize)> = CODINGS
        .iter()
        .enumerate()
        .map(|(rank, (coding, _))| (q_of(coding), rank))
        .filter(|&(q, _)| q > 0)
        .collect();
    chosen.sort_by_key(|&(q, rank)| (std::cmp::Reverse(q), rank));
    chosen.into_iter().map(|(_, rank)| CODINGS[rank]).collect()
}

/// A qvalue (RFC 9110 §12.4.2) in thousandths: `0`, `0.5`, `1`, `1.000`.
fn qvalue(text: &str) -> Option<u16> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if !matches!(int, "0" | "1") || frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac: u16 = format!("{frac:0<3}").parse().ok()?;
    let q = if int == "1" { 1000 + frac } else { frac };
    (q <= 1000).then_some(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(value: &str) -> Vec<&'static str> {
        acceptable(value.as_bytes())
            .into_iter()
            .map(|(c, _)| c)
            .collect()
    }

    #[test]
    fn preference_and_q_values() {
        assert_eq!(names("gzip, deflate, br, zstd"), ["br", "zstd", "gzip"]);
        assert_eq!(names("gzip, deflate"), ["gzip"]);
        assert_eq!(names("br;q=0.5, gzip"), ["gzip", "br"]);
        assert_eq!(names("br;q=0, gzip;q=0.1"), ["gzip"]);
        assert_eq!(names("*"), ["br", "zstd", "gzip"]);
        assert_eq!(names("*;q=0.2, gzip;q=0"), ["br", "zstd"]);
        assert_eq!(names("x-gzip"), ["gzip"]);
        assert_eq!(names("identity"), Vec::<&str>::new());
        assert_eq!(names(""), Vec::<&str>::new());
        assert_eq!(names("br;q=2, gzip;q=abc, zstd;q=1.0"), ["zstd"]);
        assert_eq!(names("GZIP ; Q=0.8"), ["gzip"]);
    }
}
