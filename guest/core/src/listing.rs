//! Directory listings (`--list-dirs`): an HTML page — names escaped, sizes, times,
//! directories first, a parent link — or the same entries as JSON for clients that
//! ask with `Accept: application/json`. Dotfiles are left out unless they are served.

use std::fmt::Write;
use std::time::UNIX_EPOCH;

use crate::root::{Entry, Kind};
use crate::target::encode_segment;

/// The entries worth showing, sorted: directories first, then by name.
pub fn prepare(mut entries: Vec<Entry>, show_dotfiles: bool) -> Vec<Entry> {
    entries.retain(|e| {
        (show_dotfiles || !e.name.starts_with('.')) && matches!(e.meta.kind, Kind::File | Kind::Dir)
    });
    entries.sort_by(|a, b| {
        (a.meta.kind != Kind::Dir, &a.name).cmp(&(b.meta.kind != Kind::Dir, &b.name))
    });
    entries
}

/// Whether the client prefers JSON (an Accept that names application/json before, or
/// instead of, text/html).
pub fn wants_json(accept: Option<&[u8]>) -> bool {
    let Some(accept) = accept.and_then(|a| std::str::from_utf8(a).ok()) else {
        return false;
    };
    let position = |media: &str| {
        accept.split(',').position(|m| {
            let m = m.split(';').next().unwrap_or("").trim();
            m.eq_ignore_ascii_case(media)
        })
    };
    match (position("application/json"), position("text/html")) {
        (Some(json), Some(html)) => json < html,
        (Some(_), None) => true,
        _ => false,
    }
}

/// The HTML page for the directory at URL path `url` (decoded, ending in `/`).
pub fn html(url: &str, entries: &[Entry], truncated: bool) -> String {
    let title = escape(url);
    let mut page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <link rel=\"icon\" href=\"data:,\">\
         <title>Index of {title}</title>\n<style>\
         body{{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#222}}\
         h1{{font-size:1.3rem;font-weight:600}}table{{border-collapse:collapse;width:100%}}\
         th,td{{text-align:left;padding:.3rem .6rem;border-bottom:1px solid #eee}}\
         td.n{{text-align:right;font-variant-numeric:tabular-nums}}th{{color:#666;font-weight:500}}\
         a{{color:#0645ad;text-decoration:none}}a:hover{{text-decoration:underline}}\
         </style></head>\n<body><h1>Index of {title}</h1>\n<table>\n\
         <tr><th>Name</th><th>Size</th><th>Modified</th></tr>\n"
    );
    if url != "/" {
        page.push_str("<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n");
    }
    for entry in entries {
        let dir = entry.meta.kind == Kind::Dir;
        let slash = if dir { "/" } else { "" };
        let size = if dir {
            String::new()
        } else {
            human(entry.meta.len)
        };
        let modified = entry
            .meta
            .modified
            .map(httpdate::fmt_http_date)
            .unwrap_or_default();
        let _ = writeln!(
            page,
            "<tr><td><a href=\"{}{slash}\">{}{slash}</a></td><td class=\"n\">{size}</td><td>{modified}</td></tr>",
            escape(&encode_segment(&entry.name)),
            escape(&entry.name)
        );
    }
    page.push_str("</table>\n");
    if truncated {
        page.push_str("<p>Only the first entries are listed.</p>\n");
    }
    page.push_str("</body></html>\n");
    page
}

/// The same listing as JSON: `{"path": …, "entries": [{"name", "type", "size",
/// "modified"}], "truncated": …}`, with `modified` in seconds since the epoch.
pub fn json(url: &str, entries: &[Entry], truncated: bool) -> String {
    let mut out = format!("{{\"path\":{},\"entries\":[", json_string(url));
    for (i, entry) in entries.iter().enumerate() {
        let kind = if entry.meta.kind == Kind::Dir {
            "directory"
        } else {
            "file"
        };
        let modified = entry
            .meta
            .modified
            .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
            .map_or("null".to_owned(), |d| d.as_secs().to_string());
        let _ = write!(
            out,
            "{}{{\"name\":{},\"type\":\"{kind}\",\"size\":{},\"modified\":{modified}}}",
            if i == 0 { "" } else { "," },
            json_string(&entry.name),
            entry.meta.len
        );
    }
    let _ = writeln!(out, "],\"truncated\":{truncated}}}");
    out
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// 1023 B, 1.5 KiB, 12.0 MiB.
fn human(len: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if len < 1024 {
        return format!("{len} B");
    }
    let mut value = len as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::root::Meta;

    fn entry(name: &str, kind: Kind, len: u64) -> Entry {
        Entry {
            name: name.into(),
            meta: Meta {
                kind,
                len,
                modified: Some(UNIX_EPOCH),
            },
        }
    }

    #[test]
    fn sorted_escaped_and_without_dotfiles() {
        let entries = prepare(
            vec![
                entry("b.txt", Kind::File, 2048),
                entry(".env", Kind::File, 1),
                entry("<script>.html", Kind::File, 5),
                entry("zdir", Kind::Dir, 0),
                entry("sock", Kind::Other, 0),
            ],
            false,
        );
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["zdir", "<script>.html", "b.txt"]);
        let page = html("/docs/", &entries, false);
        assert!(page.contains("<a href=\"zdir/\">zdir/</a>"));
        assert!(page.contains("<a href=\"%3Cscript%3E.html\">&lt;script&gt;.html</a>"));
        assert!(page.contains("2.0 KiB") && page.contains("href=\"../\""));
        assert!(!page.contains("<script>"));
        let json = json("/docs/", &entries, false);
        assert!(json.starts_with(
            "{\"path\":\"/docs/\",\"entries\":[{\"name\":\"zdir\",\"type\":\"directory\""
        ));
        assert!(json.ends_with("],\"truncated\":false}\n"));
    }

    #[test]
    fn json_is_chosen_by_accept() {
        assert!(wants_json(Some(b"application/json")));
        assert!(wants_json(Some(b"application/json, text/html;q=0.9")));
        assert!(!wants_json(Some(
            b"text/html,application/xhtml+xml,*/*;q=0.8"
        )));
        assert!(!wants_json(None));
    }
}
