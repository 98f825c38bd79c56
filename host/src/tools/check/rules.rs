//! The rules of `sandserve check`, each a plain function from the bench to an outcome,
//! in the order the table prints them. A handler that traps, times out or answers
//! something the host would refuse fails the rule that asked.

use super::{Answer, Bench, FILES, Outcome};

type Rule = fn(&Bench) -> Result<(), String>;

const RULES: &[(&str, &str, Rule)] = &[
    ("GET of a file: 200 with its bytes", "seed", file_is_served),
    ("a missing file: 404", "seed", missing_is_404),
    ("the 404 page is the root's 404.html", "seed", page_404),
    ("`..` cannot leave the root", "seed", dot_dot),
    ("HEAD: the GET's status and length, no body", "http", head),
    ("every answer has a Date", "http", date),
    (
        "percent-encoded `..` cannot leave the root",
        "http",
        encoded_dot_dot,
    ),
    (
        "an unknown method: 405 with Allow, or 501",
        "http",
        unknown_method,
    ),
    ("Content-Type by file name", "static", content_type),
    ("a directory serves its index.html", "static", index_file),
    ("dotfiles are not served", "static", dotfiles),
    (
        "a validator, and 304 for If-None-Match",
        "static",
        conditional,
    ),
    ("Range: bytes=0-4 is a 206 of those bytes", "static", range),
];

/// Every rule's name, level and outcome.
pub fn run_all(bench: &Bench) -> Vec<(&'static str, &'static str, Outcome)> {
    RULES
        .iter()
        .map(|(name, level, rule)| {
            let outcome = match rule(bench) {
                Ok(()) => Outcome::Pass,
                Err(why) => Outcome::Fail(why),
            };
            (*name, *level, outcome)
        })
        .collect()
}

fn get(bench: &Bench, target: &str) -> Result<Answer, String> {
    bench.ask("GET", target, "")
}

fn content(path: &str) -> &'static [u8] {
    FILES.iter().find(|(p, _)| *p == path).unwrap().1
}

fn status(answer: &Answer, expected: u16, what: &str) -> Result<(), String> {
    if answer.status == expected {
        Ok(())
    } else {
        Err(format!("{what}: {} instead of {expected}", answer.status))
    }
}

fn status_not(answer: &Answer, refused: u16, what: &str) -> Result<(), String> {
    if answer.status == refused {
        Err(format!("{what}: {refused}"))
    } else {
        Ok(())
    }
}

fn file_is_served(bench: &Bench) -> Result<(), String> {
    let answer = get(bench, "/a.txt")?;
    status(&answer, 200, "GET /a.txt")?;
    if answer.body != content("a.txt") {
        return Err("GET /a.txt: not the file's bytes".into());
    }
    Ok(())
}

fn missing_is_404(bench: &Bench) -> Result<(), String> {
    status(&get(bench, "/missing.txt")?, 404, "GET /missing.txt")
}

fn page_404(bench: &Bench) -> Result<(), String> {
    let answer = get(bench, "/missing.txt")?;
    if answer.body != content("404.html") {
        return Err("the body of a 404 is not 404.html".into());
    }
    Ok(())
}

fn no_secret(bench: &Bench, targets: &[&str]) -> Result<(), String> {
    for target in targets {
        let answer = get(bench, target)?;
        if answer
            .body
            .windows(bench.secret.len())
            .any(|w| w == bench.secret)
        {
            return Err(format!("GET {target}: sent the file outside the root"));
        }
        // Nothing below the root has that name either.
        status_not(&answer, 200, &format!("GET {target}"))?;
    }
    Ok(())
}

fn dot_dot(bench: &Bench) -> Result<(), String> {
    no_secret(bench, &["/../secret.txt", "/docs/../../secret.txt"])
}

fn encoded_dot_dot(bench: &Bench) -> Result<(), String> {
    no_secret(
        bench,
        &[
            "/%2e%2e/secret.txt",
            "/..%2fsecret.txt",
            "/%2E%2E%2Fsecret.txt",
        ],
    )
}

fn head(bench: &Bench) -> Result<(), String> {
    let answer = bench.ask("HEAD", "/a.txt", "")?;
    status(&answer, 200, "HEAD /a.txt")?;
    if !answer.body.is_empty() {
        return Err("HEAD /a.txt has a body".into());
    }
    let length = content("a.txt").len().to_string();
    match answer.field("content-length") {
        Some(value) if value == length => Ok(()),
        other => Err(format!(
            "HEAD /a.txt: Content-Length {other:?}, the GET's is {length}"
        )),
    }
}

fn date(bench: &Bench) -> Result<(), String> {
    for target in ["/a.txt", "/missing.txt"] {
        let answer = get(bench, target)?;
        let parsed = answer.field("date").map(httpdate::parse_http_date);
        if !matches!(parsed, Some(Ok(_))) {
            return Err(format!("GET {target}: no valid Date"));
        }
    }
    Ok(())
}

fn unknown_method(bench: &Bench) -> Result<(), String> {
    let answer = bench.ask("DELETE", "/a.txt", "")?;
    match (answer.status, answer.field("allow")) {
        (405, Some(_)) | (501, _) => Ok(()),
        (405, None) => Err("DELETE: 405 without Allow".into()),
        (status, _) => Err(format!("DELETE: {status}")),
    }
}

fn content_type(bench: &Bench) -> Result<(), String> {
    for (target, kind) in [("/style.css", "text/css"), ("/index.html", "text/html")] {
        let answer = get(bench, target)?;
        let value = answer.field("content-type").unwrap_or("");
        if !value.starts_with(kind) {
            return Err(format!("GET {target}: Content-Type {value:?}"));
        }
    }
    Ok(())
}

fn index_file(bench: &Bench) -> Result<(), String> {
    for (target, file) in [("/", "index.html"), ("/docs/", "docs/index.html")] {
        let answer = get(bench, target)?;
        status(&answer, 200, &format!("GET {target}"))?;
        if answer.body != content(file) {
            return Err(format!("GET {target}: not {file}"));
        }
    }
    Ok(())
}

fn dotfiles(bench: &Bench) -> Result<(), String> {
    let answer = get(bench, "/.env")?;
    if answer.status == 200 || answer.body == content(".env") {
        return Err("GET /.env served the file".into());
    }
    Ok(())
}

fn conditional(bench: &Bench) -> Result<(), String> {
    let answer = get(bench, "/a.txt")?;
    let Some(etag) = answer.field("etag") else {
        return Err("GET /a.txt: no ETag".into());
    };
    let again = bench.ask("GET", "/a.txt", &format!("If-None-Match: {etag}\r\n"))?;
    status(&again, 304, "If-None-Match with the ETag")?;
    if !again.body.is_empty() {
        return Err("a 304 with a body".into());
    }
    Ok(())
}

fn range(bench: &Bench) -> Result<(), String> {
    let answer = bench.ask("GET", "/a.txt", "Range: bytes=0-4\r\n")?;
    status(&answer, 206, "Range: bytes=0-4")?;
    let total = content("a.txt").len();
    let expected = format!("bytes 0-4/{total}");
    if answer.field("content-range") != Some(expected.as_str()) || answer.body != b"hello" {
        return Err(format!(
            "Content-Range {:?}, {} bytes",
            answer.field("content-range"),
            answer.body.len()
        ));
    }
    Ok(())
}
