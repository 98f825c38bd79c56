//! The building blocks of HTTP syntax (RFC 9110 §5.5-§5.6) that the request check, the
//! response check and the command line all use: tokens, field-value bytes, OWS.

/// A byte of a token (RFC 9110 §5.6.2): methods, field names, `--header` names.
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// VCHAR or obs-text: what a field value may hold besides SP and HTAB.
pub fn is_field_vchar(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) || b >= 0x80
}

/// Strips optional whitespace (SP / HTAB) from both ends.
pub fn trim(value: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = value.iter().position(|b| !is_ows(b)).unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !is_ows(b))
        .map_or(start, |e| e + 1);
    &value[start..end]
}

/// The non-empty, trimmed elements of a comma-separated field value (RFC 9110 §5.6.1).
pub fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim)
        .filter(|e| !e.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_strips_ows_only() {
        assert_eq!(trim(b" \t a b \t"), b"a b");
        assert_eq!(trim(b"   "), b"");
        assert_eq!(trim(b""), b"");
        let elements: Vec<&[u8]> = list_elements(b" a ,, b\t,").collect();
        assert_eq!(elements, [&b"a"[..], b"b"]);
    }
}
