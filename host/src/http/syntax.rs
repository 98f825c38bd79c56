//! The building blocks of HTTP syntax (RFC 9110 §5.5-§5.6) that the request check, the
//! response check and the command line all use: tokens, field-value bytes, OWS.

// Tokens and OWS are the same rules in the handler's core: one definition serves both.
pub use sandserve_core::request::{is_tchar, trim};

/// VCHAR or obs-text: what a field value may hold besides SP and HTAB.
pub fn is_field_vchar(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) || b >= 0x80
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
