//! Two answers to the same request, compared the way a person reviewing a handler
//! change would: the status, every header field but `Date` (in order, names without
//! case), and the body's kind and length. The swap check uses it to show what a
//! candidate would change; a refused answer (a trap, a head the host rejects) compares
//! as the host's 500 with its reason.

use crate::sandbox::decide::Failure;
use crate::sandbox::response::Checked;

/// What is compared of one answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub status: u16,
    /// `name: value` lines, names lower-cased, `Date` left out.
    pub fields: Vec<String>,
    /// `empty`, `bytes`, `file` or `chunks`, and the body's length.
    pub body: (&'static str, u64),
    /// Why the host answered 500 instead of the handler, if it did.
    pub failure: Option<String>,
}

impl Summary {
    pub fn of(answer: &Result<Checked, Failure>) -> Summary {
        match answer {
            Ok(checked) => Summary {
                status: checked.status,
                fields: fields(&checked.head),
                body: (checked.kind, checked.body.len()),
                failure: None,
            },
            Err(failure) => Summary {
                status: 500,
                fields: Vec::new(),
                body: ("empty", 0),
                failure: Some(one_line(&failure.error)),
            },
        }
    }
}

/// The differences between `live` and `candidate`, one line each; none when they agree.
pub fn differences(live: &Summary, candidate: &Summary) -> Vec<String> {
    let mut out = Vec::new();
    if live.status != candidate.status {
        let why = candidate
            .failure
            .as_ref()
            .map(|f| format!(" ({f})"))
            .unwrap_or_default();
        out.push(format!(
            "status {} → {}{why}",
            live.status, candidate.status
        ));
    }
    if live.failure.is_none() && candidate.failure.is_none() {
        for field in &live.fields {
            if !candidate.fields.contains(field) {
                out.push(format!("- {field}"));
            }
        }
        for field in &candidate.fields {
            if !live.fields.contains(field) {
                out.push(format!("+ {field}"));
            }
        }
    }
    if live.body != candidate.body {
        out.push(format!(
            "body {} {} → {} {}",
            live.body.0, live.body.1, candidate.body.0, candidate.body.1
        ));
    }
    out
}

fn fields(head: &[u8]) -> Vec<String> {
    field_pairs(head)
        .into_iter()
        .filter(|(name, _)| name != "date")
        .map(|(name, value)| format!("{name}: {value}"))
        .collect()
}

/// The fields of a response head the host checked: names lower-cased, values trimmed,
/// in order.
pub fn field_pairs(head: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(head)
        .split("\r\n")
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_owned()))
        .collect()
}

/// An error and its causes on one line (wasmtime's span several).
pub fn one_line(error: &anyhow::Error) -> String {
    format!("{error:#}")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(status: u16, fields: &[&str], body: (&'static str, u64)) -> Summary {
        Summary {
            status,
            fields: fields.iter().map(|f| f.to_string()).collect(),
            body,
            failure: None,
        }
    }

    #[test]
    fn lists_what_changed() {
        let a = summary(200, &["etag: \"1\"", "server: x"], ("file", 5));
        assert!(differences(&a, &a).is_empty());
        let b = summary(404, &["server: x"], ("bytes", 9));
        assert_eq!(
            differences(&a, &b),
            ["status 200 → 404", "- etag: \"1\"", "body file 5 → bytes 9"]
        );
    }

    #[test]
    fn the_date_is_not_compared() {
        let head = b"HTTP/1.1 200 OK\r\nDate: Mon\r\nServer: x\r\n\r\n";
        assert_eq!(fields(head), ["server: x"]);
    }
}
