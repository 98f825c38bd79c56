//! File name → `Content-Type`, from the `mime_guess` table, with `charset=utf-8` for
//! text so that browsers do not guess the encoding.

use std::borrow::Cow;

/// Sent for names whose extension the table does not know (nginx's default_type).
pub const DEFAULT: &str = "application/octet-stream";

pub fn content_type(name: &str) -> Cow<'static, str> {
    let essence = mime_guess::from_path(name).first_raw().unwrap_or(DEFAULT);
    if is_text(essence) {
        Cow::Owned(format!("{essence}; charset=utf-8"))
    } else {
        Cow::Borrowed(essence)
    }
}

fn is_text(essence: &str) -> bool {
    essence.starts_with("text/")
        || matches!(
            essence,
            "application/javascript" | "application/json" | "application/xml" | "image/svg+xml"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_types() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("a/style.css"), "text/css; charset=utf-8");
        assert!(content_type("app.js").ends_with("javascript; charset=utf-8"));
        assert_eq!(content_type("logo.png"), "image/png");
        assert_eq!(content_type("logo.svg"), "image/svg+xml; charset=utf-8");
        assert_eq!(content_type("handler.wasm"), "application/wasm");
        assert_eq!(content_type("README"), DEFAULT);
        assert_eq!(content_type("x.unknownext"), DEFAULT);
    }
}
